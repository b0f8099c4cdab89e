/*
 * libFuzzer target for the WebSocket codec (src/ws/ws_frame), the receive state
 * machine (src/ws/ws_reader) and the UTF-8 validator (src/base/utf8).
 *
 * Input: [flags][chunk seed][bytes...]
 *   - ws_frame_parse_header on the bytes; a parsed header re-encodes to the same fields;
 *   - the bytes go through ws_reader in chunks (sizes from the seed), keeping the
 *     unconsumed tail like net_conn does; every delivered text message must be valid
 *     UTF-8 and within max_message; consumed never exceeds what was given;
 *   - utf8_is_valid agrees with a slow code-point reference decoder, and incremental
 *     feeding split anywhere agrees with the whole-buffer answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "ws/ws_frame.h"
#include "ws/ws_reader.h"

enum { MAX_MESSAGE = 4096 };

/* Slow, obviously-correct UTF-8 check: decode each code point and reject overlongs,
 * surrogates and values past U+10FFFF. */
static bool ref_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void check_utf8(const uint8_t *p, size_t n)
{
    bool whole = utf8_is_valid(p, n);
    if (whole != ref_utf8(p, n))
        abort();
    size_t cut = n ? p[0] % (n + 1) : 0;
    utf8_state_t st = UTF8_STATE_INIT;
    bool ok = utf8_feed(&st, p, cut) && utf8_feed(&st, p + cut, n - cut) && utf8_is_complete(&st);
    if (ok != whole)
        abort();
    size_t b = utf8_boundary(p, n);
    if (b > n || (whole && !utf8_is_valid(p, b)))
        abort();
}

static void check_header(const uint8_t *p, size_t n, unsigned flags)
{
    ws_frame_header_t h;
    const char *err = NULL;
    int r = ws_frame_parse_header(p, n, flags, &h, &err);
    if (r < 0 && (!err || (r != -1002)))
        abort();
    if (r <= 0)
        return;
    if ((size_t)r > n || r != h.header_len)
        abort();
    uint8_t out[WS_FRAME_HEADER_MAX_MASKED];
    size_t m = h.masked ? ws_frame_header_encode_masked(out, h.opcode, h.fin, h.rsv1,
                                                        h.payload_len, h.mask)
                        : ws_frame_header_encode(out, h.opcode, h.fin, h.rsv1, h.payload_len);
    ws_frame_header_t h2;
    if (ws_frame_parse_header(out, m, flags, &h2, &err) != (int)m)
        abort();
    if (h2.payload_len != h.payload_len || h2.opcode != h.opcode || h2.fin != h.fin ||
        h2.rsv1 != h.rsv1 || h2.masked != h.masked || memcmp(h2.mask, h.mask, 4) != 0)
        abort();
}

static void check_event(ws_event_type_t t, const ws_event_t *e)
{
    if (t == WS_EV_MESSAGE) {
        if (e->data.len > MAX_MESSAGE)
            abort();
        if (!e->binary && !e->compressed && !utf8_is_valid(e->data.ptr, e->data.len))
            abort();
    }
    if (t == WS_EV_PING || t == WS_EV_PONG) {
        if (e->data.len > WS_CONTROL_MAX)
            abort();
    }
    if (t == WS_EV_CLOSE && e->close_code != WS_CLOSE_NO_STATUS &&
        !ws_close_code_is_valid(e->close_code))
        abort();
    if (t == WS_EV_ERROR && (!e->reason || e->close_code < 1002 || e->close_code > 1009))
        abort();
}

static void run_reader(const uint8_t *p, size_t n, unsigned flags, uint8_t seed)
{
    ws_reader_t r;
    ws_reader_init(&r, MAX_MESSAGE, flags);
    buf_t pending = BUF_INIT;
    size_t pos = 0;
    size_t step = (size_t)(seed % 37) + 1;
    bool dead = false;
    while (pos < n && !dead) {
        size_t k = n - pos < step ? n - pos : step;
        buf_append(&pending, p + pos, k);
        pos += k;
        step = (step * 7 + 3) % 61 + 1;
        for (;;) {
            size_t used;
            ws_event_t e;
            ws_event_type_t t = ws_reader_next(&r, buf_data(&pending), pending.len, &used, &e);
            if (used > pending.len)
                abort();
            buf_consume(&pending, used);
            check_event(t, &e);
            if (t == WS_EV_ERROR) {
                dead = true;
                break;
            }
            if (t == WS_EV_NEED_MORE)
                break;
        }
    }
    /* an unconsumed tail is never bigger than a header plus a control payload, or a
     * partial header */
    if (!dead && pending.len > WS_FRAME_HEADER_MAX_MASKED + WS_CONTROL_MAX)
        abort();
    buf_dispose(&pending);
    ws_reader_dispose(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned flags = data[0] & 3;
    uint8_t seed = data[1];
    data += 2;
    size -= 2;
    check_utf8(data, size);
    check_header(data, size, flags);
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    run_reader(copy, size, flags, seed);
    free(copy);
    unsigned code;
    slice_t reason;
    const char *err;
    (void)ws_close_payload_parse(slice_make(data, size < 125 ? size : 125), &code, &reason, &err);
    return 0;
}
