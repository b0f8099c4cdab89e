// Raw HTTP helpers: one request per fresh connection (`http` with agent:false), raw bytes
// over a TCP socket, and Engine.IO long-polling helpers (handshake, GET, POST, payloads).
import http from 'node:http';
import net from 'node:net';
import { SLOW, withTimeout } from './util.mjs';

/**
 * One HTTP request; resolves { status, headers, body (Buffer), text }.
 * opts: method, headers, body (string|Buffer), timeout ms, agent (default: fresh
 * connection), signal (AbortSignal).
 */
export function request(url, opts = {}) {
    const { method = 'GET', headers = {}, body, timeout = 3000, agent = false, signal } = opts;
    return withTimeout(new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers, agent, signal }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const buf = Buffer.concat(chunks);
                resolve({ status: res.statusCode, headers: res.headers, body: buf,
                    text: buf.toString('utf8') });
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        if (body !== undefined) req.end(body);
        else req.end();
    }), timeout, `${method} ${url}`);
}

/**
 * Writes `bytes` on a fresh TCP connection and collects everything the server sends until
 * it closes the connection or `timeout` ms pass. Resolves { data (Buffer), closed (bool),
 * text, status (number|null from the first status line) }.
 */
export function rawExchange(host, port, bytes, { timeout = 2000, endAfterWrite = false } = {}) {
    return new Promise((resolve) => {
        const chunks = [];
        const sock = net.connect({ host, port });
        let done = false;
        const finish = (closed) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            const data = Buffer.concat(chunks);
            const text = data.toString('latin1');
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
            resolve({ data, text, closed, status: m ? Number(m[1]) : null });
        };
        const timer = setTimeout(() => finish(false), timeout * SLOW);
        sock.on('connect', () => {
            for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b);
            if (endAfterWrite) sock.end();
        });
        sock.on('data', (c) => chunks.push(c));
        sock.on('end', () => finish(true));
        sock.on('close', () => finish(true));
        sock.on('error', () => finish(true));
    });
}

/** Engine.IO URL for the server: base + query (object or string). */
export function eioUrl(srv, query = {}) {
    const q = typeof query === 'string' ? query : new URLSearchParams(query).toString();
    return `${srv.url}${srv.path}${q ? `?${q}` : ''}`;
}

export const RS = '\x1e';

/** Splits a polling payload into its packets (strings). */
export function decodePayload(text) {
    return text.split(RS);
}

/** Performs the polling handshake; resolves { res, open } (open = parsed JSON). */
export async function pollHandshake(srv, { query = {}, headers = {} } = {}) {
    const res = await request(eioUrl(srv, { EIO: '4', transport: 'polling', ...query }),
        { headers });
    if (res.status !== 200 || res.text[0] !== '0') {
        throw new Error(`handshake failed: ${res.status} ${res.text}`);
    }
    return { res, open: JSON.parse(res.text.slice(1)) };
}

/** A polling GET for session `sid`. */
export function pollGet(srv, sid, opts = {}) {
    return request(eioUrl(srv, { EIO: '4', transport: 'polling', sid }), opts);
}

/** A polling POST of `body` for session `sid`. */
export function pollPost(srv, sid, body, opts = {}) {
    return request(eioUrl(srv, { EIO: '4', transport: 'polling', sid }),
        { ...opts, method: 'POST', body,
            headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...(opts.headers ?? {}) } });
}

/** Parses a JSON error body; asserts nothing, returns null when not JSON. */
export function jsonOrNull(text) {
    try {
        return JSON.parse(text);
    } catch {
        return null;
    }
}
