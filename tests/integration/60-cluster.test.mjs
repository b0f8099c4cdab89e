// Three sioc nodes behind one real redis-server, "socketio" wire format (issue 5): rooms,
// everybody, except and socket.broadcast arrive exactly once on every node; broadcasts
// with acks collect answers from every node; socketsJoin/Leave, disconnectSockets,
// fetchSockets, serverCount and serverSideEmit work cluster-wide.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from './lib/redis.mjs';
import { call, connect, expectOnlyMarker, startNodes, waitServers } from './lib/cluster.mjs';
import { whenDisconnected } from './lib/sio.mjs';
import { normaliseBinary } from './lib/util.mjs';

describe('three sioc nodes on one Redis (socketio format)', () => {
    let redis;
    let nodes = [];

    before(async () => {
        redis = await startRedis();
        nodes = await startNodes(3, redis.url, ['--redis-max-message', '200000']);
    });

    after(async () => {
        for (const n of nodes) await n.kill();
        if (redis) await redis.kill();
    });

    /** One client per node, plus `extra` more on node 1. */
    async function clients(t, extra = 0) {
        const cs = [];
        for (const n of nodes) cs.push(await connect(t, n));
        for (let i = 0; i < extra; i++) cs.push(await connect(t, nodes[1]));
        await waitServers(cs[0].socket, 3);
        return cs;
    }

    async function joinAll(cs, room) {
        for (const c of cs) await call(c.socket, 'join', room);
    }

    it('counts three servers from every node', async (t) => {
        const cs = await clients(t);
        for (const c of cs) {
            const [status, count] = await call(c.socket, 'server-count');
            assert.deepEqual([status, count], [0, 3]);
        }
    });

    it('a room emit reaches the members on every node exactly once', async (t) => {
        const [a0, a1, a2, b1] = await clients(t, 1);
        await joinAll([a0, a1, a2], 'r1');
        await call(b1.socket, 'join', 'other');
        await call(a0.socket, 'broadcast', 'r1', { text: 'p1' });
        for (const c of [a0, a1, a2]) assert.deepEqual((await c.events.msg.next(5000))[0], { text: 'p1' });
        await expectOnlyMarker(a2.socket, [a0, a1, a2, b1]);
    });

    it('an emit to everybody reaches every client once; except skips its room', async (t) => {
        const cs = await clients(t, 1);
        const [a0, a1, a2, b1] = cs;
        await call(a1.socket, 'emit-all', 'all-1');
        for (const c of cs) assert.equal((await c.events.msg.next(5000))[0], 'all-1');
        await joinAll([a0, a2], 'skipme');
        await call(a0.socket, 'emit-except', 'skipme', 'not-you');
        for (const c of [a1, b1]) assert.equal((await c.events.msg.next(5000))[0], 'not-you');
        await expectOnlyMarker(a1.socket, cs);
    });

    it('a room minus except rooms, across nodes (skip_sid style: except the sender id)', async (t) => {
        const cs = await clients(t, 1);
        const [a0, a1, a2, b1] = cs;
        await joinAll(cs, 'r2');
        // except the socket id of a1 (a room of its own) and the room "mute" (a2)
        await call(a2.socket, 'join', 'mute');
        await call(a0.socket, 'broadcast-except', 'r2', [a1.socket.id, 'mute'], 'x');
        for (const c of [a0, b1]) assert.equal((await c.events.msg.next(5000))[0], 'x');
        await expectOnlyMarker(a0.socket, cs);
        // socket.broadcast: everybody in the room but the sender, wherever they are
        await call(b1.socket, 'socket-broadcast', 'r2', 'from-b1');
        for (const c of [a0, a1, a2]) assert.equal((await c.events.msg.next(5000))[0], 'from-b1');
        await expectOnlyMarker(a0.socket, cs);
    });

    it('binary arguments cross nodes', async (t) => {
        const [a0, a1, a2] = await clients(t);
        await joinAll([a1, a2], 'bin');
        const payload = { name: 'blob', data: Buffer.from([0, 1, 2, 250, 255]) };
        await call(a0.socket, 'broadcast', 'bin', payload, Buffer.from('tail'));
        for (const c of [a1, a2]) {
            const [got] = await c.events.msg.next(5000);
            assert.deepEqual(normaliseBinary(got), payload);
        }
    });

    it('a broadcast with acks collects the answers of every node', async (t) => {
        const cs = await clients(t, 1);
        cs.forEach((c, i) => c.socket.on('ask', (q, cb) => cb({ from: i, q })));
        await joinAll(cs.slice(0, 3), 'ackroom');
        const [status, answers] = await call(cs[2].socket, 'broadcast-ack', 'ackroom', 'ask', 'q1');
        assert.equal(status, 0);
        assert.deepEqual(answers.map((a) => a.from).sort(), [0, 1, 2]);
        assert.ok(answers.every((a) => a.q === 'q1'));
        const [st2, all] = await call(cs[0].socket, 'broadcast-ack', null, 'ask', 'q2');
        assert.equal(st2, 0);
        assert.ok(all.length >= 4, `answers from everybody, got ${all.length}`);
    });

    it('fetchSockets sees the sockets of every node with their rooms', async (t) => {
        const cs = await clients(t, 1);
        await joinAll(cs.slice(0, 3), 'fetchme');
        const [status, sockets] = await call(cs[1].socket, 'fetch-sockets', 'fetchme');
        assert.equal(status, 0);
        const ids = sockets.map((s) => s.id).sort();
        assert.deepEqual(ids, cs.slice(0, 3).map((c) => c.socket.id).sort());
        for (const s of sockets) {
            assert.ok(s.rooms.includes('fetchme') && s.rooms.includes(s.id), JSON.stringify(s));
        }
    });

    it('socketsJoin / socketsLeave act on every node', async (t) => {
        const cs = await clients(t, 1);
        await joinAll(cs.slice(0, 3), 'src');
        await call(cs[3].socket, 'sockets-join', 'src', 'dst');
        // the join travels through Redis: wait for it through an order barrier
        await expectOnlyMarker(cs[3].socket, cs);
        await call(cs[0].socket, 'broadcast', 'dst', 'to-dst');
        for (const c of cs.slice(0, 3)) assert.equal((await c.events.msg.next(5000))[0], 'to-dst');
        await expectOnlyMarker(cs[0].socket, cs);
        await call(cs[0].socket, 'sockets-leave', null, 'dst');
        await expectOnlyMarker(cs[0].socket, cs);
        await call(cs[1].socket, 'broadcast', 'dst', 'nobody');
        await expectOnlyMarker(cs[1].socket, cs);
    });

    it('disconnectSockets disconnects the selected sockets on every node', async (t) => {
        const cs = await clients(t, 1);
        await joinAll([cs[0], cs[2], cs[3]], 'kick');
        const gone = [cs[0], cs[2], cs[3]].map((c) => whenDisconnected(c.socket));
        await call(cs[1].socket, 'sockets-disconnect', 'kick', false);
        const reasons = await Promise.all(gone);
        assert.deepEqual(reasons, Array(3).fill('io server disconnect'));
        assert.ok(cs[1].socket.connected);
    });

    it('serverSideEmit reaches the other nodes only', async (t) => {
        const cs = [];
        for (const n of nodes) cs.push(await connect(t, n, ['auth', 'msg', 'server-side']));
        await waitServers(cs[0].socket, 3);
        const [rc] = await call(cs[0].socket, 'server-side-emit', 'hello', { n: 1 });
        assert.equal(rc, 0);
        for (const c of cs.slice(1)) {
            assert.deepEqual(await c.events['server-side'].next(5000), ['hello', { n: 1 }]);
        }
        await expectOnlyMarker(cs[0].socket, cs);
        assert.equal(cs[0].events['server-side'].length, 0);
    });

    it('non-member nodes drop room traffic unread (the filter counts it)', async (t) => {
        const cs = await clients(t);
        await call(cs[0].socket, 'join', 'lonely');
        const [before] = await call(cs[2].socket, 'cluster-stats');
        for (let i = 0; i < 20; i++) await call(cs[1].socket, 'broadcast', 'lonely', i);
        for (let i = 0; i < 20; i++) assert.equal((await cs[0].events.msg.next(5000))[0], i);
        await expectOnlyMarker(cs[1].socket, cs);
        const [after2] = await call(cs[2].socket, 'cluster-stats');
        assert.ok(after2.filtered - before.filtered >= 20, JSON.stringify([before, after2]));
        assert.equal(after2.received - before.received, 1); // only the marker
    });

    it('an event above redis_max_message fails with a log line and jams nothing', async (t) => {
        const cs = await clients(t);
        await joinAll(cs, 'big');
        const [st0] = await call(cs[0].socket, 'cluster-stats');
        const [refused] = await call(cs[0].socket, 'broadcast', 'big', 'y'.repeat(300 * 1024));
        assert.match(refused?.error ?? '', /larger than the cluster message bound/, 'sioc_emit returns SIOC_E2BIG');
        await expectOnlyMarker(cs[0].socket, cs);
        const [st1] = await call(cs[0].socket, 'cluster-stats');
        assert.equal(st1.too_big - st0.too_big, 1);
        assert.match(nodes[0].stderr, /redis_max_message/);
    });

    it('every node exits cleanly', async () => {
        for (const n of nodes) await n.stopAndCheck();
        nodes = [];
    });
});
