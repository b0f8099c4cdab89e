// The "python-socketio" wire format (issue 5): sioc nodes beside Open WebUI's Python
// instances (python-socketio >= 5.14 JSON messages, Open WebUI 0.11.5 per-room channels).
//
// Oracle: golden messages written here from redis-adapter-protocol.md §5 and
// openwebui-protocol.md §9 (python-socketio's async_pubsub_manager.py at 5.14+), published
// with the `redis` npm client, and sioc's own emits read back off the channels and checked
// field by field. Debian's python3-socketio is 5.7.2, which still publishes pickle blobs,
// so it cannot serve as the oracle for the JSON format.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from './lib/redis.mjs';
import { call, connect, eventually, expectOnlyMarker, startNodes } from './lib/cluster.mjs';
import { whenDisconnected } from './lib/sio.mjs';
import { Queue, normaliseBinary } from './lib/util.mjs';

const PY_HOST = '0123456789abcdef0123456789abcdef';
const OTHER_HOST = 'fedcba9876543210fedcba9876543210';

/** python-socketio's json.dumps layout: ", " and ": " separators. */
function pyJson(obj) {
    return JSON.stringify(obj).replace(/","/g, '", "').replace(/":/g, '": ')
        .replace(/,\{/g, ', {').replace(/,\[/g, ', [');
}

function emitMsg(fields) {
    return pyJson({
        method: 'emit', event: 'msg', data: [], binary: false, namespace: '/', room: null,
        skip_sid: null, callback: null, host_id: PY_HOST, ...fields,
    });
}

describe('python-socketio format (Open WebUI instances)', () => {
    let redis;
    let nodes = [];
    let pub;
    let sub;
    const seen = new Queue('published');

    before(async () => {
        redis = await startRedis();
        nodes = await startNodes(2, redis.url,
            ['--redis-format', 'python-socketio', '--redis-room-channels']);
        pub = await redis.client();
        sub = await redis.client();
        await sub.subscribe('socketio', (message, channel) => seen.push({ channel, message }));
        await sub.pSubscribe('socketio#*', (message, channel) => seen.push({ channel, message }));
    });

    after(async () => {
        for (const n of nodes) await n.kill();
        await sub?.quit().catch(() => {});
        await pub?.quit().catch(() => {});
        if (redis) await redis.kill();
    });

    /** Waits until both nodes (plus our subscriber) are on the channel. */
    async function ready() {
        await eventually(async () => {
            const n = await pub.sendCommand(['PUBSUB', 'NUMSUB', 'socketio']);
            return Number(n[1]) === 3;
        }, 'both nodes subscribed');
    }

    /** Next message published on a channel matching `re` (skipping others, and the
     *  messages this test published itself, which carry PY_HOST as an emitter). */
    async function nextPublished(re, timeout = 5000) {
        const end = Date.now() + timeout;
        for (;;) {
            const m = await seen.next(Math.max(1, end - Date.now()));
            const msg = JSON.parse(m.message);
            const own = msg.method === 'emit' && [PY_HOST, OTHER_HOST].includes(msg.host_id);
            if (re.test(m.channel) && !own) return m;
        }
    }

    it('a golden emit to everybody reaches the clients of every sioc node', async (t) => {
        await ready();
        const cs = [await connect(t, nodes[0]), await connect(t, nodes[1])];
        await pub.publish('socketio', emitMsg({ data: ['hello', { a: 1 }] }));
        for (const c of cs) assert.deepEqual(await c.events.msg.next(5000), ['hello', { a: 1 }]);
    });

    it('room emits on per-room channels reach members only; skip_sid is honoured', async (t) => {
        await ready();
        const cs = [await connect(t, nodes[0]), await connect(t, nodes[1]), await connect(t, nodes[1])];
        for (const c of cs.slice(0, 2)) await call(c.socket, 'join', 'user:42');
        await pub.publish('socketio#/#user:42', emitMsg({ data: ['r'], room: 'user:42' }));
        for (const c of cs.slice(0, 2)) assert.deepEqual(await c.events.msg.next(5000), ['r']);
        await pub.publish('socketio', emitMsg({ data: ['s'], room: 'user:42', skip_sid: cs[0].socket.id }));
        assert.deepEqual(await cs[1].events.msg.next(5000), ['s']);
        await pub.publish('socketio', emitMsg({ data: ['l'], room: ['user:42', cs[2].socket.id],
            skip_sid: [cs[1].socket.id] }));
        for (const c of [cs[0], cs[2]]) assert.deepEqual(await c.events.msg.next(5000), ['l']);
        await pub.publish('socketio', emitMsg({ data: ['own'], host_id: OTHER_HOST, room: null }));
        for (const c of cs) assert.deepEqual(await c.events.msg.next(5000), ['own']);
        for (const c of cs) assert.equal(c.events.msg.length, 0);
    });

    it('a binary emit (5.14.2 base64 convention) arrives as binary', async (t) => {
        await ready();
        const c = await connect(t, nodes[1]);
        await pub.publish('socketio', emitMsg({ binary: true,
            data: [['file', { _placeholder: true, num: 0 }], Buffer.from([1, 2, 3, 255]).toString('base64')] }));
        const got = await c.events.msg.next(5000);
        assert.deepEqual(normaliseBinary(got), ['file', Buffer.from([1, 2, 3, 255])]);
    });

    it('enter_room, leave_room, close_room and disconnect act on the sid owner', async (t) => {
        await ready();
        const [a, b] = [await connect(t, nodes[0]), await connect(t, nodes[1])];
        await pub.publish('socketio', pyJson({ method: 'enter_room', sid: a.socket.id, room: 'chan',
            namespace: '/', host_id: PY_HOST }));
        await eventually(async () => {
            await pub.publish('socketio', emitMsg({ data: ['probe'], room: 'chan' }));
            const [got] = await a.events.msg.next(300);
            return got === 'probe';
        }, 'the enter_room applied');
        await pub.publish('socketio', pyJson({ method: 'close_room', room: 'chan', namespace: '/',
            host_id: PY_HOST }));
        await pub.publish('socketio', emitMsg({ data: ['closed?'], room: 'chan' }));
        await pub.publish('socketio', emitMsg({ data: ['after'], room: a.socket.id }));
        while (a.events.msg.length && a.events.msg.items[0][0] === 'probe') a.events.msg.items.shift();
        assert.deepEqual(await a.events.msg.next(5000), ['after']);
        const gone = whenDisconnected(b.socket);
        await pub.publish('socketio', pyJson({ method: 'disconnect', sid: b.socket.id, namespace: '/',
            host_id: PY_HOST }));
        assert.equal(await gone, 'io server disconnect');
    });

    it('an emit with a callback (sio.call from Python) is acked back to the caller host', async (t) => {
        await ready();
        const a = await connect(t, nodes[1]);
        a.socket.on('question', (q, cb) => cb({ answer: q * 2 }));
        await pub.publish('socketio', emitMsg({ event: 'question', data: [21], room: a.socket.id,
            callback: [a.socket.id, '/', 7] }));
        let m;
        do m = await nextPublished(/^socketio$/); while (!m.message.includes('"callback", '));
        const cb = JSON.parse(m.message);
        assert.deepEqual(cb, { method: 'callback', host_id: PY_HOST, sid: a.socket.id,
            namespace: '/', id: 7, args: [{ answer: 42 }] });
        assert.match(m.message, /^\{"method": "callback", /);
    });

    it('sioc emits are published as python-socketio messages, field by field', async (t) => {
        await ready();
        const a = await connect(t, nodes[0]);
        const b = await connect(t, nodes[1]);
        await call(a.socket, 'join', 'room1');
        await call(b.socket, 'join', 'room1');
        while (seen.length) seen.items.shift();
        await call(a.socket, 'broadcast', 'room1', { t: 'é' }, 2.5);
        const m = await nextPublished(/^socketio#\/#room1$/);
        assert.match(m.message, /^\{"method": "emit", "event": "msg", "data": \[/);
        assert.ok(m.message.includes('\\u00e9'), `ASCII-escaped like json.dumps: ${m.message}`);
        const msg = JSON.parse(m.message);
        assert.deepEqual(Object.keys(msg), ['method', 'event', 'data', 'binary', 'namespace', 'room',
            'skip_sid', 'callback', 'host_id']);
        assert.deepEqual(msg.data, [{ t: 'é' }, 2.5]);
        assert.equal(msg.binary, false);
        assert.equal(msg.namespace, '/');
        assert.equal(msg.room, 'room1');
        assert.equal(msg.skip_sid, null);
        assert.equal(msg.callback, null);
        assert.match(msg.host_id, /^[0-9a-f]{32}$/);
        // the other sioc node delivered it (exactly once)
        assert.deepEqual(await b.events.msg.next(5000), [{ t: 'é' }, 2.5]);
        assert.deepEqual(await a.events.msg.next(5000), [{ t: 'é' }, 2.5]);
        await call(a.socket, 'emit-except', b.socket.id, 'all-but-b');
        const m2 = await nextPublished(/^socketio$/);
        const msg2 = JSON.parse(m2.message);
        assert.equal(msg2.room, null);
        assert.equal(msg2.skip_sid, b.socket.id);
        assert.deepEqual(msg2.data, ['all-but-b']);
        assert.deepEqual(await a.events.msg.next(5000), ['all-but-b']);
        await expectOnlyMarker(a.socket, [a, b]);
    });

    it('cross-node acks between sioc nodes (sio.call to a remote sid)', async (t) => {
        await ready();
        const a = await connect(t, nodes[0]);
        const b = await connect(t, nodes[1]);
        b.socket.on('ask', (q, cb) => cb(`b:${q}`));
        const [status, answers] = await call(a.socket, 'broadcast-ack', b.socket.id, 'ask', 'hi');
        assert.equal(status, 0);
        assert.deepEqual(answers, ['b:hi']);
    });

    it('a node without members drops per-room traffic unread', async (t) => {
        await ready();
        const a = await connect(t, nodes[0]);
        const b = await connect(t, nodes[1]);
        await call(a.socket, 'join', 'solo');
        const [before] = await call(b.socket, 'cluster-stats');
        for (let i = 0; i < 10; i++) await call(a.socket, 'broadcast', 'solo', i);
        for (let i = 0; i < 10; i++) assert.deepEqual(await a.events.msg.next(5000), [i]);
        await expectOnlyMarker(a.socket, [a, b]);
        const [afterStats] = await call(b.socket, 'cluster-stats');
        assert.ok(afterStats.filtered - before.filtered >= 10, JSON.stringify([before, afterStats]));
    });

    it('the nodes exit cleanly', async () => {
        for (const n of nodes) await n.stopAndCheck();
        nodes = [];
    });
});
