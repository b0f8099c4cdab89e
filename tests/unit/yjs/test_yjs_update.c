/*
 * Unit tests for src/yjs/yjs_update: the strict update v1 decoder and encoder.
 * Valid vectors were produced by yjs 13.6.33 (spec 2.6 examples and a document with
 * every content kind); malformed ones are built by hand from them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yjs/yjs_update.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* client 1 inserts "ab" into Y.Text "t", then map "m" k=1 (yjs encodeStateAsUpdate) */
static const char *ab_map = "01020100040101740261622801016d016b017d0100";
/* XmlFragment "prosemirror" with a paragraph, bold text, an attribute, an array of
 * mixed any values and a text embed (yjs encodeStateAsUpdate, client 3) */
static const char *rich =
    "010a030007010b70726f73656d6972726f72030970617261677261706807000300060600030104626f6c"
    "64047472756584030202686986030404626f6c64046e756c6c28000300056c6576656c0177013108010161"
    "057d017701787e787c3f00000083030b02010288030c01760101617d0105010174117b22696d616765223a"
    "22782e706e67227d00";

static int decode_hex(const char *h, uint8_t *buf, size_t *n, yjs_update_t *u, yjs_error_t *e)
{
    *n = unhex(h, buf);
    return yjs_update_decode(buf, *n, u, e);
}

Test(yjs_update, decodes_fields_of_a_small_update, .timeout = 10)
{
    uint8_t b[256];
    size_t n;
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(decode_hex(ab_map, b, &n, &u, &err), YJS_OK, "%s", err.msg);
    cr_assert_eq(u.ngroups, 1);
    cr_assert_eq(u.nstructs, 2);
    cr_assert_eq(u.groups[0].client, 1);
    const yjs_struct_t *s = &u.structs[0];
    cr_assert_eq(s->kind, YJS_KIND_ITEM);
    cr_assert_eq(s->content, YJS_CONTENT_STRING);
    cr_assert_eq(s->parent, YJS_PARENT_ROOT);
    cr_assert(slice_eq_cstr(s->parent_key, "t"));
    cr_assert(slice_eq_cstr(s->c.str.utf8, "ab"));
    cr_assert_eq(s->len, 2);
    s = &u.structs[1];
    cr_assert_eq(s->id.clock, 2);
    cr_assert_eq(s->info, 0x28);
    cr_assert_eq(s->content, YJS_CONTENT_ANY);
    cr_assert(s->flags & YJS_F_PARENT_SUB);
    cr_assert(slice_eq_cstr(s->parent_key, "m"));
    cr_assert(slice_eq_cstr(s->parent_sub, "k"));
    cr_assert_eq(s->len, 1);
    cr_assert_eq(s->c.any.values.len, 2);
    cr_assert_eq(u.nds, 0);
    cr_assert_eq(u.ds_offset, n - 1);
    buf_t out = BUF_INIT;
    yjs_update_encode(&u, &out);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(buf_data(&out), b, n), 0);
    buf_dispose(&out);
    yjs_update_dispose(&u);
    yjs_update_dispose(&u); /* idempotent */
}

Test(yjs_update, decodes_every_content_kind, .timeout = 10)
{
    uint8_t b[512];
    size_t n;
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(decode_hex(rich, b, &n, &u, &err), YJS_OK, "%s", err.msg);
    unsigned seen = 0;
    for (size_t i = 0; i < u.nstructs; i++) {
        const yjs_struct_t *s = &u.structs[i];
        seen |= 1u << s->content;
        if (s->content == YJS_CONTENT_TYPE && s->c.type.ref == YJS_TYPE_XML_ELEMENT)
            cr_assert(slice_eq_cstr(s->c.type.name, "paragraph"));
        if (s->content == YJS_CONTENT_FORMAT && (s->flags & YJS_F_ORIGIN)) {
            cr_assert(slice_eq_cstr(s->c.format.key, "bold"));
            cr_assert(slice_eq_cstr(s->c.format.value, "null"));
        }
        if (s->content == YJS_CONTENT_ANY && s->parent == YJS_PARENT_ROOT)
            cr_assert_eq(s->len, 5); /* [1,'x',null,true,0.5]; the bytes get a Binary item */
        if (s->content == YJS_CONTENT_EMBED)
            cr_assert(slice_eq_cstr(s->c.embed.json, "{\"image\":\"x.png\"}"));
        if (s->parent == YJS_PARENT_ID)
            cr_assert_eq(s->parent_id.client, 3);
    }
    unsigned want = 1u << YJS_CONTENT_BINARY | 1u << YJS_CONTENT_STRING | 1u << YJS_CONTENT_TYPE |
                    1u << YJS_CONTENT_FORMAT | 1u << YJS_CONTENT_ANY | 1u << YJS_CONTENT_EMBED;
    cr_assert_eq(seen & want, want);
    buf_t out = BUF_INIT;
    yjs_update_encode(&u, &out);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(buf_data(&out), b, n), 0);
    buf_dispose(&out);
    yjs_update_dispose(&u);
}

Test(yjs_update, hand_built_json_binary_doc_deleted_gc_skip, .timeout = 10)
{
    /* group client 9 clock 0: JSON ["1","x"] len 2, Binary, Doc, Deleted 3, GC 2, Skip 1,
     * then String "z"; delete set client 9 [0,2) and an empty entry for client 4 */
    static const uint8_t b[] = {
        0x01, 0x07, 0x09, 0x00,
        0x02, 0x01, 0x01, 't', 0x02, 0x01, '1', 0x03, '"', 'x', '"',
        0x83, 0x09, 0x01, 0x02, 0xab, 0xcd,
        0x89, 0x09, 0x02, 0x01, 'g', 0x76, 0x00,
        0x81, 0x09, 0x03, 0x03,
        0x00, 0x02,
        0x0a, 0x01,
        0x84, 0x09, 0x08, 0x01, 'z',
        0x02, 0x09, 0x01, 0x00, 0x02, 0x04, 0x00,
    };
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(yjs_update_decode(b, sizeof b, &u, &err), YJS_OK, "%s", err.msg);
    cr_assert_eq(u.nstructs, 7);
    static const uint64_t clocks[] = {0, 2, 3, 4, 7, 9, 10};
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(u.structs[i].id.clock, clocks[i], "struct %zu", i);
    cr_assert_eq(u.structs[0].content, YJS_CONTENT_JSON);
    cr_assert_eq(u.structs[1].content, YJS_CONTENT_BINARY);
    cr_assert_eq(u.structs[1].c.binary.bytes.len, 2);
    cr_assert_eq(u.structs[2].content, YJS_CONTENT_DOC);
    cr_assert(slice_eq_cstr(u.structs[2].c.doc.guid, "g"));
    cr_assert_eq(u.structs[3].content, YJS_CONTENT_DELETED);
    cr_assert_eq(u.structs[4].kind, YJS_KIND_GC);
    cr_assert_eq(u.structs[5].kind, YJS_KIND_SKIP);
    cr_assert_eq(u.nds, 2);
    cr_assert_eq(u.ds[1].count, 0);
    cr_assert(yjs_update_is_deleted(&u, (yjs_id_t){9, 1}));
    cr_assert(!yjs_update_is_deleted(&u, (yjs_id_t){9, 2}));
    cr_assert(!yjs_update_is_deleted(&u, (yjs_id_t){4, 0}));
    buf_t out = BUF_INIT;
    yjs_update_encode(&u, &out);
    cr_assert_eq(out.len, sizeof b);
    cr_assert_eq(memcmp(buf_data(&out), b, sizeof b), 0);
    buf_dispose(&out);
    yjs_update_dispose(&u);
    cr_assert_str_eq(yjs_content_name(YJS_CONTENT_DOC), "Doc");
    cr_assert_str_eq(yjs_type_name(YJS_TYPE_XML_TEXT), "YXmlText");
    cr_assert_str_eq(yjs_type_name(99), "?");
}

Test(yjs_update, empty_document_is_00_00, .timeout = 10)
{
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(yjs_update_decode((const uint8_t *)"\0\0", 2, &u, &err), YJS_OK);
    cr_assert_eq(u.ngroups + u.nstructs + u.nds, 0);
    buf_t out = BUF_INIT;
    yjs_update_encode(&u, &out);
    cr_assert_eq(out.len, 2);
    cr_assert_eq(memcmp(buf_data(&out), "\0\0", 2), 0);
    buf_dispose(&out);
    yjs_update_dispose(&u);
    cr_assert_eq(yjs_update_validate((const uint8_t *)"\0", 1, &err), YJS_E_TRUNCATED);
    cr_assert_eq(yjs_update_validate(NULL, 0, &err), YJS_E_TRUNCATED);
}

Test(yjs_update, every_truncation_is_rejected_cleanly, .timeout = 30)
{
    uint8_t b[512];
    size_t n = unhex(rich, b);
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan catches any over-read */
        memcpy(copy, b, k);
        yjs_update_t u;
        yjs_error_t err;
        int rc = yjs_update_decode(copy, k, &u, &err);
        cr_assert(rc == YJS_E_TRUNCATED || rc == YJS_E_LENGTH, "prefix %zu: %d %s", k, rc,
                  err.msg);
        cr_assert_eq(err.code, rc);
        cr_assert(strncmp(err.msg, "byte ", 5) == 0, "%s", err.msg);
        cr_assert(err.offset <= k);
        cr_assert_eq(u.structs, NULL);
        cr_assert_eq(yjs_update_validate(copy, k, &err), rc);
        free(copy);
    }
}

typedef struct {
    const char *hex;
    int code;
    const char *msg;
} bad_case_t;

Test(yjs_update, malformed_updates_give_code_offset_and_reason, .timeout = 10)
{
    static const bad_case_t cases[] = {
        /* trailing bytes after the delete set */
        {"00 00 ff", YJS_E_TRAILING, "1 trailing bytes"},
        /* the v2 encoding of the "ab"/map document, fed as v1 */
        {"000001010000030400280a057461626d6b0102410001010001010102007d0100", YJS_E_TRAILING,
         "not a v1 update"},
        /* content refs 11 and 31 */
        {"01 01 01 00 0b 00", YJS_E_CONTENT, "content ref 11"},
        {"01 01 01 00 1f 00", YJS_E_CONTENT, "content ref 31"},
        /* ref 10 with a flag bit; GC info with a flag bit */
        {"01 01 01 00 8a 01 00 01 00", YJS_E_CONTENT, "0x8a"},
        {"01 01 01 00 80 01 00", YJS_E_CONTENT, "0x80"},
        /* unknown type ref 7 */
        {"01 01 01 00 07 01 01 74 07 00", YJS_E_CONTENT, "type ref 7"},
        /* string length past the end */
        {"01 01 01 00 04 01 01 74 09 61 62 00 00", YJS_E_LENGTH, "String content"},
        /* zero-length structs */
        {"01 01 01 00 00 00 00", YJS_E_STRUCT, "zero-length GC"},
        {"01 01 01 00 0a 00 00", YJS_E_STRUCT, "zero-length Skip"},
        {"01 01 01 00 04 01 01 74 00 00", YJS_E_STRUCT, "zero-length String"},
        {"01 01 01 00 08 01 01 74 00 00", YJS_E_STRUCT, "zero-length Any"},
        {"01 01 01 00 01 01 01 74 00 00", YJS_E_STRUCT, "zero-length Deleted"},
        /* absurd counts: groups, structs, delete-set clients and ranges, any elements */
        {"ff ff ff ff 0f 00", YJS_E_LENGTH, "group count: 4294967295 declared"},
        {"01 ff ff ff ff 0f 01 00 00 00", YJS_E_LENGTH, "structs"},
        {"00 ff ff ff ff 0f 00", YJS_E_LENGTH, "clients"},
        {"00 01 01 ff ff ff ff 0f 00", YJS_E_LENGTH, "ranges"},
        {"01 01 01 00 08 01 01 74 80 80 80 80 10 00 00", YJS_E_LENGTH, "Any count"},
        /* unknown any tag inside ContentAny */
        {"01 01 01 00 08 01 01 74 01 70 00", YJS_E_ANY, "unknown any tag 112"},
        /* invalid UTF-8 in a root key */
        {"01 01 01 00 04 01 02 c0 80 01 61 00", YJS_E_UTF8, "parent key"},
        /* clocks beyond 2^53-1 */
        {"01 01 01 ff ff ff ff ff ff ff 0f 00 02 00", YJS_E_STRUCT, "2^53-1"},
        {"01 01 01 ff ff ff ff ff ff ff 1f 00 02 00", YJS_E_VARINT, "2^53-1"},
        /* delete range end beyond 2^53-1 */
        {"00 01 01 01 ff ff ff ff ff ff ff 0f 02", YJS_E_STRUCT, "delete range end"},
        /* a truncated varUint inside an origin */
        {"01 01 01 01 84 01", YJS_E_TRUNCATED, "origin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char clean[256];
        size_t w = 0;
        for (const char *p = cases[i].hex; *p; p++)
            if (*p != ' ')
                clean[w++] = *p;
        clean[w] = 0;
        uint8_t b[128];
        size_t n = unhex(clean, b);
        yjs_update_t u;
        yjs_error_t err;
        int rc = yjs_update_decode(b, n, &u, &err);
        cr_assert_eq(rc, cases[i].code, "case %zu: got %d (%s)", i, rc, err.msg);
        cr_assert(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
        cr_assert(err.offset < n + 1, "case %zu", i);
        cr_assert_eq(yjs_update_validate(b, n, &err), rc, "case %zu", i);
    }
}

Test(yjs_update, error_offsets_point_at_the_field, .timeout = 10)
{
    /* "ab" update whose string length (byte 9) claims 9 bytes */
    uint8_t b[32];
    size_t n = unhex("01010100040101740961620000", b);
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(yjs_update_decode(b, n, &u, &err), YJS_E_LENGTH);
    cr_assert_eq(err.offset, 8);
    cr_assert(strncmp(err.msg, "byte 8: ", 8) == 0, "%s", err.msg);
}

Test(yjs_update, origins_hide_parent_and_map_key, .timeout = 10)
{
    /* map overwrite event: info a8 = origin + parentSub bit + Any; no parent written */
    uint8_t b[64];
    size_t n = unhex("01010201a80200017d020102010001", b);
    yjs_update_t u;
    yjs_error_t err;
    cr_assert_eq(yjs_update_decode(b, n, &u, &err), YJS_OK, "%s", err.msg);
    const yjs_struct_t *s = &u.structs[0];
    cr_assert_eq(s->info, 0xa8);
    cr_assert_eq(s->parent, YJS_PARENT_NONE);
    cr_assert(!(s->flags & YJS_F_PARENT_SUB));
    cr_assert(s->flags & YJS_F_ORIGIN);
    cr_assert_eq(s->origin.client, 2);
    cr_assert_eq(s->origin.clock, 0);
    buf_t out = BUF_INIT;
    yjs_update_encode(&u, &out);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(buf_data(&out), b, n), 0, "the wire info byte is kept by encode");
    buf_dispose(&out);
    yjs_update_dispose(&u);
}
