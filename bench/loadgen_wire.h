/*
 * loadgen_wire: the client side of the wire for bench/loadgen.c (bench, not the library).
 *
 * The load generator must not depend on the server-side ws/eio/sio modules it measures,
 * so it carries its own small codecs here, all pure (no I/O, no clock, no allocation):
 *   - the RFC 6455 opening handshake: the upgrade request (§4.1) and the check of the
 *     server's 101 answer, including Sec-WebSocket-Accept (§4.2.2, SHA-1 + base64 from
 *     OpenSSL);
 *   - WebSocket frames (§5.2): parsing server frames (which must be unmasked) and
 *     encoding client frames (which must be masked, §5.3);
 *   - the few Engine.IO v4 / Socket.IO v5 text packets a client needs
 *     (socketio-protocol.md §1.2, §1.3, §1.5, §2.2) and a tolerant scan for the numbers
 *     the benchmark puts in its own payloads.
 * Everything works on caller buffers: inputs are borrowed for the call, outputs are
 * written into space the caller provides. Functions are static: this header is included
 * by exactly one program. Thread-agnostic.
 */
#ifndef SIOC_BENCH_LOADGEN_WIRE_H
#define SIOC_BENCH_LOADGEN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/slice.h"

/* WebSocket opcodes (RFC 6455 §5.2). */
enum { LG_WS_CONT = 0x0, LG_WS_TEXT = 0x1, LG_WS_BIN = 0x2, LG_WS_CLOSE = 0x8,
       LG_WS_PING = 0x9, LG_WS_PONG = 0xA };

/* Largest client frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define LG_WS_MAX_HDR 14

/* Largest upgrade response header we accept before calling it an error. */
#define LG_HTTP_MAX_HDR 8192

/** One parsed server frame. `payload` points into the parsed input (borrowed). */
typedef struct lg_frame {
    bool fin;               /* last fragment of its message */
    uint8_t opcode;         /* LG_WS_* */
    const uint8_t *payload; /* unmasked payload bytes, inside the input */
    size_t len;             /* payload length */
} lg_frame_t;

/**
 * Parses one server-to-client frame from `p[0..n)`.
 * Returns the bytes the frame takes (> 0) with `f` filled, 0 when more input is needed,
 * or -1 with `*err` set to a static reason: a masked server frame (§5.1), reserved bits
 * without a negotiated extension, an unknown opcode, a bad control frame, or a payload
 * over `max_payload`.
 */
static long lg_ws_parse(const uint8_t *p, size_t n, size_t max_payload, lg_frame_t *f,
                        const char **err)
{
    if (n < 2)
        return 0;
    uint8_t b0 = p[0], b1 = p[1];
    f->fin = (b0 & 0x80) != 0;
    f->opcode = b0 & 0x0F;
    if (b0 & 0x70) {
        *err = "reserved bits set in a server frame";
        return -1;
    }
    if (b1 & 0x80) {
        *err = "masked server frame";
        return -1;
    }
    bool control = (f->opcode & 0x8) != 0;
    if (f->opcode > LG_WS_BIN && !control) {
        *err = "unknown opcode";
        return -1;
    }
    if (control && (f->opcode > LG_WS_PONG || !f->fin || (b1 & 0x7F) > 125)) {
        *err = "bad control frame";
        return -1;
    }
    size_t hdr = 2;
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        hdr = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        hdr = 10;
    }
    if (len > max_payload) {
        *err = "server frame over the size limit";
        return -1;
    }
    if (n - hdr < len)
        return 0;
    f->payload = p + hdr;
    f->len = (size_t)len;
    return (long)(hdr + len);
}

/** Bytes a client frame with an `len`-byte payload takes (header, mask key, payload). */
static inline size_t lg_ws_frame_size(size_t len)
{
    return len + (len < 126 ? 6 : len < 65536 ? 8 : 14);
}

/**
 * Encodes one final client frame into `out` (room for lg_ws_frame_size(len) bytes):
 * header, the 4-byte `mask` key, then `payload` XORed with the key (RFC 6455 §5.3).
 * `payload` may not overlap `out`. Returns the bytes written.
 */
static size_t lg_ws_encode(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t len,
                           uint32_t mask)
{
    size_t h = 0;
    out[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t key[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                      (uint8_t)mask};
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        out[h + i] = payload[i] ^ key[i & 3];
    return h + len;
}

/**
 * Sec-WebSocket-Key from 16 random bytes: standard base64 into `key` (25 bytes with the
 * NUL). RFC 6455 §4.1 item 7.
 */
static void lg_ws_make_key(const uint8_t nonce[16], char key[25])
{
    EVP_EncodeBlock((unsigned char *)key, nonce, 16);
}

/** The Sec-WebSocket-Accept a server must answer to `key` (29 bytes with the NUL). */
static void lg_ws_expected_accept(const char *key, char accept[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t in[24 + sizeof(guid) - 1];
    uint8_t md[SHA_DIGEST_LENGTH];
    memcpy(in, key, 24);
    memcpy(in + 24, guid, sizeof(guid) - 1);
    SHA1(in, sizeof(in), md);
    EVP_EncodeBlock((unsigned char *)accept, md, SHA_DIGEST_LENGTH);
}

/** The value of header `name` (case-insensitive) in a header block, trimmed; empty if absent. */
static slice_t lg_http_header(slice_t head, const char *name)
{
    slice_t want = slice_from_cstr(name);
    const uint8_t *p = head.ptr, *end = head.ptr + head.len;
    while (p < end) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *line_end = eol ? eol : end;
        const uint8_t *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && slice_eq_nocase(slice_make(p, (size_t)(colon - p)), want)) {
            const uint8_t *v = colon + 1, *ve = line_end;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            return slice_make(v, (size_t)(ve - v));
        }
        p = line_end + 1;
    }
    return slice_make(end, 0);
}

/**
 * Checks the server's answer to the upgrade request sent with `key`.
 * Returns the length of the header block (> 0, frames may follow it in the same input)
 * when it is a valid `101` with the right Sec-WebSocket-Accept; 0 when the header is not
 * complete yet; -1 with `*err` set (and `*status` to the HTTP status when one was read)
 * for anything else.
 */
static long lg_http_check_101(const uint8_t *p, size_t n, const char *key, int *status,
                              const char **err)
{
    *status = 0;
    const uint8_t *end = NULL;
    for (size_t i = 3; i < n && !end; i++) {
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            end = p + i + 1;
    }
    if (!end) {
        if (n > LG_HTTP_MAX_HDR) {
            *err = "upgrade response header too large";
            return -1;
        }
        return 0;
    }
    slice_t head = slice_make(p, (size_t)(end - p));
    if (head.len < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
        *err = "not an HTTP/1.1 response";
        return -1;
    }
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (*status != 101) {
        *err = "upgrade refused (status not 101)";
        return -1;
    }
    char want[29];
    lg_ws_expected_accept(key, want);
    if (!slice_eq_cstr(lg_http_header(head, "sec-websocket-accept"), want)) {
        *err = "wrong or missing Sec-WebSocket-Accept";
        return -1;
    }
    if (lg_http_header(head, "sec-websocket-extensions").len) {
        *err = "server chose an extension the client did not offer";
        return -1;
    }
    return (long)head.len;
}

/**
 * Reads the unsigned decimal number after the JSON key `"<key>":` (whitespace allowed
 * around the colon) in `s`. Only for the benchmark's own payloads, whose other values
 * cannot contain the key pattern. Returns false if absent or not a number.
 */
static bool lg_json_u64(slice_t s, const char *key, uint64_t *out)
{
    char pat[16];
    size_t kl = strlen(key);
    if (kl + 2 > sizeof(pat))
        return false;
    pat[0] = '"';
    memcpy(pat + 1, key, kl);
    pat[kl + 1] = '"';
    const uint8_t *end = s.ptr + s.len;
    const uint8_t *hit = s.len >= kl + 2 ? memmem(s.ptr, s.len, pat, kl + 2) : NULL;
    if (!hit)
        return false;
    const uint8_t *q = hit + kl + 2;
    while (q < end && (*q == ' ' || *q == ':'))
        q++;
    if (q == end || *q < '0' || *q > '9')
        return false;
    uint64_t v = 0;
    while (q < end && *q >= '0' && *q <= '9' && v < UINT64_MAX / 10)
        v = v * 10 + (uint64_t)(*q++ - '0');
    *out = v;
    return true;
}

/**
 * Splits a Socket.IO packet in the default namespace, `<type>[<ackId>][json]` (the
 * Engine.IO `4` already stripped; §2.2): `*type` is the packet type digit's value,
 * `*ack` the ack id or -1, `*json` the rest. A packet for another namespace (`<type>/…,`)
 * or with attachments gives false: the benchmark uses neither.
 */
static bool lg_sio_split(slice_t pkt, int *type, int64_t *ack, slice_t *json)
{
    if (pkt.len == 0 || pkt.ptr[0] < '0' || pkt.ptr[0] > '6')
        return false;
    *type = pkt.ptr[0] - '0';
    size_t i = 1;
    if (i < pkt.len && (pkt.ptr[i] == '/' || *type == 5 || *type == 6))
        return false;
    *ack = -1;
    if (i < pkt.len && pkt.ptr[i] >= '0' && pkt.ptr[i] <= '9') {
        int64_t v = 0;
        while (i < pkt.len && pkt.ptr[i] >= '0' && pkt.ptr[i] <= '9' && v < INT64_MAX / 10)
            v = v * 10 + (pkt.ptr[i++] - '0');
        *ack = v;
    }
    *json = slice_tail(pkt, i);
    return true;
}

/**
 * The event name of an EVENT payload `["name",...]` as a slice into `json` (no escape
 * handling: the benchmark's event names have none). Empty if it is not one.
 */
static slice_t lg_sio_event_name(slice_t json)
{
    size_t i = 0;
    while (i < json.len && json.ptr[i] == ' ')
        i++;
    if (i + 1 >= json.len || json.ptr[i] != '[')
        return slice_make(json.ptr, 0);
    i++;
    while (i < json.len && json.ptr[i] == ' ')
        i++;
    if (i >= json.len || json.ptr[i] != '"')
        return slice_make(json.ptr, 0);
    long q = slice_index(slice_tail(json, i + 1), '"');
    if (q < 0)
        return slice_make(json.ptr, 0);
    return slice_make(json.ptr + i + 1, (size_t)q);
}

#endif
