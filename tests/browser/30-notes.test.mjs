// A note edited in two browsers at once: both editors converge on the same text holding
// both users' edits, each shows the other's cursor (awareness, spec §6.6), the server
// saves the merged content (GET /api/v1/notes/{id}), and once both left, reopening the
// note seeds the editor from the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, signIn, shot, until, sleep, shareNote, docText } from './lib.mjs';

let app;
let browser;

/** The editor's visible text (cursor labels included), without empty lines. */
const editorText = (page) => page.locator('[data-testid=note-editor]').evaluate((el) => el.innerText
    .replace(/\u2060/g, '').split('\n').filter((l) => l.trim()).join('\n'));

before(async () => {
    app = await startServer();
    browser = await launch();
});

after(async () => {
    await browser?.close();
    await app?.stop();
});

test('two editors converge, see each other\'s cursor, and the DB holds the note', async () => {
    const a = app.addUser({ role: 'admin', name: 'Ada Admin' });
    const b = app.addUser({ role: 'user', name: 'Bob Builder' });
    const pa = await newPage(browser, app);
    const pb = await newPage(browser, app);
    await signIn(pa, a);
    await signIn(pb, b);

    // Ada creates a note through the UI and writes its first line.
    await pa.locator('[data-nav=notes]').click();
    await pa.locator('[data-testid=new-note]').click();
    await pa.waitForURL(/#\/notes\/[^/]+$/);
    const noteId = decodeURIComponent(pa.url().split('/').pop());
    // The title is saved over REST (POST /api/v1/notes/{id}/update) and shows in the list.
    const titleInput = pa.locator('[data-testid=note-title]');
    await titleInput.fill('Weekly planning');
    await titleInput.press('Enter');
    await pa.locator('.sublist .sub-item', { hasText: 'Weekly planning' }).waitFor();
    const edA = pa.locator('[data-testid=note-editor]');
    await edA.click();
    await pa.keyboard.type('Meeting notes', { delay: 20 });
    shareNote(app, noteId);

    // Bob opens it and gets Ada's text through the shared document.
    await pb.goto(`/#/notes/${encodeURIComponent(noteId)}`);
    const edB = pb.locator('[data-testid=note-editor]');
    await edB.waitFor();
    await until(async () => (await docText(pb)) === 'Meeting notes', 'Bob to see Ada\'s text');

    // Both type at the same time: Ada at the end, Bob at the start.
    await edB.click();
    await pb.keyboard.press('Control+Home');
    await pa.keyboard.press('Control+End');
    await Promise.all([
        pa.keyboard.type(' for Monday', { delay: 35 }),
        pb.keyboard.type('Draft: ', { delay: 35 }),
    ]);
    const expected = 'Draft: Meeting notes for Monday';
    await until(async () => (await docText(pa)) === expected && (await docText(pb)) === expected,
        'both editors to converge');

    // Each sees the other's cursor, labelled with the other's name.
    await until(async () => (await pa.locator('.ProseMirror-yjs-cursor', { hasText: 'Bob Builder' }).count()) === 1,
        'Bob\'s cursor in Ada\'s editor');
    await until(async () => (await pb.locator('.ProseMirror-yjs-cursor', { hasText: 'Ada Admin' }).count()) === 1,
        'Ada\'s cursor in Bob\'s editor');
    await pa.locator('[data-testid=peers]', { hasText: 'Bob Builder' }).waitFor();
    await shot(pa, 'notes');

    // The server saves the merged content (debounced) into note.data.content.
    const get = () => app.http(`/api/v1/notes/${encodeURIComponent(noteId)}`, { headers: { Authorization: `Bearer ${a.token}` } });
    await until(async () => (await get()).json?.data?.content?.md?.includes(expected), 'the saved note');
    const saved = (await get()).json.data.content;
    assert.match(saved.html, /Draft: Meeting notes for Monday/);
    assert.equal(saved.json.type, 'doc');
    assert.equal((await get()).json.title, 'Weekly planning');

    // Once nobody types, the editors go quiet: the last snapshot goes out, then nothing
    // (no update ping-pong between them, which would never let the counts settle).
    const counts = () => `${pa.sent.get('ydoc:document:update')}/${pb.sent.get('ydoc:document:update')}`;
    assert.ok(pa.sent.get('ydoc:document:update') > 0 && pb.sent.get('ydoc:document:update') > 0,
        'both editors sent updates');
    let seen = counts();
    let since = Date.now();
    await until(() => {
        if (counts() !== seen) {
            seen = counts();
            since = Date.now();
        }
        return Date.now() - since >= 1500;
    }, 'the editors to stop sending updates');

    // Both leave (the server drops the shared document); reopening seeds from the DB.
    await pa.locator('[data-nav=chat]').click();
    await pb.locator('[data-nav=chat]').click();
    await sleep(300);
    await pb.goto('about:blank');
    await pb.goto(`/#/notes/${encodeURIComponent(noteId)}`);
    await pb.locator('[data-testid=note-editor]').waitFor();
    await until(async () => (await docText(pb)) === expected, 'the note reloaded from the DB');
    assert.equal(await editorText(pb), expected);
    assert.deepEqual(pa.errors.filter((e) => !/Failed to load resource/.test(e)), []);
    assert.deepEqual(pb.errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await pa.context().close();
    await pb.context().close();
});
