// The checks of the official Socket.IO protocol test suite (spec §4), reproduced with raw
// WebSocket frames and raw HTTP polling against build/echo-server started like the suite's
// server: pingInterval 300, pingTimeout 200, connectTimeout 1000, cors *.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { serverFixture } from './lib/server.mjs';
import { decodePayload, eioUrl, pollGet, pollHandshake, pollPost, request, RS }
    from './lib/http.mjs';
import { rawEioWs } from './lib/rawws.mjs';
import { track } from './lib/sio.mjs';

const SUITE_ARGS = ['--ping-interval', '300', '--ping-timeout', '200',
    '--connect-timeout', '1000', '--cors', '*'];
const SID_REPLY = /^\{"sid":"[A-Za-z0-9_-]+"\}$/;

/** A raw Engine.IO websocket that answers pings itself; `next()` skips them. */
async function openWs(t, srv) {
    const { ws, open } = await rawEioWs(srv);
    track(t, ws, (w) => w.destroy());
    ws.pings = 0;
    ws.next = async (timeout = 2000) => {
        const end = Date.now() + timeout;
        for (;;) {
            const m = await ws.nextMessage(Math.max(1, end - Date.now()));
            if (m !== '2') return m;
            ws.pings++;
            ws.sendText('3');
        }
    };
    return { ws, open };
}

/** Sends CONNECT for nsp and checks the reply and the auth event. */
async function wsConnect(ws, nsp, auth) {
    const prefix = nsp === '/' ? '' : `${nsp},`;
    ws.sendText(`40${prefix}${auth === undefined ? '' : JSON.stringify(auth)}`);
    const reply = await ws.next();
    assert.ok(reply.startsWith(`40${prefix}`), `CONNECT reply ${reply}`);
    const body = reply.slice(2 + prefix.length);
    assert.match(body, SID_REPLY, 'CONNECT reply has exactly the key sid');
    assert.equal(await ws.next(), `42${prefix}["auth",${JSON.stringify(auth ?? {})}]`);
    return JSON.parse(body).sid;
}

/** A polling session: post() and a get() that answers pings and returns the rest. */
async function openPoll(srv) {
    const { open } = await pollHandshake(srv);
    const s = { sid: open.sid, open, queue: [] };
    s.post = async (body) => {
        const res = await pollPost(srv, s.sid, body);
        assert.equal(res.text, 'ok', `POST ${body}: ${res.status} ${res.text}`);
    };
    s.next = async () => {
        while (s.queue.length === 0) {
            const res = await pollGet(srv, s.sid);
            assert.equal(res.status, 200, `GET: ${res.status} ${res.text}`);
            for (const p of decodePayload(res.text)) {
                if (p === '2') await s.post('3');
                else s.queue.push(p);
            }
        }
        return s.queue.shift();
    };
    return s;
}

describe('Socket.IO conformance, raw (suite server flags)', () => {
    const fx = serverFixture({ args: SUITE_ARGS });

    describe('Engine.IO part', () => {
        it('polling handshake: five keys, 300/200/1e6, upgrades [websocket]', async () => {
            const { res, open } = await pollHandshake(await fx.get());
            assert.equal(res.status, 200);
            assert.deepEqual(Object.keys(open).sort(),
                ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
            assert.deepEqual([open.pingInterval, open.pingTimeout, open.maxPayload],
                [300, 200, 1000000]);
            assert.deepEqual(open.upgrades, ['websocket']);
        });

        it('websocket handshake: correct Sec-WebSocket-Accept, upgrades []', async (t) => {
            const srv = await fx.get();
            const { ws, open } = await openWs(t, srv);
            const accept = crypto.createHash('sha1')
                .update(`${ws.key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
            assert.equal(ws.headers['sec-websocket-accept'], accept);
            assert.match(ws.headers.upgrade, /^websocket$/i);
            assert.deepEqual(open.upgrades, []);
        });

        it('400 for bad EIO, bad transport, POST handshake, unknown sid', async () => {
            const srv = await fx.get();
            const cases = [
                [{ transport: 'polling' }, 'GET', 5],
                [{ EIO: 'abc', transport: 'polling' }, 'GET', 5],
                [{ EIO: '4' }, 'GET', 0],
                [{ EIO: '4', transport: 'abc' }, 'GET', 0],
                [{ EIO: '4', transport: 'polling' }, 'POST', 2],
                [{ EIO: '4', transport: 'polling', sid: 'nope' }, 'GET', 1],
            ];
            for (const [q, method, code] of cases) {
                const res = await request(eioUrl(srv, q), { method,
                    body: method === 'POST' ? '' : undefined });
                assert.equal(res.status, 400, JSON.stringify(q));
                assert.equal(JSON.parse(res.text).code, code, JSON.stringify(q));
            }
        });

        it('echo through the socket.io server needs a namespace: 4hello alone is a parse error',
            async (t) => {
                // Socket.IO reads every message as a Socket.IO packet: "hello" is not one.
                const srv = await fx.get();
                const { ws } = await openWs(t, srv);
                ws.sendText('4hello');
                await ws.waitEnded(1500);
            });
    });

    describe('connect', () => {
        it('websocket: CONNECT / without auth -> sid reply, then auth {}', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
        });

        it('websocket: CONNECT / with auth', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/', { token: '123' });
        });

        it('websocket: CONNECT /custom with and without auth', async (t) => {
            const srv = await fx.get();
            const a = await openWs(t, srv);
            await wsConnect(a.ws, '/custom');
            const b = await openWs(t, srv);
            await wsConnect(b.ws, '/custom', { token: 'abc' });
        });

        it('websocket: 40/custom without the trailing comma is valid', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            ws.sendText('40/custom');
            assert.match(await ws.next(), /^40\/custom,\{"sid":"[^"]+"\}$/);
            assert.equal(await ws.next(), '42/custom,["auth",{}]');
        });

        it('websocket: the socket id is not the Engine.IO sid', async (t) => {
            const { ws, open } = await openWs(t, await fx.get());
            const id = await wsConnect(ws, '/');
            assert.notEqual(id, open.sid);
        });

        it('websocket: 40/random -> 44/random,{"message":"Invalid namespace"}', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            ws.sendText('40/random,');
            assert.equal(await ws.next(), '44/random,{"message":"Invalid namespace"}');
            // The connection stays open: / can still be joined.
            await wsConnect(ws, '/');
        });

        it('polling: CONNECT / then /custom with auth', async () => {
            const s = await openPoll(await fx.get());
            await s.post('40');
            assert.match(await s.next(), /^40\{"sid":"[^"]+"\}$/);
            assert.equal(await s.next(), '42["auth",{}]');
            await s.post('40/custom,{"token":"abc"}');
            assert.match(await s.next(), /^40\/custom,\{"sid":"[^"]+"\}$/);
            assert.equal(await s.next(), '42/custom,["auth",{"token":"abc"}]');
        });

        it('polling: 40/random -> 44/random,{"message":"Invalid namespace"}', async () => {
            const s = await openPoll(await fx.get());
            await s.post('40/random,');
            assert.equal(await s.next(), '44/random,{"message":"Invalid namespace"}');
        });

        it('no CONNECT within connectTimeout (1000 ms) -> closed', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            const t0 = Date.now();
            // Answer pings so that only the connect timeout can close it.
            await assert.rejects(ws.next(3000), /closed|close frame/);
            const elapsed = Date.now() - t0;
            assert.ok(elapsed >= 800 && elapsed < 2500, `closed after ${elapsed} ms`);
            assert.ok(ws.pings >= 2, 'pings were answered meanwhile');
        });

        it('41 after 40: the next frame is the ping and the connection stays open',
            async (t) => {
                const { ws } = await openWs(t, await fx.get());
                await wsConnect(ws, '/');
                ws.sendText('41');
                assert.equal(await ws.nextMessage(1000), '2');
                ws.sendText('3');
                // Zero namespaces now, but the connect timeout is cancelled for good: for
                // 1200 ms (> connectTimeout) only pings arrive, and they are answered.
                await assert.rejects(ws.next(1200), /timed out/);
                assert.equal(ws.tcpClosed, false);
                await wsConnect(ws, '/');
            });

        it('connect then disconnect /custom; events on / still work', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
            await wsConnect(ws, '/custom');
            ws.sendText('41/custom,');
            ws.sendText('42["message","after"]');
            assert.equal(await ws.next(), '42["message-back","after"]');
        });
    });

    describe('events and acks', () => {
        it('websocket: message -> message-back, same JSON arguments', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
            ws.sendText('42["message",1,"2",{"3":[true]}]');
            assert.equal(await ws.next(), '42["message-back",1,"2",{"3":[true]}]');
        });

        it('websocket: message with two binary attachments -> message-back with two',
            async (t) => {
                const { ws } = await openWs(t, await fx.get());
                await wsConnect(ws, '/');
                ws.sendText('452-["message",{"_placeholder":true,"num":0},'
                    + '{"_placeholder":true,"num":1}]');
                ws.sendBinary(Buffer.from([1, 2, 3]));
                ws.sendBinary(Buffer.from([4, 5, 6]));
                assert.equal(await ws.next(), '452-["message-back",{"_placeholder":true,"num":0},'
                    + '{"_placeholder":true,"num":1}]');
                assert.deepEqual(await ws.next(), Buffer.from([1, 2, 3]));
                assert.deepEqual(await ws.next(), Buffer.from([4, 5, 6]));
            });

        it('websocket: message-with-ack -> 43456[...]', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
            ws.sendText('42456["message-with-ack",1,"2",{"3":[false]}]');
            assert.equal(await ws.next(), '43456[1,"2",{"3":[false]}]');
        });

        it('websocket: binary message-with-ack -> 462-789[...] + two attachments', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
            ws.sendText('452-789["message-with-ack",{"_placeholder":true,"num":0},'
                + '{"_placeholder":true,"num":1}]');
            ws.sendBinary(Buffer.from([1, 2, 3]));
            ws.sendBinary(Buffer.from([4, 5, 6]));
            assert.equal(await ws.next(),
                '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
            assert.deepEqual(await ws.next(), Buffer.from([1, 2, 3]));
            assert.deepEqual(await ws.next(), Buffer.from([4, 5, 6]));
        });

        it('polling: message-back and acks, binary as b+base64', async () => {
            const s = await openPoll(await fx.get());
            await s.post('40');
            await s.next();
            await s.next();
            await s.post('42["message",1,"2",{"3":[true]}]');
            assert.equal(await s.next(), '42["message-back",1,"2",{"3":[true]}]');
            await s.post('42456["message-with-ack",1,"2",{"3":[false]}]');
            assert.equal(await s.next(), '43456[1,"2",{"3":[false]}]');
            await s.post(['452-789["message-with-ack",{"_placeholder":true,"num":0},'
                + '{"_placeholder":true,"num":1}]', 'bAQID', 'bBAUG'].join(RS));
            assert.equal(await s.next(),
                '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
            assert.equal(await s.next(), 'bAQID');
            assert.equal(await s.next(), 'bBAUG');
        });

        it('polling: an event split over two POSTs (text then its attachment)', async () => {
            const s = await openPoll(await fx.get());
            await s.post('40');
            await s.next();
            await s.next();
            await s.post('451-["message",{"_placeholder":true,"num":0}]');
            await s.post('bAQID');
            assert.equal(await s.next(), '451-["message-back",{"_placeholder":true,"num":0}]');
            assert.equal(await s.next(), 'bAQID');
        });

        it('an event on /custom (no handlers there) is ignored, / still answers', async (t) => {
            const { ws } = await openWs(t, await fx.get());
            await wsConnect(ws, '/');
            await wsConnect(ws, '/custom');
            ws.sendText('42/custom,["message","x"]');
            ws.sendText('421["echo","y"]');
            assert.equal(await ws.next(), '431["y"]');
        });
    });

    describe('invalid packets close the connection', () => {
        const closing = [
            ['4abc', 'unknown Socket.IO packet type'],
            ['49', 'packet type 9'],
            ['42{}', 'EVENT payload not an array'],
            ['42abc["message"]', 'invalid JSON after the header'],
            ['42[]', 'EVENT with an empty array'],
            ['42["connect"]', 'reserved event name'],
            ['42[true]', 'event name not a string'],
            ['41{}', 'DISCONNECT with a payload'],
            ['44{"message":"x"}', 'CONNECT_ERROR from a client'],
            ['42/custom,["message"]', 'EVENT on a namespace not joined'],
            ['40', 'a second CONNECT to /'],
            ['4511-["message"]', 'more than 10 attachments'],
            ['45x-["message"]', 'bad attachment count'],
            ['42["message"', 'truncated JSON'],
        ];
        for (const [packet, why] of closing) {
            it(`${packet} (${why})`, async (t) => {
                const { ws } = await openWs(t, await fx.get());
                await wsConnect(ws, '/');
                ws.sendText(packet);
                await ws.waitEnded(1500);
            });
        }

        it('polling: 4abc closes the session', async () => {
            const srv = await fx.get();
            const s = await openPoll(srv);
            await s.post('40');
            await s.next();
            await s.next();
            await pollPost(srv, s.sid, '4abc').catch(() => null);
            const res = await pollGet(srv, s.sid);
            // Closed: either the sid is gone (400) or the pending close packet comes first.
            assert.ok(res.status === 400 || /(^|\x1e)1$/.test(res.text),
                `${res.status} ${res.text}`);
        });
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
