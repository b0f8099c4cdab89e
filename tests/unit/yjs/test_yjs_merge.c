/*
 * Unit tests for src/yjs/yjs_merge (and the lazy reader/writer and TimSort under it):
 * the worked examples of shared/spec/yjs-update-format.md (2.5, 2.6, 3.4, 3.5, 3.6,
 * 3.7, P5), each confirmed against yjs 13.6.33, plus error handling and the empty
 * document. The bulk of the byte-exact checks against yjs are the generated vectors of
 * tests/integration/20-yjs-vectors.test.mjs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yjs/yjs_merge.h"
#include "yjs/yjs_timsort.h"

/* Hex (spaces allowed) into a static pool of buffers; tests are single-threaded. */
static slice_t H(const char *h)
{
    static uint8_t pool[16][512];
    static int next;
    uint8_t *b = pool[next++ % 16];
    size_t n = 0;
    for (; *h; h++) {
        if (*h == ' ')
            continue;
        unsigned v;
        sscanf(h, "%2x", &v);
        b[n++] = (uint8_t)v;
        h++;
    }
    return slice_make(b, n);
}

static void assert_bytes(const buf_t *got, slice_t want, const char *what)
{
    char g[1200] = "", w[1200] = "";
    for (size_t i = 0; i < got->len && i < 500; i++)
        sprintf(g + 2 * i, "%02x", buf_data(got)[i]);
    for (size_t i = 0; i < want.len && i < 500; i++)
        sprintf(w + 2 * i, "%02x", want.ptr[i]);
    cr_assert(got->len == want.len && memcmp(buf_data(got), want.ptr, want.len) == 0,
              "%s:\n  expected %s\n  got      %s", what, w, g);
}

static void merge_is(const char *what, const char *want, int n, ...)
{
    slice_t in[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        in[i] = H(va_arg(ap, const char *));
    va_end(ap);
    buf_t out = BUF_INIT;
    yjs_error_t err;
    cr_assert_eq(yjs_merge_updates(in, (size_t)n, &out, &err), YJS_OK, "%s: %s", what, err.msg);
    assert_bytes(&out, H(want), what);
    buf_dispose(&out);
}

Test(yjs_merge, spec_worked_examples, .timeout = 10)
{
    merge_is("three typed events stay three items (P2)",
             "01 03 01 00 04 01 01 74 01 61 84 01 00 01 62 84 01 01 01 63 00", 3,
             "01 01 01 00 04 01 01 74 01 61 00", "01 01 01 01 84 01 00 01 62 00",
             "01 01 01 02 84 01 01 01 63 00");
    merge_is("map overwrite: a8 becomes 88 (P3)",
             "01 02 02 00 28 01 01 6d 01 6b 01 7d 01 88 02 00 01 7d 02 01 02 01 00 01", 2,
             "01 01 02 00 28 01 01 6d 01 6b 01 7d 01 00",
             "01 01 02 01 a8 02 00 01 7d 02 01 02 01 00 01");
    merge_is("a gap becomes a Skip", "01 03 07 00 04 01 01 74 01 78 0a 01 84 07 01 01 7a 00", 2,
             "01 01 07 00 04 01 01 74 01 78 00", "01 01 07 02 84 07 01 01 7a 00");
    merge_is("GCs of different updates merge", "01 01 08 00 00 05 00", 2, "01 01 08 00 00 03 00",
             "01 01 08 03 00 02 00");
    merge_is("GCs within one update do not", "01 02 08 00 00 03 00 02 00", 2,
             "01 02 08 00 00 03 00 02 00", "00 00");
    merge_is("tie: the first item wins and the longer one is sliced",
             "01 02 05 00 04 01 01 74 03 68 65 6c 84 05 02 02 6c 6f 00", 2,
             "01 01 05 00 04 01 01 74 03 68 65 6c 00",
             "01 01 05 00 04 01 01 74 05 68 65 6c 6c 6f 00");
    merge_is("tie in the other order", "01 01 05 00 04 01 01 74 05 68 65 6c 6c 6f 00", 2,
             "01 01 05 00 04 01 01 74 05 68 65 6c 6c 6f 00",
             "01 01 05 00 04 01 01 74 03 68 65 6c 00");
    merge_is("delete sets are sorted and coalesced", "00 02 05 01 00 06 03 01 07 01", 2,
             "00 02 05 02 04 02 00 01 03 01 07 01", "00 01 05 01 01 03");
    merge_is("empty delete-set entries vanish", "00 00", 2, "00 01 05 00", "00 01 05 00");
    merge_is("ascending groups lose data, as in yjs (P5)",
             "02 01 03 00 04 01 01 74 01 63 01 01 00 04 01 01 74 01 61 00", 2,
             "02 01 01 00 04 01 01 74 01 61 01 02 00 04 01 01 74 01 62 00",
             "01 01 03 00 04 01 01 74 01 63 00");
}

Test(yjs_merge, slicing_inside_a_surrogate_pair, .timeout = 10)
{
    /* "a😀b" (client 9, 4 units) merged with the "a\uFFFD" half yjs writes after a cut
     * at 2: the longer item is sliced at 2 and starts with U+FFFD */
    merge_is("merge slice mid pair",
             "01 02 09 00 04 01 01 74 04 61 ef bf bd 84 09 01 04 ef bf bd 62 00", 2,
             "01 01 09 00 04 01 01 74 04 61 ef bf bd 00",
             "01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00");
}

Test(yjs_merge, non_minimal_varints_are_written_minimally_as_yjs_does, .timeout = 10)
{
    /* origin clock 0 written as 80 00, a root key length 1 written as 81 00, and a parent
     * info of 5 (any value but 1 means "parent id"): yjs decodes values and re-encodes */
    merge_is("origin", "01 01 01 01 84 01 00 01 62 00", 2, "01 01 01 01 84 01 80 00 01 62 00",
             "00 00");
    merge_is("key length", "01 01 01 00 04 01 01 74 01 61 00", 2,
             "01 01 01 00 04 01 81 00 74 01 61 00", "00 00");
    merge_is("parent info", "01 01 01 00 04 00 02 00 01 61 00", 2,
             "01 01 01 00 04 05 02 00 01 61 00", "00 00");
}

Test(yjs_merge, single_input_is_returned_verbatim_and_none_is_empty, .timeout = 10)
{
    buf_t out = BUF_INIT;
    yjs_error_t err;
    slice_t one = H("01 01 02 01 a8 02 00 01 7d 02 01 02 01 00 01");
    cr_assert_eq(yjs_merge_updates(&one, 1, &out, &err), YJS_OK);
    assert_bytes(&out, one, "verbatim (a8 kept)");
    buf_clear(&out);
    cr_assert_eq(yjs_merge_updates(NULL, 0, &out, &err), YJS_OK);
    assert_bytes(&out, H("00 00"), "merge of nothing");
    buf_clear(&out);
    slice_t two[2] = {H("00 00"), H("00 00")};
    cr_assert_eq(yjs_merge_updates(two, 2, &out, &err), YJS_OK);
    assert_bytes(&out, H("00 00"), "empty + empty");
    buf_clear(&out);
    cr_assert_eq(yjs_state_vector_from_update(H("00 00"), &out, &err), YJS_OK);
    assert_bytes(&out, H("00"), "sv of the empty doc");
    buf_clear(&out);
    cr_assert_eq(yjs_diff_update(H("00 00"), H("00"), &out, &err), YJS_OK);
    assert_bytes(&out, H("00 00"), "diff of the empty doc");
    buf_dispose(&out);
}

Test(yjs_merge, errors_name_the_input_and_leave_output_alone, .timeout = 10)
{
    buf_t out = BUF_INIT;
    buf_append(&out, "xyz", 3);
    yjs_error_t err;
    slice_t in[3] = {H("01 01 01 00 04 01 01 74 01 61 00"), H("00 00"),
                     H("01 01 01 01 84 01 00 01")}; /* third: string cut short */
    cr_assert_eq(yjs_merge_updates(in, 3, &out, &err), YJS_E_LENGTH);
    cr_assert_eq(err.input, 2);
    cr_assert(strncmp(err.msg, "update 2: byte ", 15) == 0, "%s", err.msg);
    assert_bytes(&out, slice_make("xyz", 3), "output untouched");
    in[2] = H("00 00 00"); /* trailing byte: found when its delete set is read */
    cr_assert_eq(yjs_merge_updates(in, 3, &out, &err), YJS_E_TRAILING);
    cr_assert_eq(err.input, 2);
    in[2] = H("01 01 01 00 04 01 01 74 01 61 00");
    in[1] = H("01 01 01 00 0b 00");
    cr_assert_eq(yjs_merge_updates(in, 3, &out, &err), YJS_E_CONTENT);
    cr_assert_eq(err.input, 1);
    cr_assert_eq(yjs_merge_updates(&in[1], 1, &out, &err), YJS_E_CONTENT, "single input too");
    assert_bytes(&out, slice_make("xyz", 3), "output untouched");
    buf_dispose(&out);
}

Test(yjs_merge, state_vectors_from_updates, .timeout = 10)
{
    buf_t out = BUF_INIT;
    yjs_error_t err;
    cr_assert_eq(yjs_state_vector_from_update(
                     H("01 03 07 00 04 01 01 74 01 78 0a 01 84 07 01 01 7a 00"), &out, &err),
                 YJS_OK);
    assert_bytes(&out, H("01 07 01"), "stops at the Skip");
    buf_clear(&out);
    cr_assert_eq(yjs_state_vector_from_update(H("01 01 07 02 84 07 01 01 7a 00"), &out, &err),
                 YJS_OK);
    assert_bytes(&out, H("00"), "a client not starting at 0 is left out");
    buf_clear(&out);
    /* two clients in order of appearance (not sorted), GC counts */
    cr_assert_eq(yjs_state_vector_from_update(
                     H("02 01 02 00 00 03 01 05 00 04 01 01 74 01 61 00"), &out, &err),
                 YJS_OK);
    assert_bytes(&out, H("02 02 03 05 01"), "order of appearance");
    buf_clear(&out);
    cr_assert_eq(yjs_state_vector_from_update(H("01 01 07 00 0a 02 00"), &out, &err), YJS_OK);
    assert_bytes(&out, H("01 07 02"), "yjs's quirk: a first Skip at clock 0 counts");
    buf_clear(&out);
    cr_assert_eq(yjs_state_vector_from_update(H("00 00 01"), &out, &err), YJS_E_TRAILING);
    cr_assert_eq(out.len, 0);
    buf_dispose(&out);
}

Test(yjs_merge, diffs, .timeout = 10)
{
    buf_t out = BUF_INIT;
    yjs_error_t err;
    slice_t u = H("01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00");
    cr_assert_eq(yjs_diff_update(u, H("01 09 02"), &out, &err), YJS_OK);
    assert_bytes(&out, H("01 01 09 02 84 09 01 04 ef bf bd 62 00"), "diff mid surrogate pair");
    buf_clear(&out);
    cr_assert_eq(yjs_diff_update(u, H("01 09 04"), &out, &err), YJS_OK);
    assert_bytes(&out, H("00 00"), "nothing missing");
    buf_clear(&out);
    /* a later duplicate client in the state vector wins */
    cr_assert_eq(yjs_diff_update(u, H("02 09 04 09 01"), &out, &err), YJS_OK);
    assert_bytes(&out, H("01 01 09 01 84 09 00 05 f0 9f 98 80 62 00"), "duplicate sv entry");
    buf_clear(&out);
    cr_assert_eq(yjs_diff_update(H("01 01 02 01 a8 02 00 01 7d 02 01 02 01 00 01"), H("00"), &out,
                                 &err),
                 YJS_OK);
    assert_bytes(&out, H("01 01 02 01 88 02 00 01 7d 02 01 02 01 00 01"), "a8 -> 88");
    buf_clear(&out);
    /* the delete set is kept whole, clients re-ordered descending, not coalesced */
    cr_assert_eq(yjs_diff_update(H("00 03 05 02 04 02 00 01 07 01 00 01 05 01 01 03"),
                                 H("01 05 09"), &out, &err),
                 YJS_OK);
    assert_bytes(&out, H("00 02 07 01 00 01 05 03 04 02 00 01 01 03"), "delete set as read");
    buf_clear(&out);
    cr_assert_eq(yjs_diff_update(u, H("01 09"), &out, &err), YJS_E_LENGTH);
    cr_assert_eq(err.input, 1);
    cr_assert(strncmp(err.msg, "state vector: ", 14) == 0, "%s", err.msg);
    cr_assert_eq(yjs_diff_update(u, H("00 00"), &out, &err), YJS_E_TRAILING);
    cr_assert_eq(yjs_diff_update(u, H("01 09 80"), &out, &err), YJS_E_TRUNCATED);
    cr_assert_eq(yjs_state_vector_validate(H("01 09 02"), &err), YJS_OK);
    cr_assert_eq(yjs_state_vector_validate(H("05 01 02"), &err), YJS_E_LENGTH);
    cr_assert_eq(out.len, 0);
    buf_dispose(&out);
}

/* ---- TimSort: with a consistent comparator it is a stable sort ---- */

typedef struct {
    int key;
} item_t;

static int by_key(void *ctx, uint32_t a, uint32_t b)
{
    const item_t *it = ctx;
    return (it[a].key > it[b].key) - (it[a].key < it[b].key);
}

Test(yjs_timsort, stable_on_random_and_patterned_inputs, .timeout = 20)
{
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(round < 100 ? round : (round * 37) % 3000);
        item_t *it = malloc((n + 1) * sizeof *it);
        uint32_t *a = malloc((n + 1) * sizeof *a);
        int span = 1 + round % 50;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            int pattern = round % 4;
            it[i].key = pattern == 0   ? (int)(seed >> 16) % span
                        : pattern == 1 ? (int)i / 3
                        : pattern == 2 ? (int)(n - i) / 2
                                       : (int)((i * 7) % 13);
            a[i] = (uint32_t)i;
        }
        cr_assert_eq(yjs_timsort(a, n, by_key, it), 0);
        for (size_t i = 1; i < n; i++) {
            cr_assert(it[a[i - 1]].key <= it[a[i]].key, "round %d: order at %zu", round, i);
            if (it[a[i - 1]].key == it[a[i]].key)
                cr_assert(a[i - 1] < a[i], "round %d: stability at %zu", round, i);
        }
        free(it);
        free(a);
    }
}
