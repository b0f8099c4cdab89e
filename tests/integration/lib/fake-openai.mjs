// A fake OpenAI-compatible model API, for the tests of the streaming upstream client
// (src/app/app_upstream) and, later, the end-to-end and browser tests.
//
// It speaks the two endpoints a chat front end needs, in OpenAI's wire format:
//   GET  /v1/models            {"object":"list","data":[{"id","object":"model","created","owned_by"}]}
//   POST /v1/chat/completions  with "stream": true -> text/event-stream of
//        `data: {chat.completion.chunk}\n\n` lines (role chunk, content chunks, a finish
//        chunk, an optional usage chunk with stream_options.include_usage), `data: [DONE]`;
//        without "stream" -> one chat.completion JSON.
// The answer is the text of the last user message, streamed back word by word, one chunk
// every `delayMs` (per request: the body member "fake_delay_ms").
//
// The model id picks a behaviour (every `fake-*` id is accepted; other ids must be listed):
//   fake-fail-midstream   three content chunks, then the TCP connection is destroyed
//   fake-http-<status>    that HTTP status with an OpenAI error object (message
//                         "fake upstream error <status>")
//   fake-stall            headers and the role chunk, then nothing (until the client leaves)
//   fake-stall-headers    never answers at all
//   fake-error-event      two content chunks, then `data: {"error":{...}}` and the end
//   fake-json             a non-streamed chat.completion even though stream was asked
//   fake-no-done          the whole stream with its finish chunk, but no `[DONE]`
//   fake-truncated        content chunks, then a clean end without finish or `[DONE]`
//   fake-keepalive        `: keep-alive` comments every delay, 5 times, then the answer
//   fake-ascii            like the default, JSON with every non-ASCII char as \uXXXX
//                         (Python's json.dumps style, as vLLM/FastAPI servers send)
//   fake-crlf             like the default, with CRLF line ends
//   fake-reasoning        reasoning_content chunks ("Thinking...") before the answer
//   fake-big              one content chunk of 4 MiB, then the rest
// With a key configured, every /v1 request must carry `Authorization: Bearer <key>`, or
// gets OpenAI's 401 invalid_api_key error.
//
// Inspection for tests: GET /_fake/requests (the chat requests received: path, auth
// header, parsed body), GET /_fake/stats ({started, finished, aborted} SSE streams:
// aborted = the connection closed before the end, by the client or by fake-fail-midstream),
// POST /_fake/reset.
//
// Use as a module: `const fake = await startFakeOpenAI({key, models, delayMs})` ->
// {url (…/v1), port, requests, stats, close()}. Or as a program:
//   node tests/integration/lib/fake-openai.mjs [--port 0] [--host 127.0.0.1] [--key K]
//        [--models a,b] [--delay-ms 20]
// which prints one JSON line {"url":..., "port":...} once listening, and exits on
// SIGTERM/SIGINT or when its stdin closes (so it never outlives the test that spawned it).
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const CREATED = 1727889370;

function openaiError(message, type, code, param = null) {
    return { error: { message, type, param, code } };
}

function lastUserText(messages) {
    if (!Array.isArray(messages)) return '';
    for (let i = messages.length - 1; i >= 0; i--) {
        const m = messages[i];
        if (!m || m.role !== 'user') continue;
        if (typeof m.content === 'string') return m.content;
        if (Array.isArray(m.content)) {
            return m.content.filter((p) => p && p.type === 'text').map((p) => p.text).join('\n');
        }
        return '';
    }
    return '';
}

/** Words with their leading whitespace: "a  b\nc" -> ["a", "  b", "\nc"]. */
function tokens(text) {
    return text.match(/\s*\S+|\s+$/g) || [];
}

/** JSON with every non-ASCII UTF-16 unit escaped (Python json.dumps ensure_ascii). */
function asciiJson(value) {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g,
        (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

class Stream {
    constructor(req, res, body, opts) {
        this.res = res;
        this.model = body.model;
        this.eol = this.model === 'fake-crlf' ? '\r\n' : '\n';
        this.ascii = this.model === 'fake-ascii';
        this.delay = Number.isFinite(body.fake_delay_ms) ? body.fake_delay_ms : opts.delayMs;
        this.usage = body.stream_options && body.stream_options.include_usage === true;
        this.id = 'chatcmpl-fake' + Math.random().toString(36).slice(2, 10);
        this.timer = null;
        this.closed = false;
        this.stats = opts.stats;
        this.text = lastUserText(body.messages);
        this.stats.started++;
        res.on('close', () => {
            this.closed = true;
            clearTimeout(this.timer);
            if (res.writableFinished) this.stats.finished++;
            else this.stats.aborted++;
        });
    }

    chunk(delta, finish = null, extra = {}) {
        return {
            id: this.id, object: 'chat.completion.chunk', created: CREATED, model: this.model,
            system_fingerprint: 'fp_fake', choices: [{ index: 0, delta, logprobs: null,
                finish_reason: finish }], ...extra,
        };
    }

    send(obj) {
        if (this.closed) return;
        const data = typeof obj === 'string' ? obj : this.ascii ? asciiJson(obj) : JSON.stringify(obj);
        this.res.write(`data: ${data}${this.eol}${this.eol}`);
    }

    /** Runs the steps one per delay; each step is a function. */
    run(steps) {
        const next = () => {
            if (this.closed) return;
            const step = steps.shift();
            if (!step) return;
            step();
            if (steps.length) this.timer = setTimeout(next, this.delay);
        };
        next();
    }

    start() {
        this.res.writeHead(200, {
            'Content-Type': 'text/event-stream; charset=utf-8',
            'Cache-Control': 'no-cache',
            Connection: 'keep-alive',
        });
        this.res.flushHeaders();
        const m = this.model;
        const role = () => this.send(this.chunk({ role: 'assistant', content: '', refusal: null }));
        const words = tokens(this.text).map((t) => () => this.send(this.chunk({ content: t })));
        const finish = () => this.send(this.chunk({}, 'stop'));
        const usage = () => {
            if (!this.usage) return;
            const n = tokens(this.text).length;
            this.send({ ...this.chunk({}), choices: [],
                usage: { prompt_tokens: n, completion_tokens: n, total_tokens: 2 * n } });
        };
        const done = () => { this.send('[DONE]'); this.res.end(); };
        const end = () => this.res.end();
        if (m === 'fake-fail-midstream') {
            const three = [0, 1, 2].map((i) => () => this.send(this.chunk({ content: `part${i} ` })));
            return this.run([role, ...three, () => this.res.socket.destroy()]);
        }
        if (m === 'fake-stall') return this.run([role]);
        if (m === 'fake-error-event') {
            return this.run([role, ...words.slice(0, 2), () => {
                this.send(openaiError('The model crashed while streaming', 'server_error', null));
                this.res.end();
            }]);
        }
        if (m === 'fake-no-done') return this.run([role, ...words, finish, end]);
        if (m === 'fake-truncated') return this.run([role, ...words, end]);
        if (m === 'fake-keepalive') {
            const ka = [1, 2, 3, 4, 5].map(() => () => this.res.write(`: keep-alive${this.eol}${this.eol}`));
            return this.run([...ka, role, ...words, finish, usage, done]);
        }
        if (m === 'fake-reasoning') {
            const think = ['Thinking', ' about', ' it'].map((t) => () =>
                this.send(this.chunk({ reasoning_content: t })));
            return this.run([role, ...think, ...words, finish, usage, done]);
        }
        if (m === 'fake-big') {
            const big = () => this.send(this.chunk({ content: 'x'.repeat(4 << 20) }));
            return this.run([role, big, ...words, finish, done]);
        }
        return this.run([role, ...words, finish, usage, done]);
    }
}

function completionJson(body) {
    const text = lastUserText(body.messages);
    const n = tokens(text).length;
    return {
        id: 'chatcmpl-fakejson', object: 'chat.completion', created: CREATED, model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null },
            logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: n, completion_tokens: n, total_tokens: 2 * n },
        system_fingerprint: 'fp_fake',
    };
}

function sendJson(res, status, obj) {
    const data = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    res.end(data);
}

function authError(req, key) {
    if (!key) return null;
    const h = req.headers.authorization;
    if (!h) {
        return openaiError("You didn't provide an API key. You need to provide your API key in an "
            + 'Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
        'invalid_request_error', null);
    }
    if (h === `Bearer ${key}`) return null;
    const given = h.replace(/^Bearer /, '');
    const masked = given.length > 8 ? `${given.slice(0, 3)}***${given.slice(-4)}` : '***';
    return openaiError(`Incorrect API key provided: ${masked}. You can find your API key at `
        + 'https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key');
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const parts = [];
        req.on('data', (d) => parts.push(d));
        req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        req.on('error', reject);
    });
}

async function chat(req, res, opts) {
    const raw = await readBody(req);
    let body;
    try {
        body = JSON.parse(raw);
    } catch {
        return sendJson(res, 400, openaiError('We could not parse the JSON body of your request.',
            'invalid_request_error', null));
    }
    opts.requests.push({ path: req.url, auth: req.headers.authorization || null, body });
    const model = typeof body.model === 'string' ? body.model : '';
    const http = /^fake-http-(\d{3})$/.exec(model);
    if (http) {
        const status = Number(http[1]);
        return sendJson(res, status, openaiError(`fake upstream error ${status}`, 'server_error', null));
    }
    if (!model.startsWith('fake-') && !opts.models.includes(model)) {
        return sendJson(res, 404, openaiError(`The model \`${model}\` does not exist or you do not `
            + 'have access to it.', 'invalid_request_error', 'model_not_found'));
    }
    if (model === 'fake-stall-headers') return undefined;
    if (body.stream !== true || model === 'fake-json') return sendJson(res, 200, completionJson(body));
    return new Stream(req, res, body, opts).start();
}

/**
 * Starts the fake. opts: {host='127.0.0.1', port=0, key=null, models=['gpt-fake'],
 * delayMs=20}. Resolves to {url, port, requests, stats, close()}.
 */
export async function startFakeOpenAI(opts = {}) {
    const state = {
        key: opts.key || null,
        models: opts.models || ['gpt-fake'],
        delayMs: opts.delayMs ?? 20,
        requests: [],
        stats: { started: 0, finished: 0, aborted: 0 },
    };
    const sockets = new Set();
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://x');
        if (url.pathname === '/_fake/requests') return sendJson(res, 200, state.requests);
        if (url.pathname === '/_fake/stats') return sendJson(res, 200, state.stats);
        if (url.pathname === '/_fake/reset' && req.method === 'POST') {
            state.requests.length = 0;
            Object.assign(state.stats, { started: 0, finished: 0, aborted: 0 });
            return sendJson(res, 200, { ok: true });
        }
        const denied = authError(req, state.key);
        if (url.pathname.startsWith('/v1/') && denied) return sendJson(res, 401, denied);
        if (url.pathname === '/v1/models' && req.method === 'GET') {
            return sendJson(res, 200, { object: 'list', data: state.models.map((id) => ({
                id, object: 'model', created: CREATED, owned_by: 'fake' })) });
        }
        if (url.pathname === '/v1/chat/completions' && req.method === 'POST') {
            return chat(req, res, state).catch((e) => {
                if (!res.headersSent) sendJson(res, 500, openaiError(String(e), 'server_error', null));
            });
        }
        return sendJson(res, 404, openaiError(`Invalid URL (${req.method} ${url.pathname})`,
            'invalid_request_error', null));
    });
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
    });
    const { port, address } = server.address();
    const host = address.includes(':') ? `[${address}]` : address;
    return {
        url: `http://${host}:${port}/v1`,
        port,
        requests: state.requests,
        stats: state.stats,
        close() {
            for (const s of sockets) s.destroy();
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}

function parseArgs(argv) {
    const o = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], v = argv[i + 1];
        if (a === '--port') { o.port = Number(v); i++; }
        else if (a === '--host') { o.host = v; i++; }
        else if (a === '--key') { o.key = v; i++; }
        else if (a === '--models') { o.models = v.split(',').filter(Boolean); i++; }
        else if (a === '--delay-ms') { o.delayMs = Number(v); i++; }
        else throw new Error(`fake-openai: unknown argument ${a}`);
    }
    return o;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
    const fake = await startFakeOpenAI(parseArgs(process.argv.slice(2)));
    const quit = () => fake.close().then(() => process.exit(0));
    process.on('SIGTERM', quit);
    process.on('SIGINT', quit);
    process.stdin.on('end', quit);
    process.stdin.on('error', quit);
    process.stdin.resume();
    process.stdout.write(JSON.stringify({ url: fake.url, port: fake.port }) + '\n');
}
