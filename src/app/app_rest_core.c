/*
 * app_rest_core: the REST module's state, the route table and dispatch, caller
 * authentication and the answer/validation helpers. See app_rest.h and
 * app_rest_private.h.
 *
 * Caller authentication is Open WebUI's get_current_user / get_verified_user: the token
 * is the Bearer credential, else the `token` cookie; it must verify (HS256 with the
 * configured key, `exp`, an `id` claim: app_jwt) and name an existing user; "verified"
 * routes also refuse a pending user. A missing token is 401 "Not authenticated", a bad
 * one or an unknown user 401 with INVALID_TOKEN, a pending user on a verified route 401
 * ACCESS_PROHIBITED (Open WebUI raises 401 there too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app_chat.h"
#include "app/app_echo_model.h"
#include "app/app_json.h"
#include "app/app_jwt.h"
#include "app/app_rest_private.h"
#include "base/alloc.h"
#include "base/log.h"

/* ---- state ------------------------------------------------------------------------- */

static app_upstream_t *make_upstream(app_t *app)
{
    app_upstream_env_vars_t vars = app_upstream_env_vars_get();
    app_upstream_env_t env;
    if (app_upstream_env_parse(&vars, &env) != 0)
        LOG(LOG_WARN, "chat: more than %d OpenAI connections configured; using none",
            APP_UPSTREAM_MAX_CONNS);
    app_upstream_config_t cfg = {.conns = env.conns, .n_conns = env.n};
    app_upstream_t *up = app_upstream_new(app_loop(app), &cfg);
    if (!up)
        LOG(LOG_WARN, "chat: the model client could not start (libcurl); chat is disabled");
    else if (env.n)
        LOG(LOG_INFO, "chat: %zu OpenAI-compatible connection(s), first %s", env.n,
            env.conns[0].url);
    app_upstream_env_dispose(&env);
    return up;
}

app_rest_t *app_rest_new(app_t *app)
{
    app_rest_t *r = xcalloc(1, sizeof *r);
    r->app = app;
    r->started_ms = app__now_ms();
    r->up = make_upstream(app);
    r->tasks = app_tasks_new();
    r->chat = app_chat_new(r);
    r->enable_signup = app_config(app)->enable_signup;
    const char *role = app_config(app)->default_user_role;
    if (!role ||
        (strcmp(role, "pending") != 0 && strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)) {
        if (role)
            LOG(LOG_WARN, "DEFAULT_USER_ROLE=%s is not pending/user/admin; using pending", role);
        role = "pending";
    }
    snprintf(r->default_role, sizeof r->default_role, "%s", role);
    return r;
}

void app_rest_stop(app_rest_t *r)
{
    if (!r || r->stopped)
        return;
    r->stopped = true;
    app_tasks_stop_all(r->tasks);
    app_upstream_free(r->up); /* terminal callbacks of what is left run inside */
    r->up = NULL;
}

void app_rest_free(app_rest_t *r)
{
    if (!r)
        return;
    app_rest_stop(r);
    app_chat_free(r->chat);
    app_tasks_free(r->tasks);
    free(r);
}

struct app_tasks *app_rest_tasks(app_rest_t *r)
{
    return r->tasks;
}

/* ---- answers ----------------------------------------------------------------------- */

static void call_free(app_rest_call_t *c)
{
    free(c->user.profile_image_url);
    free(c->body);
    free(c->query);
    free(c->token);
    free(c);
}

/* Answers `body` as `type`, then frees the call. */
static void reply_as(app_rest_call_t *c, int status, const char *type, slice_t body,
                     const char *extra_headers)
{
    if (c->req) {
        sioc_http_on_abort(c->req, NULL, NULL);
        sioc_http_respond(c->req, status, type, extra_headers,
                          (sioc_str_t){(const char *)body.ptr, body.len});
    }
    call_free(c);
}

void app_rest__reply(app_rest_call_t *c, int status, slice_t json, const char *extra_headers)
{
    reply_as(c, status, "application/json", json, extra_headers);
}

void app_rest__reply_text(app_rest_call_t *c, int status, const char *type, buf_t *b)
{
    reply_as(c, status, type, buf_slice(b), NULL);
    buf_dispose(b);
}

void app_rest__reply_buf(app_rest_call_t *c, int status, buf_t *b)
{
    app_rest__reply(c, status, buf_slice(b), NULL);
    buf_dispose(b);
}

void app_rest__detail(app_rest_call_t *c, int status, const char *detail)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"detail\":");
    json_append_string(&b, slice_from_cstr(detail));
    buf_append_byte(&b, '}');
    app_rest__reply_buf(c, status, &b);
}

void app_rest__store_error(app_rest_call_t *c, int status)
{
    switch (status) {
    case STORE_ENOTFOUND:
        app_rest__detail(c, 404, APP_REST_E_NOT_FOUND);
        return;
    case STORE_EACCES:
        app_rest__detail(c, 403, APP_REST_E_ACCESS);
        return;
    case STORE_EINVAL:
        app_rest__detail(c, 400, "Invalid input");
        return;
    default:
        LOG_RATELIMITED(LOG_WARN, c->rest->log_count, 100, "rest: store: %s",
                        store_strerror(status));
        app_rest__detail(c, 500, APP_REST_E_DEFAULT);
    }
}

static void on_abort(sioc_http_req_t *req, void *arg)
{
    (void)req;
    app_rest_call_t *c = arg;
    c->req = NULL;
}

/* ---- validation -------------------------------------------------------------------- */

bool app_rest__body_object(app_rest_call_t *c, slice_t *out)
{
    json_value_t v;
    if (json_validate(slice_make(c->body, c->body_len), &v, NULL) != 0 || v.type != JSON_OBJECT) {
        app_rest__detail(c, 422, "The body must be a JSON object");
        return false;
    }
    *out = v.raw;
    return true;
}

bool app_rest__str(app_rest_call_t *c, slice_t obj, const char *key, char *out, size_t cap,
                   bool required)
{
    json_value_t v;
    out[0] = '\0';
    bool present = app_json_get(obj, key, &v) && v.type != JSON_NULL;
    if (!present && !required)
        return true;
    if (present && v.type == JSON_STRING && app_json_str(v, out, cap) >= 0 && (!required || out[0]))
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "'%s' must be a %sstring of at most %zu bytes", key,
             required ? "non-empty " : "", cap - 1);
    app_rest__detail(c, 422, msg);
    return false;
}

bool app_rest__object(app_rest_call_t *c, slice_t obj, const char *key, buf_t *out)
{
    json_value_t v;
    buf_clear(out);
    if (!app_json_get(obj, key, &v) || v.type == JSON_NULL)
        return true;
    if (v.type != JSON_OBJECT) {
        char msg[128];
        snprintf(msg, sizeof msg, "'%s' must be an object", key);
        app_rest__detail(c, 422, msg);
        return false;
    }
    buf_append_slice(out, v.raw);
    buf_append_byte(out, '\0');
    return true;
}

static void grant_append(buf_t *out, const char *ptype, slice_t pid, const char *perm)
{
    buf_append_cstr(out, out->len > 1 ? ",{\"principal_type\":\"" : "{\"principal_type\":\"");
    buf_append_cstr(out, ptype);
    buf_append_cstr(out, "\",\"principal_id\":");
    json_append_string(out, pid);
    buf_append_cstr(out, ",\"permission\":\"");
    buf_append_cstr(out, perm);
    buf_append_cstr(out, "\"}");
}

/* One element of access_grants; false when malformed. */
static bool grant_element(json_value_t g, buf_t *out)
{
    char ptype[16], pid[APP_ID_MAX], perm[16];
    if (g.type != JSON_OBJECT ||
        app_json_get_str(g.raw, "principal_type", ptype, sizeof ptype) < 0 ||
        app_json_get_str(g.raw, "principal_id", pid, sizeof pid) <= 0 ||
        app_json_get_str(g.raw, "permission", perm, sizeof perm) < 0)
        return false;
    if ((strcmp(ptype, "user") != 0 && strcmp(ptype, "group") != 0) ||
        (strcmp(perm, "read") != 0 && strcmp(perm, "write") != 0))
        return false;
    grant_append(out, ptype, slice_from_cstr(pid), perm);
    return true;
}

/* {"user_ids": [...], "group_ids": [...]} of one permission of a legacy access_control. */
static bool legacy_perm(slice_t ac, const char *perm, buf_t *out)
{
    json_value_t p, ids, e;
    json_iter_t it;
    if (!app_json_get(ac, perm, &p) || p.type == JSON_NULL)
        return true;
    if (p.type != JSON_OBJECT)
        return false;
    const char *keys[2] = {"user_ids", "group_ids"};
    for (int k = 0; k < 2; k++) {
        if (!app_json_get(p.raw, keys[k], &ids) || ids.type == JSON_NULL)
            continue;
        if (ids.type != JSON_ARRAY || json_array_begin(&it, ids.raw, NULL) != 0)
            return false;
        int rc;
        while ((rc = json_array_next(&it, &e, NULL)) == 1) {
            char id[APP_ID_MAX];
            if (e.type != JSON_STRING || app_json_str(e, id, sizeof id) <= 0)
                return false;
            grant_append(out, k == 0 ? "user" : "group", slice_from_cstr(id), perm);
        }
        if (rc != 0)
            return false;
    }
    return true;
}

bool app_rest__grants(app_rest_call_t *c, slice_t obj, buf_t *out, bool *present)
{
    json_value_t v, e;
    json_iter_t it;
    buf_clear(out);
    buf_append_byte(out, '[');
    bool ok = true;
    *present = true;
    if (app_json_get(obj, "access_grants", &v) && v.type != JSON_NULL) {
        ok = v.type == JSON_ARRAY && json_array_begin(&it, v.raw, NULL) == 0;
        int rc = 0, n = 0;
        while (ok && (rc = json_array_next(&it, &e, NULL)) == 1)
            ok = ++n <= 1000 && grant_element(e, out);
        ok = ok && rc == 0;
    } else if (app_json_get(obj, "access_control", &v)) {
        if (v.type == JSON_NULL)
            grant_append(out, "user", SLICE_LIT("*"), "read"); /* legacy None: public read */
        else
            ok = v.type == JSON_OBJECT && legacy_perm(v.raw, "read", out) &&
                 legacy_perm(v.raw, "write", out);
    } else {
        *present = false;
    }
    buf_append_byte(out, ']');
    buf_append_byte(out, '\0');
    if (!ok)
        app_rest__detail(c, 422,
                         "'access_grants' must be a list of {principal_type: user|group, "
                         "principal_id, permission: read|write}");
    return ok;
}

int64_t app_rest__query_int(const app_rest_call_t *c, const char *name, int64_t dflt)
{
    size_t nl = strlen(name);
    const char *q = c->query;
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
            uint64_t v;
            if (slice_to_u64(slice_make(q + nl + 1, len - nl - 1), INT64_MAX, &v))
                return (int64_t)v;
            return dflt;
        }
        q = end ? end + 1 : NULL;
    }
    return dflt;
}

bool app_rest__store_ready(app_rest_call_t *c)
{
    if (app_store(c->app) && !c->rest->stopped)
        return true;
    app_rest__detail(c, 503, "The server is shutting down");
    return false;
}

void app_rest__on_store_json(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    if (status != STORE_OK) {
        app_rest__store_error(c, status);
        return;
    }
    app_rest__reply(c, 200, slice_from_cstr(json), NULL);
}

void app_rest__append_user_fields(const app_rest_call_t *c, buf_t *b, bool email)
{
    buf_append_cstr(b, "\"id\":");
    json_append_string(b, slice_from_cstr(c->user.id));
    if (email) {
        buf_append_cstr(b, ",\"email\":");
        json_append_string(b, slice_from_cstr(c->user.email));
    }
    buf_append_cstr(b, ",\"name\":");
    json_append_string(b, slice_from_cstr(c->user.name));
    buf_append_cstr(b, ",\"role\":");
    json_append_string(b, slice_from_cstr(c->user.role));
    buf_append_cstr(b, ",\"profile_image_url\":");
    json_append_string(
        b, slice_from_cstr(c->user.profile_image_url ? c->user.profile_image_url : "/user.png"));
}

void app_rest__append_user(const app_rest_call_t *c, buf_t *b)
{
    buf_append_byte(b, '{');
    app_rest__append_user_fields(c, b, false);
    buf_append_byte(b, '}');
}

/* ---- caller authentication --------------------------------------------------------- */

void app_rest__user_set(app_rest_user_t *dst, const store_user_t *u)
{
    snprintf(dst->id, sizeof dst->id, "%s", u->id ? u->id : "");
    snprintf(dst->role, sizeof dst->role, "%s", u->role ? u->role : "pending");
    snprintf(dst->name, sizeof dst->name, "%s", u->name ? u->name : "");
    snprintf(dst->email, sizeof dst->email, "%s", u->email ? u->email : "");
    free(dst->profile_image_url);
    dst->profile_image_url =
        u->profile_image_url ? xstrndup(u->profile_image_url, strlen(u->profile_image_url)) : NULL;
    dst->is_admin = strcmp(dst->role, "admin") == 0;
}

/* The session token: Bearer credentials, else the `token` cookie. */
static slice_t caller_token(sioc_http_req_t *req)
{
    sioc_str_t h = sioc_http_header(req, "authorization");
    slice_t v = slice_make(h.ptr, h.ptr ? h.len : 0);
    if (v.len > 7 && slice_eq_nocase(slice_make(v.ptr, 7), SLICE_LIT("Bearer "))) {
        v = slice_tail(v, 7);
        while (v.len && v.ptr[0] == ' ')
            v = slice_tail(v, 1);
        return v;
    }
    sioc_str_t ck = sioc_http_header(req, "cookie");
    slice_t s = slice_make(ck.ptr, ck.ptr ? ck.len : 0);
    while (s.len) {
        while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == ';'))
            s = slice_tail(s, 1);
        long semi = slice_index(s, ';');
        slice_t pair = semi < 0 ? s : slice_make(s.ptr, (size_t)semi);
        if (slice_starts_with(pair, SLICE_LIT("token=")))
            return slice_tail(pair, 6);
        s = semi < 0 ? slice_make("", 0) : slice_tail(s, (size_t)semi + 1);
    }
    return slice_make("", 0);
}

static void on_caller(int status, const store_user_t *u, void *arg)
{
    app_rest_call_t *c = arg;
    if (status != STORE_OK) {
        if (c->auth == APP_REST_OPTIONAL && status != STORE_ECANCELED) {
            c->handler(c);
            return;
        }
        if (status == STORE_ENOTFOUND)
            app_rest__detail(c, 401, APP_REST_E_INVALID_TOKEN);
        else
            app_rest__store_error(c, status);
        return;
    }
    app_rest__user_set(&c->user, u);
    bool pending = strcmp(c->user.role, "user") != 0 && !c->user.is_admin;
    if (c->auth == APP_REST_VERIFIED && pending) {
        app_rest__detail(c, 401, APP_REST_E_ACCESS);
        return;
    }
    c->authed = c->auth != APP_REST_OPTIONAL || !pending;
    c->handler(c);
}

static void authenticate(app_rest_call_t *c)
{
    app_t *app = c->app;
    slice_t tok = caller_token(c->req);
    if (tok.len == 0) {
        if (c->auth == APP_REST_OPTIONAL)
            c->handler(c);
        else
            app_rest__detail(c, 401, APP_REST_E_NOT_AUTH);
        return;
    }
    const char *key = app_config(app)->secret_key;
    app_jwt_claims_t claims;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (app_jwt_verify(key, key ? strlen(key) : 0, (const char *)tok.ptr, tok.len, now, &claims) !=
        APP_JWT_OK) {
        if (c->auth == APP_REST_OPTIONAL)
            c->handler(c);
        else
            app_rest__detail(c, 401, APP_REST_E_INVALID_TOKEN);
        return;
    }
    if (!app_rest__store_ready(c))
        return;
    c->token = xstrndup((const char *)tok.ptr, tok.len);
    store_user_get(app_store(app), claims.id, on_caller, c);
}

/* ---- routes ------------------------------------------------------------------------ */

typedef struct route {
    const char *method;  /* "GET" also serves HEAD */
    const char *pattern; /* "{}" matches one id segment */
    app_rest_auth_t auth;
    app_rest_handler_fn handler;
} route_t;

static const route_t routes[] = {
    {"GET", "/api/config", APP_REST_OPTIONAL, app_rest__config},
    {"GET", "/api/models", APP_REST_VERIFIED, app_rest__models},
    {"POST", "/api/chat/completions", APP_REST_VERIFIED, app_chat_completions},
    {"GET", "/api/tasks/chat/{}", APP_REST_VERIFIED, app_rest__tasks_list},
    {"POST", "/api/tasks/chat/{}/stop", APP_REST_VERIFIED, app_rest__tasks_stop},
    {"POST", "/api/v1/auths/signin", APP_REST_NONE, app_rest__signin},
    {"POST", "/api/v1/auths/signup", APP_REST_NONE, app_rest__signup},
    {"GET", "/api/v1/auths", APP_REST_CURRENT, app_rest__auths_me},
    {"GET", "/api/v1/channels", APP_REST_VERIFIED, app_rest__channels_list},
    {"POST", "/api/v1/channels/create", APP_REST_VERIFIED, app_rest__channel_create},
    {"GET", "/api/v1/channels/{}", APP_REST_VERIFIED, app_rest__channel_get},
    {"GET", "/api/v1/channels/{}/messages", APP_REST_VERIFIED, app_rest__channel_messages},
    {"POST", "/api/v1/channels/{}/messages/post", APP_REST_VERIFIED, app_rest__channel_post},
    {"GET", "/api/v1/notes", APP_REST_VERIFIED, app_rest__notes_list},
    {"POST", "/api/v1/notes/create", APP_REST_VERIFIED, app_rest__note_create},
    {"GET", "/api/v1/notes/{}", APP_REST_VERIFIED, app_rest__note_get},
    {"POST", "/api/v1/notes/{}/update", APP_REST_VERIFIED, app_rest__note_update},
    {"POST", "/api/v1/chats/new", APP_REST_VERIFIED, app_rest__chat_new},
    {"GET", "/api/v1/chats", APP_REST_VERIFIED, app_rest__chats_list},
    {"GET", "/api/v1/chats/{}", APP_REST_VERIFIED, app_rest__chat_get},
    {"POST", "/api/v1/chats/{}", APP_REST_VERIFIED, app_rest__chat_update},
    {"GET", "/api/sioc/stats", APP_REST_VERIFIED, app_rest__stats},
    {"GET", "/metrics", APP_REST_VERIFIED, app_rest__metrics},
};

/* An id segment: 1..APP_ID_MAX-1 bytes of [A-Za-z0-9._:-]. */
static bool id_segment(slice_t s)
{
    if (s.len == 0 || s.len >= APP_ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Matches `path` (one trailing slash ignored) against `pattern`; the {} segment goes to
 * `param`. */
static bool match(slice_t path, const char *pattern, char *param)
{
    if (path.len > 1 && path.ptr[path.len - 1] == '/')
        path.len--;
    const char *p = pattern;
    size_t i = 0;
    param[0] = '\0';
    while (*p) {
        if (p[0] == '{' && p[1] == '}') {
            size_t j = i;
            while (j < path.len && path.ptr[j] != '/')
                j++;
            slice_t seg = slice_make(path.ptr + i, j - i);
            if (!id_segment(seg))
                return false;
            memcpy(param, seg.ptr, seg.len);
            param[seg.len] = '\0';
            i = j;
            p += 2;
            continue;
        }
        if (i >= path.len || path.ptr[i] != (uint8_t)*p)
            return false;
        i++;
        p++;
    }
    return i == path.len;
}

static char *copy_str(sioc_str_t s)
{
    char *out = try_malloc(s.len + 1);
    if (!out)
        return NULL;
    if (s.len)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

bool app_rest_dispatch(app_t *app, sioc_http_req_t *req)
{
    app_rest_t *rest = app->rest;
    sioc_str_t p = sioc_http_path(req);
    slice_t path = slice_make(p.ptr, p.len);
    if (!rest || (!slice_starts_with(path, SLICE_LIT("/api/")) &&
                  !slice_eq(path, SLICE_LIT("/metrics"))))
        return false;
    const char *m = sioc_http_method(req);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    char param[APP_ID_MAX];
    const route_t *found = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !found; i++) {
        if (!match(path, routes[i].pattern, param))
            continue;
        path_known = true;
        bool is_get = strcmp(routes[i].method, "GET") == 0;
        if (strcmp(m, routes[i].method) == 0 || (is_get && get))
            found = &routes[i];
    }
    if (!found && !path_known)
        return false;
    app_rest_call_t *c = xcalloc(1, sizeof *c);
    c->app = app;
    c->rest = rest;
    c->req = req;
    if (!found) {
        app_rest__detail(c, 405, "Method Not Allowed");
        return true;
    }
    c->handler = found->handler;
    c->auth = found->auth;
    snprintf(c->param, sizeof c->param, "%s", param);
    c->body = copy_str(sioc_http_body(req));
    c->query = copy_str(sioc_http_query(req));
    if (!c->body || !c->query) {
        app_rest__detail(c, 503, "Out of memory");
        return true;
    }
    c->body_len = sioc_http_body(req).len;
    sioc_http_on_abort(req, on_abort, c);
    if (c->auth == APP_REST_NONE)
        c->handler(c);
    else
        authenticate(c);
    return true;
}
