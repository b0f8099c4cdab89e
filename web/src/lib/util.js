// Small helpers shared by the pages.

/** A v4 UUID (crypto.randomUUID needs a secure context; fall back to getRandomValues). */
export function uuid() {
    if (crypto.randomUUID && window.isSecureContext) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Seconds, milliseconds or nanoseconds since the epoch -> milliseconds. */
export function toMs(t) {
    const n = Number(t);
    if (!Number.isFinite(n) || n <= 0) return Date.now();
    if (n > 1e17) return n / 1e6;
    if (n > 1e14) return n / 1e3;
    if (n > 1e11) return n;
    return n * 1000;
}

/** "14:05" for today, "Nov 26, 14:05" otherwise. */
export function timeLabel(t) {
    const d = new Date(toMs(t));
    const now = new Date();
    const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (d.toDateString() === now.toDateString()) return hm;
    return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${hm}`;
}

/** Up to two initials of a name. */
export function initials(name) {
    return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

/** A stable colour for a user id. */
export function colorFor(id) {
    let h = 0;
    for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `hsl(${h % 360} 55% 45%)`;
}

/** Throttle per key: returns true when `key` may fire now (at most once per `ms`). */
export function keyedThrottle(ms) {
    const last = new Map();
    return (key) => {
        const now = Date.now();
        if (now - (last.get(key) ?? 0) < ms) return false;
        last.set(key, now);
        return true;
    };
}
