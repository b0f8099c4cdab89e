/*
 * store_private: what the files of src/store share and nobody else sees: the store and
 * request objects, the schema capabilities, and the worker-side operations.
 *
 * Request lifecycle (async mode):
 *
 *   store_xxx()  ── loop thread: copy args, inflight++ ──> uv_queue_work
 *        worker thread: take a pool connection ── op(db, req) ── give it back
 *   after_work() ── loop thread: req->done(req) calls the user callback,
 *                   req_free(), inflight--, maybe finish a pending store_close
 *
 * In synchronous mode (no loop) the same op and done run inline on the caller's thread.
 *
 * Threading: `caps`, `backend`, `pool_size` are written at open and read-only after;
 * the connection pool is guarded by `lock`/`cond`; `closing` is atomic because workers
 * read it; everything else belongs to the loop thread.
 */
#ifndef SIOC_STORE_PRIVATE_H
#define SIOC_STORE_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"
#include "store/store_db.h"

/** What the attached schema has, detected once at open. */
typedef struct store_caps {
    bool chat_message;      /* table chat_message (Open WebUI dual-writes messages) */
    bool chat_last_read_at; /* column chat.last_read_at */
    bool message_is_pinned; /* column message.is_pinned (NOT NULL in Open WebUI) */
    bool created;           /* this open created the schema (fresh database) */
} store_caps_t;

struct store {
    uv_loop_t *loop;         /* NULL: synchronous mode */
    store_backend_t backend; /* read-only after open */
    store_caps_t caps;       /* read-only after open */
    unsigned pool_size;      /* number of connections */
    store_db_t **conns;      /* pool_size connections */
    bool *busy;              /* conns[i] lent to a worker; under `lock` */
    uv_mutex_t lock;         /* guards busy[] */
    uv_cond_t cond;          /* signalled when a connection comes back */
    atomic_bool closing;     /* store_close called: new requests are canceled */
    atomic_uint errors;      /* database errors seen, for rate-limited logging */
    unsigned inflight;       /* requests issued and not yet called back (loop thread) */
    bool close_started;      /* the final close work is queued */
    store_close_cb close_cb; /* store_close's callback */
    void *close_arg;
    uv_work_t close_work; /* closes the connections on the thread pool */
};

typedef struct store_req store_req_t;

/** Runs on a worker with a connection; returns a store_status_t. */
typedef int (*store_op_fn)(store_db_t *db, store_req_t *r);
/** Runs on the loop thread; calls the user callback with the results. */
typedef void (*store_done_fn)(store_req_t *r);

#define STORE_REQ_STRS 7

/** The user's callback, one member per public callback type; each request's `done`
 *  reads the member its wrapper wrote. */
typedef union store_cb {
    store_status_cb status;
    store_flag_cb flag;
    store_count_cb count;
    store_user_cb user;
    store_note_cb note;
    store_ids_cb ids;
    store_groups_cb groups;
    store_json_cb json;
} store_cb_t;

struct store_req {
    uv_work_t work;          /* libuv's request; work.data = this */
    store_t *store;          /* the issuing store */
    const char *name;        /* operation name, for logs */
    store_op_fn op;          /* worker part */
    store_done_fn done;      /* callback part */
    store_cb_t cb;           /* the user's callback (may be NULL) */
    void *arg;               /* the user's argument */
    int status;              /* the outcome */
    char *s[STORE_REQ_STRS]; /* owned copies of string arguments (may be NULL) */
    int64_t n;               /* numeric argument */
    int kind;                /* enum argument (permission, chat event type) */
    bool b;                  /* boolean argument (is_admin) */
    bool flag;               /* result for store_flag_cb */
    int64_t count;           /* result for store_count_cb */
    char *json;              /* result for store_json_cb (owned) */
    store_user_t user;       /* result for store_user_cb (owned fields) */
    store_note_t note;       /* result for store_note_cb (owned fields) */
    store_ids_t ids;         /* result for store_ids_cb (owned) */
    store_groups_t groups;   /* result for store_groups_cb (owned) */
};

/** Logs a database error of request `r` (rate-limited) and returns STORE_EDB. */
int store__db_error(store_req_t *r, store_db_t *db);

/** Current time since the epoch in seconds / nanoseconds (CLOCK_REALTIME). */
int64_t store__now_s(void);
int64_t store__now_ns(void);

/** Writes a fresh random UUIDv4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") into `out`. */
void store__uuid4(char out[37]);

/** strdup for results read on a worker (NULL-safe; aborts on OOM, sizes come from our
 *  own database rows, not from a peer). */
char *store__dup(const char *s);

/** Creates or checks the schema on `db` and fills `caps`. 0, or -1 with `err`. */
int store__schema_ensure(store_db_t *db, store_caps_t *caps, char *err, size_t errlen);

/* Worker-side operations (store_users.c, store_channels.c, store_notes.c, store_chats.c).
 * Arguments are in r->s[], r->n, r->kind, r->b as documented at each public wrapper. */
int store__op_user_get(store_db_t *db, store_req_t *r);
int store__op_user_get_by_email(store_db_t *db, store_req_t *r);
int store__op_user_touch(store_db_t *db, store_req_t *r);
int store__op_user_create(store_db_t *db, store_req_t *r);
int store__op_users_active_count(store_db_t *db, store_req_t *r);
int store__op_user_groups(store_db_t *db, store_req_t *r);
int store__op_channels_of_user(store_db_t *db, store_req_t *r);
int store__op_channel_can_read(store_db_t *db, store_req_t *r);
int store__op_channel_mark_read(store_db_t *db, store_req_t *r);
int store__op_message_insert(store_db_t *db, store_req_t *r);
int store__op_message_update(store_db_t *db, store_req_t *r);
int store__op_note_get(store_db_t *db, store_req_t *r);
int store__op_note_access(store_db_t *db, store_req_t *r);
int store__op_note_update_data(store_db_t *db, store_req_t *r);
int store__op_chat_mark_read(store_db_t *db, store_req_t *r);
int store__op_chat_message_upsert(store_db_t *db, store_req_t *r);
int store__op_chat_event(store_db_t *db, store_req_t *r);

/**
 * SQL text of Open WebUI's grant test (AccessGrants.has_access / has_permission_filter):
 * an access_grant row for resource type `rtype` and id `id_expr` with permission `perm`
 * whose principal is user:*, user:<`user`> or group:<a group `user` belongs to, that
 * still exists>. All four arguments are SQL fragments (literals or $n parameters); the
 * result goes inside EXISTS (...).
 */
#define STORE_SQL_GRANT(rtype, id_expr, perm, user)                                                \
    "SELECT 1 FROM access_grant g WHERE g.resource_type = " rtype " AND g.resource_id = " id_expr  \
    " AND g.permission = " perm                                                                    \
    " AND ((g.principal_type = 'user' AND g.principal_id IN ('*', " user "))"                      \
    " OR (g.principal_type = 'group' AND g.principal_id IN (SELECT gm.group_id FROM"               \
    " group_member gm JOIN \"group\" gr ON gr.id = gm.group_id WHERE gm.user_id = " user ")))"

/* The request machinery of store.c, for query files outside it (store_rest_*.c): create a
 * request (its status is STORE_ECANCELED when the store is closing), copy string argument
 * `i` into r->s[i] (a failure is reported through the callback), and queue it (or, in
 * synchronous mode, run it and call back now). The done function reads the callback
 * member it set and the result fields; req_free releases every result field. */
store_req_t *store__req_new(store_t *s, const char *name, store_op_fn op, store_done_fn done,
                            store_cb_t cb, void *arg);
void store__req_str(store_req_t *r, int i, const char *v, bool required);
void store__req_submit(store_t *s, store_req_t *r);

#endif
