/*
 * app_ydoc_store: documents, members and pending saves of the Yjs handlers, in memory.
 * See app_ydoc_store.h for the model; this file is its bookkeeping.
 */
#include "app/app_ydoc_store.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "yjs/yjs_merge.h"
#include "yjs/yjs_update.h"

struct app_ydoc_doc {
    app_ydoc_doc_t *hnext; /* next in the hash bucket */
    uint64_t hash;         /* of the id */
    char *id;              /* normalized id, NUL-terminated */
    size_t id_len;         /* its length */
    char *room;            /* "doc_" + id */
    buf_t merged;          /* one update: everything merged so far (empty = none) */
    buf_t tail;            /* updates appended since, back to back */
    uint32_t tail_len[APP_YDOC_MAX_PENDING]; /* their sizes */
    size_t n_tail;                           /* how many */
    bool has_updates;                        /* an update was ever stored */
    app_ydoc_member_t *first;                /* members in join order */
    app_ydoc_member_t *last;
    size_t n_members;
    app_ydoc_save_t *save; /* the pending save of this id, or NULL */
};

struct app_ydoc_member {
    app_ydoc_doc_t *doc;      /* the document */
    app_ydoc_peer_t *peer;    /* the editor */
    app_ydoc_member_t *dprev; /* doc's list, join order */
    app_ydoc_member_t *dnext;
    app_ydoc_member_t *pnext;  /* peer's list, newest first */
    app_ydoc_member_t **pprev; /* the pointer that points at this member */
    app_ydoc_access_t access;  /* the handlers' permission cache */
};

struct app_ydoc_save {
    app_ydoc_save_t *anext; /* every save (lookup by id when a doc reappears) */
    app_ydoc_save_t **aprev;
    app_ydoc_save_t *qnext; /* armed saves, by deadline */
    app_ydoc_save_t *qprev;
    app_ydoc_doc_t *doc; /* the open document of this id, or NULL */
    char *doc_id;        /* owned copies */
    char *note_id;
    buf_t data;    /* the data JSON, NUL-terminated */
    buf_t user;    /* the sender's user id, NUL-terminated */
    bool is_admin; /* the sender was an admin */
    bool armed;    /* data waits for its deadline */
    bool writing;  /* a write of this note is running */
    uint64_t due;  /* deadline (ms) while armed */
};

struct app_ydoc_store {
    app_ydoc_doc_t **buckets; /* documents by id (chained) */
    size_t n_buckets;         /* a power of two */
    size_t n_docs;
    app_ydoc_save_t *saves; /* every save */
    app_ydoc_save_t *qhead; /* armed saves, earliest deadline first */
    app_ydoc_save_t *qtail;
    size_t n_saves;
    size_t n_writing;
};

static const uint8_t EMPTY_UPDATE[2] = {0, 0};

/* FNV-1a: ids are short and not chosen to collide by anyone but their own editors. */
static uint64_t hash_id(slice_t id)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ id.ptr[i]) * 1099511628211ULL;
    return h;
}

app_ydoc_store_t *app_ydoc_store_new(void)
{
    app_ydoc_store_t *st = xcalloc(1, sizeof *st);
    st->n_buckets = 16;
    st->buckets = xcalloc(st->n_buckets, sizeof *st->buckets);
    return st;
}

size_t app_ydoc_store_docs(const app_ydoc_store_t *st)
{
    return st->n_docs;
}

/* ------------------------------------------------------------------ the document table */

static void grow_table(app_ydoc_store_t *st)
{
    size_t n = st->n_buckets * 2;
    app_ydoc_doc_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < st->n_buckets; i++) {
        app_ydoc_doc_t *d = st->buckets[i];
        while (d) {
            app_ydoc_doc_t *next = d->hnext;
            d->hnext = b[d->hash & (n - 1)];
            b[d->hash & (n - 1)] = d;
            d = next;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->n_buckets = n;
}

app_ydoc_doc_t *app_ydoc_store_find(const app_ydoc_store_t *st, slice_t id)
{
    uint64_t h = hash_id(id);
    for (app_ydoc_doc_t *d = st->buckets[h & (st->n_buckets - 1)]; d; d = d->hnext) {
        if (d->hash == h && d->id_len == id.len && memcmp(d->id, id.ptr, id.len) == 0)
            return d;
    }
    return NULL;
}

static app_ydoc_save_t *find_save(const app_ydoc_store_t *st, const char *id)
{
    for (app_ydoc_save_t *sv = st->saves; sv; sv = sv->anext) {
        if (!sv->doc && strcmp(sv->doc_id, id) == 0)
            return sv;
    }
    return NULL;
}

static app_ydoc_doc_t *doc_new(app_ydoc_store_t *st, slice_t id)
{
    if (st->n_docs >= st->n_buckets)
        grow_table(st);
    app_ydoc_doc_t *d = xcalloc(1, sizeof *d);
    d->hash = hash_id(id);
    d->id = xstrndup((const char *)id.ptr, id.len);
    d->id_len = id.len;
    d->room = xmalloc(id.len + 5);
    memcpy(d->room, "doc_", 4);
    memcpy(d->room + 4, id.ptr, id.len);
    d->room[id.len + 4] = '\0';
    size_t b = d->hash & (st->n_buckets - 1);
    d->hnext = st->buckets[b];
    st->buckets[b] = d;
    st->n_docs++;
    /* a save still pending from the document's previous life belongs to it again */
    d->save = find_save(st, d->id);
    if (d->save)
        d->save->doc = d;
    return d;
}

/* Clears a document (Open WebUI's clear_document): its updates go, its save stays. */
static void doc_free(app_ydoc_store_t *st, app_ydoc_doc_t *d)
{
    app_ydoc_doc_t **pp = &st->buckets[d->hash & (st->n_buckets - 1)];
    while (*pp != d)
        pp = &(*pp)->hnext;
    *pp = d->hnext;
    st->n_docs--;
    if (d->save)
        d->save->doc = NULL;
    buf_dispose(&d->merged);
    buf_dispose(&d->tail);
    free(d->room);
    free(d->id);
    free(d);
}

/* ------------------------------------------------------------------ members */

app_ydoc_member_t *app_ydoc_peer_find(const app_ydoc_peer_t *peer, slice_t id)
{
    for (app_ydoc_member_t *m = peer->members; m; m = m->pnext) {
        if (m->doc->id_len == id.len && memcmp(m->doc->id, id.ptr, id.len) == 0)
            return m;
    }
    return NULL;
}

app_ydoc_member_t *app_ydoc_store_join(app_ydoc_store_t *st, slice_t id, app_ydoc_peer_t *peer,
                                       bool *added)
{
    app_ydoc_member_t *m = app_ydoc_peer_find(peer, id);
    *added = m == NULL;
    if (m)
        return m;
    app_ydoc_doc_t *d = app_ydoc_store_find(st, id);
    if (!d)
        d = doc_new(st, id);
    m = xcalloc(1, sizeof *m);
    m->doc = d;
    m->peer = peer;
    m->dprev = d->last;
    if (d->last)
        d->last->dnext = m;
    else
        d->first = m;
    d->last = m;
    d->n_members++;
    m->pnext = peer->members;
    if (peer->members)
        peer->members->pprev = &m->pnext;
    m->pprev = &peer->members;
    peer->members = m;
    return m;
}

bool app_ydoc_store_leave(app_ydoc_store_t *st, app_ydoc_member_t *m)
{
    app_ydoc_doc_t *d = m->doc;
    if (m->dprev)
        m->dprev->dnext = m->dnext;
    else
        d->first = m->dnext;
    if (m->dnext)
        m->dnext->dprev = m->dprev;
    else
        d->last = m->dprev;
    d->n_members--;
    *m->pprev = m->pnext;
    if (m->pnext)
        m->pnext->pprev = m->pprev;
    free(m);
    if (d->n_members > 0)
        return false;
    doc_free(st, d);
    return true;
}

size_t app_ydoc_store_leave_all(app_ydoc_store_t *st, app_ydoc_peer_t *peer)
{
    size_t n = 0;
    while (peer->members) {
        app_ydoc_store_leave(st, peer->members);
        n++;
    }
    return n;
}

app_ydoc_doc_t *app_ydoc_member_doc(const app_ydoc_member_t *m)
{
    return m->doc;
}

app_ydoc_access_t *app_ydoc_member_access(app_ydoc_member_t *m)
{
    return &m->access;
}

const char *app_ydoc_doc_id(const app_ydoc_doc_t *d)
{
    return d->id;
}

const char *app_ydoc_doc_room(const app_ydoc_doc_t *d)
{
    return d->room;
}

size_t app_ydoc_doc_members(const app_ydoc_doc_t *d)
{
    return d->n_members;
}

app_ydoc_doc_t *app_ydoc_store_next_doc(const app_ydoc_store_t *st, const app_ydoc_doc_t *prev)
{
    if (prev && prev->hnext)
        return prev->hnext;
    size_t b = prev ? (size_t)(prev->hash & (st->n_buckets - 1)) + 1 : 0;
    for (; b < st->n_buckets; b++)
        if (st->buckets[b])
            return st->buckets[b];
    return NULL;
}

const app_ydoc_member_t *app_ydoc_doc_next_member(const app_ydoc_doc_t *d,
                                                  const app_ydoc_member_t *prev)
{
    return prev ? prev->dnext : d->first;
}

const char *app_ydoc_member_sid(const app_ydoc_member_t *m)
{
    return m->peer->sid;
}

void app_ydoc_doc_sessions_json(const app_ydoc_doc_t *d, buf_t *out)
{
    buf_append_byte(out, '[');
    for (const app_ydoc_member_t *m = d->first; m; m = m->dnext) {
        if (m != d->first)
            buf_append_byte(out, ',');
        json_append_string(out, slice_from_cstr(m->peer->sid));
    }
    buf_append_byte(out, ']');
}

/* ------------------------------------------------------------------ updates */

bool app_ydoc_doc_has_updates(const app_ydoc_doc_t *d)
{
    return d->has_updates;
}

size_t app_ydoc_doc_bytes(const app_ydoc_doc_t *d)
{
    return d->merged.len + d->tail.len;
}

/*
 * Merges the tail into the merged update. The merge writes into a fresh buffer that
 * replaces the old state, so a failure (out of memory: every input was validated when it
 * was appended) leaves the document as it was.
 */
static int compact(app_ydoc_doc_t *d)
{
    if (d->n_tail == 0)
        return APP_YDOC_OK;
    slice_t in[APP_YDOC_MAX_PENDING + 1];
    size_t n = 0;
    if (d->merged.len > 0)
        in[n++] = buf_slice(&d->merged);
    const uint8_t *p = buf_data(&d->tail);
    for (size_t i = 0; i < d->n_tail; i++) {
        in[n++] = slice_make(p, d->tail_len[i]);
        p += d->tail_len[i];
    }
    buf_t out = BUF_INIT;
    yjs_error_t err;
    if (yjs_merge_updates(in, n, &out, &err) != YJS_OK) {
        buf_dispose(&out);
        return APP_YDOC_ENOMEM;
    }
    buf_dispose(&d->merged);
    d->merged = out;
    /* the tail's storage goes too: an idle document keeps only its state */
    buf_dispose(&d->tail);
    d->n_tail = 0;
    return APP_YDOC_OK;
}

static bool tail_full(const app_ydoc_doc_t *d)
{
    size_t limit =
        d->merged.len > APP_YDOC_MIN_COMPACT_BYTES ? d->merged.len : APP_YDOC_MIN_COMPACT_BYTES;
    return d->n_tail >= APP_YDOC_MAX_PENDING || d->tail.len >= limit;
}

/*
 * A document near its limit may still take an update whose merge keeps it within the
 * limit: the echoes every editor sends back (spec §6.7) add nothing, and refusing them
 * would stop a full document's editors from converging. So merge right away and keep
 * the result only if it fits.
 */
static int append_at_limit(app_ydoc_doc_t *d, slice_t update)
{
    if (compact(d) != APP_YDOC_OK)
        return APP_YDOC_ENOMEM;
    slice_t in[2] = {buf_slice(&d->merged), update};
    buf_t out = BUF_INIT;
    yjs_error_t err;
    if (yjs_merge_updates(in, 2, &out, &err) != YJS_OK) {
        buf_dispose(&out);
        return APP_YDOC_ENOMEM;
    }
    if (out.len > APP_YDOC_MAX_DOC_BYTES) {
        buf_dispose(&out);
        return APP_YDOC_EFULL;
    }
    buf_dispose(&d->merged);
    d->merged = out;
    d->has_updates = true;
    return APP_YDOC_OK;
}

int app_ydoc_doc_append(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t update, yjs_error_t *err)
{
    (void)st;
    if (yjs_update_validate(update.ptr, update.len, err) != YJS_OK)
        return APP_YDOC_EINVAL;
    if (app_ydoc_doc_bytes(d) + update.len > APP_YDOC_MAX_DOC_BYTES)
        return append_at_limit(d, update);
    uint8_t *w = buf_try_reserve(&d->tail, update.len);
    if (!w)
        return APP_YDOC_ENOMEM;
    memcpy(w, update.ptr, update.len);
    buf_commit(&d->tail, update.len);
    d->tail_len[d->n_tail++] = (uint32_t)update.len;
    if (tail_full(d) && compact(d) != APP_YDOC_OK) {
        d->tail.len -= update.len;
        d->n_tail--;
        return APP_YDOC_ENOMEM;
    }
    d->has_updates = true;
    return APP_YDOC_OK;
}

int app_ydoc_doc_state(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t *out)
{
    (void)st;
    int rc = compact(d);
    if (rc != APP_YDOC_OK)
        return rc;
    *out = d->merged.len ? buf_slice(&d->merged) : slice_make(EMPTY_UPDATE, 2);
    return APP_YDOC_OK;
}

/* ------------------------------------------------------------------ saves */

static void queue_remove(app_ydoc_store_t *st, app_ydoc_save_t *sv)
{
    if (sv->qprev)
        sv->qprev->qnext = sv->qnext;
    else
        st->qhead = sv->qnext;
    if (sv->qnext)
        sv->qnext->qprev = sv->qprev;
    else
        st->qtail = sv->qprev;
    sv->qnext = sv->qprev = NULL;
    sv->armed = false;
}

/* Inserts by deadline, scanning from the tail: with one fixed delay that is O(1). */
static void queue_insert(app_ydoc_store_t *st, app_ydoc_save_t *sv)
{
    app_ydoc_save_t *after = st->qtail;
    while (after && after->due > sv->due)
        after = after->qprev;
    sv->qprev = after;
    sv->qnext = after ? after->qnext : st->qhead;
    if (sv->qnext)
        sv->qnext->qprev = sv;
    else
        st->qtail = sv;
    if (after)
        after->qnext = sv;
    else
        st->qhead = sv;
    sv->armed = true;
}

static app_ydoc_save_t *save_new(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t note_id)
{
    app_ydoc_save_t *sv = xcalloc(1, sizeof *sv);
    sv->doc = d;
    sv->doc_id = xstrndup(d->id, d->id_len);
    sv->note_id = xstrndup((const char *)note_id.ptr, note_id.len);
    sv->anext = st->saves;
    if (st->saves)
        st->saves->aprev = &sv->anext;
    sv->aprev = &st->saves;
    st->saves = sv;
    st->n_saves++;
    d->save = sv;
    return sv;
}

static void save_free(app_ydoc_store_t *st, app_ydoc_save_t *sv)
{
    if (sv->armed)
        queue_remove(st, sv);
    *sv->aprev = sv->anext;
    if (sv->anext)
        sv->anext->aprev = sv->aprev;
    st->n_saves--;
    if (sv->doc)
        sv->doc->save = NULL;
    buf_dispose(&sv->data);
    buf_dispose(&sv->user);
    free(sv->doc_id);
    free(sv->note_id);
    free(sv);
}

/* Replaces the content of `b` with `s` plus a NUL, reusing its storage (a save's data is
 * rewritten on every keystroke). On failure `b` is left empty. */
static int set_cstr(buf_t *b, slice_t s)
{
    buf_clear(b);
    uint8_t *w = buf_try_reserve(b, s.len + 1);
    if (!w)
        return APP_YDOC_ENOMEM;
    memcpy(w, s.ptr, s.len);
    w[s.len] = '\0';
    buf_commit(b, s.len + 1);
    return APP_YDOC_OK;
}

int app_ydoc_save_schedule(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t note_id,
                           slice_t data_json, const char *user_id, bool is_admin, uint64_t now_ms,
                           uint64_t delay_ms)
{
    app_ydoc_save_t *sv = d->save ? d->save : save_new(st, d, note_id);
    int rc = set_cstr(&sv->data, data_json);
    if (rc == APP_YDOC_OK)
        rc = set_cstr(&sv->user, slice_from_cstr(user_id));
    if (rc != APP_YDOC_OK) {
        /* the previous data is gone with the buffer: nothing left to write */
        if (sv->armed)
            queue_remove(st, sv);
        if (!sv->writing)
            save_free(st, sv);
        return rc;
    }
    sv->is_admin = is_admin;
    if (sv->armed)
        queue_remove(st, sv);
    sv->due = now_ms + delay_ms;
    queue_insert(st, sv);
    return APP_YDOC_OK;
}

int64_t app_ydoc_save_next_due(const app_ydoc_store_t *st)
{
    for (const app_ydoc_save_t *sv = st->qhead; sv; sv = sv->qnext) {
        if (!sv->writing)
            return (int64_t)sv->due;
    }
    return -1;
}

app_ydoc_save_t *app_ydoc_save_take(app_ydoc_store_t *st, uint64_t now_ms, bool all,
                                    app_ydoc_save_job_t *job)
{
    app_ydoc_save_t *sv = st->qhead;
    while (sv && (sv->writing || (!all && sv->due > now_ms))) {
        if (!all && sv->due > now_ms)
            return NULL;
        sv = sv->qnext;
    }
    if (!sv)
        return NULL;
    queue_remove(st, sv);
    sv->writing = true;
    st->n_writing++;
    job->doc_id = sv->doc_id;
    job->note_id = sv->note_id;
    job->data_json = (const char *)buf_data(&sv->data);
    job->user_id = (const char *)buf_data(&sv->user);
    job->is_admin = sv->is_admin;
    return sv;
}

void app_ydoc_save_done(app_ydoc_store_t *st, app_ydoc_save_t *sv)
{
    sv->writing = false;
    st->n_writing--;
    if (!sv->armed)
        save_free(st, sv);
}

size_t app_ydoc_save_count(const app_ydoc_store_t *st)
{
    return st->n_saves;
}

size_t app_ydoc_save_writing(const app_ydoc_store_t *st)
{
    return st->n_writing;
}

/* ------------------------------------------------------------------ teardown */

void app_ydoc_store_free(app_ydoc_store_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_buckets; i++) {
        while (st->buckets[i]) {
            app_ydoc_doc_t *d = st->buckets[i];
            if (!d->first)
                doc_free(st, d);
            else
                while (!app_ydoc_store_leave(st, d->first)) /* the last one frees d */
                    ;
        }
    }
    while (st->saves)
        save_free(st, st->saves);
    free(st->buckets);
    free(st);
}
