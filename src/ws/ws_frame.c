/*
 * ws_frame: RFC 6455 frame header codec and masking.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *   | |1|2|3|       |K|             |                               |
 *   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *   |     Extended payload length continued, if payload len == 127  |
 *   + - - - - - - - - - - - - - - - +-------------------------------+
 *   |                               |Masking-key, if MASK set to 1  |
 *   +-------------------------------+-------------------------------+
 *   | Masking-key (continued)       |          Payload Data         |
 *   +-------------------------------- - - - - - - - - - - - - - - - +
 */
#include "ws/ws_frame.h"

#include <string.h>

#include "base/utf8.h"

static bool opcode_known(unsigned op)
{
    return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

static int parse_error(const char **err, const char *why)
{
    if (err)
        *err = why;
    return -WS_CLOSE_PROTOCOL_ERROR;
}

int ws_frame_parse_header(const uint8_t *p, size_t len, unsigned flags, ws_frame_header_t *h,
                          const char **err)
{
    if (len < 2)
        return WS_FRAME_NEED_MORE;
    unsigned b0 = p[0], b1 = p[1];
    unsigned op = b0 & 0x0F;
    bool fin = b0 & 0x80, rsv1 = b0 & 0x40, masked = b1 & 0x80;
    if (b0 & 0x30)
        return parse_error(err, "reserved bits RSV2/RSV3 set");
    if (!opcode_known(op))
        return parse_error(err, "unknown opcode");
    bool control = op >= WS_OP_CLOSE;
    if (rsv1 && (control || !(flags & WS_PARSE_ALLOW_RSV1)))
        return parse_error(err, "RSV1 set without a negotiated extension");
    if (control && !fin)
        return parse_error(err, "fragmented control frame");
    if ((flags & WS_PARSE_REQUIRE_MASK) && !masked)
        return parse_error(err, "unmasked client frame");
    unsigned len7 = b1 & 0x7F;
    if (control && len7 > WS_CONTROL_MAX)
        return parse_error(err, "control frame payload over 125 bytes");
    size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (len < need)
        return WS_FRAME_NEED_MORE;
    uint64_t plen = len7;
    size_t i = 2;
    if (len7 == 126) {
        plen = (uint64_t)p[2] << 8 | p[3];
        i = 4;
    } else if (len7 == 127) {
        plen = 0;
        for (i = 2; i < 10; i++)
            plen = plen << 8 | p[i];
        if (plen >> 63)
            return parse_error(err, "payload length with the top bit set");
    }
    h->payload_len = plen;
    h->opcode = (uint8_t)op;
    h->fin = fin;
    h->rsv1 = rsv1;
    h->masked = masked;
    if (masked)
        memcpy(h->mask, p + i, 4);
    else
        memset(h->mask, 0, 4);
    h->header_len = (uint8_t)need;
    return (int)need;
}

void ws_frame_unmask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
    uint8_t m[4];
    for (int k = 0; k < 4; k++)
        m[k] = mask[(offset + (uint64_t)k) & 3];
    size_t i = 0;
    /* Byte-wise up to an 8-byte boundary of `p`, then whole words. The rotated key m[]
     * starts at index 0 of this call, so word lanes line up with i % 4. */
    while (i < len && ((uintptr_t)(p + i) & 7)) {
        p[i] ^= m[i & 3];
        i++;
    }
    uint8_t w8[8];
    for (int k = 0; k < 8; k++)
        w8[k] = m[(i + (size_t)k) & 3];
    uint64_t w;
    memcpy(&w, w8, 8);
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= w;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] ^= m[i & 3];
}

static size_t encode(uint8_t *out, unsigned opcode, bool fin, bool rsv1, uint64_t len,
                     bool masked)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
    uint8_t mbit = masked ? 0x80 : 0;
    if (len < 126) {
        out[1] = (uint8_t)(mbit | len);
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = mbit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = mbit | 127;
    for (int k = 0; k < 8; k++)
        out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
    return 10;
}

size_t ws_frame_header_encode(uint8_t *out, unsigned opcode, bool fin, bool rsv1,
                              uint64_t payload_len)
{
    return encode(out, opcode, fin, rsv1, payload_len, false);
}

size_t ws_frame_header_encode_masked(uint8_t *out, unsigned opcode, bool fin, bool rsv1,
                                     uint64_t payload_len, const uint8_t mask[4])
{
    size_t n = encode(out, opcode, fin, rsv1, payload_len, true);
    memcpy(out + n, mask, 4);
    return n + 4;
}

bool ws_close_code_is_valid(unsigned code)
{
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

int ws_close_payload_parse(slice_t payload, unsigned *code, slice_t *reason, const char **err)
{
    if (payload.len == 0) {
        *code = WS_CLOSE_NO_STATUS;
        *reason = slice_make(payload.ptr, 0);
        return 0;
    }
    if (payload.len == 1) {
        *err = "close frame with a 1-byte payload";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    unsigned c = (unsigned)payload.ptr[0] << 8 | payload.ptr[1];
    if (!ws_close_code_is_valid(c)) {
        *err = "invalid close code";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    slice_t r = slice_tail(payload, 2);
    if (!utf8_is_valid(r.ptr, r.len)) {
        *err = "close reason is not UTF-8";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    *code = c;
    *reason = r;
    return 0;
}

size_t ws_close_payload_encode(uint8_t *out, unsigned code, slice_t reason)
{
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason.len < WS_CONTROL_MAX - 2 ? reason.len : WS_CONTROL_MAX - 2;
    n = utf8_boundary(reason.ptr, n);
    if (n)
        memcpy(out + 2, reason.ptr, n);
    return 2 + n;
}
