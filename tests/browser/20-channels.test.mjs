// Channels in two browsers: a message to a channel the reader does not have open counts as
// unread; in the open channel the reader sees the writer's typing indicator, which expires
// 5 s after the last typing event, then the message itself. The writer's client sends at
// most one typing event per 2 s per channel however fast it types (spec §6.5 sends one per
// keystroke), which a third, plain socket.io-client observer in the channel counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, signIn, shot, until, sleep } from './lib.mjs';
import { addChannel } from '../integration/70-app-lib.mjs';

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

test('typing indicator, then the message; unread counts; typing throttled', async () => {
    const a = app.addUser({ role: 'admin', name: 'Ada Admin' });
    const b = app.addUser({ role: 'user', name: 'Bob Builder' });
    const watcher = app.addUser({ role: 'user', name: 'Wendy Watcher' });
    const everyone = [['user:*', 'read'], ['user:*', 'write']];
    const general = addChannel(app, a.id, { type: null, grants: everyone });
    const random = addChannel(app, a.id, { type: null, grants: everyone });
    app.sql(`UPDATE channel SET name = 'general' WHERE id = '${general}'`);
    app.sql(`UPDATE channel SET name = 'random' WHERE id = '${random}'`);
    const nameOf = (id) => app.sql(`SELECT name FROM channel WHERE id = '${id}'`);

    // The observer counts typing broadcasts from Ada in #general.
    const obs = await app.connect(watcher.token);
    await new Promise((resolve) => obs.emit('user-join', { auth: { token: watcher.token } }, resolve));
    const typingSeen = [];
    obs.on('events:channel', (ev) => {
        if (ev?.channel_id === general && ev.data?.type === 'typing' && ev.user?.id === a.id) typingSeen.push(Date.now());
    });

    const pa = await newPage(browser, app);
    const pb = await newPage(browser, app);
    await signIn(pa, a);
    await signIn(pb, b);

    // Bob looks at #random; Ada posts in #general: Bob gets an unread count for #general.
    await pb.goto(`/#/channels/${random}`);
    await pb.locator(`[data-channel="${nameOf(general)}"]`).waitFor();
    await pa.goto(`/#/channels/${general}`);
    await pa.locator('[data-testid=channel-input]').fill('first!');
    await pa.locator('[data-testid=channel-send]').click();
    const badge = pb.locator(`[data-channel="${nameOf(general)}"] [data-testid=unread]`);
    await badge.waitFor();
    assert.equal(await badge.innerText(), '1');
    assert.equal(await pb.locator('[data-testid=unread-total]').innerText(), '1');

    // Bob opens #general: the count clears and the first message is there (from the DB).
    await pb.locator(`[data-channel="${nameOf(general)}"]`).click();
    await pb.locator('[data-testid=channel-message]', { hasText: 'first!' }).waitFor();
    assert.equal(await badge.count(), 0);

    // Ada types for a while: Bob sees the indicator; the client throttles typing events.
    const typing = pb.locator('[data-testid=typing]');
    const input = pa.locator('[data-testid=channel-input]');
    await input.click();
    typingSeen.length = 0; // filling in 'first!' above counted as typing too
    const t0 = Date.now();
    await input.pressSequentially('are you there, Bob? the build is green', { delay: 90 });
    const typedMs = Date.now() - t0;
    await until(async () => (await typing.innerText()).includes('Ada Admin is typing'), 'the typing indicator');
    await shot(pb, 'channels');
    assert.ok(typingSeen.length >= 1, 'at least one typing event went out');
    const allowed = Math.floor(typedMs / 2000) + 1;
    assert.ok(typingSeen.length <= allowed,
        `typing events: ${typingSeen.length} in ${typedMs} ms, at most ${allowed} allowed`);
    for (let i = 1; i < typingSeen.length; i++) {
        assert.ok(typingSeen[i] - typingSeen[i - 1] >= 1500, `typing events ${typingSeen[i] - typingSeen[i - 1]} ms apart`);
    }
    // Ada's own typing is not shown to Ada.
    assert.equal((await pa.locator('[data-testid=typing]').innerText()).trim(), '');

    // Without further typing the indicator expires (5 s after the last event).
    const lastEvent = typingSeen.at(-1);
    await until(async () => (await typing.innerText()).trim() === '', 'the indicator to expire', 12000);
    assert.ok(Date.now() - lastEvent >= 4500, 'the indicator lasted about 5 s');

    // Ada types again and sends: the indicator shows, then the message replaces it.
    await input.pressSequentially(' really', { delay: 40 });
    await until(async () => (await typing.innerText()).includes('Ada Admin is typing'), 'the indicator again');
    await input.press('Enter');
    await pb.locator('[data-testid=channel-message]', { hasText: 'are you there, Bob? the build is green really' }).waitFor();
    await until(async () => (await typing.innerText()).trim() === '', 'the indicator cleared by the message', 2000);

    // Both see the same messages in the same order.
    await sleep(200);
    const msgsA = await pa.locator('[data-testid=channel-message] .cmsg-body').allInnerTexts();
    const msgsB = await pb.locator('[data-testid=channel-message] .cmsg-body').allInnerTexts();
    assert.deepEqual(msgsB, msgsA);
    assert.deepEqual(msgsA, ['first!', 'are you there, Bob? the build is green really']);
    obs.close();
    await pa.context().close();
    await pb.context().close();
});
