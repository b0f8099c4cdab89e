/*
 * http_server: llhttp glue, request parking and responses.
 *
 * Per connection state (one request at a time; pipelined bytes wait in net's tail):
 *
 *   WAIT --bytes--> (llhttp parses, copying url/headers/body into req.data)
 *     ^                 | on_message_complete returns HPE_PAUSED
 *     |                 v
 *     |            DISPATCHED: on_request(req) --answered in the callback--+
 *     |                 | returned without answer                          |
 *     |                 v                                                  |
 *     |            parked (req valid; further input kept by net as tail)   |
 *     |                 | http_resp_send later / http_req_on_abort on EOF   |
 *     +----keep-alive---+--------------------------------------------------+
 *                       | not keep-alive / upgrade request -> graceful close
 *
 * The request owns one buf_t holding every byte it needs, back to back:
 *
 *   req.data: [url][name0][value0][name1][value1]...[body]
 *   req.hdrs: {name_off, name_len, val_off, val_len} per header line
 *
 * Both are freed as soon as the request is answered, so an idle keep-alive connection
 * holds only the parser. Parse errors and limit violations are answered here (400,
 * 413, 431) and the connection is closed after the answer.
 */
#include "http/http_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "llhttp.h"
#include "net/net_timer.h"

enum {
    DEFAULT_MAX_HEADER_BYTES = 16384,
    DEFAULT_MAX_HEADERS = 100,
    DEFAULT_MAX_BODY = 1000000,
    DEFAULT_KEEPALIVE_MS = 5000,
    DEFAULT_MAX_REQUESTS_PER_READ = 16, /* pipelined dispatches per read (STYLE rule 26) */
    IDLE_GRACE_MS = 1000, /* we close a little after the advertised timeout */
    STATUS_LINE_MAX = 512,
};

enum conn_state {
    ST_WAIT = 0,     /* waiting for or reading a request */
    ST_DISPATCHED,   /* a complete request is with the upper layer */
    ST_TAKEN,        /* the connection was taken over (upgrade) */
    ST_DONE,         /* closing: no more requests */
};

struct hdr {
    uint32_t name_off, name_len;
    uint32_t val_off, val_len;
};

struct http_req {
    buf_t data;            /* url, headers, body (see the header comment) */
    struct hdr *hdrs;      /* header index */
    uint32_t nhdrs, hdrs_cap;
    uint32_t url_len;      /* the url is at offset 0 */
    uint32_t body_off;     /* where the body starts in data */
    uint32_t body_len;
    uint32_t header_bytes; /* url + names + values so far, for the limit */
    http_abort_cb abort_cb;
    void *abort_arg;
    uint8_t method;        /* llhttp_method */
    uint8_t minor;         /* HTTP/1.x */
    bool keep_alive;       /* from llhttp at headers complete */
    bool upgrade;          /* llhttp saw an upgrade (or CONNECT) */
    bool force_close;      /* http_req_set_close */
    bool parked;           /* the callback returned without answering */
    bool in_value;         /* the last header piece was a value */
    bool complete;         /* the body was received in full */
};

typedef struct http_conn http_conn_t;

struct http_conn {
    llhttp_t parser;          /* must stay first: parser.data = this */
    http_req_t req;           /* the request being read or handled */
    net_conn_t *nc;           /* NULL once taken over or closed */
    http_server_t *srv;
    http_conn_t *prev, *next; /* the server's list of connections */
    net_timer_t idle;         /* keep-alive / header timeout */
    net_defer_t free_later;   /* freeing after a take-over outside the callback */
    http_drain_cb drain_cb;   /* streamed answer waiting for the queue to drain */
    void *drain_arg;
    uint64_t body_left;       /* streamed answer: announced body bytes not yet queued */
    uint8_t state;            /* enum conn_state */
    bool in_dispatch;         /* on_request is running */
    bool in_headers;          /* the on_headers callback is running */
    bool streaming;           /* http_resp_begin called, http_resp_end not yet */
    bool stream_keep;         /* the streamed answer announced keep-alive */
    int reject;               /* status to answer when a callback stopped the parser */
};

struct http_server {
    net_loop_t *nl;
    http_server_config_t cfg;
    http_request_cb on_request;
    http_request_cb on_headers; /* optional early look at each request */
    void *user;
    net_listener_t *listeners[8];
    int nlisteners;
    int port;                 /* first bound port, -1 before */
    http_conn_t *conns;       /* connections still speaking HTTP */
    bool freeing;             /* http_server_free called; free when conns are gone */
    uint64_t log_counter;     /* rate limit for peer-triggered log lines */
};

static const llhttp_settings_t parser_settings;

/* ---- small helpers ------------------------------------------------------------- */

static http_conn_t *conn_of(const http_req_t *req)
{
    return NET_CONTAINER_OF(req, http_conn_t, req);
}

static slice_t req_bytes(const http_req_t *req, uint32_t off, uint32_t len)
{
    return slice_make(buf_data(&req->data) + off, len);
}

static void req_reset(http_req_t *req)
{
    buf_dispose(&req->data);
    free(req->hdrs);
    *req = (http_req_t){0};
}

static bool req_append(http_req_t *req, const char *at, size_t len)
{
    uint8_t *p = buf_try_reserve(&req->data, len);
    if (!p)
        return false;
    memcpy(p, at, len);
    buf_commit(&req->data, len);
    return true;
}

static void server_maybe_free(http_server_t *srv)
{
    if (srv->freeing && !srv->conns)
        free(srv);
}

static void conn_unlink(http_conn_t *hc)
{
    http_server_t *srv = hc->srv;
    if (hc->prev)
        hc->prev->next = hc->next;
    else if (srv->conns == hc)
        srv->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    hc->prev = hc->next = NULL;
}

static void conn_free(http_conn_t *hc)
{
    http_server_t *srv = hc->srv;
    net_timer_stop(&hc->idle);
    req_reset(&hc->req);
    conn_unlink(hc);
    free(hc);
    server_maybe_free(srv);
}

static void on_free_later(net_defer_t *d)
{
    conn_free(NET_CONTAINER_OF(d, http_conn_t, free_later));
}

static void on_idle_timeout(net_timer_t *t)
{
    http_conn_t *hc = NET_CONTAINER_OF(t, http_conn_t, idle);
    if (hc->nc && hc->state == ST_WAIT) {
        hc->state = ST_DONE;
        net_conn_close(hc->nc, NET_CLOSE_GRACEFUL);
    }
}

static void arm_idle(http_conn_t *hc)
{
    uint64_t ms = (uint64_t)hc->srv->cfg.keepalive_timeout_ms + IDLE_GRACE_MS;
    net_timer_start(net_conn_loop(hc->nc), &hc->idle, ms, on_idle_timeout);
}

/* ---- error answers ------------------------------------------------------------- */

/* Answers a request we refuse ourselves and closes after the answer. */
static void reject(http_conn_t *hc, int status)
{
    char head[STATUS_LINE_MAX];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, http_status_reason(status), strlen(http_status_reason(status)),
                     http_status_reason(status));
    hc->state = ST_DONE;
    net_timer_stop(&hc->idle);
    LOG_RATELIMITED(LOG_DEBUG, hc->srv->log_counter, 100, "conn %llu: http %d (%s)",
                    (unsigned long long)net_conn_id(hc->nc), status,
                    llhttp_get_error_reason(&hc->parser) ? llhttp_get_error_reason(&hc->parser)
                                                         : "limit");
    net_conn_write(hc->nc, head, (size_t)n);
    net_conn_close(hc->nc, NET_CLOSE_GRACEFUL);
}

/* ---- llhttp callbacks: copy the request into req.data ------------------------- */

static int limit_headers(http_conn_t *hc, size_t more)
{
    hc->req.header_bytes += (uint32_t)(more < UINT32_MAX ? more : UINT32_MAX);
    if (hc->req.header_bytes > hc->srv->cfg.max_header_bytes) {
        hc->reject = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *hc = p->data;
    req_reset(&hc->req);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    if (limit_headers(hc, len) < 0)
        return -1;
    if (!req_append(&hc->req, at, len))
        return -1;
    hc->req.url_len += (uint32_t)len;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *req = &hc->req;
    if (limit_headers(hc, len + 4) < 0)
        return -1;
    if (req->nhdrs == 0 || req->in_value) {
        if (req->nhdrs >= hc->srv->cfg.max_headers) {
            hc->reject = 431;
            return -1;
        }
        if (req->nhdrs == req->hdrs_cap) {
            uint32_t cap = req->hdrs_cap ? req->hdrs_cap * 2 : 8;
            struct hdr *h = try_realloc(req->hdrs, cap * sizeof *h);
            if (!h)
                return -1;
            req->hdrs = h;
            req->hdrs_cap = cap;
        }
        req->hdrs[req->nhdrs++] = (struct hdr){(uint32_t)req->data.len, 0,
                                               (uint32_t)req->data.len, 0};
        req->in_value = false;
    }
    if (!req_append(req, at, len))
        return -1;
    req->hdrs[req->nhdrs - 1].name_len += (uint32_t)len;
    req->hdrs[req->nhdrs - 1].val_off = (uint32_t)req->data.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *req = &hc->req;
    if (limit_headers(hc, len) < 0)
        return -1;
    if (!req->nhdrs)
        return -1;
    req->in_value = true;
    if (!req_append(req, at, len))
        return -1;
    req->hdrs[req->nhdrs - 1].val_len += (uint32_t)len;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *hc = p->data;
    http_req_t *req = &hc->req;
    req->method = (uint8_t)llhttp_get_method(p);
    req->minor = llhttp_get_http_minor(p);
    req->keep_alive = llhttp_should_keep_alive(p);
    req->upgrade = llhttp_get_upgrade(p);
    req->body_off = (uint32_t)req->data.len;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > hc->srv->cfg.max_body_bytes) {
        hc->reject = 413;
        return -1;
    }
    if (!hc->srv->on_headers)
        return 0;
    hc->in_headers = true;
    hc->srv->on_headers(req, hc->srv->user);
    hc->in_headers = false;
    return hc->state == ST_WAIT ? 0 : -1; /* answered early: stop parsing */
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *hc = p->data;
    http_req_t *req = &hc->req;
    if ((uint64_t)req->body_len + len > hc->srv->cfg.max_body_bytes) {
        hc->reject = 413;
        return -1;
    }
    if (!req_append(req, at, len))
        return -1;
    req->body_len += (uint32_t)len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *hc = p->data;
    hc->req.complete = true;
    return HPE_PAUSED; /* hand the request up before parsing anything after it */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- dispatch ------------------------------------------------------------------ */

static void dispatch(http_conn_t *hc)
{
    http_server_t *srv = hc->srv;
    hc->state = ST_DISPATCHED;
    net_timer_stop(&hc->idle);
    hc->in_dispatch = true;
    srv->on_request(&hc->req, srv->user);
    hc->in_dispatch = false;
    if (hc->state == ST_DISPATCHED)
        hc->req.parked = true;
}

/*
 * Feeds input to llhttp. Stops at each complete request (HPE_PAUSED) to dispatch it;
 * goes on only if it was answered at once on a keep-alive connection, and for at most
 * max_requests_per_read requests: then it yields the rest to the next loop turn.
 * Returns the bytes consumed; net keeps the rest (pipelined requests behind a parked
 * one, or behind the cap).
 */
static size_t on_read(net_conn_t *nc, slice_t data)
{
    http_conn_t *hc = net_conn_get_user(nc);
    if (hc->state != ST_WAIT) {
        if (data.len > hc->srv->cfg.max_header_bytes)
            net_conn_set_reading(nc, false); /* back-pressure until the answer */
        return 0;
    }
    arm_idle(hc);
    const char *base = (const char *)data.ptr;
    size_t off = 0;
    unsigned dispatched = 0;
    while (off < data.len && hc->state == ST_WAIT) {
        if (dispatched == hc->srv->cfg.max_requests_per_read) {
            net_conn_yield(nc);
            return off;
        }
        llhttp_errno_t e = llhttp_execute(&hc->parser, base + off, data.len - off);
        if (e == HPE_OK)
            return data.len;
        if (e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
            if (hc->state == ST_WAIT) /* not already answered from on_headers */
                reject(hc, hc->reject ? hc->reject : 400);
            return data.len;
        }
        off = (size_t)(llhttp_get_error_pos(&hc->parser) - base);
        dispatch(hc);
        dispatched++;
    }
    return off;
}

static void on_conn_close(net_conn_t *nc, int status)
{
    (void)status;
    http_conn_t *hc = net_conn_get_user(nc);
    hc->nc = NULL;
    hc->drain_cb = NULL;
    hc->streaming = false;
    /* A registered abort callback means the request was seen (on_headers or on_request)
     * and not answered: answering clears it. */
    bool aborted = hc->req.abort_cb != NULL;
    hc->state = ST_DONE;
    if (aborted) {
        http_abort_cb cb = hc->req.abort_cb;
        hc->req.abort_cb = NULL;
        cb(&hc->req, hc->req.abort_arg);
    }
    conn_free(hc);
}

/* The output queue emptied: a streamed answer may queue its next part. */
static void on_conn_drain(net_conn_t *nc)
{
    http_conn_t *hc = net_conn_get_user(nc);
    http_drain_cb cb = hc->drain_cb;
    if (!cb || !hc->streaming)
        return;
    hc->drain_cb = NULL;
    cb(&hc->req, hc->drain_arg);
}

static const net_conn_ops_t http_conn_ops = {
    .on_read = on_read,
    .on_drain = on_conn_drain,
    .on_close = on_conn_close,
};

static void on_accept(net_listener_t *l, net_conn_t *nc)
{
    http_server_adopt(net_listener_get_user(l), nc);
}

void http_server_adopt(http_server_t *srv, net_conn_t *nc)
{
    http_conn_t *hc = xcalloc(1, sizeof *hc);
    llhttp_init(&hc->parser, HTTP_REQUEST, &parser_settings);
    hc->parser.data = hc;
    hc->nc = nc;
    hc->srv = srv;
    net_timer_init(&hc->idle);
    hc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = hc;
    srv->conns = hc;
    if (srv->cfg.max_out_bytes)
        net_conn_set_max_out(nc, srv->cfg.max_out_bytes);
    net_conn_set_ops(nc, &http_conn_ops, hc);
    arm_idle(hc);
}

/* ---- server ---------------------------------------------------------------------- */

void http_server_config_init(http_server_config_t *cfg)
{
    *cfg = (http_server_config_t){
        .max_header_bytes = DEFAULT_MAX_HEADER_BYTES,
        .max_headers = DEFAULT_MAX_HEADERS,
        .max_body_bytes = DEFAULT_MAX_BODY,
        .keepalive_timeout_ms = DEFAULT_KEEPALIVE_MS,
        .max_requests_per_read = DEFAULT_MAX_REQUESTS_PER_READ,
    };
}

http_server_t *http_server_new(net_loop_t *nl, const http_server_config_t *cfg,
                               http_request_cb on_request, void *user)
{
    http_server_t *srv = xcalloc(1, sizeof *srv);
    srv->nl = nl;
    http_server_config_init(&srv->cfg);
    if (cfg)
        srv->cfg = *cfg;
    if (!srv->cfg.max_header_bytes)
        srv->cfg.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    if (!srv->cfg.max_headers)
        srv->cfg.max_headers = DEFAULT_MAX_HEADERS;
    if (!srv->cfg.keepalive_timeout_ms)
        srv->cfg.keepalive_timeout_ms = DEFAULT_KEEPALIVE_MS;
    if (!srv->cfg.max_requests_per_read)
        srv->cfg.max_requests_per_read = DEFAULT_MAX_REQUESTS_PER_READ;
    srv->on_request = on_request;
    srv->user = user;
    srv->port = -1;
    return srv;
}

int http_server_listen(http_server_t *srv, const char *host, int port)
{
    if (srv->nlisteners == (int)(sizeof srv->listeners / sizeof srv->listeners[0]))
        return UV_ENOBUFS;
    net_listener_t *l;
    int r = net_listener_new(srv->nl, host, port, on_accept, srv, &l);
    if (r < 0)
        return r;
    srv->listeners[srv->nlisteners++] = l;
    if (srv->port < 0)
        srv->port = net_listener_port(l);
    return 0;
}

int http_server_port(const http_server_t *srv)
{
    return srv->port;
}

void *http_server_get_user(const http_server_t *srv)
{
    return srv->user;
}

void http_server_on_headers(http_server_t *srv, http_request_cb cb)
{
    srv->on_headers = cb;
}

void http_server_stop_listening(http_server_t *srv)
{
    for (int i = 0; i < srv->nlisteners; i++)
        net_listener_close(srv->listeners[i]);
    srv->nlisteners = 0;
}

void http_server_free(http_server_t *srv)
{
    if (!srv)
        return;
    http_server_stop_listening(srv);
    srv->freeing = true;
    for (http_conn_t *hc = srv->conns; hc; hc = hc->next) {
        if (hc->nc)
            net_conn_close(hc->nc, NET_CLOSE_GRACEFUL);
    }
    server_maybe_free(srv);
}

/* ---- request accessors ----------------------------------------------------------- */

http_method_t http_req_method_id(const http_req_t *req)
{
    switch (req->method) {
    case HTTP_GET:
        return HTTP_METHOD_GET;
    case HTTP_HEAD:
        return HTTP_METHOD_HEAD;
    case HTTP_POST:
        return HTTP_METHOD_POST;
    case HTTP_PUT:
        return HTTP_METHOD_PUT;
    case HTTP_DELETE:
        return HTTP_METHOD_DELETE;
    case HTTP_OPTIONS:
        return HTTP_METHOD_OPTIONS;
    case HTTP_PATCH:
        return HTTP_METHOD_PATCH;
    default:
        return HTTP_METHOD_OTHER;
    }
}

slice_t http_req_method(const http_req_t *req)
{
    return slice_from_cstr(llhttp_method_name((llhttp_method_t)req->method));
}

slice_t http_req_url(const http_req_t *req)
{
    return req_bytes(req, 0, req->url_len);
}

slice_t http_req_path(const http_req_t *req)
{
    slice_t url = http_req_url(req);
    long q = slice_index(url, '?');
    return q < 0 ? url : slice_make(url.ptr, (size_t)q);
}

slice_t http_req_query_string(const http_req_t *req)
{
    slice_t url = http_req_url(req);
    long q = slice_index(url, '?');
    return q < 0 ? slice_make(url.ptr + url.len, 0) : slice_tail(url, (size_t)q + 1);
}

bool http_req_query(const http_req_t *req, const char *name, slice_t *value)
{
    slice_t qs = http_req_query_string(req);
    slice_t want = slice_from_cstr(name);
    while (qs.len) {
        long amp = slice_index(qs, '&');
        slice_t pair = amp < 0 ? qs : slice_make(qs.ptr, (size_t)amp);
        qs = amp < 0 ? slice_tail(qs, qs.len) : slice_tail(qs, (size_t)amp + 1);
        long eq = slice_index(pair, '=');
        slice_t key = eq < 0 ? pair : slice_make(pair.ptr, (size_t)eq);
        if (!slice_eq(key, want))
            continue;
        *value = eq < 0 ? slice_make(pair.ptr + pair.len, 0) : slice_tail(pair, (size_t)eq + 1);
        return true;
    }
    return false;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool http_req_query_decoded(const http_req_t *req, const char *name, uint8_t *out,
                            size_t cap, size_t *len)
{
    slice_t v;
    if (!http_req_query(req, name, &v))
        return false;
    size_t o = 0;
    for (size_t i = 0; i < v.len; i++, o++) {
        if (o == cap)
            return false;
        uint8_t c = v.ptr[i];
        if (c == '+') {
            out[o] = ' ';
            continue;
        }
        if (c != '%') {
            out[o] = c;
            continue;
        }
        int hi = i + 2 < v.len ? hexval(v.ptr[i + 1]) : -1;
        int lo = i + 2 < v.len ? hexval(v.ptr[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return false;
        out[o] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *len = o;
    return true;
}

static slice_t trim(slice_t s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s = slice_tail(s, 1);
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

void http_req_header_at(const http_req_t *req, size_t i, slice_t *name, slice_t *value)
{
    const struct hdr *h = &req->hdrs[i];
    *name = req_bytes(req, h->name_off, h->name_len);
    *value = trim(req_bytes(req, h->val_off, h->val_len));
}

size_t http_req_header_count(const http_req_t *req)
{
    return req->nhdrs;
}

bool http_req_header(const http_req_t *req, const char *name, slice_t *value)
{
    slice_t want = slice_from_cstr(name);
    for (size_t i = 0; i < req->nhdrs; i++) {
        slice_t n, v;
        http_req_header_at(req, i, &n, &v);
        if (slice_eq_nocase(n, want)) {
            *value = v;
            return true;
        }
    }
    return false;
}

bool http_req_header_has_token(const http_req_t *req, const char *name, const char *token)
{
    slice_t want = slice_from_cstr(token);
    slice_t wname = slice_from_cstr(name);
    for (size_t i = 0; i < req->nhdrs; i++) {
        slice_t n, v;
        http_req_header_at(req, i, &n, &v);
        if (!slice_eq_nocase(n, wname))
            continue;
        while (v.len) {
            long c = slice_index(v, ',');
            slice_t t = trim(c < 0 ? v : slice_make(v.ptr, (size_t)c));
            v = c < 0 ? slice_tail(v, v.len) : slice_tail(v, (size_t)c + 1);
            if (slice_eq_nocase(t, want))
                return true;
        }
    }
    return false;
}

slice_t http_req_body(const http_req_t *req)
{
    return req_bytes(req, req->body_off, req->body_len);
}

int http_req_version_minor(const http_req_t *req)
{
    return req->minor;
}

bool http_req_keep_alive(const http_req_t *req)
{
    return req->keep_alive && !req->upgrade && !req->force_close;
}

void http_req_set_close(http_req_t *req)
{
    req->force_close = true;
}

bool http_req_is_websocket_upgrade(const http_req_t *req)
{
    return req->method == HTTP_GET && http_req_header_has_token(req, "upgrade", "websocket");
}

bool http_req_is_parked(const http_req_t *req)
{
    return req->parked;
}

bool http_req_is_complete(const http_req_t *req)
{
    return req->complete;
}

void http_req_on_abort(http_req_t *req, http_abort_cb cb, void *arg)
{
    req->abort_cb = cb;
    req->abort_arg = arg;
}

net_conn_t *http_req_conn(const http_req_t *req)
{
    return conn_of(req)->nc;
}

net_conn_t *http_req_take_conn(http_req_t *req)
{
    http_conn_t *hc = conn_of(req);
    if (hc->state != ST_DISPATCHED || hc->streaming || !hc->nc || net_conn_is_closing(hc->nc))
        return NULL;
    net_conn_t *nc = hc->nc;
    hc->nc = NULL;
    hc->state = ST_TAKEN;
    net_timer_stop(&hc->idle);
    /* The caller may still read the request until its callback returns: free the HTTP
     * state after that, from the loop (it stays on the server's list until then). */
    net_loop_defer(net_conn_loop(nc), &hc->free_later, on_free_later);
    return nc;
}

/* ---- responses ------------------------------------------------------------------- */

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* After an answer: next request on keep-alive, or close. */
static void finish_request(http_conn_t *hc, bool keep)
{
    req_reset(&hc->req);
    if (!keep) {
        hc->state = ST_DONE;
        net_conn_close(hc->nc, NET_CLOSE_GRACEFUL);
        return;
    }
    hc->state = ST_WAIT;
    llhttp_resume(&hc->parser);
    arm_idle(hc);
    if (!hc->in_dispatch) {
        net_conn_set_reading(hc->nc, true);
        net_conn_redeliver(hc->nc);
    }
}

/* Queues the status line and headers of an answer (without the body). */
static int write_head(http_conn_t *hc, int status, const char *content_type,
                      slice_t extra_headers, uint64_t body_len, bool keep)
{
    char head[STATUS_LINE_MAX];
    int len = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
    if (content_type)
        len += snprintf(head + len, sizeof head - (size_t)len, "Content-Type: %s\r\n",
                        content_type);
    len += snprintf(head + len, sizeof head - (size_t)len, "Content-Length: %llu\r\n",
                    (unsigned long long)body_len);
    if (keep)
        len += snprintf(head + len, sizeof head - (size_t)len,
                        "Connection: keep-alive\r\nKeep-Alive: timeout=%u\r\n",
                        hc->srv->cfg.keepalive_timeout_ms / 1000);
    else
        len += snprintf(head + len, sizeof head - (size_t)len, "Connection: close\r\n");
    if ((size_t)len >= sizeof head)
        len = (int)sizeof head - 1; /* only an absurd content type gets here */
    slice_t hv[3] = {slice_make(head, (size_t)len), extra_headers, SLICE_LIT("\r\n")};
    return net_conn_writev(hc->nc, hv, 3);
}

int http_resp_sendv(http_req_t *req, int status, const char *content_type,
                    slice_t extra_headers, const slice_t *parts, size_t n)
{
    http_conn_t *hc = conn_of(req);
    bool early = hc->in_headers && hc->state == ST_WAIT;
    if (hc->streaming)
        return UV_EINVAL;
    if ((hc->state != ST_DISPATCHED && !early) || !hc->nc)
        return UV_EPIPE;
    if (early)
        req->force_close = true; /* the unread body makes the connection unusable */
    size_t body_len = 0;
    for (size_t i = 0; i < n; i++)
        body_len += parts[i].len;
    bool keep = http_req_keep_alive(req) && !hc->srv->freeing;
    int r = write_head(hc, status, content_type, extra_headers, body_len, keep);
    if (r == 0 && req->method != HTTP_HEAD)
        r = net_conn_writev(hc->nc, parts, n);
    if (r < 0)
        keep = false;
    finish_request(hc, keep);
    return r;
}

int http_resp_send(http_req_t *req, int status, const char *content_type,
                   slice_t extra_headers, slice_t body)
{
    return http_resp_sendv(req, status, content_type, extra_headers, &body, 1);
}

/* ---- streamed answers -------------------------------------------------------------
 *
 *   DISPATCHED --http_resp_begin--> streaming: head queued, body_left = announced
 *        |                            | http_resp_write*: body_left -= n
 *        |                            | http_req_on_drain: wait for the queue to empty
 *        |                            v
 *        |                         http_resp_end: keep-alive only if body_left == 0
 *        +--connection closes while streaming--> abort callback (the stream is gone)
 */

int http_resp_begin(http_req_t *req, int status, const char *content_type,
                    slice_t extra_headers, uint64_t content_length)
{
    http_conn_t *hc = conn_of(req);
    if (hc->state != ST_DISPATCHED || hc->streaming || !hc->nc)
        return UV_EINVAL;
    bool keep = http_req_keep_alive(req) && !hc->srv->freeing;
    int r = write_head(hc, status, content_type, extra_headers, content_length, keep);
    if (r < 0) {
        finish_request(hc, false);
        return r;
    }
    hc->streaming = true;
    hc->stream_keep = keep;
    hc->body_left = req->method == HTTP_HEAD ? 0 : content_length;
    return 0;
}

/* Checks that `n` more body bytes may be queued; 1 means "HEAD: drop them". */
static int stream_room(const http_conn_t *hc, size_t n)
{
    if (!hc->streaming || !hc->nc)
        return UV_EINVAL;
    if (hc->req.method == HTTP_HEAD)
        return 1;
    return n <= hc->body_left ? 0 : UV_EINVAL;
}

int http_resp_write(http_req_t *req, slice_t data)
{
    http_conn_t *hc = conn_of(req);
    int r = stream_room(hc, data.len);
    if (r != 0)
        return r > 0 ? 0 : r;
    r = net_conn_write(hc->nc, data.ptr, data.len);
    if (r == 0)
        hc->body_left -= data.len;
    return r;
}

int http_resp_write_rcbuf(http_req_t *req, rcbuf_t *rc)
{
    http_conn_t *hc = conn_of(req);
    int r = stream_room(hc, rc->len);
    if (r != 0)
        return r > 0 ? 0 : r;
    r = net_conn_write_rcbuf(hc->nc, rc);
    if (r == 0)
        hc->body_left -= rc->len;
    return r;
}

int http_resp_end(http_req_t *req)
{
    http_conn_t *hc = conn_of(req);
    if (!hc->streaming || !hc->nc)
        return UV_EINVAL;
    bool keep = hc->stream_keep && hc->body_left == 0 && !hc->srv->freeing;
    hc->streaming = false;
    hc->drain_cb = NULL;
    finish_request(hc, keep);
    return 0;
}

size_t http_req_buffered(const http_req_t *req)
{
    const http_conn_t *hc = conn_of(req);
    return hc->nc ? net_conn_buffered(hc->nc) : 0;
}

void http_req_on_drain(http_req_t *req, http_drain_cb cb, void *arg)
{
    http_conn_t *hc = conn_of(req);
    hc->drain_cb = hc->streaming ? cb : NULL;
    hc->drain_arg = arg;
}
