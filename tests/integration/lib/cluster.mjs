// Cluster test helpers (issue 5): sioc echo-server nodes joined through one Redis, their
// clients, and order barriers that cross nodes.
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { sioConnect } from './sio.mjs';
import { sleep, waitUntil } from './util.mjs';

/** Starts `n` echo-server nodes on `redisUrl` with `args` extra flags. */
export async function startNodes(n, redisUrl, args = []) {
    const nodes = [];
    for (let i = 0; i < n; i++) {
        nodes.push(await startServer({ args: ['--redis', redisUrl, ...args] }));
    }
    return nodes;
}

/** A connected client of `node` recording `names` (default: auth, msg). */
export function connect(t, node, names = ['auth', 'msg'], opts = {}) {
    return sioConnect(t, node, { transports: ['websocket'], names, ...opts });
}

/** Acked emit with a timeout; resolves the ack's arguments as an array. */
export function call(socket, event, ...args) {
    return new Promise((resolve, reject) => {
        socket.timeout(8000).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
    });
}

/** Waits until the cluster (as seen from `socket`'s node) counts `n` servers. */
export async function waitServers(socket, n, timeout = 5000) {
    let last = null;
    await waitUntil(async () => {
        const [status, count] = await call(socket, 'server-count');
        last = [status, count];
        return status === 0 && count === n;
    }, { timeout, step: 50, what: `server count ${n}` }).catch((err) => {
        throw new Error(`${err.message} (last answer ${JSON.stringify(last)})`);
    });
}

/**
 * Cross-node "nothing else arrived" check: `from` emits a marker to everybody; every
 * client in `clients` must see the marker as its NEXT msg (Redis keeps one publisher's
 * order, and each node delivers in arrival order), so anything wrongly delivered before
 * it would show up first.
 */
export async function expectOnlyMarker(from, clients, tag = 'marker') {
    const marker = `${tag}-${Math.random().toString(36).slice(2)}`;
    await call(from, 'emit-all', marker);
    for (const [i, c] of clients.entries()) {
        const [got] = await c.events.msg.next(5000);
        assert.equal(got, marker, `client ${i}: expected only the marker, got ${JSON.stringify(got)}`);
    }
}

/** Polls until `fn()` resolves truthy (async-aware). */
export async function eventually(fn, what, timeout = 10000) {
    const end = Date.now() + timeout;
    for (;;) {
        try {
            if (await fn()) return;
        } catch {
            // not yet
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

/** Starts the Node socket.io + @socket.io/redis-adapter peer (lib/node-peer.mjs). */
export async function startNodePeer(redisUrl, extra = []) {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const script = fileURLToPath(new URL('./node-peer.mjs', import.meta.url));
    const proc = spawn(process.execPath, [script, '--redis', redisUrl, ...extra],
        { stdio: ['ignore', 'pipe', 'pipe'] });
    process.on('exit', () => proc.kill('SIGKILL'));
    const peer = {
        proc, stdout: '', stderr: '', host: '127.0.0.1', path: '/socket.io/',
        get url() { return `http://127.0.0.1:${this.port}`; },
        exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
        async stop() {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return this.exited;
        },
        async kill() {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
            return this.exited;
        },
    };
    proc.stderr.on('data', (d) => { peer.stderr += d; });
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node peer did not start: ${peer.stderr}`)), 10000);
        proc.stdout.on('data', (d) => {
            peer.stdout += d;
            const m = /listening on \S+:(\d+)/.exec(peer.stdout);
            if (m) {
                clearTimeout(timer);
                peer.port = Number(m[1]);
                resolve();
            }
        });
        peer.exited.then(() => reject(new Error(`node peer exited: ${peer.stderr}`)));
    });
    return peer;
}
