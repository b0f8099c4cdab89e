/*
 * Fuzz target for src/base/json: the validating scanner, iteration, string decoding and the
 * JSON.stringify-exact writer.
 *
 * Checks, beyond "no crash / no sanitizer report":
 *   - json_validate agrees with json_skip_value + trailing-whitespace check;
 *   - a valid text walks completely with the iterators (every container element and
 *     member is returned, strings decode, json_string_eq(raw, decoded) holds);
 *   - the writer: for any bytes, json_append_string's output is valid JSON, is valid
 *     UTF-8, has exactly json_string_len bytes, contains no raw control characters, and
 *     decodes back to the input when the input was valid UTF-8;
 *   - differential: when cJSON (libcjson.so.1, dlopen'ed so the Makefile needs no change)
 *     is present, whatever we accept cJSON must accept too, except the one place V8 is
 *     laxer than cJSON: lone surrogate escapes, which JSON.parse accepts and cJSON refuses.
 *     (cJSON is laxer than V8 elsewhere, e.g. `01`, `1.`, raw control characters, so the
 *     other direction is not a bug.)
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/utf8.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef void *(*cj_parse_fn)(const char *, size_t, const char **, int);
typedef void (*cj_delete_fn)(void *);

typedef struct {
    cj_parse_fn parse;
    cj_delete_fn del;
} cjson_t;

static cjson_t load_cjson(void)
{
    cjson_t c = {0};
    void *h = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return c;
    c.parse = (cj_parse_fn)dlsym(h, "cJSON_ParseWithLengthOpts");
    c.del = (cj_delete_fn)dlsym(h, "cJSON_Delete");
    if (!c.parse || !c.del)
        c.parse = NULL;
    return c;
}

static void walk(json_value_t v, int depth);

static void check_string(slice_t raw)
{
    uint8_t tmp[4096];
    size_t n;
    if (raw.len - 2 > sizeof tmp)
        return;
    CHECK(json_string_unescape(raw, tmp, raw.len - 2, &n) == 0);
    CHECK(n <= raw.len - 2);
    CHECK(json_string_eq(raw, slice_make(tmp, n)));
    if (n > 0)
        CHECK(!json_string_eq(raw, slice_make(tmp, n - 1)));
    if (!json_string_has_escapes(raw))
        CHECK(n == raw.len - 2 && memcmp(tmp, raw.ptr + 1, n) == 0);
}

static void walk(json_value_t v, int depth)
{
    CHECK(depth <= JSON_MAX_DEPTH);
    json_iter_t it;
    json_value_t k, e;
    int rc;
    switch (v.type) {
    case JSON_ARRAY:
        CHECK(json_array_begin(&it, v.raw, NULL) == 0);
        while ((rc = json_array_next(&it, &e, NULL)) == 1)
            walk(e, depth + 1);
        CHECK(rc == 0 && json_iter_end(&it) == v.raw.len);
        break;
    case JSON_OBJECT:
        CHECK(json_object_begin(&it, v.raw, NULL) == 0);
        while ((rc = json_object_next(&it, &k, &e, NULL)) == 1) {
            CHECK(k.type == JSON_STRING);
            check_string(k.raw);
            walk(e, depth + 1);
        }
        CHECK(rc == 0 && json_iter_end(&it) == v.raw.len);
        break;
    case JSON_STRING:
        check_string(v.raw);
        break;
    case JSON_NUMBER: {
        double d;
        int64_t i;
        if (v.raw.len < 512)
            CHECK(json_number_to_double(v.raw, &d) == 0);
        (void)json_number_to_i64(v.raw, &i);
        break;
    }
    default:
        CHECK(v.type == JSON_NULL || v.type == JSON_TRUE || v.type == JSON_FALSE);
    }
}

/* True when the text has a \u escape of a surrogate that is not part of a proper pair. */
static bool has_lone_surrogate(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        if (p[i] == '\\' && p[i + 1] == '\\') {
            i++;
            continue;
        }
        if (p[i] != '\\' || p[i + 1] != 'u')
            continue;
        unsigned cp;
        char hex[5] = {(char)p[i + 2], (char)p[i + 3], (char)p[i + 4], (char)p[i + 5], 0};
        cp = (unsigned)strtoul(hex, NULL, 16);
        if (cp < 0xD800 || cp > 0xDFFF)
            continue;
        if (cp >= 0xDC00)
            return true;
        if (i + 12 > n || p[i + 6] != '\\' || p[i + 7] != 'u')
            return true;
        char lo[5] = {(char)p[i + 8], (char)p[i + 9], (char)p[i + 10], (char)p[i + 11], 0};
        unsigned l = (unsigned)strtoul(lo, NULL, 16);
        if (l < 0xDC00 || l > 0xDFFF)
            return true;
        i += 11;
    }
    return false;
}

static void check_writer(const uint8_t *data, size_t size)
{
    buf_t b = BUF_INIT;
    slice_t in = slice_make(data, size);
    json_append_string(&b, in);
    CHECK(b.len == json_string_len(in));
    CHECK(utf8_is_valid(buf_data(&b), b.len));
    for (size_t i = 0; i < b.len; i++)
        CHECK(buf_data(&b)[i] >= 0x20);
    json_value_t v;
    CHECK(json_validate(buf_slice(&b), &v, NULL) == 0 && v.type == JSON_STRING);
    if (utf8_is_valid(data, size)) {
        CHECK(json_string_eq(v.raw, in));
        buf_t d = BUF_INIT;
        CHECK(json_string_unescape_buf(v.raw, &d) == 0);
        CHECK(slice_eq(buf_slice(&d), in));
        buf_dispose(&d);
    }
    buf_dispose(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cjson_t cj;
    static bool loaded;
    if (!loaded) {
        cj = load_cjson();
        loaded = true;
    }
    slice_t s = slice_make(data, size);
    json_value_t v;
    const char *err = NULL;
    int rc = json_validate(s, &v, &err);
    size_t pos = 0;
    json_value_t v2;
    int rc2 = json_skip_value(s, &pos, &v2, NULL);
    bool whole = rc2 == 0 && json_skip_ws(s, pos) == size;
    CHECK((rc == 0) == whole);
    if (rc == 0) {
        CHECK(v.type == v2.type && v.raw.ptr == v2.raw.ptr && v.raw.len == v2.raw.len);
        walk(v, 0);
    } else {
        CHECK(err != NULL);
    }
    if (rc == 0 && cj.parse && !has_lone_surrogate(data, size) && !memchr(data, 0, size)) {
        char *z = malloc(size + 1);
        memcpy(z, data, size);
        z[size] = '\0';
        void *doc = cj.parse(z, size + 1, NULL, 1);
        if (!doc) {
            fprintf(stderr, "cJSON rejects what we accept: %.*s\n", (int)size, z);
            abort();
        }
        cj.del(doc);
        free(z);
    }
    check_writer(data, size);
    return 0;
}
