/*
 * app_upstream: streaming OpenAI-compatible client on libcurl's multi-socket API.
 *
 * The life of a request (STYLE rules 15 and 17):
 *
 *   chat_start ──> RUNNING (linked in up->reqs, easy not yet in the multi)
 *                     │ kick timer (next loop turn): curl_multi_add_handle
 *                     │ curl write callback: SSE -> on_delta / on_reasoning ...
 *        cancel() ──> CANCELLING ── kick, or curl's DONE for it ──┐
 *                     │ curl DONE / idle sweep / client free       │
 *                     ▼                                            ▼
 *                  req_finish: FINISHED, unlinked, backend stop (easy out of the multi),
 *                  exactly one of on_done / on_error, backend release, free
 *
 * Terminal callbacks never run from inside a curl callback or from an API call: only from
 * the kick timer, the curl timer and poll callbacks (after curl_multi_socket_action has
 * returned), the idle sweep, and app_upstream_free. That is also why transfers are added
 * to the multi handle from the kick timer: libcurl refuses curl_multi_* calls made from
 * inside its own callbacks (CURLM_RECURSIVE_API_CALL), and a caller may start a request
 * from inside on_delta, which runs inside curl's write callback.
 *
 * Errors found while curl is calling us (too large, SSE line cap, an `error` chunk) are
 * recorded in the request and the write callback returns 0; curl then aborts the transfer
 * and reports it done, and the recorded error is what the caller sees.
 */
#include "app/app_upstream_private.h"

#include <curl/curl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/utf8.h"

#define DEF_CONNECT_MS 10000u
#define DEF_IDLE_MS 300000u
#define DEF_MODELS_MS 10000u
#define DEF_MAX_RESPONSE (16u << 20)
#define DEF_MAX_LINE (1u << 20)
#define USAGE_CAP 8192u /* longest usage object kept raw */

typedef enum body_mode { MODE_UNKNOWN, MODE_SSE, MODE_JSON, MODE_ERROR } body_mode_t;

/* A socket curl asked us to watch. */
/* The ext area of a chat request. */
typedef struct chat {
    xfer_t x;        /* its POST /chat/completions */
    app_sse_t sse;   /* the event stream parser */
    buf_t text;      /* decoded delta, then the final message */
    buf_t usage_raw; /* copy of the last usage object */
    app_upstream_usage_t usage;
    body_mode_t mode;     /* how the body is read, fixed at its first byte */
    bool got_done;        /* `data: [DONE]` seen */
    bool got_finish;      /* a finish_reason seen */
    bool has_usage;       /* a usage object seen */
    int fail;             /* error recorded inside a curl callback, 0 if none */
    bool fail_text;       /* its message is in `text` (else fail_msg) */
    const char *fail_msg; /* static message */
    size_t finish_len;
    char finish[32]; /* decoded finish_reason (truncated) */
} chat_t;

static const app_upstream__backend_t chat_backend;
static void on_kick(uv_timer_t *t);
static void on_sweep(uv_timer_t *t);

const char *app_upstream_strerror(int code)
{
    switch (code) {
    case APP_UPSTREAM_ECANCELLED:
        return "cancelled";
    case APP_UPSTREAM_ESHUTDOWN:
        return "the server is shutting down";
    case APP_UPSTREAM_ETIMEDOUT:
        return "the model API did not answer in time";
    case APP_UPSTREAM_ECONNECT:
        return "could not connect to the model API";
    case APP_UPSTREAM_EHTTP:
        return "the model API answered with an HTTP error";
    case APP_UPSTREAM_EUPSTREAM:
        return "the model API reported an error";
    case APP_UPSTREAM_EBROKEN:
        return "the model API stream ended before the answer was complete";
    case APP_UPSTREAM_ETOOBIG:
        return "the model API answer is too large";
    case APP_UPSTREAM_EPROTO:
        return "the model API answer is unreadable";
    case APP_UPSTREAM_EINVAL:
        return "invalid request";
    case APP_UPSTREAM_ENOMODEL:
        return "model not found";
    case APP_UPSTREAM_ENOUPSTREAM:
        return "no model API connection is configured";
    default:
        return "unknown error";
    }
}

/* ------------------------------------------------------------------ small helpers */

/* Cheap internal invariant, on in release builds (STYLE rule 33). */
static void check(bool ok, const char *what)
{
    if (ok)
        return;
    LOG(LOG_ERROR, "app_upstream: invariant violated: %s", what);
    abort();
}

void app_upstream__work_inc(app_upstream_t *up)
{
    if (up->work++ > 0)
        return;
    uint64_t every = up->idle_ms / 4;
    every = every < 10 ? 10 : every > 1000 ? 1000 : every;
    uv_timer_start(&up->sweep, on_sweep, every, every);
}

void app_upstream__work_dec(app_upstream_t *up)
{
    if (--up->work == 0)
        uv_timer_stop(&up->sweep);
}

void app_upstream__kick(app_upstream_t *up)
{
    uv_timer_start(&up->kick, on_kick, 0, 0);
}

/* A curl failure as one of our codes. */
int app_upstream__curl_code(CURLcode res)
{
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        return APP_UPSTREAM_ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return APP_UPSTREAM_ECONNECT;
    default:
        return APP_UPSTREAM_EBROKEN;
    }
}

slice_t app_upstream__curl_message(const xfer_t *x, CURLcode res)
{
    return x->errbuf[0] ? slice_from_cstr(x->errbuf) : slice_from_cstr(curl_easy_strerror(res));
}

long app_upstream__http_status(const xfer_t *x)
{
    long status = 0;
    if (x->easy)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* ------------------------------------------------------------------ transfers */

static size_t on_chat_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* Creates the easy handle of `x` for connection `idx` + `path` (POST x->out if non-empty). */
int app_upstream__xfer_setup(app_upstream_t *up, xfer_t *x, size_t idx, const char *path)
{
    const app_upstream_conn_t *conn = &up->conns[idx];
    buf_t tmp = BUF_INIT;
    x->easy = curl_easy_init();
    if (!x->easy)
        return -1;
    buf_append_cstr(&tmp, conn->url);
    buf_append_cstr(&tmp, path);
    buf_append_byte(&tmp, '\0');
    curl_easy_setopt(x->easy, CURLOPT_URL, (const char *)buf_data(&tmp));
    if (conn->key[0]) {
        buf_clear(&tmp);
        buf_append_cstr(&tmp, "Authorization: Bearer ");
        buf_append_cstr(&tmp, conn->key);
        buf_append_byte(&tmp, '\0');
        x->headers = curl_slist_append(x->headers, (const char *)buf_data(&tmp));
    }
    buf_dispose(&tmp);
    if (x->out.len) {
        x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (const char *)buf_data(&x->out));
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->out.len);
    }
    x->headers = curl_slist_append(x->headers, "Expect:");
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)up->connect_ms);
    curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "sioc");
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION,
                     x->kind == XFER_CHAT ? on_chat_write : app_upstream__models_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    return x->headers ? 0 : -1;
}

void app_upstream__xfer_remove(app_upstream_t *up, xfer_t *x)
{
    if (x->added)
        curl_multi_remove_handle(up->multi, x->easy);
    x->added = false;
}

void app_upstream__xfer_dispose(xfer_t *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_dispose(&x->out);
    buf_dispose(&x->in);
    x->easy = NULL;
    x->headers = NULL;
}

/* Puts `x` into the multi handle. Returns false when curl refused it. */
bool app_upstream__xfer_add(app_upstream_t *up, xfer_t *x)
{
    if (x->added || x->completed)
        return true;
    if (curl_multi_add_handle(up->multi, x->easy) != CURLM_OK)
        return false;
    x->added = true;
    return true;
}

/* ------------------------------------------------------------------ requests */

static void req_unlink(app_upstream_req_t *r)
{
    app_upstream_t *up = r->up;
    if (r->prev)
        r->prev->next = r->next;
    else
        up->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        up->tail = r->prev;
    r->prev = r->next = NULL;
    app_upstream__work_dec(up);
}

/* Ends a request: exactly one terminal callback, then the backend lets go of it. */
static void req_finish(app_upstream_req_t *r, int code, int http_status, slice_t message,
                       slice_t finish, const app_upstream_usage_t *usage)
{
    app_upstream_t *up = r->up;
    check(r->state != REQ_FINISHED, "request finished twice");
    r->state = REQ_FINISHED;
    req_unlink(r);
    r->be->stop(r);
    up->cb_depth++;
    if (code == 0)
        r->cbs->on_done(r, finish, usage);
    else
        r->cbs->on_error(r, code, http_status, message);
    up->cb_depth--;
    r->be->release(r);
}

static void req_fail(app_upstream_req_t *r, int code, int http_status, slice_t message)
{
    req_finish(r, code, http_status, message, slice_make(NULL, 0), NULL);
}

static void req_fail_static(app_upstream_req_t *r, int code)
{
    req_fail(r, code, 0, slice_from_cstr(app_upstream_strerror(code)));
}

/* Runs a delta callback; false when the request stopped running meanwhile. */
static bool req_deliver(app_upstream_req_t *r, bool reasoning, slice_t text)
{
    void (*cb)(app_upstream_req_t *, slice_t) = reasoning ? r->cbs->on_reasoning : r->cbs->on_delta;
    if (r->state != REQ_RUNNING)
        return false;
    if (!cb || text.len == 0)
        return true;
    r->up->cb_depth++;
    cb(r, text);
    r->up->cb_depth--;
    return r->state == REQ_RUNNING;
}

void app_upstream__maybe_free(app_upstream_t *up)
{
    if (!up->closing || up->closes_pending > 0 || up->live_reqs > 0)
        return;
    free(up->routes);
    buf_dispose(&up->route_ids);
    free(up->conn_mem);
    free(up);
    curl_global_cleanup();
}

app_upstream_req_t *app_upstream__req_new(app_upstream_t *up, const app_upstream__backend_t *be,
                                          size_t ext_size, const app_upstream_cbs_t *cbs,
                                          void *user, int *err)
{
    int e = 0;
    if (up->closing)
        e = APP_UPSTREAM_ESHUTDOWN;
    else if (!cbs || !cbs->on_done || !cbs->on_error)
        e = APP_UPSTREAM_EINVAL;
    if (e) {
        if (err)
            *err = e;
        return NULL;
    }
    app_upstream_req_t *r = xcalloc(1, sizeof *r + ext_size);
    r->up = up;
    r->be = be;
    r->cbs = cbs;
    r->user = user;
    r->state = REQ_RUNNING;
    r->url_idx = SIZE_MAX;
    uv_update_time(up->loop); /* the loop time may be stale when called outside callbacks */
    r->last_ms = uv_now(up->loop);
    r->prev = up->tail;
    if (up->tail)
        up->tail->next = r;
    else
        up->head = r;
    up->tail = r;
    up->live_reqs++;
    app_upstream__work_inc(up);
    return r;
}

void *app_upstream__req_ext(app_upstream_req_t *req)
{
    return req->ext;
}

uv_loop_t *app_upstream__req_loop(app_upstream_req_t *req)
{
    return req->up->loop;
}

bool app_upstream__req_delta(app_upstream_req_t *req, slice_t text)
{
    return req_deliver(req, false, text);
}

void app_upstream__req_done(app_upstream_req_t *req, slice_t finish_reason,
                            const app_upstream_usage_t *usage)
{
    if (req->state == REQ_RUNNING)
        req_finish(req, 0, 0, slice_make(NULL, 0), finish_reason, usage);
}

void app_upstream__req_released(app_upstream_req_t *req)
{
    app_upstream_t *up = req->up;
    free(req);
    up->live_reqs--;
    app_upstream__maybe_free(up);
}

void app_upstream_cancel(app_upstream_req_t *req)
{
    if (req->state != REQ_RUNNING)
        return;
    req->state = REQ_CANCELLING;
    app_upstream__kick(req->up);
}

void *app_upstream_req_get_user(const app_upstream_req_t *req)
{
    return req->user;
}

void app_upstream_req_set_user(app_upstream_req_t *req, void *user)
{
    req->user = user;
}

size_t app_upstream_req_url_idx(const app_upstream_req_t *req)
{
    return req->url_idx;
}

/* ------------------------------------------------------------------ chat: streaming */

static void chat_record_fail(chat_t *c, int code, const char *msg)
{
    if (c->fail)
        return;
    c->fail = code;
    c->fail_msg = msg;
}

static void chat_keep_usage(chat_t *c, const app_sse_usage_t *u)
{
    c->has_usage = true;
    c->usage = *u;
    buf_clear(&c->usage_raw);
    if (u->raw.len <= USAGE_CAP)
        buf_append_slice(&c->usage_raw, u->raw);
}

static void chat_keep_finish(chat_t *c, slice_t raw)
{
    buf_clear(&c->text);
    if (json_string_unescape_buf(raw, &c->text) < 0)
        return;
    size_t n = c->text.len < sizeof c->finish ? c->text.len : sizeof c->finish - 1;
    n = utf8_boundary(buf_data(&c->text), n);
    memcpy(c->finish, buf_data(&c->text), n);
    c->finish_len = n;
    c->got_finish = true;
}

/* Decodes a raw JSON string and delivers it. False when the request stopped. */
static bool chat_deliver(app_upstream_req_t *r, chat_t *c, bool reasoning, slice_t raw)
{
    if (raw.len <= 2) /* absent, or "" */
        return r->state == REQ_RUNNING;
    buf_clear(&c->text);
    if (json_string_unescape_buf(raw, &c->text) < 0)
        return r->state == REQ_RUNNING;
    return req_deliver(r, reasoning, buf_slice(&c->text));
}

/* An `error` inside the stream (or a whole error answer with status 200). */
static void chat_record_upstream_error(chat_t *c, const app_sse_chunk_t *ch)
{
    buf_clear(&c->text);
    if (ch->error_message.len)
        app_sse_append_json_message(&c->text, ch->error_message);
    else
        app_sse_append_message(&c->text, ch->error_raw);
    chat_record_fail(c, APP_UPSTREAM_EUPSTREAM, NULL);
    c->fail_text = c->text.len > 0;
}

/* Applies one parsed chunk. False: stop reading (failed or no longer running). */
static bool chat_apply(app_upstream_req_t *r, chat_t *c, const app_sse_chunk_t *ch)
{
    if (ch->done) {
        c->got_done = true;
        return true;
    }
    if (ch->has_error) {
        chat_record_upstream_error(c, ch);
        return false;
    }
    if (ch->has_usage)
        chat_keep_usage(c, &ch->usage);
    if (ch->finish_reason.len)
        chat_keep_finish(c, ch->finish_reason);
    if (!chat_deliver(r, c, true, ch->reasoning))
        return false;
    return chat_deliver(r, c, false, ch->content);
}

/* One SSE event of the stream. */
static bool chat_event(app_upstream_req_t *r, chat_t *c, const app_sse_event_t *ev)
{
    app_sse_chunk_t ch;
    const char *why = NULL;
    if (c->got_done)
        return true; /* nothing counts after [DONE] */
    bool is_error = slice_eq_cstr(ev->type, "error");
    if (ev->type.len && !is_error && !slice_eq_cstr(ev->type, "message"))
        return true; /* other event types are not chat chunks */
    if (app_sse_chunk_parse(ev->data, &ch, &why) < 0) {
        if (!is_error) {
            LOG_RATELIMITED(LOG_WARN, r->up->log_bad_event, 100,
                            "upstream: ignoring an unreadable stream event (%s)", why);
            return true;
        }
        ch.has_error = true;
        ch.error_message = slice_make(NULL, 0);
        ch.error_raw = ev->data;
    }
    if (is_error && !ch.has_error) {
        ch.has_error = true;
        ch.error_raw = ev->data;
    }
    return chat_apply(r, c, &ch);
}

static bool chat_feed_sse(app_upstream_req_t *r, chat_t *c, slice_t in)
{
    while (in.len) {
        size_t used = 0;
        app_sse_event_t ev;
        int rc = app_sse_feed(&c->sse, in, &used, &ev);
        if (rc < 0) {
            chat_record_fail(c, APP_UPSTREAM_EPROTO, app_sse_strerror(rc));
            return false;
        }
        if (rc == APP_SSE_MORE)
            return true;
        in = slice_tail(in, used);
        if (!chat_event(r, c, &ev) || r->state != REQ_RUNNING)
            return false;
    }
    return true;
}

/* Decides how to read the body once the first byte of it arrives. */
static void chat_pick_mode(chat_t *c)
{
    long status = app_upstream__http_status(&c->x);
    char *ct = NULL;
    if (status < 200 || status >= 300) {
        c->mode = MODE_ERROR;
        return;
    }
    curl_easy_getinfo(c->x.easy, CURLINFO_CONTENT_TYPE, &ct);
    c->mode = ct && strncasecmp(ct, "application/json", 16) == 0 ? MODE_JSON : MODE_SSE;
}

static size_t on_chat_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer_t *x = userdata;
    app_upstream_req_t *r = x->owner;
    chat_t *c = (chat_t *)r->ext;
    size_t n = size * nmemb;
    r->last_ms = uv_now(r->up->loop);
    if (r->state != REQ_RUNNING || c->fail)
        return 0;
    if (x->received + n > r->up->max_response) {
        chat_record_fail(c, APP_UPSTREAM_ETOOBIG, app_upstream_strerror(APP_UPSTREAM_ETOOBIG));
        return 0;
    }
    x->received += n;
    if (c->mode == MODE_UNKNOWN)
        chat_pick_mode(c);
    if (c->mode == MODE_SSE)
        return chat_feed_sse(r, c, slice_make(ptr, n)) ? n : 0;
    size_t keep = n;
    if (c->mode == MODE_ERROR && x->in.len + n > UPSTREAM_ERRBODY_CAP)
        keep = x->in.len < UPSTREAM_ERRBODY_CAP ? UPSTREAM_ERRBODY_CAP - x->in.len : 0;
    if (keep && !buf_try_reserve(&x->in, keep)) {
        chat_record_fail(c, APP_UPSTREAM_ETOOBIG, "out of memory");
        return 0;
    }
    buf_append(&x->in, ptr, keep);
    return n;
}

/* ------------------------------------------------------------------ chat: the end */

static void chat_done(app_upstream_req_t *r, chat_t *c)
{
    c->usage.raw = buf_slice(&c->usage_raw);
    req_finish(r, 0, 0, slice_make(NULL, 0), slice_make(c->finish, c->finish_len),
               c->has_usage ? &c->usage : NULL);
}

/* A non-streamed answer (application/json with status 2xx): one delta, then done. */
static void chat_finish_json(app_upstream_req_t *r, chat_t *c)
{
    app_sse_chunk_t ch;
    if (app_sse_chunk_parse(buf_slice(&c->x.in), &ch, NULL) < 0) {
        req_fail_static(r, APP_UPSTREAM_EPROTO);
        return;
    }
    if (ch.has_error) {
        chat_record_upstream_error(c, &ch);
        req_fail(r, APP_UPSTREAM_EUPSTREAM, (int)app_upstream__http_status(&c->x),
                 buf_slice(&c->text));
        return;
    }
    if (ch.has_usage)
        chat_keep_usage(c, &ch.usage);
    if (ch.finish_reason.len)
        chat_keep_finish(c, ch.finish_reason);
    if (!chat_deliver(r, c, true, ch.reasoning) || !chat_deliver(r, c, false, ch.content)) {
        req_fail_static(r, APP_UPSTREAM_ECANCELLED);
        return;
    }
    chat_done(r, c);
}

/* curl reported the transfer of a chat request done: pick the one outcome. */
void app_upstream__chat_completed(app_upstream_req_t *r, CURLcode res)
{
    chat_t *c = (chat_t *)r->ext;
    long status = app_upstream__http_status(&c->x);
    c->x.completed = true;
    if (r->state == REQ_CANCELLING) {
        req_fail_static(r, APP_UPSTREAM_ECANCELLED);
    } else if (c->fail) {
        slice_t msg = c->fail_text ? buf_slice(&c->text) : slice_from_cstr(c->fail_msg);
        req_fail(r, c->fail, (int)status, msg);
    } else if (c->got_done) {
        chat_done(r, c);
    } else if (status >= 300 || (status && status < 200)) {
        app_sse_error_message(buf_slice(&c->x.in), status, &c->text);
        req_fail(r, APP_UPSTREAM_EHTTP, (int)status, buf_slice(&c->text));
    } else if (res != CURLE_OK) {
        req_fail(r, app_upstream__curl_code(res), (int)status,
                 app_upstream__curl_message(&c->x, res));
    } else if (c->mode == MODE_JSON) {
        chat_finish_json(r, c);
    } else if (c->got_finish) {
        chat_done(r, c);
    } else {
        req_fail_static(r, APP_UPSTREAM_EBROKEN);
    }
}

static void chat_stop(app_upstream_req_t *r)
{
    app_upstream__xfer_remove(r->up, &((chat_t *)r->ext)->x);
}

static void chat_release(app_upstream_req_t *r)
{
    chat_t *c = (chat_t *)r->ext;
    app_upstream__xfer_dispose(&c->x);
    app_sse_dispose(&c->sse);
    buf_dispose(&c->text);
    buf_dispose(&c->usage_raw);
    app_upstream__req_released(r);
}

static const app_upstream__backend_t chat_backend = {.stop = chat_stop, .release = chat_release};

/* Which connection serves `model`. */
static int route(const app_upstream_t *up, slice_t model, const app_upstream_chat_opts_t *o,
                 size_t *idx)
{
    if (o->use_url_idx) {
        *idx = o->url_idx;
        return o->url_idx < up->n_conns ? 0 : APP_UPSTREAM_ENOUPSTREAM;
    }
    for (size_t i = 0; i < up->n_routes; i++) {
        slice_t id = slice_make(buf_data(&up->route_ids) + up->routes[i].off, up->routes[i].len);
        if (slice_eq(id, model)) {
            *idx = up->routes[i].idx;
            return 0;
        }
    }
    *idx = 0;
    if (up->n_conns == 1)
        return 0;
    return up->n_conns == 0 ? APP_UPSTREAM_ENOUPSTREAM : APP_UPSTREAM_ENOMODEL;
}

static bool is_reserved_key(slice_t raw_key)
{
    static const char *const reserved[] = {"model", "messages", "stream", "stream_options"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (json_string_eq(raw_key, slice_from_cstr(reserved[i])))
            return true;
    }
    return false;
}

/* {"model":..,"messages":..,"stream":true[,"stream_options":..][,params...]} */
static void build_body(buf_t *b, slice_t model, slice_t messages, const app_upstream_chat_opts_t *o,
                       slice_t params)
{
    json_iter_t it;
    json_value_t k, v;
    buf_append_cstr(b, "{\"model\":");
    json_append_string(b, model);
    buf_append_cstr(b, ",\"messages\":");
    buf_append_slice(b, messages);
    buf_append_cstr(b, ",\"stream\":true");
    if (o->include_usage)
        buf_append_cstr(b, ",\"stream_options\":{\"include_usage\":true}");
    if (params.len && json_object_begin(&it, params, NULL) == 0) {
        while (json_object_next(&it, &k, &v, NULL) == 1) {
            if (is_reserved_key(k.raw))
                continue;
            buf_append_byte(b, ',');
            buf_append_slice(b, k.raw);
            buf_append_byte(b, ':');
            buf_append_slice(b, v.raw);
        }
    }
    buf_append_byte(b, '}');
}

/* Validates the start arguments; returns the error code or 0. */
static int chat_check_args(slice_t model, slice_t messages, const app_upstream_chat_opts_t *o,
                           json_value_t *msgs, json_value_t *params)
{
    if (model.len == 0 || !utf8_is_valid(model.ptr, model.len))
        return APP_UPSTREAM_EINVAL;
    if (json_validate(messages, msgs, NULL) < 0 || msgs->type != JSON_ARRAY)
        return APP_UPSTREAM_EINVAL;
    params->raw = slice_make(NULL, 0);
    if (o->params.len == 0)
        return 0;
    if (json_validate(o->params, params, NULL) < 0 || params->type != JSON_OBJECT)
        return APP_UPSTREAM_EINVAL;
    return 0;
}

app_upstream_req_t *app_upstream_chat_start(app_upstream_t *up, slice_t model, slice_t messages,
                                            const app_upstream_chat_opts_t *opts,
                                            const app_upstream_cbs_t *cbs, void *user, int *err)
{
    static const app_upstream_chat_opts_t none;
    const app_upstream_chat_opts_t *o = opts ? opts : &none;
    json_value_t msgs, params;
    size_t idx = 0;
    int e =
        up->closing ? APP_UPSTREAM_ESHUTDOWN : chat_check_args(model, messages, o, &msgs, &params);
    if (!e)
        e = route(up, model, o, &idx);
    app_upstream_req_t *r =
        e ? NULL : app_upstream__req_new(up, &chat_backend, sizeof(chat_t), cbs, user, &e);
    if (!r)
        goto out_err;
    chat_t *c = (chat_t *)r->ext;
    r->url_idx = idx;
    c->x.kind = XFER_CHAT;
    c->x.owner = r;
    app_sse_init(&c->sse, up->max_line, up->max_line);
    build_body(&c->x.out, model, msgs.raw, o, params.raw);
    if (app_upstream__xfer_setup(up, &c->x, idx, "/chat/completions") < 0) {
        /* no callback has been promised yet: take the request back silently */
        r->state = REQ_FINISHED;
        req_unlink(r);
        chat_release(r);
        e = APP_UPSTREAM_ECONNECT;
        goto out_err;
    }
    app_upstream__kick(up);
    return r;

out_err:
    if (err)
        *err = e;
    return NULL;
}

/* ------------------------------------------------------------------ the loop glue */

/* Deferred work of the API calls: cancellations are delivered, new transfers added. */
static void on_kick(uv_timer_t *t)
{
    app_upstream_t *up = t->data;
    app_upstream_req_t *r, *next;
    models_op_t *op, *op_next;
    for (r = up->head; r; r = next) {
        next = r->next;
        if (r->state == REQ_CANCELLING)
            req_fail_static(r, APP_UPSTREAM_ECANCELLED);
    }
    for (r = up->head; r; r = next) {
        next = r->next;
        if (r->be == &chat_backend && !app_upstream__xfer_add(up, &((chat_t *)r->ext)->x))
            req_fail(r, APP_UPSTREAM_ECONNECT, 0, SLICE_LIT("curl refused the transfer"));
    }
    for (op = up->ops; op; op = op_next) {
        op_next = op->next;
        app_upstream__models_kick(op);
    }
}

/* Idle timeouts: a chat request that received nothing for idle_ms fails. */
static void on_sweep(uv_timer_t *t)
{
    app_upstream_t *up = t->data;
    uint64_t now = uv_now(up->loop);
    app_upstream_req_t *r, *next;
    for (r = up->head; r; r = next) {
        next = r->next;
        if (r->state != REQ_RUNNING || r->be != &chat_backend || now - r->last_ms < up->idle_ms)
            continue;
        req_fail(r, APP_UPSTREAM_ETIMEDOUT, (int)app_upstream__http_status(&((chat_t *)r->ext)->x),
                 SLICE_LIT("the model API sent nothing within the idle timeout"));
    }
}

/* ------------------------------------------------------------------ the client */

static void copy_conns(app_upstream_t *up, const app_upstream_config_t *cfg)
{
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_conns; i++)
        total += strlen(cfg->conns[i].url) + strlen(cfg->conns[i].key ? cfg->conns[i].key : "") + 2;
    char *w = up->conn_mem = xmalloc(total ? total : 1);
    for (size_t i = 0; i < cfg->n_conns; i++) {
        const char *key = cfg->conns[i].key ? cfg->conns[i].key : "";
        size_t ul = strlen(cfg->conns[i].url), kl = strlen(key);
        memcpy(w, cfg->conns[i].url, ul + 1);
        up->conns[i].url = w;
        w += ul + 1;
        memcpy(w, key, kl + 1);
        up->conns[i].key = w;
        w += kl + 1;
    }
    up->n_conns = cfg->n_conns;
}

app_upstream_t *app_upstream_new(uv_loop_t *loop, const app_upstream_config_t *cfg)
{
    if (cfg->n_conns > APP_UPSTREAM_MAX_CONNS || (cfg->n_conns && !cfg->conns))
        return NULL;
    for (size_t i = 0; i < cfg->n_conns; i++) {
        if (!cfg->conns[i].url)
            return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    app_upstream_t *up = xcalloc(1, sizeof *up);
    up->multi = curl_multi_init();
    if (!up->multi) {
        free(up);
        curl_global_cleanup();
        return NULL;
    }
    up->loop = loop;
    up->connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEF_CONNECT_MS;
    up->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEF_IDLE_MS;
    up->models_ms = cfg->models_timeout_ms ? cfg->models_timeout_ms : DEF_MODELS_MS;
    up->max_response = cfg->max_response_bytes ? cfg->max_response_bytes : DEF_MAX_RESPONSE;
    up->max_line = cfg->max_line_bytes ? cfg->max_line_bytes : DEF_MAX_LINE;
    copy_conns(up, cfg);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, app_upstream__on_curl_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, app_upstream__on_curl_timer);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    uv_timer_t *timers[] = {&up->curl_timer, &up->kick, &up->sweep};
    for (size_t i = 0; i < 3; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = up;
    }
    uv_unref((uv_handle_t *)&up->curl_timer);
    uv_unref((uv_handle_t *)&up->kick);
    return up;
}

static void on_timer_closed(uv_handle_t *h)
{
    app_upstream_t *up = h->data;
    up->closes_pending--;
    app_upstream__maybe_free(up);
}

void app_upstream_free(app_upstream_t *up)
{
    if (!up)
        return;
    check(up->cb_depth == 0, "app_upstream_free called from inside a callback");
    check(!up->closing, "app_upstream_free called twice");
    up->closing = true;
    up->closes_pending += 3; /* the timers; keeps maybe_free waiting until the end */
    while (up->head) {
        app_upstream_req_t *r = up->head;
        req_fail_static(r, r->state == REQ_CANCELLING ? APP_UPSTREAM_ECANCELLED
                                                      : APP_UPSTREAM_ESHUTDOWN);
    }
    while (up->ops)
        app_upstream__models_finish(up->ops, APP_UPSTREAM_ESHUTDOWN);
    while (up->polls)
        app_upstream__poll_close(up->polls);
    curl_multi_cleanup(up->multi);
    up->multi = NULL;
    uv_close((uv_handle_t *)&up->curl_timer, on_timer_closed);
    uv_close((uv_handle_t *)&up->kick, on_timer_closed);
    uv_close((uv_handle_t *)&up->sweep, on_timer_closed);
}

size_t app_upstream_conn_count(const app_upstream_t *up)
{
    return up->n_conns;
}

const char *app_upstream_conn_url(const app_upstream_t *up, size_t idx)
{
    return idx < up->n_conns ? up->conns[idx].url : NULL;
}
