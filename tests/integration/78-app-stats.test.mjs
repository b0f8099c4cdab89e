// The live counters of the `sioc` program (issue 6): GET /api/sioc/stats (JSON for the web
// client's dashboard) and GET /metrics (Prometheus text, admins only). The counts must follow
// what clients actually do: connections by transport, rooms, events in and out, bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { App, eventually, next } from './70-app-lib.mjs';

let app;
before(async () => { app = await App.start(); });
after(async () => { await app?.stop(); });

const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function stats(token) {
    const r = await app.http('/api/sioc/stats', { headers: bearer(token) });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

test('stats: needs a verified user; counts follow connections, rooms and events', async () => {
    assert.equal((await app.http('/api/sioc/stats')).status, 401);
    const pending = app.addUser({ role: 'pending', name: 'Pend' });
    assert.notEqual((await app.http('/api/sioc/stats', { headers: bearer(pending.token) })).status, 200);

    const u = app.addUser({ name: 'Stat' });
    const s0 = await stats(u.token);
    for (const k of ['sockets', 'rooms', 'events_in', 'events_out', 'bytes_in', 'bytes_out',
        'connections_accepted', 'slow_consumer_disconnects', 'db_queue', 'uptime_s'])
        assert.equal(typeof s0[k], 'number', k);
    assert.equal(s0.redis, 'off');
    assert.equal(s0.adapter, 'local');

    const ws = await app.connect(u.token);
    const ws2 = await app.connect(u.token);
    // user-join puts both tabs in user:{id}
    await ws.emitWithAck('user-join', { auth: { token: u.token } });
    await ws2.emitWithAck('user-join', { auth: { token: u.token } });
    const s1 = await stats(u.token);
    assert.equal(s1.connections.websocket - s0.connections.websocket, 2);
    assert.equal(s1.connections.polling, 0, 'Open WebUI default: websocket only');
    assert.equal(s1.sockets - s0.sockets, 2);
    assert.ok(s1.rooms >= s0.rooms + 1, `the user room is counted: ${s0.rooms} -> ${s1.rooms}`);
    assert.ok(s1.events_in - s0.events_in >= 2, 'two user-join events in');
    assert.ok(s1.bytes_in > s0.bytes_in && s1.bytes_out > s0.bytes_out);

    // a backend emit to the user's room reaches both tabs: two events out
    const key = 'k-stats';
    await app.stop();
    app = await App.start({ env: { SIOC_EMIT_API_KEY: key, WEBUI_SECRET_KEY: app.secret }, dir: app.dir });
    const a = await app.connect(u.token);
    const b = await app.connect(u.token);
    await a.emitWithAck('user-join', { auth: { token: u.token } });
    await b.emitWithAck('user-join', { auth: { token: u.token } });
    const before = await stats(u.token);
    const got = [next(a, 'ping-stats'), next(b, 'ping-stats')];
    const r = await app.http('/api/v1/socket/emit', {
        method: 'POST', headers: bearer(key),
        body: { event: 'ping-stats', data: { n: 1 }, room: `user:${u.id}` },
    });
    assert.equal(r.status, 200, r.text);
    await Promise.all(got);
    const after = await stats(u.token);
    assert.equal(after.events_out - before.events_out, 2);

    a.close();
    b.close();
    await eventually(async () => (await stats(u.token)).sockets === before.sockets - 2, 3000, 'sockets gone');
});

test('metrics: Prometheus text for admins, 403 for users, 401 without a token', async () => {
    assert.equal((await app.http('/metrics')).status, 401);
    const user = app.addUser({ name: 'Plain' });
    assert.equal((await app.http('/metrics', { headers: bearer(user.token) })).status, 403);
    const admin = app.addUser({ role: 'admin', name: 'Ops' });
    const s = await app.connect(admin.token);
    const res = await fetch(`${app.url}/metrics`, { headers: bearer(admin.token) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const sample = (name) => {
        const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text);
        assert.ok(m, `${name} in\n${text}`);
        return Number(m[1]);
    };
    assert.ok(sample('sioc_connections{transport="websocket"}') >= 1);
    assert.equal(sample('sioc_connections{transport="polling"}'), 0);
    assert.ok(sample('sioc_events_total{direction="in"}') >= 0);
    assert.ok(sample('sioc_bytes_total{direction="out"}') > 0);
    assert.ok(sample('sioc_uptime_seconds') >= 0);
    assert.equal(typeof sample('sioc_db_queue'), 'number');
    assert.doesNotMatch(text, /^sioc_redis_up /m, 'no Redis configured: no sample');
    for (const line of text.trim().split('\n'))
        assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[\w]+"\})? \d+)$/, line);
    s.close();
});

test('stats: polling clients are counted as polling (ENABLE_WEBSOCKET_SUPPORT=false)', async () => {
    const p = await App.start({ env: { ENABLE_WEBSOCKET_SUPPORT: 'false' } });
    try {
        const u = p.addUser({ name: 'Poll' });
        const c = io(p.url, {
            path: '/ws/socket.io', transports: ['polling'], reconnection: false, forceNew: true,
            auth: { token: u.token },
        });
        p.sockets.add(c);
        await new Promise((resolve, reject) => { c.once('connect', resolve); c.once('connect_error', reject); });
        const r = await p.http('/api/sioc/stats', { headers: bearer(u.token) });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.connections.polling, 1);
        assert.equal(r.json.connections.websocket, 0);
    } finally {
        await p.stop();
    }
});
