// The README's 30-line example (examples/chat-room.c) does what the README says:
// `join` acks "joined", and `say` reaches the other members of the room, not the sender
// and not sockets outside the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { io } from 'socket.io-client';
import { BUILD } from './lib/server.mjs';

function start() {
    const child = spawn(path.join(BUILD, 'chat-room'), ['0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('chat-room did not listen: ' + err)), 5000);
        child.stdout.on('data', (d) => {
            out += d;
            const m = /listening on [^:]+:(\d+)/.exec(out);
            if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), stderr: () => err }); }
        });
        child.on('exit', (code) => reject(new Error(`chat-room exited ${code}: ${err}`)));
    });
}

const connect = (port) => new Promise((resolve, reject) => {
    const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    s.on('connect', () => resolve(s));
    s.on('connect_error', reject);
});

test('chat-room example: join acks, say reaches the other room members only', async () => {
    const srv = await start();
    const [a, b, c] = await Promise.all([connect(srv.port), connect(srv.port), connect(srv.port)]);
    try {
        assert.equal(await a.emitWithAck('join', 'lobby'), 'joined');
        assert.equal(await b.emitWithAck('join', 'lobby'), 'joined');
        assert.equal(await c.emitWithAck('join', 'other'), 'joined');
        const got = { a: [], b: [], c: [] };
        for (const [k, s] of Object.entries({ a, b, c })) s.on('said', (...args) => got[k].push(args));
        a.emit('say', 'lobby', 'hello', { n: 1 });
        c.emit('say', 'lobby', 'not a member');
        const deadline = Date.now() + 3000;
        while (got.b.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        // a round trip through every client proves nothing else is still in flight
        await Promise.all([a, b, c].map((s) => s.emitWithAck('join', 'lobby2')));
        assert.deepEqual(got.b, [['hello', { n: 1 }]]);
        assert.deepEqual(got.a, [], 'the sender does not get its own message');
        assert.deepEqual(got.c, [], 'a socket outside the room gets nothing');
    } finally {
        for (const s of [a, b, c]) s.close();
        srv.child.kill('SIGTERM');
        const code = await new Promise((r) => srv.child.on('exit', r));
        assert.equal(code, 0, 'exits 0 on SIGTERM');
        assert.doesNotMatch(srv.stderr(), /AddressSanitizer|runtime error:|LeakSanitizer/);
    }
});
