// Sign-up and sign-in through the web client against a real sioc: the first account made
// by sign-up is an admin; a wrong password shows the server's
// error and stays on the form; the right one opens the app with a connected socket and the
// user's name; the dashboard shows the live connection count from /api/sioc/stats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, signIn, shot, until, PASSWORD } from './lib.mjs';

let app;
let browser;

before(async () => {
    app = await startServer();
    browser = await launch();
});

after(async () => {
    await browser?.close();
    await app?.stop();
});

test('sign-up creates an account (the first one is admin) and signs it in', async () => {
    const page = await newPage(browser, app);
    await page.goto('/');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.locator('input[name=name]').fill('First Person');
    await page.locator('input[name=email]').fill('first@example.com');
    await page.locator('input[name=password]').fill('a-long-password-1');
    await page.locator('button[type=submit]').click();
    await page.locator('[data-testid=me-name]').waitFor();
    assert.equal(await page.locator('[data-testid=me-name]').innerText(), 'First Person');
    await page.waitForFunction(() => document.body.dataset.socket === 'connected');
    assert.equal(app.sql("SELECT role FROM user WHERE email = 'first@example.com'"), 'admin');
    await page.context().close();
});

test('a wrong password is refused with a message, the right one signs in', async () => {
    const u = app.addUser({ role: 'admin', name: 'Ada Lovelace' });
    const page = await newPage(browser, app);
    await page.goto('/');
    await page.locator('input[name=email]').fill(u.email);
    await page.locator('input[name=password]').fill('not-the-password');
    await shot(page, 'signin');
    await page.locator('button[type=submit]').click();
    const alert = page.locator('[role=alert]');
    await alert.waitFor();
    assert.notEqual((await alert.innerText()).trim(), '');
    assert.equal(await page.locator('[data-testid=me-name]').count(), 0);

    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('button[type=submit]').click();
    await page.locator('[data-testid=me-name]').waitFor();
    assert.equal(await page.locator('[data-testid=me-name]').innerText(), 'Ada Lovelace');
    await page.waitForFunction(() => document.body.dataset.socket === 'connected');
    const token = await page.evaluate(() => localStorage.token);
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

    // The session survives a reload (token from localStorage, socket reconnects).
    await page.reload();
    await page.locator('[data-testid=me-name]').waitFor();
    await page.waitForFunction(() => document.body.dataset.socket === 'connected');
    await page.context().close();
});

test('two signed-in users show up on the live dashboard', async () => {
    const a = app.addUser({ role: 'admin', name: 'Grace Hopper' });
    const b = app.addUser({ role: 'user', name: 'Alan Turing' });
    const pa = await newPage(browser, app);
    const pb = await newPage(browser, app);
    await signIn(pa, a);
    await signIn(pb, b);
    await pa.locator('[data-nav=dashboard]').click();
    const conns = pa.locator('[data-testid=stat-connections]');
    await until(async () => Number(await conns.innerText()) >= 2, 'two connections on the dashboard');
    // Some traffic: Alan chats with the built-in echo model (the server has no upstream).
    await pb.locator('[data-testid=model-select] option').first().waitFor({ state: 'attached' });
    await pb.locator('[data-testid=chat-input]').fill('streaming while the dashboard watches the events go by');
    await pb.locator('[data-testid=send]').click();
    await until(async () => (await pb.locator('article[data-role=assistant]').last().getAttribute('data-done')) === '1',
        'the echo answer');
    assert.equal((await pb.locator('[data-testid=answer]').last().innerText()).trim(),
        'streaming while the dashboard watches the events go by');
    // The events/s chart picks the burst up (its line has several samples, one above 0).
    await until(async () => (await pa.locator('.chart path[fill=none]').nth(1).getAttribute('d'))?.split('L').length > 3,
        'a few chart samples', 15000);
    await until(async () => {
        const d = await pa.locator('.chart path[fill=none]').nth(2).getAttribute('d');
        const ys = (d || '').split(/[ML]/).filter(Boolean).map((p) => Number(p.split(',')[1]));
        return ys.length > 1 && Math.min(...ys) < Math.max(...ys);
    }, 'events out per second above zero in the chart', 15000);
    await shot(pa, 'dashboard');
    assert.deepEqual(pa.errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await pa.context().close();
    await pb.context().close();
});
