/*
 * app_ydoc: the ydoc:* handlers, the disconnect cleanup and the debounced note save.
 * See app_ydoc.h for the behaviour; openwebui-protocol.md §3.8 for the reference.
 *
 * Life of an event:
 *
 *   sioc event ─► dispatch: auth'd? parse the payload, normalize document_id
 *                   │
 *                   ├─ a join of this socket for this document is being checked
 *                   │     └─► queued (copied) on that join, replayed after it
 *                   └─► handler (join / state / update / leave / awareness)
 *
 *   join of note:<id> ─► two store requests (READ and WRITE access) ─► finish_join:
 *       member + room, state to the joiner, ydoc:user:joined to the others, ack,
 *       then the queued events in arrival order.
 *
 *   update with data ─► save armed (app_ydoc_store) ─► one uv_timer_t for the earliest
 *       deadline ─► store_note_update_data ─► on_saved ─► the next deadline.
 *
 * Async requests (join checks, write re-checks, saves) are tracked in y->ops: when the
 * module is freed first, each is orphaned (op.y = NULL) and only frees itself when its
 * store callback runs. A join also holds a reference on its socket and is cancelled
 * (j->ys = NULL) when the socket disconnects.
 */
#include "app/app_ydoc.h"

#include <stdlib.h>
#include <string.h>

#include "app/app_ydoc_redis.h"
#include "app/app_ydoc_store.h"
#include "app/app_ydoc_wire.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/slice.h"

/* Events a socket may send while one of its joins is being checked, per join. */
#define QUEUE_MAX_EVENTS 64
#define QUEUE_MAX_BYTES ((size_t)4 << 20)

#define LOG_ID_SIZE APP_YDOC_LOG_ID_SIZE

static const char ERR_JOIN[] = "{\"message\":\"Failed to join document\"}";

enum kind { EV_JOIN, EV_STATE, EV_UPDATE, EV_LEAVE, EV_AWARENESS };

static const char *const KIND_NAME[] = {"ydoc:document:join", "ydoc:document:state",
                                        "ydoc:document:update", "ydoc:document:leave",
                                        "ydoc:awareness:update"};

typedef struct op op_t;
typedef struct ysock ysock_t;
typedef struct join join_t;
typedef struct qev qev_t;

/* The common head of every asynchronous request. */
struct op {
    op_t *next; /* y->ops */
    op_t **pprev;
    app_ydoc_t *y; /* NULL once the module was freed: the callback only cleans up */
};

struct app_ydoc {
    app_t *app;
    sioc_nsp_t *nsp;
    store_t *store;
    uv_loop_t *loop;
    app_ydoc_store_t *st;          /* documents and saves (this node's copy) */
    app_ydoc_redis_t *yr;          /* the shared documents, NULL without Redis */
    uv_timer_t timer;              /* fires at the earliest save deadline */
    op_t *ops;                     /* store requests in flight */
    ysock_t *socks;                /* sockets with ydoc state */
    buf_t out;                     /* scratch: outgoing JSON */
    buf_t bytes;                   /* scratch: a decoded update */
    bool flushing;                 /* shutdown: saves are written at once */
    void (*flush_done)(void *arg); /* called once when the flush completes */
    void *flush_arg;
    unsigned log_n; /* rate limit of peer-triggered log lines */
};

/* Per-socket state, in the app's ydoc slot (and in y->socks, so that freeing the module
 * frees it even for a socket whose disconnect comes later). */
struct ysock {
    app_ydoc_peer_t peer; /* document memberships (the store's) */
    join_t *joins;        /* joins being checked, in arrival order */
    ysock_t *next;        /* y->socks */
    ysock_t **pprev;
};

/* An event's first argument and its binary attachments (app_ydoc_wire.h). */
typedef app_ydoc_msg_t msg_t;

/* A queued event (copied): the payload, then the attachments, in one allocation. */
struct qev {
    qev_t *next;
    enum kind kind;
    int64_t ack_id;
    size_t n_bins;
    slice_t *bins; /* n_bins entries, pointing into data */
    slice_t json;  /* points into data */
    uint8_t data[];
};

/* A join of a note document waiting for its two access checks. */
struct join {
    op_t op;
    join_t *next;                        /* ys->joins */
    ysock_t *ys;                         /* NULL when the socket disconnected meanwhile */
    sioc_socket_t *s;                    /* referenced until the join is finished */
    char *doc_id;                        /* normalized document id */
    buf_t ident;                         /* the ydoc:user:joined payload (built at arrival) */
    char user_id[APP_YDOC_USER_ID_SIZE]; /* whose access is checked */
    int64_t ack_id;
    int waiting; /* store replies still to come */
    int read_status, write_status;
    bool can_read, can_write;
    qev_t *q_head, *q_tail; /* events queued behind the join */
    size_t q_count, q_bytes;
};

/* A background re-check of a member's write permission. */
typedef struct recheck {
    op_t op;
    sioc_socket_t *s; /* referenced */
    char *doc_id;
    char user_id[APP_YDOC_USER_ID_SIZE];
} recheck_t;

/* A ydoc:document:state waiting for the shared updates (Redis). */
typedef struct state_fetch {
    op_t op;
    sioc_socket_t *s; /* referenced */
    char *doc_id;
} state_fetch_t;

/* One note write. */
typedef struct save_op {
    op_t op;
    app_ydoc_save_t *sv;
} save_op_t;


static void dispatch(app_ydoc_t *y, sioc_socket_t *s, enum kind k, const msg_t *m, int64_t ack_id);

/* ------------------------------------------------------------------ small helpers */

static void op_link(app_ydoc_t *y, op_t *op)
{
    op->y = y;
    op->next = y->ops;
    if (y->ops)
        y->ops->pprev = &op->next;
    op->pprev = &y->ops;
    y->ops = op;
}

static void op_unlink(op_t *op)
{
    if (!op->y)
        return;
    *op->pprev = op->next;
    if (op->next)
        op->next->pprev = op->pprev;
    op->y = NULL;
}

static void ack(sioc_socket_t *s, int64_t ack_id)
{
    if (ack_id >= 0)
        sioc_socket_ack(s, ack_id, sioc_json(""));
}

/* Emits the JSON in `b` to a document's room, except to `except` when given. */
static void emit_room(app_ydoc_t *y, sioc_socket_t *except, const char *room, const char *ev,
                      const buf_t *b)
{
    const char *rooms[1] = {room};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1};
    if (except)
        sioc_socket_broadcast(except, &to, ev, app_ydoc_wire_data(b));
    else
        sioc_emit(y->nsp, &to, ev, app_ydoc_wire_data(b));
}

/* ------------------------------------------------------------------ payloads */

/*
 * The bytes of an "update": a JSON int array (Array.from(u8), the editor's usual form) or
 * a binary attachment (the re-sync path sends the raw Uint8Array, spec §3.8). `*binary`
 * tells which, since only the array's raw JSON can be relayed as it came.
 */
static bool update_bytes(app_ydoc_t *y, const msg_t *m, json_value_t v, slice_t *out, bool *binary)
{
    *binary = v.type == JSON_OBJECT;
    if (v.type == JSON_ARRAY)
        return app_ydoc_wire_decode_bytes(v.raw, &y->bytes, out);
    return *binary && app_ydoc_wire_placeholder(m, v.raw, out);
}

/* ------------------------------------------------------------------ join, state */

/* The event being handled. */
typedef struct ev {
    app_ydoc_t *y;
    sioc_socket_t *s;
    ysock_t *ys;
    const app_user_t *u;
    const app_ydoc_fields_t *f;
    const msg_t *m;
    const char *id; /* normalized document id */
    size_t id_len;
    int64_t ack_id;
} ev_t;

/* Sends ydoc:document:state (the merged state and the sessions list) to `s`. */
static int send_state(app_ydoc_t *y, sioc_socket_t *s, app_ydoc_doc_t *d)
{
    slice_t state;
    if (app_ydoc_doc_state(y->st, d, &state) != APP_YDOC_OK)
        return -1;
    buf_t *o = &y->out;
    app_ydoc_wire_append_doc_key(o, app_ydoc_doc_id(d), strlen(app_ydoc_doc_id(d)));
    buf_append_cstr(o, ",\"state\":");
    app_ydoc_wire_append_bytes(o, state);
    buf_append_cstr(o, ",\"sessions\":");
    app_ydoc_doc_sessions_json(d, o);
    buf_append_byte(o, '}');
    sioc_socket_emit(s, "ydoc:document:state", app_ydoc_wire_data(o));
    app_ydoc_wire_scratch_done(o);
    return 0;
}

/* The ydoc:user:joined payload: identity fields as the client sent them (spec §3.8 5). */
static void build_ident(buf_t *o, const ev_t *e)
{
    app_ydoc_wire_append_doc_key(o, e->id, e->id_len);
    buf_append_cstr(o, ",\"user_id\":");
    app_ydoc_wire_append_or(o, e->f->user_id, sioc_socket_id(e->s));
    buf_append_cstr(o, ",\"user_name\":");
    app_ydoc_wire_append_or(o, e->f->user_name, "Anonymous");
    buf_append_cstr(o, ",\"user_color\":");
    app_ydoc_wire_append_or(o, e->f->user_color, "#000000");
    buf_append_byte(o, '}');
}

static void emit_join_error(sioc_socket_t *s)
{
    sioc_socket_emit(s, "error", sioc_json(ERR_JOIN));
}

/*
 * The join itself, once access is settled: membership and room, the state to the
 * joiner, ydoc:user:joined to the others (spec §3.8 3-5). A second join of a member
 * sends both again, as Open WebUI does.
 */
static void do_join(app_ydoc_t *y, sioc_socket_t *s, ysock_t *ys, slice_t id, bool can_write,
                    const char *user_id, const buf_t *ident, const slice_t *ups, size_t n_ups)
{
    bool added;
    app_ydoc_member_t *mbr = app_ydoc_store_join(y->st, id, &ys->peer, &added);
    yjs_error_t err;
    for (size_t i = 0; i < n_ups; i++) /* other nodes' edits (Redis); duplicates merge away */
        if (app_ydoc_doc_append(y->st, app_ydoc_member_doc(mbr), ups[i], &err) != APP_YDOC_OK)
            LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc: a stored update was skipped");
    app_ydoc_access_t *acc = app_ydoc_member_access(mbr);
    acc->can_write = can_write;
    acc->checked_ms = uv_now(y->loop);
    snprintf(acc->user_id, sizeof acc->user_id, "%s", user_id);
    app_ydoc_doc_t *d = app_ydoc_member_doc(mbr);
    sioc_socket_join(s, app_ydoc_doc_room(d));
    if (send_state(y, s, d) != 0) {
        char lid[LOG_ID_SIZE];
        LOG(LOG_ERROR, "ydoc %s: out of memory merging %s", sioc_socket_id(s),
            app_ydoc_wire_log_id(app_ydoc_doc_id(d), lid));
        emit_join_error(s);
        return;
    }
    emit_room(y, s, app_ydoc_doc_room(d), "ydoc:user:joined", ident);
}

static void queue_free(join_t *j)
{
    while (j->q_head) {
        qev_t *q = j->q_head;
        j->q_head = q->next;
        free(q);
    }
    j->q_tail = NULL;
    j->q_count = j->q_bytes = 0;
}

static void join_unlink(join_t *j)
{
    if (!j->ys)
        return;
    join_t **pp = &j->ys->joins;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    j->next = NULL;
}

/* Handles the events that waited behind a join, in arrival order. */
static void replay(app_ydoc_t *y, join_t *j)
{
    qev_t *q = j->q_head;
    j->q_head = j->q_tail = NULL;
    while (q) {
        qev_t *next = q->next;
        msg_t m = {q->json, NULL, q->bins, q->n_bins};
        if (sioc_socket_is_connected(j->s))
            dispatch(y, j->s, q->kind, &m, q->ack_id);
        free(q);
        q = next;
    }
}

/*
 * The join is settled (or the module or the socket went away meanwhile). A database
 * failure is Open WebUI's "exception" path (the `error` event); a missing note or no
 * read access is silently ignored (spec §3.8 2). `ups` are the shared updates (Redis).
 */
static void complete_join(join_t *j, const slice_t *ups, size_t n_ups)
{
    app_ydoc_t *y = j->op.y;
    op_unlink(&j->op);
    join_unlink(j);
    ysock_t *ys = j->ys;
    char lid[LOG_ID_SIZE];
    if (y && ys && sioc_socket_is_connected(j->s)) {
        bool failed = (j->read_status != STORE_OK && j->read_status != STORE_ENOTFOUND) ||
                      (j->write_status != STORE_OK && j->write_status != STORE_ENOTFOUND);
        if (failed)
            emit_join_error(j->s);
        else if (j->can_read)
            do_join(y, j->s, ys, slice_from_cstr(j->doc_id), j->can_write, j->user_id, &j->ident,
                    ups, n_ups);
        else
            LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: join of %s refused (%s)",
                            sioc_socket_id(j->s), app_ydoc_wire_log_id(j->doc_id, lid),
                            j->read_status == STORE_ENOTFOUND ? "no such note" : "no access");
        ack(j->s, j->ack_id);
        replay(y, j);
    }
    queue_free(j);
    buf_dispose(&j->ident);
    free(j->doc_id);
    sioc_socket_unref(j->s);
    free(j);
}

static void on_shared_updates(int status, const slice_t *ups, size_t n, void *arg)
{
    (void)status; /* Redis failed: the join is served from this node's copy */
    complete_join(arg, ups, n);
}

/* Both access answers are in: with Redis, the shared state is fetched first (the join
 * stays pending meanwhile, so the socket's next events still wait behind it). */
static void finish_join(join_t *j)
{
    app_ydoc_t *y = j->op.y;
    bool ok = j->read_status == STORE_OK && j->can_read &&
              (j->write_status == STORE_OK || j->write_status == STORE_ENOTFOUND);
    if (y && y->yr && j->ys && ok && sioc_socket_is_connected(j->s) &&
        app_ydoc_redis_join(y->yr, j->doc_id, sioc_socket_id(j->s), on_shared_updates, j) == 0)
        return;
    complete_join(j, NULL, 0);
}

static void on_access_read(int status, bool flag, void *arg)
{
    join_t *j = arg;
    j->read_status = status;
    j->can_read = status == STORE_OK && flag;
    if (--j->waiting == 0)
        finish_join(j);
}

static void on_access_write(int status, bool flag, void *arg)
{
    join_t *j = arg;
    j->write_status = status;
    j->can_write = status == STORE_OK && flag;
    if (--j->waiting == 0)
        finish_join(j);
}

/*
 * ydoc:document:join (spec §3.8). Free-form documents join at once; a note needs READ
 * access (admin, owner or read grant), checked on the store's threads, and its WRITE
 * access is fetched in the same go for the updates to come. Returns true when the join
 * went asynchronous (it acks when it finishes).
 */
static bool handle_join(const ev_t *e)
{
    slice_t note = app_ydoc_wire_note_id(e->id, e->id_len);
    if (!note.ptr && !e->y->yr) {
        buf_t ident = BUF_INIT;
        build_ident(&ident, e);
        do_join(e->y, e->s, e->ys, slice_make(e->id, e->id_len), true, e->u->id, &ident, NULL, 0);
        buf_dispose(&ident);
        return false;
    }
    if (strlen(e->u->id) >= APP_YDOC_USER_ID_SIZE) {
        LOG_RATELIMITED(LOG_WARN, e->y->log_n, 100, "ydoc %s: user id too long",
                        sioc_socket_id(e->s));
        return false;
    }
    char note_id[APP_YDOC_MAX_ID + 1] = "";
    if (note.ptr) /* (memcpy from NULL would let the compiler drop the check below) */
        memcpy(note_id, note.ptr, note.len);
    note_id[note.len] = '\0';
    join_t *j = xcalloc(1, sizeof *j);
    j->ys = e->ys;
    join_t **tail = &e->ys->joins;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    j->s = e->s;
    sioc_socket_ref(e->s);
    j->doc_id = xstrndup(e->id, e->id_len);
    build_ident(&j->ident, e);
    snprintf(j->user_id, sizeof j->user_id, "%s", e->u->id);
    j->ack_id = e->ack_id;
    op_link(e->y, &j->op);
    if (!note.ptr) { /* a free-form document with Redis: no access check, only the fetch */
        j->can_read = j->can_write = true;
        finish_join(j);
        return true;
    }
    j->waiting = 2;
    store_note_access(e->y->store, note_id, e->u->id, e->u->is_admin, STORE_READ, on_access_read,
                      j);
    store_note_access(e->y->store, note_id, e->u->id, e->u->is_admin, STORE_WRITE, on_access_write,
                      j);
    return true;
}

/* The shared updates for a ydoc:document:state: merged into this node's copy (other
 * nodes' edits reach this one's clients, not its copy), then the state as without Redis. */
static void on_state_fetched(int status, const slice_t *ups, size_t n, void *arg)
{
    (void)status; /* Redis failed: this node's copy is what there is */
    state_fetch_t *f = arg;
    app_ydoc_t *y = f->op.y;
    op_unlink(&f->op);
    void **slot = y && sioc_socket_is_connected(f->s) ? app_socket_ydoc_slot(f->s) : NULL;
    ysock_t *ys = slot ? *slot : NULL;
    app_ydoc_member_t *mbr = ys ? app_ydoc_peer_find(&ys->peer, slice_from_cstr(f->doc_id)) : NULL;
    app_ydoc_doc_t *d = mbr ? app_ydoc_member_doc(mbr) : NULL;
    yjs_error_t err;
    for (size_t i = 0; d && i < n; i++)
        app_ydoc_doc_append(y->st, d, ups[i], &err); /* a bad one is skipped */
    if (d && app_ydoc_doc_has_updates(d) && send_state(y, f->s, d) != 0)
        LOG(LOG_ERROR, "ydoc %s: out of memory merging a state", sioc_socket_id(f->s));
    free(f->doc_id);
    sioc_socket_unref(f->s);
    free(f);
}

/* ydoc:document:state: the state again, for a member of a document that has updates
 * (the editor asks after failing to apply one). */
static void handle_state(const ev_t *e)
{
    char lid[LOG_ID_SIZE];
    app_ydoc_member_t *mbr = app_ydoc_peer_find(&e->ys->peer, slice_make(e->id, e->id_len));
    if (mbr && e->y->yr) {
        state_fetch_t *f = xcalloc(1, sizeof *f);
        f->s = e->s;
        f->doc_id = xstrndup(e->id, e->id_len);
        if (app_ydoc_redis_fetch(e->y->yr, f->doc_id, on_state_fetched, f) == 0) {
            sioc_socket_ref(e->s);
            op_link(e->y, &f->op);
            return;
        }
        free(f->doc_id);
        free(f);
    }
    if (!mbr || !app_ydoc_doc_has_updates(app_ydoc_member_doc(mbr)))
        return;
    if (send_state(e->y, e->s, app_ydoc_member_doc(mbr)) != 0)
        LOG(LOG_ERROR, "ydoc %s: out of memory merging %s", sioc_socket_id(e->s),
            app_ydoc_wire_log_id(e->id, lid));
}

/* ------------------------------------------------------------------ write permission */

static void on_recheck(int status, bool flag, void *arg)
{
    recheck_t *r = arg;
    app_ydoc_t *y = r->op.y;
    op_unlink(&r->op);
    void **slot = y && sioc_socket_is_connected(r->s) ? app_socket_ydoc_slot(r->s) : NULL;
    ysock_t *ys = slot ? *slot : NULL;
    app_ydoc_member_t *mbr = ys ? app_ydoc_peer_find(&ys->peer, slice_from_cstr(r->doc_id)) : NULL;
    if (mbr) {
        app_ydoc_access_t *acc = app_ydoc_member_access(mbr);
        acc->checking = false;
        acc->checked_ms = uv_now(y->loop);
        /* a database failure keeps the last answer until the next re-check */
        if (status == STORE_OK || status == STORE_ENOTFOUND) {
            acc->can_write = status == STORE_OK && flag;
            snprintf(acc->user_id, sizeof acc->user_id, "%s", r->user_id);
        }
    }
    free(r->doc_id);
    sioc_socket_unref(r->s);
    free(r);
}

/*
 * Whether the sender may update a note (spec §3.8 update 1: admin, owner or write grant).
 * The answer cached at join is used; when it is older than APP_YDOC_RECHECK_MS, or was
 * given for another user (user-join can switch a socket's user), a re-check starts in the
 * background. Until it answers, another user's cache counts as "no".
 */
static bool may_write(const ev_t *e, app_ydoc_member_t *mbr, slice_t note)
{
    app_ydoc_access_t *acc = app_ydoc_member_access(mbr);
    bool same_user = strcmp(acc->user_id, e->u->id) == 0;
    uint64_t now = uv_now(e->y->loop);
    if ((!same_user || now - acc->checked_ms >= APP_YDOC_RECHECK_MS) && !acc->checking &&
        strlen(e->u->id) < APP_YDOC_USER_ID_SIZE) {
        char note_id[APP_YDOC_MAX_ID + 1];
        memcpy(note_id, note.ptr, note.len);
        note_id[note.len] = '\0';
        recheck_t *r = xcalloc(1, sizeof *r);
        r->s = e->s;
        sioc_socket_ref(e->s);
        r->doc_id = xstrndup(e->id, e->id_len);
        snprintf(r->user_id, sizeof r->user_id, "%s", e->u->id);
        op_link(e->y, &r->op);
        acc->checking = true;
        store_note_access(e->y->store, note_id, e->u->id, e->u->is_admin, STORE_WRITE, on_recheck,
                          r);
    }
    return same_user && acc->can_write;
}

/* ------------------------------------------------------------------ saves */

static void run_saves(app_ydoc_t *y, bool all);
static void on_timer(uv_timer_t *t);

/* Points the timer at the earliest deadline (or stops it). */
static void arm_timer(app_ydoc_t *y)
{
    int64_t due = app_ydoc_save_next_due(y->st);
    if (due < 0) {
        uv_timer_stop(&y->timer);
        return;
    }
    uint64_t now = uv_now(y->loop);
    uv_timer_start(&y->timer, on_timer, (uint64_t)due > now ? (uint64_t)due - now : 0, 0);
}

static void maybe_flushed(app_ydoc_t *y)
{
    if (!y->flush_done || app_ydoc_save_count(y->st) != 0)
        return;
    void (*done)(void *) = y->flush_done;
    y->flush_done = NULL;
    done(y->flush_arg);
}

static void on_saved(int status, void *arg)
{
    save_op_t *op = arg;
    app_ydoc_t *y = op->op.y;
    if (!y) { /* the module is gone, and the save record with it */
        free(op);
        return;
    }
    op_unlink(&op->op);
    if (status == STORE_EACCES)
        LOG_RATELIMITED(LOG_WARN, y->log_n, 100, "ydoc: note save refused: no write access");
    else if (status == STORE_ENOTFOUND)
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc: note save: the note is gone");
    else if (status != STORE_OK)
        LOG(LOG_ERROR, "ydoc: note save failed: %s", store_strerror(status));
    app_ydoc_save_done(y->st, op->sv);
    free(op);
    if (y->flushing) {
        run_saves(y, true);
        maybe_flushed(y);
        return;
    }
    arm_timer(y);
}

/* Starts the writes that are due (every armed one when `all`). */
static void run_saves(app_ydoc_t *y, bool all)
{
    app_ydoc_save_job_t job;
    app_ydoc_save_t *sv;
    uint64_t now = uv_now(y->loop);
    while ((sv = app_ydoc_save_take(y->st, now, all, &job)) != NULL) {
        save_op_t *op = xcalloc(1, sizeof *op);
        op->sv = sv;
        op_link(y, &op->op);
        store_note_update_data(y->store, job.note_id, job.data_json, job.user_id, job.is_admin,
                               on_saved, op);
    }
}

static void on_timer(uv_timer_t *t)
{
    app_ydoc_t *y = t->data;
    run_saves(y, false);
    arm_timer(y);
}

/* ------------------------------------------------------------------ update, leave, awareness */

/* Keeps the note content of `e` (a nonempty `data` object) for the debounced save. */
static void schedule_save(const ev_t *e, app_ydoc_doc_t *d, slice_t note)
{
    app_ydoc_t *y = e->y;
    char lid[LOG_ID_SIZE];
    if (app_ydoc_save_schedule(y->st, d, note, e->f->data.raw, e->u->id, e->u->is_admin,
                               uv_now(y->loop), y->flushing ? 0 : APP_YDOC_SAVE_DELAY_MS) != 0)
        LOG(LOG_ERROR, "ydoc %s: out of memory keeping the save of %s", sioc_socket_id(e->s),
            app_ydoc_wire_log_id(e->id, lid));
    if (y->flushing)
        run_saves(y, true);
    else
        arm_timer(y);
}

/*
 * ydoc:document:update (spec §3.8): a member with write access (notes) stores the update
 * and it goes to the rest of the room as {"document_id","user_id","update","socket_id"};
 * an update carrying a `data` object (re)arms the note's save. Open WebUI's current editor
 * also sends content snapshots with `data` and no `update` at all: those only re-arm the
 * save (nothing to store or relay).
 */
static void handle_update(const ev_t *e)
{
    app_ydoc_t *y = e->y;
    const char *sid = sioc_socket_id(e->s);
    app_ydoc_member_t *mbr = app_ydoc_peer_find(&e->ys->peer, slice_make(e->id, e->id_len));
    slice_t note = app_ydoc_wire_note_id(e->id, e->id_len);
    slice_t bytes;
    bool binary;
    yjs_error_t err;
    char lid[LOG_ID_SIZE];
    if (!mbr || (note.ptr && !may_write(e, mbr, note))) {
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: update of %s dropped: %s", sid,
                        app_ydoc_wire_log_id(e->id, lid),
                        mbr ? "no write access" : "not in the document");
        return;
    }
    if (e->f->update.type == JSON_INVALID && note.ptr &&
        app_ydoc_wire_is_nonempty_object(e->f->data)) {
        schedule_save(e, app_ydoc_member_doc(mbr), note);
        return;
    }
    if (!update_bytes(y, e->m, e->f->update, &bytes, &binary)) {
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: update of %s is not a byte array", sid,
                        app_ydoc_wire_log_id(e->id, lid));
        return;
    }
    app_ydoc_doc_t *d = app_ydoc_member_doc(mbr);
    int rc = app_ydoc_doc_append(y->st, d, bytes, &err);
    if (rc == APP_YDOC_OK && y->yr)
        app_ydoc_redis_append(y->yr, e->id, bytes);
    if (rc != APP_YDOC_OK) {
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: update of %s dropped: %s", sid,
                        app_ydoc_wire_log_id(e->id, lid),
                        rc == APP_YDOC_EINVAL  ? err.msg
                        : rc == APP_YDOC_EFULL ? "document too large"
                                               : "out of memory");
        app_ydoc_wire_scratch_done(&y->bytes);
        return;
    }
    buf_t *o = &y->out;
    app_ydoc_wire_append_doc_key(o, e->id, e->id_len);
    buf_append_cstr(o, ",\"user_id\":");
    app_ydoc_wire_append_or(o, e->f->user_id, sid);
    buf_append_cstr(o, ",\"update\":");
    if (binary)
        app_ydoc_wire_append_bytes(o, bytes);
    else
        buf_append_slice(o, e->f->update.raw);
    buf_append_cstr(o, ",\"socket_id\":");
    json_append_string(o, slice_from_cstr(sid));
    buf_append_byte(o, '}');
    emit_room(y, e->s, app_ydoc_doc_room(d), "ydoc:document:update", o);
    app_ydoc_wire_scratch_done(o);
    app_ydoc_wire_scratch_done(&y->bytes);
    if (note.ptr && app_ydoc_wire_is_nonempty_object(e->f->data))
        schedule_save(e, d, note);
}

/* ydoc:document:leave: out of the document and its room; the others get ydoc:user:left
 * with the authenticated user id (spec §3.8). The last one out clears the document. */
static void handle_leave(const ev_t *e)
{
    app_ydoc_member_t *mbr = app_ydoc_peer_find(&e->ys->peer, slice_make(e->id, e->id_len));
    if (!mbr)
        return;
    char room[APP_YDOC_MAX_ID + 8];
    snprintf(room, sizeof room, "%s", app_ydoc_doc_room(app_ydoc_member_doc(mbr)));
    buf_t *o = &e->y->out;
    app_ydoc_wire_append_doc_key(o, e->id, e->id_len);
    buf_append_cstr(o, ",\"user_id\":");
    json_append_string(o, slice_from_cstr(e->u->id));
    buf_append_byte(o, '}');
    sioc_socket_leave(e->s, room);
    app_ydoc_store_leave(e->y->st, mbr);
    if (e->y->yr)
        app_ydoc_redis_leave(e->y->yr, e->id, sioc_socket_id(e->s));
    emit_room(e->y, NULL, room, "ydoc:user:left", o);
    app_ydoc_wire_scratch_done(o);
}

/* ydoc:awareness:update: relayed to the rest of the room with the authenticated user id,
 * never stored (spec §3.8). */
static void handle_awareness(const ev_t *e)
{
    app_ydoc_member_t *mbr = app_ydoc_peer_find(&e->ys->peer, slice_make(e->id, e->id_len));
    json_value_t upd = e->f->update;
    slice_t bytes;
    if (!mbr || upd.type == JSON_INVALID)
        return;
    buf_t *o = &e->y->out;
    app_ydoc_wire_append_doc_key(o, e->id, e->id_len);
    buf_append_cstr(o, ",\"user_id\":");
    json_append_string(o, slice_from_cstr(e->u->id));
    buf_append_cstr(o, ",\"update\":");
    if (upd.type == JSON_OBJECT && app_ydoc_wire_placeholder(e->m, upd.raw, &bytes))
        app_ydoc_wire_append_bytes(o, bytes);
    else
        buf_append_slice(o, upd.raw);
    buf_append_byte(o, '}');
    emit_room(e->y, e->s, app_ydoc_doc_room(app_ydoc_member_doc(mbr)), "ydoc:awareness:update", o);
    app_ydoc_wire_scratch_done(o);
}

/* ------------------------------------------------------------------ dispatch */

/* Copies an event behind a join of the same document (bounded; past the bound it is
 * dropped, with its ack). */
static void enqueue(app_ydoc_t *y, join_t *j, sioc_socket_t *s, enum kind k, const msg_t *m,
                    int64_t ack_id)
{
    size_t n_bins = m->args ? sioc_args_bin_count(m->args) : m->n_bins;
    size_t size = sizeof(qev_t) + n_bins * sizeof(slice_t) + m->json.len;
    slice_t b;
    for (size_t i = 0; i < n_bins; i++)
        size += app_ydoc_wire_bin(m, (int64_t)i, &b) ? b.len : 0;
    qev_t *q = NULL;
    if (j->q_count < QUEUE_MAX_EVENTS && j->q_bytes + size <= QUEUE_MAX_BYTES)
        q = try_malloc(size);
    if (!q) {
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: %s dropped: too much waiting for a join",
                        sioc_socket_id(s), KIND_NAME[k]);
        ack(s, ack_id);
        return;
    }
    q->next = NULL;
    q->kind = k;
    q->ack_id = ack_id;
    q->n_bins = n_bins;
    q->bins = (slice_t *)q->data;
    uint8_t *p = q->data + n_bins * sizeof(slice_t);
    for (size_t i = 0; i < n_bins; i++) {
        if (!app_ydoc_wire_bin(m, (int64_t)i, &b))
            b = slice_make(NULL, 0);
        if (b.len)
            memcpy(p, b.ptr, b.len);
        q->bins[i] = slice_make(p, b.len);
        p += b.len;
    }
    if (m->json.len)
        memcpy(p, m->json.ptr, m->json.len);
    q->json = slice_make(p, m->json.len);
    if (j->q_tail)
        j->q_tail->next = q;
    else
        j->q_head = q;
    j->q_tail = q;
    j->q_count++;
    j->q_bytes += size;
}

static join_t *pending_join(const ysock_t *ys, const char *id)
{
    for (join_t *j = ys->joins; j; j = j->next) {
        if (strcmp(j->doc_id, id) == 0)
            return j;
    }
    return NULL;
}

/*
 * Every ydoc event goes through here: anonymous sockets are ignored (spec §3.8 "auth'd
 * only"), the payload is parsed once, and an event for a document whose join by this
 * socket is still being checked waits behind it, so one socket's events are handled in
 * the order they came.
 */
static void dispatch(app_ydoc_t *y, sioc_socket_t *s, enum kind k, const msg_t *m, int64_t ack_id)
{
    const app_user_t *u = app_socket_user(s);
    void **slot = app_socket_ydoc_slot(s);
    app_ydoc_fields_t f;
    char id[APP_YDOC_MAX_ID + 1];
    long n = -1;
    if (!u || !slot)
        goto out_ack;
    if (!app_ydoc_wire_parse_fields(m->json, &f) ||
        (n = app_ydoc_wire_doc_id(f.document_id, id, APP_YDOC_MAX_ID)) < 0) {
        LOG_RATELIMITED(LOG_INFO, y->log_n, 100, "ydoc %s: %s without a usable document_id",
                        sioc_socket_id(s), KIND_NAME[k]);
        if (k == EV_JOIN)
            emit_join_error(s);
        goto out_ack;
    }
    ysock_t *ys = *slot;
    if (!ys && k != EV_JOIN)
        goto out_ack; /* in no document */
    if (!ys) {
        ys = xcalloc(1, sizeof *ys);
        snprintf(ys->peer.sid, sizeof ys->peer.sid, "%s", sioc_socket_id(s));
        ys->next = y->socks;
        if (y->socks)
            y->socks->pprev = &ys->next;
        ys->pprev = &y->socks;
        y->socks = ys;
        *slot = ys;
    }
    join_t *j = pending_join(ys, id);
    if (j) {
        enqueue(y, j, s, k, m, ack_id);
        return;
    }
    ev_t e = {y, s, ys, u, &f, m, id, (size_t)n, ack_id};
    switch (k) {
    case EV_JOIN:
        if (handle_join(&e))
            return; /* acked when the join finishes */
        break;
    case EV_STATE:
        handle_state(&e);
        break;
    case EV_UPDATE:
        handle_update(&e);
        break;
    case EV_LEAVE:
        handle_leave(&e);
        break;
    case EV_AWARENESS:
        handle_awareness(&e);
        break;
    }
out_ack:
    ack(s, ack_id);
}

/* The one sioc handler of the five events: the name says which. */
static void on_event(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *a, int64_t ack_id,
                     void *arg)
{
    enum kind k = EV_JOIN;
    while (k < EV_AWARENESS &&
           !(strlen(KIND_NAME[k]) == name.len && memcmp(KIND_NAME[k], name.ptr, name.len) == 0))
        k++;
    sioc_str_t arg0 = sioc_args_at(a, 0);
    msg_t m = {slice_make(arg0.ptr, arg0.len), a, NULL, 0};
    dispatch(arg, s, k, &m, ack_id);
}

/* ------------------------------------------------------------------ module */

app_ydoc_t *app_ydoc_register(app_t *app)
{
    app_ydoc_t *y = xcalloc(1, sizeof *y);
    y->app = app;
    y->nsp = app_nsp(app);
    y->store = app_store(app);
    y->loop = app_loop(app);
    if (!y->nsp || !y->store || !y->loop || uv_timer_init(y->loop, &y->timer) != 0) {
        LOG(LOG_ERROR, "ydoc: cannot start (no namespace, store or loop)");
        free(y);
        return NULL;
    }
    y->timer.data = y;
    y->st = app_ydoc_store_new();
    y->yr = app_ydoc_redis_new(app_redis_of(app));
    for (size_t k = 0; k < sizeof KIND_NAME / sizeof KIND_NAME[0]; k++)
        sioc_on(y->nsp, KIND_NAME[k], on_event, y);
    return y;
}

/* Frees a socket's state: out of every document, its joins in progress cancelled (they
 * finish on their own and find themselves cancelled). */
static void ysock_free(app_ydoc_t *y, ysock_t *ys)
{
    if (y->yr && ys->peer.members)
        app_ydoc_redis_leave_all(y->yr, ys->peer.sid);
    app_ydoc_store_leave_all(y->st, &ys->peer);
    while (ys->joins) {
        join_t *j = ys->joins;
        ys->joins = j->next;
        j->next = NULL;
        j->ys = NULL;
        queue_free(j);
    }
    *ys->pprev = ys->next;
    if (ys->next)
        ys->next->pprev = ys->pprev;
    free(ys);
}

void app_ydoc_on_disconnect(app_ydoc_t *y, sioc_socket_t *s)
{
    void **slot = y ? app_socket_ydoc_slot(s) : NULL;
    ysock_t *ys = slot ? *slot : NULL;
    if (!ys)
        return;
    *slot = NULL;
    ysock_free(y, ys);
}

void app_ydoc_resync(app_ydoc_t *y)
{
    if (y && y->yr)
        app_ydoc_redis_resync(y->yr, y->st);
}

void app_ydoc_flush_all(app_ydoc_t *y, void (*done)(void *arg), void *arg)
{
    y->flushing = true;
    y->flush_done = done;
    y->flush_arg = arg;
    uv_timer_stop(&y->timer);
    run_saves(y, true);
    maybe_flushed(y);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void app_ydoc_free(app_ydoc_t *y)
{
    if (!y)
        return;
    /* requests in flight clean up after themselves when their callbacks run */
    while (y->ops) {
        op_t *op = y->ops;
        y->ops = op->next;
        op->y = NULL;
    }
    if (app_ydoc_save_count(y->st) > app_ydoc_save_writing(y->st))
        LOG(LOG_ERROR, "ydoc: %zu note saves dropped at exit (no flush)",
            app_ydoc_save_count(y->st) - app_ydoc_save_writing(y->st));
    /* sockets still connected keep a stale slot pointer, which the app never reads */
    while (y->socks)
        ysock_free(y, y->socks);
    app_ydoc_store_free(y->st);
    y->st = NULL;
    app_ydoc_redis_free(y->yr);
    y->yr = NULL;
    buf_dispose(&y->out);
    buf_dispose(&y->bytes);
    uv_close((uv_handle_t *)&y->timer, on_timer_closed);
}
