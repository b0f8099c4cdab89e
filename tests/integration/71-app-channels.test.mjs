// Channels, notes and read markers (openwebui-protocol.md §3.2, §3.4-§3.7, §8.2, §8.5)
// against the real build/sioc and socket.io-client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { App, addChannel, addChat, collect, eventually, next, sleep, uid } from './70-app-lib.mjs';

const KEY = 'k-' + crypto.randomBytes(8).toString('hex');

async function joined(app, user) {
    const s = await app.connect(user.token);
    const ack = await s.timeout(3000).emitWithAck('user-join', { auth: { token: user.token } });
    assert.equal(ack.id, user.id);
    return s;
}

function probe(app, room, event = 'probe') {
    return app.http('/api/v1/socket/emit', { method: 'POST', headers: { authorization: `Bearer ${KEY}` },
        body: { event, data: { room }, room } });
}

describe('channels', () => {
    let app, a, b, c, admin;
    before(async () => {
        app = await App.start({ env: { SIOC_EMIT_API_KEY: KEY } });
        a = app.addUser({ name: 'Ann' });
        b = app.addUser({ name: 'Ben' });
        c = app.addUser({ name: 'Cy' });
        admin = app.addUser({ name: 'Root', role: 'admin' });
    });
    after(async () => {
        const r = await app.stop();
        assert.equal(r.code, 0, app.stderr);
    });

    test('typing goes to every member (sender included) with user {id,name,role}; a non-member sees nothing', async () => {
        const ch = addChannel(app, a.id, { members: [a.id, b.id] });
        const [sa, sb, sc] = [await joined(app, a), await joined(app, b), await joined(app, c)];
        const seenC = collect(sc, 'events:channel');
        const gotA = next(sa, 'events:channel');
        const gotB = next(sb, 'events:channel');
        sa.emit('events:channel', { channel_id: ch, message_id: null, data: { type: 'typing', data: { typing: true } } });
        const expected = { channel_id: ch, message_id: null, data: { type: 'typing', data: { typing: true } },
            user: { id: a.id, name: 'Ann', role: 'user' } };
        assert.deepEqual(await gotB, expected);
        assert.deepEqual(await gotA, expected);
        // the outsider can neither see nor send typing into the channel
        const none = collect(sb, 'events:channel');
        sc.emit('events:channel', { channel_id: ch, message_id: null, data: { type: 'typing', data: { typing: true } } });
        await sleep(300);
        assert.deepEqual(seenC, []);
        assert.deepEqual(none, []);
        // a thread reply carries its message_id
        const thread = next(sa, 'events:channel');
        sb.emit('events:channel', { channel_id: ch, message_id: 'm-1', data: { type: 'typing', data: { typing: true } } });
        const t = await thread;
        assert.equal(t.message_id, 'm-1');
        assert.equal(t.user.name, 'Ben');
        for (const s of [sa, sb, sc]) s.close();
    });

    test('typing is rate limited per socket', async () => {
        const ch = addChannel(app, a.id, { members: [a.id, b.id] });
        const [sa, sb] = [await joined(app, a), await joined(app, b)];
        const got = collect(sb, 'events:channel');
        for (let i = 0; i < 30; i++)
            sa.emit('events:channel', { channel_id: ch, message_id: null, data: { type: 'typing', data: { typing: true } } });
        await sleep(400);
        assert.ok(got.length >= 1 && got.length <= 3, `got ${got.length} typing events`);
        sa.close();
        sb.close();
    });

    test('channel rooms follow channel_member and access_grant (user, *, group), owner and admin', async () => {
        const grp = uid();
        const now = Date.now();
        app.sql(`INSERT INTO "group" (id, user_id, name, permissions, created_at, updated_at) VALUES ('${grp}', '${admin.id}', 'g', '{}', ${now}, ${now})`);
        app.sql(`INSERT INTO group_member (id, group_id, user_id, created_at, updated_at) VALUES ('${uid()}', '${grp}', '${c.id}', ${now}, ${now})`);
        const owned = addChannel(app, c.id, { type: null });
        const pub = addChannel(app, a.id, { type: null, grants: [['user:*', 'read']] });
        const direct = addChannel(app, a.id, { type: null, grants: [[`user:${c.id}`, 'read']] });
        const group = addChannel(app, a.id, { type: null, grants: [[`group:${grp}`, 'read']] });
        const writeOnly = addChannel(app, a.id, { type: null, grants: [[`user:${c.id}`, 'write']] });
        const other = addChannel(app, a.id, { type: 'group', members: [a.id] });
        const archived = addChannel(app, a.id, { type: null, grants: [['user:*', 'read']] });
        app.sql(`UPDATE channel SET archived_at = ${now} WHERE id = '${archived}'`);
        const sc = await joined(app, c);
        const got = collect(sc, 'probe');
        for (const ch of [owned, pub, direct, group, writeOnly, other, archived]) await probe(app, `channel:${ch}`);
        await eventually(() => got.length >= 4, 2000, 'probes');
        await sleep(200);
        assert.deepEqual(got.map((x) => x.room).sort(),
            [owned, pub, direct, group].map((x) => `channel:${x}`).sort());
        sc.close();
        // an admin joins the channels it can read like anyone (membership rules), gate exempt
        const sadm = await joined(app, admin);
        const gotAdm = collect(sadm, 'probe');
        await probe(app, `channel:${pub}`);
        await probe(app, `channel:${other}`);
        await eventually(() => gotAdm.length >= 1, 2000, 'admin probe');
        await sleep(200);
        assert.deepEqual(gotAdm.map((x) => x.room), [`channel:${pub}`]);
        sadm.close();
    });

    test('join-channels joins channels created after user-join', async () => {
        const sb = await joined(app, b);
        const ch = addChannel(app, a.id, { members: [a.id, b.id] });
        const got = collect(sb, 'probe');
        await probe(app, `channel:${ch}`);
        await sleep(200);
        assert.equal(got.length, 0);
        const ack = await sb.timeout(3000).emitWithAck('join-channels', { auth: { token: b.token } });
        assert.equal(ack, undefined);
        await probe(app, `channel:${ch}`);
        await eventually(() => got.length === 1, 2000, 'probe after join-channels');
        sb.close();
    });

    test('last_read_at writes channel_member.last_read_at and updated_at in nanoseconds', async () => {
        const ch = addChannel(app, a.id, { members: [a.id, b.id] });
        app.sql(`UPDATE channel_member SET last_read_at = 1, updated_at = 1 WHERE channel_id = '${ch}'`);
        const sa = await joined(app, a);
        const before = BigInt(Date.now()) * 1000000n;
        for (let i = 0; i < 5; i++)
            sa.emit('events:channel', { channel_id: ch, message_id: null, data: { type: 'last_read_at' } });
        const row = await eventually(() => {
            const r = app.sql(`SELECT last_read_at, updated_at FROM channel_member WHERE channel_id = '${ch}' AND user_id = '${a.id}'`);
            return r.startsWith('1|') ? null : r;
        }, 3000, 'last_read_at');
        const [lr, up] = row.split('|').map(BigInt);
        const after = BigInt(Date.now()) * 1000000n;
        assert.ok(lr >= before - 2000000000n && lr <= after + 2000000000n, `last_read_at ${lr}`);
        assert.ok(up >= before - 2000000000n && up <= after + 2000000000n, `updated_at ${up}`);
        assert.equal(app.sql(`SELECT last_read_at FROM channel_member WHERE channel_id = '${ch}' AND user_id = '${b.id}'`), '1');
        sa.close();
    });

    test('events:chat last_read_at: written for the owner (seconds) and announced as chat:list', async () => {
        const { chatId } = addChat(app, a.id);
        const sa = await joined(app, a);
        const sa2 = await joined(app, a);
        const list = next(sa2, 'events', (e) => e.data?.type === 'chat:list');
        await sa.timeout(3000).emitWithAck('events:chat', { chat_id: chatId, data: { type: 'last_read_at' } });
        const ev = await list;
        const now = Math.floor(Date.now() / 1000);
        assert.equal(ev.chat_id, chatId);
        assert.equal(ev.data.data.chat_id, chatId);
        assert.ok(Math.abs(ev.data.data.last_read_at - now) <= 2);
        const v = await eventually(() => Number(app.sql(`SELECT last_read_at FROM chat WHERE id = '${chatId}'`)), 3000, 'chat.last_read_at');
        assert.ok(Math.abs(v - now) <= 2, `chat.last_read_at ${v}`);
        // another user's chat is not touched
        const other = addChat(app, b.id);
        await sa.timeout(3000).emitWithAck('events:chat', { chat_id: other.chatId, data: { type: 'last_read_at' } });
        await sleep(200);
        assert.equal(app.sql(`SELECT last_read_at FROM chat WHERE id = '${other.chatId}'`), '');
        sa.close();
        sa2.close();
    });

    test('events:chat last_read_at of an unread chat: chat:list carries rolled-up folder_unread_counts', async () => {
        // folders of a: top <- sub; chats: one unread in sub, one unread in top, one read in top
        const top = uid(), sub = uid();
        const now = Math.floor(Date.now() / 1000);
        app.sql(`INSERT INTO folder (id, parent_id, user_id, name, created_at, updated_at) VALUES ('${top}', NULL, '${a.id}', 'Top', ${now}, ${now})`);
        app.sql(`INSERT INTO folder (id, parent_id, user_id, name, created_at, updated_at) VALUES ('${sub}', '${top}', '${a.id}', 'Sub', ${now}, ${now})`);
        const inSub = addChat(app, a.id).chatId;
        const inSub2 = addChat(app, a.id).chatId;
        const inTop = addChat(app, a.id).chatId;
        const readTop = addChat(app, a.id).chatId;
        app.sql(`UPDATE chat SET folder_id = '${sub}' WHERE id IN ('${inSub}', '${inSub2}')`);
        app.sql(`UPDATE chat SET folder_id = '${top}' WHERE id IN ('${inTop}', '${readTop}')`);
        app.sql(`UPDATE chat SET last_read_at = updated_at + 10 WHERE id = '${readTop}'`);
        const sa = await joined(app, a);
        const list = next(sa, 'events', (e) => e.data?.type === 'chat:list' && e.chat_id === inSub);
        await sa.timeout(3000).emitWithAck('events:chat', { chat_id: inSub, data: { type: 'last_read_at' } });
        const ev = await list;
        // after the read: sub has inSub2 (1); top has inTop (1) + sub's 1 = 2
        assert.equal(ev.data.data.folder_unread_counts[sub], 1);
        assert.equal(ev.data.data.folder_unread_counts[top], 2);
        assert.equal(typeof ev.data.data.last_read_at, 'number');
        // the same chat again is not unread: no counts
        const again = next(sa, 'events', (e) => e.data?.type === 'chat:list' && e.chat_id === inSub);
        await sa.timeout(3000).emitWithAck('events:chat', { chat_id: inSub, data: { type: 'last_read_at' } });
        const ev2 = await again;
        assert.equal(ev2.data.data.folder_unread_counts, undefined);
        sa.close();
    });

    test('join-note: owner, read grant and admin join note:{id}; others do not', async () => {
        const note = uid();
        const now = Date.now() * 1e6;
        app.sql(`INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at) VALUES ('${note}', '${a.id}', 'n', '{}', '{}', ${now}, ${now})`);
        app.sql(`INSERT INTO access_grant (id, resource_type, resource_id, principal_type, principal_id, permission, created_at) VALUES ('${uid()}', 'note', '${note}', 'user', '${b.id}', 'read', 1)`);
        app.sql(`INSERT INTO access_grant (id, resource_type, resource_id, principal_type, principal_id, permission, created_at) VALUES ('${uid()}', 'note', '${note}', 'user', '${c.id}', 'write', 1)`);
        const socks = {};
        for (const [k, u] of Object.entries({ a, b, c, admin })) {
            socks[k] = await app.connect(u.token);
            await socks[k].timeout(3000).emitWithAck('join-note', { note_id: note, auth: { token: u.token } });
        }
        await socks.c.timeout(3000).emitWithAck('join-note', { note_id: uid(), auth: { token: c.token } });
        const got = Object.fromEntries(Object.entries(socks).map(([k, s]) => [k, collect(s, 'note-events')]));
        await probe(app, `note:${note}`, 'note-events');
        await eventually(() => got.a.length && got.b.length && got.admin.length, 2000, 'note-events');
        await sleep(200);
        assert.equal(got.c.length, 0, 'a write-only grant does not give read');
        for (const s of Object.values(socks)) s.close();
    });
});

describe('features.channels permission', () => {
    test('with USER_PERMISSIONS_FEATURES_CHANNELS=false only admins and granted groups join channel rooms', async () => {
        const app = await App.start({ env: { SIOC_EMIT_API_KEY: KEY, USER_PERMISSIONS_FEATURES_CHANNELS: 'false' } });
        const u = app.addUser({ name: 'U' });
        const g = app.addUser({ name: 'G' });
        const adm = app.addUser({ name: 'A', role: 'admin' });
        const grp = uid();
        app.sql(`INSERT INTO "group" (id, user_id, name, permissions, created_at, updated_at) VALUES ('${grp}', '${adm.id}', 'g', '{"features":{"channels":true}}', 1, 1)`);
        app.sql(`INSERT INTO group_member (id, group_id, user_id, created_at, updated_at) VALUES ('${uid()}', '${grp}', '${g.id}', 1, 1)`);
        const ch = addChannel(app, adm.id, { members: [u.id, g.id, adm.id] });
        const socks = [await joined(app, u), await joined(app, g), await joined(app, adm)];
        const got = socks.map((s) => collect(s, 'probe'));
        await probe(app, `channel:${ch}`);
        await eventually(() => got[1].length && got[2].length, 2000, 'probes');
        await sleep(200);
        assert.equal(got[0].length, 0);
        for (const s of socks) s.close();
        assert.equal((await app.stop()).code, 0);
    });
});
