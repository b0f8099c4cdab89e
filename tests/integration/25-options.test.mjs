// Server options of build/echo-server: --cors, --transports allow-lists, --path, and
// --host ::1 / localhost. Each group starts its own server with the flag under test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { serverFixture } from './lib/server.mjs';
import { eioUrl, pollHandshake, pollPost, request } from './lib/http.mjs';
import { RawWs, rawEioWs } from './lib/rawws.mjs';
import { sioClient, sioConnect, track, whenConnected } from './lib/sio.mjs';
import { once, waitUntil } from './lib/util.mjs';

const ORIGIN = 'http://example.com';

function corsHeaders(res) {
    return Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
}

describe('CORS: --cors http://example.com', () => {
    const fx = serverFixture({ args: ['--cors', ORIGIN] });
    const hs = { EIO: '4', transport: 'polling' };

    it('the handshake carries Access-Control-Allow-Origin', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, hs), { headers: { Origin: ORIGIN } });
        assert.equal(res.status, 200);
        assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
        assert.match(res.headers.vary ?? '', /origin/i);
    });

    it('POST and GET of a session carry it too', async () => {
        const srv = await fx.get();
        const { open } = await pollHandshake(srv, { headers: { Origin: ORIGIN } });
        const post = await pollPost(srv, open.sid, '40', { headers: { Origin: ORIGIN } });
        assert.equal(post.text, 'ok');
        assert.equal(post.headers['access-control-allow-origin'], ORIGIN);
        const get = await request(eioUrl(srv, { ...hs, sid: open.sid }),
            { headers: { Origin: ORIGIN } });
        assert.match(get.text, /^40/);
        assert.equal(get.headers['access-control-allow-origin'], ORIGIN);
    });

    it('error responses carry it (400 unknown transport, 400 unknown sid)', async () => {
        const srv = await fx.get();
        for (const q of [{ EIO: '4', transport: 'nope' }, { ...hs, sid: 'unknown-sid-123' }]) {
            const res = await request(eioUrl(srv, q), { headers: { Origin: ORIGIN } });
            assert.equal(res.status, 400);
            assert.equal(res.headers['access-control-allow-origin'], ORIGIN, JSON.stringify(q));
        }
    });

    it('OPTIONS preflight -> 204 with the allow headers', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, hs), { method: 'OPTIONS', headers: {
            Origin: ORIGIN,
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type',
        } });
        assert.equal(res.status, 204);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
        const methods = (res.headers['access-control-allow-methods'] ?? '').split(/\s*,\s*/);
        assert.ok(methods.includes('GET') && methods.includes('POST'), methods.join());
        assert.match(res.headers['access-control-allow-headers'] ?? '', /content-type/i);
    });

    it('the WebSocket 101 carries it', async (t) => {
        const srv = await fx.get();
        const ws = await RawWs.connect(srv.host, srv.port,
            `${srv.path}?EIO=4&transport=websocket`, { headers: { Origin: ORIGIN } });
        track(t, ws, (w) => w.destroy());
        assert.equal(ws.status, 101);
        assert.equal(ws.headers['access-control-allow-origin'], ORIGIN);
    });

    it('another origin is never reflected', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, hs), { headers: { Origin: 'http://evil.com' } });
        const acao = res.headers['access-control-allow-origin'];
        // A fixed origin is sent as is (Node); an allow-list omits it: both keep evil out.
        assert.ok(acao === undefined || acao === ORIGIN, `ACAO ${acao}`);
    });

    it('socket.io-client connects with an Origin header (extraHeaders)', async (t) => {
        const srv = await fx.get();
        const { socket } = await sioConnect(t, srv, { extraHeaders: { Origin: ORIGIN } });
        assert.equal(await socket.timeout(2000).emitWithAck('echo', 'cors'), 'cors');
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('CORS: --cors "*"', () => {
    const fx = serverFixture({ args: ['--cors', '*'] });

    it('Access-Control-Allow-Origin: * (or the reflected origin)', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, { EIO: '4', transport: 'polling' }),
            { headers: { Origin: 'http://any.example' } });
        assert.ok(['*', 'http://any.example'].includes(res.headers['access-control-allow-origin']));
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('CORS: off by default', () => {
    const fx = serverFixture();

    it('no Access-Control-* headers on handshake, errors and 101', async (t) => {
        const srv = await fx.get();
        const opts = { headers: { Origin: ORIGIN } };
        const ok = await request(eioUrl(srv, { EIO: '4', transport: 'polling' }), opts);
        assert.equal(ok.status, 200);
        assert.deepEqual(corsHeaders(ok), []);
        const bad = await request(eioUrl(srv, { EIO: '4', transport: 'nope' }), opts);
        assert.equal(bad.status, 400);
        assert.deepEqual(corsHeaders(bad), []);
        const ws = await RawWs.connect(srv.host, srv.port,
            `${srv.path}?EIO=4&transport=websocket`, opts);
        track(t, ws, (w) => w.destroy());
        assert.equal(ws.status, 101);
        assert.deepEqual(Object.keys(ws.headers).filter((h) => h.startsWith('access-control-')),
            []);
    });

    it('OPTIONS without CORS is just a bad Engine.IO request (400 code 2)', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, { EIO: '4', transport: 'polling' }),
            { method: 'OPTIONS', headers: { Origin: ORIGIN,
                'Access-Control-Request-Method': 'POST' } });
        assert.equal(res.status, 400);
        assert.deepEqual(JSON.parse(res.text), { code: 2, message: 'Bad handshake method' });
        assert.deepEqual(corsHeaders(res), []);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--transports websocket', () => {
    const fx = serverFixture({ args: ['--transports', 'websocket'] });

    it('a polling handshake -> 400 code 0', async () => {
        const srv = await fx.get();
        const res = await request(eioUrl(srv, { EIO: '4', transport: 'polling' }));
        assert.equal(res.status, 400);
        assert.deepEqual(JSON.parse(res.text), { code: 0, message: 'Transport unknown' });
    });

    it('a websocket handshake works and advertises upgrades []', async (t) => {
        const srv = await fx.get();
        const { ws, open } = await rawEioWs(srv);
        track(t, ws, (w) => w.destroy());
        assert.deepEqual(open.upgrades, []);
    });

    it('socket.io-client with transports [websocket] works; polling-only fails', async (t) => {
        const srv = await fx.get();
        const { socket } = await sioConnect(t, srv, { transports: ['websocket'] });
        assert.equal(await socket.timeout(2000).emitWithAck('echo', 1), 1);
        const polling = sioClient(t, srv, '/', { transports: ['polling'] });
        const [err] = await once(polling, 'connect_error');
        assert.match(err.message, /xhr poll error/);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--transports polling', () => {
    const fx = serverFixture({ args: ['--transports', 'polling'] });

    it('the polling handshake advertises upgrades []', async () => {
        const { open } = await pollHandshake(await fx.get());
        assert.deepEqual(open.upgrades, []);
    });

    it('a websocket upgrade (with or without sid) -> 400 Transport unknown', async (t) => {
        const srv = await fx.get();
        const { open } = await pollHandshake(srv);
        for (const q of ['', `&sid=${open.sid}`]) {
            const ws = await RawWs.connect(srv.host, srv.port,
                `${srv.path}?EIO=4&transport=websocket${q}`);
            track(t, ws, (w) => w.destroy());
            assert.equal(ws.status, 400, ws.head);
            // Content-Length, chunked (Node answers like any HTTP request) or TCP close.
            const length = Number(ws.headers['content-length'] ?? Infinity);
            await waitUntil(() => ws.tcpClosed || ws.leftover.length >= length
                || /(^|\r\n)0\r\n\r\n$/.test(ws.leftover.toString()),
            { what: 'the refusal body' });
            const body = ws.leftover.toString();
            assert.ok(body === 'Transport unknown' || /"code":0/.test(body), `body: ${body}`);
        }
    });

    it('socket.io-client stays on polling and works', async (t) => {
        const srv = await fx.get();
        const { socket } = await sioConnect(t, srv, { transports: ['polling', 'websocket'] });
        assert.equal(await socket.timeout(2000).emitWithAck('echo', 'p'), 'p');
        assert.equal(socket.io.engine.transport.name, 'polling');
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--path /custom-path/', () => {
    const fx = serverFixture({ args: ['--path', '/custom-path/'] });

    it('socket.io-client connects at the custom path', async (t) => {
        const srv = await fx.get();
        assert.equal(srv.path, '/custom-path/');
        const { socket, events } = await sioConnect(t, srv, { auth: { p: 1 } });
        assert.deepEqual((await events.auth.next())[0], { p: 1 });
        assert.equal(await socket.timeout(2000).emitWithAck('echo', 'path'), 'path');
    });

    it('the default path is not served', async () => {
        const srv = await fx.get();
        const res = await request(`${srv.url}/socket.io/?EIO=4&transport=polling`);
        assert.ok([400, 404].includes(res.status), `status ${res.status}`);
        assert.doesNotMatch(res.text, /^0\{/);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--host ::1', () => {
    const fx = serverFixture({ args: ['--host', '::1'] });

    it('serves socket.io-client on [::1]', async (t) => {
        const srv = await fx.get();
        assert.equal(srv.host, '::1');
        const { socket } = await sioConnect(t, srv);
        assert.equal(await socket.timeout(2000).emitWithAck('echo', 'v6'), 'v6');
    });

    it('does not listen on 127.0.0.1', async () => {
        const srv = await fx.get();
        const err = await request(`http://127.0.0.1:${srv.port}${srv.path}?EIO=4&transport=polling`)
            .then(() => null, (e) => e);
        assert.ok(err, 'the IPv4 loopback must not answer');
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--host localhost', () => {
    const fx = serverFixture({ args: ['--host', 'localhost'] });

    it('answers on both 127.0.0.1 and ::1 with the same port', async (t) => {
        const srv = await fx.get();
        for (const h of ['127.0.0.1', '[::1]', 'localhost']) {
            const url = `http://${h}:${srv.port}`;
            const { open } = await pollHandshake({ url, path: srv.path });
            assert.equal(typeof open.sid, 'string', h);
            const socket = sioClient(t, { url, path: srv.path }, '/');
            await whenConnected(socket);
            assert.equal(await socket.timeout(2000).emitWithAck('echo', h), h);
        }
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('--deflate (permessage-deflate)', () => {
    const fx = serverFixture({ args: ['--deflate'] });

    it('is negotiated when offered and messages round-trip compressed', async (t) => {
        const srv = await fx.get();
        const ws = await RawWs.connect(srv.host, srv.port,
            `${srv.path}?EIO=4&transport=websocket`, { headers: {
                'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
        track(t, ws, (w) => w.destroy());
        assert.equal(ws.status, 101);
        assert.match(ws.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
        // The open packet, compressed (RSV1) or not; the first message needs no context.
        const f = await ws.frames.next();
        const open = f.rsv & 4
            ? zlib.inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]),
                { finishFlush: zlib.constants.Z_SYNC_FLUSH })
            : f.payload;
        assert.match(open.toString(), /^0\{"sid"/);
        const { socket } = await sioConnect(t, srv, { transports: ['websocket'] });
        const big = 'deflate me '.repeat(20000);
        assert.equal(await socket.timeout(3000).emitWithAck('echo', big), big);
        const bin = Buffer.alloc(50000, 3);
        assert.ok(Buffer.from(await socket.timeout(3000).emitWithAck('echo', bin)).equals(bin));
    });

    it('a client that does not offer it gets plain frames', async (t) => {
        const srv = await fx.get();
        const { ws } = await rawEioWs(srv);
        track(t, ws, (w) => w.destroy());
        assert.equal(ws.headers['sec-websocket-extensions'], undefined);
        ws.sendText('40');
        const f = await ws.frames.next();
        assert.equal(f.rsv, 0, 'no compressed frames without the extension');
        assert.match(f.payload.toString(), /^40\{/);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
