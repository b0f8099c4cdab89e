/*
 * fuzz_yjs_merge: libFuzzer target for merging lists of Yjs updates (src/yjs).
 *
 * The first byte picks how the rest becomes a list of updates:
 *  - even: raw. The bytes are split at each "|YJS|" separator (the seed corpus holds real
 *    update lists joined that way), so mutations hit real structs, delete sets and
 *    list shapes, and most lists are malformed somewhere.
 *  - odd: synthetic. The bytes drive a small generator that writes only well-formed
 *    updates (few clients, overlapping clock ranges, GC/Skip/String/Any/Deleted
 *    structs, strings with surrogate pairs, origins, delete sets), so the merge loop's
 *    slicing, Skip synthesis, GC merging and tie-breaking run on every input.
 * Properties: merge succeeds exactly when every input is valid; its output is valid;
 * merging the output alone returns it; its state vector and a diff against that state
 * vector are valid; nothing is left in the output on failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_merge.h"
#include "yjs/yjs_update.h"

#define MAX_UPDATES 96

/* A violated property: report which one, then crash for libFuzzer. */
#define must(cond)                                                                         \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

typedef struct src {
    const uint8_t *p;
    size_t n;
} src_t;

static unsigned take(src_t *s, unsigned mod)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++ % mod;
}

static void gen_item(src_t *s, buf_t *b, uint64_t client, uint64_t clock, uint64_t *len)
{
    static const uint64_t clients[] = {1, 2, 7, 4294967295u};
    unsigned kind = take(s, 4);
    unsigned flags = take(s, 4);
    uint8_t ref = kind == 0 ? 4 : kind == 1 ? 8 : kind == 2 ? 1 : 7;
    buf_append_byte(b, (uint8_t)(ref | (flags & 1 ? 0x80 : 0) | (flags & 2 ? 0x40 : 0)));
    if (flags & 1) {
        yjs_write_varuint(b, clients[take(s, 4)]);
        yjs_write_varuint(b, clock ? clock - 1 : take(s, 8));
    }
    if (flags & 2) {
        yjs_write_varuint(b, client);
        yjs_write_varuint(b, clock + 1 + take(s, 8));
    }
    if (!(flags & 3)) {
        buf_append_byte(b, 1);
        yjs_write_buf(b, SLICE_LIT("t"));
    }
    if (ref == 4) { /* strings mixing 1-unit and 2-unit (surrogate pair) characters */
        static const char *const pieces[] = {"a", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xe4\xb8\xad"};
        buf_t str = BUF_INIT;
        for (unsigned i = 0, k = 1 + take(s, 5); i < k; i++)
            buf_append_cstr(&str, pieces[take(s, 4)]);
        yjs_write_buf(b, buf_slice(&str));
        *len = yjs_utf16_len(buf_slice(&str));
        buf_dispose(&str);
    } else if (ref == 8) {
        unsigned k = 1 + take(s, 4);
        yjs_write_varuint(b, k);
        for (unsigned i = 0; i < k; i++)
            buf_append(b, "\x7d\x01", 2);
        *len = k;
    } else if (ref == 1) {
        *len = 1 + take(s, 6);
        yjs_write_varuint(b, *len);
    } else {
        yjs_write_varuint(b, 2); /* type: YText */
        *len = 1;
    }
}

static void gen_update(src_t *s, buf_t *b)
{
    static const uint64_t clients[] = {1, 2, 7, 4294967295u};
    unsigned ngroups = take(s, 3);
    unsigned first = take(s, 4);
    yjs_write_varuint(b, ngroups);
    for (unsigned g = 0; g < ngroups; g++) {
        /* descending clients, as every yjs writer does; sometimes not (spec P5) */
        unsigned ci = (first + g) % 4;
        uint64_t client = clients[take(s, 16) ? 3 - ci : ci];
        uint64_t clock = take(s, 12);
        unsigned n = 1 + take(s, 6);
        yjs_write_varuint(b, n);
        yjs_write_varuint(b, client);
        yjs_write_varuint(b, clock);
        for (unsigned i = 0; i < n; i++) {
            unsigned k = take(s, 8);
            uint64_t len = 1 + take(s, 4);
            if (k == 0 || (k == 1 && i > 0)) {
                buf_append_byte(b, k == 0 ? 0 : 10);
                yjs_write_varuint(b, len);
            } else {
                gen_item(s, b, client, clock, &len);
            }
            clock += len;
        }
    }
    unsigned nds = take(s, 3);
    yjs_write_varuint(b, nds);
    for (unsigned i = 0; i < nds; i++) {
        yjs_write_varuint(b, clients[take(s, 4)]);
        unsigned k = 1 + take(s, 3);
        yjs_write_varuint(b, k);
        for (unsigned j = 0; j < k; j++) {
            yjs_write_varuint(b, take(s, 20));
            yjs_write_varuint(b, take(s, 5));
        }
    }
}

static void check(const slice_t *list, size_t n, int expect_ok)
{
    buf_t out = BUF_INIT, again = BUF_INIT, sv = BUF_INIT, diff = BUF_INIT;
    yjs_error_t err;
    int rc = yjs_merge_updates(list, n, &out, &err);
    if (expect_ok >= 0)
        must((rc == YJS_OK) == expect_ok);
    if (rc != YJS_OK) {
        must(out.len == 0 && err.msg[0] && err.code == rc);
        goto out_free;
    }
    must(yjs_update_validate(buf_data(&out), out.len, &err) == YJS_OK);
    slice_t one = buf_slice(&out);
    must(yjs_merge_updates(&one, 1, &again, &err) == YJS_OK);
    must(again.len == out.len && memcmp(buf_data(&again), buf_data(&out), out.len) == 0);
    must(yjs_state_vector_from_update(one, &sv, &err) == YJS_OK);
    must(yjs_diff_update(one, buf_slice(&sv), &diff, &err) == YJS_OK);
    must(yjs_update_validate(buf_data(&diff), diff.len, &err) == YJS_OK);
out_free:
    buf_dispose(&out);
    buf_dispose(&again);
    buf_dispose(&sv);
    buf_dispose(&diff);
}

static void run_raw(const uint8_t *p, size_t n)
{
    slice_t list[MAX_UPDATES];
    size_t k = 0, start = 0;
    int all_valid = 1;
    for (size_t i = 0; i + 5 <= n && k < MAX_UPDATES - 1; i++) {
        if (memcmp(p + i, "|YJS|", 5) == 0) {
            list[k++] = slice_make(p + start, i - start);
            start = i + 5;
            i += 4;
        }
    }
    list[k++] = slice_make(p + start, n - start);
    for (size_t i = 0; i < k; i++)
        all_valid &= yjs_update_validate(list[i].ptr, list[i].len, NULL) == YJS_OK;
    check(list, k, all_valid);
}

static void run_synthetic(const uint8_t *p, size_t n)
{
    src_t s = {p, n};
    buf_t bufs[MAX_UPDATES];
    slice_t list[MAX_UPDATES];
    size_t k = 0;
    while (s.n && k < MAX_UPDATES) {
        bufs[k] = BUF_INIT;
        gen_update(&s, &bufs[k]);
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        list[i] = buf_slice(&bufs[i]);
        must(yjs_update_validate(list[i].ptr, list[i].len, NULL) == YJS_OK);
    }
    check(list, k, 1);
    for (size_t i = 0; i < k; i++)
        buf_dispose(&bufs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        run_synthetic(data + 1, size - 1);
    else
        run_raw(data + 1, size - 1);
    return 0;
}
