// USAGE_POOL and GET /api/usage (openwebui-protocol.md §3.1, §3.9, §4, §5.3) against the
// real build/sioc: entries expire 3 s after the last `usage`, disconnect drops them.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { App, eventually, sleep, uid } from './70-app-lib.mjs';

describe('usage pool', () => {
    let app, u, adm;
    before(async () => {
        app = await App.start();
        u = app.addUser({ name: 'U' });
        adm = app.addUser({ name: 'Adm', role: 'admin' });
    });
    after(async () => {
        const r = await app.stop();
        assert.equal(r.code, 0, app.stderr);
    });

    const usage = (token) => app.http('/api/usage', token ? { headers: { authorization: `Bearer ${token}` } } : {});

    test('usage lists the model while the client keeps sending it, and drops it 3 s after it stops', async () => {
        const s = await app.connect(u.token);
        const [m1, m2] = [`m1-${uid()}`, `m2-${uid()}`];
        await s.timeout(3000).emitWithAck('usage', { action: 'chat', model: m1, chat_id: uid() });
        await s.timeout(3000).emitWithAck('usage', { action: 'chat', model: m2, chat_id: uid() });
        let r = await usage(u.token);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Object.keys(r.json).sort(), ['model_ids', 'user_count']);
        assert.ok(r.json.model_ids.includes(m1) && r.json.model_ids.includes(m2));
        // keep m2 alive (1 s beat, as Chat.svelte does); m1 goes silent
        const t0 = Date.now();
        const beat = setInterval(() => s.emit('usage', { action: 'chat', model: m2 }), 1000);
        try {
            await eventually(async () => !(await usage(u.token)).json.model_ids.includes(m1), 9000, 'm1 to expire');
            const gone = Date.now() - t0;
            assert.ok(gone >= 2500, `m1 expired after ${gone} ms (must live 3 s)`);
            r = await usage(u.token);
            assert.ok(r.json.model_ids.includes(m2), 'm2 is still in use');
        } finally {
            clearInterval(beat);
        }
        s.close();
    });

    test('disconnect removes the socket from every model at once', async () => {
        const s = await app.connect(u.token);
        const m = `m-${uid()}`;
        await s.timeout(3000).emitWithAck('usage', { model: m });
        assert.ok((await usage(u.token)).json.model_ids.includes(m));
        s.close();
        await eventually(async () => !(await usage(u.token)).json.model_ids.includes(m), 1000, 'disconnect cleanup');
    });

    test('two sockets on one model: the model stays until both are gone', async () => {
        const [s1, s2] = [await app.connect(u.token), await app.connect(adm.token)];
        const m = `m-${uid()}`;
        await s1.timeout(3000).emitWithAck('usage', { model: m });
        await s2.timeout(3000).emitWithAck('usage', { model: m });
        s1.close();
        await sleep(200);
        assert.ok((await usage(u.token)).json.model_ids.includes(m));
        s2.close();
        await eventually(async () => !(await usage(u.token)).json.model_ids.includes(m), 1000, 'cleanup');
    });

    test('user_count counts users active in the last 180 s', async () => {
        const now = Math.floor(Date.now() / 1000);
        app.sql(`UPDATE "user" SET last_active_at = ${now - 1000}`);
        assert.equal((await usage(u.token)).json.user_count, 0);
        app.sql(`UPDATE "user" SET last_active_at = ${now - 100} WHERE id = '${u.id}'`);
        app.sql(`UPDATE "user" SET last_active_at = ${now - 200} WHERE id = '${adm.id}'`);
        assert.equal((await usage(u.token)).json.user_count, 1);
        const s = await app.connect(adm.token);
        await s.timeout(3000).emitWithAck('heartbeat', {});
        await eventually(async () => (await usage(u.token)).json.user_count === 2, 3000, 'heartbeat counts');
        s.close();
    });

    test('GET /api/usage needs a valid session token', async () => {
        assert.equal((await usage()).status, 401);
        assert.equal((await usage('garbage')).status, 401);
        assert.equal((await usage(app.forgeToken(uid()))).status, 401);
        assert.equal((await app.http('/api/usage', { method: 'POST' })).status, 405);
    });
});

test('ENABLE_PUBLIC_ACTIVE_USERS_COUNT=false: /api/usage is for admins only', async () => {
    const app = await App.start({ env: { ENABLE_PUBLIC_ACTIVE_USERS_COUNT: 'false' } });
    const u = app.addUser({ name: 'U' });
    const adm = app.addUser({ name: 'A', role: 'admin' });
    const r1 = await app.http('/api/usage', { headers: { authorization: `Bearer ${u.token}` } });
    assert.equal(r1.status, 403);
    assert.ok(r1.json.detail);
    const r2 = await app.http('/api/usage', { headers: { authorization: `Bearer ${adm.token}` } });
    assert.equal(r2.status, 200);
    assert.deepEqual(r2.json.model_ids, []);
    assert.equal((await app.stop()).code, 0);
});
