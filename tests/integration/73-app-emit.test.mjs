// Server-side emitting (openwebui-protocol.md §7.1-§7.3): the raw emit endpoint with its
// API key, the chat event emitter (events to every tab of a user, persistence of the six
// short types into chat.chat.history.messages[mid]), the event call with ack and timeout,
// and the channel-mode emitter, against the real build/sioc.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { App, addChannel, addChat, collect, eventually, next, readChat, sleep, uid } from './70-app-lib.mjs';

const KEY = 'k-' + crypto.randomBytes(8).toString('hex');
const auth = { authorization: `Bearer ${KEY}` };

describe('emitters', () => {
    let app, u, v;
    before(async () => {
        app = await App.start({ env: { SIOC_EMIT_API_KEY: KEY } });
        u = app.addUser({ name: 'U' });
        v = app.addUser({ name: 'V' });
    });
    after(async () => {
        const r = await app.stop();
        assert.equal(r.code, 0, app.stderr);
        assert.ok(r.ms < 5000);
    });

    const post = (path, body, headers = auth) => app.http(path, { method: 'POST', headers, body });
    const chatEvent = (body) => post('/api/v1/socket/chat/event', body);

    test('POST /api/v1/socket/emit: 401 without the right key, then room / to / skip_sid / broadcast', async () => {
        const [s1, s2, s3] = [await app.connect(u.token), await app.connect(u.token), await app.connect(v.token)];
        const got = [s1, s2, s3].map((s) => collect(s, 'hello'));
        for (const h of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${KEY}x` },
            { authorization: KEY }, { authorization: `Basic ${KEY}` }, { authorization: `Bearer ${KEY.slice(0, -1)}` }]) {
            const r = await post('/api/v1/socket/emit', { event: 'hello', data: 1 }, h);
            assert.equal(r.status, 401, JSON.stringify(h));
            assert.equal(typeof r.json.detail, 'string');
        }
        await sleep(100);
        assert.deepEqual(got, [[], [], []]);
        let r = await post('/api/v1/socket/emit', { event: 'hello', data: { n: 1 }, room: `user:${u.id}` });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { status: true });
        r = await post('/api/v1/socket/emit', { event: 'hello', data: { n: 2 }, to: [`user:${u.id}`, `user:${v.id}`], skip_sid: s2.id });
        assert.equal(r.status, 200);
        r = await post('/api/v1/socket/emit', { event: 'hello', data: { n: 3 }, to: s3.id });
        r = await post('/api/v1/socket/emit', { event: 'hello', data: { n: 4 } });
        await eventually(() => got[0].length === 3 && got[1].length === 2 && got[2].length === 3, 2000, 'deliveries');
        assert.deepEqual(got[0].map((x) => x.n), [1, 2, 4]);
        assert.deepEqual(got[1].map((x) => x.n), [1, 4]);
        assert.deepEqual(got[2].map((x) => x.n), [2, 3, 4]);
        for (const bad of ['', 'nope', '[]', '{"data":1}', '{"event":""}', '{"event":"x","room":5}', '{"event":"x","skip_sid":[1]}']) {
            r = await app.http('/api/v1/socket/emit', { method: 'POST', headers: auth, body: bad });
            assert.equal(r.status, 400, bad);
        }
        for (const s of [s1, s2, s3]) s.close();
    });

    test('without a configured key the emit endpoints answer 403', async () => {
        const other = await App.start();
        const r = await other.http('/api/v1/socket/emit', { method: 'POST', headers: auth, body: { event: 'x' } });
        assert.equal(r.status, 403);
        const c = await other.http('/api/v1/socket/call', { method: 'POST', headers: auth, body: {} });
        assert.equal(c.status, 403);
        assert.equal((await other.stop()).code, 0);
    });

    test('a chat stream reaches every tab of the user, in order, and nobody else', async () => {
        const tabs = [await app.connect(u.token), await app.connect(u.token)];
        const stranger = await app.connect(v.token);
        const gotTabs = tabs.map((s) => collect(s, 'events'));
        const gotStranger = collect(stranger, 'events');
        const { chatId } = addChat(app, u.id);
        const mid = uid();
        const n = 40;
        const sends = [];
        for (let i = 0; i < n; i++) {
            sends.push(chatEvent({ user_id: u.id, chat_id: chatId, message_id: mid,
                data: { type: 'chat:completion', data: { choices: [{ delta: { content: `t${i} ` } }] } } }));
        }
        await Promise.all(sends);
        await eventually(() => gotTabs.every((g) => g.length === n), 3000, 'all deltas on both tabs');
        for (const g of gotTabs) {
            for (const e of g) {
                assert.equal(e.chat_id, chatId);
                assert.equal(e.message_id, mid);
                assert.equal(e.data.type, 'chat:completion');
            }
            const text = g.map((e) => e.data.data.choices[0].delta.content).join('');
            assert.equal(text, Array.from({ length: n }, (_, i) => `t${i} `).join(''));
        }
        assert.deepEqual(gotStranger, []);
        // chat:completion is socket-only: the chat row has no assistant message yet
        assert.equal(readChat(app, chatId).history.messages[mid], undefined);
        for (const s of [...tabs, stranger]) s.close();
    });

    test('the six short types persist into chat.history.messages[mid]; long names and local: chats do not', async () => {
        const mid = uid();
        const { chatId, userMsgId } = addChat(app, u.id, mid);
        const send = (type, data, extra = {}) => chatEvent({ user_id: u.id, chat_id: chatId, message_id: mid, data: { type, data }, ...extra });
        let r = await send('message', { content: 'ignored: no message yet' });
        assert.deepEqual(r.json, { status: true, persisted: false });
        r = await send('replace', { content: 'Hel' });
        assert.deepEqual(r.json, { status: true, persisted: true });
        await send('message', { content: 'lo' });
        await send('chat:message:delta', { content: ' (socket only)' });
        await send('status', { description: 'Searching', done: false });
        await send('status', { description: 'Done', done: true });
        await send('embeds', { embeds: ['<b>1</b>'] });
        await send('embeds', { embeds: ['<b>2</b>'] });
        await send('files', { files: [{ type: 'image', url: '/a.png' }] });
        await send('source', { source: { name: 'doc' }, document: ['x'] });
        await send('citation', { type: 'code_execution', id: 'c1' });
        await send('message', { content: '!' }, { update_db: false });
        const msg = readChat(app, chatId).history.messages[mid];
        assert.equal(msg.content, 'Hello');
        assert.deepEqual(msg.statusHistory, [{ description: 'Searching', done: false }, { description: 'Done', done: true }]);
        assert.deepEqual(msg.embeds, ['<b>2</b>', '<b>1</b>']);
        assert.deepEqual(msg.files, [{ type: 'image', url: '/a.png' }]);
        assert.deepEqual(msg.sources, [{ source: { name: 'doc' }, document: ['x'] }]);
        assert.equal(msg.parentId, userMsgId);
        assert.equal(msg.role, 'assistant');
        assert.equal(readChat(app, chatId).history.currentId, mid);
        // concurrent appends keep their order (one write per chat at a time)
        const parts = Array.from({ length: 15 }, (_, i) => String.fromCharCode(97 + i));
        await Promise.all(parts.map((p) => send('message', { content: p })));
        assert.equal(readChat(app, chatId).history.messages[mid].content, 'Hello' + parts.join(''));
        // local: chats are never persisted but still emitted
        const s = await app.connect(u.token);
        const ev = next(s, 'events');
        r = await chatEvent({ user_id: u.id, chat_id: `local:${uid()}`, message_id: mid, data: { type: 'replace', data: { content: 'x' } } });
        assert.deepEqual(r.json, { status: true, persisted: false });
        assert.equal((await ev).data.type, 'replace');
        s.close();
    });

    test('internal runs add "internal": true and drop notifications', async () => {
        const s = await app.connect(u.token);
        const got = collect(s, 'events');
        const base = { user_id: u.id, chat_id: uid(), message_id: uid(), internal: true };
        await chatEvent({ ...base, data: { type: 'notification', data: { type: 'info', content: 'x' } } });
        await chatEvent({ ...base, data: { type: 'chat:title', data: 't' } });
        await eventually(() => got.length === 1, 2000, 'internal event');
        await sleep(100);
        assert.equal(got.length, 1);
        assert.equal(got[0].internal, true);
        assert.equal(got[0].data.type, 'chat:title');
        s.close();
    });

    test('bad chat events are refused with 400', async () => {
        for (const body of [{}, { user_id: u.id }, { user_id: u.id, chat_id: 'c' }, { user_id: u.id, chat_id: 'c', data: 5 },
            { user_id: u.id, chat_id: 'c', data: { type: 5 } }, { user_id: 5, chat_id: 'c', data: { type: 'x' } }]) {
            const r = await chatEvent(body);
            assert.equal(r.status, 400, JSON.stringify(body));
        }
    });

    test('event call: the client ack comes back; a silent client times out; only the owner session is reachable', async () => {
        const s = await app.connect(u.token);
        await s.timeout(3000).emitWithAck('user-join', { auth: { token: u.token } });
        const seen = [];
        s.on('events', (ev, ack) => {
            seen.push(ev);
            if (ev.data.type === 'execute:python') ack({ stdout: 'ok', stderr: null, result: 42 });
        });
        const chatId = uid();
        const mid = uid();
        const call = (extra) => post('/api/v1/socket/call', { user_id: u.id, session_id: s.id, chat_id: chatId, message_id: mid,
            data: { type: 'execute:python', data: { id: 'x', code: 'print(1)', session_id: s.id, files: [] } }, ...extra });
        let r = await call();
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { stdout: 'ok', stderr: null, result: 42 });
        assert.deepEqual(seen[0], { chat_id: chatId, message_id: mid,
            data: { type: 'execute:python', data: { id: 'x', code: 'print(1)', session_id: s.id, files: [] } } });

        const t0 = Date.now();
        r = await call({ data: { type: 'input', data: { title: 't' } }, timeout: 0.5 });
        assert.deepEqual(r.json, { error: 'Event call timed out. The browser tab may be inactive or closed.' });
        assert.ok(Date.now() - t0 >= 450);

        r = await call({ user_id: v.id });
        assert.deepEqual(r.json, { error: 'Client session disconnected.' });
        r = await call({ session_id: 'no-such-session' });
        assert.deepEqual(r.json, { error: 'Client session disconnected.' });
        const anon = await app.connect('bad-token');
        r = await call({ session_id: anon.id });
        assert.deepEqual(r.json, { error: 'Client session disconnected.' });
        r = await post('/api/v1/socket/call', { user_id: u.id, session_id: s.id, chat_id: chatId, message_id: mid, data: {} }, {});
        assert.equal(r.status, 401);

        // the client going away while the call waits answers at once
        const pending = call({ data: { type: 'confirmation', data: {} }, timeout: 30 });
        await sleep(200);
        s.close();
        r = await pending;
        assert.deepEqual(r.json, { error: 'Client session disconnected.' });
        assert.equal(seen.length, 3);
        anon.close();
    });

    test('channel mode: chat:completion content goes into the message row, throttled, announced as message:update', async () => {
        const ch = addChannel(app, u.id, { members: [u.id, v.id] });
        const mid = uid();
        const now = Date.now() * 1e6;
        app.sql(`INSERT INTO message (id, user_id, channel_id, content, data, meta, created_at, updated_at) VALUES ('${mid}', '${u.id}', '${ch}', '', '{}', '{}', ${now}, ${now})`);
        const sv = await app.connect(v.token);
        await sv.timeout(3000).emitWithAck('user-join', { auth: { token: v.token } });
        const updates = collect(sv, 'events:channel');
        let text = '';
        for (let i = 0; i < 30; i++) {
            text += `w${i} `;
            const r = await chatEvent({ user_id: u.id, chat_id: `channel:${ch}`, message_id: mid,
                data: { type: 'chat:completion', data: { content: text } } });
            assert.equal(r.status, 200);
        }
        await chatEvent({ user_id: u.id, chat_id: `channel:${ch}`, message_id: mid,
            data: { type: 'chat:completion', data: { done: true, content: text + 'end' } } });
        const last = await eventually(() => updates.find((e) => e.data.data.meta?.done), 3000, 'done update');
        assert.equal(last.channel_id, ch);
        assert.equal(last.message_id, mid);
        assert.equal(last.data.type, 'message:update');
        assert.equal(last.data.data.id, mid);
        assert.equal(last.data.data.content, text + 'end');
        assert.ok(updates.length >= 1 && updates.length < 31, `${updates.length} updates for 31 events`);
        const row = app.sql(`SELECT content, meta FROM message WHERE id = '${mid}'`);
        const [content, meta] = [row.slice(0, row.lastIndexOf('|')), JSON.parse(row.slice(row.lastIndexOf('|') + 1))];
        assert.equal(content, text + 'end');
        assert.equal(meta.done, true);
        // an error ends the message with "Error: ..."
        const mid2 = uid();
        app.sql(`INSERT INTO message (id, user_id, channel_id, content, data, meta, created_at, updated_at) VALUES ('${mid2}', '${u.id}', '${ch}', '', '{}', '{}', ${now}, ${now})`);
        await chatEvent({ user_id: u.id, chat_id: `channel:${ch}`, message_id: mid2,
            data: { type: 'chat:message:error', data: { error: { content: 'boom' } } } });
        await eventually(() => app.sql(`SELECT content FROM message WHERE id = '${mid2}'`) === 'Error: boom', 3000, 'error content');
        sv.close();
    });
});
