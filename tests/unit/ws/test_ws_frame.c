/* Unit tests for src/ws/ws_frame: header forms, masking, bad frames, close payloads. */
#include <criterion/criterion.h>
#include <string.h>

#include "ws/ws_frame.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

Test(ws_frame, rfc6455_examples, .timeout = 5)
{
    /* RFC 6455 §5.7: unmasked "Hello" and masked "Hello" */
    const uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_frame_header_t h;
    const char *err = NULL;
    cr_assert_eq(ws_frame_parse_header(unmasked, sizeof unmasked, 0, &h, &err), 2);
    cr_assert(h.fin && h.opcode == WS_OP_TEXT && !h.masked && h.payload_len == 5);
    cr_assert_eq(ws_frame_parse_header(masked, sizeof masked, WS_PARSE_REQUIRE_MASK, &h, &err), 6);
    cr_assert(h.masked && memcmp(h.mask, key, 4) == 0 && h.payload_len == 5);
    ws_frame_unmask(masked + 6, 5, h.mask, 0);
    cr_assert(memcmp(masked + 6, "Hello", 5) == 0);
    /* fragmented "Hel" + "lo" and a 256-byte / 64 KiB binary header */
    const uint8_t f1[] = {0x01, 0x03}, f2[] = {0x80, 0x02};
    cr_assert_eq(ws_frame_parse_header(f1, 2, 0, &h, &err), 2);
    cr_assert(!h.fin && h.opcode == WS_OP_TEXT && h.payload_len == 3);
    cr_assert_eq(ws_frame_parse_header(f2, 2, 0, &h, &err), 2);
    cr_assert(h.fin && h.opcode == WS_OP_CONT);
    const uint8_t b256[] = {0x82, 0x7E, 0x01, 0x00};
    cr_assert_eq(ws_frame_parse_header(b256, 4, 0, &h, &err), 4);
    cr_assert_eq(h.payload_len, 256);
    const uint8_t b64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    cr_assert_eq(ws_frame_parse_header(b64k, 10, 0, &h, &err), 10);
    cr_assert_eq(h.payload_len, 65536);
}

Test(ws_frame, encode_all_length_forms_round_trip, .timeout = 5)
{
    const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 16777216, 1ull << 40};
    const size_t want[] = {2, 2, 2, 4, 4, 4, 10, 10, 10};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t out[WS_FRAME_HEADER_MAX_MASKED];
        size_t n = ws_frame_header_encode(out, WS_OP_BINARY, true, false, lens[i]);
        cr_assert_eq(n, want[i], "len %llu", (unsigned long long)lens[i]);
        ws_frame_header_t h;
        cr_assert_eq(ws_frame_parse_header(out, n, 0, &h, NULL), (int)n);
        cr_assert_eq(h.payload_len, lens[i]);
        cr_assert(h.fin && !h.rsv1 && !h.masked && h.opcode == WS_OP_BINARY);
        /* every shorter prefix needs more */
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(ws_frame_parse_header(out, k, 0, &h, NULL), WS_FRAME_NEED_MORE);
        n = ws_frame_header_encode_masked(out, WS_OP_TEXT, false, true, lens[i], key);
        cr_assert_eq(n, want[i] + 4);
        cr_assert_eq(ws_frame_parse_header(out, n, WS_PARSE_REQUIRE_MASK | WS_PARSE_ALLOW_RSV1,
                                           &h, NULL), (int)n);
        cr_assert(!h.fin && h.rsv1 && h.masked && h.payload_len == lens[i]);
        cr_assert(memcmp(h.mask, key, 4) == 0);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(ws_frame_parse_header(out, k, WS_PARSE_REQUIRE_MASK | WS_PARSE_ALLOW_RSV1,
                                               &h, NULL), 0);
    }
}

static int parse_err(const uint8_t *p, size_t n, unsigned flags)
{
    ws_frame_header_t h;
    const char *err = NULL;
    int r = ws_frame_parse_header(p, n, flags, &h, &err);
    if (r < 0)
        cr_assert_not_null(err);
    return r;
}

Test(ws_frame, bad_frames_are_1002, .timeout = 5)
{
    const unsigned S = WS_PARSE_REQUIRE_MASK;
    const uint8_t unmasked[] = {0x81, 0x01, 'x'};
    cr_assert_eq(parse_err(unmasked, 3, S), -1002);
    cr_assert_eq(parse_err(unmasked, 3, 0), 2); /* fine for a client-side reader */
    const uint8_t rsv2[] = {0xA1, 0x80, 0, 0, 0, 0}, rsv3[] = {0x91, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_err(rsv2, 6, S), -1002);
    cr_assert_eq(parse_err(rsv3, 6, S), -1002);
    const uint8_t rsv1[] = {0xC1, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_err(rsv1, 6, S), -1002);
    cr_assert_eq(parse_err(rsv1, 6, S | WS_PARSE_ALLOW_RSV1), 6);
    const uint8_t rsv1_ping[] = {0xC9, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_err(rsv1_ping, 6, S | WS_PARSE_ALLOW_RSV1), -1002);
    for (unsigned op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 10)
            continue;
        const uint8_t f[] = {(uint8_t)(0x80 | op), 0x80, 0, 0, 0, 0};
        cr_assert_eq(parse_err(f, 6, S), -1002, "opcode %u", op);
    }
    const uint8_t frag_ping[] = {0x09, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_err(frag_ping, 6, S), -1002);
    const uint8_t big_ping[] = {0x89, 0xFE, 0x00, 0x7E, 0, 0, 0, 0};
    cr_assert_eq(parse_err(big_ping, 8, S), -1002);
    const uint8_t ping125[] = {0x89, 0xFD, 0, 0, 0, 0};
    cr_assert_eq(parse_err(ping125, 6, S), 6);
    const uint8_t huge[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(parse_err(huge, 14, S), -1002);
    /* errors are detected from the first two bytes even with the rest missing */
    cr_assert_eq(parse_err(frag_ping, 2, S), -1002);
}

Test(ws_frame, unmask_any_offset_and_alignment, .timeout = 5)
{
    uint8_t plain[301], buf[310];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 7 + 3);
    for (size_t align = 0; align < 8; align++) {
        uint8_t *p = buf + align;
        memcpy(p, plain, sizeof plain);
        ws_frame_unmask(p, sizeof plain, key, 0);
        for (size_t i = 0; i < sizeof plain; i++)
            cr_assert_eq(p[i], plain[i] ^ key[i & 3]);
        /* unmasking in pieces at arbitrary cut points gives the same bytes back */
        size_t cut1 = 5 + align * 3, cut2 = 150 + align;
        ws_frame_unmask(p, cut1, key, 0);
        ws_frame_unmask(p + cut1, cut2 - cut1, key, cut1);
        ws_frame_unmask(p + cut2, sizeof plain - cut2, key, cut2);
        cr_assert(memcmp(p, plain, sizeof plain) == 0, "align %zu", align);
    }
}

Test(ws_frame, close_payloads, .timeout = 5)
{
    unsigned code;
    slice_t reason;
    const char *err = NULL;
    cr_assert_eq(ws_close_payload_parse(slice_make("", 0), &code, &reason, &err), 0);
    cr_assert_eq(code, WS_CLOSE_NO_STATUS);
    cr_assert_eq(ws_close_payload_parse(slice_make("\x03", 1), &code, &reason, &err), 1002);
    cr_assert_eq(ws_close_payload_parse(slice_make("\x03\xe8ok", 4), &code, &reason, &err), 0);
    cr_assert(code == 1000 && slice_eq_cstr(reason, "ok"));
    const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        cr_assert_eq(ws_close_payload_parse(slice_make(p, 2), &code, &reason, &err), 1002,
                     "code %u", bad[i]);
    }
    const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                             4000, 4999};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(ws_close_code_is_valid(good[i]));
    cr_assert_eq(ws_close_payload_parse(slice_make("\x03\xe8\xff", 3), &code, &reason, &err),
                 1002);
    uint8_t out[WS_CONTROL_MAX];
    cr_assert_eq(ws_close_payload_encode(out, 0, SLICE_LIT("x")), 0);
    size_t n = ws_close_payload_encode(out, 1001, SLICE_LIT("bye"));
    cr_assert(n == 5 && memcmp(out, "\x03\xe9" "bye", 5) == 0);
    /* a long reason is cut to 123 bytes at a character boundary */
    char longr[200];
    memset(longr, 'a', sizeof longr);
    memcpy(longr + 122, "\xe2\x82\xac", 3); /* '€' straddles the cut */
    n = ws_close_payload_encode(out, 1000, slice_make(longr, sizeof longr));
    cr_assert_eq(n, 2 + 122);
    cr_assert_eq(ws_close_payload_parse(slice_make(out, n), &code, &reason, &err), 0);
}
