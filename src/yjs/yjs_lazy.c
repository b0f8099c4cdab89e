/*
 * yjs_lazy: lazy reader, lazy group writer, struct writer and delete sets. See
 * yjs_lazy.h.
 *
 * The group writer's holes, as the output buffer looks before and after finish:
 *
 *   before: [hole10][hole10|client|clock|s s s][hole10|client|clock|s s]
 *   after:  [ng][n0|client|clock|s s s][n1|client|clock|s s]
 *
 * Each hole is at least as long as the varUint that replaces it, so the bytes only
 * ever move left and one forward pass with memmove suffices.
 */
#include "yjs/yjs_lazy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define HOLE 10

/* ---- reader ---- */

int yjs_lreader_init(yjs_lreader_t *r, slice_t update, bool filter_skips, yjs_error_t *err)
{
    memset(r, 0, sizeof *r);
    r->c = yjs_cursor_make(update.ptr, update.len, err);
    r->filter_skips = filter_skips;
    uint64_t n;
    int rc = yjs_read_count(&r->c, &n, 3, "group count");
    if (rc)
        return rc;
    r->groups_left = n;
    return yjs_lreader_next(r);
}

static int read_group_header(yjs_lreader_t *r)
{
    yjs_cursor_t *c = &r->c;
    const uint8_t *at = c->p;
    uint64_t n;
    int rc;
    if ((rc = yjs_read_varuint(c, &n, "struct count")) ||
        (rc = yjs_read_varuint(c, &r->client, "group client")) ||
        (rc = yjs_read_varuint(c, &r->clock, "group first clock")))
        return rc;
    if (n > yjs_cursor_left(c) / 2)
        return yjs_error_set(c->err, YJS_E_LENGTH, (size_t)(at - c->base),
                             "struct count: %llu declared, more than the input holds",
                             (unsigned long long)n);
    r->groups_left--;
    r->structs_left = n;
    return YJS_OK;
}

int yjs_lreader_next(yjs_lreader_t *r)
{
    int rc;
    for (;;) {
        while (r->structs_left == 0) {
            if (r->groups_left == 0) {
                r->has = false;
                return YJS_OK;
            }
            if ((rc = read_group_header(r))) {
                r->has = false;
                return rc;
            }
        }
        r->structs_left--;
        if ((rc = yjs_struct_read(&r->c, r->client, r->clock, &r->cur))) {
            r->has = false;
            return rc;
        }
        r->clock += r->cur.len;
        if (r->filter_skips && r->cur.kind == YJS_KIND_SKIP)
            continue;
        r->has = true;
        return YJS_OK;
    }
}

/* ---- struct writer ---- */

static size_t put_id(uint8_t *p, yjs_id_t id)
{
    size_t n = yjs_put_varuint(p, id.client);
    return n + yjs_put_varuint(p + n, id.clock);
}

/* Content from element `off` on (spec 2.4 "can be sliced"). Inputs were validated
 * when they were read, so the skipping below cannot fail. */
static void write_content(buf_t *b, const yjs_struct_t *s, uint64_t off)
{
    if (off == 0) {
        buf_append(b, s->body.ptr, s->body.len);
        return;
    }
    yjs_cursor_t c = yjs_cursor_make(s->c.any.values.ptr, s->c.any.values.len, NULL);
    slice_t left, right;
    bool mid;
    switch (s->content) {
    case YJS_CONTENT_DELETED:
        yjs_write_varuint(b, s->len - off);
        return;
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
        for (uint64_t i = 0; i < off; i++) {
            if (s->content == YJS_CONTENT_ANY)
                (void)yjs_read_any(&c, NULL, NULL);
            else
                (void)yjs_read_string(&c, NULL, NULL, NULL);
        }
        yjs_write_varuint(b, s->len - off);
        buf_append(b, c.p, yjs_cursor_left(&c));
        return;
    case YJS_CONTENT_STRING:
        yjs_utf16_split(s->c.str.utf8, off, &left, &right, &mid);
        if (!mid) {
            yjs_write_buf(b, right);
            return;
        }
        /* cut inside a surrogate pair: JS writes a lone low surrogate, which
         * TextEncoder turns into U+FFFD */
        yjs_write_varuint(b, right.len + 3);
        buf_append(b, YJS_FFFD_UTF8, 3);
        buf_append(b, right.ptr, right.len);
        return;
    default:
        /* length-1 contents are never written with an offset */
        buf_append(b, s->body.ptr, s->body.len);
        return;
    }
}

int yjs_write_struct(buf_t *b, const yjs_struct_t *s, uint64_t off)
{
    if (s->kind != YJS_KIND_ITEM) {
        uint8_t *p = buf_try_reserve(b, 11);
        if (!p)
            return YJS_E_NOMEM;
        p[0] = s->kind == YJS_KIND_GC ? 0 : 10;
        buf_commit(b, 1 + yjs_put_varuint(p + 1, s->len - off));
        return YJS_OK;
    }
    /* Room for everything this struct can take, reserved once with the fallible
     * allocator (the content size is the peer's): header fields, and the content whole
     * or sliced (a count or U+FFFD prefix at most 13 bytes more than the body). */
    uint8_t *p = buf_try_reserve(b, 1 + 40 + 21 + s->parent_key.len + 10 + s->parent_sub.len +
                                        s->body.len + 16);
    if (!p)
        return YJS_E_NOMEM;
    if (off == 0 && s->canonical) {
        /* re-encoding would give the wire bytes back, except that yjs drops bit 0x20
         * when an origin is present (spec 2.3, P3) */
        memcpy(p, s->raw.ptr, s->raw.len);
        if ((p[0] & 0xc0) && (p[0] & 0x20))
            p[0] &= (uint8_t)~0x20;
        buf_commit(b, s->raw.len);
        return YJS_OK;
    }
    bool has_origin = off > 0 || (s->flags & YJS_F_ORIGIN);
    bool has_right = (s->flags & YJS_F_RIGHT_ORIGIN) != 0;
    bool has_sub = (s->flags & YJS_F_PARENT_SUB) != 0;
    yjs_id_t origin = s->origin;
    if (off > 0)
        origin = (yjs_id_t){s->id.client, s->id.clock + off - 1};
    size_t n = 1;
    p[0] = (uint8_t)(s->content | (has_origin ? 0x80 : 0) | (has_right ? 0x40 : 0) |
                     (has_sub ? 0x20 : 0));
    if (has_origin)
        n += put_id(p + n, origin);
    if (has_right)
        n += put_id(p + n, s->right_origin);
    if (!has_origin && !has_right) {
        if (s->parent == YJS_PARENT_ROOT) {
            p[n++] = 1;
            n += yjs_put_varuint(p + n, s->parent_key.len);
            memcpy(p + n, s->parent_key.ptr, s->parent_key.len);
            n += s->parent_key.len;
        } else {
            p[n++] = 0;
            n += put_id(p + n, s->parent_id);
        }
        if (has_sub) {
            n += yjs_put_varuint(p + n, s->parent_sub.len);
            memcpy(p + n, s->parent_sub.ptr, s->parent_sub.len);
            n += s->parent_sub.len;
        }
    }
    buf_commit(b, n);
    write_content(b, s, off); /* fits in what is reserved: no allocation */
    return YJS_OK;
}

/* ---- lazy group writer ---- */

void yjs_lwriter_init(yjs_lwriter_t *w, buf_t *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->start = out->len;
    memset(buf_reserve(out, HOLE), 0, HOLE);
    buf_commit(out, HOLE);
}

static int open_group(yjs_lwriter_t *w, uint64_t client, uint64_t clock)
{
    if (w->ngroups == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 8;
        size_t *h = try_realloc(w->holes, ncap * sizeof *h);
        if (!h)
            return YJS_E_NOMEM;
        w->holes = h;
        uint64_t *c = try_realloc(w->counts, ncap * sizeof *c);
        if (!c)
            return YJS_E_NOMEM;
        w->counts = c;
        w->cap = ncap;
    }
    buf_t *out = w->out;
    w->holes[w->ngroups] = out->len;
    w->counts[w->ngroups] = 0;
    w->ngroups++;
    uint8_t *p = buf_reserve(out, HOLE + 20);
    memset(p, 0, HOLE);
    size_t n = HOLE + yjs_put_varuint(p + HOLE, client);
    n += yjs_put_varuint(p + n, clock);
    buf_commit(out, n);
    w->cur_client = client;
    w->count = 0;
    return YJS_OK;
}

int yjs_lwriter_put(yjs_lwriter_t *w, const yjs_view_t *v, uint64_t extra)
{
    const yjs_struct_t *s = &v->s;
    uint64_t off = v->off + extra;
    if (w->ngroups == 0 || w->count == 0 || s->id.client != w->cur_client) {
        int rc = open_group(w, s->id.client, s->id.clock + off);
        if (rc)
            return rc;
    }
    int rc = yjs_write_struct(w->out, s, off);
    if (rc)
        return rc;
    w->count++;
    w->counts[w->ngroups - 1] = w->count;
    return YJS_OK;
}

void yjs_lwriter_finish(yjs_lwriter_t *w)
{
    buf_t *out = w->out;
    uint8_t *base = buf_data(out);
    size_t end = out->len;
    size_t dst = w->start + yjs_put_varuint(base + w->start, w->ngroups);
    for (size_t g = 0; g < w->ngroups; g++) {
        size_t src = w->holes[g] + HOLE;
        size_t src_end = g + 1 < w->ngroups ? w->holes[g + 1] : end;
        dst += yjs_put_varuint(base + dst, w->counts[g]);
        memmove(base + dst, base + src, src_end - src);
        dst += src_end - src;
    }
    out->len = dst;
    yjs_lwriter_dispose(w);
}

void yjs_lwriter_dispose(yjs_lwriter_t *w)
{
    free(w->holes);
    free(w->counts);
    w->holes = NULL;
    w->counts = NULL;
    w->ngroups = w->cap = 0;
}

/* ---- delete sets ---- */

static int ds_push(yjs_dsset_t *ds, yjs_dsrec_t rec)
{
    if (ds->n == ds->cap) {
        size_t ncap = ds->cap ? ds->cap * 2 : 16;
        yjs_dsrec_t *p = try_realloc(ds->r, ncap * sizeof *p);
        if (!p)
            return YJS_E_NOMEM;
        ds->r = p;
        ds->cap = ncap;
    }
    rec.seq = ds->n;
    ds->r[ds->n++] = rec;
    return YJS_OK;
}

static int ds_read_entry(yjs_dsset_t *ds, yjs_cursor_t *c)
{
    uint64_t client, n;
    int rc;
    if ((rc = yjs_read_varuint(c, &client, "delete set client")) ||
        (rc = yjs_read_count(c, &n, 2, "delete set ranges")))
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *rat = c->p;
        yjs_dsrec_t rec = {.client = client};
        if ((rc = yjs_read_ds_range(c, &rec.clock, &rec.len)))
            return rc;
        if (ds_push(ds, rec))
            return yjs_error_set(c->err, YJS_E_NOMEM, (size_t)(rat - c->base),
                                 "out of memory reading the delete set");
    }
    return YJS_OK;
}

int yjs_dsset_read(yjs_dsset_t *ds, yjs_cursor_t *c)
{
    uint64_t n;
    int rc = yjs_read_count(c, &n, 2, "delete set clients");
    if (rc)
        return rc;
    for (uint64_t i = 0; i < n; i++)
        if ((rc = ds_read_entry(ds, c)))
            return rc;
    if (c->p != c->end)
        return yjs_error_set(c->err, YJS_E_TRAILING, yjs_cursor_offset(c),
                             "%zu trailing bytes after the delete set (not a v1 update?)",
                             yjs_cursor_left(c));
    return YJS_OK;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* clients descending, then clock ascending, then arrival */
static int cmp_merged(const void *pa, const void *pb)
{
    const yjs_dsrec_t *a = pa, *b = pb;
    if (a->client != b->client)
        return cmp_u64(b->client, a->client);
    if (a->clock != b->clock)
        return cmp_u64(a->clock, b->clock);
    return cmp_u64(a->seq, b->seq);
}

/* clients descending, then arrival */
static int cmp_as_read(const void *pa, const void *pb)
{
    const yjs_dsrec_t *a = pa, *b = pb;
    if (a->client != b->client)
        return cmp_u64(b->client, a->client);
    return cmp_u64(a->seq, b->seq);
}

/* Writes ds->r[0..n) (sorted by client descending) as a delete set. */
static void ds_write_sorted(const yjs_dsset_t *ds, buf_t *out)
{
    size_t nclients = 0;
    for (size_t i = 0; i < ds->n; i++)
        nclients += i == 0 || ds->r[i].client != ds->r[i - 1].client;
    yjs_write_varuint(out, nclients);
    for (size_t i = 0; i < ds->n;) {
        size_t j = i;
        while (j < ds->n && ds->r[j].client == ds->r[i].client)
            j++;
        yjs_write_varuint(out, ds->r[i].client);
        yjs_write_varuint(out, j - i);
        for (; i < j; i++) {
            yjs_write_varuint(out, ds->r[i].clock);
            yjs_write_varuint(out, ds->r[i].len);
        }
    }
}

void yjs_dsset_write_merged(yjs_dsset_t *ds, buf_t *out)
{
    if (ds->n > 1)
        qsort(ds->r, ds->n, sizeof *ds->r, cmp_merged);
    /* coalesce in place: overlapping or adjacent ranges of one client become one */
    size_t w = 0;
    for (size_t i = 0; i < ds->n; i++) {
        yjs_dsrec_t *cur = w ? &ds->r[w - 1] : NULL;
        const yjs_dsrec_t *nx = &ds->r[i];
        if (cur && cur->client == nx->client && cur->clock + cur->len >= nx->clock) {
            uint64_t end = nx->clock + nx->len;
            if (end - cur->clock > cur->len)
                cur->len = end - cur->clock;
            continue;
        }
        ds->r[w++] = *nx;
    }
    ds->n = w;
    ds_write_sorted(ds, out);
}

void yjs_dsset_write_as_read(yjs_dsset_t *ds, buf_t *out)
{
    if (ds->n > 1)
        qsort(ds->r, ds->n, sizeof *ds->r, cmp_as_read);
    ds_write_sorted(ds, out);
}

void yjs_dsset_dispose(yjs_dsset_t *ds)
{
    if (!ds)
        return;
    free(ds->r);
    ds->r = NULL;
    ds->n = ds->cap = 0;
}

void yjs_error_prefix(yjs_error_t *err, const char *prefix)
{
    if (!err || err->code == YJS_OK)
        return;
    char tmp[sizeof err->msg];
    snprintf(tmp, sizeof tmp, "%s%s", prefix, err->msg);
    memcpy(err->msg, tmp, sizeof tmp);
}
