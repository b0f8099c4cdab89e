// Raw WebSocket tests against build/ws-echo (the net + http + ws layers alone):
// echo of text, binary and 16 MiB messages, fragmentation, ping/pong,
// permessage-deflate on and off, and bad input over raw sockets (garbage HTTP, bad
// Upgrade, unmasked frame, oversize message, invalid UTF-8), after each of which a
// fresh client still gets echoes; a burst of 10 000 pipelined messages echoed in order
// while another client is served in between (the per-read work cap). The server must exit 0 on SIGTERM within 5 s with no
// sanitizer report on stderr.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.SIOC_BUILD || 'build';
const bin = path.resolve(root, build, 'ws-echo');
// ASan/UBSan/LSan reports, and valgrind error lines (valgrind -q prints nothing else).
const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|==\d+== /;

/** Starts ws-echo on a free port; resolves { port, proc, stderr(), stop() }. */
function startServer(args = []) {
    return new Promise((resolve, reject) => {
        const proc = spawn(bin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        const timer = setTimeout(() => reject(new Error(`ws-echo did not start: ${err}`)), 10000);
        proc.stderr.on('data', (d) => { err += d; });
        proc.stdout.on('data', (d) => {
            out += d;
            const m = /listening on (\S+):(\d+)/.exec(out);
            if (!m) return;
            clearTimeout(timer);
            resolve({
                port: Number(m[2]),
                proc,
                stderr: () => err,
                stop: () => new Promise((res) => {
                    if (proc.exitCode !== null) return res({ code: proc.exitCode, ms: 0 });
                    const t0 = Date.now();
                    proc.once('exit', (code, sig) => res({ code, sig, ms: Date.now() - t0 }));
                    proc.kill('SIGTERM');
                }),
            });
        });
        proc.on('error', reject);
        proc.on('exit', (code) => reject(new Error(`ws-echo exited ${code}: ${err}`)));
    });
}

function connect(port, opts = {}) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, opts);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}

function nextMessage(ws, timeout = 10000) {
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no message')), timeout);
        ws.once('message', (data, isBinary) => { clearTimeout(t); resolve({ data, isBinary }); });
    });
}

function closeWs(ws) {
    return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', (code) => resolve(code));
        ws.close(1000);
    });
}

async function echoWorks(port) {
    const ws = await connect(port);
    ws.send('still alive');
    const m = await nextMessage(ws);
    assert.equal(m.data.toString(), 'still alive');
    await closeWs(ws);
}

/* ---- raw socket client ------------------------------------------------------- */

function maskedFrame(opcode, payload, { fin = true, len } = {}) {
    const data = Buffer.from(payload);
    const n = len ?? data.length;
    const head = [(fin ? 0x80 : 0) | opcode];
    if (n < 126) head.push(0x80 | n);
    else if (n < 65536) head.push(0x80 | 126, n >> 8, n & 0xff);
    else {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(n));
        head.push(0x80 | 127, ...b);
    }
    const key = crypto.randomBytes(4);
    const body = Buffer.from(data);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
    return Buffer.concat([Buffer.from(head), key, body]);
}

/** Opens a TCP connection, writes `first`, and collects bytes until close or timeout. */
function rawSession(port, first, then = [], { untilHead = false } = {}) {
    return new Promise((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        const chunks = [];
        let sentRest = false;
        const done = (closed) => {
            clearTimeout(timer);
            sock.destroy();
            resolve({ data: Buffer.concat(chunks), closed });
        };
        const timer = setTimeout(() => done(false), 5000);
        sock.on('connect', () => sock.write(first));
        sock.on('data', (c) => {
            chunks.push(c);
            const all = Buffer.concat(chunks);
            if (untilHead && all.indexOf('\r\n\r\n') >= 0) return done(false);
            if (!sentRest && all.indexOf('\r\n\r\n') >= 0 && all.toString('latin1').startsWith('HTTP/1.1 101')) {
                sentRest = true;
                for (const b of then) sock.write(b);
            }
        });
        sock.on('close', () => done(true));
        sock.on('error', () => {});
    });
}

function handshake(extra = '') {
    const key = crypto.randomBytes(16).toString('base64');
    return `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** The close code of the first close frame the server sent after the 101, or null. */
function closeCodeOf(data) {
    const head = data.indexOf('\r\n\r\n');
    let p = head + 4;
    while (p + 2 <= data.length) {
        const op = data[p] & 0x0f;
        let len = data[p + 1] & 0x7f;
        let h = 2;
        if (len === 126) { len = data.readUInt16BE(p + 2); h = 4; }
        else if (len === 127) { len = Number(data.readBigUInt64BE(p + 2)); h = 10; }
        if (op === 8) return len >= 2 ? data.readUInt16BE(p + h) : 1005;
        p += h + len;
    }
    return null;
}

/* ---- tests ------------------------------------------------------------------- */

describe('ws-echo', () => {
    let srv;
    before(async () => { srv = await startServer(); });
    after(async () => {
        const r = await srv.stop();
        assert.equal(r.code, 0, `exit code ${r.code} signal ${r.sig}`);
        assert.ok(r.ms < 5000, `took ${r.ms} ms to exit`);
        assert.doesNotMatch(srv.stderr(), SANITIZER);
    });

    test('echoes text and binary', async () => {
        const ws = await connect(srv.port);
        assert.equal(ws.extensions, '', 'permessage-deflate is off by default');
        ws.send('héllo wörld');
        let m = await nextMessage(ws);
        assert.equal(m.isBinary, false);
        assert.equal(m.data.toString(), 'héllo wörld');
        const bin = crypto.randomBytes(300);
        ws.send(bin);
        m = await nextMessage(ws);
        assert.equal(m.isBinary, true);
        assert.deepEqual(Buffer.from(m.data), bin);
        ws.send('');
        m = await nextMessage(ws);
        assert.equal(m.data.length, 0);
        await closeWs(ws);
    });

    test('echoes a 16 MiB binary message and 64 KiB text', async () => {
        const ws = await connect(srv.port, { maxPayload: 32 * 1024 * 1024 });
        const big = crypto.randomBytes(16 * 1024 * 1024);
        ws.send(big);
        const m = await nextMessage(ws, 30000);
        assert.equal(m.isBinary, true);
        assert.ok(Buffer.from(m.data).equals(big), 'same bytes back');
        const text = 'x'.repeat(65536);
        ws.send(text);
        assert.equal((await nextMessage(ws)).data.toString(), text);
        await closeWs(ws);
    });

    test('reassembles fragmented messages', async () => {
        const ws = await connect(srv.port);
        ws.send('frag', { fin: false });
        ws.send('men', { fin: false });
        ws.send('ted €', { fin: true });
        const m = await nextMessage(ws);
        assert.equal(m.data.toString(), 'fragmented €');
        await closeWs(ws);
    });

    test('answers ping with pong carrying the payload', async () => {
        const ws = await connect(srv.port);
        const pong = new Promise((resolve) => ws.once('pong', resolve));
        ws.ping(Buffer.from('are you there'));
        assert.equal((await pong).toString(), 'are you there');
        await closeWs(ws);
    });

    test('closing handshake echoes the code', async () => {
        const ws = await connect(srv.port);
        const code = await new Promise((resolve) => {
            ws.once('close', (c) => resolve(c));
            ws.close(4001, 'bye');
        });
        assert.equal(code, 4001);
    });

    test('garbage HTTP gets 400 and the server goes on', async () => {
        const r = await rawSession(srv.port, 'garbage garbage\r\n\r\n');
        assert.match(r.data.toString('latin1'), /^HTTP\/1\.1 400 /);
        assert.ok(r.closed);
        await echoWorks(srv.port);
    });

    test('a bad Upgrade gets 400', async () => {
        const req = handshake().replace('Upgrade: websocket', 'Upgrade: foo');
        const r = await rawSession(srv.port, req);
        assert.match(r.data.toString('latin1'), /^HTTP\/1\.1 400 /);
        assert.ok(r.closed);
        const r2 = await rawSession(srv.port, handshake().replace('Version: 13', 'Version: 7'));
        assert.match(r2.data.toString('latin1'), /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Version: 13/);
        await echoWorks(srv.port);
    });

    test('an unmasked frame is closed with 1002', async () => {
        const unmasked = Buffer.from([0x81, 0x02, 0x68, 0x69]);
        const r = await rawSession(srv.port, handshake(), [unmasked]);
        assert.equal(closeCodeOf(r.data), 1002);
        assert.ok(r.closed);
        await echoWorks(srv.port);
    });

    test('an oversize message is closed with 1009', async () => {
        const hdr = maskedFrame(2, Buffer.alloc(0), { len: 16 * 1024 * 1024 + 1 });
        const r = await rawSession(srv.port, handshake(), [hdr]);
        assert.equal(closeCodeOf(r.data), 1009);
        assert.ok(r.closed);
        await echoWorks(srv.port);
    });

    test('invalid UTF-8 is closed with 1007', async () => {
        const r = await rawSession(srv.port, handshake(),
            [maskedFrame(1, Buffer.from([0x61, 0xc0, 0xaf]))]);
        assert.equal(closeCodeOf(r.data), 1007);
        // split across fragments: fails on the fragment with the bad bytes
        const r2 = await rawSession(srv.port, handshake(), [
            maskedFrame(1, Buffer.from([0xe2, 0x82]), { fin: false }),
            maskedFrame(0, Buffer.from([0x28]), { fin: true }),
        ]);
        assert.equal(closeCodeOf(r2.data), 1007);
        await echoWorks(srv.port);
    });

    test('a continuation without a message is closed with 1002', async () => {
        const r = await rawSession(srv.port, handshake(), [maskedFrame(0, 'x')]);
        assert.equal(closeCodeOf(r.data), 1002);
        await echoWorks(srv.port);
    });

    test('permessage-deflate is not accepted without --deflate', async () => {
        const r = await rawSession(srv.port,
            handshake('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'),
            [], { untilHead: true });
        const head = r.data.toString('latin1');
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.doesNotMatch(head, /Sec-WebSocket-Extensions/i);
        assert.doesNotMatch(head, /Sec-WebSocket-Protocol/i);
    });

    // Whether b's echo overtakes a's burst is decided by the client's own read order as
    // much as by the server, so this end-to-end test asserts completeness and order only;
    // the interleaving is asserted inside the server by tests/unit/ws/test_ws_loopback.c.
    test('a 10 000-message burst is echoed in order while another client is served',
        async () => {
            const N = 10000;
            const a = net.connect({ host: '127.0.0.1', port: srv.port });
            await once(a, 'connect');
            a.write(handshake());
            let buf = Buffer.alloc(0);
            await new Promise((resolve) => {
                const onHead = (c) => {
                    buf = Buffer.concat([buf, c]);
                    const i = buf.indexOf('\r\n\r\n');
                    if (i < 0) return;
                    assert.match(buf.toString('latin1', 0, i), /^HTTP\/1\.1 101 /);
                    buf = buf.subarray(i + 4);
                    a.off('data', onHead);
                    resolve();
                };
                a.on('data', onHead);
            });
            const b = await connect(srv.port);
            let echoes = 0;
            let inOrder = true;
            const allA = new Promise((resolve) => {
                const parse = () => {
                    while (buf.length >= 2) {
                        const len = buf[1] & 0x7f;
                        assert.ok(len < 126 && (buf[0] & 0x0f) === 1, 'a short text frame');
                        if (buf.length < 2 + len) break;
                        if (buf.toString('latin1', 2, 2 + len) !== `a${echoes}`) inOrder = false;
                        echoes++;
                        buf = buf.subarray(2 + len);
                    }
                    if (echoes === N) resolve();
                };
                a.on('data', (c) => { buf = Buffer.concat([buf, c]); parse(); });
            });
            const bEcho = nextMessage(b, 20000);
            a.write(Buffer.concat(Array.from({ length: N }, (_, i) => maskedFrame(1, `a${i}`))));
            b.send('b');
            const m = await bEcho;
            await allA;
            assert.equal(m.data.toString(), 'b');
            assert.ok(inOrder, 'every echo of the burst, in order');
            assert.equal(echoes, N, 'every message of the burst came back');
            a.destroy();
            await closeWs(b);
            await echoWorks(srv.port);
        });

    test('many clients at once', async () => {
        const clients = await Promise.all(Array.from({ length: 50 }, () => connect(srv.port)));
        const got = clients.map((ws, i) => {
            const p = nextMessage(ws);
            ws.send(`client ${i}`);
            return p;
        });
        const msgs = await Promise.all(got);
        msgs.forEach((m, i) => assert.equal(m.data.toString(), `client ${i}`));
        await Promise.all(clients.map(closeWs));
    });
});

describe('ws-echo --deflate', () => {
    let srv;
    before(async () => { srv = await startServer(['--deflate']); });
    after(async () => {
        const r = await srv.stop();
        assert.equal(r.code, 0);
        assert.doesNotMatch(srv.stderr(), SANITIZER);
    });

    test('negotiates permessage-deflate with the ws client and echoes', async () => {
        const ws = await connect(srv.port);
        assert.match(ws.extensions, /permessage-deflate/);
        const text = 'compress me please, '.repeat(5000);
        ws.send(text);
        assert.equal((await nextMessage(ws)).data.toString(), text);
        const bin = crypto.randomBytes(10000);
        ws.send(bin);
        assert.ok(Buffer.from((await nextMessage(ws)).data).equals(bin));
        ws.send('tiny');
        assert.equal((await nextMessage(ws)).data.toString(), 'tiny');
        await closeWs(ws);
    });

    test('no context takeover both ways', async () => {
        const ws = await connect(srv.port, {
            perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true },
        });
        assert.match(ws.extensions, /permessage-deflate/);
        for (let i = 0; i < 3; i++) {
            const text = `round ${i} `.repeat(1000);
            ws.send(text);
            assert.equal((await nextMessage(ws)).data.toString(), text);
        }
        await closeWs(ws);
    });

    test('the 101 echoes the agreed parameters', async () => {
        const r = await rawSession(srv.port, handshake('Sec-WebSocket-Extensions: ' +
            'permessage-deflate; server_max_window_bits=8, permessage-deflate; ' +
            'server_no_context_takeover; server_max_window_bits=10; client_max_window_bits\r\n'),
            [], { untilHead: true });
        const head = r.data.toString('latin1');
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.match(head, /\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n/);
    });

    test('a client without the extension still works', async () => {
        const ws = await connect(srv.port, { perMessageDeflate: false });
        assert.equal(ws.extensions, '');
        ws.send('plain');
        assert.equal((await nextMessage(ws)).data.toString(), 'plain');
        await closeWs(ws);
    });
});

describe('ws-echo hosts', () => {
    test('::1 and localhost', async () => {
        for (const host of ['::1', 'localhost']) {
            const srv = await startServer(['--host', host]);
            const url = host === '::1' ? `ws://[::1]:${srv.port}/` : `ws://localhost:${srv.port}/`;
            const ws = await new Promise((resolve, reject) => {
                const w = new WebSocket(url);
                w.once('open', () => resolve(w));
                w.once('error', reject);
            });
            ws.send(host);
            assert.equal((await nextMessage(ws)).data.toString(), host);
            await closeWs(ws);
            const r = await srv.stop();
            assert.equal(r.code, 0);
            assert.doesNotMatch(srv.stderr(), SANITIZER);
        }
    });

    test('SIGTERM with open connections exits 0 within 5 s', async () => {
        const srv = await startServer();
        const clients = await Promise.all(Array.from({ length: 5 }, () => connect(srv.port)));
        const closes = clients.map((ws) => new Promise((r) => ws.once('close', (c) => r(c))));
        const r = await srv.stop();
        assert.equal(r.code, 0);
        assert.ok(r.ms < 5000);
        const codes = await Promise.all(closes);
        codes.forEach((c) => assert.ok(c === 1001 || c === 1006, `close code ${c}`));
        assert.doesNotMatch(srv.stderr(), SANITIZER);
    });
});
