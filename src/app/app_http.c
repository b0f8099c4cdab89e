/*
 * app_http: the HTTP side of the real-time layer, on the same port as /ws/socket.io/.
 *
 *   POST /api/v1/socket/emit        a raw emit for backends (REST workers, pipelines):
 *        {"event": str, "data"?: any, "room"|"to"?: str|[str], "skip_sid"?: str|[str]}
 *        -> {"status": true}. No room/to: every socket. `data` absent: no argument.
 *   POST /api/v1/socket/chat/event  the chat event emitter (§7.1, channel mode §7.3):
 *        {"user_id", "chat_id", "message_id", "data": {"type","data"}, "update_db"?: true,
 *         "internal"?: false} -> {"status": true, "persisted": bool} once stored; or an
 *        array of such objects -> {"status": true, "persisted": <count>}.
 *   POST /api/v1/socket/call        the event call (§7.2):
 *        {"user_id", "session_id", "chat_id", "message_id", "data": {"type","data"},
 *         "timeout"?: seconds} -> the client's ack value, or {"error": ...}.
 *   GET  /api/usage                 {"model_ids": [...], "user_count": n} (§4): a user's
 *        session JWT (non-admins only with ENABLE_PUBLIC_ACTIVE_USERS_COUNT) or the key.
 * The three POSTs need `Authorization: Bearer <SIOC_EMIT_API_KEY>`, compared in constant
 * time (SHA-256 of both sides, then CRYPTO_memcmp, so neither content nor length leaks);
 * without a configured key they answer 403. Errors are FastAPI-style {"detail": "..."}.
 * Any other path: a static file under --web-root (GET/HEAD), else 404.
 *
 * A request that waits (store, ack) registers an abort callback; when the client goes
 * away first, the answer is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "app/app_emit.h"
#include "app/app_json.h"
#include "app/app_private.h"
#include "app/app_rest.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"

/** Most rooms (or skip sids) one emit may name. */
#define EMIT_ROOMS_MAX 64
/** Most chat events one POST may carry. */
#define CHAT_BATCH_MAX 10000

/* Active users are those seen in the last 3 minutes (Open WebUI's get_active_user_count). */
#define ACTIVE_WINDOW_S 180

typedef struct http_op {
    app_t *app;
    sioc_http_req_t *req; /* NULL once the client went away */
} http_op_t;

static void respond_json(sioc_http_req_t *req, int status, const char *json, size_t len)
{
    sioc_http_respond(req, status, "application/json", NULL, (sioc_str_t){json, len});
}

static void respond_detail(sioc_http_req_t *req, int status, const char *detail)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"detail\":");
    json_append_string(&b, slice_from_cstr(detail));
    buf_append_byte(&b, '}');
    respond_json(req, status, (const char *)buf_data(&b), b.len);
    buf_dispose(&b);
}

static void on_op_abort(sioc_http_req_t *req, void *arg)
{
    (void)req;
    http_op_t *op = arg;
    op->req = NULL;
}

static http_op_t *op_new(app_t *app, sioc_http_req_t *req)
{
    http_op_t *op = xmalloc(sizeof *op);
    op->app = app;
    op->req = req;
    sioc_http_on_abort(req, on_op_abort, op);
    return op;
}

/* ---- credentials ------------------------------------------------------------------- */

static slice_t bearer(sioc_http_req_t *req)
{
    sioc_str_t h = sioc_http_header(req, "authorization");
    slice_t v = slice_make(h.ptr, h.ptr ? h.len : 0);
    if (v.len < 7 || !slice_eq_nocase(slice_make(v.ptr, 7), SLICE_LIT("Bearer ")))
        return slice_make("", 0);
    v = slice_tail(v, 7);
    while (v.len && v.ptr[0] == ' ')
        v = slice_tail(v, 1);
    return v;
}

static bool key_matches(const app_t *app, slice_t given)
{
    const char *key = app->cfg->emit_api_key;
    if (!key || !*key)
        return false;
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256(given.ptr, given.len, a);
    SHA256((const unsigned char *)key, strlen(key), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

/* Checks the backend key; answers the request and returns false when refused. */
static bool require_key(app_t *app, sioc_http_req_t *req)
{
    if (!app->cfg->emit_api_key || !*app->cfg->emit_api_key) {
        respond_detail(req, 403, "The emit API is disabled (set SIOC_EMIT_API_KEY)");
        return false;
    }
    if (!key_matches(app, bearer(req))) {
        respond_detail(req, 401, "Invalid API key");
        return false;
    }
    return true;
}

/* The request body as a JSON object; answers 400 and returns false otherwise. */
static bool body_object(sioc_http_req_t *req, slice_t *out)
{
    sioc_str_t b = sioc_http_body(req);
    json_value_t v;
    if (json_validate(slice_make(b.ptr, b.len), &v, NULL) != 0 || v.type != JSON_OBJECT) {
        respond_detail(req, 400, "The body must be a JSON object");
        return false;
    }
    *out = v.raw;
    return true;
}

/* A required string member into `out`; answers 400 when missing. */
static bool need_str(sioc_http_req_t *req, slice_t body, const char *key, char *out, size_t cap)
{
    if (app_json_get_str(body, key, out, cap) > 0)
        return true;
    char msg[96];
    snprintf(msg, sizeof msg, "'%s' must be a non-empty string", key);
    respond_detail(req, 400, msg);
    return false;
}

/* ---- POST /api/v1/socket/emit ------------------------------------------------------ */

typedef struct name_list {
    const char *v[EMIT_ROOMS_MAX];
    size_t n;
} name_list_t;

/* Reads a string or an array of strings into `l`, the strings stored in `store`
 * (NUL-separated; pointers fixed up at the end). Returns false on a bad value. */
static bool read_names(slice_t body, const char *key, name_list_t *l, buf_t *store)
{
    json_value_t v, e;
    if (!app_json_get(body, key, &v) || v.type == JSON_NULL)
        return true;
    size_t offs[EMIT_ROOMS_MAX];
    json_iter_t it;
    if (v.type == JSON_STRING) {
        offs[0] = store->len;
        if (json_string_unescape_buf(v.raw, store) != 0)
            return false;
        buf_append_byte(store, '\0');
        l->n = 1;
    } else if (v.type == JSON_ARRAY && json_array_begin(&it, v.raw, NULL) == 0) {
        int rc;
        while ((rc = json_array_next(&it, &e, NULL)) == 1) {
            if (e.type != JSON_STRING || l->n >= EMIT_ROOMS_MAX)
                return false;
            offs[l->n++] = store->len;
            json_string_unescape_buf(e.raw, store);
            buf_append_byte(store, '\0');
        }
        if (rc != 0)
            return false;
    } else {
        return false;
    }
    for (size_t i = 0; i < l->n; i++)
        l->v[i] = (const char *)buf_data(store) + offs[i];
    return true;
}

static void handle_emit(app_t *app, sioc_http_req_t *req)
{
    slice_t body;
    char event[256];
    if (!require_key(app, req) || !body_object(req, &body) ||
        !need_str(req, body, "event", event, sizeof event))
        return;
    name_list_t rooms = {0}, to = {0}, skip = {0};
    buf_t s1 = BUF_INIT, s2 = BUF_INIT, s3 = BUF_INIT;
    bool ok = read_names(body, "room", &rooms, &s1) && read_names(body, "to", &to, &s2) &&
              read_names(body, "skip_sid", &skip, &s3);
    if (ok && rooms.n == 0)
        rooms = to;
    json_value_t data;
    if (!ok) {
        respond_detail(req, 400, "room/to/skip_sid must be strings or arrays of strings");
    } else {
        sioc_to_t sel = {rooms.v, rooms.n, skip.v, skip.n, 0};
        sioc_data_t d = {NULL, 0, NULL, 0};
        if (app_json_get(body, "data", &data))
            d = (sioc_data_t){(const char *)data.raw.ptr, data.raw.len, NULL, 0};
        int rc = sioc_emit(app->nsp, &sel, event, d);
        if (rc != 0)
            respond_detail(req, 400, sioc_strerror(rc));
        else
            respond_json(req, 200, "{\"status\":true}", 15);
    }
    buf_dispose(&s1);
    buf_dispose(&s2);
    buf_dispose(&s3);
}

/* ---- POST /api/v1/socket/chat/event ------------------------------------------------ */

/* One request's chat events: the answer goes once every one of them has completed. */
typedef struct batch_op {
    http_op_t http;
    size_t pending;   /* events not yet completed, +1 while launching */
    size_t persisted; /* events that wrote something */
    int status;       /* the first store error, or STORE_OK */
    bool many;        /* the body was an array: answer with a count */
} batch_op_t;

static void batch_finish(batch_op_t *b)
{
    sioc_http_req_t *req = b->http.req;
    if (req) {
        sioc_http_on_abort(req, NULL, NULL);
        if (b->status != STORE_OK && b->status != STORE_ENOTFOUND) {
            respond_detail(req, 500, store_strerror(b->status));
        } else {
            char j[96];
            int n = b->many
                        ? snprintf(j, sizeof j, "{\"status\":true,\"persisted\":%zu}", b->persisted)
                        : snprintf(j, sizeof j, "{\"status\":true,\"persisted\":%s}",
                                   b->persisted ? "true" : "false");
            respond_json(req, 200, j, (size_t)n);
        }
    }
    free(b);
}

static void on_chat_event_done(int status, bool persisted, void *arg)
{
    batch_op_t *b = arg;
    if (status != STORE_OK && b->status == STORE_OK)
        b->status = status;
    b->persisted += persisted;
    if (--b->pending == 0)
        batch_finish(b);
}

/* One event object of the body, read in a single pass over its members. */
typedef struct chat_ev {
    char user_id[APP_ID_MAX];
    char chat_id[APP_ID_MAX];
    char message_id[APP_ID_MAX];
    json_value_t data;
    bool has_data, has_mid, update_db, internal;
} chat_ev_t;

/* Reads `obj` into `e`; NULL when it is a usable event, else why not. */
static const char *chat_ev_parse(slice_t obj, chat_ev_t *e)
{
    json_iter_t it;
    json_value_t k, v, type;
    bool user = false, chat = false;
    e->has_data = e->has_mid = e->internal = false;
    e->update_db = true;
    if (json_object_begin(&it, obj, NULL) != 0)
        return "every event must be an object";
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("user_id")))
            user = app_json_str(v, e->user_id, sizeof e->user_id) > 0;
        else if (json_string_eq(k.raw, SLICE_LIT("chat_id")))
            chat = app_json_str(v, e->chat_id, sizeof e->chat_id) > 0;
        else if (json_string_eq(k.raw, SLICE_LIT("message_id")))
            e->has_mid = app_json_str(v, e->message_id, sizeof e->message_id) > 0;
        else if (json_string_eq(k.raw, SLICE_LIT("data")))
            e->data = v, e->has_data = true;
        else if (json_string_eq(k.raw, SLICE_LIT("update_db")))
            e->update_db = app_json_truthy(v);
        else if (json_string_eq(k.raw, SLICE_LIT("internal")))
            e->internal = app_json_truthy(v);
    }
    if (!user)
        return "'user_id' must be a non-empty string";
    if (!chat)
        return "'chat_id' must be a non-empty string";
    if (!e->has_data || e->data.type != JSON_OBJECT || !app_json_get(e->data.raw, "type", &type) ||
        type.type != JSON_STRING)
        return "'data' must be an object {\"type\": string, \"data\"}";
    return NULL;
}

static const char *chat_event_error(slice_t obj)
{
    chat_ev_t e;
    return chat_ev_parse(obj, &e);
}

static void launch_chat_event(app_t *app, batch_op_t *b, slice_t obj)
{
    chat_ev_t e;
    if (chat_ev_parse(obj, &e))
        return;
    b->pending++;
    if (app_emit_chat_event(app, e.user_id, e.chat_id, e.has_mid ? e.message_id : NULL, e.data.raw,
                            e.update_db, e.internal, on_chat_event_done, b) != 0)
        b->pending--;
}

/* The body: one event object, or an array of at most CHAT_BATCH_MAX of them (one request
 * per stream tick instead of one per delta). Everything is checked before anything is
 * emitted. */
static void handle_chat_event(app_t *app, sioc_http_req_t *req)
{
    if (!require_key(app, req))
        return;
    sioc_str_t raw = sioc_http_body(req);
    json_value_t body, el;
    const char *why = NULL;
    size_t n = 0;
    json_iter_t it;
    if (json_validate(slice_make(raw.ptr, raw.len), &body, NULL) != 0 ||
        (body.type != JSON_OBJECT && body.type != JSON_ARRAY)) {
        why = "The body must be a JSON object or an array of them";
    } else if (body.type == JSON_OBJECT) {
        why = chat_event_error(body.raw);
        n = 1;
    } else {
        json_array_begin(&it, body.raw, NULL);
        while (!why && json_array_next(&it, &el, NULL) == 1) {
            why = el.type != JSON_OBJECT ? "every element must be an object"
                  : ++n > CHAT_BATCH_MAX ? "too many events in one request"
                                         : chat_event_error(el.raw);
        }
    }
    if (why) {
        respond_detail(req, 400, why);
        return;
    }
    batch_op_t *b = xcalloc(1, sizeof *b);
    b->http.app = app;
    b->http.req = req;
    b->many = body.type == JSON_ARRAY;
    b->pending = 1;
    sioc_http_on_abort(req, on_op_abort, &b->http);
    if (body.type == JSON_OBJECT) {
        launch_chat_event(app, b, body.raw);
    } else {
        json_array_begin(&it, body.raw, NULL);
        while (json_array_next(&it, &el, NULL) == 1)
            launch_chat_event(app, b, el.raw);
    }
    on_chat_event_done(STORE_OK, false, b); /* drops the launch guard */
}

/* ---- POST /api/v1/socket/call ------------------------------------------------------ */

static void on_call_done(slice_t result, void *arg)
{
    http_op_t *op = arg;
    if (op->req) {
        sioc_http_on_abort(op->req, NULL, NULL);
        respond_json(op->req, 200, (const char *)result.ptr, result.len);
    }
    free(op);
}

static void handle_call(app_t *app, sioc_http_req_t *req)
{
    slice_t body;
    char user_id[APP_ID_MAX], session_id[APP_ID_MAX], chat_id[APP_ID_MAX], message_id[APP_ID_MAX];
    json_value_t event, t;
    if (!require_key(app, req) || !body_object(req, &body) ||
        !need_str(req, body, "user_id", user_id, sizeof user_id) ||
        !need_str(req, body, "session_id", session_id, sizeof session_id) ||
        !need_str(req, body, "chat_id", chat_id, sizeof chat_id) ||
        !need_str(req, body, "message_id", message_id, sizeof message_id))
        return;
    if (!app_json_get(body, "data", &event) || event.type != JSON_OBJECT) {
        respond_detail(req, 400, "'data' must be an object {\"type\", \"data\"}");
        return;
    }
    uint64_t timeout_ms = (uint64_t)app->cfg->event_call_timeout_s * 1000u;
    double secs;
    if (app_json_get(body, "timeout", &t) && t.type != JSON_NULL) {
        if (t.type != JSON_NUMBER || json_number_to_double(t.raw, &secs) != 0 || secs <= 0 ||
            secs > 86400) {
            respond_detail(req, 400, "'timeout' must be seconds in (0, 86400]");
            return;
        }
        timeout_ms = (uint64_t)(secs * 1000.0 + 0.5);
        if (timeout_ms == 0)
            timeout_ms = 1;
    }
    http_op_t *op = op_new(app, req);
    app_event_call(app, user_id, session_id, chat_id, message_id, event.raw, (uint32_t)timeout_ms,
                   on_call_done, op);
}

/* ---- GET /api/usage ---------------------------------------------------------------- */

static void on_active_count(int status, int64_t count, void *arg)
{
    http_op_t *op = arg;
    if (op->req) {
        sioc_http_on_abort(op->req, NULL, NULL);
        if (status != STORE_OK) {
            respond_detail(op->req, 500, store_strerror(status));
        } else {
            buf_t b = BUF_INIT;
            buf_append_cstr(&b, "{\"model_ids\":");
            app_usage_append_json(op->app->usage, &b);
            buf_append_cstr(&b, ",\"user_count\":");
            json_append_i64(&b, count);
            buf_append_byte(&b, '}');
            respond_json(op->req, 200, (const char *)buf_data(&b), b.len);
            buf_dispose(&b);
        }
    }
    free(op);
}

static void usage_answer(http_op_t *op)
{
    app_t *app = op->app;
    if (!app->store || app->stopping) {
        on_active_count(STORE_ECANCELED, 0, op);
        return;
    }
    store_users_active_count(app->store, app__now_s() - ACTIVE_WINDOW_S, on_active_count, op);
}

static void on_usage_auth(app_t *app, int status, const store_user_t *u, void *arg)
{
    http_op_t *op = arg;
    if (!op->req) {
        free(op);
        return;
    }
    if (status != STORE_OK) {
        sioc_http_on_abort(op->req, NULL, NULL);
        respond_detail(op->req, 401, "Not authenticated");
        free(op);
        return;
    }
    if (!app->cfg->public_active_users && strcmp(u->role, "admin") != 0) {
        sioc_http_on_abort(op->req, NULL, NULL);
        respond_detail(op->req, 403, "Access prohibited");
        free(op);
        return;
    }
    usage_answer(op);
}

static void handle_usage(app_t *app, sioc_http_req_t *req)
{
    slice_t tok = bearer(req);
    if (tok.len == 0) {
        respond_detail(req, 401, "Not authenticated");
        return;
    }
    http_op_t *op = op_new(app, req);
    if (key_matches(app, tok))
        usage_answer(op);
    else
        app__auth_token(app, (const char *)tok.ptr, tok.len, on_usage_auth, op);
}

/* ---- dispatch ---------------------------------------------------------------------- */

typedef struct route {
    const char *path;
    const char *method; /* "GET" also serves HEAD */
    void (*handle)(app_t *app, sioc_http_req_t *req);
} route_t;

static const route_t routes[] = {
    {"/api/v1/socket/emit", "POST", handle_emit},
    {"/api/v1/socket/chat/event", "POST", handle_chat_event},
    {"/api/v1/socket/call", "POST", handle_call},
    {"/api/usage", "GET", handle_usage},
};

/* True if the query string has the parameter `name` with exactly `value`. */
static bool query_has(sioc_str_t q, const char *name, const char *value)
{
    slice_t want_n = slice_from_cstr(name), want_v = slice_from_cstr(value);
    size_t i = 0;
    while (i <= q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        slice_t pair = slice_make(q.ptr + i, end - i);
        long eq = slice_index(pair, '=');
        if (eq >= 0 && slice_eq(slice_make(pair.ptr, (size_t)eq), want_n) &&
            slice_eq(slice_tail(pair, (size_t)eq + 1), want_v))
            return true;
        i = end + 1;
    }
    return false;
}

/* True if the comma-separated header value has `token` (ASCII case-insensitive). */
static bool header_has_token(sioc_str_t v, const char *token)
{
    slice_t want = slice_from_cstr(token);
    size_t i = 0;
    while (i < v.len) {
        size_t end = i;
        while (end < v.len && v.ptr[end] != ',')
            end++;
        size_t a = i, b = end;
        while (a < b && (v.ptr[a] == ' ' || v.ptr[a] == '\t'))
            a++;
        while (b > a && (v.ptr[b - 1] == ' ' || v.ptr[b - 1] == '\t'))
            b--;
        if (slice_eq_nocase(slice_make(v.ptr + a, b - a), want))
            return true;
        i = end + 1;
    }
    return false;
}

/*
 * Open WebUI's WebsocketUpgradeGuardMiddleware (spec §1.1): a plain HTTP request for
 * transport=websocket without the upgrade headers gets 400 with Open WebUI's own body
 * rather than Engine.IO's, so a client cannot tell the servers apart.
 */
bool app__http_guard_engine(sioc_http_req_t *req, void *arg)
{
    (void)arg;
    if (!query_has(sioc_http_query(req), "transport", "websocket"))
        return false;
    if (header_has_token(sioc_http_header(req, "upgrade"), "websocket") &&
        header_has_token(sioc_http_header(req, "connection"), "upgrade"))
        return false;
    static const char body[] = "{\"detail\":\"Invalid WebSocket upgrade request\"}";
    sioc_http_respond(req, 400, "application/json", NULL, (sioc_str_t){body, sizeof body - 1});
    return true;
}

void app__http_on_request(sioc_http_req_t *req, void *arg)
{
    app_t *app = arg;
    sioc_str_t p = sioc_http_path(req);
    slice_t path = slice_make(p.ptr, p.len);
    const char *m = sioc_http_method(req);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!slice_eq_cstr(path, routes[i].path))
            continue;
        bool is_get = strcmp(routes[i].method, "GET") == 0;
        if (strcmp(m, routes[i].method) == 0 || (is_get && get))
            routes[i].handle(app, req);
        else
            respond_detail(req, 405, "Method Not Allowed");
        return;
    }
    if (app_rest_dispatch(app, req)) /* the REST routes of app_rest.h */
        return;
    if (get && app->cfg->web_root && !slice_starts_with(path, SLICE_LIT("/api/")))
        sioc_http_serve_file(req, app->cfg->web_root);
    else
        respond_detail(req, 404, "Not Found");
}
