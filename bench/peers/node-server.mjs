#!/usr/bin/env node
// Node reference peer for sioc: a socket.io 4.8.4 server with the same handlers and flags
// as examples/echo-server.c (issue 2, "Programs"), or with --engineio a bare engine.io
// echo server like examples/engineio-echo.c.
//
// Used by the integration suite (SIOC_TEST_TARGET=node proves the tests are right) and by
// bench/run as the Node side of the comparison.
//
// Flags (`--flag value` or `--flag=value`):
//   --host H              127.0.0.1 (default), ::1, localhost (listens on 127.0.0.1 AND ::1)
//   --port N              default 3000; 0 picks a free port
//   --path P              default /socket.io/ (/engine.io/ with --engineio)
//   --ping-interval MS    default 25000
//   --ping-timeout MS     default 20000
//   --max-payload BYTES   default 1000000 (maxHttpBufferSize)
//   --cors ORIGIN         repeatable or comma list; `*` allowed; off by default
//   --cors-credentials    adds Access-Control-Allow-Credentials: true
//   --transports LIST     websocket,polling (default both)
//   --connect-timeout MS  default 45000 (Socket.IO only)
//   --deflate             permessage-deflate on
//   --engineio            bare Engine.IO echo server instead of Socket.IO
// Prints `listening on HOST:PORT` once ready; exits 0 on SIGTERM/SIGINT.
//
// Socket.IO handlers (namespace `/`; `/custom` only emits `auth`; other namespaces are
// refused by socket.io with CONNECT_ERROR {"message":"Invalid namespace"}):
//   on connection          emit `auth` with the CONNECT auth object ({} when none)
//   message ...args        emit `message-back` ...args
//   message-with-ack, echo ack with the same args
//   join room / leave room
//   broadcast room payload emit `msg` payload to every member of room (sender included)
// Test hooks (proposed for echo-server.c too, see the integration report):
//   server-disconnect [close]         socket.disconnect(close)
//   emit-with-ack event ...args       emit event ...args to this socket with an ack (5 s);
//                                     the ack's args come back as `ack-result` ...args,
//                                     a timeout as `ack-timeout` event
//   broadcast-except room except payload   emit `msg` payload to room except `except`
import http from 'node:http';
import process from 'node:process';
import { Server } from 'socket.io';
import { Server as EngineServer } from 'engine.io';

const USAGE = `usage: node-server.mjs [--host H] [--port N] [--path P] [--ping-interval MS]
  [--ping-timeout MS] [--max-payload BYTES] [--cors ORIGIN] [--cors-credentials]
  [--transports websocket,polling] [--connect-timeout MS] [--deflate] [--engineio]`;

const VALUE_FLAGS = new Set(['host', 'port', 'path', 'ping-interval', 'ping-timeout',
    'max-payload', 'cors', 'transports', 'connect-timeout']);
const BOOL_FLAGS = new Set(['deflate', 'engineio', 'cors-credentials', 'help']);

function fail(msg) {
    process.stderr.write(`node-server: ${msg}\n${USAGE}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const opt = { cors: [] };
    for (let i = 0; i < argv.length; i++) {
        const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
        if (!m) fail(`unexpected argument ${argv[i]}`);
        const [, name, inline] = m;
        if (BOOL_FLAGS.has(name)) {
            opt[name] = true;
            continue;
        }
        if (!VALUE_FLAGS.has(name)) fail(`unknown flag --${name}`);
        const value = inline ?? argv[++i];
        if (value === undefined) fail(`--${name} needs a value`);
        if (name === 'cors') opt.cors.push(...value.split(',').filter(Boolean));
        else opt[name] = value;
    }
    return opt;
}

function intFlag(opt, name, dflt) {
    if (opt[name] === undefined) return dflt;
    const n = Number(opt[name]);
    if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer`);
    return n;
}

function corsOption(opt) {
    if (opt.cors.length === 0) return undefined;
    const origin = opt.cors.includes('*') ? '*'
        : opt.cors.length === 1 ? opt.cors[0] : opt.cors;
    return { origin, credentials: !!opt['cors-credentials'] };
}

function transportsOption(opt) {
    const list = (opt.transports ?? 'polling,websocket').split(',').filter(Boolean);
    for (const t of list) {
        if (t !== 'polling' && t !== 'websocket') fail(`unknown transport ${t}`);
    }
    if (list.length === 0) fail('--transports needs at least one transport');
    return list;
}

/** Strips a trailing ack callback from a socket.io handler's arguments. */
function splitAck(args) {
    const last = args[args.length - 1];
    if (typeof last === 'function') return [args.slice(0, -1), last];
    return [args, null];
}

function attachSocketIo(httpServer, opt, common) {
    const io = new Server(httpServer, {
        ...common,
        path: opt.path ?? '/socket.io/',
        connectTimeout: intFlag(opt, 'connect-timeout', 45000),
        serveClient: false,
    });
    const sendAuth = (socket) => socket.emit('auth', socket.handshake.auth);
    io.of('/custom').on('connection', sendAuth);
    io.on('connection', (socket) => {
        sendAuth(socket);
        socket.on('message', (...raw) => socket.emit('message-back', ...splitAck(raw)[0]));
        const ackSame = (...raw) => {
            const [args, ack] = splitAck(raw);
            if (ack) ack(...args);
        };
        socket.on('message-with-ack', ackSame);
        socket.on('echo', ackSame);
        socket.on('join', (room) => socket.join(room));
        socket.on('leave', (room) => socket.leave(room));
        socket.on('broadcast', (room, payload) => io.to(room).emit('msg', payload));
        socket.on('server-disconnect', (close) => socket.disconnect(close === true));
        socket.on('emit-with-ack', (...raw) => {
            const [[event, ...args]] = splitAck(raw);
            socket.timeout(5000).emit(event, ...args, (err, ...reply) => {
                if (err) socket.emit('ack-timeout', event);
                else socket.emit('ack-result', ...reply);
            });
        });
        socket.on('broadcast-except', (room, except, payload) => {
            io.to(room).except(except).emit('msg', payload);
        });
    });
    return () => new Promise((resolve) => io.close(() => resolve()));
}

function attachEngineIo(httpServer, opt, common) {
    const engine = new EngineServer(common);
    engine.attach(httpServer, { path: opt.path ?? '/engine.io/' });
    engine.on('connection', (socket) => {
        socket.on('message', (data) => socket.send(data));
    });
    return () => {
        engine.close();
        return Promise.resolve();
    };
}

function listen(server, host, port) {
    return new Promise((resolve, reject) => {
        const onError = (err) => reject(err);
        server.once('error', onError);
        server.listen({ host, port, ipv6Only: host === '::1' }, () => {
            server.off('error', onError);
            resolve(server.address().port);
        });
    });
}

/**
 * `localhost` listens on 127.0.0.1 and ::1 with the same port; the second server hands
 * its requests and upgrades to the first one, which has socket.io attached.
 */
async function listenAll(primary, host, port) {
    if (host !== 'localhost') return [await listen(primary, host, port), []];
    for (let attempt = 0; attempt < 20; attempt++) {
        const bound = await listen(primary, '127.0.0.1', port);
        const second = http.createServer();
        second.on('request', (req, res) => primary.emit('request', req, res));
        second.on('upgrade', (req, sock, head) => primary.emit('upgrade', req, sock, head));
        try {
            await listen(second, '::1', bound);
            return [bound, [second]];
        } catch (err) {
            if (port !== 0 || err.code !== 'EADDRINUSE') throw err;
            await new Promise((resolve) => primary.close(resolve));
        }
    }
    throw new Error('no port free on both 127.0.0.1 and ::1');
}

async function main() {
    const opt = parseArgs(process.argv.slice(2));
    if (opt.help) {
        process.stdout.write(`${USAGE}\n`);
        return;
    }
    const host = opt.host ?? '127.0.0.1';
    const port = intFlag(opt, 'port', 3000);
    const common = {
        pingInterval: intFlag(opt, 'ping-interval', 25000),
        pingTimeout: intFlag(opt, 'ping-timeout', 20000),
        maxHttpBufferSize: intFlag(opt, 'max-payload', 1000000),
        transports: transportsOption(opt),
        perMessageDeflate: !!opt.deflate,
        cors: corsOption(opt),
    };
    const primary = http.createServer();
    // Requests outside the Engine.IO path end here (engine.io passes them on).
    primary.on('request', (req, res) => {
        if (res.headersSent || res.writableEnded) return;
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('Not Found');
    });
    const close = opt.engineio ? attachEngineIo(primary, opt, common)
        : attachSocketIo(primary, opt, common);
    const servers = [primary];
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        setTimeout(() => process.exit(0), 3000).unref();
        // Close the sessions first (polling clients get their close packet), then
        // whatever connections are left.
        const closing = close();
        for (const s of servers) s.close();
        await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 300))]);
        for (const s of servers) s.closeAllConnections();
        process.exit(0);
    };
    // Handlers first: a signal right after the `listening on` line must find them.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    const [bound, extra] = await listenAll(primary, host, port);
    servers.push(...extra);
    process.stdout.write(`listening on ${host}:${bound}\n`);
}

main().catch((err) => {
    process.stderr.write(`node-server: ${err.stack ?? err}\n`);
    process.exit(1);
});
