/* Unit tests for src/ws/ws_reader: reassembly, control frames between fragments,
 * limits (1009), UTF-8 (1007), sequencing errors (1002), every split point. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ws/ws_reader.h"

static const uint8_t key[4] = {0xa1, 0x02, 0xc3, 0x74};

/* Appends one masked client frame. */
static void frame(buf_t *b, unsigned op, bool fin, bool rsv1, const void *pl, size_t n)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX_MASKED];
    size_t h = ws_frame_header_encode_masked(hdr, op, fin, rsv1, n, key);
    buf_append(b, hdr, h);
    uint8_t *dst = buf_reserve(b, n + 1);
    if (n)
        memcpy(dst, pl, n);
    ws_frame_unmask(dst, n, key, 0);
    buf_commit(b, n);
}

#define MAX_EV 16
typedef struct {
    int n;
    ws_event_type_t type[MAX_EV];
    unsigned code[MAX_EV];
    bool binary[MAX_EV];
    buf_t data[MAX_EV];
} events_t;

static void events_free(events_t *e)
{
    for (int i = 0; i < MAX_EV; i++)
        buf_dispose(&e->data[i]);
}

/*
 * Feeds `in` in chunks of `step` bytes the way net_conn does: unconsumed bytes are
 * kept and presented again with the next chunk. Stops at the first error.
 */
static void run(ws_reader_t *r, const buf_t *in, size_t step, events_t *ev)
{
    buf_t pending = BUF_INIT;
    size_t pos = 0;
    memset(ev, 0, sizeof *ev);
    while (pos < in->len) {
        size_t k = in->len - pos < step ? in->len - pos : step;
        buf_append(&pending, buf_data(in) + pos, k);
        pos += k;
        for (;;) {
            size_t used;
            ws_event_t e;
            ws_event_type_t t = ws_reader_next(r, buf_data(&pending), pending.len, &used, &e);
            cr_assert_leq(used, pending.len);
            buf_consume(&pending, used);
            if (t == WS_EV_NEED_MORE)
                break;
            cr_assert_lt(ev->n, MAX_EV);
            ev->type[ev->n] = t;
            ev->code[ev->n] = e.close_code;
            ev->binary[ev->n] = e.binary;
            buf_append(&ev->data[ev->n], e.data.ptr, e.data.len);
            ev->n++;
            if (t == WS_EV_ERROR)
                goto out;
        }
    }
out:
    buf_dispose(&pending);
}

Test(ws_reader, whole_message_is_zero_copy, .timeout = 5)
{
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_TEXT, true, false, "hello", 5);
    ws_reader_t r;
    ws_reader_init(&r, 1000, WS_PARSE_REQUIRE_MASK);
    size_t used;
    ws_event_t e;
    cr_assert_eq(ws_reader_next(&r, buf_data(&in), in.len, &used, &e), WS_EV_MESSAGE);
    cr_assert_eq(used, in.len);
    cr_assert(slice_eq_cstr(e.data, "hello") && !e.binary);
    cr_assert(e.data.ptr == buf_data(&in) + 6, "delivered in place");
    cr_assert_null(buf_data(&r.msg), "no reader buffer was allocated");
    ws_reader_dispose(&r);
    buf_dispose(&in);
}

static void build_fragmented(buf_t *in)
{
    frame(in, WS_OP_TEXT, false, false, "frag", 4);
    frame(in, WS_OP_PING, true, false, "p1", 2);
    frame(in, WS_OP_CONT, false, false, "men\xe2\x82", 5); /* '€' split across frames */
    frame(in, WS_OP_CONT, false, false, "", 0);
    frame(in, WS_OP_PONG, true, false, "", 0);
    frame(in, WS_OP_CONT, true, false, "\xac!", 2);
    frame(in, WS_OP_BINARY, true, false, "\x00\x01\x02", 3);
    frame(in, WS_OP_CLOSE, true, false, "\x03\xe8" "done", 6);
}

Test(ws_reader, fragments_and_controls_split_at_every_byte, .timeout = 10)
{
    buf_t in = BUF_INIT;
    build_fragmented(&in);
    for (size_t step = 1; step <= in.len; step++) {
        ws_reader_t r;
        ws_reader_init(&r, 1000, WS_PARSE_REQUIRE_MASK);
        events_t ev;
        run(&r, &in, step, &ev);
        cr_assert_eq(ev.n, 5, "step %zu: %d events", step, ev.n);
        cr_assert_eq(ev.type[0], WS_EV_PING);
        cr_assert(slice_eq_cstr(buf_slice(&ev.data[0]), "p1"));
        cr_assert_eq(ev.type[1], WS_EV_PONG);
        cr_assert_eq(ev.type[2], WS_EV_MESSAGE);
        cr_assert(!ev.binary[2]);
        cr_assert(slice_eq_cstr(buf_slice(&ev.data[2]), "fragmen\xe2\x82\xac!"));
        cr_assert_eq(ev.type[3], WS_EV_MESSAGE);
        cr_assert(ev.binary[3] && ev.data[3].len == 3);
        cr_assert_eq(ev.type[4], WS_EV_CLOSE);
        cr_assert_eq(ev.code[4], 1000);
        cr_assert(slice_eq_cstr(buf_slice(&ev.data[4]), "done"));
        events_free(&ev);
        ws_reader_dispose(&r);
    }
    buf_dispose(&in);
}

static unsigned first_error(buf_t *in, size_t max, unsigned flags, size_t step)
{
    ws_reader_t r;
    ws_reader_init(&r, max, flags);
    events_t ev;
    run(&r, in, step, &ev);
    unsigned code = 0;
    for (int i = 0; i < ev.n; i++)
        if (ev.type[i] == WS_EV_ERROR)
            code = ev.code[i];
    /* a dead reader keeps failing with the same code */
    size_t used;
    ws_event_t e;
    if (code) {
        cr_assert_eq(ws_reader_next(&r, (uint8_t *)"", 0, &used, &e), WS_EV_ERROR);
        cr_assert_eq(e.close_code, code);
    }
    events_free(&ev);
    ws_reader_dispose(&r);
    return code;
}

Test(ws_reader, message_size_limit_1009, .timeout = 5)
{
    char big[101];
    memset(big, 'a', sizeof big);
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_TEXT, true, false, big, 100);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 0);
    buf_clear(&in);
    frame(&in, WS_OP_TEXT, true, false, big, 101);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1009);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, 3), 1009);
    buf_clear(&in);
    frame(&in, WS_OP_BINARY, false, false, big, 60);
    frame(&in, WS_OP_CONT, true, false, big, 41); /* 101 in total */
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, 7), 1009);
    buf_dispose(&in);
}

Test(ws_reader, invalid_utf8_1007, .timeout = 5)
{
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_TEXT, true, false, "ok\xc0\xaf", 4);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1007);
    buf_clear(&in);
    /* fails on the first fragment, before the message could complete */
    frame(&in, WS_OP_TEXT, false, false, "\xed\xa0\x80", 3);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1007);
    buf_clear(&in);
    /* a message may not end inside a character */
    frame(&in, WS_OP_TEXT, false, false, "a", 1);
    frame(&in, WS_OP_CONT, true, false, "\xe2\x82", 2);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, 1), 1007);
    buf_clear(&in);
    /* binary messages are not UTF-8 checked */
    frame(&in, WS_OP_BINARY, true, false, "\xff\xfe", 2);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 0);
    buf_dispose(&in);
}

Test(ws_reader, sequencing_and_framing_errors_1002, .timeout = 5)
{
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_CONT, true, false, "x", 1);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    frame(&in, WS_OP_TEXT, false, false, "x", 1);
    frame(&in, WS_OP_TEXT, true, false, "y", 1);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    const uint8_t unmasked[] = {0x81, 0x01, 'x'};
    buf_append(&in, unmasked, 3);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    frame(&in, WS_OP_CLOSE, true, false, "\x03", 1);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    frame(&in, WS_OP_CLOSE, true, false, "\x03\xed", 2); /* code 1005 may not be sent */
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    frame(&in, WS_OP_TEXT, true, true, "x", 1); /* RSV1 without deflate */
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK, in.len), 1002);
    buf_clear(&in);
    frame(&in, WS_OP_TEXT, false, true, "x", 1); /* RSV1 allowed on the first frame only */
    frame(&in, WS_OP_CONT, true, true, "y", 1);
    cr_assert_eq(first_error(&in, 100, WS_PARSE_REQUIRE_MASK | WS_PARSE_ALLOW_RSV1, 2), 1002);
    buf_dispose(&in);
}

Test(ws_reader, compressed_flag_passes_through, .timeout = 5)
{
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_TEXT, false, true, "\xff", 1); /* not UTF-8, but compressed */
    frame(&in, WS_OP_CONT, true, false, "\xfe", 1);
    ws_reader_t r;
    ws_reader_init(&r, 100, WS_PARSE_REQUIRE_MASK | WS_PARSE_ALLOW_RSV1);
    events_t ev;
    run(&r, &in, 1, &ev);
    cr_assert_eq(ev.n, 1);
    cr_assert_eq(ev.type[0], WS_EV_MESSAGE);
    cr_assert_eq(ev.data[0].len, 2);
    events_free(&ev);
    ws_reader_dispose(&r);
    buf_dispose(&in);
}

Test(ws_reader, partial_control_frame_is_not_consumed, .timeout = 5)
{
    buf_t in = BUF_INIT;
    frame(&in, WS_OP_PING, true, false, "abcdef", 6);
    ws_reader_t r;
    ws_reader_init(&r, 100, WS_PARSE_REQUIRE_MASK);
    size_t used;
    ws_event_t e;
    for (size_t k = 0; k < in.len; k++) {
        cr_assert_eq(ws_reader_next(&r, buf_data(&in), k, &used, &e), WS_EV_NEED_MORE);
        cr_assert_eq(used, 0);
    }
    cr_assert_eq(ws_reader_next(&r, buf_data(&in), in.len, &used, &e), WS_EV_PING);
    cr_assert(slice_eq_cstr(e.data, "abcdef"));
    ws_reader_dispose(&r);
    buf_dispose(&in);
}
