// Raw bad input against build/echo-server: garbage HTTP, bad Upgrade requests, broken
// WebSocket frames (unmasked 1002, oversize 1009, invalid UTF-8 1007, protocol errors
// 1002), unknown sids, bad packet types, truncated binary attachments. Each case gets the
// right HTTP status or close code, and after each a fresh client is still served.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture } from './lib/server.mjs';
import { pollGet, pollHandshake, pollPost, rawExchange } from './lib/http.mjs';
import { OP, RawWs, encodeFrame, rawEioWs } from './lib/rawws.mjs';
import { sioConnect, track } from './lib/sio.mjs';

/** A fresh socket.io-client (websocket, then polling) still gets its echo. */
async function stillServes(t, srv) {
    for (const transports of [['websocket'], ['polling']]) {
        const { socket } = await sioConnect(t, srv, { transports });
        assert.equal(await socket.timeout(3000).emitWithAck('echo', 'ok'), 'ok');
        socket.disconnect();
    }
}

/** An Engine.IO websocket joined to `/` (CONNECT reply and auth consumed). */
async function joinedWs(t, srv) {
    const { ws } = await rawEioWs(srv);
    track(t, ws, (w) => w.destroy());
    ws.sendText('40');
    assert.match(await ws.nextMessage(), /^40\{/);
    assert.equal(await ws.nextMessage(), '42["auth",{}]');
    return ws;
}

function upgradeHead(srv, path, headers) {
    return [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${srv.port}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
}

const WS_PATH = '/socket.io/?EIO=4&transport=websocket';
const GOOD_UPGRADE = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
};

describe('bad input on the wire', () => {
    const fx = serverFixture();

    describe('HTTP', () => {
        const garbage = [
            ['a garbage request line', 'GARBAGE\r\n\r\n'],
            ['binary noise', Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10])],
            ['a bad header line', 'GET /socket.io/ HTTP/1.1\r\nNo colon here\r\n\r\n'],
            ['a bad HTTP version', 'GET /socket.io/?EIO=4&transport=polling HTTP/9.9\r\n\r\n'],
            ['a bad Content-Length', 'POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n'
                + 'Host: x\r\nContent-Length: abc\r\n\r\n'],
        ];
        for (const [name, bytes] of garbage) {
            it(`${name} -> 400 and the connection is closed`, async (t) => {
                const srv = await fx.get();
                const r = await rawExchange(srv.host, srv.port, bytes);
                assert.equal(r.status, 400, r.text.slice(0, 200));
                assert.equal(r.closed, true, 'connection closed after the 400');
                await stillServes(t, srv);
            });
        }

        it('oversize request headers -> 431 or 400, then closed', async (t) => {
            const srv = await fx.get();
            const big = `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n`
                + `X-Big: ${'a'.repeat(70000)}\r\n\r\n`;
            const r = await rawExchange(srv.host, srv.port, big);
            assert.ok([400, 431].includes(r.status), `status ${r.status}`);
            assert.equal(r.closed, true);
            await stillServes(t, srv);
        });

        it('a connection closed mid-request does no harm', async (t) => {
            const srv = await fx.get();
            const r = await rawExchange(srv.host, srv.port,
                'POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nContent-Length: 100'
                + '\r\n\r\nabc', { timeout: 200, endAfterWrite: true });
            assert.ok(r.status === null || r.status >= 400);
            await stillServes(t, srv);
        });

        it('two pipelined requests get two responses, in order', async () => {
            const srv = await fx.get();
            const req = 'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n'
                + 'GET /socket.io/?EIO=4&transport=nope HTTP/1.1\r\nHost: x\r\n'
                + 'Connection: close\r\n\r\n';
            const r = await rawExchange(srv.host, srv.port, req);
            const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
            assert.deepEqual(statuses, ['200', '400']);
            assert.match(r.text, /0\{"sid"/);
            assert.match(r.text, /"code":0/);
        });

        it('a chunked POST body is accepted', async () => {
            const srv = await fx.get();
            const { open } = await pollHandshake(srv);
            const body = '40';
            const req = `POST /socket.io/?EIO=4&transport=polling&sid=${open.sid} HTTP/1.1\r\n`
                + 'Host: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n'
                + `Connection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
            const r = await rawExchange(srv.host, srv.port, req);
            assert.equal(r.status, 200, r.text);
            assert.match(r.text, /\r\n\r\nok$/);
            assert.match((await pollGet(srv, open.sid)).text, /^40\{"sid"/);
        });

        it('a bad percent-encoding in the query is refused, not crashed on', async (t) => {
            const srv = await fx.get();
            const r = await rawExchange(srv.host, srv.port,
                'GET /socket.io/?EIO=4&transport=polling&sid=%zz%%41 HTTP/1.1\r\nHost: x\r\n'
                + 'Connection: close\r\n\r\n');
            assert.equal(r.status, 400);
            await stillServes(t, srv);
        });
    });

    describe('WebSocket upgrade', () => {
        const bad = [
            ['no Sec-WebSocket-Key', { ...GOOD_UPGRADE, 'Sec-WebSocket-Key': undefined }],
            ['a key that is not 16 bytes', { ...GOOD_UPGRADE, 'Sec-WebSocket-Key': 'abc' }],
            ['Sec-WebSocket-Version 12', { ...GOOD_UPGRADE, 'Sec-WebSocket-Version': '12' }],
            ['Upgrade: foo', { ...GOOD_UPGRADE, Upgrade: 'foo' }],
        ];
        for (const [name, headers] of bad) {
            it(`${name} -> refused (400/426), no 101`, async (t) => {
                const srv = await fx.get();
                const h = Object.fromEntries(Object.entries(headers)
                    .filter(([, v]) => v !== undefined));
                const ws = await RawWs.connect(srv.host, srv.port, WS_PATH,
                    { rawHead: upgradeHead(srv, WS_PATH, h) });
                track(t, ws, (w) => w.destroy());
                assert.ok([400, 426].includes(ws.status), ws.head);
                await stillServes(t, srv);
            });
        }

        it('an unknown sid -> HTTP 400 and no upgrade', async (t) => {
            const srv = await fx.get();
            const ws = await RawWs.connect(srv.host, srv.port, `${WS_PATH}&sid=unknown-sid`);
            track(t, ws, (w) => w.destroy());
            assert.equal(ws.status, 400);
            await ws.waitTcpClose(2000);
            await stillServes(t, srv);
        });
    });

    describe('WebSocket frames', () => {
        const cases = [
            ['an unmasked client frame', 1002,
                (ws) => ws.sendFrame(OP.TEXT, '42["echo"]', { mask: false })],
            ['an oversize frame (2 MB declared, max 1e6)', 1009,
                (ws) => ws.write(encodeFrame(OP.BINARY, Buffer.alloc(64), { len: 2000000 }))],
            ['invalid UTF-8 in a text frame', 1007,
                (ws) => ws.sendFrame(OP.TEXT, Buffer.from([0x34, 0x32, 0xc3, 0x28]))],
            ['invalid UTF-8 split over fragments', 1007, (ws) => {
                ws.sendFrame(OP.TEXT, Buffer.from([0x34, 0xe2, 0x82]), { fin: false });
                ws.sendFrame(OP.CONT, Buffer.from([0x41]));
            }],
            ['RSV1 set without an extension', 1002,
                (ws) => ws.sendFrame(OP.TEXT, '3', { rsv: 4 })],
            ['an unknown opcode', 1002, (ws) => ws.sendFrame(3, 'x')],
            ['a fragmented ping', 1002, (ws) => ws.sendFrame(OP.PING, 'p', { fin: false })],
            ['a 126-byte ping', 1002, (ws) => ws.sendFrame(OP.PING, Buffer.alloc(126))],
            ['a continuation without a start', 1002, (ws) => ws.sendFrame(OP.CONT, 'x')],
            ['a new text frame inside a fragmented message', 1002, (ws) => {
                ws.sendFrame(OP.TEXT, '42', { fin: false });
                ws.sendFrame(OP.TEXT, '["x"]');
            }],
            ['a close frame with a 1-byte payload', 1002,
                (ws) => ws.sendFrame(OP.CLOSE, Buffer.from([3]))],
            ['a close frame with code 1005', 1002,
                (ws) => ws.sendFrame(OP.CLOSE, Buffer.from([0x03, 0xed]))],
        ];
        for (const [name, code, send] of cases) {
            it(`${name} -> close ${code}`, async (t) => {
                const srv = await fx.get();
                const ws = await joinedWs(t, srv);
                send(ws);
                const got = await ws.waitEnded(3000);
                assert.equal(got, code);
                await stillServes(t, srv);
            });
        }

        it('a ping frame is answered with a pong carrying the same payload', async (t) => {
            const srv = await fx.get();
            const ws = await joinedWs(t, srv);
            ws.sendFrame(OP.PING, 'hello-ping');
            const f = await ws.frames.next();
            assert.equal(f.opcode, OP.PONG);
            assert.equal(f.payload.toString(), 'hello-ping');
        });

        it('a client close frame is answered with a close frame, then TCP close', async (t) => {
            const srv = await fx.get();
            const ws = await joinedWs(t, srv);
            ws.sentClose = true;
            ws.sendFrame(OP.CLOSE, Buffer.from([0x03, 0xe8]));
            const code = await ws.waitEnded(2000);
            assert.equal(code, 1000);
            await stillServes(t, srv);
        });
    });

    describe('Engine.IO / Socket.IO packets', () => {
        it('websocket: an unknown Engine.IO packet type (9) closes the connection', async (t) => {
            const srv = await fx.get();
            const ws = await joinedWs(t, srv);
            ws.sendText('9hello');
            await ws.waitEnded(1500);
            await stillServes(t, srv);
        });

        it('websocket: an empty text message closes the connection', async (t) => {
            const srv = await fx.get();
            const ws = await joinedWs(t, srv);
            ws.sendText('');
            await ws.waitEnded(1500);
            await stillServes(t, srv);
        });

        it('polling: an unknown Engine.IO packet type closes the session', async (t) => {
            const srv = await fx.get();
            const { open } = await pollHandshake(srv);
            await pollPost(srv, open.sid, '9hello').catch(() => null);
            assert.equal((await pollGet(srv, open.sid)).status, 400);
            await stillServes(t, srv);
        });

        it('a polling GET with an unknown sid -> 400 code 1', async (t) => {
            const srv = await fx.get();
            const res = await pollGet(srv, 'not-a-session');
            assert.equal(res.status, 400);
            assert.deepEqual(JSON.parse(res.text), { code: 1, message: 'Session ID unknown' });
            await stillServes(t, srv);
        });

        const truncated = [
            ['a text packet where an attachment is due', (ws) => {
                ws.sendText('451-["message",{"_placeholder":true,"num":0}]');
                ws.sendText('42["message","x"]');
            }],
            ['one attachment of two, then a text packet', (ws) => {
                ws.sendText('452-["message",{"_placeholder":true,"num":0},'
                    + '{"_placeholder":true,"num":1}]');
                ws.sendBinary(Buffer.from([1]));
                ws.sendText('42["message","x"]');
            }],
            ['a placeholder number out of range', (ws) => {
                ws.sendText('451-["message",{"_placeholder":true,"num":5}]');
                ws.sendBinary(Buffer.from([1]));
            }],
            ['a binary message nobody announced', (ws) => ws.sendBinary(Buffer.from([1, 2]))],
        ];
        for (const [name, send] of truncated) {
            it(`attachments: ${name} -> the connection closes`, async (t) => {
                const srv = await fx.get();
                const ws = await joinedWs(t, srv);
                send(ws);
                const r = await ws.waitClose(1500).catch(() => null);
                // No message-back may come out of a broken packet.
                for (const f of r?.skipped ?? []) {
                    assert.doesNotMatch(f.payload.toString(), /message-back/);
                }
                await ws.waitEnded(1500);
                await stillServes(t, srv);
            });
        }

        it('polling: a text packet where an attachment is due closes the session', async (t) => {
            const srv = await fx.get();
            const { open } = await pollHandshake(srv);
            assert.equal((await pollPost(srv, open.sid, '40')).text, 'ok');
            await pollGet(srv, open.sid);
            await pollPost(srv, open.sid,
                '451-["message",{"_placeholder":true,"num":0}]\x1e42["message","x"]')
                .catch(() => null);
            const res = await pollGet(srv, open.sid);
            assert.ok(res.status === 400 || /(^|\x1e)1$/.test(res.text),
                `${res.status} ${res.text}`);
            assert.doesNotMatch(res.text, /message-back/);
            await stillServes(t, srv);
        });
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
