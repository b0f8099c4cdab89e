/*
 * fuzz_yjs_text: libFuzzer target for the Yjs document model and text reader
 * (src/yjs/yjs_text).
 *
 * The seed corpus (fuzz/corpus/yjs_text) holds real documents written by yjs: Y.Text
 * with emoji and formatting, y-prosemirror XML fragments, concurrent edits, deletes and
 * partial merges, so that mutations land in integration, splitting and the XML walk
 * rather than only in the decoder. Properties checked for any input:
 *  - extraction succeeds only for inputs the decoder accepts;
 *  - on failure the output buffer is untouched and the error has a code and a message;
 *  - on success the text is valid UTF-8 and a second run gives the same bytes.
 * Any violation aborts (a crash for libFuzzer); ASan and UBSan catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_text.h"
#include "yjs/yjs_update.h"

/* A violated property: report which one, then crash for libFuzzer. */
static void must_hold(int ok, const char *what, int line)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_yjs_text.c:%d: property violated: %s\n", line, what);
    abort();
}

#define must(cond) must_hold((cond) != 0, #cond, __LINE__)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf_t out = BUF_INIT, again = BUF_INIT;
    yjs_error_t err;
    buf_append_cstr(&out, "#");
    int rc = yjs_text_extract(data, size, &out, &err);
    if (rc != YJS_OK) {
        must(rc < 0 && err.code == rc && err.msg[0] != '\0');
        must(out.len == 1 && buf_data(&out)[0] == '#');
        buf_dispose(&out);
        return 0;
    }
    must(yjs_update_validate(data, size, NULL) == YJS_OK);
    slice_t text = slice_tail(buf_slice(&out), 1);
    must(yjs_utf8_check(text, NULL) == text.len);
    must(yjs_text_extract(data, size, &again, NULL) == YJS_OK);
    must(slice_eq(text, buf_slice(&again)));
    buf_dispose(&out);
    buf_dispose(&again);
    return 0;
}
