#!/usr/bin/python3
"""Drives build/echo-server with Debian's python-socketio 5.7.2 client (sync Client).

Run with /usr/bin/python3; the exit status decides. Over websocket and over polling:
connect with auth (the `auth` event carries it), /custom, a refused namespace, emit with
ack, message -> message-back, binary both ways, a room broadcast between two clients,
disconnect. The server is started here like the Node suite does it: --port 0, the
`listening on HOST:PORT` line, SIGTERM at the end with exit status 0 within 5 s and no
sanitizer report on stderr. SIOC_TEST_TARGET=node runs the Node reference peer instead.
"""
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import socketio

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.join(ROOT, os.environ.get('SIOC_BUILD', 'build'))
TARGET = 'node' if os.environ.get('SIOC_TEST_TARGET') == 'node' else 'c'
VALGRIND = os.environ.get('SIOC_VALGRIND') == '1'
SLOW = 10 if VALGRIND else 1
REPORTS = re.compile(r'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
                     r'|==\d+== ERROR SUMMARY: [1-9]|==\d+== +(definitely|indirectly) lost: [1-9]')
TIMEOUT = 5 * SLOW

failures = []
passed = []


class Server:
    """The server under test: started on a free port, stopped with SIGTERM and checked."""

    def __init__(self, args=()):
        if TARGET == 'node':
            cmd = ['node', os.path.join(ROOT, 'bench/peers/node-server.mjs')]
        else:
            cmd = [os.path.join(BUILD, 'echo-server')]
            if VALGRIND:
                cmd = ['valgrind', '--leak-check=full', '--error-exitcode=99', '-q',
                       '--errors-for-leak-kinds=definite,indirect'] + cmd
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd + ['--port', '0'] + list(args), cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout],
                         daemon=True).start()
        deadline = time.monotonic() + 10 * SLOW
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise RuntimeError('server did not print "listening on" in time')
            m = re.search(r'listening on (\S+):(\d+)\s*$', line)
            if m:
                self.port = int(m.group(2))
                break
        self.url = f'http://127.0.0.1:{self.port}'

    def stop(self):
        """SIGTERM; returns a list of problems (empty when the exit was clean)."""
        problems = []
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=5 * (6 if VALGRIND else 1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            problems.append('no exit within 5 s of SIGTERM')
        if rc != 0:
            problems.append(f'exit status {rc}')
        if not VALGRIND and time.monotonic() - t0 > 5:
            problems.append(f'exit took {time.monotonic() - t0:.1f} s')
        self.stderr.seek(0)
        err = self.stderr.read().decode('utf-8', 'replace')
        if REPORTS.search(err):
            problems.append('sanitizer/valgrind report on stderr:\n' + err[-4000:])
        return problems


class Recorder:
    """A socketio.Client whose events land in per-name queues."""

    def __init__(self, names=('auth', 'message-back', 'msg'), namespaces=('/',)):
        self.sio = socketio.Client(reconnection=False)
        self.events = {}
        self.disconnected = threading.Event()
        for ns in namespaces:
            for name in names:
                q = self.events.setdefault((ns, name), queue.Queue())
                self.sio.on(name, self._pusher(q), namespace=ns)
            self.sio.on('disconnect', self.disconnected.set, namespace=ns)

    @staticmethod
    def _pusher(q):
        return lambda *args: q.put(args)

    def next(self, name, ns='/'):
        return self.events[(ns, name)].get(timeout=TIMEOUT)

    def empty(self, name, ns='/'):
        return self.events[(ns, name)].empty()

    def connect(self, srv, transport, auth=None, namespaces=('/',)):
        self.sio.connect(srv.url, auth=auth, transports=[transport],
                         namespaces=list(namespaces), wait_timeout=TIMEOUT)
        return self


def check(name, fn, *args):
    try:
        fn(*args)
        passed.append(name)
        print(f'ok   {name}')
    except Exception as err:  # noqa: BLE001 - report every failure and go on
        failures.append(name)
        print(f'FAIL {name}: {type(err).__name__}: {err}')


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def barrier(c):
    expect(c.sio.call('echo', 'barrier', timeout=TIMEOUT) == 'barrier', 'barrier echo')


def t_connect_auth(srv, transport):
    c = Recorder().connect(srv, transport, auth={'token': 'py', 'n': 1})
    try:
        expect(c.next('auth') == ({'token': 'py', 'n': 1},), 'auth event carries the auth')
        expect(c.sio.transport() == transport, f'transport {c.sio.transport()}')
        expect(isinstance(c.sio.get_sid(), str), 'socket id')
    finally:
        c.sio.disconnect()


def t_no_auth_and_custom(srv, transport):
    c = Recorder(namespaces=('/', '/custom')).connect(
        srv, transport, namespaces=('/', '/custom'))
    try:
        expect(c.next('auth') == ({},), 'auth {} on /')
        expect(c.next('auth', '/custom') == ({},), 'auth {} on /custom')
    finally:
        c.sio.disconnect()


def t_invalid_namespace(srv, transport):
    c = Recorder(namespaces=('/random',))
    errors = queue.Queue()
    c.sio.on('connect_error', lambda data=None: errors.put(data), namespace='/random')
    try:
        # The client waits wait_timeout for the namespace; 1 s is plenty.
        c.sio.connect(srv.url, transports=[transport], namespaces=['/random'],
                      wait_timeout=1 * SLOW)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError('connecting to /random must fail')
    finally:
        c.sio.disconnect()
    data = errors.get(timeout=TIMEOUT)
    expect(data == {'message': 'Invalid namespace'}, f'connect_error data {data!r}')


def t_ack(srv, transport):
    c = Recorder().connect(srv, transport)
    try:
        expect(c.sio.call('message-with-ack', 'hi', timeout=TIMEOUT) == 'hi', 'single arg ack')
        got = c.sio.call('message-with-ack', ('a', 1, {'b': [True, None]}), timeout=TIMEOUT)
        expect(got == ('a', 1, {'b': [True, None]}), f'multi arg ack {got!r}')
        text = 'ünïcødé ✓ \x1e'
        expect(c.sio.call('echo', text, timeout=TIMEOUT) == text, 'unicode and 0x1e')
        acked = queue.Queue()
        c.sio.emit('echo', 42, callback=lambda *a: acked.put(a))
        expect(acked.get(timeout=TIMEOUT) == (42,), 'emit with callback')
    finally:
        c.sio.disconnect()


def t_message_back(srv, transport):
    c = Recorder().connect(srv, transport)
    try:
        c.sio.emit('message', ('hello', 2, [3]))
        expect(c.next('message-back') == ('hello', 2, [3]), 'message-back args')
    finally:
        c.sio.disconnect()


def t_binary(srv, transport):
    c = Recorder().connect(srv, transport)
    try:
        blob = bytes(range(256))
        c.sio.emit('message', (blob, {'nested': b'\x00\xff'}))
        back = c.next('message-back')
        expect(back == (blob, {'nested': b'\x00\xff'}), f'binary message-back {back!r:.80}')
        got = c.sio.call('message-with-ack', b'\x01\x02\x03', timeout=TIMEOUT)
        expect(got == b'\x01\x02\x03', f'binary ack {got!r}')
    finally:
        c.sio.disconnect()


def t_rooms(srv, transport):
    a = Recorder().connect(srv, transport)
    b = Recorder().connect(srv, 'websocket' if transport == 'polling' else 'polling')
    outsider = Recorder().connect(srv, transport)
    try:
        for c in (a, b):
            c.sio.emit('join', 'py-room')
            barrier(c)
        a.sio.emit('broadcast', ('py-room', {'from': 'a'}))
        expect(a.next('msg') == ({'from': 'a'},), 'sender gets its broadcast')
        expect(b.next('msg') == ({'from': 'a'},), 'member gets the broadcast')
        barrier(outsider)
        expect(outsider.empty('msg'), 'non-member got the broadcast')
        b.sio.emit('leave', 'py-room')
        barrier(b)
        a.sio.emit('broadcast', ('py-room', 'second'))
        expect(a.next('msg') == ('second',), 'sender gets the second broadcast')
        barrier(b)
        expect(b.empty('msg'), 'a member that left still got the broadcast')
    finally:
        for c in (a, b, outsider):
            c.sio.disconnect()


def t_disconnect(srv, transport):
    c = Recorder().connect(srv, transport)
    c.sio.disconnect()
    expect(c.disconnected.wait(TIMEOUT), 'disconnect handler ran')
    again = Recorder().connect(srv, transport)
    try:
        expect(again.sio.call('echo', 'again', timeout=TIMEOUT) == 'again', 'still serving')
    finally:
        again.sio.disconnect()


TESTS = [t_connect_auth, t_no_auth_and_custom, t_invalid_namespace, t_ack, t_message_back,
         t_binary, t_rooms, t_disconnect]


def main():
    srv = Server()
    try:
        for transport in ('websocket', 'polling'):
            for test in TESTS:
                check(f'{transport}: {test.__name__[2:]}', test, srv, transport)
    finally:
        problems = srv.stop()
    if problems:
        failures.append('clean exit')
        print('FAIL clean exit: ' + '; '.join(problems))
    else:
        print('ok   clean exit on SIGTERM')
    print(f'python client: {len(passed) + (0 if problems else 1)} passed, '
          f'{len(failures)} failed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
