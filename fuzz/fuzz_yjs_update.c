/*
 * fuzz_yjs_update: libFuzzer target for the Yjs update v1 decoder (src/yjs).
 *
 * Feeds arbitrary bytes to every entry point that takes one update and checks the
 * properties that must hold for any input, valid or not:
 *  - decode and validate agree on acceptance, and a failure always has a message;
 *  - a decoded update re-encodes to bytes that decode again and re-encode identically;
 *  - state vector, diff (against the empty and the update's own state vector) and
 *    merge with the empty update succeed exactly when the update is valid, and what
 *    they produce is itself valid;
 *  - no output is left behind on failure.
 * Any violation aborts (a crash for libFuzzer); ASan and UBSan catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_merge.h"
#include "yjs/yjs_update.h"

/* A violated property: report which one, then crash for libFuzzer. */
#define must(cond)                                                                         \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static void check_valid_update(const buf_t *b)
{
    yjs_error_t err;
    yjs_error_clear(&err);
    must(yjs_update_validate(buf_data(b), b->len, &err) == YJS_OK);
}

static void check_roundtrip(const yjs_update_t *u)
{
    buf_t a = BUF_INIT, b = BUF_INIT;
    yjs_update_t u2;
    yjs_error_t err;
    yjs_update_encode(u, &a);
    must(yjs_update_decode(buf_data(&a), a.len, &u2, &err) == YJS_OK);
    must(u2.nstructs == u->nstructs && u2.ngroups == u->ngroups && u2.nranges == u->nranges);
    yjs_update_encode(&u2, &b);
    must(a.len == b.len && memcmp(buf_data(&a), buf_data(&b), a.len) == 0);
    for (size_t i = 0; i < u->nstructs; i++)
        must(u->structs[i].len == u2.structs[i].len && u->structs[i].kind == u2.structs[i].kind);
    yjs_update_dispose(&u2);
    buf_dispose(&a);
    buf_dispose(&b);
}

static void check_derived(slice_t in, int valid)
{
    buf_t sv = BUF_INIT, out = BUF_INIT;
    yjs_error_t err;
    int rc = yjs_state_vector_from_update(in, &sv, &err);
    must((rc == YJS_OK) == valid && (rc == YJS_OK || (sv.len == 0 && err.msg[0])));
    if (rc == YJS_OK)
        must(yjs_state_vector_validate(buf_slice(&sv), &err) == YJS_OK);

    rc = yjs_diff_update(in, SLICE_LIT("\0"), &out, &err);
    must((rc == YJS_OK) == valid && (rc == YJS_OK || out.len == 0));
    if (rc == YJS_OK) {
        check_valid_update(&out);
        buf_clear(&out);
        must(yjs_diff_update(in, buf_slice(&sv), &out, &err) == YJS_OK);
        check_valid_update(&out);
    }
    buf_clear(&out);
    slice_t two[2] = {in, SLICE_LIT("\0\0")};
    rc = yjs_merge_updates(two, 2, &out, &err);
    must((rc == YJS_OK) == valid && (rc == YJS_OK || out.len == 0));
    if (rc == YJS_OK)
        check_valid_update(&out);
    buf_dispose(&sv);
    buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yjs_update_t u;
    yjs_error_t err, err2;
    yjs_error_clear(&err2);
    int rc = yjs_update_decode(data, size, &u, &err);
    int rv = yjs_update_validate(data, size, &err2);
    must((rc == YJS_OK) == (rv == YJS_OK));
    must(rc == YJS_OK || (err.msg[0] && err.code == rc && err.offset <= size));
    if (rc == YJS_OK)
        check_roundtrip(&u);
    yjs_update_dispose(&u);
    check_derived(slice_make(data, size), rc == YJS_OK);

    /* the same bytes as one `any` value and as a state vector */
    buf_t tmp = BUF_INIT;
    (void)yjs_any_to_json(slice_make(data, size), &tmp, NULL);
    (void)yjs_state_vector_validate(slice_make(data, size), NULL);
    buf_dispose(&tmp);
    return 0;
}
