// Socket.IO v5 with the official socket.io-client 4.8.4 against build/echo-server, over
// polling only, websocket only, and polling upgraded to websocket: connect and auth,
// namespaces and a refused namespace, events, acks, binary, ordering, large payloads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { io, Manager } from 'socket.io-client';
import { serverFixture } from './lib/server.mjs';
import { barrier, recordEvents, sioClient, sioConnect, track, whenConnected,
    whenDisconnected } from './lib/sio.mjs';
import { normaliseBinary, once, toBuffer } from './lib/util.mjs';

const MODES = {
    polling: { transports: ['polling'] },
    websocket: { transports: ['websocket'] },
    upgrade: { transports: ['polling', 'websocket'] },
};

const SAMPLE_ARGS = [
    'text',
    42,
    -1.5e-7,
    true,
    null,
    { a: 1, nested: { list: [1, 'two', { three: 3 }] } },
    ['x', 'y'],
    'unicode: € 日本 😀, controls: \u0000\u001e\n\t"\\',
];

describe('Socket.IO with socket.io-client', () => {
    const fx = serverFixture();

    for (const [mode, opts] of Object.entries(MODES)) {
        describe(`transport: ${mode}`, () => {
            it('connects to / and receives auth {} when no auth is sent', async (t) => {
                const srv = await fx.get();
                const { socket, events } = await sioConnect(t, srv, opts);
                const [auth] = await events.auth.next();
                assert.deepEqual(auth, {});
                assert.equal(typeof socket.id, 'string');
                assert.notEqual(socket.id, socket.io.engine.id, 'socket id is not the sid');
                if (mode === 'upgrade') {
                    if (socket.io.engine.transport.name !== 'websocket') {
                        await once(socket.io.engine, 'upgrade');
                    }
                    assert.equal(socket.io.engine.transport.name, 'websocket');
                } else {
                    assert.equal(socket.io.engine.transport.name, opts.transports[0]);
                }
            });

            it('connect with auth: the auth event carries the CONNECT auth object', async (t) => {
                const srv = await fx.get();
                const auth = { token: '123', n: 7, nested: { ok: true, list: [1, 2] } };
                const { events } = await sioConnect(t, srv, { ...opts, auth });
                assert.deepEqual((await events.auth.next())[0], auth);
            });

            it('/custom with and without auth', async (t) => {
                const srv = await fx.get();
                const a = await sioConnect(t, srv, { ...opts, nsp: '/custom' });
                assert.deepEqual((await a.events.auth.next())[0], {});
                const b = await sioConnect(t, srv,
                    { ...opts, nsp: '/custom', auth: { user: 'bob' } });
                assert.deepEqual((await b.events.auth.next())[0], { user: 'bob' });
            });

            it('/random is refused with connect_error "Invalid namespace"', async (t) => {
                const srv = await fx.get();
                const socket = sioClient(t, srv, '/random', opts);
                const [err] = await once(socket, 'connect_error');
                assert.equal(err.message, 'Invalid namespace');
                assert.equal(socket.connected, false);
            });

            it('message -> message-back with the same arguments', async (t) => {
                const srv = await fx.get();
                const { socket, events } = await sioConnect(t, srv,
                    { ...opts, names: ['message-back'] });
                socket.emit('message', ...SAMPLE_ARGS);
                assert.deepEqual(await events['message-back'].next(), SAMPLE_ARGS);
                socket.emit('message');
                assert.deepEqual(await events['message-back'].next(), []);
            });

            it('message-with-ack and echo: acks with the same arguments', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, opts);
                const got = await new Promise((resolve) => {
                    socket.emit('message-with-ack', ...SAMPLE_ARGS, (...a) => resolve(a));
                });
                assert.deepEqual(got, SAMPLE_ARGS);
                assert.equal(await socket.timeout(3000).emitWithAck('echo', 'hi'), 'hi');
                const none = await new Promise((resolve) => {
                    socket.emit('echo', (...a) => resolve(a));
                });
                assert.deepEqual(none, []);
            });

            it('200 concurrent acks each get their own answer', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, opts);
                const replies = await Promise.all(Array.from({ length: 200 },
                    (_, i) => socket.timeout(5000).emitWithAck('message-with-ack', i, `#${i}`)));
                assert.deepEqual(replies, Array.from({ length: 200 }, (_, i) => i));
            });

            it('binary: message-back with Buffers stays binary', async (t) => {
                const srv = await fx.get();
                const { socket, events } = await sioConnect(t, srv,
                    { ...opts, names: ['message-back'] });
                const a = Buffer.from([1, 2, 3]);
                const b = Buffer.from('binary\x00payload\xff', 'latin1');
                socket.emit('message', a, 'between', b);
                const back = await events['message-back'].next();
                assert.equal(back.length, 3);
                assert.deepEqual(toBuffer(back[0]), a);
                assert.equal(back[1], 'between');
                assert.deepEqual(toBuffer(back[2]), b);
                socket.emit('message', Buffer.alloc(0));
                assert.deepEqual(toBuffer((await events['message-back'].next())[0]),
                    Buffer.alloc(0));
            });

            it('binary: nested in objects and arrays, with a binary ack', async (t) => {
                const srv = await fx.get();
                const { socket, events } = await sioConnect(t, srv,
                    { ...opts, names: ['message-back'] });
                const arg = {
                    name: 'file',
                    parts: [Buffer.from([0xde, 0xad]), { inner: Buffer.from([0xbe, 0xef]) }],
                    meta: { size: 4, blob: Buffer.alloc(300, 7) },
                };
                socket.emit('message', arg, [Buffer.from('x')]);
                assert.deepEqual(normaliseBinary(await events['message-back'].next()),
                    [arg, [Buffer.from('x')]]);
                const acked = await socket.timeout(3000).emitWithAck('message-with-ack', arg);
                assert.deepEqual(normaliseBinary(acked), arg);
            });

            it('1000 events from one socket are echoed in order', async (t) => {
                const srv = await fx.get();
                const { socket, events } = await sioConnect(t, srv,
                    { ...opts, names: ['message-back'] });
                for (let i = 0; i < 1000; i++) socket.emit('message', i);
                const got = [];
                for (let i = 0; i < 1000; i++) got.push((await events['message-back'].next())[0]);
                assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
            });

            it('events and acks interleave in arrival order', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, opts);
                const order = [];
                socket.on('message-back', (v) => order.push(`back:${v}`));
                for (let i = 0; i < 20; i++) {
                    socket.emit('message', i);
                    socket.emit('echo', i, (v) => order.push(`ack:${v}`));
                }
                await barrier(socket);
                const expected = [];
                for (let i = 0; i < 20; i++) expected.push(`back:${i}`, `ack:${i}`);
                assert.deepEqual(order, expected);
            });

            it('a payload near maxPayload (default 1e6) goes both ways', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, opts);
                const big = 'x'.repeat(990000);
                assert.equal(await socket.timeout(10000).emitWithAck('echo', big), big);
                // Over polling binary travels as base64 (4/3 larger): stay under 1e6 there.
                const buf = Buffer.alloc(mode === 'websocket' ? 990000 : 700000, 0xab);
                const back = await socket.timeout(10000).emitWithAck('echo', buf);
                assert.ok(toBuffer(back).equals(buf));
            });

            it('client disconnect is clean and the server keeps serving', async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, opts);
                const reason = whenDisconnected(socket);
                socket.disconnect();
                assert.equal(await reason, 'io client disconnect');
                const again = await sioConnect(t, srv, opts);
                assert.equal(await again.socket.timeout(3000).emitWithAck('echo', 1), 1);
            });
        });
    }

    it('one Manager multiplexes / and /custom; /random fails without hurting them',
        async (t) => {
            const srv = await fx.get();
            const manager = new Manager(srv.url,
                { path: srv.path, reconnection: false, autoConnect: false });
            track(t, manager, (m) => m.engine?.close());
            const main = manager.socket('/');
            const custom = manager.socket('/custom', { auth: { n: 1 } });
            const mainEv = recordEvents(main, ['auth']);
            const customEv = recordEvents(custom, ['auth']);
            main.connect();
            custom.connect();
            await Promise.all([whenConnected(main), whenConnected(custom)]);
            assert.deepEqual((await mainEv.auth.next())[0], {});
            assert.deepEqual((await customEv.auth.next())[0], { n: 1 });
            const random = manager.socket('/random');
            random.connect();
            const [err] = await once(random, 'connect_error');
            assert.equal(err.message, 'Invalid namespace');
            assert.equal(await main.timeout(3000).emitWithAck('echo', 'still'), 'still');
            custom.disconnect();
            assert.equal(await main.timeout(3000).emitWithAck('echo', 'after'), 'after');
            assert.equal(manager.engine.readyState, 'open');
        });

    it('a socket can reconnect to /custom on the same connection after leaving it',
        async (t) => {
            const srv = await fx.get();
            const manager = new Manager(srv.url,
                { path: srv.path, reconnection: false, autoConnect: false });
            track(t, manager, (m) => m.engine?.close());
            const main = manager.socket('/');
            main.connect();
            await whenConnected(main);
            const custom = manager.socket('/custom', { auth: { round: 1 } });
            const ev = recordEvents(custom, ['auth']);
            custom.connect();
            await whenConnected(custom);
            assert.deepEqual((await ev.auth.next())[0], { round: 1 });
            custom.disconnect();
            // Node socket.io handles a DISCONNECT a tick later than a CONNECT that arrives
            // in the same read, and then closes the connection for a duplicate CONNECT:
            // let the DISCONNECT land first (a round trip on /).
            await barrier(main);
            custom.auth = { round: 2 };
            custom.connect();
            await whenConnected(custom);
            assert.deepEqual((await ev.auth.next())[0], { round: 2 });
        });

    it('many clients at once each get their own auth and echoes', async (t) => {
        const srv = await fx.get();
        const clients = await Promise.all(Array.from({ length: 30 }, (_, i) => sioConnect(t, srv,
            { ...MODES[['polling', 'websocket', 'upgrade'][i % 3]], auth: { i } })));
        for (const [i, c] of clients.entries()) {
            assert.deepEqual((await c.events.auth.next())[0], { i });
        }
        const replies = await Promise.all(clients.map((c, i) =>
            c.socket.timeout(5000).emitWithAck('echo', i)));
        assert.deepEqual(replies, clients.map((_, i) => i));
    });

    it('io() default options (polling then upgrade) work end to end', async (t) => {
        const srv = await fx.get();
        const socket = io(srv.url, { path: srv.path, forceNew: true, reconnection: false });
        track(t, socket, (s) => s.disconnect());
        await whenConnected(socket);
        assert.equal(await socket.timeout(3000).emitWithAck('echo', 'default'), 'default');
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
