// bench/cluster_peer.mjs: the Node side of bench/cluster_run — a socket.io 4.8 server with
// @socket.io/redis-adapter 8.3 (classic mode), speaking what build/bench/loadgen sends:
// `join` (room, with ack), `broadcast` (room, payload) -> `msg` (payload) to the room on
// every node. Usage: node bench/cluster_peer.mjs --redis URL [--port N]. Prints
// "listening on 127.0.0.1:PORT" when ready; exits on SIGTERM.
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
const io = new Server(server, { adapter: createAdapter(pub, sub) });
io.on('connection', (socket) => {
    socket.on('join', (room, cb) => {
        socket.join(room);
        if (typeof cb === 'function') cb();
    });
    socket.on('echo', (...args) => {
        const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
        cb?.(...args);
    });
    socket.on('broadcast', (room, ...rest) => {
        const cb = typeof rest[rest.length - 1] === 'function' ? rest.pop() : null;
        io.to(room).emit('msg', ...rest);
        cb?.();
    });
});
server.listen(Number(opt('--port', '0')), '127.0.0.1', () => {
    console.log(`listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
});
