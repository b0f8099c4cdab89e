// Chat completions streamed over the socket (issue 6, app_chat.c): Open WebUI's request
// shape, deltas to every tab of the user in order (never the growing answer), `done` with
// the whole text once and the DB row holding the whole message by then, batched DB
// writes during a long stream, chat:message:error on a mid-stream upstream failure, stop
// through the task routes, the echo model without an upstream, and the access checks.
// The model is tests/integration/lib/fake-openai.mjs (slow streams via fake_delay_ms).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { App, eventually, collect, next, uid } from './70-app-lib.mjs';
import { startFakeOpenAI } from './lib/fake-openai.mjs';

let fake, app;
before(async () => {
    fake = await startFakeOpenAI({ models: ['gpt-fake'], delayMs: 5 });
    app = await App.start({ env: { OPENAI_API_BASE_URL: fake.url } });
});
after(async () => {
    await app?.stop();
    await fake?.close();
});

const bearer = (t) => ({ authorization: `Bearer ${t}` });


async function newChat(a, user, title = 'New Chat') {
    const r = await a.http('/api/v1/chats/new', { method: 'POST', headers: bearer(user.token), body: { chat: { title, models: ['gpt-fake'], history: { messages: {}, currentId: null } } } });
    assert.equal(r.status, 200, r.text);
    return r.json.id;
}

/** The `events` of one chat on a socket, in arrival order. */
function chatEvents(sock, chatId) {
    const all = collect(sock, 'events');
    return { get list() { return all.filter((e) => e.chat_id === chatId); } };
}

const isDone = (e) => e.data.type === 'chat:completion' && e.data.data.done === true;
const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

async function complete(a, user, body) {
    return a.http('/api/chat/completions', { method: 'POST', headers: bearer(user.token), body });
}

/** The last `chat: task <id> ... ended (...)` log line's counters. */
function taskLog(a, taskId) {
    const m = new RegExp(`chat: task ${taskId} of chat \\S+ ended \\((\\w+)\\): (\\d+) deltas, (\\d+) delta emits, (\\d+) db writes`).exec(a.stderr);
    return m && { end: m[1], deltas: Number(m[2]), emits: Number(m[3]), writes: Number(m[4]) };
}

test('a completion streams deltas to both tabs in order; done carries the whole text once and the DB row holds it', async () => {
    const u = app.addUser({ name: 'Streamer' });
    const chatId = await newChat(app, u);
    const tab1 = await app.connect(u.token);
    const tab2 = await app.connect(u.token);
    const e1 = chatEvents(tab1, chatId), e2 = chatEvents(tab2, chatId);
    const text = `Hello "there" ✓ ${words(40)}`;
    const mid = uid();
    const done1 = next(tab1, 'events', (e) => e.chat_id === chatId && e.data.type === 'chat:completion' && e.data.data.done, 10000);
    const r = await complete(app, u, {
        model: 'gpt-fake', chat_id: chatId, id: mid, session_id: tab1.id, stream: true,
        messages: [{ role: 'user', content: text }], params: { fake_delay_ms: 10 },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, true);
    assert.match(r.json.task_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(r.json.task_ids, [r.json.task_id]);
    const done = await done1;
    await eventually(() => e2.list.some(isDone), 5000, 'done on tab 2');

    for (const ev of [e1.list, e2.list]) {
        assert.ok(ev.every((e) => e.message_id === mid));
        const deltas = ev.filter((e) => e.data.type === 'chat:completion' && !e.data.data.done);
        assert.ok(deltas.length >= 40, `deltas: ${deltas.length}`);
        for (const d of deltas) {
            assert.equal(d.data.data.content, undefined, 'a delta never carries the whole answer');
            assert.equal(typeof d.data.data.choices[0].delta.content, 'string');
        }
        assert.equal(deltas.map((d) => d.data.data.choices[0].delta.content).join(''), text, 'deltas in order');
        const types = ev.map((e) => e.data.type);
        assert.equal(types[0], 'chat:active');
        assert.ok(types.includes('status'));
        assert.ok(types.indexOf('chat:title') > types.lastIndexOf('chat:completion') - 1);
        assert.deepEqual(ev.at(-1).data, { type: 'chat:active', data: { active: false } });
        const fulls = ev.filter((e) => JSON.stringify(e).includes('w39'));
        assert.equal(fulls.length, 2, 'the full text goes once (done), plus the delta holding w39');
    }
    assert.deepEqual(e1.list.map((e) => e.data), e2.list.map((e) => e.data), 'both tabs see the same stream');
    assert.equal(done.data.data.content, text);
    assert.equal(done.data.data.output[0].content[0].text, text);
    // the default title: the user's first line, cut on a word within 50 bytes
    assert.equal(done.data.data.title, 'Hello "there" ✓ w0 w1 w2 w3 w4 w5 w6 w7 w8 w9');

    // the DB row already holds the whole message when done arrives
    const row = await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
    assert.equal(row.status, 200);
    const msg = row.json.chat.history.messages[mid];
    assert.equal(msg.content, text);
    assert.equal(msg.done, true);
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, 'gpt-fake');
    assert.equal(row.json.chat.history.currentId, mid);
    assert.equal(row.json.title, done.data.data.title);
    assert.deepEqual(taskLog(app, r.json.task_id).end, 'done');
    // the upstream got the messages and the params, without ours
    const sent = fake.requests.at(-1).body;
    assert.equal(sent.model, 'gpt-fake');
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.messages, [{ role: 'user', content: text }]);
    assert.equal(sent.fake_delay_ms, 10);
});

test('a long stream writes the database in batches, not per token; CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE batches emits', async () => {
    const u = app.addUser({ name: 'Long' });
    const chatId = await newChat(app, u, 'Kept title');
    const tab = await app.connect(u.token);
    const ev = chatEvents(tab, chatId);
    const mid = uid();
    const n = 150;
    const t0 = Date.now();
    const done = next(tab, 'events', (e) => e.chat_id === chatId && isDone(e), 20000);
    const r = await complete(app, u, {
        model: 'gpt-fake', chat_id: chatId, id: mid, session_id: tab.id,
        messages: [{ role: 'user', content: words(n) }], params: { fake_delay_ms: 15, stream_delta_chunk_size: 4 },
    });
    assert.equal(r.status, 200);
    // the row fills while streaming: the content grows before the end
    let seen = '';
    await eventually(async () => {
        const row = await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
        seen = row.json.chat.history?.messages?.[mid]?.content || '';
        return seen.length > 0 && !row.json.chat.history.messages[mid].done;
    }, 5000, 'partial content in the DB while streaming');
    assert.ok(words(n).startsWith(seen));
    await done;
    const secs = (Date.now() - t0) / 1000;
    const log = await eventually(() => taskLog(app, r.json.task_id), 3000, 'the task log line');
    assert.equal(log.deltas, n);
    assert.ok(log.writes >= 3, `writes ${log.writes}`);
    assert.ok(log.writes <= Math.ceil(secs) + 3, `${log.writes} writes for ${n} deltas in ${secs}s: not batched`);
    assert.equal(log.emits, Math.ceil(n / 4));
    const deltaEvents = ev.list.filter((e) => e.data.type === 'chat:completion' && !e.data.data.done);
    assert.equal(deltaEvents.length, Math.ceil(n / 4));
    const row = await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
    assert.equal(row.json.chat.history.messages[mid].content, words(n));
    assert.equal(row.json.title, 'Kept title', 'a titled chat keeps its title');
});

test('a mid-stream upstream failure gives chat:message:error, chat:tasks:cancel, and the partial answer with the error in the DB', async () => {
    const u = app.addUser({ name: 'Broken' });
    const chatId = await newChat(app, u);
    const tab = await app.connect(u.token);
    const ev = chatEvents(tab, chatId);
    const mid = uid();
    const err = next(tab, 'events', (e) => e.chat_id === chatId && e.data.type === 'chat:message:error', 10000);
    const r = await complete(app, u, {
        model: 'fake-fail-midstream', chat_id: chatId, id: mid, session_id: tab.id,
        messages: [{ role: 'user', content: 'anything' }],
    });
    assert.equal(r.status, 200);
    const e = await err;
    assert.equal(typeof e.data.data.error.content, 'string');
    assert.ok(e.data.data.error.content.length > 0);
    await eventually(() => ev.list.some((x) => x.data.type === 'chat:active' && x.data.data.active === false), 3000);
    const types = ev.list.map((x) => x.data.type);
    assert.ok(types.indexOf('chat:tasks:cancel') > types.indexOf('chat:message:error'));
    assert.ok(!ev.list.some(isDone), 'no done after a failure');
    const row = await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
    const msg = row.json.chat.history.messages[mid];
    assert.equal(msg.content, 'part0 part1 part2 ');
    assert.equal(msg.error.content, e.data.data.error.content);
    assert.equal(msg.done, true);
    // an unknown model is refused up front
    const fake2 = await startFakeOpenAI({ models: ['a'] });
    const two = await App.start({ env: { OPENAI_API_BASE_URLS: `${fake.url};${fake2.url}` } });
    try {
        const v = two.addUser({ name: 'Two' });
        await two.http('/api/models', { headers: bearer(v.token) });
        const bad = await complete(two, v, { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
        assert.equal(bad.status, 404);
        assert.equal(bad.json.detail, 'Model not found');
    } finally {
        await two.stop();
        await fake2.close();
    }
});

test('stop: the task list shows the generation, the stop route ends it with chat:tasks:cancel, the partial answer is saved', async () => {
    const u = app.addUser({ name: 'Stopper' });
    const other = app.addUser({ name: 'Other' });
    const chatId = await newChat(app, u);
    const tab = await app.connect(u.token);
    const ev = chatEvents(tab, chatId);
    const mid = uid();
    const abortedBefore = fake.stats.aborted;
    const r = await complete(app, u, {
        model: 'gpt-fake', chat_id: chatId, id: mid, session_id: tab.id,
        messages: [{ role: 'user', content: words(200) }], params: { fake_delay_ms: 50 },
    });
    assert.equal(r.status, 200);
    await eventually(() => ev.list.filter((e) => e.data.type === 'chat:completion').length >= 3, 5000, 'a few deltas');
    const tasks = await app.http(`/api/tasks/chat/${chatId}`, { headers: bearer(u.token) });
    assert.deepEqual(tasks.json, { task_ids: [r.json.task_id] });
    // someone else's chat: no tasks listed, stop refused
    assert.deepEqual((await app.http(`/api/tasks/chat/${chatId}`, { headers: bearer(other.token) })).json, { task_ids: [] });
    const notMine = await app.http(`/api/tasks/chat/${chatId}/stop`, { method: 'POST', headers: bearer(other.token) });
    assert.equal(notMine.status, 404);
    const cancel = next(tab, 'events', (e) => e.chat_id === chatId && e.data.type === 'chat:tasks:cancel', 5000);
    const stop = await app.http(`/api/tasks/chat/${chatId}/stop`, { method: 'POST', headers: bearer(u.token) });
    assert.equal(stop.status, 200);
    assert.equal(stop.json.status, true);
    await cancel;
    await eventually(() => ev.list.some((e) => e.data.type === 'chat:active' && e.data.data.active === false), 3000);
    assert.deepEqual((await app.http(`/api/tasks/chat/${chatId}`, { headers: bearer(u.token) })).json, { task_ids: [] });
    await eventually(() => fake.stats.aborted > abortedBefore, 3000, 'the upstream request aborted');
    const row = await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
    const msg = row.json.chat.history.messages[mid];
    assert.equal(msg.done, true);
    assert.ok(msg.content.length > 0 && words(200).startsWith(msg.content) && msg.content.length < words(200).length,
        `partial content: ${msg.content.length}`);
    const streamed = ev.list.filter((e) => e.data.type === 'chat:completion').map((e) => e.data.data.choices[0].delta.content).join('');
    assert.equal(msg.content, streamed, 'the saved text is what was streamed');
    assert.equal(taskLog(app, r.json.task_id).end, 'stopped');
    // stopping again: nothing left
    const again = await app.http(`/api/tasks/chat/${chatId}/stop`, { method: 'POST', headers: bearer(u.token) });
    assert.equal(again.status, 200);
    assert.match(again.json.message, /No tasks/);
});

test('access: a chat of another user is 404; a local: chat streams without a DB row; no ids -> one chat.completion', async () => {
    const owner = app.addUser({ name: 'Owner' });
    const intruder = app.addUser({ name: 'Intruder' });
    const chatId = await newChat(app, owner);
    const s = await app.connect(intruder.token);
    const r = await complete(app, intruder, { model: 'gpt-fake', chat_id: chatId, id: uid(), session_id: s.id, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 404);
    assert.equal((await app.http(`/api/v1/chats/${chatId}`, { headers: bearer(intruder.token) })).status, 401);
    for (const body of [{ messages: [] }, { model: 'gpt-fake' }, { model: 'gpt-fake', messages: {} }, { model: 'gpt-fake', messages: [], params: 3 }]) {
        const bad = await complete(app, owner, body);
        assert.equal(bad.status, 422, JSON.stringify(body));
    }
    // local: chat
    const tab = await app.connect(owner.token);
    const local = `local:${uid()}`;
    const done = next(tab, 'events', (e) => e.chat_id === local && isDone(e), 10000);
    const lr = await complete(app, owner, { model: 'gpt-fake', chat_id: local, id: uid(), session_id: tab.id, messages: [{ role: 'user', content: 'local words here' }] });
    assert.equal(lr.status, 200);
    assert.equal((await done).data.data.content, 'local words here');
    assert.equal(taskLog(app, lr.json.task_id).writes, 0);
    // no chat/session ids: the whole completion as the HTTP answer
    const direct = await complete(app, owner, { model: 'gpt-fake', messages: [{ role: 'user', content: 'direct answer' }] });
    assert.equal(direct.status, 200);
    assert.equal(direct.json.object, 'chat.completion');
    assert.equal(direct.json.choices[0].message.content, 'direct answer');
});

test('without an upstream the echo model streams the user\'s message back', async () => {
    const solo = await App.start();
    try {
        const u = solo.addUser({ name: 'Echo' });
        const chatId = await newChat(solo, u);
        const tab = await solo.connect(u.token);
        const ev = chatEvents(tab, chatId);
        const mid = uid();
        const done = next(tab, 'events', (e) => e.chat_id === chatId && isDone(e), 10000);
        const r = await complete(solo, u, { model: 'sioc-echo', chat_id: chatId, id: mid, session_id: tab.id, messages: [{ role: 'user', content: 'echo me back please' }] });
        assert.equal(r.status, 200, r.text);
        assert.equal((await done).data.data.content, 'echo me back please');
        const deltas = ev.list.filter((e) => e.data.type === 'chat:completion' && !e.data.data.done);
        assert.equal(deltas.length, 4);
        const row = await solo.http(`/api/v1/chats/${chatId}`, { headers: bearer(u.token) });
        assert.equal(row.json.chat.history.messages[mid].content, 'echo me back please');
        const bad = await complete(solo, u, { model: 'gpt-4', messages: [{ role: 'user', content: 'x' }] });
        assert.equal(bad.status, 404);
    } finally {
        await solo.stop();
    }
});

test('SIGTERM during a generation: the partial answer is saved and the server exits cleanly', async () => {
    const a = await App.start({ env: { OPENAI_API_BASE_URL: fake.url } });
    const u = a.addUser({ name: 'Shutdown' });
    const chatId = await newChat(a, u);
    const tab = await a.connect(u.token);
    const ev = chatEvents(tab, chatId);
    const mid = uid();
    await complete(a, u, { model: 'gpt-fake', chat_id: chatId, id: mid, session_id: tab.id, messages: [{ role: 'user', content: words(300) }], params: { fake_delay_ms: 30 } });
    await eventually(() => ev.list.filter((e) => e.data.type === 'chat:completion').length >= 3, 5000);
    const res = await a.stop();
    assert.equal(res.code, 0, a.stderr);
    const chat = JSON.parse(a.sql(`SELECT chat FROM chat WHERE id = '${chatId}'`));
    const msg = chat.history.messages[mid];
    assert.equal(msg.done, true);
    assert.ok(msg.content.length > 0 && words(300).startsWith(msg.content));
});

test('chats: create, update (owner only), list', async () => {
    const u = app.addUser({ name: 'Chats' });
    const v = app.addUser({ name: 'NotOwner' });
    const id = await newChat(app, u, 'First');
    const up = await app.http(`/api/v1/chats/${id}`, { method: 'POST', headers: bearer(u.token), body: { chat: { title: 'Renamed', tags: ['x'] } } });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.title, 'Renamed');
    assert.deepEqual(up.json.chat.tags, ['x']);
    assert.deepEqual(up.json.chat.models, ['gpt-fake'], 'merged, not replaced');
    const denied = await app.http(`/api/v1/chats/${id}`, { method: 'POST', headers: bearer(v.token), body: { chat: { title: 'x' } } });
    assert.equal(denied.status, 401);
    const list = await app.http('/api/v1/chats/', { headers: bearer(u.token) });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((c) => [c.id, c.title]), [[id, 'Renamed']]);
    assert.deepEqual((await app.http('/api/v1/chats/?page=1', { headers: bearer(v.token) })).json, []);
});
