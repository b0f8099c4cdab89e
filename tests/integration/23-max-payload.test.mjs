// maxPayload (--max-payload 10000) against build/echo-server and build/engineio-echo:
// the handshake advertises it, payloads up to it pass, an oversize polling POST gets 413
// and an oversize WebSocket message closes the connection with 1009; socket.io-client
// sees the disconnect; the server keeps serving.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture } from './lib/server.mjs';
import { pollGet, pollHandshake, pollPost } from './lib/http.mjs';
import { OP, rawEioWs } from './lib/rawws.mjs';
import { sioConnect, track, whenDisconnected } from './lib/sio.mjs';

const MAX = 10000;

for (const kind of ['socketio', 'engineio']) {
    describe(`maxPayload ${MAX} (${kind})`, () => {
        const fx = serverFixture({ kind, args: ['--max-payload', String(MAX)] });

        it('the handshake advertises maxPayload', async () => {
            const { open } = await pollHandshake(await fx.get());
            assert.equal(open.maxPayload, MAX);
        });

        it('a POST body of exactly maxPayload bytes is accepted', async () => {
            const srv = await fx.get();
            const { open } = await pollHandshake(srv);
            // An Engine.IO noop-free payload: one message packet of MAX bytes in total.
            const body = kind === 'engineio' ? `4${'a'.repeat(MAX - 1)}`
                : `42["message","${'a'.repeat(MAX - '42["message",""]'.length)}"]`;
            assert.equal(Buffer.byteLength(body), MAX);
            if (kind === 'socketio') {
                assert.equal((await pollPost(srv, open.sid, '40')).text, 'ok');
                assert.match((await pollGet(srv, open.sid)).text, /^40/);
            }
            const res = await pollPost(srv, open.sid, body);
            assert.equal(res.status, 200);
            assert.equal(res.text, 'ok');
        });

        it('a POST body over maxPayload gets 413', async () => {
            const srv = await fx.get();
            const { open } = await pollHandshake(srv);
            const res = await pollPost(srv, open.sid, `4${'b'.repeat(MAX)}`)
                .catch((err) => ({ status: err.code }));
            assert.equal(res.status, 413);
        });

        it('a WebSocket message of exactly maxPayload bytes passes', async (t) => {
            const srv = await fx.get();
            const { ws } = await rawEioWs(srv);
            track(t, ws, (w) => w.destroy());
            if (kind === 'engineio') {
                const msg = `4${'c'.repeat(MAX - 1)}`;
                ws.sendText(msg);
                assert.equal(await ws.nextMessage(), msg);
                ws.sendBinary(Buffer.alloc(MAX, 1));
                assert.ok((await ws.nextMessage()).equals(Buffer.alloc(MAX, 1)));
            } else {
                ws.sendText('40');
                assert.match(await ws.nextMessage(), /^40/);
                await ws.nextMessage(); // auth
                const fill = 'c'.repeat(MAX - '421["echo",""]'.length);
                const msg = `421["echo","${fill}"]`;
                assert.equal(Buffer.byteLength(msg), MAX);
                ws.sendText(msg);
                assert.equal(await ws.nextMessage(), `431["${fill}"]`);
            }
        });

        it('a WebSocket message over maxPayload closes the connection with 1009', async (t) => {
            const srv = await fx.get();
            const { ws } = await rawEioWs(srv);
            track(t, ws, (w) => w.destroy());
            ws.sendText(`4${'d'.repeat(MAX)}`);
            const code = await ws.waitEnded(3000);
            assert.equal(code, 1009);
        });

        it('an oversize message split into fragments also closes with 1009', async (t) => {
            const srv = await fx.get();
            const { ws } = await rawEioWs(srv);
            track(t, ws, (w) => w.destroy());
            const half = Buffer.alloc(MAX / 2 + 10, 0x61);
            ws.sendFrame(OP.TEXT, Buffer.concat([Buffer.from('4'), half]), { fin: false });
            ws.sendFrame(OP.CONT, half);
            const code = await ws.waitEnded(3000);
            assert.equal(code, 1009);
        });

        if (kind === 'socketio') {
            it('socket.io-client over websocket: an oversize emit disconnects it', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, { transports: ['websocket'] });
                const reason = whenDisconnected(socket);
                socket.emit('message', 'e'.repeat(MAX + 10));
                assert.equal(await reason, 'transport close');
            });

            it('socket.io-client over polling: an oversize emit disconnects it', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, { transports: ['polling'] });
                const reason = whenDisconnected(socket);
                socket.emit('message', 'e'.repeat(MAX + 10));
                // The POST gets 413; engine.io-client reports an xhr post error.
                assert.equal(await reason, 'transport error');
            });

            it('an oversize binary attachment disconnects the websocket client', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, { transports: ['websocket'] });
                const reason = whenDisconnected(socket);
                socket.emit('message', Buffer.alloc(MAX + 1, 2));
                assert.equal(await reason, 'transport close');
            });

            it('near-limit payloads still work for a fresh client', async (t) => {
                const srv = await fx.get();
                for (const transports of [['websocket'], ['polling']]) {
                    const { socket } = await sioConnect(t, srv, { transports });
                    const s = 'f'.repeat(MAX - 100);
                    assert.equal(await socket.timeout(3000).emitWithAck('echo', s), s);
                }
            });
        }

        it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
    });
}
