// socket.io-client / engine.io-client / ws helpers. Every client is registered with the
// test context (`t.after`) so it is closed even when the test fails.
import { io } from 'socket.io-client';
import { Socket as EioSocket } from 'engine.io-client';
import WebSocket from 'ws';
import { Queue, withTimeout } from './util.mjs';

/** Closes `closer()` after the test `t` (pass/fail alike); returns `obj`. */
export function track(t, obj, closer) {
    t.after(() => {
        try {
            closer(obj);
        } catch {
            // already closed
        }
    });
    return obj;
}

/**
 * A socket.io-client socket for namespace `nsp` on `srv` (not waited for). opts go to
 * io(); defaults: forceNew, no reconnection, the server's path.
 */
export function sioClient(t, srv, nsp = '/', opts = {}) {
    const socket = io(`${srv.url}${nsp}`, {
        path: srv.path,
        forceNew: true,
        reconnection: false,
        timeout: 5000,
        ...opts,
    });
    return track(t, socket, (s) => s.disconnect());
}

/** Resolves once `socket` is connected; rejects on connect_error. */
export function whenConnected(socket, timeout = 5000) {
    if (socket.connected) return Promise.resolve(socket);
    return withTimeout(new Promise((resolve, reject) => {
        const ok = () => {
            socket.off('connect_error', bad);
            resolve(socket);
        };
        const bad = (err) => {
            socket.off('connect', ok);
            reject(err);
        };
        socket.once('connect', ok);
        socket.once('connect_error', bad);
    }), timeout, 'socket.io connect');
}

/**
 * Connects and records events: resolves { socket, events } where events[name] is a Queue
 * of argument arrays for each name in `names` (registered before the connection opens,
 * so `auth` is never missed).
 */
export async function sioConnect(t, srv, { nsp = '/', names = ['auth'], ...opts } = {}) {
    const socket = sioClient(t, srv, nsp, opts);
    const events = recordEvents(socket, names);
    await whenConnected(socket);
    return { socket, events };
}

/** events[name] = Queue of argument arrays. */
export function recordEvents(socket, names) {
    const events = {};
    for (const name of names) {
        events[name] = new Queue(`event ${name}`);
        socket.on(name, (...args) => events[name].push(args));
    }
    return events;
}

/**
 * A round trip through the server on `socket`: the server handles one socket's events in
 * arrival order, so when this resolves every event `socket` sent before has been handled
 * and everything the server wrote to it before has arrived.
 */
export async function barrier(socket) {
    const reply = await socket.timeout(5000).emitWithAck('echo', 'barrier');
    if (reply !== 'barrier') throw new Error(`barrier got ${reply}`);
}

/** Resolves with the disconnect reason of `socket`. */
export function whenDisconnected(socket, timeout = 5000) {
    return withTimeout(new Promise((resolve) => socket.once('disconnect', (r) => resolve(r))),
        timeout, 'socket.io disconnect');
}

/** An engine.io-client socket to the server (engineio-echo or echo-server). */
export function eioClient(t, srv, opts = {}) {
    const socket = new EioSocket(srv.url, { path: srv.path, ...opts });
    return track(t, socket, (s) => s.close());
}

/** A `ws` WebSocket for an Engine.IO websocket session; messages go to a Queue. */
export async function wsOpen(t, srv, query = {}, opts = {}) {
    const q = new URLSearchParams({ EIO: '4', transport: 'websocket', ...query }).toString();
    const h = srv.host.includes(':') ? `[${srv.host}]` : srv.host;
    const ws = new WebSocket(`ws://${h}:${srv.port}${srv.path}?${q}`, opts);
    track(t, ws, (w) => w.terminate());
    const messages = new Queue('ws messages');
    ws.on('message', (data, isBinary) => messages.push(isBinary ? data : data.toString()));
    const closed = new Promise((resolve) => ws.on('close', (code, reason) => {
        messages.close(new Error(`websocket closed ${code}`));
        resolve({ code, reason: reason.toString() });
    }));
    ws.on('error', () => {});
    await withTimeout(new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response',
            (req, res) => reject(new Error(`upgrade ${res.statusCode}`)));
        ws.once('error', reject);
    }), 3000, 'websocket open');
    return { ws, messages, closed };
}
