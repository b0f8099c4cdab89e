// Server-side behaviours the plain echo contract cannot trigger, through three test hooks
// on namespace `/` (bench/peers/node-server.mjs has them; requested for echo-server.c):
//   emit-with-ack event ...args    the server emits `event` with an ack; the client's ack
//                                  args come back as `ack-result` (timeout: `ack-timeout`)
//   server-disconnect [close]      socket.disconnect(close) -> "io server disconnect"
//   broadcast-except room except payload   `msg` to room minus the `except` rooms
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from 'socket.io-client';
import { serverFixture } from './lib/server.mjs';
import { barrier, sioConnect, track, whenConnected,
    whenDisconnected } from './lib/sio.mjs';
import { normaliseBinary } from './lib/util.mjs';

const MODES = { websocket: ['websocket'], polling: ['polling'] };

describe('server -> client acks (emit-with-ack hook)', () => {
    const fx = serverFixture();

    for (const [mode, transports] of Object.entries(MODES)) {
        it(`${mode}: the server's ack callback gets the client's ack arguments`, async (t) => {
            const srv = await fx.get();
            const { socket, events } = await sioConnect(t, srv,
                { transports, names: ['ack-result', 'ack-timeout'] });
            socket.on('question', (a, b, ack) => ack(a + b, 'answer', { a, b }));
            socket.emit('emit-with-ack', 'question', 1, 2);
            assert.deepEqual(await events['ack-result'].next(), [3, 'answer', { a: 1, b: 2 }]);
        });

        it(`${mode}: binary both ways through a server->client ack`, async (t) => {
            const srv = await fx.get();
            const { socket, events } = await sioConnect(t, srv,
                { transports, names: ['ack-result'] });
            const received = [];
            socket.on('bin-question', (data, ack) => {
                received.push(normaliseBinary(data));
                ack({ echoed: data, extra: Buffer.from([4, 5]) });
            });
            const data = { file: Buffer.from([1, 2, 3]) };
            socket.emit('emit-with-ack', 'bin-question', data);
            assert.deepEqual(normaliseBinary(await events['ack-result'].next()),
                [{ echoed: data, extra: Buffer.from([4, 5]) }]);
            assert.deepEqual(received, [data]);
        });

        it(`${mode}: several outstanding server acks resolve independently`, async (t) => {
            const srv = await fx.get();
            const { socket, events } = await sioConnect(t, srv,
                { transports, names: ['ack-result'] });
            const pending = [];
            socket.on('later', (n, ack) => pending.push([n, ack]));
            for (let i = 0; i < 5; i++) socket.emit('emit-with-ack', 'later', i);
            await barrier(socket); // all five `later` events have arrived now
            assert.equal(pending.length, 5);
            // Answer in reverse order: each server callback still gets its own answer.
            for (const [n, ack] of [...pending].reverse()) ack(n * 10);
            const results = [];
            for (let i = 0; i < 5; i++) results.push((await events['ack-result'].next())[0]);
            assert.deepEqual(results, [40, 30, 20, 10, 0]);
        });
    }

    it('no ack within the timeout -> ack-timeout (5 s)', async (t) => {
        const srv = await fx.get();
        const { socket, events } = await sioConnect(t, srv,
            { transports: ['websocket'], names: ['ack-result', 'ack-timeout'] });
        socket.on('ignored', () => {});
        socket.emit('emit-with-ack', 'ignored', 'x');
        assert.deepEqual(await events['ack-timeout'].next(8000), ['ignored']);
        assert.equal(events['ack-result'].length, 0);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('io server disconnect (server-disconnect hook)', () => {
    const fx = serverFixture();

    for (const [mode, transports] of Object.entries(MODES)) {
        it(`${mode}: the client sees "io server disconnect" and does not reconnect`,
            async (t) => {
                const srv = await fx.get();
                const { socket } = await sioConnect(t, srv, { transports, reconnection: true });
                const reason = whenDisconnected(socket);
                socket.emit('server-disconnect');
                assert.equal(await reason, 'io server disconnect');
                assert.equal(socket.active, false, 'no automatic reconnection');
            });

        it(`${mode}: disconnecting / keeps /custom on the same connection open`, async (t) => {
            const srv = await fx.get();
            const manager = new Manager(srv.url, { path: srv.path, transports,
                reconnection: false, autoConnect: false });
            track(t, manager, (m) => m.engine?.close());
            const main = manager.socket('/');
            const custom = manager.socket('/custom');
            main.connect();
            custom.connect();
            await Promise.all([whenConnected(main), whenConnected(custom)]);
            const reason = whenDisconnected(main);
            main.emit('server-disconnect');
            assert.equal(await reason, 'io server disconnect');
            assert.equal(custom.connected, true);
            assert.equal(manager.engine.readyState, 'open');
            // The connection is still usable: / can connect again and echo.
            main.connect();
            await whenConnected(main);
            assert.equal(await main.timeout(3000).emitWithAck('echo', 'again'), 'again');
        });

        it(`${mode}: server-disconnect true closes every namespace and the connection`,
            async (t) => {
                const srv = await fx.get();
                const manager = new Manager(srv.url, { path: srv.path, transports,
                    reconnection: false, autoConnect: false });
                track(t, manager, (m) => m.engine?.close());
                const main = manager.socket('/');
                const custom = manager.socket('/custom');
                main.connect();
                custom.connect();
                await Promise.all([whenConnected(main), whenConnected(custom)]);
                const reasons = Promise.all([whenDisconnected(main), whenDisconnected(custom)]);
                main.emit('server-disconnect', true);
                assert.deepEqual(await reasons, ['io server disconnect', 'io server disconnect']);
            });
    }

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});

describe('rooms with an except-list (broadcast-except hook)', () => {
    const fx = serverFixture();

    async function members(t, srv, n) {
        return Promise.all(Array.from({ length: n }, (_, i) => sioConnect(t, srv,
            { transports: i % 2 ? ['polling'] : ['websocket'], names: ['msg'] })));
    }

    async function join(c, ...rooms) {
        for (const r of rooms) c.socket.emit('join', r);
        await barrier(c.socket);
    }

    async function got(list, payload) {
        for (const c of list) assert.deepEqual((await c.events.msg.next())[0], payload);
    }

    async function none(list) {
        for (const c of list) {
            await barrier(c.socket);
            assert.equal(c.events.msg.length, 0);
        }
    }

    it('except one socket id', async (t) => {
        const srv = await fx.get();
        const [a, b, c, d] = await members(t, srv, 4);
        await Promise.all([join(a, 'r'), join(b, 'r'), join(c, 'r')]);
        a.socket.emit('broadcast-except', 'r', b.socket.id, 'p');
        await got([a, c], 'p');
        await none([b, d]);
    });

    it('except a room, and except a list of rooms', async (t) => {
        const srv = await fx.get();
        const [a, b, c, d] = await members(t, srv, 4);
        await Promise.all([join(a, 'r'), join(b, 'r', 'mute'), join(c, 'r', 'mute'),
            join(d, 'r')]);
        d.socket.emit('broadcast-except', 'r', 'mute', 'one');
        await got([a, d], 'one');
        await none([b, c]);
        d.socket.emit('broadcast-except', 'r', ['mute', d.socket.id], 'two');
        await got([a], 'two');
        await none([b, c, d]);
    });

    it('except the sender (socket.broadcast semantics)', async (t) => {
        const srv = await fx.get();
        const [a, b] = await members(t, srv, 2);
        await Promise.all([join(a, 'r'), join(b, 'r')]);
        a.socket.emit('broadcast-except', 'r', a.socket.id, { from: 'a' });
        await got([b], { from: 'a' });
        await none([a]);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
