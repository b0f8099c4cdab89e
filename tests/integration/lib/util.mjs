// Small waiting helpers for the integration suite: condition polling with a deadline,
// promises for one event, and a message queue with a timed `next()`.
// No test waits with a fixed sleep except where elapsed time is the point (`sleep`).
import { setTimeout as sleepMs } from 'node:timers/promises';

/** Timeouts are multiplied by this (valgrind makes everything ~10-20x slower). */
export const SLOW = process.env.SIOC_VALGRIND === '1' ? 10 : 1;

/** Sleeps `ms`. Only for tests whose subject is elapsed time (ping timeout and so on). */
export function sleep(ms) {
    return sleepMs(ms);
}

/**
 * Gives a request that was just sent time to reach the server when the test needs it to
 * be there first (a parked GET before a POST) and nothing observable says it is: 100 ms
 * (scaled).
 */
export function settle() {
    return sleepMs(100 * SLOW);
}

/** Rejects with `what` timed out unless `promise` settles within `ms` (scaled). */
export function withTimeout(promise, ms, what = 'operation') {
    let timer;
    const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms * SLOW} ms`)),
            ms * SLOW);
    });
    return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Polls `cond` (sync or async) every `step` ms until it is truthy; returns its value. */
export async function waitUntil(cond, { timeout = 3000, step = 10, what = 'condition' } = {}) {
    const end = Date.now() + timeout * SLOW;
    for (;;) {
        const v = await cond();
        if (v) return v;
        if (Date.now() > end) throw new Error(`${what} not reached within ${timeout * SLOW} ms`);
        await sleepMs(step);
    }
}

/** Resolves with the arguments array of the next `event` on an EventEmitter-like object. */
export function once(emitter, event, timeout = 3000) {
    return withTimeout(new Promise((resolve) => {
        emitter.once(event, (...args) => resolve(args));
    }), timeout, `event '${event}'`);
}

/**
 * A FIFO of values pushed by a callback, read with `await q.next()`; used to collect
 * events, frames and messages in arrival order.
 */
export class Queue {
    constructor(name = 'queue') {
        this.name = name;
        this.items = [];
        this.waiters = [];
        this.closedWith = null;
    }

    push(item) {
        const w = this.waiters.shift();
        if (w) w.resolve(item);
        else this.items.push(item);
    }

    /** Ends the queue: pending and later `next()` calls reject with `err`. */
    close(err) {
        this.closedWith = err ?? new Error(`${this.name} closed`);
        for (const w of this.waiters.splice(0)) w.reject(this.closedWith);
    }

    get length() {
        return this.items.length;
    }

    next(timeout = 3000) {
        if (this.items.length > 0) return Promise.resolve(this.items.shift());
        if (this.closedWith) return Promise.reject(this.closedWith);
        let waiter;
        const p = new Promise((resolve, reject) => {
            waiter = { resolve, reject };
            this.waiters.push(waiter);
        });
        return withTimeout(p, timeout, `next item of ${this.name}`).catch((err) => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            throw err;
        });
    }

    /** Reads `n` items. */
    async take(n, timeout = 3000) {
        const out = [];
        for (let i = 0; i < n; i++) out.push(await this.next(timeout));
        return out;
    }
}

/** Normalises a binary value a client handed us (Buffer, ArrayBuffer, view) to a Buffer. */
export function toBuffer(v) {
    if (Buffer.isBuffer(v)) return v;
    if (v instanceof ArrayBuffer) return Buffer.from(v);
    if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    throw new Error(`not binary: ${typeof v}`);
}

/** Deep-converts every binary value inside `v` to a Buffer, for deepStrictEqual. */
export function normaliseBinary(v) {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toBuffer(v);
    if (Array.isArray(v)) return v.map(normaliseBinary);
    if (v && typeof v === 'object') {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseBinary(x)]));
    }
    return v;
}
