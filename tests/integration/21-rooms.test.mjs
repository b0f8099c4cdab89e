// Rooms with several socket.io-client clients against build/echo-server: `join`, `leave`
// and `broadcast` (room, payload) -> `msg` to every member, sender included. "Nobody
// else got it" is checked with a barrier: an `echo` round trip on the non-member's own
// connection, after which anything the server had written to it must have arrived.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture } from './lib/server.mjs';
import { barrier, sioConnect, whenDisconnected } from './lib/sio.mjs';
import { normaliseBinary, toBuffer } from './lib/util.mjs';

const TRANSPORTS = [['websocket'], ['polling'], ['polling', 'websocket']];

/** n connected clients, alternating transports; each has events.msg. */
async function clients(t, srv, n) {
    return Promise.all(Array.from({ length: n }, (_, i) => sioConnect(t, srv,
        { transports: TRANSPORTS[i % TRANSPORTS.length], names: ['auth', 'msg'] })));
}

async function join(c, ...rooms) {
    for (const r of rooms) c.socket.emit('join', r);
    await barrier(c.socket);
}

async function leave(c, room) {
    c.socket.emit('leave', room);
    await barrier(c.socket);
}

/** Asserts each of `members` receives exactly `payload` next. */
async function expectMsg(members, payload) {
    for (const [i, c] of members.entries()) {
        const [got] = await c.events.msg.next(3000);
        assert.deepEqual(normaliseBinary(got), payload, `member ${i}`);
    }
}

/** Asserts none of `others` has received a msg (after a barrier on each). */
async function expectNothing(others) {
    for (const [i, c] of others.entries()) {
        await barrier(c.socket);
        assert.equal(c.events.msg.length, 0, `non-member ${i} got ${c.events.msg.items[0]}`);
    }
}

describe('Socket.IO rooms (join / leave / broadcast)', () => {
    const fx = serverFixture();

    it('a broadcast reaches exactly the room members, sender included', async (t) => {
        const srv = await fx.get();
        const [a, b, c, d] = await clients(t, srv, 4);
        await Promise.all([join(a, 'r1'), join(b, 'r1'), join(c, 'r1'), join(d, 'r2')]);
        a.socket.emit('broadcast', 'r1', { text: 'p1' });
        await expectMsg([a, b, c], { text: 'p1' });
        await expectNothing([d]);
    });

    it('a non-member can broadcast into a room without receiving it', async (t) => {
        const srv = await fx.get();
        const [a, b, d] = await clients(t, srv, 3);
        await Promise.all([join(a, 'room'), join(b, 'room')]);
        d.socket.emit('broadcast', 'room', 'from outside');
        await expectMsg([a, b], 'from outside');
        await expectNothing([d]);
    });

    it('leave stops delivery, the others still get it', async (t) => {
        const srv = await fx.get();
        const [a, b, c] = await clients(t, srv, 3);
        await Promise.all([join(a, 'lv'), join(b, 'lv'), join(c, 'lv')]);
        a.socket.emit('broadcast', 'lv', 1);
        await expectMsg([a, b, c], 1);
        await leave(b, 'lv');
        a.socket.emit('broadcast', 'lv', 2);
        await expectMsg([a, c], 2);
        await expectNothing([b]);
        await leave(a, 'lv');
        await leave(c, 'lv');
        b.socket.emit('broadcast', 'lv', 3);
        await expectNothing([a, b, c]);
    });

    it('joining twice is harmless: one copy per broadcast', async (t) => {
        const srv = await fx.get();
        const [a, b] = await clients(t, srv, 2);
        await join(a, 'twice', 'twice');
        await join(b, 'twice');
        b.socket.emit('broadcast', 'twice', 'once');
        await expectMsg([a, b], 'once');
        await expectNothing([a, b]);
    });

    it('a socket in several rooms gets each room\'s broadcasts', async (t) => {
        const srv = await fx.get();
        const [a, b, c] = await clients(t, srv, 3);
        await Promise.all([join(a, 'x', 'y'), join(b, 'x'), join(c, 'y')]);
        c.socket.emit('broadcast', 'x', 'to-x');
        await expectMsg([a, b], 'to-x');
        b.socket.emit('broadcast', 'y', 'to-y');
        await expectMsg([a, c], 'to-y');
        await expectNothing([a, b, c]);
    });

    it('every socket is in the room named by its id', async (t) => {
        const srv = await fx.get();
        const [a, b, c] = await clients(t, srv, 3);
        a.socket.emit('broadcast', b.socket.id, 'private');
        await expectMsg([b], 'private');
        await expectNothing([a, c]);
    });

    it('a broadcast to an empty or unknown room reaches nobody', async (t) => {
        const srv = await fx.get();
        const [a, b] = await clients(t, srv, 2);
        await join(b, 'someone');
        a.socket.emit('broadcast', 'nobody-here', 'void');
        await expectNothing([a, b]);
    });

    it('binary payloads are broadcast as binary to polling and websocket members',
        async (t) => {
            const srv = await fx.get();
            const members = await clients(t, srv, 6);
            await Promise.all(members.map((m) => join(m, 'bin')));
            const payload = { blob: Buffer.from([0, 1, 2, 250]), list: [Buffer.from('z')] };
            members[0].socket.emit('broadcast', 'bin', payload);
            await expectMsg(members, payload);
            members[1].socket.emit('broadcast', 'bin', Buffer.alloc(2000, 9));
            for (const m of members) {
                assert.ok(toBuffer((await m.events.msg.next())[0]).equals(Buffer.alloc(2000, 9)));
            }
        });

    it('a disconnected member is removed from its rooms; newcomers get later messages',
        async (t) => {
            const srv = await fx.get();
            const [a, b, c] = await clients(t, srv, 3);
            await Promise.all([join(a, 'gone'), join(b, 'gone')]);
            const gone = whenDisconnected(b.socket);
            b.socket.disconnect();
            await gone;
            a.socket.emit('broadcast', 'gone', 'after');
            await expectMsg([a], 'after');
            await join(c, 'gone');
            a.socket.emit('broadcast', 'gone', 'newcomer');
            await expectMsg([a, c], 'newcomer');
            await expectNothing([a, c]);
        });

    it('40 members get 20 broadcasts each, all in the same order', async (t) => {
        const srv = await fx.get();
        const members = await clients(t, srv, 40);
        await Promise.all(members.map((m) => join(m, 'fan')));
        const read = async (m) => {
            const got = [];
            for (let i = 0; i < 20; i++) got.push((await m.events.msg.next(5000))[0]);
            return got;
        };
        // 20 senders: the server's arrival order decides, but it is one order for everyone.
        for (let i = 0; i < 20; i++) members[i].socket.emit('broadcast', 'fan', i);
        const first = await read(members[0]);
        assert.deepEqual([...first].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
        for (const m of members.slice(1)) assert.deepEqual(await read(m), first);
        // One sender: its order.
        for (let i = 0; i < 20; i++) members[0].socket.emit('broadcast', 'fan', `s${i}`);
        const expected = Array.from({ length: 20 }, (_, i) => `s${i}`);
        for (const m of members) assert.deepEqual(await read(m), expected);
    });

    it('server exits cleanly on SIGTERM', () => fx.stopAndCheck());
});
