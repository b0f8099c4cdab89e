// Helpers of the browser tests: a real build/sioc serving web/dist (through the integration
// suite's App helper), Debian's Chromium driven by playwright-core, signing in through the
// UI, screenshots to tests/browser/artifacts/ and docs/screenshots/.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { App, ROOT, SLOW, sleep } from '../integration/70-app-lib.mjs';
import { freePort } from '../integration/lib/redis.mjs';

// playwright-core is a dependency of web/ (the root package.json stays as it is).
const { chromium } = createRequire(path.join(ROOT, 'web', 'package.json'))('playwright-core');

export { App, ROOT, SLOW, sleep };
export const WEB_DIST = path.join(ROOT, 'web', 'dist');
export const ARTIFACTS = path.join(ROOT, 'tests', 'browser', 'artifacts');
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'pw-123456';

/** A TCP port that was free a moment ago (for a server that must restart on the same port). */
export { freePort };

/** Starts sioc on a fixed free port with the web client; opts.env adds environment. */
export async function startServer({ env = {}, args = [] } = {}) {
    if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) {
        throw new Error('web/dist is missing: run tests/browser/run (or npm ci && npm run build in web/)');
    }
    const port = await freePort();
    const app = await App.start({ env, args: ['--port', String(port), '--web-root', WEB_DIST, ...args] });
    return app;
}

/** Launches headless Chromium. */
export function launch() {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
}

/** A new context + page for one user, console errors collected in page.errors. */
export async function newPage(browser, app) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: app.url });
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(String(e)));
    page.on('console', (m) => {
        if (m.type() === 'error') page.errors.push(m.text());
    });
    // Socket.IO events this page sent, by name (for traffic assertions).
    page.sent = new Map();
    page.on('websocket', (ws) => ws.on('framesent', (f) => {
        const m = /^42(?:\d*)\["([^"]+)"/.exec(typeof f.payload === 'string' ? f.payload : '');
        if (m) page.sent.set(m[1], (page.sent.get(m[1]) ?? 0) + 1);
    }));
    page.setDefaultTimeout(10000 * SLOW);
    return page;
}

/** Signs in through the sign-in form and waits for the connected socket. */
export async function signIn(page, u) {
    await page.goto('/');
    await page.locator('input[name=email]').fill(u.email);
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('button[type=submit]').click();
    await page.locator('[data-testid=me-name]').waitFor();
    await page.waitForFunction(() => document.body.dataset.socket === 'connected');
}

/** Saves a screenshot as artifacts/NAME.png and docs/screenshots/NAME.png. */
export async function shot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file });
    fs.copyFileSync(file, path.join(SCREENSHOTS, `${name}.png`));
}

/** Polls `fn` until it returns a truthy value or `ms` pass (then throws with `what`). */
export async function until(fn, what, ms = 10000) {
    const end = Date.now() + ms * SLOW;
    let last;
    while (Date.now() < end) {
        last = await fn();
        if (last) return last;
        await sleep(50);
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Grants everyone read and write on a note (the fixture's sharing step, in SQL). */
export function shareNote(app, noteId) {
    const now = Math.floor(Date.now() / 1000);
    for (const perm of ['read', 'write']) {
        app.sql(`INSERT INTO access_grant (id, resource_type, resource_id, principal_type, principal_id, permission, created_at) VALUES ('${crypto.randomUUID()}', 'note', '${noteId}', 'user', '*', '${perm}', ${now})`);
    }
}

/** The note editor's text, one line per block, without the remote-cursor labels. */
export function docText(page) {
    return page.locator('[data-testid=note-editor]').evaluate((el) => {
        const clone = el.cloneNode(true);
        for (const c of clone.querySelectorAll('.ProseMirror-yjs-cursor')) c.remove();
        return [...clone.querySelectorAll('p, h1, h2, h3, li')]
            .map((p) => p.textContent.replace(/\u2060/g, '')).join('\n');
    });
}
