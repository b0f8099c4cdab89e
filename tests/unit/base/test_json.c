/* Unit tests for src/base/json: the scanner (validity as V8's JSON.parse decides it),
 * iteration, string decoding, numbers, and the JSON.stringify-exact writer. Expected
 * outputs were produced with node 's JSON.parse / JSON.stringify and pasted in. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/json.h"

static slice_t S(const char *s)
{
    return slice_from_cstr(s);
}

typedef struct {
    const char *text;
    size_t len; /* 0: strlen */
    bool valid; /* what JSON.parse says */
} vcase_t;

/* Validity per `node -e 'JSON.parse(x)'`. */
static const vcase_t VALIDITY[] = {
    {"0", 0, true},         {"-0", 0, true},          {"01", 0, false},
    {"-", 0, false},        {"1.", 0, false},         {".5", 0, false},
    {"1.5", 0, true},       {"1e5", 0, true},         {"1E+5", 0, true},
    {"1e-5", 0, true},      {"1e", 0, false},         {"1e+", 0, false},
    {"+1", 0, false},       {"-01", 0, false},        {"0.0e0", 0, true},
    {"true", 0, true},      {"tru", 0, false},        {"false", 0, true},
    {"null", 0, true},      {"nul", 0, false},        {"NaN", 0, false},
    {"Infinity", 0, false}, {"\"a\"", 0, true},       {"\"\\u00e9\"", 0, true},
    {"\"\\ud800\"", 0, true}, {"\"\\udc00\\ud800\"", 0, true}, {"\"\\x\"", 0, false},
    {"\"\\u12\"", 0, false}, {"\"\\u12g4\"", 0, false}, {"\"\t\"", 0, false},
    {"\"a\nb\"", 0, false}, {"\"\x7f\"", 0, true},    {"[]", 0, true},
    {"[1,]", 0, false},     {"[,1]", 0, false},       {"[1 2]", 0, false},
    {"{}", 0, true},        {"{\"a\":1,}", 0, false}, {"{\"a\" 1}", 0, false},
    {"{a:1}", 0, false},    {"{\"a\":1 \"b\":2}", 0, false},
    {"{\"a\":[1,{\"b\":null}]}", 0, true},            {" [ 1 , 2 ] ", 0, true},
    {"[1]x", 0, false},     {"\"abc", 0, false},      {"[", 0, false},
    {"{\"a\"", 0, false},   {"{\"a\":", 0, false},    {"\"\\/\"", 0, true},
    {"'a'", 0, false},      {"[1,[2,[3]]]", 0, true}, {"{\"\":\"\"}", 0, true},
    {"\"\\\"", 0, false},   {"\xc2\xa0 1", 0, false}, {"1 2", 0, false},
    {"", 0, false},         {" ", 0, false},          {"\f1", 0, false},
    {"[-]", 0, false},      {"[0e1]", 0, true},       {"[1.e1]", 0, false},
    {"\"\\u0000\"", 0, true}, {"\"a\0b\"", 5, false}, {"[1]\0", 4, false},
    {"{\"a\":1}}", 0, false}, {"[1]]", 0, false},     {"{\"a\":1]", 0, false},
    {"[1}", 0, false},      {"{1:2}", 0, false},      {"\"\xe9\xff\"", 0, true},
    {"-1.5E-3", 0, true},   {"[true,false,null]", 0, true}, {"[truex]", 0, false},
};

Test(json, validity_matches_json_parse, .timeout = 5)
{
    for (size_t i = 0; i < sizeof VALIDITY / sizeof VALIDITY[0]; i++) {
        const vcase_t *c = &VALIDITY[i];
        slice_t s = slice_make(c->text, c->len ? c->len : strlen(c->text));
        const char *err = NULL;
        int rc = json_validate(s, NULL, &err);
        cr_expect_eq(rc == 0, c->valid, "case %zu `%s`: got %d (%s)", i, c->text, rc,
                     err ? err : "-");
        if (rc < 0)
            cr_expect_not_null(err, "case %zu has no reason", i);
    }
}

Test(json, value_type_and_trimmed_raw, .timeout = 5)
{
    json_value_t v;
    cr_assert_eq(json_validate(S("  {\"a\":[1,2]} \n"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_OBJECT);
    cr_expect(slice_eq_cstr(v.raw, "{\"a\":[1,2]}"));
    cr_assert_eq(json_validate(S("\"x\""), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_STRING);
    cr_assert_eq(json_validate(S("-12.5e3"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_NUMBER);
    cr_assert_eq(json_validate(S("true"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_TRUE);
    cr_assert_eq(json_validate(S("false"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_FALSE);
    cr_assert_eq(json_validate(S("null"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_NULL);
    cr_assert_eq(json_validate(S("[]"), &v, NULL), 0);
    cr_expect_eq(v.type, JSON_ARRAY);
}

Test(json, skip_value_stops_after_value, .timeout = 5)
{
    slice_t s = S(" [1,{\"b\":\"]\"}] ,tail");
    size_t pos = 0;
    json_value_t v;
    cr_assert_eq(json_skip_value(s, &pos, &v, NULL), 0);
    cr_expect_eq(pos, 14);
    cr_expect(slice_eq_cstr(v.raw, "[1,{\"b\":\"]\"}]"));
    pos = 0;
    cr_expect_eq(json_skip_value(S("12abc"), &pos, &v, NULL), 0);
    cr_expect_eq(pos, 2); /* a value ends where the number ends; the caller checks the rest */
}

static void nested(char *out, int depth, char open, char close)
{
    memset(out, open, (size_t)depth);
    memset(out + depth, close, (size_t)depth);
    out[2 * depth] = '\0';
}

Test(json, depth_cap, .timeout = 5)
{
    char b[300];
    const char *err = NULL;
    nested(b, JSON_MAX_DEPTH, '[', ']');
    cr_expect_eq(json_validate(S(b), NULL, NULL), 0);
    nested(b, JSON_MAX_DEPTH + 1, '[', ']');
    cr_expect_eq(json_validate(S(b), NULL, &err), -1);
    cr_expect_str_eq(err, "json: nesting too deep");
    /* objects count too */
    char o[1000] = "";
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        strcat(o, "{\"k\":");
    strcat(o, "1");
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        strcat(o, "}");
    cr_expect_eq(json_validate(S(o), NULL, NULL), 0);
    /* a deep hostile input fails quickly and without recursion */
    static char deep[200001];
    memset(deep, '[', sizeof deep - 1);
    cr_expect_eq(json_validate(slice_make(deep, sizeof deep - 1), NULL, NULL), -1);
}

Test(json, array_iteration, .timeout = 5)
{
    json_iter_t it;
    json_value_t v;
    cr_assert_eq(json_array_begin(&it, S(" [ 1 , \"two\" ,[3], {\"f\":4} ] "), NULL), 0);
    const char *want[] = {"1", "\"two\"", "[3]", "{\"f\":4}"};
    json_type_t types[] = {JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(json_array_next(&it, &v, NULL), 1);
        cr_expect(slice_eq_cstr(v.raw, want[i]), "element %d", i);
        cr_expect_eq(v.type, types[i]);
    }
    cr_expect_eq(json_array_next(&it, &v, NULL), 0);
    cr_expect_eq(json_array_next(&it, &v, NULL), 0);
    cr_expect_eq(json_iter_end(&it), 28);

    cr_assert_eq(json_array_begin(&it, S("[]"), NULL), 0);
    cr_expect_eq(json_array_next(&it, &v, NULL), 0);

    const char *err = NULL;
    cr_assert_eq(json_array_begin(&it, S("[1,]"), NULL), 0);
    cr_expect_eq(json_array_next(&it, &v, NULL), 1);
    cr_expect_eq(json_array_next(&it, &v, &err), -1);
    cr_expect_not_null(err);
    cr_expect_eq(json_array_next(&it, &v, NULL), -1, "failure is sticky");

    cr_assert_eq(json_array_begin(&it, S("[1 2]"), NULL), 0);
    cr_expect_eq(json_array_next(&it, &v, NULL), 1);
    cr_expect_eq(json_array_next(&it, &v, NULL), -1);

    cr_expect_eq(json_array_begin(&it, S("{}"), &err), -1);
    cr_expect_str_eq(err, "json: not an array");
    cr_expect_eq(json_array_next(&it, &v, NULL), -1);
}

Test(json, object_iteration, .timeout = 5)
{
    json_iter_t it;
    json_value_t k, v;
    cr_assert_eq(json_object_begin(&it, S("{ \"a\" : 1 , \"b\\n\":[true], \"a\":null }"), NULL),
                 0);
    cr_assert_eq(json_object_next(&it, &k, &v, NULL), 1);
    cr_expect(slice_eq_cstr(k.raw, "\"a\""));
    cr_expect(slice_eq_cstr(v.raw, "1"));
    cr_assert_eq(json_object_next(&it, &k, &v, NULL), 1);
    cr_expect(json_string_eq(k.raw, S("b\n")));
    cr_expect_eq(v.type, JSON_ARRAY);
    cr_assert_eq(json_object_next(&it, &k, &v, NULL), 1, "duplicates are returned");
    cr_expect_eq(v.type, JSON_NULL);
    cr_expect_eq(json_object_next(&it, &k, &v, NULL), 0);

    cr_assert_eq(json_object_begin(&it, S("{}"), NULL), 0);
    cr_expect_eq(json_object_next(&it, &k, &v, NULL), 0);

    /* keys that are empty or start with an escape come back whole, quotes included */
    cr_assert_eq(json_object_begin(&it, S("{\"\":1,\"\\\"x\":2}"), NULL), 0);
    cr_assert_eq(json_object_next(&it, &k, &v, NULL), 1);
    cr_expect(slice_eq_cstr(k.raw, "\"\""), "empty key: got %.*s", (int)k.raw.len, k.raw.ptr);
    cr_assert_eq(json_object_next(&it, &k, &v, NULL), 1);
    cr_expect(slice_eq_cstr(k.raw, "\"\\\"x\""), "escaped key: got %.*s", (int)k.raw.len,
              k.raw.ptr);
    cr_expect(slice_eq_cstr(v.raw, "2"));

    const char *bad[] = {"{1:2}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}",
                         "{\"a\":1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(json_object_begin(&it, S(bad[i]), NULL), 0);
        int rc;
        while ((rc = json_object_next(&it, &k, &v, NULL)) == 1)
            ;
        cr_expect_eq(rc, -1, "`%s`", bad[i]);
    }
}

Test(json, unescape, .timeout = 5)
{
    uint8_t out[64];
    size_t n;
    /* JSON.parse('"a\\nb\\u00e9\\ud83d\\ude00\\/\\\\\\""') */
    slice_t raw = S("\"a\\nb\\u00e9\\ud83d\\ude00\\/\\\\\\\"\"");
    cr_assert_eq(json_string_unescape(raw, out, sizeof out, &n), 0);
    const char want[] = "a\nb\xc3\xa9\xf0\x9f\x98\x80/\\\"";
    cr_expect_eq(n, sizeof want - 1);
    cr_expect_eq(memcmp(out, want, n), 0);
    cr_expect(json_string_has_escapes(raw));
    cr_expect_not(json_string_has_escapes(S("\"plain\"")));

    /* lone surrogates become U+FFFD, as Node's UTF-8 encoder writes them */
    cr_assert_eq(json_string_unescape(S("\"\\ud800x\\udc00\""), out, sizeof out, &n), 0);
    cr_expect_eq(n, 7);
    cr_expect_eq(memcmp(out, "\xef\xbf\xbdx\xef\xbf\xbd", 7), 0);
    /* a high surrogate followed by a non-low escape */
    cr_assert_eq(json_string_unescape(S("\"\\ud800\\u0041\""), out, sizeof out, &n), 0);
    cr_expect_eq(n, 4);
    cr_expect_eq(memcmp(out, "\xef\xbf\xbd" "A", 4), 0);

    /* capacity: raw.len - 2 always suffices, less may fail */
    slice_t r2 = S("\"abcdef\"");
    cr_expect_eq(json_string_unescape(r2, out, 6, &n), 0);
    cr_expect_eq(json_string_unescape(r2, out, 5, &n), -1);
    cr_expect_eq(json_string_unescape(S("nope"), out, sizeof out, &n), -1);

    buf_t b = BUF_INIT;
    cr_assert_eq(json_string_unescape_buf(S("\"x\\ty\""), &b), 0);
    cr_expect(slice_eq_cstr(buf_slice(&b), "x\ty"));
    buf_dispose(&b);
}

Test(json, string_eq, .timeout = 5)
{
    cr_expect(json_string_eq(S("\"connect\""), S("connect")));
    cr_expect(json_string_eq(S("\"\\u0063onnect\""), S("connect")));
    cr_expect_not(json_string_eq(S("\"connect\""), S("connec")));
    cr_expect_not(json_string_eq(S("\"connec\""), S("connect")));
    cr_expect_not(json_string_eq(S("\"\\u0063onnecx\""), S("connect")));
    cr_expect(json_string_eq(S("\"\""), S("")));
    cr_expect(json_string_eq(S("\"\\ud83d\\ude00\""), S("\xf0\x9f\x98\x80")));
}

Test(json, numbers, .timeout = 5)
{
    int64_t i;
    double d;
    cr_expect_eq(json_number_to_i64(S("0"), &i), 0);
    cr_expect_eq(i, 0);
    cr_expect_eq(json_number_to_i64(S("-42"), &i), 0);
    cr_expect_eq(i, -42);
    cr_expect_eq(json_number_to_i64(S("1.0"), &i), 0);
    cr_expect_eq(i, 1);
    cr_expect_eq(json_number_to_i64(S("1e2"), &i), 0);
    cr_expect_eq(i, 100);
    cr_expect_eq(json_number_to_i64(S("9007199254740991"), &i), 0);
    cr_expect_eq(i, 9007199254740991LL);
    cr_expect_eq(json_number_to_i64(S("9007199254740992"), &i), -1);
    cr_expect_eq(json_number_to_i64(S("1.5"), &i), -1);
    cr_expect_eq(json_number_to_i64(S("01"), &i), -1);
    cr_expect_eq(json_number_to_i64(S("\"1\""), &i), -1);
    cr_expect_eq(json_number_to_double(S("-1.25e2"), &d), 0);
    cr_expect_eq(d, -125.0);
    cr_expect_eq(json_number_to_double(S("1x"), &d), -1);
}

static void expect_written(buf_t *b, const char *want, size_t want_len)
{
    cr_expect_eq(b->len, want_len, "length %zu, want %zu", b->len, want_len);
    cr_expect_eq(memcmp(buf_data(b), want, want_len < b->len ? want_len : b->len), 0,
                 "got `%.*s`", (int)b->len, (const char *)buf_data(b));
    buf_clear(b);
}

/* Each pair: input bytes, JSON.stringify output (from node). */
Test(json, append_string_matches_json_stringify, .timeout = 5)
{
    static const struct {
        const char *in;
        size_t in_len;
        const char *out;
    } V[] = {
        {"hello", 5, "\"hello\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
        {"\x00\x01\x1e\x1f\x7f", 5, "\"\\u0000\\u0001\\u001e\\u001f\x7f\""},
        {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\xe2\x80\xa8\xe2\x80\xa9\""},
        {"/", 1, "\"/\""},
        {"", 0, "\"\""},
        /* Buffer.from([0xff,0x41,0xe2,0x82,0x41,0xf0,0x9f,0x98,0xc0,0xaf,0xed,0xa0,0x80])
         * .toString() then JSON.stringify: one U+FFFD per maximal invalid subpart */
        {"\xff\x41\xe2\x82\x41\xf0\x9f\x98\xc0\xaf\xed\xa0\x80", 13,
         "\"\xef\xbf\xbd" "A\xef\xbf\xbd" "A\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
         "\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xe0\x80\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"ab\xe2\x82", 4, "\"ab\xef\xbf\xbd\""},
    };
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        slice_t in = slice_make(V[i].in, V[i].in_len);
        json_append_string(&b, in);
        cr_expect_eq(json_string_len(in), b.len, "json_string_len case %zu", i);
        expect_written(&b, V[i].out, strlen(V[i].out));
    }
    buf_dispose(&b);
}

Test(json, string_round_trip_all_bytes, .timeout = 5)
{
    /* every ASCII byte: writing then decoding gives the input back, and the output is
     * valid JSON without raw control characters (0x1E in particular) */
    uint8_t in[128];
    for (int c = 0; c < 128; c++)
        in[c] = (uint8_t)c;
    buf_t b = BUF_INIT;
    json_append_string(&b, slice_make(in, sizeof in));
    cr_expect_null(memchr(buf_data(&b), 0x1e, b.len));
    json_value_t v;
    cr_assert_eq(json_validate(buf_slice(&b), &v, NULL), 0);
    uint8_t out[200];
    size_t n;
    cr_assert_eq(json_string_unescape(v.raw, out, sizeof out, &n), 0);
    cr_expect_eq(n, sizeof in);
    cr_expect_eq(memcmp(in, out, n), 0);
    cr_expect(json_string_eq(v.raw, slice_make(in, sizeof in)));
    buf_dispose(&b);
}

/* Number::toString results, from node: `JSON.stringify(x)`. */
Test(json, append_double_matches_json_stringify, .timeout = 5)
{
    static const struct {
        double v;
        const char *out;
    } V[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-1, "-1"},
        {0.1, "0.1"},
        {123.456, "123.456"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1e-7, "1e-7"},
        {0.000001, "0.000001"},
        {1.5e-10, "1.5e-10"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.1 + 0.2, "0.30000000000000004"},
        {9007199254740992.0, "9007199254740992"},
        {-1234.5e30, "-1.2345e+33"},
        {100, "100"},
        {1e100, "1e+100"},
        {123e-20, "1.23e-18"},
        {4.35, "4.35"},
        {0.000123, "0.000123"},
    };
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        json_append_double(&b, V[i].v);
        expect_written(&b, V[i].out, strlen(V[i].out));
    }
    json_append_double(&b, 0.0 / 0.0);
    expect_written(&b, "null", 4);
    json_append_double(&b, 1.0 / 0.0);
    expect_written(&b, "null", 4);
    buf_dispose(&b);
}

Test(json, append_scalars, .timeout = 5)
{
    buf_t b = BUF_INIT;
    json_append_i64(&b, INT64_MIN);
    expect_written(&b, "-9223372036854775808", 20);
    json_append_i64(&b, 42);
    expect_written(&b, "42", 2);
    json_append_u64(&b, UINT64_MAX);
    expect_written(&b, "18446744073709551615", 20);
    json_append_bool(&b, true);
    json_append_bool(&b, false);
    json_append_null(&b);
    expect_written(&b, "truefalsenull", 13);
    buf_dispose(&b);
}
