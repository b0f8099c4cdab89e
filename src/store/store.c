/*
 * store: opening (URL, pool, schema), the request machinery that moves each query to
 * the thread pool and its callback back to the loop, closing, and the public wrappers.
 * The queries themselves are in store_users.c, store_channels.c, store_notes.c and
 * store_chats.c; see store_private.h for the request lifecycle.
 */
#include "store/store.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "store/store_private.h"

#define DEFAULT_POOL 4
#define DEFAULT_BUSY_MS 5000
#define MAX_POOL 64

/* ------------------------------------------------------------------ small helpers */

int64_t store__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t store__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void store__uuid4(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort(); /* no CSPRNG: ids would collide; nothing sane to do */
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

char *store__dup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

int store__db_error(store_req_t *r, store_db_t *db)
{
    unsigned n = atomic_fetch_add(&r->store->errors, 1);
    if (n < 10 || n % 100 == 0)
        LOG(LOG_ERROR, "store: %s failed (%u errors so far): %s", r->name, n + 1, db->err);
    return STORE_EDB;
}

const char *store_strerror(int status)
{
    switch (status) {
    case STORE_OK:
        return "ok";
    case STORE_ENOTFOUND:
        return "not found";
    case STORE_EACCES:
        return "access denied";
    case STORE_EEXIST:
        return "already exists";
    case STORE_EINVAL:
        return "invalid argument";
    case STORE_EDB:
        return "database error";
    case STORE_ECANCELED:
        return "store closing";
    case STORE_ENOMEM:
        return "out of memory";
    case STORE_ENOTSUP:
        return "not supported by this database schema";
    default:
        return "unknown error";
    }
}

store_backend_t store_backend(const store_t *s)
{
    return s->backend;
}

/* ------------------------------------------------------------------ open / close */

/* mkdir -p for the data directory. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        snprintf(err, errlen, "store: data directory path too long");
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "store: cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        path[i] = c;
    }
    return 0;
}

static bool has_word(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (strncmp(s + i, w, wl) == 0)
            return true;
    return false;
}

/*
 * Turns DATABASE_URL (or its absence) into a backend and the string its driver opens:
 *   ""/NULL                  -> SQLite <data_dir>/webui.db (directory created)
 *   sqlite[+driver]:///rel   -> SQLite "rel";  sqlite:////abs -> "/abs"  (query dropped)
 *   postgres://, postgresql://, postgresql+driver:// -> libpq URI postgresql://...
 * `*target` is malloc'd.
 */
static int parse_url(const store_config_t *cfg, store_backend_t *kind, char **target, char *err,
                     size_t errlen)
{
    const char *url = cfg->database_url;
    if (!url || !*url) {
        const char *dir = cfg->data_dir && *cfg->data_dir ? cfg->data_dir : "./data";
        if (make_dirs(dir, err, errlen) != 0)
            return -1;
        size_t n = strlen(dir) + sizeof "/webui.db";
        *target = xmalloc(n);
        snprintf(*target, n, "%s/webui.db", dir);
        *kind = STORE_SQLITE;
        return 0;
    }
    const char *sep = strstr(url, "://");
    size_t scheme_len = sep ? (size_t)(sep - url) : 0;
    if (sep && strncmp(url, "sqlite", 6) == 0) {
        if (has_word(url, scheme_len, "sqlcipher")) {
            snprintf(err, errlen, "store: encrypted SQLite (sqlcipher) is not supported");
            return -1;
        }
        const char *path = sep + 3;
        size_t len = strcspn(path, "?");
        if (len < 2 || path[0] != '/') {
            snprintf(err, errlen, "store: DATABASE_URL needs a file: sqlite:///path");
            return -1;
        }
        *target = xstrndup(path + 1, len - 1);
        *kind = STORE_SQLITE;
        return 0;
    }
    bool pg = sep && ((scheme_len == 8 && strncmp(url, "postgres", 8) == 0) ||
                      (scheme_len >= 10 && strncmp(url, "postgresql", 10) == 0 &&
                       (scheme_len == 10 || url[10] == '+')));
    if (!pg) {
        snprintf(err, errlen,
                 "store: unsupported DATABASE_URL scheme (want sqlite:// or "
                 "postgresql://)");
        return -1;
    }
    size_t n = strlen(sep) + sizeof "postgresql";
    *target = xmalloc(n);
    snprintf(*target, n, "postgresql%s", sep);
    *kind = STORE_POSTGRES;
    return 0;
}

static int open_conn(store_backend_t kind, const char *target, unsigned busy_ms, store_db_t **out,
                     char *err, size_t errlen)
{
    if (kind == STORE_SQLITE)
        return store__sqlite_open(target, busy_ms, out, err, errlen);
    return store__pg_open(target, out, err, errlen);
}

static void store_free(store_t *s)
{
    for (unsigned i = 0; i < s->pool_size; i++)
        if (s->conns[i])
            s->conns[i]->ops->close(s->conns[i]);
    free(s->conns);
    free(s->busy);
    uv_cond_destroy(&s->cond);
    uv_mutex_destroy(&s->lock);
    free(s);
}

int store_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out, char *err, size_t errlen)
{
    store_config_t none = {0};
    char *target = NULL;
    if (!cfg)
        cfg = &none;
    *out = NULL;
    store_backend_t kind;
    if (parse_url(cfg, &kind, &target, err, errlen) != 0)
        return -1;
    unsigned pool = cfg->connections ? cfg->connections : DEFAULT_POOL;
    if (!loop || pool > MAX_POOL)
        pool = loop ? MAX_POOL : 1;
    unsigned busy_ms = cfg->busy_timeout_ms ? cfg->busy_timeout_ms : DEFAULT_BUSY_MS;

    store_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->backend = kind;
    s->pool_size = pool;
    s->conns = xcalloc(pool, sizeof *s->conns);
    s->busy = xcalloc(pool, sizeof *s->busy);
    atomic_init(&s->closing, false);
    atomic_init(&s->errors, 0u);
    if (uv_mutex_init(&s->lock) != 0 || uv_cond_init(&s->cond) != 0)
        abort();
    /* The first connection creates or checks the schema before the others open, so the
     * pool never sees a half-created database. */
    for (unsigned i = 0; i < pool; i++) {
        if (open_conn(kind, target, busy_ms, &s->conns[i], err, errlen) != 0)
            goto fail;
        if (i == 0 && store__schema_ensure(s->conns[0], &s->caps, err, errlen) != 0)
            goto fail;
    }
    free(target);
    *out = s;
    return 0;
fail:
    free(target);
    store_free(s);
    return -1;
}

static void close_work(uv_work_t *w)
{
    store_t *s = w->data;
    for (unsigned i = 0; i < s->pool_size; i++) {
        s->conns[i]->ops->close(s->conns[i]);
        s->conns[i] = NULL;
    }
}

static void close_after(uv_work_t *w, int status)
{
    (void)status;
    store_t *s = w->data;
    store_close_cb cb = s->close_cb;
    void *arg = s->close_arg;
    store_free(s);
    if (cb)
        cb(arg);
}

/* Starts the final close once store_close was called and nothing is in flight. */
static void maybe_finish_close(store_t *s)
{
    if (!atomic_load(&s->closing) || s->inflight > 0 || s->close_started)
        return;
    s->close_started = true;
    s->close_work.data = s;
    if (uv_queue_work(s->loop, &s->close_work, close_work, close_after) != 0)
        abort(); /* only fails on NULL callbacks */
}

void store_close(store_t *s, store_close_cb cb, void *arg)
{
    if (!s || atomic_load(&s->closing))
        return;
    atomic_store(&s->closing, true);
    s->close_cb = cb;
    s->close_arg = arg;
    if (!s->loop) {
        store_free(s);
        if (cb)
            cb(arg);
        return;
    }
    maybe_finish_close(s);
}

/* ------------------------------------------------------------------ requests */

static store_db_t *pool_take(store_t *s, unsigned *slot)
{
    uv_mutex_lock(&s->lock);
    for (;;) {
        for (unsigned i = 0; i < s->pool_size; i++) {
            if (s->busy[i])
                continue;
            s->busy[i] = true;
            uv_mutex_unlock(&s->lock);
            *slot = i;
            return s->conns[i];
        }
        uv_cond_wait(&s->cond, &s->lock);
    }
}

static void pool_give(store_t *s, unsigned slot)
{
    uv_mutex_lock(&s->lock);
    s->busy[slot] = false;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->lock);
}

/* Worker side of a request: runs its op with a pooled connection. */
static void run_op(store_req_t *r)
{
    if (r->status != STORE_OK)
        return; /* decided at issue time: canceled, bad argument, no memory */
    unsigned slot;
    store_db_t *db = pool_take(r->store, &slot);
    if (db->ops->ensure(db) != 0)
        r->status = store__db_error(r, db);
    else
        r->status = r->op(db, r);
    pool_give(r->store, slot);
}

static void free_user(store_user_t *u)
{
    free(u->id);
    free(u->email);
    free(u->name);
    free(u->role);
    free(u->profile_image_url);
    free(u->session_json);
}

static void req_free(store_req_t *r)
{
    for (int i = 0; i < STORE_REQ_STRS; i++)
        free(r->s[i]);
    free(r->json);
    free_user(&r->user);
    free(r->note.id);
    free(r->note.user_id);
    free(r->note.title);
    free(r->note.data_json);
    free(r->note.meta_json);
    for (size_t i = 0; i < r->ids.n; i++)
        free(r->ids.v[i]);
    free(r->ids.v);
    for (size_t i = 0; i < r->groups.n; i++) {
        free(r->groups.v[i].id);
        free(r->groups.v[i].name);
        free(r->groups.v[i].permissions_json);
    }
    free(r->groups.v);
    free(r);
}

static void work_cb(uv_work_t *w)
{
    run_op(w->data);
}

static void after_cb(uv_work_t *w, int status)
{
    store_req_t *r = w->data;
    store_t *s = r->store;
    if (status == UV_ECANCELED)
        r->status = STORE_ECANCELED;
    r->done(r);
    req_free(r);
    s->inflight--;
    maybe_finish_close(s);
}

static store_req_t *new_req(store_t *s, const char *name, store_op_fn op, store_done_fn done,
                            store_cb_t cb, void *arg)
{
    store_req_t *r = xcalloc(1, sizeof *r);
    r->store = s;
    r->name = name;
    r->op = op;
    r->done = done;
    r->cb = cb;
    r->arg = arg;
    if (atomic_load(&s->closing))
        r->status = STORE_ECANCELED;
    return r;
}

/* Copies string argument `i`; `required` ones must be non-empty. Failures are recorded
 * in r->status and reported through the callback, never synchronously. */
static void req_str(store_req_t *r, int i, const char *v, bool required)
{
    if (r->status != STORE_OK)
        return;
    if (!v) {
        if (required)
            r->status = STORE_EINVAL;
        return;
    }
    if (required && !*v) {
        r->status = STORE_EINVAL;
        return;
    }
    size_t n = strlen(v);
    r->s[i] = try_malloc(n + 1);
    if (!r->s[i]) {
        r->status = STORE_ENOMEM;
        return;
    }
    memcpy(r->s[i], v, n + 1);
}

static void submit(store_t *s, store_req_t *r)
{
    if (!s->loop) {
        run_op(r);
        r->done(r);
        req_free(r);
        return;
    }
    r->work.data = r;
    s->inflight++;
    if (uv_queue_work(s->loop, &r->work, work_cb, after_cb) != 0)
        abort(); /* only fails on NULL callbacks */
}

/* ------------------------------------------------------------------ callback adapters */

static void done_status(store_req_t *r)
{
    if (r->cb.status)
        r->cb.status(r->status, r->arg);
}

static void done_flag(store_req_t *r)
{
    if (r->cb.flag)
        r->cb.flag(r->status, r->status == STORE_OK && r->flag, r->arg);
}

static void done_count(store_req_t *r)
{
    if (r->cb.count)
        r->cb.count(r->status, r->status == STORE_OK ? r->count : 0, r->arg);
}

static void done_user(store_req_t *r)
{
    if (r->cb.user)
        r->cb.user(r->status, r->status == STORE_OK ? &r->user : NULL, r->arg);
}

static void done_note(store_req_t *r)
{
    if (r->cb.note)
        r->cb.note(r->status, r->status == STORE_OK ? &r->note : NULL, r->arg);
}

static void done_ids(store_req_t *r)
{
    if (r->cb.ids)
        r->cb.ids(r->status, r->status == STORE_OK ? &r->ids : NULL, r->arg);
}

static void done_groups(store_req_t *r)
{
    if (r->cb.groups)
        r->cb.groups(r->status, r->status == STORE_OK ? &r->groups : NULL, r->arg);
}

static void done_json(store_req_t *r)
{
    if (r->cb.json)
        r->cb.json(r->status, r->status == STORE_OK ? r->json : NULL, r->arg);
}

#define CB(field, fn) ((store_cb_t){.field = (fn)})

/* ------------------------------------------------------------------ public wrappers */

void store_user_get(store_t *s, const char *user_id, store_user_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "user_get", store__op_user_get, done_user, CB(user, cb), arg);
    req_str(r, 0, user_id, true);
    submit(s, r);
}

void store_user_get_by_email(store_t *s, const char *email, store_user_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "user_get_by_email", store__op_user_get_by_email, done_user, CB(user, cb), arg);
    req_str(r, 0, email, true);
    submit(s, r);
}

void store_user_touch(store_t *s, const char *user_id, store_flag_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "user_touch", store__op_user_touch, done_flag, CB(flag, cb), arg);
    req_str(r, 0, user_id, true);
    submit(s, r);
}

void store_user_create(store_t *s, const store_new_user_t *u, store_user_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "user_create", store__op_user_create, done_user, CB(user, cb), arg);
    if (!u && r->status == STORE_OK)
        r->status = STORE_EINVAL;
    if (u) {
        req_str(r, 0, u->email, true);
        req_str(r, 1, u->name, true);
        req_str(r, 2, u->role, true);
        req_str(r, 3, u->password_hash, true);
        req_str(r, 4, u->profile_image_url ? u->profile_image_url : "/user.png", true);
    }
    submit(s, r);
}

void store_users_active_count(store_t *s, int64_t since, store_count_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "users_active_count", store__op_users_active_count, done_count,
                             CB(count, cb), arg);
    r->n = since;
    submit(s, r);
}

void store_user_groups(store_t *s, const char *user_id, store_groups_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "user_groups", store__op_user_groups, done_groups, CB(groups, cb), arg);
    req_str(r, 0, user_id, true);
    submit(s, r);
}

void store_channels_of_user(store_t *s, const char *user_id, store_ids_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "channels_of_user", store__op_channels_of_user, done_ids, CB(ids, cb), arg);
    req_str(r, 0, user_id, true);
    submit(s, r);
}

void store_channel_can_read(store_t *s, const char *channel_id, const char *user_id,
                            store_flag_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "channel_can_read", store__op_channel_can_read, done_flag, CB(flag, cb), arg);
    req_str(r, 0, channel_id, true);
    req_str(r, 1, user_id, true);
    submit(s, r);
}

void store_channel_mark_read(store_t *s, const char *channel_id, const char *user_id,
                             store_flag_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "channel_mark_read", store__op_channel_mark_read, done_flag, CB(flag, cb), arg);
    req_str(r, 0, channel_id, true);
    req_str(r, 1, user_id, true);
    submit(s, r);
}

void store_message_insert(store_t *s, const store_new_message_t *m, store_json_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "message_insert", store__op_message_insert, done_json, CB(json, cb), arg);
    if (!m && r->status == STORE_OK)
        r->status = STORE_EINVAL;
    if (m) {
        req_str(r, 0, m->channel_id, true);
        req_str(r, 1, m->user_id, true);
        req_str(r, 2, m->content ? m->content : "", false);
        req_str(r, 3, m->data_json, false);
        req_str(r, 4, m->meta_json, false);
        req_str(r, 5, m->reply_to_id, false);
        req_str(r, 6, m->parent_id, false);
    }
    submit(s, r);
}

void store_message_update(store_t *s, const char *message_id, const char *content,
                          const char *meta_patch_json, store_json_cb cb, void *arg)
{
    store_req_t *r =
        new_req(s, "message_update", store__op_message_update, done_json, CB(json, cb), arg);
    req_str(r, 0, message_id, true);
    req_str(r, 1, content, false);
    req_str(r, 2, meta_patch_json, false);
    submit(s, r);
}

void store_note_get(store_t *s, const char *note_id, store_note_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "note_get", store__op_note_get, done_note, CB(note, cb), arg);
    req_str(r, 0, note_id, true);
    submit(s, r);
}

void store_note_access(store_t *s, const char *note_id, const char *user_id, bool is_admin,
                       store_perm_t perm, store_flag_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "note_access", store__op_note_access, done_flag, CB(flag, cb), arg);
    req_str(r, 0, note_id, true);
    req_str(r, 1, user_id, true);
    r->b = is_admin;
    r->kind = perm;
    if (perm != STORE_READ && perm != STORE_WRITE && r->status == STORE_OK)
        r->status = STORE_EINVAL;
    submit(s, r);
}

void store_note_update_data(store_t *s, const char *note_id, const char *data_json,
                            const char *user_id, bool is_admin, store_status_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "note_update_data", store__op_note_update_data, done_status,
                             CB(status, cb), arg);
    req_str(r, 0, note_id, true);
    req_str(r, 1, data_json, true);
    req_str(r, 2, user_id, false);
    r->b = is_admin;
    submit(s, r);
}

void store_chat_mark_read(store_t *s, const char *chat_id, const char *user_id, store_flag_cb cb,
                          void *arg)
{
    store_req_t *r =
        new_req(s, "chat_mark_read", store__op_chat_mark_read, done_flag, CB(flag, cb), arg);
    req_str(r, 0, chat_id, true);
    req_str(r, 1, user_id, true);
    submit(s, r);
}

void store_chat_message_upsert(store_t *s, const char *chat_id, const char *message_id,
                               const char *fields_json, store_status_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "chat_message_upsert", store__op_chat_message_upsert, done_status,
                             CB(status, cb), arg);
    req_str(r, 0, chat_id, true);
    req_str(r, 1, message_id, true);
    req_str(r, 2, fields_json, true);
    submit(s, r);
}

void store_chat_event(store_t *s, const char *chat_id, const char *message_id,
                      store_chat_event_t type, const char *data_json, store_flag_cb cb, void *arg)
{
    store_req_t *r = new_req(s, "chat_event", store__op_chat_event, done_flag, CB(flag, cb), arg);
    req_str(r, 0, chat_id, true);
    req_str(r, 1, message_id, true);
    req_str(r, 2, data_json, true);
    r->kind = type;
    if ((type < STORE_CHAT_STATUS || type > STORE_CHAT_SOURCE) && r->status == STORE_OK)
        r->status = STORE_EINVAL;
    submit(s, r);
}

store_chat_event_t store_chat_event_from_name(const char *type)
{
    static const struct {
        const char *name;
        store_chat_event_t type;
    } names[] = {{"status", STORE_CHAT_STATUS},   {"message", STORE_CHAT_MESSAGE},
                 {"replace", STORE_CHAT_REPLACE}, {"embeds", STORE_CHAT_EMBEDS},
                 {"files", STORE_CHAT_FILES},     {"source", STORE_CHAT_SOURCE},
                 {"citation", STORE_CHAT_SOURCE}};
    for (size_t i = 0; type && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i].name) == 0)
            return names[i].type;
    return 0;
}

/* ------------------------------------------------------------------ for other store files
 * The request machinery, exported inside the store layer for the query files that live
 * outside this one (store_rest_*.c, the REST engineer's): same semantics as the static
 * helpers above. */

store_req_t *store__req_new(store_t *s, const char *name, store_op_fn op, store_done_fn done,
                            store_cb_t cb, void *arg)
{
    return new_req(s, name, op, done, cb, arg);
}

void store__req_str(store_req_t *r, int i, const char *v, bool required)
{
    req_str(r, i, v, required);
}

void store__req_submit(store_t *s, store_req_t *r)
{
    submit(s, r);
}

unsigned store_inflight(const store_t *s)
{
    return s->inflight;
}
