// sioc killed (SIGKILL) and restarted on the same port and database while two users have
// the app open: the "Connection lost. Reconnecting…" banner appears, the clients reconnect
// by themselves (socket.io-client's 1–5 s backoff), the banner goes, and chat and the
// shared note keep working: a new answer streams, new edits converge, nothing typed before
// the crash is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, signIn, shot, until, sleep, shareNote, docText } from './lib.mjs';
import { startFakeOpenAI } from '../integration/lib/fake-openai.mjs';

let app;
let fake;
let browser;

before(async () => {
    fake = await startFakeOpenAI({ models: ['gpt-fake'], delayMs: 60 });
    app = await startServer({ env: { OPENAI_API_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-x' } });
    browser = await launch();
});

after(async () => {
    await browser?.close();
    await app?.stop();
    await fake?.close();
});

test('kill and restart: banner, automatic reconnect, chat and note go on', async () => {
    const a = app.addUser({ role: 'admin', name: 'Ada Admin' });
    const b = app.addUser({ role: 'user', name: 'Bob Builder' });
    const chatPage = await newPage(browser, app);
    const pa = await newPage(browser, app);
    const pb = await newPage(browser, app);
    await signIn(chatPage, a);
    await signIn(pa, a);
    await signIn(pb, b);

    // A chat with one answer, and a shared note both users have open.
    await chatPage.locator('[data-testid=model-select] option[value=gpt-fake]').waitFor({ state: 'attached' });
    await chatPage.locator('[data-testid=model-select]').selectOption('gpt-fake');
    await chatPage.locator('[data-testid=chat-input]').fill('before the crash');
    await chatPage.locator('[data-testid=send]').click();
    await until(async () => (await chatPage.locator('[data-testid=answer]').last().innerText()).trim() === 'before the crash',
        'the first answer');
    await chatPage.waitForURL(/#\/chat\/[^/]+$/);

    await pa.locator('[data-nav=notes]').click();
    await pa.locator('[data-testid=new-note]').click();
    await pa.waitForURL(/#\/notes\/[^/]+$/);
    const noteId = decodeURIComponent(pa.url().split('/').pop());
    shareNote(app, noteId);
    await pa.locator('[data-testid=note-editor]').click();
    await pa.keyboard.type('one', { delay: 20 });
    await pb.goto(`/#/notes/${encodeURIComponent(noteId)}`);
    await until(async () => (await docText(pb)) === 'one', 'Bob to see the note');

    // A long answer is streaming when the server dies.
    const long = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ');
    await chatPage.locator('[data-testid=chat-input]').fill(long);
    await chatPage.locator('[data-testid=send]').click();
    const cut = chatPage.locator('article[data-role=assistant]').last();
    await until(async () => (await cut.locator('[data-testid=answer]').innerText()).includes('w25'), 'the long answer to start');
    const cutId = await cut.getAttribute('data-id');

    // Kill the server: every page shows the banner.
    app.kill();
    await app.exited;
    for (const p of [chatPage, pa, pb]) {
        await p.locator('[data-testid=connection-banner]').waitFor();
        assert.match(await p.locator('[data-testid=connection-banner]').innerText(), /Connection lost\. Reconnecting…/);
    }
    await shot(pa, 'reconnecting');
    // Ada keeps typing while offline.
    await pa.locator('[data-testid=note-editor]').click();
    await pa.keyboard.press('Control+End');
    await pa.keyboard.type(' two', { delay: 20 });

    // Restart on the same port and database: the clients come back by themselves.
    await app.spawn();
    for (const p of [chatPage, pa, pb]) {
        await until(() => p.evaluate(() => document.body.dataset.socket === 'connected'), 'the reconnect', 20000);
        await p.locator('[data-testid=connection-banner]').waitFor({ state: 'detached' });
    }

    // The note: the offline edit reaches Bob, and new edits from both sides converge.
    await until(async () => (await docText(pb)) === 'one two', 'the offline edit to reach Bob', 15000);
    await pb.locator('[data-testid=note-editor]').click();
    await pb.keyboard.press('Control+End');
    await pb.keyboard.type(' three', { delay: 20 });
    await until(async () => (await docText(pa)) === 'one two three' && (await docText(pb)) === 'one two three',
        'edits after the restart to converge');

    // The chat: the interrupted answer has no task any more, so the page reloads the chat
    // from the server and shows what was saved of it (Open WebUI's rule, spec §6.2).
    await until(async () => (await cut.getAttribute('data-done')) === '1', 'the interrupted answer to be settled', 15000);
    const chatId = decodeURIComponent(chatPage.url().split('/').pop());
    const row = await app.http(`/api/v1/chats/${encodeURIComponent(chatId)}`, { headers: { Authorization: `Bearer ${a.token}` } });
    assert.equal(row.status, 200);
    const stored = row.json.chat.history.messages[cutId];
    assert.ok(stored, 'the interrupted answer is in the chat row');
    assert.equal((await cut.locator('[data-testid=answer]').innerText()).trim(), (stored.content ?? '').trim());
    assert.ok(long.startsWith((stored.content ?? '').trim()), 'the saved part is a prefix of the answer');

    // A new answer streams after the restart.
    await chatPage.locator('[data-testid=chat-input]').fill('after the restart');
    await chatPage.locator('[data-testid=send]').click();
    await until(async () => {
        const last = chatPage.locator('article[data-role=assistant]').last();
        return (await last.getAttribute('data-done')) === '1'
            && (await last.locator('[data-testid=answer]').innerText()).trim() === 'after the restart';
    }, 'the answer after the restart');
    const answersNow = (await chatPage.locator('[data-testid=answer]').allInnerTexts()).map((t) => t.trim());
    assert.equal(answersNow.length, 3);
    assert.equal(answersNow[0], 'before the crash');
    assert.equal(answersNow[2], 'after the restart');
    await sleep(100);
    for (const p of [chatPage, pa, pb]) await p.context().close();
});
