// A mixed cluster (issue 5): two sioc nodes and one Node socket.io 4.8 node with
// @socket.io/redis-adapter 8.3 on the same Redis, plus @socket.io/redis-emitter 5.1.
// Broadcasts go both ways; the Node side's fetchSockets, serverCount, serverSideEmit
// (with and without ack) and broadcast-with-ack get complete answers from the sioc
// nodes (never a timeout); an emitter emit reaches sioc clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '@socket.io/redis-emitter';
import { startRedis } from './lib/redis.mjs';
import { call, connect, expectOnlyMarker, startNodePeer, startNodes,
    waitServers } from './lib/cluster.mjs';
import { normaliseBinary } from './lib/util.mjs';

describe('sioc nodes beside a Node socket.io node (@socket.io/redis-adapter 8.3)', () => {
    let redis;
    let nodes = [];
    let peer;

    before(async () => {
        redis = await startRedis();
        nodes = await startNodes(2, redis.url);
        peer = await startNodePeer(redis.url);
    });

    after(async () => {
        for (const n of nodes) await n.kill();
        if (peer) await peer.kill();
        if (redis) await redis.kill();
    });

    /** [sioc0, sioc1, node] clients, all in room `room` when given. */
    async function clients(t, room, names = ['auth', 'msg']) {
        const cs = [await connect(t, nodes[0], names), await connect(t, nodes[1], names),
            await connect(t, peer, names)];
        await waitServers(cs[0].socket, 3);
        if (room) for (const c of cs) await call(c.socket, 'join', room);
        return cs;
    }

    it('both kinds count three servers', async (t) => {
        const cs = await clients(t);
        assert.deepEqual(await call(cs[2].socket, 'server-count'), [0, 3]);
        assert.deepEqual(await call(cs[0].socket, 'server-count'), [0, 3]);
    });

    it('broadcasts go from sioc to Node and from Node to sioc, binaries included', async (t) => {
        const cs = await clients(t, 'mix');
        await call(cs[0].socket, 'broadcast', 'mix', { from: 'sioc' });
        for (const c of cs) assert.deepEqual((await c.events.msg.next(5000))[0], { from: 'sioc' });
        const blob = Buffer.from([1, 2, 3, 0, 255]);
        await call(cs[2].socket, 'broadcast', 'mix', { from: 'node', blob });
        for (const c of cs) {
            assert.deepEqual(normaliseBinary((await c.events.msg.next(5000))[0]), { from: 'node', blob });
        }
        await call(cs[2].socket, 'emit-all', 'node-all');
        for (const c of cs) assert.equal((await c.events.msg.next(5000))[0], 'node-all');
        await expectOnlyMarker(cs[1].socket, cs);
    });

    it('fetchSockets from the Node side lists the sioc sockets with their rooms', async (t) => {
        const cs = await clients(t, 'fetched');
        const [status, list] = await call(cs[2].socket, 'fetch-sockets', 'fetched');
        assert.equal(status, 0, JSON.stringify(list));
        assert.deepEqual(list.map((s) => s.id).sort(), cs.map((c) => c.socket.id).sort());
        const sioc0 = list.find((s) => s.id === cs[0].socket.id);
        assert.deepEqual(sioc0.rooms.sort(), [cs[0].socket.id, 'fetched'].sort());
        // and from the sioc side, the Node socket is listed too
        const [st2, list2] = await call(cs[0].socket, 'fetch-sockets', 'fetched');
        assert.equal(st2, 0);
        assert.deepEqual(list2.map((s) => s.id).sort(), cs.map((c) => c.socket.id).sort());
    });

    it('serverSideEmit from Node reaches the sioc nodes, acks come back', async (t) => {
        const cs = await clients(t, null, ['auth', 'msg', 'server-side']);
        assert.deepEqual(await call(cs[2].socket, 'server-side-emit', 'hello', 1, 'two'), [0]);
        for (const c of cs.slice(0, 2)) {
            assert.deepEqual(await c.events['server-side'].next(5000), ['hello', 1, 'two']);
        }
        const [status, responses] = await call(cs[2].socket, 'server-side-emit-ack', 'hello', 3);
        assert.equal(status, 0);
        assert.deepEqual(responses, ['sioc-ack', 'sioc-ack']);
        // and from sioc to Node
        assert.deepEqual(await call(cs[0].socket, 'server-side-emit', 'hello', 'x'), [0]);
        assert.deepEqual(await cs[2].events['server-side'].next(5000), ['hello', 'x']);
    });

    it('a Node broadcast with acks counts and collects the sioc clients', async (t) => {
        const cs = await clients(t, 'asked');
        cs.forEach((c, i) => c.socket.on('ask', (q, cb) => cb(`a${i}-${q}`)));
        const [status, answers] = await call(cs[2].socket, 'broadcast-ack', 'asked', 'ask', 'n');
        assert.equal(status, 0);
        assert.deepEqual(answers.sort(), ['a0-n', 'a1-n', 'a2-n']);
        const [st2, ans2] = await call(cs[0].socket, 'broadcast-ack', 'asked', 'ask', 's');
        assert.equal(st2, 0);
        assert.deepEqual(ans2.sort(), ['a0-s', 'a1-s', 'a2-s']);
    });

    it('socketsJoin from the Node side moves sioc sockets', async (t) => {
        const cs = await clients(t, 'from');
        await call(cs[2].socket, 'sockets-join', 'from', 'to');
        await expectOnlyMarker(cs[2].socket, cs);
        await call(cs[2].socket, 'broadcast', 'to', 'moved');
        for (const c of cs) assert.equal((await c.events.msg.next(5000))[0], 'moved');
    });

    it('@socket.io/redis-emitter reaches sioc clients (room and everybody)', async (t) => {
        const cs = await clients(t, 'em');
        const client = await redis.client();
        t.after(() => client.quit());
        const emitter = new Emitter(client);
        emitter.to('em').emit('msg', { via: 'emitter' });
        for (const c of cs) assert.deepEqual((await c.events.msg.next(5000))[0], { via: 'emitter' });
        emitter.emit('msg', 'all');
        for (const c of cs) assert.equal((await c.events.msg.next(5000))[0], 'all');
        emitter.to('em').except(cs[0].socket.id).emit('msg', 'skip0');
        for (const c of cs.slice(1)) assert.equal((await c.events.msg.next(5000))[0], 'skip0');
        emitter.socketsJoin('joined-by-emitter');
        await expectOnlyMarker(cs[1].socket, cs);
        emitter.to('joined-by-emitter').emit('msg', 'joined');
        for (const c of cs) assert.equal((await c.events.msg.next(5000))[0], 'joined');
        await expectOnlyMarker(cs[1].socket, cs);
    });

    it('the sioc nodes exit cleanly', async () => {
        for (const n of nodes) await n.stopAndCheck();
        nodes = [];
    });
});
