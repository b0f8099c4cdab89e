// The `sioc` program: admin commands, configuration, connection authentication
// (openwebui-protocol.md §1, §2, §3.2, §3.3, §13) against the real build/sioc with the real
// socket.io-client, on a fresh SQLite file (or DATABASE_URL's PostgreSQL).
import { test, describe, before, after } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { App, SIOC, addChannel, addChat, collect, eventually, next, signJwt, sleep, uid, SLOW } from './70-app-lib.mjs';
import { execFileSync } from 'node:child_process';

const KEY = 'emit-key-' + crypto.randomBytes(6).toString('hex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function decodeJwt(t) {
    const [h, p] = t.split('.');
    return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

describe('admin commands', () => {
    let app;
    before(() => { app = new App(); });

    test('user add prints only the new id; token prints an HS256 JWT with the configured expiry', () => {
        const email = `Ann-${uid().slice(0, 6)}@Example.com`;
        const r = app.cli(['user', 'add', '--email', email, '--name', 'Ann', '--role', 'admin', '--password', 'secret']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
        const id = r.stdout.trim();
        assert.match(id, UUID);
        const row = app.sql(`SELECT email, name, role FROM "user" WHERE id = '${id}'`);
        assert.equal(row, `${email.toLowerCase()}|Ann|admin`);
        const hash = app.sql(`SELECT password FROM auth WHERE id = '${id}'`);
        assert.match(hash, /^\$2b\$12\$[./A-Za-z0-9]{53}$/);

        const t = app.cli(['token', '--email', email.toUpperCase()]);
        assert.equal(t.code, 0, t.stderr);
        const tok = t.stdout.trim();
        assert.equal(t.stdout, tok + '\n');
        const { header, payload } = decodeJwt(tok);
        assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
        assert.equal(payload.id, id);
        const now = Math.floor(Date.now() / 1000);
        assert.ok(Math.abs(payload.exp - (now + 28 * 86400)) <= 5, `exp ${payload.exp}`);
        assert.ok(Math.abs(payload.iat - now) <= 5);
        assert.match(payload.jti, UUID);
        const [h, p, s] = tok.split('.');
        assert.equal(crypto.createHmac('sha256', app.secret).update(`${h}.${p}`).digest('base64url'), s);

        const never = app.cli(['token', '--email', email], { JWT_EXPIRES_IN: '-1' });
        assert.equal(never.code, 0);
        assert.equal(decodeJwt(never.stdout.trim()).payload.exp, undefined);
        const short = app.cli(['token', '--email', email, '--jwt-expires-in', '2h30m']);
        assert.ok(Math.abs(decodeJwt(short.stdout.trim()).payload.exp - (now + 9000)) <= 5);
    });

    test('bad input exits non-zero with a message and nothing on stdout', () => {
        const email = `dup-${uid().slice(0, 6)}@example.com`;
        assert.equal(app.cli(['user', 'add', '--email', email, '--name', 'D', '--role', 'user', '--password', 'x']).code, 0);
        const cases = [
            [['user', 'add', '--email', email, '--name', 'D', '--role', 'user', '--password', 'x'], /already exists/],
            [['user', 'add', '--email', 'x@y.z', '--name', 'D', '--role', 'root', '--password', 'x'], /role/],
            [['user', 'add', '--email', 'x@y.z', '--name', 'D', '--role', 'user'], /--password/],
            [['user', 'add', '--email', 'nope', '--name', 'D', '--role', 'user', '--password', 'x'], /email/],
            [['user', 'add', '--email', 'x@y.z', '--name', 'D', '--role', 'user', '--password', 'x'.repeat(73)], /72/],
            [['token', '--email', `missing-${uid()}@example.com`], /no user/],
            [['token'], /--email/],
            [['user', 'del'], /unknown command/],
            [['frobnicate'], /unknown command/],
            [['--port', 'eighty'], /bad value/],
            [['--no-such-flag', '1'], /unknown flag/],
            [['token', '--email', email, '--jwt-expires-in', '4x'], /JWT_EXPIRES_IN/],
        ];
        for (const [args, re] of cases) {
            const r = app.cli(args);
            assert.notEqual(r.code, 0, args.join(' '));
            assert.equal(r.stdout, '', args.join(' '));
            assert.match(r.stderr, re, args.join(' '));
        }
    });

    test('--help lists a flag and the variable of every setting', () => {
        const out = execFileSync(SIOC, ['--help'], { encoding: 'utf8' });
        for (const v of ['ENABLE_WEBSOCKET_SUPPORT', 'WEBSOCKET_SERVER_PING_INTERVAL', 'WEBSOCKET_SERVER_PING_TIMEOUT',
            'CORS_ALLOW_ORIGIN', 'WEBUI_SECRET_KEY', 'JWT_EXPIRES_IN', 'DATABASE_URL', 'GLOBAL_LOG_LEVEL',
            'WEBSOCKET_HEARTBEAT_INTERVAL', 'WEBSOCKET_EVENT_CALLER_TIMEOUT', 'WEBSOCKET_MANAGER', 'WEBSOCKET_REDIS_URL',
            'WEBSOCKET_SENTINEL_HOSTS', 'WEBSOCKET_REDIS_LOCK_TIMEOUT', 'REDIS_KEY_PREFIX', 'ENABLE_PUBLIC_ACTIVE_USERS_COUNT']) {
            assert.match(out, new RegExp(`env ${v}\\b`), v);
        }
        for (const f of ['--host', '--port', '--data-dir', '--web-root', '--enable-websocket-support', '--emit-api-key']) {
            assert.ok(out.includes(f), f);
        }
    });
});

describe('server', () => {
    let app, alice, bob, pending;
    before(async () => {
        app = await App.start({ env: { SIOC_EMIT_API_KEY: KEY } });
        alice = app.addUser({ name: 'Alice' });
        bob = app.addUser({ name: 'Bob', role: 'admin' });
        pending = app.addUser({ name: 'Pat', role: 'pending' });
    });
    after(async () => {
        const r = await app.stop();
        assert.equal(r.code, 0, `exit ${JSON.stringify(r)}\n${app.stderr}`);
        assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    });

    const emitChat = (userId, data) => app.http('/api/v1/socket/chat/event', {
        method: 'POST', headers: { authorization: `Bearer ${KEY}` },
        body: { user_id: userId, chat_id: `local:${uid()}`, message_id: uid(), data },
    });

    test('connect with a token, then user-join acks {id, name}; the socket is in user:{id}', async () => {
        const s = await app.connect(alice.token);
        const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: alice.token } });
        assert.deepEqual(ack, { id: alice.id, name: 'Alice' });
        const got = next(s, 'events');
        const r = await emitChat(alice.id, { type: 'status', data: { description: 'x' } });
        assert.equal(r.status, 200, r.text);
        const ev = await got;
        assert.equal(ev.data.type, 'status');
        s.close();
    });

    test('the CONNECT auth alone puts the socket in its user room (no user-join needed)', async () => {
        const s = await app.connect(bob.token);
        const got = next(s, 'events');
        await emitChat(bob.id, { type: 'chat:title', data: 'hello' });
        assert.equal((await got).data.data, 'hello');
        s.close();
    });

    test('an anonymous socket authenticates later with user-join', async () => {
        const s = await app.connect();
        const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: bob.token } });
        assert.deepEqual(ack, { id: bob.id, name: 'Bob' });
        const got = next(s, 'events');
        await emitChat(bob.id, { type: 'chat:title', data: 'later' });
        assert.equal((await got).data.data, 'later');
        s.close();
    });

    test('heartbeat updates user.last_active_at (epoch seconds)', async () => {
        app.sql(`UPDATE "user" SET last_active_at = 5 WHERE id = '${alice.id}'`);
        const s = await app.connect(alice.token);
        await s.timeout(3000).emitWithAck('heartbeat', {});
        const now = Math.floor(Date.now() / 1000);
        const v = await eventually(() => {
            const x = Number(app.sql(`SELECT last_active_at FROM "user" WHERE id = '${alice.id}'`));
            return x > 5 ? x : 0;
        }, 3000, 'last_active_at');
        assert.ok(v >= now - 5 && v <= now + 5, `last_active_at ${v} vs ${now}`);
        s.close();
    });

    // A socket whose token was refused stays connected but every handler ignores it.
    async function assertAnonymous(s, token, victim) {
        assert.ok(s.connected);
        const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token } });
        assert.equal(ack, undefined, 'user-join must ack nothing');
        app.sql(`UPDATE "user" SET last_active_at = 7 WHERE id = '${victim.id}'`);
        const channel = addChannel(app, victim.id, { members: [victim.id] });
        const { chatId } = addChat(app, victim.id);
        const model = `model-${uid()}`;
        const events = collect(s, 'events');
        const channelEvents = collect(s, 'events:channel');
        const states = collect(s, 'ydoc:document:state');
        await s.timeout(3000).emitWithAck('heartbeat', {});
        await s.timeout(3000).emitWithAck('usage', { model, action: 'chat', chat_id: chatId });
        await s.timeout(3000).emitWithAck('join-channels', { auth: { token } });
        await s.timeout(3000).emitWithAck('events:chat', { chat_id: chatId, data: { type: 'last_read_at' } });
        await s.timeout(3000).emitWithAck('events:channel', { channel_id: channel, message_id: null, data: { type: 'typing', data: { typing: true } } });
        await s.timeout(3000).emitWithAck('events:channel', { channel_id: channel, message_id: null, data: { type: 'last_read_at' } });
        s.emit('ydoc:document:join', { document_id: `shared-${uid()}`, user_id: 'x', user_name: 'x', user_color: '#000000' });
        await emitChat(victim.id, { type: 'status', data: { description: 'secret' } });
        await app.http('/api/v1/socket/emit', { method: 'POST', headers: { authorization: `Bearer ${KEY}` },
            body: { event: 'events:channel', data: { probe: 1 }, room: `channel:${channel}` } });
        await sleep(300);
        assert.deepEqual(events, []);
        assert.deepEqual(channelEvents, []);
        assert.deepEqual(states, []);
        assert.equal(app.sql(`SELECT last_active_at FROM "user" WHERE id = '${victim.id}'`), '7');
        assert.equal(app.sql(`SELECT last_read_at FROM chat WHERE id = '${chatId}'`), '');
        const usage = await app.http('/api/usage', { headers: { authorization: `Bearer ${KEY}` } });
        assert.equal(usage.status, 200);
        assert.ok(!usage.json.model_ids.includes(model));
    }

    const now = () => Math.floor(Date.now() / 1000);
    const badTokens = {
        'a garbage token': () => 'not-a-jwt',
        'a token signed with another key': () => signJwt({ id: alice.id, exp: now() + 600, jti: uid(), iat: now() }, 'wrong-key'),
        'an expired token': () => app.forgeToken(alice.id, { exp: now() - 10 }),
        'an alg:none token': () => {
            const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
            const p = Buffer.from(JSON.stringify({ id: alice.id, exp: now() + 600 })).toString('base64url');
            return `${h}.${p}.`;
        },
        'an HS512 token with the right key': () => {
            const h = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');
            const p = Buffer.from(JSON.stringify({ id: alice.id, exp: now() + 600 })).toString('base64url');
            const sig = crypto.createHmac('sha512', app.secret).update(`${h}.${p}`).digest('base64url');
            return `${h}.${p}.${sig}`;
        },
        'a token without an id claim': () => signJwt({ exp: now() + 600, sub: alice.id }, app.secret),
        'a token of an unknown user': () => app.forgeToken(uid()),
        'a token of a pending user': () => pending.token,
    };
    for (const [name, make] of Object.entries(badTokens)) {
        test(`${name} leaves an anonymous socket that every handler refuses`, async () => {
            const token = make();
            const victim = name.includes('pending') ? pending : alice;
            const s = await app.connect(token);
            await assertAnonymous(s, token, victim);
            s.close();
        });
    }

    test('no token at all and a non-string token are anonymous too', async () => {
        for (const auth of [undefined, { token: 12 }, { token: null }, { token: { id: alice.id } }]) {
            const s = await app.connect(undefined, auth ? { auth } : {});
            await assertAnonymous(s, 'x', alice);
            s.close();
        }
    });

    test('malformed payloads do not break the server', async () => {
        const s = await app.connect(alice.token);
        for (const ev of ['user-join', 'join-channels', 'join-note', 'heartbeat', 'usage', 'events:channel', 'events:chat']) {
            for (const p of [null, 1, 'str', [], {}, { auth: 5 }, { auth: { token: 5 } }, { channel_id: 5, data: 'x' },
                { chat_id: [], data: { type: 5 } }, { model: { a: 1 } }, { note_id: 'x'.repeat(5000) }]) {
                s.emit(ev, p);
            }
        }
        s.emit('user-join');
        s.emit('no-such-event', { a: 1 });
        const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: alice.token } });
        assert.deepEqual(ack, { id: alice.id, name: 'Alice' });
        s.close();
    });
});

describe('transports and the websocket guard', () => {
    test('default: websocket only; a websocket request without upgrade headers gets 400', async () => {
        const app = await App.start();
        const u = app.addUser({ name: 'W' });
        const poll = await app.http('/ws/socket.io/?EIO=4&transport=polling');
        assert.equal(poll.status, 400);
        const guard = await app.http('/ws/socket.io/?EIO=4&transport=websocket');
        assert.equal(guard.status, 400);
        assert.deepEqual(guard.json, { detail: 'Invalid WebSocket upgrade request' }, 'Open WebUI\'s body (spec §1.1)');
        // Upgrade without "Connection: upgrade" (fetch refuses to send an Upgrade header: raw request)
        const half = await new Promise((resolve, reject) => {
            const c = net.connect(Number(new URL(app.url).port), '127.0.0.1');
            let data = '';
            c.on('connect', () => c.write('GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
                'Host: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n'));
            c.on('data', (d) => { data += d; });
            c.on('end', () => resolve(data));
            c.on('error', reject);
        });
        assert.match(half, /^HTTP\/1\.1 400 /);
        assert.match(half, /\{"detail":"Invalid WebSocket upgrade request"\}$/, 'Upgrade without Connection: upgrade');
        const other = await app.http('/ws/socket.io/?EIO=4&transport=bogus');
        assert.deepEqual(other.json, { code: 0, message: 'Transport unknown' }, 'other refusals keep Engine.IO\'s body');
        const s = await app.connect(u.token);
        assert.equal(s.io.engine.transport.name, 'websocket');
        s.close();
        assert.equal((await app.stop()).code, 0);
    });

    test('ENABLE_WEBSOCKET_SUPPORT=false: polling only, no upgrade offered', async () => {
        const app = await App.start({ env: { ENABLE_WEBSOCKET_SUPPORT: 'False' } });
        const u = app.addUser({ name: 'P' });
        const hs = await app.http('/ws/socket.io/?EIO=4&transport=polling');
        assert.equal(hs.status, 200);
        const open = JSON.parse(hs.text.slice(1));
        assert.deepEqual(open.upgrades, []);
        assert.equal(open.pingInterval, 25000);
        assert.equal(open.maxPayload, 1000000);
        const s = await app.connect(u.token, { transports: ['polling'] });
        const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: u.token } });
        assert.equal(ack.id, u.id);
        assert.equal(s.io.engine.transport.name, 'polling');
        s.close();
        assert.equal((await app.stop()).code, 0);
    });

    test('ping settings come from WEBSOCKET_SERVER_PING_* (flags win over the environment)', async () => {
        const app = await App.start({ env: { ENABLE_WEBSOCKET_SUPPORT: 'false', WEBSOCKET_SERVER_PING_INTERVAL: '7',
            WEBSOCKET_SERVER_PING_TIMEOUT: 'junk' }, args: ['--websocket-server-ping-interval', '9'] });
        const hs = await app.http('/ws/socket.io/?EIO=4&transport=polling');
        const open = JSON.parse(hs.text.slice(1));
        assert.equal(open.pingInterval, 9000);
        assert.equal(open.pingTimeout, 20000); /* a bad value falls back to the default */
        assert.match(app.stderr, /WEBSOCKET_SERVER_PING_TIMEOUT='junk' is not valid/);
        assert.equal((await app.stop()).code, 0);
    });

    test('unknown HTTP paths get a JSON 404; the API rejects wrong methods', async () => {
        const app = await App.start();
        const r = await app.http('/nothing/here');
        assert.equal(r.status, 404);
        assert.deepEqual(r.json, { detail: 'Not Found' });
        assert.equal((await app.http('/api/v1/socket/emit')).status, 405);
        assert.equal((await app.stop()).code, 0);
    });
});
