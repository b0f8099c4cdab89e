/*
 * Unit tests for src/base/msgpack. Every expected byte string below was produced by the
 * real notepack.io 3.0.1 (node_modules, through @socket.io/redis-adapter) with
 * `node -e "require('notepack.io').encode(v).toString('hex')"`, and every expected JSON
 * text by `JSON.stringify(require('notepack.io').decode(Buffer.from(hex,'hex')))`.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/msgpack.h"
#include "base/msgpack_json.h"

/* Hex (with optional spaces) -> bytes in `out`; returns the length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p && p[1];) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        cr_assert_eq(sscanf(p, "%2x", &v), 1);
        cr_assert_lt(n, cap);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

static char *tohex(slice_t s, char *out)
{
    for (size_t i = 0; i < s.len; i++)
        sprintf(out + 2 * i, "%02x", s.ptr[i]);
    out[2 * s.len] = 0;
    return out;
}

static void expect_hex(buf_t *b, const char *hex)
{
    static char got[8192];
    uint8_t want[4096];
    size_t n = unhex(hex, want, sizeof want);
    tohex(buf_slice(b), got);
    cr_assert(b->len == n && memcmp(buf_data(b), want, n) == 0, "got %s want %s", got, hex);
}

Test(msgpack, integers_match_notepack, .timeout = 5)
{
    static const struct {
        int64_t v;
        const char *hex;
    } t[] = {
        {0, "00"},
        {127, "7f"},
        {128, "cc80"},
        {255, "ccff"},
        {256, "cd0100"},
        {65535, "cdffff"},
        {65536, "ce00010000"},
        {4294967295LL, "ceffffffff"},
        {4294967296LL, "cf0000000100000000"},
        {9007199254740991LL, "cf001fffffffffffff"},
        {-32, "e0"},
        {-33, "d0df"},
        {-128, "d080"},
        {-129, "d1ff7f"},
        {-32768, "d18000"},
        {-32769, "d2ffff7fff"},
        {-2147483648LL, "d280000000"},
        {-2147483649LL, "d3ffffffff7fffffff"},
        {-9007199254740991LL, "d3ffe0000000000001"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t b = BUF_INIT;
        msgpack_append_int(&b, t[i].v);
        expect_hex(&b, t[i].hex);
        buf_clear(&b);
        msgpack_append_number(&b, (double)t[i].v);
        expect_hex(&b, t[i].hex);
        buf_dispose(&b);
    }
}

Test(msgpack, js_numbers_match_notepack, .timeout = 5)
{
    static const struct {
        double v;
        const char *hex;
    } t[] = {
        {-0.0, "00"},
        {1.5, "cb3ff8000000000000"},
        {0.1, "cb3fb999999999999a"},
        {-0.5, "cbbfe0000000000000"},
        {1e-7, "cb3e7ad7f29abcaf48"},
        {5e-324, "cb0000000000000001"},
        {NAN, "cb7ff8000000000000"},
        {INFINITY, "cb7ff0000000000000"},
        {9007199254740992.0, "cf0020000000000000"},
        {9007199254740994.0, "cf0020000000000002"},
        {9223372036854775808.0, "cf8000000000000000"},
        {-9223372036854775808.0, "d38000000000000000"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t b = BUF_INIT;
        msgpack_append_number(&b, t[i].v);
        expect_hex(&b, t[i].hex);
        buf_dispose(&b);
    }
}

/* notepack wraps integral values beyond 64 bits (1e21 -> cf35c9adc5dea00000, a different
 * number); we keep the value as a float64 instead. */
Test(msgpack, out_of_range_integers_stay_exact, .timeout = 5)
{
    buf_t b = BUF_INIT;
    msgpack_append_number(&b, 1e21);
    expect_hex(&b, "cb 444b1ae4d6e2ef50");
    buf_clear(&b);
    msgpack_append_number(&b, -9223372036854779904.0);
    cr_assert_eq(buf_data(&b)[0], 0xcb);
    buf_dispose(&b);
}

Test(msgpack, headers_match_notepack, .timeout = 5)
{
    static const struct {
        int kind; /* 0 str, 1 bin, 2 array, 3 map */
        size_t n;
        const char *hex;
    } t[] = {
        {0, 31, "bf"},        {0, 32, "d920"},          {0, 255, "d9ff"}, {0, 256, "da0100"},
        {0, 65535, "daffff"}, {0, 65536, "db00010000"}, {1, 255, "c4ff"}, {1, 256, "c50100"},
        {1, 65535, "c5ffff"}, {1, 65536, "c600010000"}, {2, 15, "9f"},    {2, 16, "dc0010"},
        {2, 65535, "dcffff"}, {2, 65536, "dd00010000"}, {3, 15, "8f"},    {3, 16, "de0010"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t b = BUF_INIT;
        switch (t[i].kind) {
        case 0:
            msgpack_append_str_header(&b, t[i].n);
            break;
        case 1:
            msgpack_append_bin_header(&b, t[i].n);
            break;
        case 2:
            msgpack_append_array_header(&b, (uint32_t)t[i].n);
            break;
        default:
            msgpack_append_map_header(&b, (uint32_t)t[i].n);
            break;
        }
        expect_hex(&b, t[i].hex);
        buf_dispose(&b);
    }
}

Test(msgpack, scalars_and_ext, .timeout = 5)
{
    buf_t b = BUF_INIT;
    msgpack_append_nil(&b);
    msgpack_append_bool(&b, true);
    msgpack_append_bool(&b, false);
    msgpack_append_str(&b, SLICE_LIT("\xc3\xa9"));
    msgpack_append_bin(&b, SLICE_LIT("\x01\x02\x03"));
    msgpack_append_undefined(&b);
    msgpack_append_float32(&b, 1.5f);
    msgpack_append_ext(&b, 5, SLICE_LIT("\x01\x02"));
    msgpack_append_ext(&b, 10, SLICE_LIT("\x01\x02\x03"));
    expect_hex(&b, "c0 c3 c2 a2c3a9 c403010203 d40000 ca3fc00000 d5050102 c7030a010203");
    buf_dispose(&b);
}

Test(msgpack, from_json_matches_notepack_nested_object, .timeout = 5)
{
    buf_t b = BUF_INIT;
    const char *err = NULL;
    /* notepack.encode({a:1,b:[true,false,null],c:{d:"é",e:-1.5}}) */
    cr_assert_eq(
        msgpack_json_to_mp(SLICE_LIT("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"\\u00e9\","
                                    "\"e\":-1.5}}"),
                          &b, NULL, 0, &err),
        0, "%s", err);
    expect_hex(&b, "83a16101a16293c3c2c0a16382a164a2c3a9a165cbbff8000000000000");
    buf_dispose(&b);
}

Test(msgpack, from_json_placeholders_become_bins, .timeout = 5)
{
    buf_t b = BUF_INIT;
    const char *err = NULL;
    slice_t bins[2] = {SLICE_LIT("\x01\x02\x03"), SLICE_LIT("\xff")};
    /* what notepack.encode(["ev", Buffer.from([1,2,3]), {x: Buffer.from([255])}]) gives */
    slice_t json = SLICE_LIT("[\"ev\",{\"_placeholder\":true,\"num\":0},"
                             "{\"x\":{\"num\":1,\"_placeholder\":true}}]");
    cr_assert_eq(msgpack_json_to_mp(json, &b, bins, 2, &err), 0, "%s", err);
    expect_hex(&b, "93a26576c40301020381a178c401ff");
    buf_clear(&b);
    /* without bins a placeholder is an ordinary object */
    cr_assert_eq(
        msgpack_json_to_mp(SLICE_LIT("{\"_placeholder\":true,\"num\":0}"), &b, NULL, 0, &err), 0);
    expect_hex(&b, "82ac5f706c616365686f6c646572c3a36e756d00");
    buf_clear(&b);
    /* num out of range, or not an integer: socket.io-parser's "illegal attachments" */
    cr_assert_eq(
        msgpack_json_to_mp(SLICE_LIT("{\"_placeholder\":true,\"num\":2}"), &b, bins, 2, &err), -1);
    cr_assert_str_eq(err, "msgpack: illegal attachments");
    cr_assert_eq(
        msgpack_json_to_mp(SLICE_LIT("{\"_placeholder\":true,\"num\":0.5}"), &b, bins, 2, &err), -1);
    /* `_placeholder` must be exactly true */
    buf_clear(&b);
    cr_assert_eq(msgpack_json_to_mp(SLICE_LIT("{\"_placeholder\":1,\"num\":0}"), &b, bins, 2, &err),
                 0);
    cr_assert_eq(buf_data(&b)[0], 0x82);
    buf_dispose(&b);
}

Test(msgpack, from_json_list_and_count, .timeout = 5)
{
    buf_t b = BUF_INIT;
    uint32_t n = 99;
    const char *err = NULL;
    cr_assert_eq(msgpack_json_list_count(SLICE_LIT(" 1 , \"a\" ,[2]"), &n, &err), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(msgpack_json_list_count(SLICE_LIT("  "), &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(msgpack_json_list_count(SLICE_LIT("1,"), &n, &err), -1);
    cr_assert_eq(msgpack_json_list_count(SLICE_LIT("1 2"), &n, &err), -1);
    cr_assert_eq(msgpack_json_list_to_mp(SLICE_LIT("1,\"a\",[2]"), &b, NULL, 0, &n, &err), 0);
    cr_assert_eq(n, 3);
    expect_hex(&b, "01 a161 9102");
    buf_dispose(&b);
}

Test(msgpack, from_json_long_string_headers, .timeout = 5)
{
    buf_t b = BUF_INIT;
    char json[400];
    json[0] = '"';
    memset(json + 1, 'x', 300);
    json[301] = '"';
    cr_assert_eq(msgpack_json_to_mp(slice_make(json, 302), &b, NULL, 0, NULL), 0);
    cr_assert_eq(b.len, 303);
    cr_assert_eq(buf_data(&b)[0], 0xda);
    cr_assert_eq(buf_data(&b)[1], 0x01);
    cr_assert_eq(buf_data(&b)[2], 0x2c);
    cr_assert_eq(buf_data(&b)[302], 'x');
    buf_dispose(&b);
}

/* Decoding notepack output back to JSON, as JSON.stringify(notepack.decode(x)) in Node. */
Test(msgpack, to_json_matches_node, .timeout = 5)
{
    static const struct {
        const char *hex, *json;
    } t[] = {
        {"83a16101a16293c3c2c0a16382a164a2c3a9a165cbbff8000000000000",
         "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"\xc3\xa9\",\"e\":-1.5}}"},
        {"d6ff00000000", "\"1970-01-01T00:00:00.000Z\""},
        {"d7ff1d5353006553f100", "\"2023-11-14T22:13:20.123Z\""},
        {"c70cff000f424000000000ffffffff", "\"2106-02-07T06:28:15.001Z\""},
        {"d7000000018bcfe56800", "\"2023-11-14T22:13:20.000Z\""},
        {"d7ff00000001000000ff", "\"2106-02-07T06:32:31.000Z\""},
        {"c7030a010203", "[10,{\"type\":\"Buffer\",\"data\":[1,2,3]}]"},
        {"d5050102", "[5,{\"type\":\"Buffer\",\"data\":[1,2]}]"},
        {"c70300010203", "{}"},
        {"c40201ff", "{\"type\":\"Buffer\",\"data\":[1,255]}"},
        {"82a16101a162d40000", "{\"a\":1}"},
        {"82a161d40000a162c0", "{\"b\":null}"},
        {"93d40000c0c3", "[null,null,true]"},
        {"81a3e282ac01", "{\"\xe2\x82\xac\":1}"},
        {"82c0c3c3c2", "{\"null\":true,\"true\":false}"},
        {"81cb3ff8000000000000c0", "{\"1.5\":null}"},
        {"91a3ff41fe", "[\"\xef\xbf\xbd"
                       "A\xef\xbf\xbd\"]"},
        {"cf8000000000000000", "9223372036854776000"},
        {"d38000000000000000", "-9223372036854776000"},
        {"cb7ff8000000000000", "null"},
        {"ca3fc00000", "1.5"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t in[256];
        size_t n = unhex(t[i].hex, in, sizeof in);
        buf_t b = BUF_INIT;
        const char *err = NULL;
        cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), 0, "%s: %s", t[i].hex, err);
        cr_assert_eq(msgpack_json_from_mp(slice_make(in, n), &b, NULL, &err), 0, "%s: %s", t[i].hex,
                     err);
        buf_append_byte(&b, 0);
        cr_assert_str_eq((char *)buf_data(&b), t[i].json, "row %zu (%s)", i, t[i].hex);
        buf_dispose(&b);
    }
}

Test(msgpack, to_json_dates_like_js, .timeout = 5)
{
    /* notepack.encode(new Date(ms)) for ms = -62198755200000, 253402300800000, -999 (years
     * -1 and 10000 use the extended form, as Date#toISOString does), and a timestamp96
     * beyond the Date range (notepack decodes it to an Invalid Date: JSON null) */
    static const struct {
        const char *hex, *json;
    } t[] = {
        {"c70cff 00000000 fffffff1 84aa5080", "\"-000001-01-01T00:00:00.000Z\""},
        {"c70cff 00000000 0000003a fff44180", "\"+010000-01-01T00:00:00.000Z\""},
        {"c70cff 000f4240 ffffffff ffffffff", "\"1969-12-31T23:59:59.001Z\""},
        {"c70cff 00000000 7fffffff ffffffff", "null"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t in[64];
        size_t n = unhex(t[i].hex, in, sizeof in);
        buf_t b = BUF_INIT;
        cr_assert_eq(msgpack_json_from_mp(slice_make(in, n), &b, NULL, NULL), 0);
        buf_append_byte(&b, 0);
        cr_assert_str_eq((char *)buf_data(&b), t[i].json);
        buf_dispose(&b);
    }
}

Test(msgpack, to_json_collects_binaries_as_placeholders, .timeout = 5)
{
    uint8_t in[64];
    /* ["ev", Buffer[1,2,3], {x: Buffer[255]}, ext0 ArrayBuffer [7]] */
    size_t n = unhex("94 a26576 c403010203 81a178c401ff c7010007", in, sizeof in);
    slice_t bins[2];
    msgpack_bins_t mb = {bins, 2, 0};
    buf_t b = BUF_INIT;
    const char *err = NULL;
    cr_assert_eq(msgpack_json_from_mp(slice_make(in, n), &b, &mb, &err), -1, "3 binaries, room for 2");
    cr_assert_str_eq(err, "msgpack: too many binaries");
    slice_t bins3[3];
    msgpack_bins_t mb3 = {bins3, 3, 0};
    buf_clear(&b);
    size_t count = 0;
    cr_assert_eq(msgpack_json_list_from_mp(slice_make(in, n), 1, &b, &mb3, &count, &err), 0);
    cr_assert_eq(count, 3);
    buf_append_byte(&b, 0);
    cr_assert_str_eq((char *)buf_data(&b),
                     "{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":"
                     "true,\"num\":1}},{\"_placeholder\":true,\"num\":2}");
    cr_assert_eq(mb3.n, 3);
    cr_assert(slice_eq(bins3[0], SLICE_LIT("\x01\x02\x03")));
    cr_assert(slice_eq(bins3[1], SLICE_LIT("\xff")));
    cr_assert(slice_eq(bins3[2], SLICE_LIT("\x07")));
    cr_assert_eq(bins3[0].ptr, in + 6, "binaries point into the input");
    buf_dispose(&b);
}

Test(msgpack, reader_reports_types_and_normalises_ints, .timeout = 5)
{
    uint8_t in[64];
    size_t n = unhex("d0 05 d1 ff 7f cc 80 e0 d3 ff ff ff ff ff ff ff fe", in, sizeof in);
    slice_t s = slice_make(in, n);
    size_t p = 0;
    msgpack_value_t v;
    cr_assert_eq(msgpack_read(s, &p, &v, NULL), 0);
    cr_assert_eq(v.type, MSGPACK_UINT, "int8 holding 5 is a non-negative int");
    cr_assert_eq(v.v.u, 5);
    cr_assert_eq(msgpack_read(s, &p, &v, NULL), 0);
    cr_assert_eq(v.type, MSGPACK_INT);
    cr_assert_eq(v.v.i, -129);
    cr_assert_eq(msgpack_read(s, &p, &v, NULL), 0);
    cr_assert_eq(v.v.u, 128);
    cr_assert_eq(msgpack_read(s, &p, &v, NULL), 0);
    cr_assert_eq(v.v.i, -32);
    cr_assert_eq(msgpack_read(s, &p, &v, NULL), 0);
    cr_assert_eq(v.v.i, -2);
    cr_assert_eq(p, n);
    int64_t i64;
    msgpack_value_t f = {.type = MSGPACK_FLOAT, .v.f = 2.0};
    cr_assert(msgpack_to_i64(&f, &i64) && i64 == 2);
    f.v.f = 2.5;
    cr_assert(!msgpack_to_i64(&f, &i64));
    msgpack_value_t u = {.type = MSGPACK_UINT, .v.u = UINT64_MAX};
    cr_assert(!msgpack_to_i64(&u, &i64));
}

Test(msgpack, every_truncation_is_an_error, .timeout = 10)
{
    uint8_t in[128];
    size_t n =
        unhex("94 a26576 c403010203 83a16101a16293c3c2c0a16382a164a2c3a9a165cbbff8000000000000"
              " d7ff1d5353006553f100",
              in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, NULL), 0);
    for (size_t k = 0; k < n; k++) {
        const char *err = NULL;
        cr_assert_eq(msgpack_validate(slice_make(in, k), NULL, &err), -1, "prefix %zu accepted", k);
        buf_t b = BUF_INIT;
        cr_assert_eq(msgpack_json_from_mp(slice_make(in, k), &b, NULL, &err), -1, "prefix %zu", k);
        buf_dispose(&b);
    }
}

Test(msgpack, hostile_headers_are_refused, .timeout = 5)
{
    const char *err = NULL;
    uint8_t in[80];
    /* array32 / map32 claiming 4 billion elements in a 5-byte message */
    size_t n = unhex("ddffffffff", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: container count exceeds input");
    n = unhex("df80000000 00", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    /* str32 / bin32 / ext32 lengths past the end */
    n = unhex("dbffffffff41", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: unexpected end");
    n = unhex("c9ffffffff0041", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    /* the reserved byte, and trailing bytes */
    n = unhex("c1", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: reserved byte 0xc1");
    n = unhex("c0c0", in, sizeof in);
    cr_assert_eq(msgpack_validate(slice_make(in, n), NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: trailing bytes");
    cr_assert_eq(msgpack_validate(slice_make(in, 0), NULL, &err), -1);
}

Test(msgpack, depth_is_capped, .timeout = 5)
{
    uint8_t in[MSGPACK_MAX_DEPTH + 2];
    const char *err = NULL;
    memset(in, 0x91, sizeof in);      /* [[[[...]]]] */
    in[MSGPACK_MAX_DEPTH - 1] = 0x90; /* 64 arrays deep, innermost empty */
    cr_assert_eq(msgpack_validate(slice_make(in, MSGPACK_MAX_DEPTH), NULL, &err), 0, "%s", err);
    buf_t b = BUF_INIT;
    cr_assert_eq(msgpack_json_from_mp(slice_make(in, MSGPACK_MAX_DEPTH), &b, NULL, &err), 0);
    cr_assert_eq(b.len, 2 * MSGPACK_MAX_DEPTH);
    in[MSGPACK_MAX_DEPTH - 1] = 0x91;
    in[MSGPACK_MAX_DEPTH] = 0x90; /* 65 deep */
    cr_assert_eq(msgpack_validate(slice_make(in, MSGPACK_MAX_DEPTH + 1), NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: nesting too deep");
    buf_clear(&b);
    cr_assert_eq(msgpack_json_from_mp(slice_make(in, MSGPACK_MAX_DEPTH + 1), &b, NULL, &err), -1);
    buf_dispose(&b);
}

/* A binary or extension renders as one or more JSON containers ({"type":"Buffer","data":
 * [...]}, [type, Buffer]); deep inside arrays they must still leave JSON our reader accepts. */
Test(msgpack, binary_rendering_counts_toward_depth, .timeout = 5)
{
    uint8_t in[MSGPACK_MAX_DEPTH + 8];
    const char *err = NULL;
    buf_t b = BUF_INIT;
    size_t open = MSGPACK_MAX_DEPTH - 2; /* arrays around the value */
    memset(in, 0x91, open);
    memcpy(in + open, "\xc4\x01\x07", 3); /* bin8 [7]: object + data array = 64 deep */
    cr_assert_eq(msgpack_json_from_mp(slice_make(in, open + 3), &b, NULL, &err), 0, "%s", err);
    cr_assert_eq(json_validate(buf_slice(&b), NULL, &err), 0, "%s", err);
    buf_clear(&b);
    memcpy(in + open, "\xd4\xf9\x00", 3); /* fixext1 type -7: [-7, Buffer] = 65 deep */
    cr_assert_eq(msgpack_validate(slice_make(in, open + 3), NULL, &err), 0, "%s", err);
    cr_assert_eq(msgpack_json_from_mp(slice_make(in, open + 3), &b, NULL, &err), -1);
    cr_assert_str_eq(err, "msgpack: nesting too deep");
    buf_clear(&b);
    /* the same extension at the top level renders fine */
    cr_assert_eq(msgpack_json_from_mp(slice_make(in + open, 3), &b, NULL, &err), 0, "%s", err);
    cr_assert(slice_eq(buf_slice(&b), slice_from_cstr("[-7,{\"type\":\"Buffer\",\"data\":[0]}]")));
    buf_dispose(&b);
}

Test(msgpack, map_get_and_iter, .timeout = 5)
{
    uint8_t in[64];
    /* {type:2, nsp:"/", type:7} : the last duplicate wins, as in a JS object */
    size_t n = unhex("83 a474797065 02 a36e7370 a12f a474797065 07", in, sizeof in);
    msgpack_value_t v;
    cr_assert_eq(msgpack_map_get(slice_make(in, n), SLICE_LIT("type"), &v, NULL), 1);
    cr_assert_eq(v.v.u, 7);
    cr_assert_eq(msgpack_map_get(slice_make(in, n), SLICE_LIT("nsp"), &v, NULL), 1);
    cr_assert(msgpack_str_eq(&v, SLICE_LIT("/")));
    cr_assert_eq(msgpack_map_get(slice_make(in, n), SLICE_LIT("data"), &v, NULL), 0);
    cr_assert_eq(msgpack_map_get(SLICE_LIT("\x91\x01"), SLICE_LIT("x"), &v, NULL), -1);
    msgpack_iter_t it;
    msgpack_value_t k, val;
    int pairs = 0;
    cr_assert_eq(msgpack_iter_begin(&it, slice_make(in, n), NULL), 0);
    cr_assert(msgpack_iter_is_map(&it));
    while (msgpack_iter_next(&it, &k, &val, NULL) == 1)
        pairs++;
    cr_assert_eq(pairs, 3);
}

/* JSON -> msgpack -> JSON gives the same text back for what our writer produces. */
Test(msgpack, json_roundtrip, .timeout = 5)
{
    static const char *t[] = {
        "{\"a\":[1,-1,1.5,\"x\",null,true,false,{}],\"b\":\"\xe2\x82\xac\\n\"}",
        "[9223372036854776000,-9223372036854776000,1e+21,5e-324,0]",
        "[[[[[]]]],{\"\":{\"\":\"\"}}]",
        "{\"\\\"q\":1,\"_placeholder\":true,\"num\":0}",
        "\"plain\"",
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t mp = BUF_INIT, js = BUF_INIT;
        const char *err = NULL;
        cr_assert_eq(msgpack_json_to_mp(slice_from_cstr(t[i]), &mp, NULL, 0, &err), 0, "%s", err);
        cr_assert_eq(msgpack_validate(buf_slice(&mp), NULL, &err), 0, "%s", err);
        cr_assert_eq(msgpack_json_from_mp(buf_slice(&mp), &js, NULL, &err), 0, "%s", err);
        buf_append_byte(&js, 0);
        cr_assert_str_eq((char *)buf_data(&js), t[i]);
        buf_dispose(&mp);
        buf_dispose(&js);
    }
}
