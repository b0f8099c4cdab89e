// The `sioc` program's Yjs collaborative notes (openwebui-protocol.md §3.8, §5.5, §5.6,
// §6.6, §8.3), driven the way Open WebUI's editor (Collaboration.ts) drives them: real
// Y.Docs from the `yjs` package, real socket.io-client sockets, the real build/sioc on a
// fresh database, users and tokens from `sioc user add` / `sioc token`, notes and grants
// inserted with SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { App, eventually, next, sleep, uid, SLOW } from './70-app-lib.mjs';

/** Starts a server for test `t`, stopped (and checked for a clean exit) when it ends. */
async function startApp(t) {
    const app = await App.start();
    t.after(async () => {
        const r = await app.stop();
        assert.doesNotMatch(app.stderr, /AddressSanitizer|runtime error|LeakSanitizer/, app.stderr);
        assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${app.stderr}`);
    });
    return app;
}

const COLORS = ['#FF6B6B', '#4ECDC4', '#45B7D1', '#96CEB4', '#FFEAA7'];

/** Inserts a note owned by `owner` with `data`; grants: [[userId|'*', 'read'|'write'], ...]. */
function addNote(app, owner, { data = { content: { md: '', html: '', json: null } }, grants = [] } = {}) {
    const id = uid();
    const now = Date.now() * 1e6;
    const d = JSON.stringify(data).replace(/'/g, "''");
    app.sql(`INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at) VALUES ('${id}', '${owner}', 'N', '${d}', NULL, ${now}, ${now})`);
    for (const [principal, permission] of grants) {
        app.sql(`INSERT INTO access_grant (id, resource_type, resource_id, principal_type, principal_id, permission, created_at) VALUES ('${uid()}', 'note', '${id}', 'user', '${principal}', '${permission}', ${Math.floor(Date.now() / 1000)})`);
    }
    return id;
}

function noteData(app, id) {
    const t = app.sql(`SELECT data FROM note WHERE id = '${id}'`);
    return t ? JSON.parse(t) : null;
}

const bytes = (v) => (v instanceof Uint8Array ? v : Uint8Array.from(v));
const isEmptyState = (s) => s.length === 2 && s[0] === 0 && s[1] === 0;

/**
 * One note editor as Collaboration.ts runs it, on a Y.Text "t" instead of the ProseMirror
 * fragment: every local change goes out as an int array with the full snapshot in
 * data.content; remote updates are applied WITHOUT the 'server' origin, so the editor echoes
 * them back like the real one does (spec §6.7); an empty state [0,0] makes the only editor
 * seed from `seed`, and an editor that already has content re-sends its whole state as a
 * raw Uint8Array (the binary re-sync path, no data).
 */
class Editor {
    constructor(sock, user, noteId, { seed = null, echo = true } = {}) {
        this.sock = sock;
        this.user = user;
        this.docId = `note:${noteId}`;
        this.doc = new Y.Doc();
        this.text = this.doc.getText('t');
        this.seed = seed;
        this.states = [];
        this.remote = 0;
        this.doc.on('update', (u, origin) => {
            if (origin === 'server') return;
            const md = this.text.toString();
            sock.emit('ydoc:document:update', {
                document_id: this.docId, user_id: user.id, socket_id: sock.id, update: Array.from(u),
                data: { content: { md, html: `<p>${md}</p>`, json: { type: 'doc', text: md } } },
            });
        });
        sock.on('ydoc:document:state', (d) => {
            if (d.document_id !== this.docId) return;
            this.states.push(d);
            const state = bytes(d.state);
            if (!isEmptyState(state)) {
                Y.applyUpdate(this.doc, state, 'server');
            } else if (this.text.length === 0 && (d.sessions ?? []).length <= 1) {
                if (this.seed) this.text.insert(0, this.seed);
            } else if (this.text.length > 0) {
                sock.emit('ydoc:document:update', {
                    document_id: this.docId, user_id: user.id, socket_id: sock.id,
                    update: Y.encodeStateAsUpdate(this.doc),
                });
            }
        });
        sock.on('ydoc:document:update', (d) => {
            if (d.document_id !== this.docId || d.socket_id === sock.id) return;
            this.remote++;
            Y.applyUpdate(this.doc, bytes(d.update), echo ? undefined : 'server');
        });
    }

    /** Joins and waits for the state (resolves it). */
    async join() {
        const got = next(this.sock, 'ydoc:document:state', (d) => d.document_id === this.docId);
        this.sock.emit('ydoc:document:join', {
            document_id: this.docId, user_id: this.user.id, user_name: this.user.name,
            user_color: COLORS[Math.floor(Math.random() * COLORS.length)],
        });
        return got;
    }

    type(s, at = this.text.length) {
        for (const ch of s) this.text.insert(at++, ch);
    }

    get value() { return this.text.toString(); }
}

/** Connects a socket for `user` and makes it an editor of `noteId`. */
async function editor(app, user, noteId, opts) {
    const sock = await app.connect(user.token);
    return new Editor(sock, user, noteId, opts);
}

/** Three users of one app: an owner, a user with read+write grants, a reader, a stranger. */
async function world(t) {
    const app = await startApp(t);
    const owner = app.addUser({ name: 'Owner' });
    const rw = app.addUser({ name: 'Writer' });
    const reader = app.addUser({ name: 'Reader' });
    const stranger = app.addUser({ name: 'Stranger' });
    const noteId = addNote(app, owner.id, {
        data: { content: { md: 'stored', html: '<p>stored</p>', json: null }, files: ['f1'] },
        grants: [[rw.id, 'read'], [rw.id, 'write'], [reader.id, 'read']],
    });
    return { app, owner, rw, reader, stranger, noteId };
}

test('two Y.Docs converge through the server, and a late joiner gets the merged state', async (t) => {
    const { app, owner, rw, noteId } = await world(t);
    const a = await editor(app, owner, noteId);
    const b = await editor(app, rw, noteId);
    const sa = await a.join();
    assert.deepEqual(bytes(sa.state), Uint8Array.from([0, 0]));
    assert.deepEqual(sa.sessions, [a.sock.id]);
    const joined = next(a.sock, 'ydoc:user:joined');
    const sb = await b.join();
    assert.deepEqual(bytes(sb.state), Uint8Array.from([0, 0]));
    assert.deepEqual(sb.sessions, [a.sock.id, b.sock.id], 'two sessions: the second editor must not seed');
    assert.deepEqual(await joined, { document_id: `note:${noteId}`, user_id: rw.id, user_name: 'Writer', user_color: (await joined).user_color });

    // both type at once, interleaved
    for (let i = 0; i < 20; i++) {
        a.type('a', 0);
        b.type('b');
        if (i % 5 === 0) await sleep(5);
    }
    await eventually(() => a.value.length === 40 && a.value === b.value, 5000,
        `convergence (a=${a.value} b=${b.value})`);
    assert.equal([...a.value].filter((c) => c === 'a').length, 20);
    assert.ok(a.remote > 0 && b.remote > 0, 'each got the other one\'s updates');

    // a late joiner gets one merged state equal to both
    const c = await editor(app, owner, noteId, { echo: false });
    const sc = await c.join();
    assert.equal(sc.sessions.length, 3);
    const merged = new Y.Doc();
    Y.applyUpdate(merged, bytes(sc.state));
    assert.equal(merged.getText('t').toString(), a.value);
    assert.deepEqual(Y.encodeStateVector(merged), Y.encodeStateVector(a.doc));
    assert.equal(c.value, b.value);
    // and the state is compact: the merge of every update, not a list of them
    assert.ok(sc.state.length < 2000, `state of ${sc.state.length} bytes for 40 characters`);
});

test('the [0,0] seeding rule: only a lone editor of an empty document seeds, once', async (t) => {
    const { app, owner, rw, noteId } = await world(t);
    const a = await editor(app, owner, noteId, { seed: 'from the note' });
    const sa = await a.join();
    assert.deepEqual(Array.from(bytes(sa.state)), [0, 0]);
    assert.deepEqual(sa.sessions, [a.sock.id]);
    assert.equal(a.value, 'from the note', 'the lone editor seeded');
    // the seed's update reaches the server: the next joiner gets it, not [0,0]
    await eventually(async () => {
        const probe = await editor(app, rw, noteId, { seed: 'WRONG' });
        const s = await probe.join();
        const ok = !isEmptyState(bytes(s.state));
        probe.sock.close();
        return ok && probe.value === 'from the note';
    }, 3000, 'the seeded state');
    // everyone leaves: the document is cleared, so the next lone editor gets [0,0] again
    a.sock.emit('ydoc:document:leave', { document_id: `note:${noteId}`, user_id: owner.id });
    a.sock.close();
    await sleep(200 * SLOW);
    const d = await editor(app, rw, noteId);
    const sd = await d.join();
    assert.deepEqual(Array.from(bytes(sd.state)), [0, 0]);
    assert.deepEqual(sd.sessions, [d.sock.id]);
});

test('the binary re-sync path: raw Uint8Array updates are stored and relayed', async (t) => {
    const { app, owner, rw, noteId } = await world(t);
    const listener = await editor(app, rw, noteId, { echo: false });
    await listener.join();
    // an editor that already has content meets an empty document: it re-sends its whole
    // state as a binary attachment, without data
    const a = await editor(app, owner, noteId);
    a.doc.transact(() => a.text.insert(0, 'offline edits'), 'server'); // local, not emitted
    const relayed = next(listener.sock, 'ydoc:document:update');
    const sa = await a.join();
    assert.deepEqual(Array.from(bytes(sa.state)), [0, 0]);
    const u = await relayed;
    assert.ok(Array.isArray(u.update), 'relayed as an int array');
    assert.equal(u.socket_id, a.sock.id);
    assert.equal(u.user_id, owner.id);
    await eventually(() => listener.value === 'offline edits', 3000, 'the listener applied it');
    // stored: a late joiner sees it
    const late = await editor(app, owner, noteId, { echo: false });
    await late.join();
    assert.equal(late.value, 'offline edits');
    // no data, so no save
    await sleep(800 * SLOW);
    assert.equal(noteData(app, noteId).content.md, 'stored');
});

test('an unauthorised user is refused join and update', async (t) => {
    const { app, owner, reader, stranger, noteId } = await world(t);
    const a = await editor(app, owner, noteId, { echo: false });
    await a.join();
    const seen = [];
    a.sock.on('ydoc:document:update', (d) => seen.push(d));
    a.sock.on('ydoc:awareness:update', (d) => seen.push(d));

    // a stranger: no state on join, and nothing they send is relayed or stored
    const s = await editor(app, stranger, noteId);
    const states = [];
    s.sock.on('ydoc:document:state', (d) => states.push(d));
    const ack = await s.sock.timeout(3000 * SLOW).emitWithAck('ydoc:document:join', { document_id: `note:${noteId}` });
    assert.equal(ack, undefined, 'an empty ack, like python-socketio');
    s.type('intruder');
    s.sock.emit('ydoc:awareness:update', { document_id: `note:${noteId}`, user_id: s.sock.id, update: [123, 125] });
    // the reader joins but may not write
    const r = await editor(app, reader, noteId);
    const sr = await r.join();
    assert.equal(sr.document_id, `note:${noteId}`);
    r.type('reader text');
    // an anonymous socket (bad token) gets nothing either
    const anon = await app.connect('not-a-token');
    const anonStates = [];
    anon.on('ydoc:document:state', (d) => anonStates.push(d));
    anon.emit('ydoc:document:join', { document_id: `note:${noteId}` });
    anon.emit('ydoc:document:update', { document_id: `note:${noteId}`, update: Array.from(Y.encodeStateAsUpdate(s.doc)) });
    // and the `note_` spelling addresses the same, checked document
    s.sock.emit('ydoc:document:join', { document_id: `note_${noteId}` });

    await sleep(1000 * SLOW);
    assert.deepEqual(states, []);
    assert.deepEqual(anonStates, []);
    assert.deepEqual(seen, [], 'nothing from the stranger, the reader or the anonymous socket');
    const late = await editor(app, owner, noteId, { echo: false });
    const sl = await late.join();
    assert.deepEqual(Array.from(bytes(sl.state)), [0, 0], 'nothing was stored');
    assert.equal(noteData(app, noteId).content.md, 'stored', 'nothing was saved');
});

test('the note row holds the last content 500 ms after the last update with data', async (t) => {
    const { app, rw, noteId } = await world(t);
    const a = await editor(app, rw, noteId);
    await a.join();
    a.type('hello');
    const t0 = Date.now();
    a.type(' world');
    // debounced: not before 500 ms after the last update
    await sleep(250);
    const early = noteData(app, noteId).content.md;
    if (Date.now() - t0 < 450) assert.equal(early, 'stored');
    const d = await eventually(() => {
        const v = noteData(app, noteId);
        return v.content.md === 'hello world' ? v : null;
    }, 3000, 'the saved content');
    assert.ok(Date.now() - t0 >= 480, 'saved after the debounce');
    assert.equal(d.content.html, '<p>hello world</p>');
    assert.deepEqual(d.content.json, { type: 'doc', text: 'hello world' });
    assert.deepEqual(d.files, ['f1'], 'data is shallow-merged: other keys survive');
    const ns = BigInt(app.sql(`SELECT updated_at FROM note WHERE id = '${noteId}'`));
    assert.ok(ns > BigInt(Date.now() - 60000) * 1000000n, `updated_at in nanoseconds: ${ns}`);
    // an update without data (the re-sync path) does not cancel a pending save
    a.type('!');
    a.sock.emit('ydoc:document:update', { document_id: `note:${noteId}`, user_id: rw.id, socket_id: a.sock.id,
        update: Array.from(Y.encodeStateAsUpdate(a.doc)) });
    await eventually(() => noteData(app, noteId).content.md === 'hello world!', 3000, 'the last save');
});

test('a content snapshot without an update (current Open WebUI editor) re-arms the save only', async (t) => {
    const { app, rw, reader, noteId } = await world(t);
    const a = await editor(app, rw, noteId);
    await a.join();
    const watcher = await editor(app, reader, noteId);
    await watcher.join();
    const relayed = [];
    watcher.sock.on('ydoc:document:update', (m) => relayed.push(m));
    a.sock.emit('ydoc:document:update', { document_id: `note:${noteId}`,
        data: { content: { md: 'snapshot only', html: '<p>snapshot only</p>', json: null } } });
    await eventually(() => noteData(app, noteId).content.md === 'snapshot only', 3000, 'the snapshot saved');
    assert.deepEqual(noteData(app, noteId).files, ['f1'], 'shallow merge as for any save');
    assert.equal(relayed.length, 0, 'nothing to relay without an update');
    // a reader's snapshot is refused like a reader's update
    watcher.sock.emit('ydoc:document:update', { document_id: `note:${noteId}`,
        data: { content: { md: 'reader wrote', html: '', json: null } } });
    await sleep(900);
    assert.equal(noteData(app, noteId).content.md, 'snapshot only');
});

test('SIGTERM during the debounce still saves the last edit', async (t) => {
    const { app, owner, noteId } = await world(t);
    const a = await editor(app, owner, noteId);
    await a.join();
    a.type('last words');
    const typed = Date.now();
    // the last update must have reached the server: wait for a late joiner to see it
    const probe = await editor(app, owner, noteId, { echo: false });
    await eventually(async () => {
        const s = await probe.join();
        const d = new Y.Doc();
        Y.applyUpdate(d, bytes(s.state));
        return d.getText('t').toString() === 'last words';
    }, 3000, 'the update on the server');
    const before = noteData(app, noteId).content.md;
    const early = Date.now() - typed < 400;
    const r = await app.stop();
    assert.equal(r.code, 0, app.stderr);
    assert.ok(r.ms < 5000, `exit took ${r.ms} ms`);
    if (early) assert.equal(before, 'stored', 'the debounce had not fired yet');
    assert.equal(noteData(app, noteId).content.md, 'last words');
});

test('awareness sent with the join is relayed in order; leave tells the others', async (t) => {
    const { app, owner, rw, noteId } = await world(t);
    const a = await editor(app, owner, noteId, { echo: false });
    await a.join();
    const b = await editor(app, rw, noteId, { echo: false });
    const aware = next(a.sock, 'ydoc:awareness:update');
    // like Collaboration.ts: the first awareness update goes out in the same tick as the join
    const state = next(b.sock, 'ydoc:document:state');
    b.sock.emit('ydoc:document:join', { document_id: `note:${noteId}`, user_id: rw.id, user_name: 'W', user_color: '#96CEB4' });
    const cursor = Array.from(Buffer.from(JSON.stringify({ [b.doc.clientID]: { user: { name: 'W' } } })));
    b.sock.emit('ydoc:awareness:update', { document_id: `note:${noteId}`, user_id: b.sock.id, update: cursor });
    await state;
    const got = await aware;
    assert.deepEqual(got, { document_id: `note:${noteId}`, user_id: rw.id, update: cursor },
        'relayed with the authenticated user id');
    const left = next(a.sock, 'ydoc:user:left');
    b.sock.emit('ydoc:document:leave', { document_id: `note:${noteId}`, user_id: 'someone-else' });
    assert.deepEqual(await left, { document_id: `note:${noteId}`, user_id: rw.id });
});

test('polling-only mode (ENABLE_WEBSOCKET_SUPPORT=false): binary updates over long-polling', async (t) => {
    const app = await App.start({ env: { ENABLE_WEBSOCKET_SUPPORT: 'false' } });
    t.after(async () => assert.equal((await app.stop()).code, 0, app.stderr));
    const owner = app.addUser({ name: 'Owner' });
    const noteId = addNote(app, owner.id);
    const poll = { transports: ['polling'] };
    const a = new Editor(await app.connect(owner.token, poll), owner, noteId, { echo: false });
    const b = new Editor(await app.connect(owner.token, poll), owner, noteId, { echo: false });
    assert.equal(a.sock.io.engine.transport.name, 'polling');
    await a.join();
    await b.join();
    const got = next(b.sock, 'ydoc:document:update');
    const d = new Y.Doc();
    d.getText('t').insert(0, 'über polling ✓');
    a.sock.emit('ydoc:document:update', { document_id: `note:${noteId}`, user_id: owner.id,
        socket_id: a.sock.id, update: Y.encodeStateAsUpdate(d) });
    const u = await got;
    assert.ok(Array.isArray(u.update));
    await eventually(() => b.value === 'über polling ✓', 3000, 'applied');
});
