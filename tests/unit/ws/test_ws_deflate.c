/* Unit tests for src/ws/ws_deflate: RFC 7692 negotiation and the message codec
 * (RFC 7692 §7.2.3 sample bytes, round trips, limits, corrupt input). */
#include <criterion/criterion.h>
#include <string.h>

#include "ws/ws_deflate.h"
#include "ws/ws_frame.h"

static bool neg(const char *offers, ws_deflate_params_t *p)
{
    memset(p, 0xAA, sizeof *p);
    return ws_deflate_negotiate(slice_from_cstr(offers), p);
}

Test(ws_deflate, negotiation, .timeout = 5)
{
    ws_deflate_params_t p;
    char line[160];
    cr_assert(neg("permessage-deflate; client_max_window_bits", &p));
    cr_assert(!p.server_no_context_takeover && !p.client_no_context_takeover);
    cr_assert_eq(p.server_max_window_bits, 0);
    ws_deflate_response(&p, line, sizeof line);
    cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate\r\n");

    cr_assert(neg("permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
                  " server_max_window_bits=10", &p));
    cr_assert(p.server_no_context_takeover && p.client_no_context_takeover);
    cr_assert_eq(p.server_max_window_bits, 10);
    ws_deflate_response(&p, line, sizeof line);
    cr_assert_str_eq(line, "Sec-WebSocket-Extensions: permessage-deflate; "
                           "server_no_context_takeover; client_no_context_takeover; "
                           "server_max_window_bits=10\r\n");

    /* declined offers fall through to the next acceptable one */
    cr_assert(neg("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, "
                  "permessage-deflate; server_max_window_bits=\"12\"", &p));
    cr_assert_eq(p.server_max_window_bits, 12);
    cr_assert_not(neg("permessage-deflate; unknown_param", &p));
    cr_assert_not(neg("permessage-deflate; server_no_context_takeover; "
                      "server_no_context_takeover", &p));
    cr_assert_not(neg("permessage-deflate; client_max_window_bits=16", &p));
    cr_assert_not(neg("permessage-deflate; server_max_window_bits", &p));
    cr_assert_not(neg("permessage-deflate; server_no_context_takeover=1", &p));
    cr_assert_not(neg("foo, bar", &p));
    cr_assert_not(neg("", &p));
}

Test(ws_deflate, inflates_rfc7692_samples, .timeout = 5)
{
    ws_deflate_params_t p = {0};
    ws_deflate_t *d = ws_deflate_new(&p, 1);
    buf_t out = BUF_INIT;
    const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    cr_assert_eq(ws_deflate_inflate(d, slice_make(hello, sizeof hello), &out, 100), 0);
    cr_assert(slice_eq_cstr(buf_slice(&out), "Hello"));
    /* §7.2.3.2: the second "Hello" refers back into the shared window */
    const uint8_t again[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    buf_clear(&out);
    cr_assert_eq(ws_deflate_inflate(d, slice_make(again, sizeof again), &out, 100), 0);
    cr_assert(slice_eq_cstr(buf_slice(&out), "Hello"));
    /* §7.2.3.3: a message made of one uncompressed (stored) block */
    const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
    buf_clear(&out);
    cr_assert_eq(ws_deflate_inflate(d, slice_make(stored, sizeof stored), &out, 100), 0);
    cr_assert(slice_eq_cstr(buf_slice(&out), "Hello"));
    buf_dispose(&out);
    ws_deflate_free(d);
}

Test(ws_deflate, round_trip_with_and_without_context_takeover, .timeout = 5)
{
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "the quick brown fox "[i % 20];
    for (int nctx = 0; nctx < 2; nctx++) {
        ws_deflate_params_t p = {.server_no_context_takeover = nctx,
                                 .client_no_context_takeover = nctx};
        ws_deflate_t *tx = ws_deflate_new(&p, 6), *rx = ws_deflate_new(&p, 6);
        for (int round = 0; round < 3; round++) {
            buf_t z = BUF_INIT, back = BUF_INIT;
            slice_t parts[2] = {slice_make(text, 1234), slice_make(text + 1234, 3766)};
            cr_assert_eq(ws_deflate_deflate(tx, parts, 2, &z), 0);
            cr_assert_lt(z.len, 500, "compressible text compresses");
            cr_assert(z.len < 4 || memcmp(buf_data(&z) + z.len - 4, "\x00\x00\xff\xff", 4) != 0);
            cr_assert_eq(ws_deflate_inflate(rx, buf_slice(&z), &back, sizeof text), 0);
            cr_assert_eq(back.len, sizeof text);
            cr_assert(memcmp(buf_data(&back), text, sizeof text) == 0);
            buf_dispose(&z);
            buf_dispose(&back);
        }
        ws_deflate_free(tx);
        ws_deflate_free(rx);
    }
}

Test(ws_deflate, limits_and_corrupt_data, .timeout = 5)
{
    static char zeros[100000];
    ws_deflate_params_t p = {0};
    ws_deflate_t *tx = ws_deflate_new(&p, 9), *rx = ws_deflate_new(&p, 1);
    buf_t z = BUF_INIT, back = BUF_INIT;
    slice_t s = slice_make(zeros, sizeof zeros);
    cr_assert_eq(ws_deflate_deflate(tx, &s, 1, &z), 0);
    cr_assert_lt(z.len, 1000);
    /* a small compressed message that inflates past the bound: 1009, not an OOM */
    cr_assert_eq(ws_deflate_inflate(rx, buf_slice(&z), &back, 50000), WS_CLOSE_TOO_BIG);
    ws_deflate_free(rx);
    rx = ws_deflate_new(&p, 1);
    buf_clear(&back);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
    cr_assert_eq(ws_deflate_inflate(rx, slice_make(junk, sizeof junk), &back, 1000),
                 WS_CLOSE_INVALID_DATA);
    buf_dispose(&z);
    buf_dispose(&back);
    ws_deflate_free(tx);
    ws_deflate_free(rx);
}
