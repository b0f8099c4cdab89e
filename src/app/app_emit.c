/*
 * app_emit: the chat event emitter, the channel-mode emitter and the event call. See
 * app_emit.h.
 *
 * Channel mode keeps one throttle entry per message being generated: the newest content
 * waits in it while a write of the same message is running (writes of one message are
 * never concurrent, so an older content cannot land after a newer one on the store's
 * thread pool) or while the 150 ms throttle holds; the `done` event always writes, and the
 * 1 s housekeeping tick writes a content left waiting by a stream that stopped without
 * `done`. Entries go once `done` is written or after a minute without events.
 */
#include "app/app_emit.h"

#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "app/app_private.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"

/** Channel-mode write throttle per message (§7.3), and idle entry lifetime. */
#define CHAN_THROTTLE_MS 150
#define CHAN_IDLE_MS 60000

static const char ERR_DISCONNECTED[] = "{\"error\":\"Client session disconnected.\"}";
static const char ERR_TIMEOUT[] =
    "{\"error\":\"Event call timed out. The browser tab may be inactive or closed.\"}";

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The `events` payload {"chat_id","message_id","data"[,"internal"]} into app->scratch. */
static sioc_data_t events_payload(app_t *app, const char *chat_id, const char *message_id,
                                  slice_t event, bool internal)
{
    buf_t *b = &app->scratch;
    buf_clear(b);
    buf_append_cstr(b, "{\"chat_id\":");
    json_append_string(b, slice_from_cstr(chat_id));
    buf_append_cstr(b, ",\"message_id\":");
    if (message_id)
        json_append_string(b, slice_from_cstr(message_id));
    else
        buf_append_cstr(b, "null");
    buf_append_cstr(b, ",\"data\":");
    buf_append_slice(b, event);
    if (internal)
        buf_append_cstr(b, ",\"internal\":true");
    buf_append_byte(b, '}');
    return (sioc_data_t){(const char *)buf_data(b), b->len, NULL, 0};
}

/* ---- channel mode ------------------------------------------------------------------ */

typedef struct chan_entry {
    struct chan_entry *next;
    app_chan_emit_t *owner;
    char *message_id;
    char *channel_id;
    char *content;    /* newest content not yet written, NULL = none */
    uint64_t last_ms; /* when the last write started */
    uint64_t seen_ms; /* last event */
    bool inflight;    /* a write is running */
    bool pending;     /* something waits to be written */
    bool done;        /* the waiting write ends the message */
    bool finished;    /* done has been written */
} chan_entry_t;

typedef struct persist_op persist_op_t;
typedef struct chat_queue chat_queue_t;

struct app_chan_emit {
    app_t *app;
    chan_entry_t *head;
    chat_queue_t *queues; /* chats with a persistence write running (see below) */
    uint64_t log_count;
};

app_chan_emit_t *app__chan_emit_new(app_t *app)
{
    app_chan_emit_t *c = xcalloc(1, sizeof *c);
    c->app = app;
    return c;
}

static void entry_free(chan_entry_t *e)
{
    free(e->message_id);
    free(e->channel_id);
    free(e->content);
    free(e);
}

static void entry_remove(app_chan_emit_t *c, chan_entry_t *e)
{
    for (chan_entry_t **pp = &c->head; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            entry_free(e);
            return;
        }
    }
}

static void queue_free_all(app_chan_emit_t *c);

void app__chan_emit_free(app_chan_emit_t *c)
{
    if (!c)
        return;
    queue_free_all(c);
    while (c->head) {
        chan_entry_t *e = c->head;
        c->head = e->next;
        entry_free(e);
    }
    free(c);
}

static void chan_write(chan_entry_t *e, uint64_t now);

static void on_message_updated(int status, const char *json, void *arg)
{
    chan_entry_t *e = arg;
    app_chan_emit_t *c = e->owner;
    app_t *app = c->app;
    e->inflight = false;
    if (status == STORE_OK && json && !app->stopping) {
        buf_t *b = &app->scratch;
        buf_clear(b);
        buf_append_cstr(b, "{\"channel_id\":");
        json_append_string(b, slice_from_cstr(e->channel_id));
        buf_append_cstr(b, ",\"message_id\":");
        json_append_string(b, slice_from_cstr(e->message_id));
        buf_append_cstr(b, ",\"data\":{\"type\":\"message:update\",\"data\":");
        buf_append_cstr(b, json);
        buf_append_cstr(b, "}}");
        char room[16 + APP_ID_MAX];
        snprintf(room, sizeof room, "channel:%s", e->channel_id);
        sioc_data_t d = {(const char *)buf_data(b), b->len, NULL, 0};
        sioc_emit_room(app->nsp, room, "events:channel", d);
    } else if (status != STORE_OK && status != STORE_ECANCELED) {
        LOG_RATELIMITED(LOG_WARN, c->log_count, 100, "channel emitter: message %s: %s",
                        e->message_id, store_strerror(status));
    }
    uint64_t now = app__now_ms();
    if (e->pending && (e->done || now - e->last_ms >= CHAN_THROTTLE_MS))
        chan_write(e, now);
    else if (e->finished && !e->pending)
        entry_remove(c, e);
}

static void chan_write(chan_entry_t *e, uint64_t now)
{
    app_t *app = e->owner->app;
    if (!app->store || app->stopping)
        return;
    e->inflight = true;
    e->pending = false;
    e->last_ms = now;
    if (e->done)
        e->finished = true;
    char *content = e->content;
    e->content = NULL;
    store_message_update(app->store, e->message_id, content, e->done ? "{\"done\":true}" : NULL,
                         on_message_updated, e);
    free(content);
}

static chan_entry_t *chan_entry(app_chan_emit_t *c, const char *channel_id, const char *message_id)
{
    for (chan_entry_t *e = c->head; e; e = e->next)
        if (strcmp(e->message_id, message_id) == 0 && !e->finished)
            return e;
    chan_entry_t *e = xcalloc(1, sizeof *e);
    e->owner = c;
    e->message_id = xstrndup(message_id, strlen(message_id));
    e->channel_id = xstrndup(channel_id, strlen(channel_id));
    e->next = c->head;
    c->head = e;
    return e;
}

static char *steal_cstr(buf_t *b)
{
    size_t len;
    buf_append_byte(b, '\0');
    return (char *)buf_steal(b, &len);
}

/* The content a channel-mode event writes (NULL: only the done flag); false when the
 * event writes nothing. */
static bool chan_content(const char *type, slice_t event, char **content, bool *done)
{
    json_value_t data, v, err;
    *content = NULL;
    *done = false;
    if (!app_json_get(event, "data", &data) || data.type != JSON_OBJECT)
        return false;
    buf_t b = BUF_INIT;
    if (strcmp(type, "chat:completion") == 0) {
        if (app_json_get(data.raw, "done", &v))
            *done = app_json_truthy(v);
        bool has = app_json_get(data.raw, "content", &v) && v.type == JSON_STRING;
        if (!has)
            return *done;
        json_string_unescape_buf(v.raw, &b);
        *content = steal_cstr(&b);
        return true;
    }
    if (strcmp(type, "chat:message:error") == 0) {
        *done = true;
        buf_append_cstr(&b, "Error: ");
        if (app_json_get(data.raw, "error", &err) && err.type == JSON_OBJECT &&
            app_json_get(err.raw, "content", &v) && v.type == JSON_STRING)
            json_string_unescape_buf(v.raw, &b);
        *content = steal_cstr(&b);
        return true;
    }
    return false;
}

static void chan_event(app_t *app, const char *chat_id, const char *message_id, const char *type,
                       slice_t event)
{
    char *content;
    bool done;
    if (!message_id || !chan_content(type, event, &content, &done))
        return;
    chan_entry_t *e = chan_entry(app->chan, chat_id + strlen("channel:"), message_id);
    uint64_t now = app__now_ms();
    e->seen_ms = now;
    if (content) {
        free(e->content);
        e->content = content;
    }
    e->pending = true;
    e->done = e->done || done;
    if (!e->inflight && (e->done || now - e->last_ms >= CHAN_THROTTLE_MS))
        chan_write(e, now);
}

void app__chan_emit_sweep(app_chan_emit_t *c, uint64_t now_ms)
{
    chan_entry_t **pp = &c->head;
    while (*pp) {
        chan_entry_t *e = *pp;
        if (!e->inflight && e->pending && now_ms - e->last_ms >= CHAN_THROTTLE_MS)
            chan_write(e, now_ms);
        if (!e->inflight && !e->pending && now_ms - e->seen_ms > CHAN_IDLE_MS) {
            *pp = e->next;
            entry_free(e);
            continue;
        }
        pp = &e->next;
    }
}

/* ---- chat events ------------------------------------------------------------------- */

/*
 * Persistence runs one write per chat at a time, in arrival order: the store's thread pool
 * has several connections, and two read-modify-write updates of one chat JSON must not
 * overtake each other ("message" appends content). Writes for a chat that has one running
 * wait in its queue; a chat's queue exists only while a write of it runs.
 */
struct persist_op {
    persist_op_t *next;
    chat_queue_t *q;
    store_chat_event_t kind;
    char *message_id;
    char *data_json;
    app_emit_done_cb cb;
    void *arg;
};

struct chat_queue {
    chat_queue_t *next;
    app_chan_emit_t *owner;
    persist_op_t *head, *tail; /* head = the running write */
    char chat_id[];
};

static void persist_start(persist_op_t *op);

static void op_free(persist_op_t *op)
{
    free(op->message_id);
    free(op->data_json);
    free(op);
}

static void queue_remove(app_chan_emit_t *c, chat_queue_t *q)
{
    for (chat_queue_t **pp = &c->queues; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            free(q);
            return;
        }
    }
}

static void queue_free_all(app_chan_emit_t *c)
{
    while (c->queues) {
        chat_queue_t *q = c->queues;
        c->queues = q->next;
        while (q->head) {
            persist_op_t *op = q->head;
            q->head = op->next;
            op_free(op);
        }
        free(q);
    }
}

static void on_persisted(int status, bool flag, void *arg)
{
    persist_op_t *op = arg;
    chat_queue_t *q = op->q;
    q->head = op->next;
    if (!q->head)
        q->tail = NULL;
    if (op->cb)
        op->cb(status, status == STORE_OK && flag, op->arg);
    op_free(op);
    if (q->head)
        persist_start(q->head);
    else
        queue_remove(q->owner, q);
}

static void persist_start(persist_op_t *op)
{
    app_t *app = op->q->owner->app;
    if (!app->store) { /* closed: finish the queue without writing */
        on_persisted(STORE_ECANCELED, false, op);
        return;
    }
    store_chat_event(app->store, op->q->chat_id, op->message_id, op->kind, op->data_json,
                     on_persisted, op);
}

static void persist(app_t *app, const char *chat_id, const char *message_id,
                    store_chat_event_t kind, slice_t data, app_emit_done_cb cb, void *arg)
{
    app_chan_emit_t *c = app->chan;
    persist_op_t *op = xcalloc(1, sizeof *op);
    op->kind = kind;
    op->message_id = xstrndup(message_id, strlen(message_id));
    op->data_json = xstrndup((const char *)data.ptr, data.len);
    op->cb = cb;
    op->arg = arg;
    chat_queue_t *q = c->queues;
    while (q && strcmp(q->chat_id, chat_id) != 0)
        q = q->next;
    if (q) {
        op->q = q;
        q->tail->next = op;
        q->tail = op;
        return;
    }
    size_t n = strlen(chat_id);
    q = xcalloc(1, sizeof *q + n + 1);
    memcpy(q->chat_id, chat_id, n + 1);
    q->owner = c;
    q->head = q->tail = op;
    q->next = c->queues;
    c->queues = q;
    op->q = q;
    persist_start(op);
}

static void done_now(app_emit_done_cb cb, void *arg)
{
    if (cb)
        cb(STORE_OK, false, arg);
}

int app_emit_chat_event(app_t *app, const char *user_id, const char *chat_id,
                        const char *message_id, slice_t event, bool update_db, bool internal,
                        app_emit_done_cb cb, void *arg)
{
    json_value_t v, type;
    char tname[128];
    if (!user_id || !*user_id || !chat_id || !*chat_id || json_validate(event, &v, NULL) != 0 ||
        v.type != JSON_OBJECT || !app_json_get(v.raw, "type", &type) || type.type != JSON_STRING)
        return -1;
    event = v.raw;
    if (app_json_str(type, tname, sizeof tname) < 0)
        tname[0] = '\0'; /* a long type name is emitted, never persisted */
    if (has_prefix(chat_id, "channel:")) {
        chan_event(app, chat_id, message_id, tname, event);
        done_now(cb, arg);
        return 0;
    }
    if (internal && strcmp(tname, "notification") == 0) {
        done_now(cb, arg);
        return 0;
    }
    char room[16 + APP_ID_MAX];
    snprintf(room, sizeof room, "user:%s", user_id);
    sioc_emit_room(app->nsp, room, "events",
                   events_payload(app, chat_id, message_id, event, internal));
    store_chat_event_t kind = store_chat_event_from_name(tname);
    json_value_t data;
    if (!update_db || !message_id || !*message_id || !kind || has_prefix(chat_id, "local:") ||
        has_prefix(chat_id, "temporary:") || !app->store || app->stopping ||
        !app_json_get(event, "data", &data) || data.type != JSON_OBJECT) {
        done_now(cb, arg);
        return 0;
    }
    persist(app, chat_id, message_id, kind, data.raw, cb, arg);
    return 0;
}

/* ---- event call -------------------------------------------------------------------- */

typedef struct call_op {
    app_call_cb cb;
    void *arg;
} call_op_t;

static void on_call_ack(sioc_socket_t *s, int status, const sioc_args_t *args, void *arg)
{
    (void)s;
    call_op_t *op = arg;
    slice_t res = slice_from_cstr(ERR_DISCONNECTED);
    if (status == 0) {
        sioc_str_t a = sioc_args_count(args) ? sioc_args_at(args, 0) : (sioc_str_t){"null", 4};
        res = slice_make(a.ptr, a.len);
    } else if (status == SIOC_ETIMEDOUT) {
        res = slice_from_cstr(ERR_TIMEOUT);
    }
    op->cb(res, op->arg);
    free(op);
}

int app_event_call(app_t *app, const char *user_id, const char *session_id, const char *chat_id,
                   const char *message_id, slice_t event, uint32_t timeout_ms, app_call_cb cb,
                   void *arg)
{
    json_value_t v;
    if (!user_id || !session_id || !chat_id || json_validate(event, &v, NULL) != 0 ||
        v.type != JSON_OBJECT)
        return -1;
    sioc_socket_t *s = app->stopping ? NULL : app_socket_by_sid(app, session_id);
    const app_user_t *u = s ? app_socket_user(s) : NULL;
    if (!u || strcmp(u->id, user_id) != 0) {
        cb(slice_from_cstr(ERR_DISCONNECTED), arg);
        return 0;
    }
    call_op_t *op = xmalloc(sizeof *op);
    *op = (call_op_t){cb, arg};
    sioc_data_t d = events_payload(app, chat_id, message_id, v.raw, false);
    if (sioc_socket_emit_ack(s, "events", d, timeout_ms, on_call_ack, op) != 0) {
        free(op);
        cb(slice_from_cstr(ERR_DISCONNECTED), arg);
    }
    return 0;
}
