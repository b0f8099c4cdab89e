// The REST routes of the `sioc` program (issue 6, app_rest_*.c) with Open WebUI's paths,
// payloads and status codes: /api/config, sign-up / sign-in / current user, channels (list
// with unread counts, create, messages, post -> events:channel to another user's socket),
// notes (CRUD and access), /api/models (echo fallback and an upstream), and the access
// checks of every route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { App, next, uid } from './70-app-lib.mjs';
import { startFakeOpenAI } from './lib/fake-openai.mjs';

let app;
before(async () => { app = await App.start(); });
after(async () => { await app?.stop(); });

const NOT_AUTH = 'Not authenticated';
const INVALID_CRED = 'The email or password provided is incorrect. Please check for typos and try logging in again.';
const ACCESS = 'You do not have permission to access this resource. Please contact your administrator for assistance.';

const bearer = (t) => ({ authorization: `Bearer ${t}` });

const email = (n) => `${n}-${uid().slice(0, 8)}@Example.com`;

async function signup(a, name, password = 'pw-123456') {
    const r = await a.http('/api/v1/auths/signup', { method: 'POST', body: { name, email: email(name), password } });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

test('GET /api/config: public, with features.enable_websocket and the sign-up switch', async () => {
    const r = await app.http('/api/config');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, true);
    assert.equal(r.json.name, 'sioc');
    assert.equal(typeof r.json.version, 'string');
    assert.equal(r.json.features.enable_websocket, true);
    assert.equal(r.json.features.enable_signup, true);
    assert.equal(r.json.features.auth, true);
    assert.equal(r.json.features.enable_channels, undefined, 'anonymous: no user features');
    const u = app.addUser({ name: 'Cfg' });
    const r2 = await app.http('/api/config', { headers: bearer(u.token) });
    assert.equal(r2.json.features.enable_channels, true);
    const r3 = await app.http('/api/config', { method: 'POST', body: {} });
    assert.equal(r3.status, 405);
});

test('sign-up: the first user becomes admin, later ones get DEFAULT_USER_ROLE; sign-in and the current user', async () => {
    const fresh = await App.start({ env: { DEFAULT_USER_ROLE: 'user' } });
    try {
        const before = Number(fresh.sql('SELECT COUNT(*) FROM "user"'));
        const first = await signup(fresh, 'First');
        assert.equal(first.role, before === 0 ? 'admin' : 'user');
        assert.equal(first.token_type, 'Bearer');
        assert.match(first.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
        assert.equal(first.email, first.email.toLowerCase(), 'email stored lower-cased');
        assert.equal(typeof first.expires_at, 'number');
        const second = await signup(fresh, 'Second');
        assert.equal(second.role, 'user');

        const me = await fresh.http('/api/v1/auths/', { headers: bearer(second.token) });
        assert.equal(me.status, 200);
        assert.equal(me.json.id, second.id);
        assert.equal(me.json.email, second.email);
        assert.equal(me.json.token, second.token);

        // sign-in: right password (with the email in another case), cookie set
        const ok = await fresh.http('/api/v1/auths/signin', { method: 'POST', body: { email: second.email.toUpperCase(), password: 'pw-123456' } });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.id, second.id);
        assert.equal(ok.json.role, 'user');
        const res = await fetch(fresh.url + '/api/v1/auths/signin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: second.email, password: 'pw-123456' }) });
        const cookie = res.headers.get('set-cookie');
        assert.match(cookie, /^token=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly;/);
        const viaCookie = await fresh.http('/api/v1/auths/', { headers: { cookie: `theme=dark; ${cookie.split(';')[0]}` } });
        assert.equal(viaCookie.status, 200);
        assert.equal(viaCookie.json.id, second.id);

        // wrong password and unknown email: the same 400
        const bad = await fresh.http('/api/v1/auths/signin', { method: 'POST', body: { email: second.email, password: 'nope' } });
        assert.equal(bad.status, 400);
        assert.equal(bad.json.detail, INVALID_CRED);
        const unknown = await fresh.http('/api/v1/auths/signin', { method: 'POST', body: { email: email('ghost'), password: 'nope' } });
        assert.equal(unknown.status, 400);
        assert.equal(unknown.json.detail, INVALID_CRED);

        // the same email again
        const dup = await fresh.http('/api/v1/auths/signup', { method: 'POST', body: { name: 'X', email: second.email, password: 'pw-123456' } });
        assert.equal(dup.status, 400);
        assert.match(dup.json.detail, /already registered/);
        // malformed input
        for (const body of ['not json', '[]', { email: 'x@y.z' }, { name: 'n', email: 'bad', password: 'p' },
            { name: 'n', email: email('e'), password: 'x'.repeat(73) }, { name: 7, email: email('e'), password: 'p' }]) {
            const r = await fresh.http('/api/v1/auths/signup', { method: 'POST', body });
            assert.ok([400, 422].includes(r.status), `${JSON.stringify(body)} -> ${r.status}`);
            assert.equal(typeof r.json.detail, 'string');
        }
    } finally {
        await fresh.stop();
    }
});

test('sign-up: pending by default, refused with ENABLE_SIGNUP=false once users exist; pending users are refused by verified routes', async () => {
    const a = await App.start({});
    try {
        a.addUser({ role: 'admin', name: 'Adm' }); // a user exists: later sign-ups are not first
        const p = await signup(a, 'Pend');
        assert.equal(p.role, 'pending');
        const me = await a.http('/api/v1/auths/', { headers: bearer(p.token) });
        assert.equal(me.status, 200, 'the current user works for pending users');
        assert.equal(me.json.role, 'pending');
        const ch = await a.http('/api/v1/channels/', { headers: bearer(p.token) });
        assert.equal(ch.status, 401);
        assert.equal(ch.json.detail, ACCESS);
    } finally {
        await a.stop();
    }
    const closed = await App.start({ env: { ENABLE_SIGNUP: 'false' } });
    try {
        closed.addUser({ name: 'Someone' });
        const r = await closed.http('/api/v1/auths/signup', { method: 'POST', body: { name: 'N', email: email('n'), password: 'pw-123456' } });
        assert.equal(r.status, 403);
        assert.equal(r.json.detail, ACCESS);
        assert.equal((await closed.http('/api/config')).json.features.enable_signup, false);
    } finally {
        await closed.stop();
    }
});

test('sign-in is rate-limited per email (429 after 15 attempts)', async () => {
    const u = app.addUser({ name: 'Limited' });
    let last;
    for (let i = 0; i < 16; i++)
        last = await app.http('/api/v1/auths/signin', { method: 'POST', body: { email: u.email, password: 'wrong' } });
    assert.equal(last.status, 429);
    const other = app.addUser({ name: 'NotLimited' });
    const ok = await app.http('/api/v1/auths/signin', { method: 'POST', body: { email: other.email, password: 'pw-123456' } });
    assert.equal(ok.status, 200);
});

test('every route checks the caller: no token 401, bad token 401', async () => {
    const routes = [
        ['GET', '/api/models'], ['POST', '/api/chat/completions'], ['GET', '/api/tasks/chat/x'],
        ['POST', '/api/tasks/chat/x/stop'], ['GET', '/api/v1/auths/'], ['GET', '/api/v1/channels/'],
        ['POST', '/api/v1/channels/create'], ['GET', '/api/v1/channels/x/messages'],
        ['POST', '/api/v1/channels/x/messages/post'], ['GET', '/api/v1/notes/'], ['POST', '/api/v1/notes/create'],
        ['GET', '/api/v1/notes/x'], ['POST', '/api/v1/notes/x/update'], ['POST', '/api/v1/chats/new'], ['GET', '/api/v1/chats/x'],
        ['GET', '/api/v1/channels/x'], ['GET', '/api/v1/chats/'], ['POST', '/api/v1/chats/x'],
    ];
    const forged = app.forgeToken(uid()); // well signed, unknown user
    for (const [method, p] of routes) {
        const body = method === 'POST' ? {} : undefined;
        const none = await app.http(p, { method, body });
        assert.equal(none.status, 401, `${method} ${p}`);
        assert.equal(none.json.detail, NOT_AUTH);
        const bad = await app.http(p, { method, body, headers: bearer('a.b.c') });
        assert.equal(bad.status, 401, `${method} ${p} bad token`);
        const unknown = await app.http(p, { method, body, headers: bearer(forged) });
        assert.equal(unknown.status, 401, `${method} ${p} unknown user`);
    }
});

test('channels: admin creates, users list with unread counts, a post reaches another user\'s socket as events:channel', async () => {
    const admin = app.addUser({ role: 'admin', name: 'Boss' });
    const alice = app.addUser({ name: 'Alice' });
    const bob = app.addUser({ name: 'Bob' });
    // standard channels are admin-only (get_admin_user: 401)
    const refused = await app.http('/api/v1/channels/create', { method: 'POST', headers: bearer(alice.token), body: { name: 'nope' } });
    assert.equal(refused.status, 401);
    assert.equal(refused.json.detail, ACCESS);

    const pub = await app.http('/api/v1/channels/create', {
        method: 'POST', headers: bearer(admin.token),
        body: { name: `General-${uid().slice(0, 4)}`, description: 'd', access_grants: [
            { principal_type: 'user', principal_id: '*', permission: 'read' },
            { principal_type: 'user', principal_id: '*', permission: 'write' }] },
    });
    assert.equal(pub.status, 200, pub.text);
    assert.equal(pub.json.name, pub.json.name.toLowerCase(), 'names are lower-cased');
    assert.equal(pub.json.user_id, admin.id);
    assert.equal(pub.json.access_grants.length, 2);
    const priv = await app.http('/api/v1/channels/create', { method: 'POST', headers: bearer(admin.token), body: { name: 'secret' } });
    assert.equal(priv.status, 200);
    const ro = await app.http('/api/v1/channels/create', {
        method: 'POST', headers: bearer(admin.token),
        body: { name: 'announcements', access_control: null }, // legacy: public read only
    });
    assert.equal(ro.status, 200);

    const list = await app.http('/api/v1/channels/', { headers: bearer(bob.token) });
    assert.equal(list.status, 200);
    const ids = list.json.map((c) => c.id);
    assert.ok(ids.includes(pub.json.id));
    assert.ok(ids.includes(ro.json.id));
    assert.ok(!ids.includes(priv.json.id), 'a channel without grants is not listed');
    assert.equal(list.json.find((c) => c.id === pub.json.id).unread_count, 0);

    // Bob's socket joins his channel rooms; Alice posts
    const sb = await app.connect(bob.token);
    await sb.emitWithAck('join-channels', { auth: { token: bob.token } });
    const got = next(sb, 'events:channel', (e) => e.data?.type === 'message');
    const post = await app.http(`/api/v1/channels/${pub.json.id}/messages/post`, {
        method: 'POST', headers: bearer(alice.token), body: { content: 'hello "bob" ✓', temp_id: 'tmp-1' },
    });
    assert.equal(post.status, 200, post.text);
    assert.equal(post.json.content, 'hello "bob" ✓');
    assert.equal(post.json.user_id, alice.id);
    assert.equal(post.json.channel_id, pub.json.id);
    const ev = await got;
    assert.equal(ev.channel_id, pub.json.id);
    assert.equal(ev.message_id, post.json.id);
    assert.equal(ev.data.data.id, post.json.id);
    assert.equal(ev.data.data.content, 'hello "bob" ✓');
    assert.equal(ev.data.data.temp_id, 'tmp-1');
    assert.equal(ev.data.data.user.id, alice.id);
    assert.equal(ev.user.id, alice.id);
    assert.equal(ev.user.name, 'Alice');
    assert.equal(ev.user.role, 'user');
    assert.equal(ev.channel.id, pub.json.id);
    // stored in `message`
    assert.equal(app.sql(`SELECT content FROM message WHERE id = '${post.json.id}'`), 'hello "bob" ✓');

    // unread for Bob, not for the author
    const l2 = await app.http('/api/v1/channels/', { headers: bearer(bob.token) });
    assert.equal(l2.json.find((c) => c.id === pub.json.id).unread_count, 1);
    const l3 = await app.http('/api/v1/channels/', { headers: bearer(alice.token) });
    assert.equal(l3.json.find((c) => c.id === pub.json.id).unread_count, 0);

    // one channel (ChannelResponse: the model plus write_access)
    const one = await app.http(`/api/v1/channels/${ro.json.id}`, { headers: bearer(bob.token) });
    assert.equal(one.status, 200);
    assert.equal(one.json.id, ro.json.id);
    assert.equal(one.json.write_access, false);
    assert.equal((await app.http(`/api/v1/channels/${pub.json.id}`, { headers: bearer(bob.token) })).json.write_access, true);
    assert.equal((await app.http(`/api/v1/channels/${priv.json.id}`, { headers: bearer(bob.token) })).status, 403);

    // messages page
    const page = await app.http(`/api/v1/channels/${pub.json.id}/messages?skip=0&limit=10`, { headers: bearer(bob.token) });
    assert.equal(page.status, 200);
    assert.equal(page.json.length, 1);
    assert.equal(page.json[0].user.name, 'Alice');

    // access: the private channel, and posting to a read-only one
    const p1 = await app.http(`/api/v1/channels/${priv.json.id}/messages`, { headers: bearer(bob.token) });
    assert.equal(p1.status, 403);
    const p2 = await app.http(`/api/v1/channels/${priv.json.id}/messages/post`, { method: 'POST', headers: bearer(bob.token), body: { content: 'x' } });
    assert.equal(p2.status, 403);
    const p3 = await app.http(`/api/v1/channels/${ro.json.id}/messages/post`, { method: 'POST', headers: bearer(bob.token), body: { content: 'x' } });
    assert.equal(p3.status, 403);
    const p4 = await app.http(`/api/v1/channels/${ro.json.id}/messages`, { headers: bearer(bob.token) });
    assert.equal(p4.status, 200);
    const p5 = await app.http(`/api/v1/channels/${uid()}/messages`, { headers: bearer(bob.token) });
    assert.equal(p5.status, 404);
    const p6 = await app.http(`/api/v1/channels/${pub.json.id}/messages/post`, { method: 'POST', headers: bearer(bob.token), body: { content: 5 } });
    assert.equal(p6.status, 422);
    const p7 = await app.http('/api/v1/channels/bad%20id/messages', { headers: bearer(bob.token) });
    assert.equal(p7.status, 404);
    // admins read every standard channel
    const p8 = await app.http(`/api/v1/channels/${priv.json.id}/messages`, { headers: bearer(admin.token) });
    assert.equal(p8.status, 200);
    // group channels: any user may create one; it is theirs alone
    const grp = await app.http('/api/v1/channels/create', { method: 'POST', headers: bearer(alice.token), body: { name: 'team', type: 'group' } });
    assert.equal(grp.status, 200, grp.text);
    assert.equal((await app.http(`/api/v1/channels/${grp.json.id}/messages`, { headers: bearer(alice.token) })).status, 200);
    assert.equal((await app.http(`/api/v1/channels/${grp.json.id}/messages`, { headers: bearer(bob.token) })).status, 403);
    const badType = await app.http('/api/v1/channels/create', { method: 'POST', headers: bearer(alice.token), body: { name: 'x', type: 'weird' } });
    assert.equal(badType.status, 422);
});

test('notes: create, list, get, update with read/write access and grants', async () => {
    const owner = app.addUser({ name: 'Writer' });
    const other = app.addUser({ name: 'Reader' });
    const admin = app.addUser({ role: 'admin', name: 'NoteAdmin' });
    const c = await app.http('/api/v1/notes/create', {
        method: 'POST', headers: bearer(owner.token),
        body: { title: 'Plan', data: { content: { md: '# hi' }, files: [1] }, meta: { tag: 'x' } },
    });
    assert.equal(c.status, 200, c.text);
    const id = c.json.id;
    assert.equal(c.json.title, 'Plan');
    assert.equal(c.json.user_id, owner.id);
    assert.deepEqual(c.json.data, { content: { md: '# hi' }, files: [1] });
    assert.deepEqual(c.json.access_grants, [], 'private by default');
    assert.equal(typeof c.json.created_at, 'number');

    const g1 = await app.http(`/api/v1/notes/${id}`, { headers: bearer(other.token) });
    assert.equal(g1.status, 403);
    const l1 = await app.http('/api/v1/notes/', { headers: bearer(other.token) });
    assert.ok(!l1.json.some((n) => n.id === id));
    const l0 = await app.http('/api/v1/notes/', { headers: bearer(owner.token) });
    assert.ok(l0.json.some((n) => n.id === id));
    assert.equal((await app.http(`/api/v1/notes/${id}`, { headers: bearer(admin.token) })).status, 200);

    // the owner shares it read-only
    const u1 = await app.http(`/api/v1/notes/${id}/update`, {
        method: 'POST', headers: bearer(owner.token),
        body: { title: 'Plan v2', data: { content: { md: '# v2' } }, access_grants: [{ principal_type: 'user', principal_id: other.id, permission: 'read' }] },
    });
    assert.equal(u1.status, 200, u1.text);
    assert.equal(u1.json.title, 'Plan v2');
    assert.deepEqual(u1.json.data, { content: { md: '# v2' }, files: [1] }, 'data is merged');
    assert.equal(u1.json.access_grants.length, 1);
    const g2 = await app.http(`/api/v1/notes/${id}`, { headers: bearer(other.token) });
    assert.equal(g2.status, 200);
    assert.equal(g2.json.title, 'Plan v2');
    assert.ok((await app.http('/api/v1/notes/', { headers: bearer(other.token) })).json.some((n) => n.id === id));
    const w1 = await app.http(`/api/v1/notes/${id}/update`, { method: 'POST', headers: bearer(other.token), body: { title: 'hijack' } });
    assert.equal(w1.status, 403);

    // write access: the reader edits, but cannot change the grants
    await app.http(`/api/v1/notes/${id}/update`, {
        method: 'POST', headers: bearer(owner.token),
        body: { access_grants: [{ principal_type: 'user', principal_id: other.id, permission: 'read' },
            { principal_type: 'user', principal_id: other.id, permission: 'write' }] },
    });
    const sock = await app.connect(owner.token);
    await sock.emitWithAck('join-note', { note_id: id, auth: { token: owner.token } });
    const announced = next(sock, 'note-events', (n) => n.id === id && n.title === 'Edited');
    const w2 = await app.http(`/api/v1/notes/${id}/update`, {
        method: 'POST', headers: bearer(other.token), body: { title: 'Edited', access_grants: [] },
    });
    assert.equal(w2.status, 200, w2.text);
    assert.equal(w2.json.access_grants.length, 2, 'grants unchanged by a non-owner');
    const ev = await announced;
    assert.equal(ev.user_id, owner.id);
    assert.equal(app.sql(`SELECT title FROM note WHERE id = '${id}'`), 'Edited');

    // legacy access_control null: public read
    const pubNote = await app.http('/api/v1/notes/create', { method: 'POST', headers: bearer(owner.token), body: { title: 'Pub', access_control: null } });
    assert.equal((await app.http(`/api/v1/notes/${pubNote.json.id}`, { headers: bearer(other.token) })).status, 200);
    // errors
    assert.equal((await app.http(`/api/v1/notes/${uid()}`, { headers: bearer(owner.token) })).status, 404);
    assert.equal((await app.http('/api/v1/notes/create', { method: 'POST', headers: bearer(owner.token), body: { title: '' } })).status, 422);
    assert.equal((await app.http('/api/v1/notes/create', { method: 'POST', headers: bearer(owner.token), body: { title: 't', data: [1] } })).status, 422);
    assert.equal((await app.http('/api/v1/notes/create', {
        method: 'POST', headers: bearer(owner.token), body: { title: 't', access_grants: [{ principal_type: 'robot', principal_id: 'x', permission: 'read' }] },
    })).status, 422);
});

test('GET /api/models: the echo model without an upstream, the upstream\'s models with one', async () => {
    const u = app.addUser({ name: 'Models' });
    const r = await app.http('/api/models', { headers: bearer(u.token) });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data.map((m) => m.name), ['echo (built-in demo)']);
    assert.equal(r.json.data[0].id, 'sioc-echo');

    const fake = await startFakeOpenAI({ models: ['gpt-fake', 'gpt-other'] });
    const up = await App.start({ env: { OPENAI_API_BASE_URL: fake.url, OPENAI_API_KEY: '' } });
    try {
        const v = up.addUser({ name: 'Models2' });
        const m = await up.http('/api/models', { headers: bearer(v.token) });
        assert.equal(m.status, 200, m.text);
        assert.deepEqual(m.json.data.map((x) => x.id), ['gpt-fake', 'gpt-other']);
        assert.equal(m.json.data[0].urlIdx, 0);
        assert.equal(m.json.data[0].openai.id, 'gpt-fake');
    } finally {
        await up.stop();
        await fake.close();
    }
});

test('bodies that are not what a route wants never hurt the server', async () => {
    const u = app.addUser({ name: 'Fuzz' });
    const bodies = ['', '{', 'null', '"x"', '[1,2]', '{"a":' + '['.repeat(500), JSON.stringify({ title: { x: 1 } }),
        JSON.stringify({ content: 'x'.repeat(200000) }), '\u0000\u0001', JSON.stringify({ name: 'a\u0000b' })];
    const posts = ['/api/v1/notes/create', '/api/v1/channels/create', '/api/chat/completions', '/api/v1/chats/new',
        `/api/v1/notes/${uid()}/update`, `/api/v1/channels/${uid()}/messages/post`, '/api/v1/auths/signin', '/api/v1/auths/signup'];
    for (const p of posts) {
        for (const body of bodies) {
            const r = await app.http(p, { method: 'POST', body, headers: bearer(u.token) });
            assert.ok(r.status >= 400 && r.status < 500, `${p} ${body.slice(0, 20)} -> ${r.status} ${r.text.slice(0, 100)}`);
            assert.equal(typeof r.json?.detail, 'string', `${p}: ${r.text.slice(0, 100)}`);
        }
    }
    assert.equal((await app.http('/api/config')).status, 200, 'still serving');
});
