// Starts and stops the server under test for the integration suite.
//
// Target: `${SIOC_BUILD:-build}/echo-server` (or `engineio-echo`) by default; the Node
// reference peer bench/peers/node-server.mjs when SIOC_TEST_TARGET=node. With
// SIOC_VALGRIND=1 the C binary runs under `valgrind --leak-check=full --error-exitcode=99`.
//
// Every server is started with `--port 0` (unless a port is given) and is ready when it
// prints `listening on HOST:PORT`. Its stderr is captured. `stop()` sends SIGTERM and
// `check()` fails when the process did not exit with status 0 within 5 s, or when stderr
// holds a sanitizer or valgrind report. Servers still running when the test process exits
// are killed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { SLOW, withTimeout } from './util.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TARGET = process.env.SIOC_TEST_TARGET === 'node' ? 'node' : 'c';
export const BUILD = path.resolve(ROOT, process.env.SIOC_BUILD || 'build');
export const VALGRIND = process.env.SIOC_VALGRIND === '1';
/** The exit deadline after SIGTERM (issue 2: 5 s; valgrind is given more). */
export const EXIT_DEADLINE_MS = VALGRIND ? 30000 : 5000;

const REPORT_PATTERNS = [
    /ERROR: AddressSanitizer/,
    /ERROR: LeakSanitizer/,
    /runtime error:/,
    /WARNING: ThreadSanitizer/,
    /==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised)/,
    /==\d+== (Syscall param|Mismatched free|Source and destination overlap)/,
    /==\d+== +(definitely|indirectly) lost: [1-9]/,
    /==\d+== ERROR SUMMARY: [1-9]/,
];

const live = new Set();
process.on('exit', () => {
    for (const s of live) s.proc.kill('SIGKILL');
});

function command(kind, args) {
    if (TARGET === 'node') {
        const peer = path.join(ROOT, 'bench/peers/node-server.mjs');
        const extra = kind === 'engineio' ? ['--engineio'] : [];
        return [process.execPath, [peer, ...extra, ...args]];
    }
    const bin = path.join(BUILD, kind === 'engineio' ? 'engineio-echo' : 'echo-server');
    if (!VALGRIND) return [bin, args];
    return ['valgrind', ['--leak-check=full', '--error-exitcode=99', '--track-fds=no',
        '--errors-for-leak-kinds=definite,indirect', '-q', bin, ...args]];
}

function argValue(args, name) {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
}

/** A running server process: see startServer(). */
export class ServerProcess {
    constructor(kind, args) {
        this.kind = kind;
        this.args = args;
        this.stdout = '';
        this.stderr = '';
        this.exit = null; // { code, signal, elapsedMs } once exited
        this.stopRequestedAt = 0;
        this.problems = [];
    }

    /** Base URL, e.g. http://127.0.0.1:1234 or http://[::1]:1234. */
    get url() {
        const h = this.host.includes(':') ? `[${this.host}]` : this.host;
        return `http://${h}:${this.port}`;
    }

    /** The Engine.IO path the server serves (`--path`, or the target's default). */
    get path() {
        const dflt = this.kind === 'engineio' ? '/engine.io/' : '/socket.io/';
        return argValue(this.args, '--path') ?? dflt;
    }

    async start(readyTimeoutMs = 10000) {
        const [cmd, argv] = command(this.kind, this.args);
        this.proc = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        live.add(this);
        this.exited = new Promise((resolve) => {
            this.proc.on('exit', (code, signal) => {
                live.delete(this);
                const elapsedMs = this.stopRequestedAt ? Date.now() - this.stopRequestedAt : -1;
                this.exit = { code, signal, elapsedMs };
                resolve(this.exit);
            });
            this.proc.on('error', (err) => {
                live.delete(this);
                this.exit = { code: null, signal: null, elapsedMs: -1, error: err };
                resolve(this.exit);
            });
        });
        this.proc.stderr.on('data', (d) => { this.stderr += d; });
        const ready = new Promise((resolve, reject) => {
            this.proc.stdout.on('data', (d) => {
                this.stdout += d;
                const m = /listening on (\S+):(\d+)\s*$/m.exec(this.stdout);
                if (m) resolve(m);
            });
            this.exited.then((e) => reject(new Error(
                `${cmd} exited before listening: ${JSON.stringify(e)}\n${this.stderr}`)));
        });
        try {
            const m = await withTimeout(ready, readyTimeoutMs, `${path.basename(cmd)} start`);
            this.port = Number(m[2]);
            const h = m[1].replace(/^\[|\]$/g, '');
            this.host = h === '0.0.0.0' || h === '::' || h === 'localhost'
                ? (argValue(this.args, '--host') ?? '127.0.0.1') : h;
        } catch (err) {
            this.proc.kill('SIGKILL');
            throw err;
        }
        return this;
    }

    /** True while the process runs. */
    get running() {
        return this.exit === null;
    }

    /** Sends SIGTERM (or `signal`) and waits for the exit (up to the deadline + margin). */
    async stop(signal = 'SIGTERM') {
        if (this.running) {
            this.stopRequestedAt = Date.now();
            this.proc.kill(signal);
            const limit = EXIT_DEADLINE_MS + 2000;
            try {
                await withTimeout(this.exited, limit / SLOW, 'server exit');
            } catch {
                this.problems.push(`did not exit within ${EXIT_DEADLINE_MS} ms of ${signal}`);
                this.proc.kill('SIGKILL');
                await this.exited;
            }
        }
        return this.exit;
    }

    /** Throws if the exit was not clean or stderr has sanitizer/valgrind reports. */
    check() {
        const problems = [...this.problems];
        const e = this.exit;
        if (e && this.stopRequestedAt) {
            if (e.code !== 0) problems.push(`exit status ${e.code} (signal ${e.signal})`);
            if (e.elapsedMs > EXIT_DEADLINE_MS) problems.push(`exit took ${e.elapsedMs} ms`);
        } else if (e) {
            problems.push(`exited on its own: status ${e.code} signal ${e.signal}`);
        }
        for (const re of REPORT_PATTERNS) {
            if (re.test(this.stderr)) problems.push(`stderr matches ${re}`);
        }
        if (problems.length > 0) {
            const tail = this.stderr.split('\n').slice(-60).join('\n');
            throw new Error(`server ${this.kind} ${this.args.join(' ')}: ${problems.join('; ')}\n`
                + `--- stderr (tail) ---\n${tail}`);
        }
    }

    /** stop() then check(). */
    async stopAndCheck(signal = 'SIGTERM') {
        await this.stop(signal);
        this.check();
    }

    /** Kills the process without any check (cleanup after a failed test). */
    async kill() {
        if (this.running) {
            this.proc.kill('SIGKILL');
            await this.exited;
        }
    }

    /** SIGSTOP / SIGCONT: a frozen server sends nothing (no pings) until resumed. */
    pause() {
        this.proc.kill('SIGSTOP');
    }

    resume() {
        this.proc.kill('SIGCONT');
    }

    /** Stops (checked) and starts the same server again on the same host and port. */
    async restart() {
        await this.stopAndCheck();
        const args = [...this.args];
        args[args.indexOf('--port') + 1] = String(this.port);
        return new ServerProcess(this.kind, args).start(10000);
    }
}

/**
 * Starts a server and waits until it listens.
 * kind: 'socketio' (echo-server) or 'engineio' (engineio-echo); args: extra flags.
 */
export async function startServer({ kind = 'socketio', args = [] } = {}) {
    const argv = [...args];
    if (!argv.includes('--port')) argv.push('--port', '0');
    const srv = new ServerProcess(kind, argv);
    return srv.start(10000);
}

/**
 * A server shared by the tests of one describe(): started on first use (so a failing
 * start fails the tests rather than a hook), killed by an after() hook if still running.
 * The suite ends with `it('server exits cleanly', () => fx.stopAndCheck())`.
 */
export function serverFixture(opts = {}) {
    let starting = null;
    let srv = null;
    after(async () => {
        if (srv) await srv.kill();
    });
    return {
        async get() {
            if (!starting) starting = startServer(opts).then((s) => (srv = s));
            return starting;
        },
        async stopAndCheck() {
            const s = await this.get();
            await s.stopAndCheck();
        },
    };
}

/** Runs `fn(server)` with a fresh server, then stops it and checks the exit. */
export async function withServer(opts, fn) {
    const srv = await startServer(opts);
    try {
        await fn(srv);
    } catch (err) {
        await srv.kill();
        throw err;
    }
    await srv.stopAndCheck();
}
