// Helpers of the `sioc` program's integration tests (70-app-*.test.mjs .. 79-*): start the
// real build/sioc on a fresh data folder, create users and tokens with its own
// subcommands, read the database with the sqlite3 CLI (or psql when DATABASE_URL points to
// PostgreSQL), connect the real socket.io-client with Open WebUI's options, and forge
// tokens with the server's key to test refusals.
//
// PostgreSQL: with DATABASE_URL=postgresql://... in the environment every server of the
// run shares that database; helpers make every email and id unique so tests stay apart.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(ROOT, process.env.SIOC_BUILD || 'build');
export const SIOC = path.join(BUILD, 'sioc');
const envUrl = process.env.DATABASE_URL || '';
export const PG_URL = /^postgres(ql)?(\+\w+)?:\/\//.test(envUrl) ? envUrl : null;
/** A multiplier for timeouts under sanitizers or valgrind. */
export const SLOW = Number(process.env.SIOC_TEST_SLOW || (BUILD.includes('asan') ? 3 : 1));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const uid = () => crypto.randomUUID();

const live = new Set();
const tmpDirs = new Set();
process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** base64url of a string or Buffer. */
export function b64u(x) {
    return Buffer.from(typeof x === 'string' ? x : x).toString('base64url');
}

/** An HS256 JWT over any header/payload (for forging bad tokens in tests). */
export function signJwt(payload, key, header = { alg: 'HS256', typ: 'JWT' }) {
    const h = b64u(JSON.stringify(header));
    const p = b64u(JSON.stringify(payload));
    const sig = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
    return `${h}.${p}.${sig}`;
}

/** Resolves when `fn()` returns a truthy value (polled), else rejects after `ms`. */
export async function eventually(fn, ms = 3000, what = 'condition') {
    const end = Date.now() + ms * SLOW;
    let last;
    while (Date.now() < end) {
        last = await fn();
        if (last) return last;
        await sleep(50);
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Collects every `event` the socket receives into an array. */
export function collect(sock, event) {
    const got = [];
    sock.on(event, (...args) => got.push(args.length === 1 ? args[0] : args));
    return got;
}

/** The next `event` on the socket whose payload satisfies `pred`. */
export function next(sock, event, pred = () => true, ms = 3000) {
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
            sock.off(event, on);
            reject(new Error(`no ${event} within ${ms * SLOW} ms`));
        }, ms * SLOW);
        function on(...args) {
            const v = args.length === 1 ? args[0] : args;
            if (!pred(v)) return;
            clearTimeout(t);
            sock.off(event, on);
            resolve(v);
        }
        sock.on(event, on);
    });
}

/** A running `sioc` server with its own data folder. */
export class App {
    /**
     * Starts build/sioc. opts.env: extra environment; opts.args: extra flags; opts.dir: an
     * existing data folder (to restart on the same database).
     */
    static async start(opts = {}) {
        const app = new App(opts);
        await app.spawn();
        return app;
    }

    constructor({ env = {}, args = [], dir } = {}) {
        if (!dir) tmpDirs.add(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sioc-app-')));
        this.dir = dir;
        this.secret = env.WEBUI_SECRET_KEY ?? `k-${crypto.randomBytes(12).toString('hex')}`;
        this.env = {
            PATH: process.env.PATH,
            HOME: process.env.HOME || '/tmp',
            WEBUI_SECRET_KEY: this.secret,
            ...(PG_URL ? { DATABASE_URL: PG_URL } : {}),
            ...env,
        };
        this.args = args;
        this.stderr = '';
        this.stdout = '';
        this.sockets = new Set();
    }

    get dbPath() { return path.join(this.dir, 'webui.db'); }
    get url() { return `http://127.0.0.1:${this.port}`; }

    /** Runs a sioc subcommand; returns { code, stdout, stderr }. */
    cli(args, env = {}) {
        try {
            const stdout = execFileSync(SIOC, [...args, '--data-dir', this.dir],
                { env: { ...this.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
            return { code: 0, stdout, stderr: '' };
        } catch (e) {
            return { code: e.status, stdout: e.stdout || '', stderr: e.stderr || '' };
        }
    }

    /** Creates a user (unique email) with `sioc user add`; returns {id, email, name, role, token}. */
    addUser({ role = 'user', name = 'User', password = 'pw-123456' } = {}) {
        const email = `${name.toLowerCase().replace(/\W/g, '')}-${uid().slice(0, 8)}@example.com`;
        const r = this.cli(['user', 'add', '--email', email, '--name', name, '--role', role,
            '--password', password]);
        if (r.code !== 0) throw new Error(`user add failed: ${r.stderr}`);
        const id = r.stdout.trim();
        return { id, email, name, role, token: role === 'pending' ? this.forgeToken(id) : this.token(email) };
    }

    /** `sioc token --email`. */
    token(email) {
        const r = this.cli(['token', '--email', email]);
        if (r.code !== 0) throw new Error(`token failed: ${r.stderr}`);
        return r.stdout.trim();
    }

    /** A token signed with the server's key (for users the CLI refuses, or odd claims). */
    forgeToken(id, extra = {}, header) {
        const now = Math.floor(Date.now() / 1000);
        return signJwt({ id, exp: now + 3600, jti: uid(), iat: now, ...extra }, this.secret, header);
    }

    /** Runs SQL on the server's database and returns the trimmed text output. */
    sql(query) {
        if (PG_URL) {
            return execFileSync('psql', [PG_URL, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', query],
                { encoding: 'utf8' }).trim();
        }
        return execFileSync('sqlite3', ['-batch', '-noheader', '-cmd', '.timeout 5000', this.dbPath, query],
            { encoding: 'utf8' }).trim();
    }

    async spawn() {
        this.stdout = '';
        this.proc = spawn(SIOC, ['--port', '0', '--host', '127.0.0.1', '--data-dir', this.dir, ...this.args],
            { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
        live.add(this.proc);
        this.proc.stderr.on('data', (d) => { this.stderr += d; });
        this.exited = new Promise((resolve) => {
            this.proc.on('exit', (code, signal) => { live.delete(this.proc); resolve({ code, signal }); });
            this.proc.on('error', (e) => { live.delete(this.proc); resolve({ code: null, signal: null, error: e.message }); });
        });
        this.port = await new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`sioc did not listen:\n${this.stderr}`)), 10000 * SLOW);
            this.proc.stdout.on('data', (d) => {
                this.stdout += d;
                const m = /listening on (\S+):(\d+)\s*$/m.exec(this.stdout);
                if (m) { clearTimeout(t); resolve(Number(m[2])); }
            });
            this.exited.then((e) => { clearTimeout(t); reject(new Error(`sioc exited ${JSON.stringify(e)}:\n${this.stderr}`)); });
        });
    }

    /** Connects socket.io-client like Open WebUI's front end (path, auth.token). */
    connect(token, opts = {}) {
        const s = io(this.url, {
            path: '/ws/socket.io', transports: ['websocket'], reconnection: false, forceNew: true,
            ...(token !== undefined ? { auth: { token } } : {}), ...opts,
        });
        this.sockets.add(s);
        return new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('connect timeout')), 5000 * SLOW);
            s.once('connect', () => { clearTimeout(t); resolve(s); });
            s.once('connect_error', (e) => { clearTimeout(t); reject(e); });
        });
    }

    /**
     * An HTTP request to the server; resolves {status, json, text}. Retried once when fetch
     * reused a keep-alive connection the server had already closed as idle: addUser runs the
     * CLI synchronously, which blocks Node's loop for seconds (more under ASan), so undici
     * cannot expire the idle connection before the next fetch. The server never saw such a
     * request, so one retry is safe even for a POST.
     */
    async http(pathname, { method = 'GET', body, headers = {} } = {}) {
        const init = {
            method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
            body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
        };
        let res;
        try {
            res = await fetch(this.url + pathname, init);
        } catch (e) {
            const why = String(e.cause?.message ?? e.cause?.code ?? '');
            if (!(e instanceof TypeError) || !/other side closed|ECONNRESET|socket/i.test(why)) throw e;
            res = await fetch(this.url + pathname, init);
        }
        const text = await res.text();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        return { status: res.status, json, text };
    }

    /** SIGTERM; resolves {code, signal, ms}. */
    async stop() {
        for (const s of this.sockets) s.close();
        if (!this.proc || this.proc.exitCode !== null) return this.exited;
        const t0 = Date.now();
        this.proc.kill('SIGTERM');
        const r = await Promise.race([this.exited, sleep(10000 * SLOW).then(() => ({ code: null, signal: 'timeout' }))]);
        if (/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(this.stderr))
            throw new Error(`sanitizer report:\n${this.stderr}`);
        return { ...r, ms: Date.now() - t0 };
    }

    kill() {
        for (const s of this.sockets) s.close();
        if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    }
}

/** Inserts a channel of `type` ('group', 'dm' or null for a standard one) owned by `owner`. */
export function addChannel(app, owner, { type = 'group', members = [], grants = [] } = {}) {
    const id = uid();
    const now = Date.now() * 1e6;
    const t = type === null ? 'NULL' : `'${type}'`;
    app.sql(`INSERT INTO channel (id, user_id, type, name, created_at, updated_at) VALUES ('${id}', '${owner}', ${t}, 'c-${id.slice(0, 6)}', ${now}, ${now})`);
    for (const m of members) {
        app.sql(`INSERT INTO channel_member (id, channel_id, user_id, role, is_active, created_at, updated_at) VALUES ('${uid()}', '${id}', '${m}', 'member', TRUE, ${now}, ${now})`);
    }
    for (const [principal, permission] of grants) {
        const [ptype, pid] = principal.split(':');
        app.sql(`INSERT INTO access_grant (id, resource_type, resource_id, principal_type, principal_id, permission, created_at) VALUES ('${uid()}', 'channel', '${id}', '${ptype}', '${pid}', '${permission}', ${Math.floor(Date.now() / 1000)})`);
    }
    return id;
}

/** Inserts a chat owned by `owner` with one user message (whose childrenIds lists
 *  `childId` when given, as the front end pre-links the assistant reply); returns
 *  {chatId, userMsgId}. */
export function addChat(app, owner, childId) {
    const chatId = uid();
    const userMsgId = uid();
    const now = Math.floor(Date.now() / 1000);
    const chat = {
        title: 'T', models: ['m'],
        history: { currentId: userMsgId, messages: { [userMsgId]: { id: userMsgId, parentId: null, childrenIds: [], role: 'user', content: 'hi', timestamp: now, ...(childId ? { childrenIds: [childId] } : {}) } } },
        messages: [],
    };
    app.sql(`INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, archived, pinned, meta) VALUES ('${chatId}', '${owner}', 'T', '${JSON.stringify(chat)}', ${now}, ${now}, FALSE, FALSE, '{}')`);
    return { chatId, userMsgId };
}

/** Reads chat.chat as an object. */
export function readChat(app, chatId) {
    return JSON.parse(app.sql(`SELECT chat FROM chat WHERE id = '${chatId}'`));
}
