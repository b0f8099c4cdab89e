/*
 * Unit tests for src/yjs/yjs_text: plain text of a Yjs document.
 *
 * Vectors marked "yjs" were produced by yjs 13.6.33 in Node; the expected text is what
 * `Y.applyUpdate(new Y.Doc(), update)` shows (Y.Text toString, the XML block rules of
 * yjs_text.h). The random cross-check against yjs is tests/integration/25-yjs-text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_text.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ')
            continue;
        unsigned v;
        cr_assert(sscanf(p, "%2x", &v) == 1, "bad hex in test vector");
        cr_assert(n < cap);
        out[n++] = (uint8_t)v;
        p++;
    }
    return n;
}

/* Extracts the text of a hex update and compares it with `want` (`want_len` bytes). */
static void check_text(const char *hex, const char *want)
{
    static uint8_t bytes[4096];
    size_t n = unhex(hex, bytes, sizeof(bytes));
    buf_t out = BUF_INIT;
    yjs_error_t err;
    int rc = yjs_text_extract(bytes, n, &out, &err);
    cr_assert_eq(rc, YJS_OK, "extract failed: %s", err.msg);
    cr_assert_eq(out.len, strlen(want), "length %zu, want %zu (\"%.*s\")", out.len, strlen(want),
                 (int)out.len, (const char *)buf_data(&out));
    cr_assert(out.len == 0 || memcmp(buf_data(&out), want, out.len) == 0, "got \"%.*s\"",
              (int)out.len, (const char *)buf_data(&out));
    buf_dispose(&out);
}

static int extract_error(const char *hex, yjs_error_t *err)
{
    static uint8_t bytes[4096];
    size_t n = unhex(hex, bytes, sizeof(bytes));
    buf_t out = BUF_INIT;
    buf_append_cstr(&out, "keep");
    int rc = yjs_text_extract(bytes, n, &out, err);
    cr_assert(slice_eq_cstr(buf_slice(&out), "keep"), "out untouched on error");
    buf_dispose(&out);
    return rc;
}

Test(yjs_text, empty_document_is_empty_text, .timeout = 5)
{
    check_text("0000", "");
}

Test(yjs_text, spec_examples, .timeout = 5)
{
    /* spec 2.6: client 1 inserts "ab" into "t" */
    check_text("01 01 01 00 04 01 01 74 02 61 62 00", "ab");
    /* spec 2.6: three typing events merged: items chained by origin */
    check_text("01 03 01 00 04 01 01 74 01 61 84 01 00 01 62 84 01 01 01 63 00", "abc");
    /* spec 2.6: a gap (Skip) leaves "z" pending */
    check_text("01 03 07 00 04 01 01 74 01 78 0a 01 84 07 01 01 7a 00", "x");
    /* spec 2.5: "a😀b", and its diff from clock 2 (nothing before it: all pending) */
    check_text("01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00", "a\xf0\x9f\x98\x80"
                                                                   "b");
    check_text("01 01 09 02 84 09 01 04 ef bf bd 62 00", "");
    /* spec 2.6: a map root contributes nothing */
    check_text("01 02 02 00 28 01 01 6d 01 6b 01 7d 01 88 02 00 01 7d 02 01 02 01 00 01", "");
}

Test(yjs_text, concurrent_inserts_follow_yata_order, .timeout = 5)
{
    /* yjs: clients 1..3 insert X, Y, Z at the same position of "ac"; client 3 adds ">" */
    check_text("03020300c401000101015a440100013e010200c40100010101590301000401017401618401000163"
               "c401000101015800",
               ">aXYZc");
}

Test(yjs_text, cut_surrogate_pairs_show_replacement_characters, .timeout = 5)
{
    /* yjs: "a😀b", another client deletes the high half of the emoji (right origin cut) */
    check_text("010305000401017401618105000184050104efbfbd620105010101", "a\xef\xbf\xbd"
                                                                         "b");
    /* yjs: "x👍y" with units 2..3 deleted: the delete set cuts the item inside the pair */
    check_text("01010700040101740678f09f918d790107010202", "x\xef\xbf\xbd");
}

Test(yjs_text, roots_in_name_order_and_empty_ones_left_out, .timeout = 5)
{
    /* yjs: array root "arr" holding an XmlElement (reads as XML), text "emb" with only an
     * embed (empty, left out), text "z"; the XML lines end in "\n", then the "\n" between
     * roots */
    check_text("01060a00070103617272030970617261677261706807000a000604000a0108696e20617272617988"
               "0a00017d05050103656d620d7b22696d616765223a2278227d0401017a046c61737400",
               "in array\n\nlast");
    /* yjs: a map root whose values are paragraphs, one overwritten: nothing */
    check_text("010809002101016d0161010004a7090003097061726167726170680700090506040009060374776f"
               "2701016d016203097061726167726170680700090a060400090b0574687265650109010005",
               "");
}

Test(yjs_text, last_group_of_a_client_wins, .timeout = 5)
{
    /* yjs's reader keeps the last group when a client appears twice */
    check_text("0201040004010174026162010400040101740378797a00", "xyz");
}

Test(yjs_text, garbage_collected_xml_is_skipped, .timeout = 5)
{
    /* yjs (gc on): a deleted paragraph became GC structs; the heading remains */
    check_text("01050b0001010b70726f73656d6972726f72010005870b00030768656164696e6707000b06060400"
               "0b07046b657074010b010006",
               "kept\n");
}

Test(yjs_text, structs_with_missing_dependencies_stay_pending, .timeout = 5)
{
    /* yjs: client 21 inserts after a clock of client 20 that is not in the update, and
     * client 20's part starts at clock 4: Y.Doc shows nothing at all */
    check_text("02011500841403052b6d6f72650114040401027432056f7468657200", "");
}

Test(yjs_text, text_is_appended_to_the_buffer, .timeout = 5)
{
    static const uint8_t u[] = {1, 1, 1, 0, 4, 1, 1, 't', 2, 'a', 'b', 0};
    buf_t out = BUF_INIT;
    buf_append_cstr(&out, "pre:");
    cr_assert_eq(yjs_text_extract(u, sizeof(u), &out, NULL), YJS_OK);
    cr_assert(slice_eq_cstr(buf_slice(&out), "pre:ab"));
    buf_dispose(&out);
}

Test(yjs_text, malformed_input_is_an_error_and_leaves_out_alone, .timeout = 5)
{
    yjs_error_t err;
    cr_assert_eq(extract_error("01 01 01 00 04 01 01 74 02 61", &err), YJS_E_LENGTH);
    cr_assert_eq(extract_error("01 01 01 00 04 01 01 74 02 61 62 00 00", &err), YJS_E_TRAILING);
    cr_assert_eq(extract_error("01 01 01 00 0b 00", &err), YJS_E_CONTENT);
    cr_assert_eq(extract_error("", &err), YJS_E_TRUNCATED);
    cr_assert(strlen(err.msg) > 0);
}

Test(yjs_text, references_to_own_future_clocks_are_rejected, .timeout = 5)
{
    yjs_error_t err;
    /* second item's origin is (1,5), after its own clock 1 */
    cr_assert_eq(extract_error("01 02 01 00 04 01 01 74 01 61 84 01 05 01 62 00", &err),
                 YJS_E_STRUCT);
    cr_assert(strstr(err.msg, "origin") != NULL, "%s", err.msg);
    /* right origin (1,1) is the item itself */
    cr_assert_eq(extract_error("01 02 01 00 04 01 01 74 01 61 44 01 01 01 62 00", &err),
                 YJS_E_STRUCT);
    /* parent (1,1) is the item itself */
    cr_assert_eq(extract_error("01 02 01 00 04 01 01 74 01 61 04 00 01 01 01 62 00", &err),
                 YJS_E_STRUCT);
}

Test(yjs_text, null_arguments, .timeout = 5)
{
    yjs_error_t err;
    cr_assert_eq(yjs_text_extract((const uint8_t *)"\0\0", 2, NULL, &err), YJS_E_ARG);
    buf_t out = BUF_INIT;
    cr_assert_eq(yjs_text_extract(NULL, 2, &out, &err), YJS_E_ARG);
}

/* An update of client 1: `depth` nested XmlElements "p" under root "prosemirror", an
 * XmlText in the innermost one holding "deep". */
static void deep_update(buf_t *u, uint64_t depth)
{
    yjs_write_varuint(u, 1);         /* one group */
    yjs_write_varuint(u, depth + 2); /* structs */
    yjs_write_varuint(u, 1);         /* client */
    yjs_write_varuint(u, 0);         /* first clock */
    for (uint64_t i = 0; i <= depth; i++) {
        buf_append_byte(u, 0x07); /* ContentType, no origins: the parent follows */
        if (i == 0) {
            yjs_write_varuint(u, 1);
            yjs_write_buf(u, SLICE_LIT("prosemirror"));
        } else {
            yjs_write_varuint(u, 0);
            yjs_write_varuint(u, 1);
            yjs_write_varuint(u, i - 1);
        }
        yjs_write_varuint(u, i < depth ? 3 : 6); /* XmlElement, then the XmlText */
        if (i < depth)
            yjs_write_buf(u, SLICE_LIT("p"));
    }
    buf_append_byte(u, 0x04); /* String in the XmlText */
    yjs_write_varuint(u, 0);
    yjs_write_varuint(u, 1);
    yjs_write_varuint(u, depth);
    yjs_write_buf(u, SLICE_LIT("deep"));
    yjs_write_varuint(u, 0); /* empty delete set */
}

Test(yjs_text, deep_trees_are_walked_without_recursion, .timeout = 20)
{
    buf_t u = BUF_INIT, out = BUF_INIT;
    deep_update(&u, 200000);
    yjs_error_t err;
    int rc = yjs_text_extract(buf_data(&u), u.len, &out, &err);
    cr_assert_eq(rc, YJS_OK, "%s", err.msg);
    cr_assert(slice_eq_cstr(buf_slice(&out), "deep\n"));
    buf_dispose(&u);
    buf_dispose(&out);
}
