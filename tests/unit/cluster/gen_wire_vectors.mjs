// Captures what the real @socket.io/redis-adapter 8.3.0 and @socket.io/redis-emitter 5.1.0
// PUBLISH, as golden vectors for tests/unit/cluster/test_clu_wire_sio.c.
//
//   node tests/unit/cluster/gen_wire_vectors.mjs > /tmp/vectors.txt
//
// Starts a redis-server on a free loopback port, two socket.io 4.8 servers (A and B) with
// the classic Redis adapter, a socket.io-client on B that joins rooms and answers acks,
// and an emitter; a PSUBSCRIBE * capture client prints every published message as
// `<step> <channel> <hex>`. Uids and request ids are random, so the output differs per
// run; the C tests paste one run. Not run by the test suite (it is a generator).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { createClient } = require("redis");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

function freePort() {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), "sioc-vec-"));
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
    "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
const url = `redis://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
        const c = net.connect(port, "127.0.0.1", () => { c.end(); r(true); });
        c.on("error", () => r(false));
    });
    if (ok) break;
    await sleep(50);
}

let step = "init";
const capture = createClient({ url });
await capture.connect();
await capture.pSubscribe("*", (msg, channel) => {
    console.log(`${step} ${channel.toString()} ${Buffer.from(msg).toString("hex")}`);
}, true);

async function makeServer() {
    const pub = createClient({ url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    const io = new Server({ adapter: createAdapter(pub, sub) });
    io.of("/admin");
    return { io, pub, sub };
}

const A = await makeServer();
const B = await makeServer();
const http = createServer();
B.io.attach(http);
await new Promise((r) => http.listen(0, "127.0.0.1", r));
let bSocket = null;
B.io.on("connection", (socket) => {
    bSocket = socket;
    socket.join(["room1", "r1"]);
    socket.data = { user: "u1" };
});
B.io.on("sse-ack", (n, cb) => cb({ got: n }));
B.io.on("sse", () => {});
const client = ioc(`http://127.0.0.1:${http.address().port}`, { transports: ["websocket"] });
client.on("ack-me", (n, ack) => ack({ pong: n, bin: Buffer.from([9, 8]) }));
await new Promise((r) => client.on("connect", r));
await sleep(200);

async function run(label, fn) {
    step = label;
    await fn();
    await sleep(200);
}

await run("bcast_all", () => A.io.emit("hi", 1));
await run("bcast_room", () => A.io.to("room1").emit("hi", 1));
await run("bcast_rooms_except", () => A.io.to(["r1", "r2"]).except("r3")
    .emit("ev", { a: 1 }, "x", [1.5, -2], null, true));
await run("bcast_volatile_bin", () => A.io.volatile.compress(false).emit("v", Buffer.from([1, 2, 3])));
await run("bcast_admin_utf8", () => A.io.of("/admin").emit("a", "é😀"));
await run("bcast_ack", () => new Promise((r) => A.io.timeout(1000).emit("ack-me", 7, () => r())));
await run("sock_to_room", () => bSocket.to("room1").emit("s", true));
await run("sock_broadcast", () => bSocket.broadcast.emit("s", false));
await run("fetch", () => A.io.in("room1").fetchSockets());
await run("all_rooms", () => A.io.of("/").adapter.allRooms());
await run("join", () => A.io.socketsJoin("room9"));
await run("leave", () => A.io.in("room1").socketsLeave("room9"));
await run("disconnect", () => A.io.except("nobody").disconnectSockets(false));
await run("sse", () => A.io.serverSideEmit("sse", 1, { a: 2 }));
await run("sse_ack", () => new Promise((r) => A.io.serverSideEmit("sse-ack", 5, () => r())));

const emitter = new Emitter(A.pub);
await run("em_all", () => emitter.emit("e", 1));
await run("em_room", () => emitter.to("room1").emit("hi", 1));
await run("em_rooms_except_volatile", () => emitter.to("r1").to("r2").except("r3").volatile.emit("e", "x"));
await run("em_admin", () => emitter.of("admin").emit("e", 2.5, -7));
await run("em_join", () => emitter.in("room1").socketsJoin(["a", "b"]));
await run("em_leave", () => emitter.socketsLeave("a"));
await run("em_disconnect", () => emitter.except("room1").disconnectSockets(true));
await run("em_sse", () => emitter.serverSideEmit("hello", { n: 1 }));

client.close();
// A has no HTTP server attached (io.close() would throw): close its adapters only
for (const nsp of ["/", "/admin"]) A.io.of(nsp).adapter.close();
await B.io.close();
for (const s of [A, B]) await Promise.allSettled([s.pub.quit(), s.sub.quit()]);
http.close();
await capture.quit();
redis.kill("SIGKILL");
rmSync(dir, { recursive: true, force: true });
process.exit(0);
