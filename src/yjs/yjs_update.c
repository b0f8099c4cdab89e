/*
 * yjs_update: strict decoder and encoder of Yjs updates v1. See yjs_update.h.
 *
 * One struct reader (yjs_struct_read) serves everything: the full decoder below, the
 * allocation-free validator, and the lazy readers of yjs_merge.c. The decoder grows its
 * arrays as structs are actually read (a declared count is only trusted up to the
 * bytes left), so a hostile "2^50 structs" header fails on truncation, not on malloc.
 */
#include "yjs/yjs_update.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* Each struct takes at least 2 bytes on the wire (info + one more). */
#define MIN_STRUCT_BYTES 2

const char *yjs_content_name(unsigned ref)
{
    static const char *const names[] = {"GC",     "Deleted", "JSON", "Binary", "String", "Embed",
                                        "Format", "Type",    "Any",  "Doc",    "Skip"};
    return ref < sizeof names / sizeof names[0] ? names[ref] : "?";
}

const char *yjs_type_name(unsigned ref)
{
    static const char *const names[] = {"YArray",       "YMap",     "YText",   "YXmlElement",
                                        "YXmlFragment", "YXmlHook", "YXmlText"};
    return ref < sizeof names / sizeof names[0] ? names[ref] : "?";
}

/* A varUint that ended at `end` after starting at `start` is minimal: one byte, or a
 * last byte that is not zero. */
static inline bool minimal(const uint8_t *start, const uint8_t *end)
{
    return end - start == 1 || end[-1] != 0;
}

static int read_id(yjs_cursor_t *c, yjs_id_t *id, const char *what, bool *canonical)
{
    const uint8_t *a = c->p;
    int rc = yjs_read_varuint(c, &id->client, what);
    if (rc)
        return rc;
    const uint8_t *b = c->p;
    rc = yjs_read_varuint(c, &id->clock, what);
    *canonical &= minimal(a, b) && minimal(b, c->p);
    return rc;
}

/* A string whose length prefix started at `start`: is that prefix minimal? */
static inline bool minimal_prefix(const uint8_t *start, slice_t s)
{
    return minimal(start, s.ptr);
}

/* A count of `n` elements of at least one byte each must fit in what is left. */
static int check_count(yjs_cursor_t *c, const uint8_t *at, uint64_t n, const char *what)
{
    if (n == 0)
        return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                             "zero-length %s content", what);
    if (n > yjs_cursor_left(c))
        return yjs_error_set(c->err, YJS_E_LENGTH, (size_t)(at - c->base),
                             "%s count %llu runs past the end of the input", what,
                             (unsigned long long)n);
    return YJS_OK;
}

static int read_content_list(yjs_cursor_t *c, yjs_struct_t *s, bool any)
{
    const uint8_t *at = c->p;
    uint64_t n;
    int rc = yjs_read_varuint(c, &n, any ? "Any count" : "JSON count");
    if (rc || (rc = check_count(c, at, n, any ? "Any" : "JSON")))
        return rc;
    const uint8_t *first = c->p;
    for (uint64_t i = 0; i < n; i++) {
        rc = any ? yjs_read_any(c, NULL, "Any element")
                 : yjs_read_string(c, NULL, NULL, "JSON element");
        if (rc)
            return rc;
    }
    s->len = n;
    s->c.any.values = slice_make(first, (size_t)(c->p - first)); /* same layout as json */
    return YJS_OK;
}

static int read_type(yjs_cursor_t *c, yjs_struct_t *s)
{
    const uint8_t *at = c->p;
    uint64_t ref;
    int rc = yjs_read_varuint(c, &ref, "type ref");
    if (rc)
        return rc;
    if (ref > YJS_TYPE_XML_TEXT)
        return yjs_error_set(c->err, YJS_E_CONTENT, (size_t)(at - c->base),
                             "unknown type ref %llu (expected 0..6)", (unsigned long long)ref);
    s->c.type.ref = (uint32_t)ref;
    s->c.type.name = slice_make(c->p, 0);
    if (ref == YJS_TYPE_XML_ELEMENT || ref == YJS_TYPE_XML_HOOK)
        return yjs_read_string(c, &s->c.type.name, NULL, "XML node name");
    return YJS_OK;
}

static int read_content(yjs_cursor_t *c, yjs_struct_t *s)
{
    const uint8_t *at = c->p;
    uint64_t n;
    int rc;
    s->len = 1;
    switch (s->content) {
    case YJS_CONTENT_DELETED:
        if ((rc = yjs_read_varuint(c, &n, "Deleted length")))
            return rc;
        if (n == 0)
            return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                                 "zero-length Deleted content");
        s->len = n;
        return YJS_OK;
    case YJS_CONTENT_JSON: return read_content_list(c, s, false);
    case YJS_CONTENT_ANY: return read_content_list(c, s, true);
    case YJS_CONTENT_BINARY: return yjs_read_buf(c, &s->c.binary.bytes, "Binary content");
    case YJS_CONTENT_STRING:
        if ((rc = yjs_read_string(c, &s->c.str.utf8, &s->len, "String content")))
            return rc;
        if (s->len == 0)
            return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                                 "zero-length String content");
        return YJS_OK;
    case YJS_CONTENT_EMBED: return yjs_read_string(c, &s->c.embed.json, NULL, "Embed content");
    case YJS_CONTENT_FORMAT:
        if ((rc = yjs_read_string(c, &s->c.format.key, NULL, "Format key")))
            return rc;
        return yjs_read_string(c, &s->c.format.value, NULL, "Format value");
    case YJS_CONTENT_TYPE: return read_type(c, s);
    case YJS_CONTENT_DOC:
        if ((rc = yjs_read_string(c, &s->c.doc.guid, NULL, "Doc guid")))
            return rc;
        return yjs_read_any(c, &s->c.doc.opts, "Doc options");
    default:
        return yjs_error_set(c->err, YJS_E_CONTENT, (size_t)(at - c->base),
                             "unknown content ref %u", s->content);
    }
}

/* The Item header after the info byte: origins, or else the parent and map key. */
static int read_item_header(yjs_cursor_t *c, yjs_struct_t *s)
{
    int rc;
    bool canon = true;
    if ((s->info & 0x80) && (rc = read_id(c, &s->origin, "origin", &canon)))
        return rc;
    if ((s->info & 0x40) && (rc = read_id(c, &s->right_origin, "right origin", &canon)))
        return rc;
    s->flags = (uint8_t)(((s->info & 0x80) ? YJS_F_ORIGIN : 0) |
                         ((s->info & 0x40) ? YJS_F_RIGHT_ORIGIN : 0));
    s->canonical = canon;
    if (s->info & 0xc0) {
        s->parent = YJS_PARENT_NONE;
        return YJS_OK;
    }
    uint64_t pinfo;
    const uint8_t *at = c->p;
    if ((rc = yjs_read_varuint(c, &pinfo, "parent info")))
        return rc;
    canon &= c->p - at == 1 && pinfo <= 1;
    at = c->p;
    if (pinfo == 1) {
        s->parent = YJS_PARENT_ROOT;
        rc = yjs_read_string(c, &s->parent_key, NULL, "parent key");
        canon &= rc || minimal_prefix(at, s->parent_key);
    } else {
        s->parent = YJS_PARENT_ID;
        rc = read_id(c, &s->parent_id, "parent id", &canon);
    }
    s->canonical = canon;
    if (rc || !(s->info & 0x20))
        return rc;
    s->flags |= YJS_F_PARENT_SUB;
    at = c->p;
    rc = yjs_read_string(c, &s->parent_sub, NULL, "parent sub (map key)");
    s->canonical = canon && (rc || minimal_prefix(at, s->parent_sub));
    return rc;
}

static int read_gc_or_skip(yjs_cursor_t *c, yjs_struct_t *s, const uint8_t *at)
{
    uint64_t n;
    int rc = yjs_read_varuint(c, &n, s->kind == YJS_KIND_GC ? "GC length" : "Skip length");
    if (rc)
        return rc;
    if (n == 0)
        return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                             "zero-length %s struct", s->kind == YJS_KIND_GC ? "GC" : "Skip");
    s->len = n;
    return YJS_OK;
}

int yjs_struct_read(yjs_cursor_t *c, uint64_t client, uint64_t clock, yjs_struct_t *s)
{
    const uint8_t *at = c->p;
    /* Only the fields every reader looks at are reset (this runs once per struct of
     * every merge input); origins, parent id and content fields are valid under their
     * flags / kind only, as the header says. */
    s->id.client = client;
    s->id.clock = clock;
    s->len = 0;
    s->content = 0;
    s->flags = 0;
    s->parent = YJS_PARENT_NONE;
    s->canonical = false;
    const slice_t empty = slice_make(at, 0); /* three plain stores: a chained assignment
                                                 re-reads a just-written field (stall) */
    s->parent_key = empty;
    s->parent_sub = empty;
    s->body = empty;
    int rc = yjs_read_u8(c, &s->info, "struct info byte");
    if (rc)
        return rc;
    unsigned ref = s->info & 0x1f;
    if (s->info == 0 || s->info == 10) {
        s->kind = s->info ? YJS_KIND_SKIP : YJS_KIND_GC;
        rc = read_gc_or_skip(c, s, at);
    } else if (ref == 0 || ref >= 10) {
        return yjs_error_set(c->err, YJS_E_CONTENT, (size_t)(at - c->base),
                             "invalid struct info byte 0x%02x (content ref %u)", s->info, ref);
    } else {
        s->kind = YJS_KIND_ITEM;
        s->content = (uint8_t)ref;
        if ((rc = read_item_header(c, s)))
            return rc;
        s->body.ptr = c->p;
        rc = read_content(c, s);
        s->body.len = (size_t)(c->p - s->body.ptr);
    }
    if (rc)
        return rc;
    if (s->len > YJS_MAX_SAFE_INT - clock)
        return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                             "struct end clock above 2^53-1");
    s->raw = slice_make(at, (size_t)(c->p - at));
    return YJS_OK;
}

/* ---- decoding into arrays ---- */

/* Grows *arr (element size `sz`) to hold at least `need` elements; capacity doubles.
 * Sizes are bounded by the input length, so overflow is not a concern in practice but
 * is still checked. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz, yjs_error_t *err)
{
    if (need <= *cap)
        return YJS_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap < need)
        ncap = need;
    if (ncap > SIZE_MAX / sz)
        return yjs_error_set(err, YJS_E_LIMIT, 0, "too many elements");
    void *p = try_realloc(*arr, ncap * sz);
    if (!p)
        return yjs_error_set(err, YJS_E_NOMEM, 0, "out of memory decoding update");
    *arr = p;
    *cap = ncap;
    return YJS_OK;
}

typedef struct decoder {
    yjs_cursor_t c;
    yjs_update_t *u; /* NULL: validate only */
    size_t gcap, scap, dcap, rcap;
} decoder_t;

static int decode_group(decoder_t *d, size_t gi)
{
    yjs_cursor_t *c = &d->c;
    const uint8_t *at = c->p;
    uint64_t n, client, clock;
    int rc;
    if ((rc = yjs_read_varuint(c, &n, "struct count")) ||
        (rc = yjs_read_varuint(c, &client, "group client")) ||
        (rc = yjs_read_varuint(c, &clock, "group first clock")))
        return rc;
    if (n > yjs_cursor_left(c) / MIN_STRUCT_BYTES)
        return yjs_error_set(c->err, YJS_E_LENGTH, (size_t)(at - c->base),
                             "group %zu declares %llu structs, more than the input holds", gi,
                             (unsigned long long)n);
    yjs_update_t *u = d->u;
    if (u) {
        if ((rc = grow((void **)&u->groups, &d->gcap, u->ngroups + 1, sizeof *u->groups, c->err)))
            return rc;
        u->groups[u->ngroups++] = (yjs_group_t){client, clock, u->nstructs, (size_t)n};
    }
    yjs_struct_t tmp;
    for (uint64_t i = 0; i < n; i++) {
        yjs_struct_t *s = &tmp;
        if (u) {
            rc = grow((void **)&u->structs, &d->scap, u->nstructs + 1, sizeof *u->structs, c->err);
            if (rc)
                return rc;
            s = &u->structs[u->nstructs];
        }
        if ((rc = yjs_struct_read(c, client, clock, s)))
            return rc;
        clock += s->len;
        if (u)
            u->nstructs++;
    }
    return YJS_OK;
}

static int decode_ds_entry(decoder_t *d)
{
    yjs_cursor_t *c = &d->c;
    uint64_t client, n;
    int rc;
    if ((rc = yjs_read_varuint(c, &client, "delete set client")) ||
        (rc = yjs_read_count(c, &n, 2, "delete set ranges")))
        return rc;
    yjs_update_t *u = d->u;
    if (u) {
        if ((rc = grow((void **)&u->ds, &d->dcap, u->nds + 1, sizeof *u->ds, c->err)))
            return rc;
        u->ds[u->nds++] = (yjs_ds_entry_t){client, u->nranges, (size_t)n};
        if ((rc = grow((void **)&u->ranges, &d->rcap, u->nranges + n, sizeof *u->ranges, c->err)))
            return rc;
    }
    for (uint64_t i = 0; i < n; i++) {
        yjs_range_t r;
        if ((rc = yjs_read_ds_range(c, &r.clock, &r.len)))
            return rc;
        if (u)
            u->ranges[u->nranges++] = r;
    }
    return YJS_OK;
}

static int decode_all(decoder_t *d)
{
    yjs_cursor_t *c = &d->c;
    uint64_t ngroups, nds;
    int rc = yjs_read_count(c, &ngroups, 3, "group count");
    if (rc)
        return rc;
    for (uint64_t g = 0; g < ngroups; g++)
        if ((rc = decode_group(d, (size_t)g)))
            return rc;
    if (d->u)
        d->u->ds_offset = yjs_cursor_offset(c);
    if ((rc = yjs_read_count(c, &nds, 2, "delete set clients")))
        return rc;
    for (uint64_t i = 0; i < nds; i++)
        if ((rc = decode_ds_entry(d)))
            return rc;
    if (c->p != c->end)
        return yjs_error_set(c->err, YJS_E_TRAILING, yjs_cursor_offset(c),
                             "%zu trailing bytes after the delete set (not a v1 update?)",
                             yjs_cursor_left(c));
    return YJS_OK;
}

int yjs_update_decode(const uint8_t *data, size_t len, yjs_update_t *u, yjs_error_t *err)
{
    memset(u, 0, sizeof *u);
    yjs_error_clear(err);
    if (!data && len)
        return yjs_error_set(err, YJS_E_ARG, 0, "NULL input");
    u->data = slice_make(data, len);
    decoder_t d = {.c = yjs_cursor_make(data, len, err), .u = u};
    int rc = decode_all(&d);
    if (rc) {
        yjs_update_dispose(u);
        return rc;
    }
    return YJS_OK;
}

int yjs_update_validate(const uint8_t *data, size_t len, yjs_error_t *err)
{
    yjs_error_clear(err);
    if (!data && len)
        return yjs_error_set(err, YJS_E_ARG, 0, "NULL input");
    decoder_t d = {.c = yjs_cursor_make(data, len, err), .u = NULL};
    return decode_all(&d);
}

void yjs_update_dispose(yjs_update_t *u)
{
    if (!u)
        return;
    free(u->groups);
    free(u->structs);
    free(u->ds);
    free(u->ranges);
    memset(u, 0, sizeof *u);
}

/* Writes one struct exactly as decoded: the wire info byte, re-encoded header fields,
 * then the content payload bytes. */
static void encode_struct(buf_t *b, const yjs_struct_t *s)
{
    buf_append_byte(b, s->info);
    if (s->kind != YJS_KIND_ITEM) {
        yjs_write_varuint(b, s->len);
        return;
    }
    if (s->flags & YJS_F_ORIGIN) {
        yjs_write_varuint(b, s->origin.client);
        yjs_write_varuint(b, s->origin.clock);
    }
    if (s->flags & YJS_F_RIGHT_ORIGIN) {
        yjs_write_varuint(b, s->right_origin.client);
        yjs_write_varuint(b, s->right_origin.clock);
    }
    if (s->parent == YJS_PARENT_ROOT) {
        yjs_write_varuint(b, 1);
        yjs_write_buf(b, s->parent_key);
    } else if (s->parent == YJS_PARENT_ID) {
        yjs_write_varuint(b, 0);
        yjs_write_varuint(b, s->parent_id.client);
        yjs_write_varuint(b, s->parent_id.clock);
    }
    if (s->flags & YJS_F_PARENT_SUB)
        yjs_write_buf(b, s->parent_sub);
    buf_append(b, s->body.ptr, s->body.len);
}

void yjs_update_encode(const yjs_update_t *u, buf_t *out)
{
    yjs_write_varuint(out, u->ngroups);
    for (size_t g = 0; g < u->ngroups; g++) {
        const yjs_group_t *gr = &u->groups[g];
        yjs_write_varuint(out, gr->count);
        yjs_write_varuint(out, gr->client);
        yjs_write_varuint(out, gr->clock);
        for (size_t i = 0; i < gr->count; i++)
            encode_struct(out, &u->structs[gr->first + i]);
    }
    yjs_write_varuint(out, u->nds);
    for (size_t i = 0; i < u->nds; i++) {
        const yjs_ds_entry_t *e = &u->ds[i];
        yjs_write_varuint(out, e->client);
        yjs_write_varuint(out, e->count);
        for (size_t k = 0; k < e->count; k++) {
            yjs_write_varuint(out, u->ranges[e->first + k].clock);
            yjs_write_varuint(out, u->ranges[e->first + k].len);
        }
    }
}

bool yjs_update_is_deleted(const yjs_update_t *u, yjs_id_t id)
{
    for (size_t i = 0; i < u->nds; i++) {
        const yjs_ds_entry_t *e = &u->ds[i];
        if (e->client != id.client)
            continue;
        for (size_t k = 0; k < e->count; k++) {
            const yjs_range_t *r = &u->ranges[e->first + k];
            if (id.clock >= r->clock && id.clock - r->clock < r->len)
                return true;
        }
    }
    return false;
}
