// The `sioc` program's lifecycle: SIGTERM/SIGINT stop it with status 0 within 5 s, with
// clients connected, calls waiting and writes in flight; a restart on the same data
// folder keeps the users and the key file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { App, addChat, readChat, eventually, next, sleep, uid } from './70-app-lib.mjs';

const KEY = 'k-' + crypto.randomBytes(8).toString('hex');

test('SIGTERM right after the listening line exits 0', async () => {
    for (let i = 0; i < 3; i++) {
        const app = await App.start();
        const r = await app.stop();
        assert.equal(r.code, 0, `${JSON.stringify(r)}\n${app.stderr}`);
    }
});

test('SIGTERM with clients, a waiting event call and queued writes: exit 0 within 5 s, writes done', async () => {
    const app = await App.start({ env: { SIOC_EMIT_API_KEY: KEY } });
    const u = app.addUser({ name: 'U' });
    const socks = [];
    for (let i = 0; i < 20; i++) socks.push(await app.connect(u.token));
    const disconnects = socks.map((s) => new Promise((r) => s.once('disconnect', r)));
    const mid = uid();
    const { chatId } = addChat(app, u.id, mid);
    await app.http('/api/v1/socket/chat/event', { method: 'POST', headers: { authorization: `Bearer ${KEY}` },
        body: { user_id: u.id, chat_id: chatId, message_id: mid, data: { type: 'replace', data: { content: 'x' } } } });
    const writes = [];
    for (let i = 0; i < 30; i++) {
        writes.push(app.http('/api/v1/socket/chat/event', { method: 'POST', headers: { authorization: `Bearer ${KEY}` },
            body: { user_id: u.id, chat_id: chatId, message_id: mid, data: { type: 'message', data: { content: 'y' } } } }));
    }
    socks[0].on('events', () => {}); /* never acks */
    const call = app.http('/api/v1/socket/call', { method: 'POST', headers: { authorization: `Bearer ${KEY}` },
        body: { user_id: u.id, session_id: socks[0].id, chat_id: 'c', message_id: 'm', data: { type: 'input', data: {} } } })
        .catch((e) => ({ error: e }));
    await Promise.all(writes);
    await sleep(100);
    const r = await app.stop();
    assert.equal(r.code, 0, app.stderr);
    assert.ok(r.ms < 5000, `exit took ${r.ms} ms`);
    const c = await call;
    assert.ok(c.error || c.json?.error === 'Client session disconnected.', JSON.stringify(c.json));
    await Promise.race([Promise.all(disconnects), sleep(1000)]);
    assert.equal(readChat(app, chatId).history.messages[mid].content, 'x' + 'y'.repeat(30));
});

test('SIGINT stops it too; a restart on the same folder keeps users and the generated key', async () => {
    const app = await App.start({ env: { WEBUI_SECRET_KEY: '' } });
    const u = app.addUser({ name: 'Keep' });
    const keyFile = path.join(app.dir, '.webui_secret_key');
    const key = fs.readFileSync(keyFile, 'utf8');
    assert.ok(key.trim().length >= 16);
    app.proc.kill('SIGINT');
    const e = await app.exited;
    assert.equal(e.code, 0);
    const again = await App.start({ dir: app.dir, env: { WEBUI_SECRET_KEY: '' } });
    assert.equal(fs.readFileSync(keyFile, 'utf8'), key);
    const s = await again.connect(u.token);
    const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: u.token } });
    assert.deepEqual(ack, { id: u.id, name: 'Keep' });
    s.close();
    assert.equal((await again.stop()).code, 0);
});

test('a port in use is a clear error, not a crash', async () => {
    const app = await App.start();
    const r = app.cli(['--port', String(app.port)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot listen/);
    assert.equal((await app.stop()).code, 0);
});
