/*
 * yjs_merge: mergeUpdates, diffUpdate and encodeStateVectorFromUpdate. See yjs_merge.h.
 *
 * How the merge stays O(size) while matching yjs's O(structs x updates) loop:
 *
 * yjs keeps an array of readers and, on every step, re-sorts it with V8's TimSort and a
 * comparator on the readers' current structs (client descending, clock ascending,
 * then class), and works on the first reader. Between two sorts only that first
 * reader changes. So the array we keep, `ord[lo..hi)`, is exactly yjs's array, and a
 * step is one of:
 *  - the first reader is exhausted: drop it (a sorted array minus its head is sorted);
 *  - its new head does not tie with a GC/Item of the same ID anywhere: the comparator
 *    is then a strict weak order on the array, TimSort is a stable sort, and the
 *    result is the old array with the reader moved to the first position whose key is
 *    not less than its own (binary search + memmove of the skipped prefix);
 *  - otherwise (the GC/Item tie of spec 3.4, where the comparator contradicts itself):
 *    run the real TimSort (yjs_timsort) over the array, as V8 does.
 * `nconf` counts adjacent GC/Item ties left by the last sort, so we know when the
 * cheap path is exact.
 *
 * Readers that have not been reached yet cost 8 bytes (their slot in ord and state):
 * their head key is peeked from the first bytes of the input when a comparison needs
 * it, and a full lazy reader is only set up when the reader reaches the head. Each
 * reader's delete set is collected when its structs run out.
 *
 *   state[i]: ST_UNSTARTED --(reaches the head)--> slot index --(exhausted)--> ST_DONE
 */
#include "yjs/yjs_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "yjs/yjs_lazy.h"
#include "yjs/yjs_timsort.h"
#include "yjs/yjs_update.h"

#define ST_UNSTARTED UINT32_MAX
#define ST_DONE (UINT32_MAX - 1)

/* The part of a reader's current struct that yjs's comparator looks at. */
typedef struct mkey {
    uint64_t client;
    uint64_t clock;
    uint8_t kind;
} mkey_t;

typedef struct slot {
    yjs_lreader_t r;
    uint32_t input;
} slot_t;

typedef struct merge {
    const slice_t *in;    /* the inputs (borrowed) */
    size_t n;
    uint32_t *state;      /* per input: slot index, ST_UNSTARTED or ST_DONE */
    uint32_t *ord;        /* yjs's reader array is ord[lo..hi) */
    size_t lo, hi;
    size_t nconf;         /* adjacent GC/Item ties in ord after the last sort */
    bool conf_front;      /* ... of which one is the pair ord[lo], ord[lo+1] */
    slot_t *slots;        /* active readers */
    size_t nslots, capslots;
    uint32_t *free_slots; /* recycled slot indices */
    size_t nfree;
    yjs_dsset_t ds;       /* every input's delete set */
    yjs_lwriter_t w;
    yjs_error_t *err;
} merge_t;

/* ---- reader keys ---- */

/* Head key of an input no reader has been set up for. Its first bytes were validated
 * by merge_init, so this cannot fail. */
static mkey_t peek_key(const merge_t *m, uint32_t i)
{
    yjs_cursor_t c = yjs_cursor_make(m->in[i].ptr, m->in[i].len, NULL);
    uint64_t skip;
    mkey_t k = {0, 0, 0};
    uint8_t info = 0;
    (void)yjs_read_varuint(&c, &skip, NULL);
    (void)yjs_read_varuint(&c, &skip, NULL);
    (void)yjs_read_varuint(&c, &k.client, NULL);
    (void)yjs_read_varuint(&c, &k.clock, NULL);
    (void)yjs_read_u8(&c, &info, NULL);
    k.kind = info == 0 ? YJS_KIND_GC : YJS_KIND_ITEM;
    return k;
}

static inline mkey_t key_of(const merge_t *m, uint32_t i)
{
    uint32_t st = m->state[i];
    if (st == ST_UNSTARTED)
        return peek_key(m, i);
    const yjs_struct_t *s = &m->slots[st].r.cur;
    return (mkey_t){s->id.client, s->id.clock, s->kind};
}

/* yjs's comparator, contradictions included (spec 3.4). */
static int js_cmp(void *ctx, uint32_t a, uint32_t b)
{
    const merge_t *m = ctx;
    mkey_t ka = key_of(m, a), kb = key_of(m, b);
    if (ka.client != kb.client)
        return kb.client > ka.client ? 1 : -1;
    if (ka.clock != kb.clock)
        return ka.clock < kb.clock ? -1 : 1;
    if (ka.kind == kb.kind)
        return 0;
    return ka.kind == YJS_KIND_SKIP ? 1 : -1;
}

static inline bool is_conflict(mkey_t a, mkey_t b)
{
    return a.client == b.client && a.clock == b.clock && a.kind != b.kind;
}

/* a sorts strictly before b on (client desc, clock asc) */
static inline bool id_before(mkey_t a, mkey_t b)
{
    return a.client != b.client ? a.client > b.client : a.clock < b.clock;
}

static void recount_conflicts(merge_t *m)
{
    m->nconf = 0;
    m->conf_front = false;
    if (m->hi - m->lo < 2)
        return;
    mkey_t prev = key_of(m, m->ord[m->lo]);
    for (size_t i = m->lo + 1; i < m->hi; i++) {
        mkey_t k = key_of(m, m->ord[i]);
        if (is_conflict(prev, k)) {
            m->nconf++;
            m->conf_front |= i == m->lo + 1;
        }
        prev = k;
    }
}

static int full_sort(merge_t *m)
{
    if (yjs_timsort(m->ord + m->lo, m->hi - m->lo, js_cmp, m))
        return yjs_error_set(m->err, YJS_E_NOMEM, 0, "out of memory sorting readers");
    recount_conflicts(m);
    return YJS_OK;
}

/* Re-sorts after a step that changed only the head reader (see the file comment). */
static int resort(merge_t *m)
{
    uint32_t cd = m->ord[m->lo];
    size_t rest_conf = m->nconf - (m->conf_front ? 1 : 0);
    if (m->state[cd] == ST_DONE) {
        m->lo++;
        m->nconf = rest_conf;
        m->conf_front = m->hi - m->lo >= 2 &&
                        is_conflict(key_of(m, m->ord[m->lo]), key_of(m, m->ord[m->lo + 1]));
        return rest_conf ? full_sort(m) : YJS_OK;
    }
    if (rest_conf)
        return full_sort(m);
    mkey_t kc = key_of(m, cd);
    size_t l = m->lo + 1, r = m->hi;
    while (l < r) {
        size_t mid = l + (r - l) / 2;
        if (id_before(key_of(m, m->ord[mid]), kc))
            l = mid + 1;
        else
            r = mid;
    }
    if (l < m->hi && is_conflict(key_of(m, m->ord[l]), kc))
        return full_sort(m);
    memmove(m->ord + m->lo, m->ord + m->lo + 1, (l - m->lo - 1) * sizeof *m->ord);
    m->ord[l - 1] = cd;
    m->nconf = 0;
    m->conf_front = false;
    return YJS_OK;
}

/* ---- reader slots ---- */

static void fail_input(merge_t *m, uint32_t input)
{
    if (!m->err || m->err->input || m->n < 2)
        return;
    m->err->input = input;
    char p[32];
    snprintf(p, sizeof p, "update %u: ", input);
    yjs_error_prefix(m->err, p);
}

/* The reader's structs are exhausted: collect its delete set and free its slot. */
static int retire(merge_t *m, uint32_t si)
{
    slot_t *s = &m->slots[si];
    int rc = yjs_dsset_read(&m->ds, &s->r.c);
    if (rc) {
        fail_input(m, s->input);
        return rc;
    }
    m->state[s->input] = ST_DONE;
    m->free_slots[m->nfree++] = si;
    return YJS_OK;
}

static int activate(merge_t *m, uint32_t input)
{
    uint32_t si;
    if (m->nfree) {
        si = m->free_slots[--m->nfree];
    } else {
        if (m->nslots == m->capslots) {
            size_t ncap = m->capslots ? m->capslots * 2 : 8;
            slot_t *p = try_realloc(m->slots, ncap * sizeof *p);
            uint32_t *f = p ? try_realloc(m->free_slots, ncap * sizeof *f) : NULL;
            if (p)
                m->slots = p;
            if (!f)
                return yjs_error_set(m->err, YJS_E_NOMEM, 0, "out of memory for readers");
            m->free_slots = f;
            m->capslots = ncap;
        }
        si = (uint32_t)m->nslots++;
    }
    slot_t *s = &m->slots[si];
    s->input = input;
    m->state[input] = si;
    int rc = yjs_lreader_init(&s->r, m->in[input], true, m->err);
    if (rc) {
        fail_input(m, input);
        return rc;
    }
    return s->r.has ? YJS_OK : retire(m, si);
}

static int advance(merge_t *m, uint32_t si)
{
    yjs_lreader_t *r = &m->slots[si].r;
    int rc = yjs_lreader_next(r);
    if (rc) {
        fail_input(m, m->slots[si].input);
        return rc;
    }
    return r->has ? YJS_OK : retire(m, si);
}

/* Checks the first bytes of every input and decides how its reader starts: inputs
 * whose first group has a first struct that is not a Skip wait unstarted (8 bytes
 * each); the others get a reader at once (or are done, if they have no structs). */
static int merge_init(merge_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        yjs_cursor_t c = yjs_cursor_make(m->in[i].ptr, m->in[i].len, m->err);
        uint64_t ngroups, nstructs, client, clock;
        uint8_t info;
        int rc;
        if (m->in[i].len > YJS_MAX_UPDATE_SIZE) {
            yjs_error_set(m->err, YJS_E_LIMIT, 0, "update larger than 2 GiB");
            fail_input(m, i);
            return YJS_E_LIMIT;
        }
        if ((rc = yjs_read_varuint(&c, &ngroups, "group count")))
            goto fail;
        bool lazy = ngroups > 0;
        if (lazy && ((rc = yjs_read_varuint(&c, &nstructs, "struct count")) ||
                     (rc = yjs_read_varuint(&c, &client, "group client")) ||
                     (rc = yjs_read_varuint(&c, &clock, "group first clock"))))
            goto fail;
        if (lazy && nstructs > 0 && (rc = yjs_read_u8(&c, &info, "struct info byte")))
            goto fail;
        if (lazy && nstructs > 0 && info != 10) {
            m->state[i] = ST_UNSTARTED;
            m->ord[m->hi++] = i;
            continue;
        }
        if ((rc = activate(m, i)))
            return rc;
        if (m->state[i] != ST_DONE)
            m->ord[m->hi++] = i;
        continue;
    fail:
        fail_input(m, i);
        return rc;
    }
    return YJS_OK;
}

/* ---- the merge loop (spec 3.4) ---- */

static inline uint64_t view_end(const yjs_view_t *v)
{
    return v->s.id.clock + v->s.len;
}

/* One step with a pending struct: the body of yjs's `if (currWrite !== null)`.
 * Returns YJS_OK, an error, or 1 for yjs's `continue` (re-sort first). */
static int step_pending(merge_t *m, uint32_t si, yjs_view_t *pend)
{
    yjs_lreader_t *r = &m->slots[si].r;
    uint64_t fc = r->cur.id.client;
    bool moved = false;
    int rc;
    /* drop what is already covered by the pending struct */
    while (r->has && r->cur.id.clock + r->cur.len <= view_end(pend) &&
           r->cur.id.client >= pend->s.id.client) {
        if ((rc = advance(m, si)))
            return rc;
        moved = true;
    }
    if (!r->has || r->cur.id.client != fc || (moved && r->cur.id.clock > view_end(pend)))
        return 1;
    if (fc != pend->s.id.client) {
        if ((rc = yjs_lwriter_put(&m->w, pend, 0)))
            return rc;
        *pend = (yjs_view_t){r->cur, 0};
        return advance(m, si);
    }
    if (view_end(pend) < r->cur.id.clock) { /* a gap: fill it with a Skip */
        if (pend->s.kind == YJS_KIND_SKIP) {
            pend->s.len = r->cur.id.clock + r->cur.len - pend->s.id.clock;
            return YJS_OK;
        }
        if ((rc = yjs_lwriter_put(&m->w, pend, 0)))
            return rc;
        uint64_t gap_at = view_end(pend);
        memset(pend, 0, sizeof *pend);
        pend->s.kind = YJS_KIND_SKIP;
        pend->s.id = (yjs_id_t){fc, gap_at};
        pend->s.len = r->cur.id.clock - gap_at;
        return YJS_OK;
    }
    uint64_t d = view_end(pend) - r->cur.id.clock; /* overlap (or 0: adjacent) */
    yjs_view_t cv = {r->cur, 0};
    if (d > 0) {
        if (pend->s.kind == YJS_KIND_SKIP)
            pend->s.len -= d;
        else
            cv.off = d;
    }
    if (pend->s.kind == cv.s.kind && pend->s.kind != YJS_KIND_ITEM) {
        pend->s.len += cv.s.len - cv.off; /* GC+GC or Skip+Skip; r is not advanced */
        return YJS_OK;
    }
    if ((rc = yjs_lwriter_put(&m->w, pend, 0)))
        return rc;
    *pend = cv;
    return advance(m, si);
}

static int merge_loop(merge_t *m)
{
    yjs_view_t pend;
    bool have_pend = false;
    int rc = full_sort(m);
    while (rc == YJS_OK && m->lo < m->hi) {
        uint32_t cd = m->ord[m->lo];
        if (m->state[cd] == ST_UNSTARTED && (rc = activate(m, cd)))
            return rc;
        if (m->state[cd] == ST_DONE) { /* it held only Skips: cannot happen for a reader
                                          that waited unstarted, kept for safety */
            rc = resort(m);
            continue;
        }
        uint32_t si = m->state[cd];
        yjs_lreader_t *r = &m->slots[si].r;
        uint64_t fc = r->cur.id.client;
        if (!have_pend) {
            pend = (yjs_view_t){r->cur, 0};
            have_pend = true;
            rc = advance(m, si);
        } else {
            rc = step_pending(m, si, &pend);
            if (rc == 1) {
                rc = resort(m);
                continue;
            }
        }
        /* drain what continues directly in the same reader */
        while (rc == YJS_OK && r->has && r->cur.id.client == fc &&
               r->cur.id.clock == view_end(&pend) && r->cur.kind != YJS_KIND_SKIP) {
            if ((rc = yjs_lwriter_put(&m->w, &pend, 0)))
                break;
            pend = (yjs_view_t){r->cur, 0};
            rc = advance(m, si);
        }
        if (rc == YJS_OK)
            rc = resort(m);
    }
    if (rc == YJS_OK && have_pend)
        rc = yjs_lwriter_put(&m->w, &pend, 0);
    if (rc == YJS_E_NOMEM)
        yjs_error_set(m->err, rc, 0, "out of memory writing the merged update");
    return rc;
}

static void merge_dispose(merge_t *m)
{
    free(m->state);
    free(m->ord);
    free(m->slots);
    free(m->free_slots);
    yjs_dsset_dispose(&m->ds);
    yjs_lwriter_dispose(&m->w);
}

int yjs_merge_updates(const slice_t *updates, size_t n, buf_t *out, yjs_error_t *err)
{
    yjs_error_clear(err);
    if (n == 0) {
        buf_append(out, "\0\0", 2);
        return YJS_OK;
    }
    if (!updates || n > YJS_MAX_MERGE_INPUTS)
        return yjs_error_set(err, YJS_E_ARG, 0, "invalid input list");
    if (n == 1) {
        int rc = yjs_update_validate(updates[0].ptr, updates[0].len, err);
        if (rc == YJS_OK)
            buf_append(out, updates[0].ptr, updates[0].len);
        return rc;
    }
    size_t start = out->len;
    merge_t m = {.in = updates, .n = n, .err = err};
    m.state = try_malloc(n * sizeof *m.state);
    m.ord = try_malloc(n * sizeof *m.ord);
    int rc = YJS_E_NOMEM;
    if (!m.state || !m.ord) {
        yjs_error_set(err, rc, 0, "out of memory for %zu inputs", n);
        goto out_dispose;
    }
    /* The merged update is about as large as its inputs together: reserving that much
     * once saves the copies (and the freed, still resident, old blocks) of growing the
     * buffer by doubling; pages of the reservation that are never written cost no RSS. */
    size_t estimate = 64;
    for (size_t i = 0; i < n && estimate < YJS_MAX_UPDATE_SIZE; i++)
        estimate += updates[i].len;
    if (!buf_try_reserve(out, estimate < YJS_MAX_UPDATE_SIZE ? estimate : YJS_MAX_UPDATE_SIZE))
        estimate = 0; /* no matter: the buffer grows as needed */
    yjs_lwriter_init(&m.w, out);
    if ((rc = merge_init(&m)) || (rc = merge_loop(&m)))
        goto out_dispose;
    yjs_lwriter_finish(&m.w);
    yjs_dsset_write_merged(&m.ds, out);
out_dispose:
    if (rc)
        out->len = start;
    merge_dispose(&m);
    return rc;
}

/* ---- state vector (spec 3.6) ---- */

/* Reads the delete set after the structs, only to validate the whole update. */
static int validate_rest(yjs_lreader_t *r)
{
    yjs_dsset_t ds = {0};
    int rc = yjs_dsset_read(&ds, &r->c);
    yjs_dsset_dispose(&ds);
    return rc;
}

/* Appends one (client, clock) pair of a state vector when the clock is not 0. */
static void sv_pair(buf_t *out, uint64_t client, uint64_t clock, uint64_t *npairs)
{
    if (clock == 0)
        return;
    yjs_write_varuint(out, client);
    yjs_write_varuint(out, clock);
    (*npairs)++;
}

int yjs_state_vector_from_update(slice_t update, buf_t *out, yjs_error_t *err)
{
    yjs_error_clear(err);
    size_t start = out->len;
    yjs_lreader_t r;
    int rc = yjs_lreader_init(&r, update, false, err);
    if (rc)
        return rc;
    memset(buf_reserve(out, 10), 0, 10); /* hole for the pair count */
    buf_commit(out, 10);
    uint64_t npairs = 0;
    if (r.has) {
        uint64_t cur = r.cur.id.client;
        bool stop = r.cur.id.clock != 0;
        uint64_t clk = stop ? 0 : r.cur.id.clock + r.cur.len; /* yjs's quirk: kept even
                                                                  if the first is a Skip */
        for (; r.has && rc == YJS_OK; rc = yjs_lreader_next(&r)) {
            if (r.cur.id.client != cur) {
                sv_pair(out, cur, clk, &npairs);
                cur = r.cur.id.client;
                clk = 0;
                stop = r.cur.id.clock != 0;
            }
            if (r.cur.kind == YJS_KIND_SKIP)
                stop = true;
            if (!stop)
                clk = r.cur.id.clock + r.cur.len;
        }
        if (rc == YJS_OK)
            sv_pair(out, cur, clk, &npairs);
    }
    if (rc || (rc = validate_rest(&r))) {
        out->len = start;
        return rc;
    }
    uint8_t *base = buf_data(out);
    size_t n = yjs_put_varuint(base + start, npairs);
    memmove(base + start + n, base + start + 10, out->len - start - 10);
    out->len -= 10 - n;
    return YJS_OK;
}

/* ---- state vectors and diff (spec 3.7, 3.9) ---- */

typedef struct svpair {
    uint64_t client;
    uint64_t clock;
    size_t seq;
} svpair_t;

static int cmp_sv(const void *pa, const void *pb)
{
    const svpair_t *a = pa, *b = pb;
    if (a->client != b->client)
        return a->client < b->client ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Decodes a state vector into pairs sorted by client, a later duplicate winning
 * (decodeStateVector puts them in a Map). `*pairs` may be NULL to only validate. */
static int sv_decode(slice_t sv, svpair_t **pairs, size_t *n, yjs_error_t *err)
{
    yjs_cursor_t c = yjs_cursor_make(sv.ptr, sv.len, err);
    uint64_t cnt;
    int rc = yjs_read_count(&c, &cnt, 2, "state vector size");
    if (rc)
        return rc;
    svpair_t *p = pairs && cnt ? try_malloc((size_t)cnt * sizeof *p) : NULL;
    if (pairs && cnt && !p)
        return yjs_error_set(err, YJS_E_NOMEM, 0, "out of memory for the state vector");
    for (uint64_t i = 0; i < cnt; i++) {
        svpair_t e = {.seq = (size_t)i};
        if ((rc = yjs_read_varuint(&c, &e.client, "state vector client")) ||
            (rc = yjs_read_varuint(&c, &e.clock, "state vector clock"))) {
            free(p);
            return rc;
        }
        if (p)
            p[i] = e;
    }
    if (c.p != c.end) {
        free(p);
        return yjs_error_set(err, YJS_E_TRAILING, yjs_cursor_offset(&c),
                             "%zu trailing bytes after the state vector", yjs_cursor_left(&c));
    }
    size_t w = 0;
    if (p) {
        qsort(p, (size_t)cnt, sizeof *p, cmp_sv);
        for (size_t i = 0; i < cnt; i++) {
            if (w && p[w - 1].client == p[i].client)
                w--;
            p[w++] = p[i];
        }
        *pairs = p;
    }
    *n = w;
    return YJS_OK;
}

int yjs_state_vector_validate(slice_t sv, yjs_error_t *err)
{
    size_t n;
    yjs_error_clear(err);
    return sv_decode(sv, NULL, &n, err);
}

static uint64_t sv_get(const svpair_t *p, size_t n, uint64_t client)
{
    size_t l = 0, r = n;
    while (l < r) {
        size_t mid = l + (r - l) / 2;
        if (p[mid].client < client)
            l = mid + 1;
        else
            r = mid;
    }
    return l < n && p[l].client == client ? p[l].clock : 0;
}

static int diff_loop(yjs_lreader_t *r, yjs_lwriter_t *w, const svpair_t *sv, size_t nsv)
{
    int rc = YJS_OK;
    while (rc == YJS_OK && r->has) {
        uint64_t client = r->cur.id.client;
        uint64_t svc = sv_get(sv, nsv, client);
        if (r->cur.kind == YJS_KIND_SKIP) {
            rc = yjs_lreader_next(r);
            continue;
        }
        if (r->cur.id.clock + r->cur.len <= svc) {
            while (rc == YJS_OK && r->has && r->cur.id.client == client &&
                   r->cur.id.clock + r->cur.len <= svc)
                rc = yjs_lreader_next(r);
            continue;
        }
        yjs_view_t v = {r->cur, svc > r->cur.id.clock ? svc - r->cur.id.clock : 0};
        if ((rc = yjs_lwriter_put(w, &v, 0)))
            break;
        rc = yjs_lreader_next(r);
        while (rc == YJS_OK && r->has && r->cur.id.client == client) {
            v = (yjs_view_t){r->cur, 0};
            if ((rc = yjs_lwriter_put(w, &v, 0)))
                break;
            rc = yjs_lreader_next(r);
        }
    }
    return rc;
}

int yjs_diff_update(slice_t update, slice_t sv, buf_t *out, yjs_error_t *err)
{
    yjs_error_clear(err);
    svpair_t *pairs = NULL;
    size_t npairs = 0;
    int rc = sv_decode(sv, &pairs, &npairs, err);
    if (rc) {
        if (err)
            err->input = 1;
        yjs_error_prefix(err, "state vector: ");
        return rc;
    }
    size_t start = out->len;
    yjs_lreader_t r;
    yjs_lwriter_t w;
    yjs_dsset_t ds = {0};
    yjs_lwriter_init(&w, out);
    if ((rc = yjs_lreader_init(&r, update, false, err)) || (rc = diff_loop(&r, &w, pairs, npairs)))
        goto out_fail;
    yjs_lwriter_finish(&w);
    if ((rc = yjs_dsset_read(&ds, &r.c)))
        goto out_fail;
    yjs_dsset_write_as_read(&ds, out);
    goto out_free;
out_fail:
    if (rc == YJS_E_NOMEM)
        yjs_error_set(err, rc, 0, "out of memory writing the diff");
    yjs_lwriter_dispose(&w);
    out->len = start;
out_free:
    yjs_dsset_dispose(&ds);
    free(pairs);
    return rc;
}
