#!/usr/bin/python3
"""python-socketio peer for the sioc benchmarks (bench/run) and cross-checks.

The same handlers and flags as examples/echo-server.c (issue 2, "Programs"), on Debian's
python3-socketio 5.7.2 (Engine.IO v4 / Socket.IO v5) with AsyncServer(async_mode='aiohttp'):

  namespaces `/` and `/custom`; any other namespace gets CONNECT_ERROR
  {"message":"Invalid namespace"}; on each connection, in both namespaces, emits `auth`
  with the CONNECT auth object (`{}` when none). On `/`: `message` -> `message-back`
  with the same arguments; `message-with-ack` and `echo` -> ack with the same arguments;
  `join` (room) / `leave` (room); `broadcast` (room, payload) -> `msg` with the payload
  to every member of the room, the sender included.

Flags: --host (127.0.0.1) --port (3000; 0 = any free port) --path (/socket.io/)
--ping-interval and --ping-timeout (ms) --max-payload (bytes) --cors ORIGIN (repeatable
or a comma list; `*` allowed) --cors-credentials --transports websocket,polling. Prints
`listening on HOST:PORT` once it accepts connections, and exits with status 0 within 5 s
of SIGTERM or SIGINT.

The test hooks of bench/peers/node-server.mjs are here too: `server-disconnect`
disconnects the socket; `emit-with-ack` (event, ...args) emits to the socket with an ack
and reports the reply as `ack-result` ...args, or `ack-timeout` (event) after 5 s;
`broadcast-except` (room, except, payload) emits `msg` to the room less the members of
room (or socket id) `except`.

Must run under Debian's interpreter (/usr/bin/python3): the `python3` on PATH does not
have the Debian packages.
"""
import argparse
import asyncio
import os
import signal
import sys

import socketio
from aiohttp import web

NAMESPACES = ('/', '/custom')


class EchoServer(socketio.AsyncServer):
    """AsyncServer that refuses unknown namespaces the way the Node server does.

    python-socketio 5.7.2 answers an unknown namespace with CONNECT_ERROR
    "Unable to connect"; the reference (and sioc) answer {"message":"Invalid
    namespace"}, so the check runs before the library's own connect handling.
    """

    async def _handle_connect(self, eio_sid, namespace, data):
        namespace = namespace or '/'
        if namespace not in NAMESPACES:
            await self._send_packet(eio_sid, self.packet_class(
                socketio.packet.CONNECT_ERROR,
                data={'message': 'Invalid namespace'}, namespace=namespace))
            return
        await super()._handle_connect(eio_sid, namespace, data)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=3000)
    p.add_argument('--path', default='/socket.io/')
    p.add_argument('--ping-interval', type=int, default=25000, help='ms')
    p.add_argument('--ping-timeout', type=int, default=20000, help='ms')
    p.add_argument('--max-payload', type=int, default=1000000, help='bytes')
    p.add_argument('--cors', action='append', default=[], help='allowed origin, or *')
    p.add_argument('--cors-credentials', action='store_true')
    p.add_argument('--transports', default='polling,websocket')
    return p.parse_args(argv)


def make_server(args):
    transports = [t.strip() for t in args.transports.split(',') if t.strip()]
    # [] switches python-engineio's CORS handling off: no CORS headers, like the
    # Node server without a `cors` option.
    origins = [o for v in args.cors for o in v.split(',') if o]
    cors = '*' if '*' in origins else origins
    sio = EchoServer(
        async_mode='aiohttp',
        # CONNECT goes out before the connect handler runs, so the `auth` emit
        # arrives after the client is connected (as with Node's "connection").
        always_connect=True,
        # Events from one socket are handled in the order they arrive.
        async_handlers=False,
        ping_interval=args.ping_interval / 1000.0,
        ping_timeout=args.ping_timeout / 1000.0,
        max_http_buffer_size=args.max_payload,
        cors_allowed_origins=cors,
        cors_credentials=args.cors_credentials,
        transports=transports)

    # The namespace is not passed to the connect handler, so one handler per namespace.
    for ns in NAMESPACES:
        sio.on('connect', namespace=ns)(make_connect(sio, ns))

    @sio.on('message')
    async def on_message(sid, *data):
        await sio.emit('message-back', tuple(data), to=sid)

    @sio.on('message-with-ack')
    async def on_message_with_ack(sid, *data):
        return tuple(data)

    @sio.on('echo')
    async def on_echo(sid, *data):
        return tuple(data)

    @sio.on('join')
    async def on_join(sid, room=None, *_):
        if isinstance(room, str):
            sio.enter_room(sid, room)

    @sio.on('leave')
    async def on_leave(sid, room=None, *_):
        if isinstance(room, str):
            sio.leave_room(sid, room)

    @sio.on('broadcast')
    async def on_broadcast(sid, room=None, payload=None, *_):
        if isinstance(room, str):
            await sio.emit('msg', payload, room=room)

    add_test_hooks(sio)
    return sio


def add_test_hooks(sio):
    """The extra events node-server.mjs offers to the integration tests."""

    @sio.on('server-disconnect')
    async def on_server_disconnect(sid, *_):
        await sio.disconnect(sid)

    @sio.on('emit-with-ack')
    async def on_emit_with_ack(sid, event=None, *args):
        answered = asyncio.Event()

        async def on_reply(*reply):
            answered.set()
            await sio.emit('ack-result', tuple(reply), to=sid)

        async def watchdog():
            try:
                await asyncio.wait_for(answered.wait(), timeout=5.0)
            except asyncio.TimeoutError:
                await sio.emit('ack-timeout', event, to=sid)

        await sio.emit(event, tuple(args), to=sid, callback=on_reply)
        sio.start_background_task(watchdog)

    @sio.on('broadcast-except')
    async def on_broadcast_except(sid, room=None, except_=None, payload=None, *_):
        if not isinstance(room, str):
            return
        skip = [s for s, _ in sio.manager.get_participants('/', except_)] \
            if isinstance(except_, str) else []
        await sio.emit('msg', payload, room=room, skip_sid=skip or None)


def make_connect(sio, ns):
    """The connect handler of namespace `ns`: emits `auth` with the CONNECT auth object."""
    async def on_connect(sid, environ, auth=None):
        await sio.emit('auth', auth if auth is not None else {}, to=sid, namespace=ns)
    return on_connect


async def serve(args):
    sio = make_server(args)
    app = web.Application()
    sio.attach(app, socketio_path=args.path.strip('/') or 'socket.io')
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, shutdown_timeout=1.0, backlog=511)
    await site.start()

    sockets = site._server.sockets if site._server else []
    port = sockets[0].getsockname()[1] if sockets else args.port
    host = args.host if ':' not in args.host else '[%s]' % args.host
    print('listening on %s:%d' % (host, port), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # A graceful shutdown closes every WebSocket one by one, which takes seconds with
    # thousands of clients; give it a moment, then leave (exit within 5 s of SIGTERM).
    cleanup = asyncio.ensure_future(runner.cleanup())
    await asyncio.wait({cleanup}, timeout=1.5)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv):
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OSError as e:
        print('python-server: %s' % e, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
