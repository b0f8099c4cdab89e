// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.3 (classic mode), the
// reference peer of the cluster tests (issue 5). Usage:
//   node node-peer.mjs --redis URL [--port N] [--key socket.io]
// Prints "listening on 127.0.0.1:PORT" when ready. Events on "/" (all acked):
//   join (room), broadcast (room|null, ...args) -> msg(args) to the room on every node,
//   emit-all (...args), fetch-sockets (room|null) -> [status, [{id, rooms, data}]],
//   server-count -> [0, n], server-side-emit (event, ...args) -> 0,
//   server-side-emit-ack (event, ...args) -> [status, responses],
//   broadcast-ack (room|null, event, ...args) -> [status, answers],
//   sockets-join (target, room).
// A serverSideEmit from another node is shown to this node's sockets as
// server-side(event, ...args) and acked with "node-ack".
import http from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
};

const pub = createClient({ url: opt('--redis') });
const sub = pub.duplicate();
pub.on('error', () => {});
sub.on('error', () => {});
await Promise.all([pub.connect(), sub.connect()]);

const server = http.createServer();
const io = new Server(server, {
    adapter: createAdapter(pub, sub, { key: opt('--key', 'socket.io'), requestsTimeout: 3000 }),
});

const target = (room) => (room === null || room === undefined ? io : io.to(room));

io.on('connection', (socket) => {
    socket.on('join', (room, cb) => { socket.join(room); cb?.(); });
    socket.on('echo', (v, cb) => cb?.(v));
    socket.on('broadcast', (room, ...rest) => {
        const cb = rest.pop();
        target(room).emit('msg', ...rest);
        cb();
    });
    socket.on('emit-all', (...rest) => {
        const cb = rest.pop();
        io.emit('msg', ...rest);
        cb();
    });
    socket.on('fetch-sockets', async (room, cb) => {
        try {
            const list = await target(room).fetchSockets();
            cb(0, list.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })));
        } catch (err) {
            cb(-1, String(err));
        }
    });
    socket.on('server-count', async (cb) => cb(0, await io.of('/').adapter.serverCount()));
    socket.on('server-side-emit', (...rest) => {
        const cb = rest.pop();
        io.serverSideEmit(...rest);
        cb(0);
    });
    socket.on('server-side-emit-ack', (...rest) => {
        const cb = rest.pop();
        io.serverSideEmit(...rest, (err, responses) => cb(err ? -1 : 0, responses ?? []));
    });
    socket.on('broadcast-ack', (room, event, ...rest) => {
        const cb = rest.pop();
        target(room).timeout(3000).emit(event, ...rest, (err, answers) => cb(err ? -1 : 0, answers ?? []));
    });
    socket.on('sockets-join', (t, room, cb) => { target(t).socketsJoin(room); cb(); });
});

io.on('hello', (...args) => {
    const last = args[args.length - 1];
    const cb = typeof last === 'function' ? args.pop() : null;
    io.local.emit('server-side', 'hello', ...args);
    cb?.('node-ack');
});

server.listen(Number(opt('--port', '0')), '127.0.0.1', () => {
    console.log(`listening on 127.0.0.1:${server.address().port}`);
});

const stop = () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
