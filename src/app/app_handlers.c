/*
 * app_handlers: the client events of Open WebUI's socket layer (openwebui-protocol.md §2,
 * §3.1-§3.7, §3.9; the Yjs events are app_ydoc.c's).
 *
 * Connect. Open WebUI runs python-socketio with always_connect: CONNECT is acknowledged
 * whatever the token, and a bad token leaves an anonymous socket. Here the namespace
 * middleware checks the token (JWT on the loop, the user row on the thread pool) and then
 * accepts every socket, so the CONNECT reply goes out once the session is in place: a
 * client's first events (sent after it sees CONNECT) never race the check. The client
 * cannot tell the difference except by a few milliseconds.
 *
 * SESSION_POOL and USAGE_POOL: the socket's record and app_usage are this node's view;
 * every change is also handed to app_pool, which shares it in Redis with
 * WEBSOCKET_MANAGER=redis (app_pool.h) and does nothing otherwise.
 *
 * Per-socket state lives in an app_sock_t (sioc_socket_set_user), created by the
 * middleware and freed by the disconnect handler (or right after the accept when the
 * client left during the check). Asynchronous work holds a socket reference and, when its
 * store callback runs, finds the record again through the socket: none means the socket
 * has gone and the result is dropped.
 *
 * Acks: every handler here returns None in Open WebUI, so a client that asks for an ack
 * gets an empty one, except user-join which answers {"id","name"}. A malformed payload
 * (Python would raise) gets no ack and is logged at a limited rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "app/app_private.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"

#if __has_include("app/app_ydoc.h")
#include "app/app_ydoc.h"
#define APP_HAVE_YDOC 1
#else
#define APP_HAVE_YDOC 0
#endif

/* room name buffer: the longest prefix ("channel:") + an id */
#define ROOM_MAX (16 + APP_ID_MAX)

static slice_t arg0(const sioc_args_t *a)
{
    sioc_str_t v = sioc_args_at(a, 0);
    return slice_make(v.ptr, v.len);
}

static void ack_empty(sioc_socket_t *s, int64_t ack)
{
    if (ack >= 0)
        sioc_socket_ack(s, ack, sioc_json(NULL));
}

static const char *room_of(char *buf, const char *prefix, const char *id)
{
    snprintf(buf, ROOM_MAX, "%s%s", prefix, id);
    return buf;
}

/* The socket's record when the socket is still connected, else NULL. */
static app_sock_t *alive(sioc_socket_t *s)
{
    return sioc_socket_is_connected(s) ? app__sock(s) : NULL;
}

static void bad_input(app_t *app, const char *event, const char *why)
{
    LOG_RATELIMITED(LOG_WARN, app->log_count, 100, "event %s: %s (ignored)", event, why);
}

/* Replaces the socket's user; leaves the old user's room when the user changes. */
static void set_user(app_sock_t *r, const store_user_t *u)
{
    char room[ROOM_MAX];
    if (r->user && strcmp(r->user->pub.id, u->id) != 0)
        sioc_socket_leave(r->s, room_of(room, "user:", r->user->pub.id));
    free(r->user);
    r->user = app__user_new(u, app__now_s());
    sioc_socket_join(r->s, room_of(room, "user:", u->id));
    app_pool_session_put(r->app->pool, sioc_socket_id(r->s), &r->user->pub);
}

/* ---- connect / disconnect ---------------------------------------------------------- */

static void free_record(sioc_socket_t *s, app_sock_t *r)
{
    if (r->user && sioc_socket_id(s)[0]) {
        app_pool_session_del(r->app->pool, sioc_socket_id(s));
        if (r->usage)
            app_pool_usage_drop(r->app->pool, sioc_socket_id(s));
    }
    app_usage_drop(r->app->usage, &r->usage);
    free(r->read_pending);
    free(r->user);
    sioc_socket_set_user(s, NULL);
    r->app->sockets--;
    free(r);
}

static void finish_connect(sioc_socket_t *s, app_sock_t *r)
{
    sioc_socket_accept(s); /* runs on_connection when the client is still there */
    if (!sioc_socket_is_connected(s))
        free_record(s, r); /* the client left during the check: no disconnect will come */
    sioc_socket_unref(s);
}

static void on_connect_auth(app_t *app, int status, const store_user_t *u, void *arg)
{
    (void)app;
    sioc_socket_t *s = arg;
    app_sock_t *r = app__sock(s);
    if (status == STORE_OK)
        r->user = app__user_new(u, app__now_s());
    finish_connect(s, r);
}

static void on_middleware(sioc_socket_t *s, sioc_str_t auth, void *arg)
{
    app_t *app = arg;
    app_sock_t *r = xcalloc(1, sizeof *r);
    r->app = app;
    r->s = s;
    sioc_socket_set_user(s, r);
    app->sockets++;
    sioc_socket_ref(s);
    char tok[APP_TOKEN_MAX + 1];
    long n = app__token_of(slice_make(auth.ptr, auth.len), true, tok, sizeof tok);
    if (n <= 0) {
        finish_connect(s, r);
        return;
    }
    app__auth_token(app, tok, (size_t)n, on_connect_auth, s);
}

static void on_connection(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status;
    (void)auth;
    (void)arg;
    app_sock_t *r = app__sock(s);
    if (r && r->user) {
        char room[ROOM_MAX];
        sioc_socket_join(s, room_of(room, "user:", r->user->pub.id));
        app_pool_session_put(r->app->pool, sioc_socket_id(s), &r->user->pub);
    }
}

static void on_disconnect(sioc_socket_t *s, sioc_reason_t reason, void *arg)
{
    (void)reason;
    app_t *app = arg;
    app_sock_t *r = app__sock(s);
    if (!r)
        return;
#if APP_HAVE_YDOC
    if (app->ydoc)
        app_ydoc_on_disconnect(app->ydoc, s);
#else
    (void)app;
#endif
    free_record(s, r);
}

/* ---- user-join, join-channels, join-note ------------------------------------------- */

typedef enum join_kind { J_USER, J_CHANNELS, J_NOTE } join_kind_t;

typedef struct join_op {
    app_t *app;
    sioc_socket_t *s;
    int64_t ack;
    join_kind_t kind;
    bool is_admin;
    char *reply; /* user-join's ack JSON, NULL = empty ack */
    char user_id[APP_ID_MAX];
    char note_id[APP_ID_MAX];
} join_op_t;

static void join_finish(join_op_t *op)
{
    if (alive(op->s) && op->ack >= 0)
        sioc_socket_ack(op->s, op->ack, sioc_json(op->reply));
    sioc_socket_unref(op->s);
    free(op->reply);
    free(op);
}

static void on_channels(int status, const store_ids_t *ids, void *arg)
{
    join_op_t *op = arg;
    if (status == STORE_OK && alive(op->s)) {
        char room[ROOM_MAX];
        for (size_t i = 0; i < ids->n; i++)
            sioc_socket_join(op->s, room_of(room, "channel:", ids->v[i]));
    }
    join_finish(op);
}

/* has_permission(user, "features.channels"): any group granting it, else the default. */
static bool groups_grant_channels(const store_groups_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        const char *p = g->v[i].permissions_json;
        json_value_t features, ch;
        if (!p || !app_json_get(slice_from_cstr(p), "features", &features))
            continue;
        if (features.type == JSON_OBJECT && app_json_get(features.raw, "channels", &ch) &&
            app_json_truthy(ch))
            return true;
    }
    return false;
}

static void on_groups(int status, const store_groups_t *groups, void *arg)
{
    join_op_t *op = arg;
    bool allowed = op->app->cfg->default_channels_perm;
    if (status == STORE_OK && groups_grant_channels(groups))
        allowed = true;
    if (status != STORE_OK || !allowed || !alive(op->s) || !op->app->store) {
        join_finish(op);
        return;
    }
    store_channels_of_user(op->app->store, op->user_id, on_channels, op);
}

static void join_channels(join_op_t *op)
{
    store_t *st = op->app->store;
    if (!st || op->app->stopping)
        join_finish(op);
    else if (op->is_admin)
        store_channels_of_user(st, op->user_id, on_channels, op);
    else
        store_user_groups(st, op->user_id, on_groups, op);
}

static void on_note_access(int status, bool flag, void *arg)
{
    join_op_t *op = arg;
    if (status == STORE_OK && flag && alive(op->s)) {
        char room[ROOM_MAX];
        sioc_socket_join(op->s, room_of(room, "note:", op->note_id));
    }
    join_finish(op);
}

static char *user_join_reply(const store_user_t *u)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"id\":");
    json_append_string(&b, slice_from_cstr(u->id));
    buf_append_cstr(&b, ",\"name\":");
    json_append_string(&b, slice_from_cstr(u->name ? u->name : ""));
    buf_append_cstr(&b, "}");
    buf_append_byte(&b, '\0');
    size_t len;
    return (char *)buf_steal(&b, &len);
}

static void on_join_auth(app_t *app, int status, const store_user_t *u, void *arg)
{
    join_op_t *op = arg;
    app_sock_t *r = alive(op->s);
    if (status != STORE_OK || !r) {
        join_finish(op);
        return;
    }
    snprintf(op->user_id, sizeof op->user_id, "%s", u->id);
    op->is_admin = strcmp(u->role, "admin") == 0;
    switch (op->kind) {
    case J_USER:
        set_user(r, u);
        op->reply = user_join_reply(u);
        join_channels(op);
        break;
    case J_CHANNELS:
        join_channels(op);
        break;
    case J_NOTE:
        if (!app->store || app->stopping) {
            join_finish(op);
            break;
        }
        store_note_access(app->store, op->note_id, u->id, op->is_admin, STORE_READ, on_note_access,
                          op);
        break;
    }
}

static void start_join(app_t *app, sioc_socket_t *s, join_kind_t kind, const char *event,
                       const sioc_args_t *args, int64_t ack)
{
    if (!app__sock(s))
        return;
    slice_t p = arg0(args);
    char note_id[APP_ID_MAX] = "";
    if (kind == J_NOTE && app_json_get_str(p, "note_id", note_id, sizeof note_id) <= 0) {
        bad_input(app, event, "no note_id");
        return;
    }
    char tok[APP_TOKEN_MAX + 1];
    long n = app__token_of(p, false, tok, sizeof tok);
    if (n <= 0) { /* no token: Open WebUI returns None */
        ack_empty(s, ack);
        return;
    }
    join_op_t *op = xcalloc(1, sizeof *op);
    op->app = app;
    op->s = s;
    op->ack = ack;
    op->kind = kind;
    memcpy(op->note_id, note_id, sizeof note_id);
    sioc_socket_ref(s);
    app__auth_token(app, tok, (size_t)n, on_join_auth, op);
}

static void on_user_join(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                         void *arg)
{
    (void)name;
    start_join(arg, s, J_USER, "user-join", args, ack);
}

static void on_join_channels(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args,
                             int64_t ack, void *arg)
{
    (void)name;
    start_join(arg, s, J_CHANNELS, "join-channels", args, ack);
}

static void on_join_note(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                         void *arg)
{
    (void)name;
    start_join(arg, s, J_NOTE, "join-note", args, ack);
}

/* ---- heartbeat --------------------------------------------------------------------- */

static void on_touched(int status, bool flag, void *arg)
{
    (void)flag;
    sioc_socket_t *s = arg;
    app_sock_t *r = app__sock(s);
    if (r)
        r->touch_inflight = false;
    if (status != STORE_OK && status != STORE_ECANCELED)
        LOG(LOG_WARN, "heartbeat: last_active_at not written: %s", store_strerror(status));
    sioc_socket_unref(s);
}

static void on_heartbeat(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                         void *arg)
{
    (void)name;
    (void)args;
    app_t *app = arg;
    app_sock_t *r = app__sock(s);
    if (!r)
        return;
    if (r->user) {
        r->user->pub.last_seen_at = app__now_s();
        app_pool_session_put(app->pool, sioc_socket_id(s), &r->user->pub);
        /* one write in flight per socket: a flood of heartbeats costs one row update */
        if (!r->touch_inflight && app->store && !app->stopping) {
            r->touch_inflight = true;
            sioc_socket_ref(s);
            store_user_touch(app->store, r->user->pub.id, on_touched, s);
        }
    }
    ack_empty(s, ack);
}

/* ---- usage ------------------------------------------------------------------------- */

static void on_usage(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                     void *arg)
{
    (void)name;
    app_t *app = arg;
    app_sock_t *r = app__sock(s);
    if (!r)
        return;
    if (r->user) {
        char model[APP_USAGE_MODEL_MAX + 1];
        long n = app_json_get_str(arg0(args), "model", model, sizeof model);
        if (n <= 0 || app_usage_touch(app->usage, &r->usage, model, (size_t)n, app__now_s()) != 0) {
            bad_input(app, "usage", "no usable model id");
            return;
        }
        app_pool_usage_touch(app->pool, sioc_socket_id(s), model, (size_t)n, app__now_s());
    }
    ack_empty(s, ack);
}

/* ---- events:channel ---------------------------------------------------------------- */

static void mark_read(app_t *app, sioc_socket_t *s, app_sock_t *r, const char *channel_id);

static void on_marked_read(int status, bool flag, void *arg)
{
    (void)flag;
    sioc_socket_t *s = arg;
    app_sock_t *r = alive(s);
    if (status != STORE_OK && status != STORE_ECANCELED)
        LOG(LOG_WARN, "events:channel: last_read_at not written: %s", store_strerror(status));
    if (r) {
        r->read_inflight = false;
        char *next = r->read_pending;
        r->read_pending = NULL;
        if (next)
            mark_read(r->app, s, r, next);
        free(next);
    }
    sioc_socket_unref(s);
}

/* One channel_member write in flight per socket; a newer one waits and the waiting one is
 * replaced (the front end sends one per keystroke; the last one is what matters). */
static void mark_read(app_t *app, sioc_socket_t *s, app_sock_t *r, const char *channel_id)
{
    if (!r->user || !app->store || app->stopping)
        return;
    if (r->read_inflight) {
        free(r->read_pending);
        r->read_pending = xstrndup(channel_id, strlen(channel_id));
        return;
    }
    r->read_inflight = true;
    sioc_socket_ref(s);
    store_channel_mark_read(app->store, channel_id, r->user->pub.id, on_marked_read, s);
}

static void emit_typing(app_t *app, const char *room, slice_t p, json_value_t cid,
                        json_value_t data, const app_user_t *u)
{
    buf_t *b = &app->scratch;
    json_value_t mid;
    buf_clear(b);
    buf_append_cstr(b, "{\"channel_id\":");
    buf_append_slice(b, cid.raw);
    buf_append_cstr(b, ",\"message_id\":");
    if (app_json_get(p, "message_id", &mid))
        buf_append_slice(b, mid.raw);
    else
        buf_append_cstr(b, "null");
    buf_append_cstr(b, ",\"data\":");
    buf_append_slice(b, data.raw);
    buf_append_cstr(b, ",\"user\":{\"id\":");
    json_append_string(b, slice_from_cstr(u->id));
    buf_append_cstr(b, ",\"name\":");
    json_append_string(b, slice_from_cstr(u->name));
    buf_append_cstr(b, ",\"role\":");
    json_append_string(b, slice_from_cstr(u->role));
    buf_append_cstr(b, "}}");
    sioc_data_t d = {(const char *)buf_data(b), b->len, NULL, 0};
    sioc_emit_room(app->nsp, room, "events:channel", d);
}

static void on_events_channel(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args,
                              int64_t ack, void *arg)
{
    (void)name;
    app_t *app = arg;
    app_sock_t *r = app__sock(s);
    if (!r)
        return;
    slice_t p = arg0(args);
    json_value_t cid, data, type;
    char channel_id[APP_ID_MAX], room[ROOM_MAX], tname[32];
    if (!app_json_get(p, "channel_id", &cid) ||
        app_json_str(cid, channel_id, sizeof channel_id) <= 0 || !app_json_get(p, "data", &data) ||
        data.type != JSON_OBJECT || !app_json_get(data.raw, "type", &type)) {
        bad_input(app, "events:channel", "needs channel_id and data.type");
        return;
    }
    room_of(room, "channel:", channel_id);
    if (!r->user || !sioc_socket_in_room(s, room)) {
        ack_empty(s, ack);
        return;
    }
    if (app_json_str(type, tname, sizeof tname) < 0)
        tname[0] = '\0';
    if (strcmp(tname, "typing") == 0) {
        uint64_t now = app__now_ms();
        if (now - r->last_typing_ms >= app->cfg->typing_interval_ms || now < r->last_typing_ms) {
            r->last_typing_ms = now;
            emit_typing(app, room, p, cid, data, &r->user->pub);
        }
    } else if (strcmp(tname, "last_read_at") == 0) {
        mark_read(app, s, r, channel_id);
    }
    ack_empty(s, ack);
}

/* ---- events:chat ------------------------------------------------------------------- */

typedef struct chat_read_op {
    app_t *app;
    char user_id[APP_ID_MAX];
    char chat_id[APP_ID_MAX];
    int64_t at; /* the second the write was asked for */
} chat_read_op_t;

/* [latest]: tell every tab of the user (chat:list), with the folders' unread counts when
 * this read changed them (spec §3.7). `res` is store_chat_read's JSON answer. */
static void on_chat_read(int status, const char *res, void *arg)
{
    chat_read_op_t *op = arg;
    app_t *app = op->app;
    if (status == STORE_OK && res && !app->stopping) {
        buf_t *b = &app->scratch;
        char room[ROOM_MAX];
        json_value_t counts;
        buf_clear(b);
        buf_append_cstr(b, "{\"chat_id\":");
        json_append_string(b, slice_from_cstr(op->chat_id));
        buf_append_cstr(b, ",\"data\":{\"type\":\"chat:list\",\"data\":{\"chat_id\":");
        json_append_string(b, slice_from_cstr(op->chat_id));
        buf_append_cstr(b, ",\"last_read_at\":");
        json_append_i64(b, op->at);
        if (app_json_get(slice_from_cstr(res), "folder_unread_counts", &counts) &&
            counts.type == JSON_OBJECT) {
            buf_append_cstr(b, ",\"folder_unread_counts\":");
            buf_append_slice(b, counts.raw);
        }
        buf_append_cstr(b, "}}}");
        sioc_data_t d = {(const char *)buf_data(b), b->len, NULL, 0};
        sioc_emit_room(app->nsp, room_of(room, "user:", op->user_id), "events", d);
    } else if (status != STORE_OK && status != STORE_ENOTSUP && status != STORE_ECANCELED &&
               status != STORE_ENOTFOUND) {
        LOG(LOG_WARN, "events:chat: last_read_at not written: %s", store_strerror(status));
    }
    free(op);
}

static void on_events_chat(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                           void *arg)
{
    (void)name;
    app_t *app = arg;
    app_sock_t *r = app__sock(s);
    if (!r)
        return;
    slice_t p = arg0(args);
    json_value_t data;
    char chat_id[APP_ID_MAX], tname[32];
    if (app_json_get_str(p, "chat_id", chat_id, sizeof chat_id) <= 0 ||
        !app_json_get(p, "data", &data) || data.type != JSON_OBJECT) {
        bad_input(app, "events:chat", "needs chat_id and data");
        return;
    }
    if (r->user && app_json_get_str(data.raw, "type", tname, sizeof tname) > 0 &&
        strcmp(tname, "last_read_at") == 0 && app->store && !app->stopping) {
        chat_read_op_t *op = xmalloc(sizeof *op);
        op->app = app;
        op->at = app__now_s();
        snprintf(op->user_id, sizeof op->user_id, "%s", r->user->pub.id);
        memcpy(op->chat_id, chat_id, sizeof chat_id);
        store_chat_read(app->store, chat_id, op->user_id, op->at, on_chat_read, op);
    }
    ack_empty(s, ack);
}

/* ---- registration ------------------------------------------------------------------ */

void app__handlers_register(app_t *app)
{
    sioc_nsp_t *nsp = app->nsp;
    sioc_use(nsp, on_middleware, app);
    sioc_on_connection(nsp, on_connection, app);
    sioc_on_disconnect(nsp, on_disconnect, app);
    sioc_on(nsp, "user-join", on_user_join, app);
    sioc_on(nsp, "join-channels", on_join_channels, app);
    sioc_on(nsp, "join-note", on_join_note, app);
    sioc_on(nsp, "heartbeat", on_heartbeat, app);
    sioc_on(nsp, "usage", on_usage, app);
    sioc_on(nsp, "events:channel", on_events_channel, app);
    sioc_on(nsp, "events:chat", on_events_chat, app);
}
