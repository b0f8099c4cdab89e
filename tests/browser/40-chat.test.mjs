// Chat against a fake OpenAI-compatible upstream (tests/integration/lib/fake-openai.mjs)
// that streams one word every 120 ms: the answer appears progressively in the page (many
// distinct growing prefixes before it is done), the stop button ends a generation early,
// an upstream that dies mid-stream shows the error, and the chat reloads from the server
// with its history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, signIn, shot, until, sleep } from './lib.mjs';
import { startFakeOpenAI } from '../integration/lib/fake-openai.mjs';

let app;
let fake;
let browser;
let user;
let page;

const KEY = 'sk-browser-test';
const WORDS = 'the quick brown fox jumps over the lazy dog while sioc streams every single token';

before(async () => {
    fake = await startFakeOpenAI({ key: KEY, models: ['gpt-fake', 'fake-fail-midstream'], delayMs: 120 });
    app = await startServer({ env: { OPENAI_API_BASE_URL: fake.url, OPENAI_API_KEY: KEY } });
    browser = await launch();
    user = app.addUser({ role: 'admin', name: 'Ada Admin' });
    page = await newPage(browser, app);
    await signIn(page, user);
});

after(async () => {
    await browser?.close();
    await app?.stop();
    await fake?.close();
});

const answers = () => page.locator('[data-testid=answer]');

/** Sends `text` with `model`, samples the last answer every 30 ms until it is done
 *  (saving a screenshot named `shotName` mid-stream when given). */
async function ask(model, text, shotName = null) {
    await page.locator('[data-testid=model-select]').selectOption(model);
    const before = await answers().count();
    await page.locator('[data-testid=chat-input]').fill(text);
    await page.locator('[data-testid=send]').click();
    await until(async () => (await answers().count()) === before + 1, 'the answer bubble');
    const last = page.locator('article[data-role=assistant]').last();
    const seen = [];
    await until(async () => {
        const t = await last.locator('[data-testid=answer]').innerText();
        if (t && t !== seen.at(-1)) {
            seen.push(t);
            if (shotName && seen.length === 6) await shot(page, shotName);
        }
        return (await last.getAttribute('data-done')) === '1';
    }, 'the answer to finish', 30000);
    const final = (await last.locator('[data-testid=answer]').innerText()).trim();
    return { seen, final, last };
}

test('the answer streams in progressively and is saved with the chat', async () => {
    await page.locator('[data-testid=model-select] option[value=gpt-fake]').waitFor({ state: 'attached' });
    const { seen, final } = await ask('gpt-fake', WORDS, 'chat');
    assert.equal(final, WORDS);
    const partial = seen.filter((t) => t.trim() && t.trim() !== WORDS);
    assert.ok(partial.length >= 5, `saw ${partial.length} partial answers: ${JSON.stringify(partial)}`);
    for (let i = 1; i < partial.length; i++) {
        assert.ok(partial[i].startsWith(partial[i - 1].trimEnd()), 'each partial answer extends the previous one');
        assert.ok(WORDS.startsWith(partial[i].trim()), 'each partial answer is a prefix of the answer');
    }
    await page.waitForURL(/#\/chat\/[^/]+$/);

    // The upstream got Open WebUI's conversation and the stored chat holds the answer.
    const req = fake.requests.at(-1);
    assert.equal(req.body.model, 'gpt-fake');
    assert.equal(req.body.stream, true);
    assert.equal(req.body.messages.at(-1).content, WORDS);
    const chatId = decodeURIComponent(page.url().split('/').pop());
    await page.reload();
    await page.locator('[data-testid=answer]').first().waitFor();
    await until(async () => (await answers().first().innerText()).trim() === WORDS, 'the reloaded answer');
    assert.equal((await page.locator('[data-testid=question]').first().innerText()).trim(), WORDS);
    const row = await app.http(`/api/v1/chats/${encodeURIComponent(chatId)}`, { headers: { Authorization: `Bearer ${user.token}` } });
    assert.equal(row.status, 200);
    const msgs = Object.values(row.json.chat.history.messages);
    assert.ok(msgs.some((m) => m.role === 'assistant' && m.content === WORDS));
});

test('the stop button ends a generation early', async () => {
    await page.locator('[data-testid=new-chat]').click();
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    await page.locator('[data-testid=model-select]').selectOption('gpt-fake');
    await page.locator('[data-testid=chat-input]').fill(long);
    await page.locator('[data-testid=send]').click();
    const last = page.locator('article[data-role=assistant]').last();
    await until(async () => (await last.locator('[data-testid=answer]').innerText()).includes('word3'), 'a few words');
    await page.locator('[data-testid=stop]').click();
    await until(async () => (await last.getAttribute('data-done')) === '1', 'the stopped answer to end');
    const text = (await last.locator('[data-testid=answer]').innerText()).trim();
    assert.ok(text.startsWith('word0 word1 word2'), text);
    assert.ok(text.length < long.length, 'stopped before the end');
    await until(() => fake.stats.aborted >= 1, 'the upstream request to be aborted');
    await page.locator('[data-testid=send]').waitFor();
    // Nothing more arrives after the stop.
    await sleep(500);
    assert.equal((await last.locator('[data-testid=answer]').innerText()).trim(), text);
});

test('an upstream that fails mid-stream shows the error', async () => {
    await page.locator('[data-testid=new-chat]').click();
    const { final, last } = await ask('fake-fail-midstream', 'this will break');
    assert.match(final, /^part0 part1 part2/);
    const err = last.locator('[data-testid=answer-error]');
    await err.waitFor();
    assert.notEqual((await err.innerText()).trim(), '');
    await page.locator('[data-testid=send]').waitFor({ state: 'attached' });
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
