// A raw RFC 6455 client over a TCP socket, for tests that must send what a real client
// never sends (unmasked frames, bad lengths, invalid UTF-8) and see exactly what the
// server answers (status line of a refused upgrade, close codes, frame types).
import crypto from 'node:crypto';
import net from 'node:net';
import { Queue, SLOW, withTimeout } from './util.mjs';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

/** Encodes one frame. opts: fin, rsv (0..7), mask (bool), maskKey, len (override). */
export function encodeFrame(opcode, payload = Buffer.alloc(0), opts = {}) {
    const { fin = true, rsv = 0, mask = true } = opts;
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = opts.len ?? data.length;
    const head = [((fin ? 0x80 : 0) | (rsv << 4) | opcode) & 0xff];
    const m = mask ? 0x80 : 0;
    if (len < 126) {
        head.push(m | len);
    } else if (len < 65536) {
        head.push(m | 126, len >> 8, len & 0xff);
    } else {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(len));
        head.push(m | 127, ...b);
    }
    if (!mask) return Buffer.concat([Buffer.from(head), data]);
    const key = opts.maskKey ?? crypto.randomBytes(4);
    const body = Buffer.from(data);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
    return Buffer.concat([Buffer.from(head), key, body]);
}

/** Parses one server frame from `buf`; returns { frame, used } or null if incomplete. */
function parseFrame(buf) {
    if (buf.length < 2) return null;
    const b0 = buf[0];
    const b1 = buf[1];
    let len = b1 & 0x7f;
    let off = 2;
    if (len === 126) {
        if (buf.length < 4) return null;
        len = buf.readUInt16BE(2);
        off = 4;
    } else if (len === 127) {
        if (buf.length < 10) return null;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyOff = off;
    if (masked) off += 4;
    if (buf.length < off + len) return null;
    let payload = Buffer.from(buf.subarray(off, off + len));
    if (masked) {
        const key = buf.subarray(keyOff, keyOff + 4);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    }
    const frame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f,
        masked, payload };
    return { frame, used: off + len };
}

/**
 * A raw WebSocket connection. After connect(): `status`, `headers`, `head` (response
 * head text), `frames` (Queue of server frames), `closed` (promise resolved when TCP
 * closes), `leftover` (body bytes of a non-101 response).
 */
export class RawWs {
    /** Opens TCP, sends the upgrade request for `path` and reads the response head. */
    static async connect(host, port, path, opts = {}) {
        const ws = new RawWs();
        await ws._connect(host, port, path, opts);
        return ws;
    }

    async _connect(host, port, path, { headers = {}, rawHead = null, timeout = 3000 } = {}) {
        this.frames = new Queue('server frames');
        this.sock = net.connect({ host, port });
        this.sock.setNoDelay(true);
        this.tcpClosed = false;
        this.closed = new Promise((resolve) => this.sock.on('close', () => {
            this.tcpClosed = true;
            this.frames.close(new Error('connection closed'));
            resolve();
        }));
        this.sock.on('error', () => {});
        const key = crypto.randomBytes(16).toString('base64');
        this.key = key;
        const lines = rawHead ?? [
            `GET ${path} HTTP/1.1`,
            `Host: ${host.includes(':') ? `[${host}]` : host}:${port}`,
            'Upgrade: websocket',
            'Connection: Upgrade',
            `Sec-WebSocket-Key: ${key}`,
            'Sec-WebSocket-Version: 13',
            ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ];
        let buf = Buffer.alloc(0);
        const head = new Promise((resolve, reject) => {
            const onData = (c) => {
                buf = Buffer.concat([buf, c]);
                const end = buf.indexOf('\r\n\r\n');
                if (end < 0) return;
                this.sock.off('data', onData);
                resolve([buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4)]);
            };
            this.sock.on('data', onData);
            this.closed.then(() => reject(new Error(
                `closed before response head: ${buf.toString('latin1')}`)));
        });
        this.sock.on('connect', () => this.sock.write(`${lines.join('\r\n')}\r\n\r\n`));
        const [text, rest] = await withTimeout(head, timeout, 'websocket response head');
        this.head = text;
        const [statusLine, ...hl] = text.split('\r\n');
        this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
        this.headers = {};
        for (const l of hl) {
            const i = l.indexOf(':');
            this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        if (this.status !== 101) {
            this.leftover = rest;
            this.sock.on('data', (c) => { this.leftover = Buffer.concat([this.leftover, c]); });
            return;
        }
        this.rbuf = rest;
        this.sock.on('data', (c) => {
            this.rbuf = Buffer.concat([this.rbuf, c]);
            this._drain();
        });
        this._drain();
    }

    _drain() {
        for (;;) {
            const r = parseFrame(this.rbuf);
            if (!r) return;
            this.rbuf = this.rbuf.subarray(r.used);
            if (r.frame.opcode === OP.CLOSE) this._onCloseFrame(r.frame);
            this.frames.push(r.frame);
        }
    }

    /** Like a real client: answer the server's close frame with the same code, once. */
    _onCloseFrame(f) {
        this.closeFrame = f;
        if (this.sentClose || this.noCloseReply) return;
        this.sentClose = true;
        this.sendFrame(OP.CLOSE, f.payload.subarray(0, 2));
    }

    /** Writes raw bytes. */
    write(bytes) {
        if (!this.sock.destroyed) this.sock.write(bytes);
    }

    sendFrame(opcode, payload, opts) {
        this.write(encodeFrame(opcode, payload, opts));
    }

    sendText(s) {
        this.sendFrame(OP.TEXT, Buffer.from(s, 'utf8'));
    }

    sendBinary(b) {
        this.sendFrame(OP.BINARY, b);
    }

    /** Next data message (text frames as strings, binary as Buffers); pings are answered. */
    async nextMessage(timeout = 3000) {
        const parts = [];
        let type = null;
        for (;;) {
            const f = await this.frames.next(timeout);
            if (f.opcode === OP.PING) {
                this.sendFrame(OP.PONG, f.payload);
                continue;
            }
            if (f.opcode === OP.CLOSE) {
                throw new Error(`close frame ${closeInfo(f).code} instead of a message`);
            }
            if (f.opcode !== OP.CONT) type = f.opcode;
            parts.push(f.payload);
            if (f.fin) break;
        }
        const data = Buffer.concat(parts);
        return type === OP.TEXT ? data.toString('utf8') : data;
    }

    /**
     * Reads frames until a close frame or TCP close. Resolves { code, reason, frame }
     * (code null when the TCP connection ended without a close frame) and the data
     * messages seen before it in `skipped`.
     */
    async waitClose(timeout = 3000) {
        const skipped = [];
        const end = Date.now() + timeout * SLOW;
        for (;;) {
            let f;
            try {
                f = await this.frames.next(Math.max(1, (end - Date.now()) / SLOW));
            } catch (err) {
                if (this.tcpClosed) return { code: null, reason: '', frame: null, skipped };
                throw err;
            }
            if (f.opcode === OP.CLOSE) return { ...closeInfo(f), frame: f, skipped };
            skipped.push(f);
        }
    }

    /** Waits until the TCP connection is closed by the server. */
    async waitTcpClose(timeout = 3000) {
        await withTimeout(this.closed, timeout, 'TCP close');
    }

    /**
     * Waits until the server ends the WebSocket: a close frame (answered) followed by the
     * TCP close, or the TCP close alone. Resolves the close code (null without a frame).
     */
    async waitEnded(timeout = 3000) {
        await withTimeout(this.closed, timeout, 'websocket close');
        return this.closeFrame ? closeInfo(this.closeFrame).code : null;
    }

    destroy() {
        this.sock.destroy();
    }
}

function closeInfo(f) {
    if (f.payload.length < 2) return { code: 1005, reason: '' };
    return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') };
}

/**
 * Opens an Engine.IO WebSocket session on `srv` (raw). Resolves { ws, open } with the
 * parsed open packet; query: extra query params (e.g. { sid }).
 */
export async function rawEioWs(srv, query = {}, opts = {}) {
    const q = new URLSearchParams({ EIO: '4', transport: 'websocket', ...query }).toString();
    const ws = await RawWs.connect(srv.host, srv.port, `${srv.path}?${q}`, opts);
    if (ws.status !== 101) {
        ws.destroy();
        throw new Error(`upgrade refused: ${ws.head}`);
    }
    if (query.sid) return { ws, open: null };
    const first = await ws.nextMessage();
    if (typeof first !== 'string' || first[0] !== '0') {
        ws.destroy();
        throw new Error(`expected open packet, got ${first}`);
    }
    return { ws, open: JSON.parse(first.slice(1)) };
}
