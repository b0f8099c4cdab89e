/*
 * Unit tests for src/yjs/yjs_codec: lib0 varUint/varInt, strings and strict UTF-8,
 * UTF-16 lengths and splits, `any` values, errors. Expected bytes are the tables of
 * shared/spec/yjs-update-format.md section 1 (checked against lib0/yjs).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "yjs/yjs_codec.h"

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static yjs_cursor_t cur(const uint8_t *p, size_t n, yjs_error_t *err)
{
    yjs_error_clear(err);
    return yjs_cursor_make(p, n, err);
}

typedef struct {
    uint64_t v;
    const char *bytes;
    size_t n;
} vu_case_t;

Test(yjs_codec, varuint_table_round_trips, .timeout = 10)
{
    static const vu_case_t cases[] = {
        {0, "\x00", 1},
        {127, "\x7f", 1},
        {128, "\x80\x01", 2},
        {300, "\xac\x02", 2},
        {16384, "\x80\x80\x01", 3},
        {4294967295u, "\xff\xff\xff\xff\x0f", 5},
        {YJS_MAX_SAFE_INT, "\xff\xff\xff\xff\xff\xff\xff\x0f", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        yjs_write_varuint(&b, cases[i].v);
        cr_assert_eq(b.len, cases[i].n, "case %zu", i);
        cr_assert_eq(memcmp(buf_data(&b), cases[i].bytes, b.len), 0, "case %zu", i);
        cr_assert_eq(yjs_varuint_size(cases[i].v), cases[i].n);
        yjs_error_t err;
        yjs_cursor_t c = cur(buf_data(&b), b.len, &err);
        uint64_t v = 1;
        cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_OK);
        cr_assert_eq(v, cases[i].v);
        cr_assert_eq(yjs_cursor_left(&c), 0);
        buf_dispose(&b);
    }
}

Test(yjs_codec, varuint_rejects_truncated_big_and_long, .timeout = 10)
{
    yjs_error_t err;
    uint64_t v;
    yjs_cursor_t c = cur(B("\x80\x80"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "clock"), YJS_E_TRUNCATED);
    cr_assert(strstr(err.msg, "byte 0") && strstr(err.msg, "clock"), "%s", err.msg);

    c = cur(B(""), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_E_TRUNCATED);

    /* 2^53 exactly: one above the JS safe range */
    c = cur(B("\x80\x80\x80\x80\x80\x80\x80\x10"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_E_VARINT);
    c = cur(B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_E_VARINT);

    /* non-minimal forms are accepted up to 10 bytes, as lib0 does */
    c = cur(B("\x80\x00"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_OK);
    cr_assert_eq(v, 0);
    c = cur(B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_OK);
    c = cur(B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), &err);
    cr_assert_eq(yjs_read_varuint(&c, &v, "x"), YJS_E_VARINT);
    cr_assert(strstr(err.msg, "longer than 10"), "%s", err.msg);
}

Test(yjs_codec, varint_sign_magnitude_and_negative_zero, .timeout = 10)
{
    static const struct {
        const char *bytes;
        size_t n;
        uint64_t mag;
        bool neg;
    } cases[] = {
        {"\x00", 1, 0, false},         {"\x40", 1, 0, true},
        {"\x01", 1, 1, false},         {"\x41", 1, 1, true},
        {"\x3f", 1, 63, false},        {"\x7f", 1, 63, true},
        {"\x80\x01", 2, 64, false},    {"\xc0\x01", 2, 64, true},
        {"\xa4\x01", 2, 100, false},   {"\xbf\xff\xff\xff\x0f", 5, 2147483647u, false},
        {"\xff\xff\xff\xff\x0f", 5, 2147483647u, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yjs_error_t err;
        yjs_cursor_t c = cur((const uint8_t *)cases[i].bytes, cases[i].n, &err);
        uint64_t m = 99;
        bool neg = !cases[i].neg;
        cr_assert_eq(yjs_read_varint(&c, &m, &neg, "n"), YJS_OK, "case %zu", i);
        cr_assert_eq(m, cases[i].mag, "case %zu", i);
        cr_assert_eq(neg, cases[i].neg, "case %zu", i);
        cr_assert_eq(yjs_cursor_left(&c), 0);
    }
    yjs_error_t err;
    yjs_cursor_t c = cur(B("\xc0"), &err);
    cr_assert_eq(yjs_read_varint(&c, NULL, NULL, "n"), YJS_E_TRUNCATED);
}

Test(yjs_codec, strings_validate_utf8_strictly, .timeout = 10)
{
    yjs_error_t err;
    slice_t s;
    uint64_t units;
    /* 'é😀' as TextEncoder writes it: 6 bytes, 3 UTF-16 units */
    yjs_cursor_t c = cur(B("\x06\xc3\xa9\xf0\x9f\x98\x80"), &err);
    cr_assert_eq(yjs_read_string(&c, &s, &units, "s"), YJS_OK);
    cr_assert_eq(s.len, 6);
    cr_assert_eq(units, 3);
    /* a leading BOM is kept */
    c = cur(B("\x03\xef\xbb\xbf"), &err);
    cr_assert_eq(yjs_read_string(&c, &s, &units, "s"), YJS_OK);
    cr_assert_eq(units, 1);

    static const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"\x02\xc0\x80", 3},         /* overlong NUL */
        {"\x03\xe0\x80\x80", 4},     /* overlong 3-byte */
        {"\x03\xed\xa0\x80", 4},     /* encoded surrogate U+D800 */
        {"\x04\xf4\x90\x80\x80", 5}, /* above U+10FFFF */
        {"\x04\xf0\x80\x80\x80", 5}, /* overlong 4-byte */
        {"\x01\x80", 2},             /* stray continuation */
        {"\x02\xe4\xb8", 3},         /* sequence cut by the length */
        {"\x01\xff", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = cur((const uint8_t *)bad[i].b, bad[i].n, &err);
        cr_assert_eq(yjs_read_string(&c, &s, NULL, "text"), YJS_E_UTF8, "case %zu", i);
        cr_assert(strstr(err.msg, "invalid UTF-8 in text"), "%s", err.msg);
        cr_assert_eq(err.offset, 1, "offset of the bad sequence, case %zu", i);
    }
    c = cur(B("\x05\x61\x62"), &err);
    cr_assert_eq(yjs_read_string(&c, &s, NULL, "s"), YJS_E_LENGTH);
    cr_assert(strstr(err.msg, "past the end"), "%s", err.msg);
}

Test(yjs_codec, utf16_split_repairs_surrogate_pairs, .timeout = 10)
{
    slice_t s = SLICE_LIT("a\xf0\x9f\x98\x80" "b"); /* "a😀b": 4 units */
    cr_assert_eq(yjs_utf16_len(s), 4);
    slice_t l, r;
    bool mid;
    yjs_utf16_split(s, 1, &l, &r, &mid);
    cr_assert(!mid);
    cr_assert_eq(l.len, 1);
    cr_assert_eq(r.len, 5);
    yjs_utf16_split(s, 2, &l, &r, &mid); /* between the halves of 😀 */
    cr_assert(mid);
    cr_assert_eq(l.len, 1);
    cr_assert_eq(r.len, 1);
    cr_assert_eq(r.ptr[0], 'b');
    yjs_utf16_split(s, 3, &l, &r, &mid);
    cr_assert(!mid);
    cr_assert_eq(l.len, 5);
    cr_assert_eq(r.len, 1);
    yjs_utf16_split(s, 4, &l, &r, &mid);
    cr_assert_eq(r.len, 0);
    yjs_utf16_split(s, 0, &l, &r, &mid);
    cr_assert_eq(l.len, 0);
    cr_assert_eq(r.len, 6);
    /* 3-byte characters are one unit */
    slice_t cjk = SLICE_LIT("\xe4\xb8\xad\xe6\x96\x87");
    yjs_utf16_split(cjk, 1, &l, &r, &mid);
    cr_assert_eq(l.len, 3);
    cr_assert(!mid);
}

typedef struct {
    const char *bytes;
    size_t n;
    const char *json;
} any_case_t;

Test(yjs_codec, any_values_from_the_spec_table, .timeout = 10)
{
    static const any_case_t cases[] = {
        {"\x7d\x01", 2, "1"},
        {"\x7d\x41", 2, "-1"},
        {"\x7d\x40", 2, "-0"},
        {"\x7c\x3f\x00\x00\x00", 5, "0.5"},
        {"\x7b\x3f\xb9\x99\x99\x99\x99\x99\x9a", 9, "0.10000000000000001"},
        {"\x7d\xbf\xff\xff\xff\x0f", 6, "2147483647"},
        {"\x7c\x4f\x00\x00\x00", 5, "2147483648"},
        {"\x7c\xcf\x00\x00\x00", 5, "-2147483648"},
        {"\x7c\x7f\x80\x00\x00", 5, "Infinity"},
        {"\x77\x02\x68\x69", 4, "\"hi\""},
        {"\x78", 1, "true"},
        {"\x79", 1, "false"},
        {"\x7e", 1, "null"},
        {"\x7f", 1, "undefined"},
        {"\x75\x02\x7d\x01\x77\x01\x61", 7, "[1,\"a\"]"},
        {"\x76\x01\x01\x61\x7d\x01", 6, "{\"a\":1}"},
        {"\x76\x02\x01\x31\x7d\x02\x01\x62\x7d\x01", 10, "{\"1\":2,\"b\":1}"},
        {"\x74\x02\x01\x02", 4, "Uint8Array[1,2]"},
        {"\x7a\x00\x00\x00\x00\x00\x00\x00\x01", 9, "1n"},
        {"\x7a\xff\xff\xff\xff\xff\xff\xff\xfe", 9, "-2n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yjs_error_t err;
        yjs_cursor_t c = cur((const uint8_t *)cases[i].bytes, cases[i].n, &err);
        yjs_any_t v;
        cr_assert_eq(yjs_any_next(&c, &v), YJS_OK, "case %zu: %s", i, err.msg);
        cr_assert_eq(v.tag, (uint8_t)cases[i].bytes[0]);
        cr_assert_eq(v.raw.len, cases[i].n, "case %zu", i);
        cr_assert_eq(yjs_cursor_left(&c), 0);
        buf_t j = BUF_INIT;
        cr_assert_eq(yjs_any_to_json(v.raw, &j, &err), YJS_OK);
        buf_append_byte(&j, 0);
        cr_assert_str_eq((const char *)buf_data(&j), cases[i].json, "case %zu", i);
        buf_dispose(&j);
    }
}

Test(yjs_codec, any_rejects_unknown_tags_truncation_and_deep_nesting, .timeout = 10)
{
    yjs_error_t err;
    yjs_cursor_t c = cur(B("\x73"), &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_E_ANY);
    cr_assert(strstr(err.msg, "unknown any tag 115"), "%s", err.msg);
    c = cur(B("\x75\x02\x7d\x01\x10"), &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_E_ANY);
    cr_assert_eq(err.offset, 4);
    c = cur(B("\x7b\x00\x00"), &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_E_LENGTH);
    /* an absurd element count fails before anything is walked */
    c = cur(B("\x75\xff\xff\xff\xff\x0f\x7e"), &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_E_LENGTH);

    size_t depth = YJS_MAX_ANY_DEPTH + 5;
    uint8_t *deep = malloc(2 * depth + 1);
    for (size_t i = 0; i < depth; i++) {
        deep[2 * i] = 0x75;
        deep[2 * i + 1] = 0x01;
    }
    deep[2 * depth] = 0x7e;
    c = cur(deep, 2 * depth + 1, &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_E_ANY);
    cr_assert(strstr(err.msg, "nested deeper"), "%s", err.msg);
    /* just under the cap is fine */
    size_t ok = YJS_MAX_ANY_DEPTH;
    c = cur(deep + 2 * (depth - ok), 2 * ok + 1, &err);
    cr_assert_eq(yjs_read_any(&c, NULL, "v"), YJS_OK, "%s", err.msg);
    free(deep);
}

Test(yjs_codec, first_error_wins_and_names_are_stable, .timeout = 10)
{
    yjs_error_t err;
    yjs_error_clear(&err);
    cr_assert_eq(yjs_error_set(&err, YJS_E_UTF8, 7, "first %d", 1), YJS_E_UTF8);
    cr_assert_eq(yjs_error_set(&err, YJS_E_ANY, 9, "second"), YJS_E_ANY);
    cr_assert_eq(err.code, YJS_E_UTF8);
    cr_assert_eq(err.offset, 7);
    cr_assert_str_eq(err.msg, "byte 7: first 1");
    cr_assert_eq(yjs_error_set(NULL, YJS_E_ANY, 0, "x"), YJS_E_ANY);
    cr_assert_str_eq(yjs_status_name(YJS_E_TRAILING), "trailing");
    cr_assert_str_eq(yjs_status_name(YJS_OK), "ok");
    yjs_error_clear(&err);
    cr_assert_eq(err.code, YJS_OK);
    cr_assert_str_eq(err.msg, "");
}
