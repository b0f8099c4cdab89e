// Real redis-server processes for the cluster tests (issue 5): started on free loopback
// ports with persistence off, stopped (SIGTERM), killed (SIGKILL) and restarted on the
// same port; plus Sentinel setups (a master, replicas, sentinels). Every process still
// running when the test process exits is killed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { sleep, withTimeout } from './util.mjs';

const live = new Set();
process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/** One redis-server (or sentinel) process. */
export class RedisProcess {
    constructor(port, { sentinel = false, args = [], conf = null, host = '127.0.0.1' } = {}) {
        this.port = port;
        this.host = host;
        this.sentinel = sentinel;
        this.args = args;
        this.conf = conf; // sentinel config file path (must be writable)
        this.proc = null;
        this.output = '';
    }

    get url() {
        return `redis://${this.host}:${this.port}`;
    }

    async start(timeoutMs = 10000) {
        const argv = this.sentinel
            ? [this.conf, '--sentinel', '--port', String(this.port), '--bind', this.host]
            : ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
                '--appendonly', 'no', ...this.args];
        this.proc = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
        live.add(this.proc);
        const proc = this.proc;
        this.exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
            live.delete(proc);
            resolve({ code, sig });
        }));
        proc.stdout.on('data', (d) => { this.output += d; });
        proc.stderr.on('data', (d) => { this.output += d; });
        await withTimeout((async () => {
            for (;;) {
                if (proc.exitCode !== null) throw new Error(`redis-server exited: ${this.output}`);
                if (await this.ping()) return;
                await sleep(20);
            }
        })(), timeoutMs, `redis-server on ${this.port}`);
        return this;
    }

    /** True when the server answers PING. */
    ping() {
        return new Promise((resolve) => {
            const s = net.connect(this.port, this.host);
            let buf = '';
            s.on('connect', () => s.write('PING\r\n'));
            s.on('data', (d) => {
                buf += d;
                if (buf.includes('\r\n')) {
                    s.destroy();
                    resolve(buf.startsWith('+PONG'));
                }
            });
            s.on('error', () => resolve(false));
        });
    }

    /** SIGKILL: the server vanishes without a goodbye. */
    async kill() {
        if (this.proc && this.proc.exitCode === null) {
            this.proc.kill('SIGKILL');
            await this.exited;
        }
    }

    /** SIGTERM and wait. */
    async stop() {
        if (this.proc && this.proc.exitCode === null) {
            this.proc.kill('SIGTERM');
            await this.exited;
        }
    }

    /** Starts again on the same port (after kill or stop). */
    async restart() {
        await this.kill();
        return this.start();
    }

    /** A node-redis client connected to this server (closed by the caller). */
    async client() {
        const c = createClient({ url: this.url });
        c.on('error', () => {});
        await c.connect();
        return c;
    }
}

/** Starts a redis-server on a free port. */
export async function startRedis(opts = {}) {
    return new RedisProcess(await freePort(), opts).start();
}

/**
 * A Sentinel setup: a master, `replicas` replicas and `sentinels` sentinels watching
 * the master as `service`, with a short down-after / failover timeout. With `samePort`
 * the sentinels share one port on addresses 127.0.0.1, 127.0.0.2, ... (Open WebUI's
 * WEBSOCKET_SENTINEL_HOSTS form: a host list, one port).
 */
export async function startSentinelSetup({ replicas = 1, sentinels = 3, service = 'mymaster',
    downAfterMs = 500, failoverTimeoutMs = 2000, samePort = false } = {}) {
    const master = await startRedis();
    const reps = [];
    for (let i = 0; i < replicas; i++) {
        reps.push(await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] }));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sioc-sentinel-'));
    const sents = [];
    const shared = samePort ? await freePort() : 0;
    for (let i = 0; i < sentinels; i++) {
        const port = shared || await freePort();
        const host = samePort ? `127.0.0.${i + 1}` : '127.0.0.1';
        const conf = path.join(dir, `sentinel-${host}-${port}.conf`);
        fs.writeFileSync(conf, [
            `port ${port}`,
            `bind ${host}`,
            `sentinel announce-ip ${host}`,
            `sentinel monitor ${service} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${service} ${downAfterMs}`,
            `sentinel failover-timeout ${service} ${failoverTimeoutMs}`,
            `sentinel parallel-syncs ${service} 1`,
            '',
        ].join('\n'));
        sents.push(await new RedisProcess(port, { sentinel: true, conf, host }).start());
    }
    return {
        master,
        replicas: reps,
        sentinels: sents,
        service,
        hosts: sents.map((s) => s.host).join(','),
        port: sents[0].port,
        async stopAll() {
            for (const p of [...sents, ...reps, master]) await p.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
