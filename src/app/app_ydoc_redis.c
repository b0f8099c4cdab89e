/*
 * app_ydoc_redis: Open WebUI's Redis layout of the Yjs documents. See app_ydoc_redis.h.
 *
 * Compaction, one at a time per node:
 *
 *   RPUSH reply n >= 500 ─► LRANGE 0 k-1 (k = n/2) ─► yjs_merge_updates ─► COMPACT script:
 *       if LINDEX 0 and LINDEX k-1 still hash to what was merged: LTRIM k -1, LPUSH merged
 *
 * Requests that need the store after their reply (the compaction steps) count in
 * `inflight`; app_ydoc_redis_free only marks the store gone while any is out, and the
 * last reply frees it.
 */
#include "app/app_ydoc_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_ydoc_wire.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/sha1.h"
#include "yjs/yjs_merge.h"

static const char LUA_JOIN[] = "redis.call('SADD', KEYS[1], ARGV[1]) "
                               "redis.call('SADD', KEYS[2], ARGV[2]) "
                               "return redis.call('LRANGE', KEYS[3], 0, -1)";

static const char LUA_LEAVE[] = "redis.call('SREM', KEYS[1], ARGV[1]) "
                                "redis.call('SREM', KEYS[2], ARGV[2]) "
                                "if redis.call('SCARD', KEYS[1]) == 0 then "
                                "redis.call('DEL', KEYS[1], KEYS[3]) end return 1";

static const char LUA_LEAVE_ALL[] =
    "local docs = redis.call('SMEMBERS', KEYS[1]) "
    "for _, d in ipairs(docs) do local u = ARGV[2] .. d .. ':users' "
    "redis.call('SREM', u, ARGV[1]) "
    "if redis.call('SCARD', u) == 0 then redis.call('DEL', u, ARGV[2] .. d .. ':updates') end "
    "end redis.call('DEL', KEYS[1]) return #docs";

static const char LUA_COMPACT[] =
    "local n = tonumber(ARGV[1]) local a = redis.call('LINDEX', KEYS[1], 0) "
    "local b = redis.call('LINDEX', KEYS[1], n - 1) "
    "if a and b and redis.sha1hex(a) == ARGV[2] and redis.sha1hex(b) == ARGV[3] then "
    "redis.call('LTRIM', KEYS[1], n, -1) redis.call('LPUSH', KEYS[1], ARGV[4]) return 1 end "
    "return 0";

struct app_ydoc_redis {
    app_redis_t *r;
    buf_t base;       /* "<prefix>:ydoc:documents:" */
    buf_t k1, k2, k3; /* key scratch */
    buf_t val;        /* value scratch */
    size_t inflight;  /* replies that use this store */
    bool compacting;  /* one compaction at a time */
    bool gone;
    size_t compactions;
    uint64_t log_n;
};

/* A request whose reply needs the document's key (append, compaction). */
typedef struct doc_req {
    app_ydoc_redis_t *yr;
    size_t k;   /* compaction: how many elements were read */
    char key[]; /* the updates list key */
} doc_req_t;

typedef struct join_req {
    app_ydoc_redis_updates_cb cb;
    void *arg;
} join_req_t;

static void release(app_ydoc_redis_t *yr)
{
    if (--yr->inflight == 0 && yr->gone) {
        buf_dispose(&yr->base);
        free(yr);
    }
}

/* k1 = users, k2 = reverse index of sid, k3 = updates; val = the normalized id. */
static void keys_of(app_ydoc_redis_t *yr, const char *doc_id, const char *sid)
{
    buf_clear(&yr->val);
    app_ydoc_wire_append_norm_id(&yr->val, doc_id);
    buf_t *ks[3] = {&yr->k1, &yr->k3, &yr->k2};
    const char *suffix[2] = {":users", ":updates"};
    for (int i = 0; i < 2; i++) {
        buf_clear(ks[i]);
        buf_append(ks[i], buf_data(&yr->base), yr->base.len);
        buf_append(ks[i], buf_data(&yr->val), yr->val.len);
        buf_append_cstr(ks[i], suffix[i]);
    }
    buf_clear(&yr->k2);
    buf_append(&yr->k2, buf_data(&yr->base), yr->base.len);
    buf_append_cstr(&yr->k2, "session:");
    buf_append_cstr(&yr->k2, sid ? sid : "");
    buf_append_cstr(&yr->k2, ":documents");
}

static sioc_str_t bstr(const buf_t *b)
{
    return app_redis_str_buf(b);
}

app_ydoc_redis_t *app_ydoc_redis_new(app_redis_t *r)
{
    if (!app_redis_ws(r))
        return NULL;
    app_ydoc_redis_t *yr = xcalloc(1, sizeof *yr);
    yr->r = r;
    app_redis_key(r, &yr->base, "ydoc:documents:");
    yr->inflight = 1; /* the owner's reference */
    return yr;
}

void app_ydoc_redis_free(app_ydoc_redis_t *yr)
{
    if (!yr)
        return;
    buf_dispose(&yr->k1);
    buf_dispose(&yr->k2);
    buf_dispose(&yr->k3);
    buf_dispose(&yr->val);
    yr->gone = true;
    release(yr);
}

size_t app_ydoc_redis_compactions(const app_ydoc_redis_t *yr)
{
    return yr ? yr->compactions : 0;
}

/* Decodes a LRANGE reply into slices over one buffer of concatenated bytes. */
static size_t decode_list(const sioc_redis_reply_t *rep, buf_t *bytes, slice_t **out)
{
    size_t n = sioc_redis_reply_len(rep), got = 0;
    buf_t one = BUF_INIT;
    size_t *lens = xcalloc(n ? n : 1, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        sioc_str_t s = sioc_redis_reply_str(sioc_redis_reply_at(rep, i));
        slice_t u;
        if (!app_ydoc_wire_decode_bytes(slice_make(s.ptr, s.len), &one, &u))
            continue;
        buf_append(bytes, u.ptr, u.len);
        lens[got++] = u.len;
    }
    buf_dispose(&one);
    slice_t *v = xcalloc(got ? got : 1, sizeof *v);
    size_t off = 0;
    for (size_t i = 0; i < got; i++) {
        v[i] = slice_make(buf_data(bytes) + off, lens[i]);
        off += lens[i];
    }
    free(lens);
    *out = v;
    return got;
}

static void on_joined(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    join_req_t req = *(join_req_t *)arg;
    free(arg);
    if (status != 0 || sioc_redis_reply_type(rep) != SIOC_REDIS_ARRAY) {
        req.cb(status != 0 ? status : SIOC_REDIS_EREPLY, NULL, 0, req.arg);
        return;
    }
    buf_t bytes = BUF_INIT;
    slice_t *v;
    size_t n = decode_list(rep, &bytes, &v);
    req.cb(0, v, n, req.arg);
    free(v);
    buf_dispose(&bytes);
}

int app_ydoc_redis_join(app_ydoc_redis_t *yr, const char *doc_id, const char *sid,
                        app_ydoc_redis_updates_cb cb, void *arg)
{
    keys_of(yr, doc_id, sid);
    sioc_str_t argv[8] = {app_redis_str("EVAL"), app_redis_str(LUA_JOIN), app_redis_str("3"),
                          bstr(&yr->k1),         bstr(&yr->k2),           bstr(&yr->k3),
                          app_redis_str(sid),    bstr(&yr->val)};
    join_req_t *req = xmalloc(sizeof *req);
    *req = (join_req_t){cb, arg};
    int rc = app_redis_cmd(yr->r, on_joined, req, 8, argv);
    if (rc != 0)
        free(req);
    return rc;
}

int app_ydoc_redis_fetch(app_ydoc_redis_t *yr, const char *doc_id, app_ydoc_redis_updates_cb cb,
                         void *arg)
{
    keys_of(yr, doc_id, NULL);
    sioc_str_t argv[4] = {app_redis_str("LRANGE"), bstr(&yr->k3), app_redis_str("0"),
                          app_redis_str("-1")};
    join_req_t *req = xmalloc(sizeof *req);
    *req = (join_req_t){cb, arg};
    int rc = app_redis_cmd(yr->r, on_joined, req, 4, argv);
    if (rc != 0)
        free(req);
    return rc;
}

void app_ydoc_redis_add_user(app_ydoc_redis_t *yr, const char *doc_id, const char *sid)
{
    keys_of(yr, doc_id, sid);
    sioc_str_t a1[3] = {app_redis_str("SADD"), bstr(&yr->k1), app_redis_str(sid)};
    sioc_str_t a2[3] = {app_redis_str("SADD"), bstr(&yr->k2), bstr(&yr->val)};
    app_redis_cmd(yr->r, NULL, NULL, 3, a1);
    app_redis_cmd(yr->r, NULL, NULL, 3, a2);
}

/* ---- append and compaction --------------------------------------------------------- */

static doc_req_t *doc_req_new(app_ydoc_redis_t *yr, const buf_t *key)
{
    doc_req_t *d = xmalloc(sizeof *d + key->len + 1);
    d->yr = yr;
    d->k = 0;
    memcpy(d->key, buf_data(key), key->len);
    d->key[key->len] = '\0';
    yr->inflight++;
    return d;
}

static void doc_req_done(doc_req_t *d, bool ends_compaction)
{
    app_ydoc_redis_t *yr = d->yr;
    if (ends_compaction)
        yr->compacting = false;
    free(d);
    release(yr);
}

static void sha_hex(sioc_str_t s, char out[41])
{
    uint8_t dg[SHA1_DIGEST_LEN];
    sha1_digest(s.ptr, s.len, dg);
    for (int i = 0; i < SHA1_DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", dg[i]);
}

static void on_compacted(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    doc_req_t *d = arg;
    if (status == 0 && sioc_redis_reply_int(rep) == 1)
        d->yr->compactions++;
    doc_req_done(d, true);
}

static void on_head_read(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    doc_req_t *d = arg;
    app_ydoc_redis_t *yr = d->yr;
    size_t k = status == 0 ? sioc_redis_reply_len(rep) : 0;
    if (yr->gone || k < 2 || k != d->k) {
        doc_req_done(d, true);
        return;
    }
    buf_t bytes = BUF_INIT, merged = BUF_INIT, json = BUF_INIT;
    slice_t *v;
    size_t n = decode_list(rep, &bytes, &v);
    yjs_error_t err;
    int rc = n == k ? yjs_merge_updates(v, n, &merged, &err) : -1;
    free(v);
    buf_dispose(&bytes);
    if (rc != 0) {
        LOG_RATELIMITED(LOG_WARN, yr->log_n, 100, "ydoc: compaction of %s skipped: %s", d->key,
                        n == k ? err.msg : "an element is not an int array");
        buf_dispose(&merged);
        doc_req_done(d, true);
        return;
    }
    app_ydoc_wire_append_bytes(&json, buf_slice(&merged));
    buf_dispose(&merged);
    char first[41], last[41], kk[24];
    sha_hex(sioc_redis_reply_str(sioc_redis_reply_at(rep, 0)), first);
    sha_hex(sioc_redis_reply_str(sioc_redis_reply_at(rep, k - 1)), last);
    snprintf(kk, sizeof kk, "%zu", k);
    sioc_str_t argv[8] = {app_redis_str("EVAL"), app_redis_str(LUA_COMPACT),
                          app_redis_str("1"),    app_redis_str(d->key),
                          app_redis_str(kk),     app_redis_str(first),
                          app_redis_str(last),   bstr(&json)};
    rc = app_redis_cmd(yr->r, on_compacted, d, 8, argv);
    buf_dispose(&json);
    if (rc != 0)
        doc_req_done(d, true);
}

static void on_pushed(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    doc_req_t *d = arg;
    app_ydoc_redis_t *yr = d->yr;
    long long n = status == 0 ? sioc_redis_reply_int(rep) : 0;
    if (yr->gone || yr->compacting || n < APP_YDOC_REDIS_COMPACT_AT) {
        doc_req_done(d, false);
        return;
    }
    d->k = (size_t)n / 2;
    char last[24];
    snprintf(last, sizeof last, "%zu", d->k - 1);
    sioc_str_t argv[4] = {app_redis_str("LRANGE"), app_redis_str(d->key), app_redis_str("0"),
                          app_redis_str(last)};
    yr->compacting = true;
    if (app_redis_cmd(yr->r, on_head_read, d, 4, argv) != 0)
        doc_req_done(d, true);
}

void app_ydoc_redis_append(app_ydoc_redis_t *yr, const char *doc_id, slice_t update)
{
    keys_of(yr, doc_id, NULL);
    buf_clear(&yr->val);
    app_ydoc_wire_append_bytes(&yr->val, update);
    doc_req_t *d = doc_req_new(yr, &yr->k3);
    sioc_str_t argv[3] = {app_redis_str("RPUSH"), bstr(&yr->k3), bstr(&yr->val)};
    if (app_redis_cmd(yr->r, on_pushed, d, 3, argv) != 0)
        doc_req_done(d, false);
}

/* ---- leave ------------------------------------------------------------------------- */

void app_ydoc_redis_leave(app_ydoc_redis_t *yr, const char *doc_id, const char *sid)
{
    keys_of(yr, doc_id, sid);
    sioc_str_t argv[8] = {app_redis_str("EVAL"), app_redis_str(LUA_LEAVE),
                          app_redis_str("3"),    bstr(&yr->k1),
                          bstr(&yr->k2),         bstr(&yr->k3),
                          app_redis_str(sid),    bstr(&yr->val)};
    app_redis_cmd(yr->r, NULL, NULL, 8, argv);
}

void app_ydoc_redis_leave_all(app_ydoc_redis_t *yr, const char *sid)
{
    keys_of(yr, "", sid);
    sioc_str_t argv[6] = {app_redis_str("EVAL"), app_redis_str(LUA_LEAVE_ALL), app_redis_str("1"),
                          bstr(&yr->k2),         app_redis_str(sid),           bstr(&yr->base)};
    app_redis_cmd(yr->r, NULL, NULL, 6, argv);
}

void app_ydoc_redis_resync(app_ydoc_redis_t *yr, app_ydoc_store_t *st)
{
    for (app_ydoc_doc_t *d = app_ydoc_store_next_doc(st, NULL); d;
         d = app_ydoc_store_next_doc(st, d)) {
        const char *id = app_ydoc_doc_id(d);
        slice_t state;
        if (app_ydoc_doc_has_updates(d) && app_ydoc_doc_state(st, d, &state) == APP_YDOC_OK)
            app_ydoc_redis_append(yr, id, state);
        for (const app_ydoc_member_t *m = app_ydoc_doc_next_member(d, NULL); m;
             m = app_ydoc_doc_next_member(d, m))
            app_ydoc_redis_add_user(yr, id, app_ydoc_member_sid(m));
    }
}
