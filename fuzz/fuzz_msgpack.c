/*
 * Fuzz target for src/base/msgpack: the validating reader, skipping, iteration and both
 * directions of the JSON bridge.
 *
 * Checks, beyond "no crash / no sanitizer report":
 *   - msgpack_validate agrees with msgpack_skip + end-of-input, and msgpack_next's raw
 *     slice covers exactly what msgpack_skip skipped;
 *   - a valid value walks completely with the iterators;
 *   - msgpack_json_from_mp output (with and without binary collection) is valid JSON and valid
 *     UTF-8, and is a fixed point: to_json(from_json(J)) == J, with the same binaries;
 *   - the input read as JSON: when it is valid, from_json succeeds, its output is one
 *     valid msgpack value, and to_json(from_json(J)) is again a fixed point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/msgpack.h"
#include "base/msgpack_json.h"
#include "base/utf8.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_BINS 16

static void walk(slice_t raw, int depth)
{
    msgpack_iter_t it;
    msgpack_value_t a, b;
    int rc;
    CHECK(depth <= MSGPACK_MAX_DEPTH);
    if (msgpack_iter_begin(&it, raw, NULL) < 0)
        return;
    while ((rc = msgpack_iter_next(&it, &a, &b, NULL)) == 1) {
        walk(a.raw, depth + 1);
        if (msgpack_iter_is_map(&it))
            walk(b.raw, depth + 1);
    }
    CHECK(rc == 0);
}

/* J -> msgpack -> J' must give J back, binaries included. */
static void check_fixed_point(slice_t json, const slice_t *bins, size_t nbins)
{
    buf_t mp = BUF_INIT, again = BUF_INIT;
    const char *err = NULL;
    CHECK(msgpack_json_to_mp(json, &mp, bins, nbins, &err) == 0);
    CHECK(msgpack_validate(buf_slice(&mp), NULL, NULL) == 0);
    slice_t bins2[MAX_BINS];
    msgpack_bins_t mb = {bins2, MAX_BINS, 0};
    CHECK(msgpack_json_from_mp(buf_slice(&mp), &again, bins ? &mb : NULL, &err) == 0);
    CHECK(slice_eq(buf_slice(&again), json));
    CHECK(mb.n == (bins ? nbins : 0));
    for (size_t i = 0; i < mb.n; i++)
        CHECK(slice_eq(bins2[i], bins[i]));
    buf_dispose(&mp);
    buf_dispose(&again);
}

/* Occurrences of the key `"_placeholder"` in a JSON text. */
static size_t placeholder_keys(slice_t js)
{
    static const char key[] = "\"_placeholder\"";
    size_t n = 0;
    for (size_t i = 0; i + sizeof key - 1 <= js.len; i++)
        n += memcmp(js.ptr + i, key, sizeof key - 1) == 0;
    return n;
}

static void check_to_json(slice_t in, bool collect)
{
    buf_t js = BUF_INIT;
    slice_t bins[MAX_BINS];
    msgpack_bins_t mb = {bins, MAX_BINS, 0};
    if (msgpack_json_from_mp(in, &js, collect ? &mb : NULL, NULL) == 0) {
        CHECK(json_validate(buf_slice(&js), NULL, NULL) == 0);
        CHECK(utf8_is_valid(buf_data(&js), js.len));
        /* a map that itself has a `_placeholder` key would be taken for a binary on the
         * way back, as socket.io-parser would: no fixed point to check then */
        if (!collect || placeholder_keys(buf_slice(&js)) == mb.n)
            check_fixed_point(buf_slice(&js), collect ? bins : NULL, collect ? mb.n : 0);
    }
    buf_dispose(&js);
}

static void check_as_json(slice_t s)
{
    buf_t mp = BUF_INIT, js = BUF_INIT;
    json_value_t v;
    if (json_validate(s, &v, NULL) < 0)
        return;
    CHECK(msgpack_json_to_mp(s, &mp, NULL, 0, NULL) == 0);
    CHECK(msgpack_validate(buf_slice(&mp), NULL, NULL) == 0);
    CHECK(msgpack_json_from_mp(buf_slice(&mp), &js, NULL, NULL) == 0);
    check_fixed_point(buf_slice(&js), NULL, 0);
    buf_dispose(&mp);
    buf_dispose(&js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice_t s = slice_make(data, size);
    msgpack_value_t v;
    const char *err = NULL;
    int rc = msgpack_validate(s, &v, &err);
    size_t pos = 0;
    int rc2 = msgpack_skip(s, &pos, NULL);
    CHECK((rc == 0) == (rc2 == 0 && pos == size));
    if (rc == 0) {
        CHECK(v.raw.ptr == data && v.raw.len == size);
        walk(v.raw, 0);
        check_to_json(s, false);
        check_to_json(s, true);
        buf_t list = BUF_INIT;
        slice_t bins[MAX_BINS];
        msgpack_bins_t mb = {bins, MAX_BINS, 0};
        (void)msgpack_json_list_from_mp(s, 1, &list, &mb, NULL, NULL);
        buf_dispose(&list);
    } else {
        CHECK(err != NULL);
    }
    check_as_json(s);
    return 0;
}
