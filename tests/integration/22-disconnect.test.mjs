// Disconnect reasons seen by socket.io-client, the heartbeat, and reconnection after a
// server restart, against build/echo-server (pingInterval 300 ms, pingTimeout 200 ms).
//   transport close   server shut down (SIGTERM) or the server dropped the connection
//   ping timeout      the server stopped pinging (frozen with SIGSTOP)
//   io server disconnect: see 24-hooks.test.mjs (needs the server-disconnect hook)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverFixture } from './lib/server.mjs';
import { pollGet, pollHandshake, pollPost } from './lib/http.mjs';
import { rawEioWs } from './lib/rawws.mjs';
import { barrier, recordEvents, sioClient, sioConnect, track, whenConnected,
    whenDisconnected } from './lib/sio.mjs';
import { once, settle, sleep } from './lib/util.mjs';

const HEARTBEAT = ['--ping-interval', '300', '--ping-timeout', '200'];
const MODES = { websocket: ['websocket'], polling: ['polling'] };
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
    randomizationFactor: 0 };

describe('heartbeat with socket.io-client and raw clients', () => {
    const fx = serverFixture({ args: HEARTBEAT });

    for (const [mode, transports] of Object.entries(MODES)) {
        it(`${mode}: a connected client stays connected across several pings`, async (t) => {
            const srv = await fx.get();
            const { socket } = await sioConnect(t, srv, { transports });
            let pings = 0;
            socket.io.engine.on('ping', () => pings++);
            let dropped = null;
            socket.on('disconnect', (r) => { dropped = r; });
            await sleep(1300); // elapsed time is the point: > 3 ping intervals
            assert.ok(pings >= 3, `saw ${pings} pings in 1.3 s with a 300 ms interval`);
            assert.equal(dropped, null);
            assert.equal(await socket.timeout(2000).emitWithAck('echo', 'alive'), 'alive');
        });

        it(`${mode}: a socket.io-client that stops answering pings is dropped`, async (t) => {
            const srv = await fx.get();
            const { socket } = await sioConnect(t, srv, { transports });
            const engine = socket.io.engine;
            // engine.io-client 6.6 answers a ping through _sendPacket("pong"): drop those.
            const send = engine._sendPacket.bind(engine);
            engine._sendPacket = (type, ...rest) => (type === 'pong' ? undefined
                : send(type, ...rest));
            const t0 = Date.now();
            const reason = await whenDisconnected(socket, 3000);
            const elapsed = Date.now() - t0;
            assert.equal(reason, 'transport close');
            assert.ok(elapsed >= 400, `dropped after ${elapsed} ms (ping 300 + timeout 200)`);
        });
    }

    it('raw websocket: silent after CONNECT, the connection is closed', async (t) => {
        const srv = await fx.get();
        const { ws } = await rawEioWs(srv);
        track(t, ws, (w) => w.destroy());
        ws.sendText('40');
        assert.match(await ws.nextMessage(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await ws.nextMessage(), '42["auth",{}]');
        const t0 = Date.now();
        assert.equal(await ws.nextMessage(1000), '2');
        await ws.waitEnded(1500);
        assert.ok(Date.now() - t0 >= 150, 'closed only after pingTimeout');
    });

    it('raw polling: silent after CONNECT, the session is gone after 600 ms', async () => {
        const srv = await fx.get();
        const { open } = await pollHandshake(srv);
        assert.equal((await pollPost(srv, open.sid, '40')).text, 'ok');
        const get = await pollGet(srv, open.sid);
        assert.match(get.text, /^40\{"sid":"[^"]+"\}\x1e42\["auth",\{\}\]$/);
        await sleep(600); // elapsed time is the point
        const res = await pollGet(srv, open.sid);
        assert.equal(res.status, 400);
        assert.deepEqual(JSON.parse(res.text), { code: 1, message: 'Session ID unknown' });
    });

    for (const [mode, transports] of Object.entries(MODES)) {
        it(`${mode}: a frozen server (SIGSTOP) -> client reason "ping timeout", then it `
            + 'reconnects when the server resumes', async (t) => {
            const srv = await fx.get();
            const socket = sioClient(t, srv, '/', { transports, ...RECONNECT,
                auth: { who: mode } });
            const ev = recordEvents(socket, ['auth']);
            await whenConnected(socket);
            assert.deepEqual((await ev.auth.next())[0], { who: mode });
            const reason = whenDisconnected(socket, 3000);
            srv.pause();
            t.after(() => srv.resume());
            try {
                assert.equal(await reason, 'ping timeout');
            } finally {
                srv.resume();
            }
            await once(socket, 'connect', 5000);
            assert.deepEqual((await ev.auth.next(5000))[0], { who: mode });
            assert.equal(await socket.timeout(2000).emitWithAck('echo', 'back'), 'back');
        });
    }

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('server shutdown and restart', () => {
    for (const [mode, transports] of Object.entries(MODES)) {
        it(`${mode}: SIGTERM -> clients see "transport close", exit 0 within 5 s`, async (t) => {
            // Default heartbeat: nothing but the shutdown happens. A polling client needs
            // its next GET parked at the server to be told; settle() lets it get there.
            const srv = await startServer({});
            t.after(() => srv.kill());
            const a = await sioConnect(t, srv, { transports });
            const b = await sioConnect(t, srv, { transports, nsp: '/custom' });
            await barrier(a.socket);
            await settle();
            const reasons = Promise.all([whenDisconnected(a.socket), whenDisconnected(b.socket)]);
            await srv.stopAndCheck();
            assert.deepEqual(await reasons, ['transport close', 'transport close']);
        });

        it(`${mode}: after a restart on the same port the client reconnects and gets auth`,
            async (t) => {
                let srv = await startServer({});
                t.after(() => srv.kill());
                const socket = sioClient(t, srv, '/', { transports, ...RECONNECT,
                    auth: { token: 'abc' } });
                const ev = recordEvents(socket, ['auth', 'msg']);
                await whenConnected(socket);
                assert.deepEqual((await ev.auth.next())[0], { token: 'abc' });
                const firstId = socket.id;
                socket.emit('join', 'before-restart');
                await barrier(socket);
                await settle(); // a polling client's next GET is parked at the server
                const reason = whenDisconnected(socket);
                srv = await srv.restart();
                assert.equal(await reason, 'transport close');
                await once(socket, 'connect', 5000);
                assert.deepEqual((await ev.auth.next(5000))[0], { token: 'abc' });
                assert.notEqual(socket.id, firstId, 'a new server gives a new socket id');
                // Rooms do not survive a restart: the old room is empty now.
                socket.emit('broadcast', 'before-restart', 'stale');
                await barrier(socket);
                assert.equal(ev.msg.length, 0);
                assert.equal(await socket.timeout(2000).emitWithAck('echo', 2), 2);
                await srv.stopAndCheck();
            });
    }

    for (const kind of ['socketio', 'engineio']) {
        it(`${kind}: SIGTERM right after the "listening on" line still exits 0`, async () => {
            // A supervisor may signal as soon as the server says it is ready: the signal
            // handlers must be in place before that line is printed.
            for (let i = 0; i < 5; i++) {
                const srv = await startServer({ kind });
                await srv.stopAndCheck();
            }
        });
    }

    it('SIGINT also exits 0 within 5 s with clients connected', async (t) => {
        const srv = await startServer({});
        t.after(() => srv.kill());
        const { socket } = await sioConnect(t, srv, { transports: ['websocket'] });
        const parkedPoller = await sioConnect(t, srv, { transports: ['polling'] });
        await barrier(socket);
        await barrier(parkedPoller.socket);
        await srv.stopAndCheck('SIGINT');
    });
});
