/*
 * app_chat: chat completions streamed over the socket. See app_chat.h.
 *
 * A generation's life:
 *
 *   POST ──> checks (body, chat owner) ──> upstream/echo started, task registered
 *        ──> HTTP answer {status, task_id}          (socket mode)
 *   on_delta* ──> text appended to `full` and `pending`; every `chunk` deltas one
 *                 chat:completion {choices:[{delta:{content: pending}}]}; at most once a
 *                 second a DB write of `full` (never two in flight)
 *   terminal (on_done / on_error) ──> last delta flushed, task removed
 *        ──> final write (waits for a running one) ──> final events ──> freed
 *
 * The final write and the final events are ordered: a client that sees `done` can read
 * the whole message back from the database. Every emit goes through app_emit's chat
 * emitter with update_db false (this module does its own persistence, batched).
 */
#include "app/app_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_echo_model.h"
#include "app/app_emit.h"
#include "app/app_json.h"
#include "base/alloc.h"
#include "base/log.h"
#include "store/store_rest.h"

/** Least time between two content writes while streaming. */
#define WRITE_INTERVAL_MS 1000
/** Most deltas one chat:completion event may batch (params.stream_delta_chunk_size). */
#define CHUNK_MAX 1000
#define TITLE_MAX 64

typedef enum gen_end { END_NONE = 0, END_DONE, END_ERROR, END_STOPPED } gen_end_t;

typedef struct gen {
    struct gen *next;
    app_chat_t *owner;
    app_upstream_req_t *req; /* NULL once the terminal callback ran */
    app_rest_call_t *call;   /* direct mode: the request waiting for the answer */
    char task_id[37];
    char user_id[APP_ID_MAX];
    char chat_id[APP_ID_MAX];
    char message_id[APP_ID_MAX];
    char model[APP_ID_MAX];
    char title[TITLE_MAX];  /* default title from the user's message */
    bool emitter;           /* socket mode (chat_id, id and session_id given) */
    bool persist;           /* a saved chat: writes go to the database */
    buf_t full;             /* the whole answer so far */
    buf_t pending;          /* text not yet emitted */
    buf_t ev, data;         /* reused event / delta payload buffers (no malloc per delta) */
    unsigned pending_n;     /* deltas in `pending` */
    unsigned chunk;         /* deltas per emit */
    uint64_t last_write_ms; /* when the last content write started */
    bool write_inflight;    /* a write of this generation is running */
    bool dirty;             /* `full` has text no write has carried yet */
    bool first_delta_seen;
    gen_end_t end;
    char *error;      /* END_ERROR: the message */
    int http_status;  /* END_ERROR: the upstream's status, if any */
    char *usage_json; /* the usage object, when the model sent one */
    app_chat_stats_t st;
} gen_t;

struct app_chat {
    app_rest_t *rest;
    gen_t *head;
    size_t live;
    app_chat_stats_t totals;
};

app_chat_t *app_chat_new(app_rest_t *rest)
{
    app_chat_t *ch = xcalloc(1, sizeof *ch);
    ch->rest = rest;
    return ch;
}

void app_chat_free(app_chat_t *ch)
{
    if (!ch)
        return;
    if (ch->live)
        LOG(LOG_WARN, "chat: %zu generation(s) still alive at exit", ch->live);
    free(ch);
}

size_t app_chat_live(const app_chat_t *ch)
{
    return ch->live;
}

app_chat_stats_t app_chat_totals(const app_chat_t *ch)
{
    return ch->totals;
}

static app_t *gen_app(const gen_t *g)
{
    return g->owner->rest->app;
}

static void gen_free(gen_t *g)
{
    app_chat_t *ch = g->owner;
    for (gen_t **pp = &ch->head; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    ch->live--;
    ch->totals.deltas += g->st.deltas;
    ch->totals.emits += g->st.emits;
    ch->totals.writes += g->st.writes;
    buf_dispose(&g->full);
    buf_dispose(&g->pending);
    buf_dispose(&g->ev);
    buf_dispose(&g->data);
    free(g->error);
    free(g->usage_json);
    free(g);
}

/* ---- events ------------------------------------------------------------------------ */

/* Emits {"type": type, "data": <data JSON>} to the user's room (no persistence). */
static void emit(gen_t *g, const char *type, slice_t data)
{
    app_t *app = gen_app(g);
    if (!g->emitter || app->stopping > 1)
        return;
    buf_t *b = &g->ev;
    buf_clear(b);
    buf_append_cstr(b, "{\"type\":");
    json_append_string(b, slice_from_cstr(type));
    buf_append_cstr(b, ",\"data\":");
    buf_append_slice(b, data);
    buf_append_byte(b, '}');
    app_emit_chat_event(app, g->user_id, g->chat_id, g->message_id, buf_slice(b), false, false,
                        NULL, NULL);
}

static void flush_delta(gen_t *g)
{
    if (g->pending_n == 0)
        return;
    buf_t *b = &g->data;
    buf_clear(b);
    buf_append_cstr(b, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":");
    json_append_string(b, buf_slice(&g->pending));
    buf_append_cstr(b, "}}]}");
    emit(g, "chat:completion", buf_slice(b));
    buf_clear(&g->pending);
    g->pending_n = 0;
    g->st.emits++;
}

/* ---- persistence ------------------------------------------------------------------- */

static void finish(gen_t *g, const char *title_json);
static void write_final(gen_t *g);

static void on_written(int status, void *arg)
{
    gen_t *g = arg;
    g->write_inflight = false;
    if (status != STORE_OK && status != STORE_ECANCELED)
        LOG_RATELIMITED(LOG_WARN, g->owner->rest->log_count, 100, "chat %s: write failed: %s",
                        g->chat_id, store_strerror(status));
    if (g->end != END_NONE)
        write_final(g);
}

/* Writes `full` as the message content (upsert), when a write may start now. */
static void maybe_write(gen_t *g, bool force)
{
    app_t *app = gen_app(g);
    uint64_t now = app__now_ms();
    if (!g->persist || g->write_inflight || !app_store(app))
        return;
    if (!force && (!g->dirty || now - g->last_write_ms < WRITE_INTERVAL_MS))
        return;
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"role\":\"assistant\",\"content\":");
    json_append_string(&b, buf_slice(&g->full));
    buf_append_cstr(&b, ",\"model\":");
    json_append_string(&b, slice_from_cstr(g->model));
    buf_append_cstr(&b, ",\"done\":false}");
    buf_append_byte(&b, '\0');
    g->write_inflight = true;
    g->dirty = false;
    g->last_write_ms = now;
    g->st.writes++;
    store_chat_message_upsert(app_store(app), g->chat_id, g->message_id, (const char *)buf_data(&b),
                              on_written, g);
    buf_dispose(&b);
}

static void on_final(int status, const char *title_json, void *arg)
{
    gen_t *g = arg;
    g->write_inflight = false;
    if (status != STORE_OK)
        LOG_RATELIMITED(LOG_WARN, g->owner->rest->log_count, 100, "chat %s: final write failed: %s",
                        g->chat_id, store_strerror(status));
    finish(g, status == STORE_OK ? title_json : NULL);
}

/* The last write: the whole message. Waits for a running write first. */
static void write_final(gen_t *g)
{
    app_t *app = gen_app(g);
    if (g->write_inflight)
        return; /* on_written comes back here */
    if (!g->persist || !app_store(app)) {
        finish(g, NULL);
        return;
    }
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"role\":\"assistant\",\"content\":");
    json_append_string(&b, buf_slice(&g->full));
    buf_append_cstr(&b, ",\"model\":");
    json_append_string(&b, slice_from_cstr(g->model));
    buf_append_cstr(&b, ",\"done\":true");
    if (g->usage_json) {
        buf_append_cstr(&b, ",\"usage\":");
        buf_append_cstr(&b, g->usage_json);
    }
    if (g->end == END_ERROR) {
        buf_append_cstr(&b, ",\"error\":{\"content\":");
        json_append_string(&b, slice_from_cstr(g->error ? g->error : ""));
        buf_append_byte(&b, '}');
    }
    buf_append_byte(&b, '}');
    buf_append_byte(&b, '\0');
    g->write_inflight = true;
    g->st.writes++;
    store_rest_chat_finish(app_store(app), g->chat_id, g->message_id, (const char *)buf_data(&b),
                           g->end == END_DONE && g->title[0] ? g->title : NULL, on_final, g);
    buf_dispose(&b);
}

/* ---- the end ----------------------------------------------------------------------- */

static void reply_direct(gen_t *g)
{
    app_rest_call_t *c = g->call;
    g->call = NULL;
    if (g->end == END_ERROR) {
        int st = g->http_status >= 400 && g->http_status < 600 ? g->http_status : 500;
        app_rest__detail(c, st, g->error ? g->error : APP_REST_E_DEFAULT);
        return;
    }
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"id\":\"chatcmpl-");
    buf_append_cstr(&b, g->task_id);
    buf_append_cstr(&b, "\",\"object\":\"chat.completion\",\"created\":");
    json_append_i64(&b, app__now_s());
    buf_append_cstr(&b, ",\"model\":");
    json_append_string(&b, slice_from_cstr(g->model));
    buf_append_cstr(&b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                        "\"content\":");
    json_append_string(&b, buf_slice(&g->full));
    buf_append_cstr(&b, "},\"finish_reason\":");
    buf_append_cstr(&b, g->end == END_DONE ? "\"stop\"" : "null");
    buf_append_cstr(&b, "}]");
    if (g->usage_json) {
        buf_append_cstr(&b, ",\"usage\":");
        buf_append_cstr(&b, g->usage_json);
    }
    buf_append_byte(&b, '}');
    app_rest__reply_buf(c, 200, &b);
}

static void emit_done(gen_t *g, const char *title_json)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"done\":true,\"content\":");
    json_append_string(&b, buf_slice(&g->full));
    buf_append_cstr(&b, ",\"output\":[{\"type\":\"message\",\"id\":");
    json_append_string(&b, slice_from_cstr(g->message_id));
    buf_append_cstr(&b, ",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
                        "\"output_text\",\"text\":");
    json_append_string(&b, buf_slice(&g->full));
    buf_append_cstr(&b, "}]}],\"title\":");
    if (title_json)
        buf_append_cstr(&b, title_json);
    else
        json_append_string(&b, slice_from_cstr(g->title));
    if (g->usage_json) {
        buf_append_cstr(&b, ",\"usage\":");
        buf_append_cstr(&b, g->usage_json);
    }
    buf_append_byte(&b, '}');
    emit(g, "chat:completion", buf_slice(&b));
    buf_dispose(&b);
    emit(g, "chat:title", title_json ? slice_from_cstr(title_json) : SLICE_LIT("\"\""));
}

static void finish(gen_t *g, const char *title_json)
{
    if (g->end == END_DONE) {
        emit_done(g, title_json);
    } else if (g->end == END_ERROR) {
        buf_t b = BUF_INIT;
        buf_append_cstr(&b, "{\"error\":{\"content\":");
        json_append_string(&b, slice_from_cstr(g->error ? g->error : ""));
        buf_append_cstr(&b, "}}");
        emit(g, "chat:message:error", buf_slice(&b));
        buf_dispose(&b);
        emit(g, "chat:tasks:cancel", SLICE_LIT("{}"));
    } else {
        emit(g, "chat:tasks:cancel", SLICE_LIT("{}"));
    }
    emit(g, "chat:active", SLICE_LIT("{\"active\":false}"));
    static const char *const ends[] = {"?", "done", "error", "stopped"};
    LOG(LOG_INFO,
        "chat: task %s of chat %s ended (%s): %llu deltas, %llu delta emits, %llu db writes",
        g->task_id, g->chat_id, ends[g->end], (unsigned long long)g->st.deltas,
        (unsigned long long)g->st.emits, (unsigned long long)g->st.writes);
    if (g->call)
        reply_direct(g);
    gen_free(g);
}

/* Common to both terminal callbacks: the handle is gone after they return. */
static void ended(gen_t *g, gen_end_t how)
{
    g->req = NULL;
    g->end = how;
    flush_delta(g);
    app_tasks_remove(g->owner->rest->tasks, g->task_id);
    write_final(g);
}

/* ---- upstream callbacks ------------------------------------------------------------ */

static void on_delta(app_upstream_req_t *req, slice_t text)
{
    gen_t *g = app_upstream_req_get_user(req);
    g->st.deltas++;
    if (!g->first_delta_seen) {
        g->first_delta_seen = true;
        emit(g, "status",
             SLICE_LIT("{\"action\":\"generation\",\"description\":\"Generating a response\","
                       "\"done\":true,\"hidden\":true}"));
    }
    buf_append_slice(&g->full, text);
    buf_append_slice(&g->pending, text);
    g->dirty = true;
    if (++g->pending_n >= g->chunk)
        flush_delta(g);
    maybe_write(g, false);
}

static void on_done(app_upstream_req_t *req, slice_t finish_reason,
                    const app_upstream_usage_t *usage)
{
    (void)finish_reason;
    gen_t *g = app_upstream_req_get_user(req);
    if (usage && usage->raw.len)
        g->usage_json = xstrndup((const char *)usage->raw.ptr, usage->raw.len);
    ended(g, END_DONE);
}

static void on_error(app_upstream_req_t *req, int code, int http_status, slice_t message)
{
    gen_t *g = app_upstream_req_get_user(req);
    if (code == APP_UPSTREAM_ECANCELLED) {
        ended(g, END_STOPPED);
        return;
    }
    g->http_status = http_status;
    g->error = message.len
                   ? xstrndup((const char *)message.ptr, message.len)
                   : xstrndup(app_upstream_strerror(code), strlen(app_upstream_strerror(code)));
    LOG_RATELIMITED(LOG_WARN, g->owner->rest->log_count, 100, "chat %s: model %s failed: %s",
                    g->chat_id, g->model, g->error);
    ended(g, END_ERROR);
}

static const app_upstream_cbs_t gen_cbs = {
    .on_delta = on_delta,
    .on_done = on_done,
    .on_error = on_error,
};

static void on_stop_task(void *arg)
{
    gen_t *g = arg;
    if (g->req)
        app_upstream_cancel(g->req);
}

/* ---- the request ------------------------------------------------------------------- */

typedef struct chat_form {
    char model[APP_ID_MAX];
    char chat_id[APP_ID_MAX];
    char message_id[APP_ID_MAX];
    char session_id[APP_ID_MAX];
    slice_t messages; /* into the call's body */
    buf_t params;     /* what joins the upstream body (params minus ours), NUL-terminated */
    unsigned chunk;
} chat_form_t;

/* params: every member but stream_delta_chunk_size (ours) and function_calling (Open
 * WebUI's pipeline switch) goes to the upstream. */
static bool read_params(app_rest_call_t *c, slice_t body, chat_form_t *f)
{
    json_value_t p, k, v;
    json_iter_t it;
    f->chunk = app_config(c->app)->stream_delta_chunk_size;
    if (!app_json_get(body, "params", &p) || p.type == JSON_NULL)
        return true;
    if (p.type != JSON_OBJECT || json_object_begin(&it, p.raw, NULL) != 0) {
        app_rest__detail(c, 422, "'params' must be an object");
        return false;
    }
    buf_append_byte(&f->params, '{');
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("stream_delta_chunk_size"))) {
            int64_t n;
            if (v.type == JSON_NUMBER && json_number_to_i64(v.raw, &n) == 0 && n >= 1 &&
                n <= CHUNK_MAX)
                f->chunk = (unsigned)n;
            continue;
        }
        if (json_string_eq(k.raw, SLICE_LIT("function_calling")))
            continue;
        if (f->params.len > 1)
            buf_append_byte(&f->params, ',');
        buf_append_slice(&f->params, k.raw);
        buf_append_byte(&f->params, ':');
        buf_append_slice(&f->params, v.raw);
    }
    buf_append_byte(&f->params, '}');
    return true;
}

static bool read_form(app_rest_call_t *c, chat_form_t *f)
{
    slice_t body;
    json_value_t m;
    if (!app_rest__body_object(c, &body) ||
        !app_rest__str(c, body, "model", f->model, sizeof f->model, true) ||
        !app_rest__str(c, body, "chat_id", f->chat_id, sizeof f->chat_id, false) ||
        !app_rest__str(c, body, "id", f->message_id, sizeof f->message_id, false) ||
        !app_rest__str(c, body, "session_id", f->session_id, sizeof f->session_id, false))
        return false;
    if (!app_json_get(body, "messages", &m) || m.type != JSON_ARRAY) {
        app_rest__detail(c, 422, "'messages' must be a list");
        return false;
    }
    f->messages = m.raw;
    if (f->chunk == 0)
        f->chunk = 1;
    return read_params(c, body, f);
}

static bool saved_chat(const char *chat_id)
{
    return chat_id[0] && strncmp(chat_id, "local:", 6) != 0 &&
           strncmp(chat_id, "temporary:", 10) != 0 && strncmp(chat_id, "channel:", 8) != 0;
}

/* Starts the model; answers and returns NULL on failure. */
static app_upstream_req_t *start_model(app_rest_call_t *c, chat_form_t *f, gen_t *g)
{
    app_upstream_t *up = c->rest->up;
    int err = APP_UPSTREAM_ESHUTDOWN;
    app_upstream_req_t *req = NULL;
    if (up && app_echo_model_is(slice_from_cstr(f->model))) {
        req = app_echo_model_start(up, f->messages, NULL, &gen_cbs, g, &err);
    } else if (up) {
        app_upstream_chat_opts_t o = {.include_usage = true};
        if (f->params.len)
            o.params = buf_slice(&f->params);
        req = app_upstream_chat_start(up, slice_from_cstr(f->model), f->messages, &o, &gen_cbs, g,
                                      &err);
    }
    if (req)
        return req;
    if (err == APP_UPSTREAM_ENOMODEL || err == APP_UPSTREAM_ENOUPSTREAM)
        app_rest__detail(c, 404, APP_REST_E_MODEL);
    else if (err == APP_UPSTREAM_EINVAL)
        app_rest__detail(c, 422, "Invalid request");
    else
        app_rest__detail(c, 503, "The server is shutting down");
    return NULL;
}

static void launch(app_rest_call_t *c, chat_form_t *f)
{
    app_chat_t *ch = c->rest->chat;
    gen_t *g = xcalloc(1, sizeof *g);
    g->owner = ch;
    snprintf(g->user_id, sizeof g->user_id, "%s", c->user.id);
    snprintf(g->chat_id, sizeof g->chat_id, "%s", f->chat_id[0] ? f->chat_id : "local:direct");
    snprintf(g->message_id, sizeof g->message_id, "%s", f->message_id);
    snprintf(g->model, sizeof g->model, "%s", f->model);
    g->emitter = f->chat_id[0] && f->message_id[0] && f->session_id[0];
    g->persist = g->emitter && saved_chat(f->chat_id);
    g->chunk = f->chunk;
    buf_t text = BUF_INIT;
    if (app_echo_model_last_user_text(f->messages, &text) == 0)
        app_chat_title_from(buf_slice(&text), g->title, sizeof g->title);
    buf_dispose(&text);
    g->req = start_model(c, f, g);
    if (!g->req) {
        free(g);
        return;
    }
    g->next = ch->head;
    ch->head = g;
    ch->live++;
    app_tasks_add(c->rest->tasks, g->chat_id, g->user_id, on_stop_task, g, g->task_id);
    if (!g->emitter) {
        g->call = c; /* answered at the end */
        return;
    }
    emit(g, "chat:active", SLICE_LIT("{\"active\":true}"));
    emit(g, "status",
         SLICE_LIT("{\"action\":\"generation\",\"description\":\"Waiting for the model\","
                   "\"done\":false}"));
    maybe_write(g, true); /* the assistant message exists from the start */
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"status\":true,\"task_id\":");
    json_append_string(&b, slice_from_cstr(g->task_id));
    buf_append_cstr(&b, ",\"task_ids\":[");
    json_append_string(&b, slice_from_cstr(g->task_id));
    buf_append_cstr(&b, "],\"chat_id\":");
    json_append_string(&b, slice_from_cstr(g->chat_id));
    buf_append_byte(&b, '}');
    LOG(LOG_DEBUG, "chat: task %s of chat %s started (model %s)", g->task_id, g->chat_id, g->model);
    app_rest__reply_buf(c, 200, &b);
}

/* The owner check of a saved chat (main.py chat_completion: 404 unless the caller owns
 * it; admins pass). */
typedef struct owner_step {
    app_rest_call_t *c;
    chat_form_t f;
} owner_step_t;

static void on_chat_row(int status, const char *json, void *arg)
{
    owner_step_t *st = arg;
    app_rest_call_t *c = st->c;
    char owner[APP_ID_MAX] = "";
    if (status == STORE_OK)
        app_json_get_str(slice_from_cstr(json), "user_id", owner, sizeof owner);
    if (status != STORE_OK && status != STORE_ENOTFOUND)
        app_rest__store_error(c, status);
    else if (!c->user.is_admin && (status != STORE_OK || strcmp(owner, c->user.id) != 0))
        app_rest__detail(c, 404, APP_REST_E_NOT_FOUND);
    else if (c->rest->stopped)
        app_rest__detail(c, 503, "The server is shutting down");
    else
        launch(c, &st->f);
    buf_dispose(&st->f.params);
    free(st);
}

void app_chat_completions(app_rest_call_t *c)
{
    if (c->rest->stopped) {
        app_rest__detail(c, 503, "The server is shutting down");
        return;
    }
    owner_step_t *st = xcalloc(1, sizeof *st);
    st->c = c;
    if (!read_form(c, &st->f)) { /* answered */
        buf_dispose(&st->f.params);
        free(st);
        return;
    }
    bool checked = st->f.message_id[0] && st->f.session_id[0] && saved_chat(st->f.chat_id);
    if (checked && app_store(c->app)) {
        store_rest_chat_get(app_store(c->app), st->f.chat_id, on_chat_row, st);
        return;
    }
    launch(c, &st->f);
    buf_dispose(&st->f.params);
    free(st);
}

/* ---- titles ------------------------------------------------------------------------ */

void app_chat_title_from(slice_t text, char *out, size_t cap)
{
    size_t i = 0, n = 0;
    while (i < text.len && (text.ptr[i] == ' ' || text.ptr[i] == '\n' || text.ptr[i] == '\t' ||
                            text.ptr[i] == '\r'))
        i++;
    size_t limit = cap - 1 < 50 ? cap - 1 : 50;
    size_t last_space = 0;
    while (i < text.len && n < limit && text.ptr[i] != '\n' && text.ptr[i] != '\r') {
        uint8_t ch = text.ptr[i];
        size_t len = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : 4;
        if (n + len > limit || i + len > text.len)
            break;
        if (ch == ' ' || ch == '\t')
            last_space = n;
        memcpy(out + n, text.ptr + i, len);
        n += len;
        i += len;
    }
    bool cut = i < text.len && text.ptr[i] != '\n' && text.ptr[i] != '\r';
    if (cut && last_space > 0)
        n = last_space;
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
}
