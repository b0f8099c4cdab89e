/*
 * eio_server: the Engine.IO endpoint — HTTP routing, the handshake, the session table,
 * POST bodies, WebSocket accepts, server shutdown. What a session does once it exists
 * lives in eio_session.c.
 *
 * Request path:
 *   http on_request -> outside the path? -> ops->on_http (or 404)
 *                   -> OPTIONS with CORS on -> 204 preflight
 *                   -> eio_query_parse + table lookup -> eio_verify -> route:
 *        refuse | handshake | poll GET | poll POST | 500 | WebSocket for a session
 *
 * The session table is open addressing with linear probing over the 20-character sids
 * (FNV-1a), kept at most half full, with backward-shift deletion (no tombstones).
 */
#include "eio/eio_session.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/utf8.h"

#define TABLE_MIN 64

/* ---- the session table ---------------------------------------------------------- */

static uint64_t sid_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t slot_of(const eio_server_t *srv, const eio_session_t *s)
{
    return (size_t)sid_hash(s->sid, EIO_ID_LEN) & (srv->cap - 1);
}

static void table_put(eio_server_t *srv, eio_session_t *s)
{
    size_t i = slot_of(srv, s);
    while (srv->slots[i])
        i = (i + 1) & (srv->cap - 1);
    srv->slots[i] = s;
}

static void table_grow(eio_server_t *srv)
{
    eio_session_t **old = srv->slots;
    size_t old_cap = srv->cap;
    srv->cap = old_cap ? old_cap * 2 : TABLE_MIN;
    srv->slots = xcalloc(srv->cap, sizeof *srv->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i])
            table_put(srv, old[i]);
    }
    free(old);
}

static void table_insert(eio_server_t *srv, eio_session_t *s)
{
    if ((srv->count + 1) * 2 > srv->cap)
        table_grow(srv);
    table_put(srv, s);
    srv->count++;
}

eio_session_t *eio__table_find(eio_server_t *srv, slice_t sid)
{
    if (sid.len != EIO_ID_LEN || !srv->cap)
        return NULL;
    size_t i = (size_t)sid_hash((const char *)sid.ptr, sid.len) & (srv->cap - 1);
    for (; srv->slots[i]; i = (i + 1) & (srv->cap - 1)) {
        if (memcmp(srv->slots[i]->sid, sid.ptr, EIO_ID_LEN) == 0)
            return srv->slots[i];
    }
    return NULL;
}

/* True if home slot `k` lies cyclically in (i, j]: the entry at j may not move to i. */
static bool in_range(size_t i, size_t j, size_t k)
{
    return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

void eio__table_remove(eio_server_t *srv, eio_session_t *s)
{
    size_t mask = srv->cap - 1;
    size_t i = slot_of(srv, s);
    while (srv->slots[i] && srv->slots[i] != s)
        i = (i + 1) & mask;
    if (srv->slots[i] != s)
        return; /* not in the table */
    srv->slots[i] = NULL;
    srv->count--;
    for (size_t j = (i + 1) & mask; srv->slots[j]; j = (j + 1) & mask) {
        if (in_range(i, j, slot_of(srv, srv->slots[j])))
            continue;
        srv->slots[i] = srv->slots[j];
        srv->slots[j] = NULL;
        i = j;
    }
}

/* ---- responses ------------------------------------------------------------------ */

slice_t eio__cors_lines(eio_server_t *srv, http_req_t *req)
{
    buf_clear(&srv->hdr);
    if (!srv->cors.enabled)
        return buf_slice(&srv->hdr);
    slice_t origin = {0};
    bool has_origin = http_req_header(req, "origin", &origin);
    eio_cors_headers(&srv->cors, has_origin, origin, &srv->hdr);
    return buf_slice(&srv->hdr);
}

static void respond(eio_server_t *srv, http_req_t *req, int status, const char *ctype, slice_t body)
{
    http_resp_send(req, status, ctype, eio__cors_lines(srv, req), body);
}

static void refuse(eio_server_t *srv, http_req_t *req, bool is_upgrade, eio_error_t err)
{
    if (is_upgrade) {
        ws_reject(req, eio_error_status(err), eio__cors_lines(srv, req),
                  slice_from_cstr(eio_error_message(err)));
        return;
    }
    respond(srv, req, eio_error_status(err), "application/json", eio_error_body(err));
}

static void preflight(eio_server_t *srv, http_req_t *req)
{
    slice_t origin = {0}, acrh = {0};
    bool has_origin = http_req_header(req, "origin", &origin);
    bool has_acrh = http_req_header(req, "access-control-request-headers", &acrh);
    buf_clear(&srv->hdr);
    eio_cors_preflight_headers(&srv->cors, has_origin, origin, has_acrh, acrh, &srv->hdr);
    http_resp_send(req, 204, NULL, buf_slice(&srv->hdr), SLICE_LIT(""));
}

/* ---- handshake ------------------------------------------------------------------ */

static eio_session_t *session_new(eio_server_t *srv, eio_transport_t transport)
{
    eio_session_t *s = xcalloc(1, sizeof *s + srv->cfg.session_ext);
    s->srv = srv;
    s->state = EIO_S_OPEN;
    s->transport = (uint8_t)transport;
    do {
        eio_id_new(&srv->ids, s->sid);
    } while (eio__table_find(srv, slice_make(s->sid, EIO_ID_LEN)));
    table_insert(srv, s);
    return s;
}

static void encode_open(eio_server_t *srv, eio_session_t *s, buf_t *out, bool upgrades)
{
    eio_open_params_t p = {
        .sid = slice_make(s->sid, EIO_ID_LEN),
        .upgrade_websocket = upgrades,
        .ping_interval = srv->cfg.ping_interval_ms,
        .ping_timeout = srv->cfg.ping_timeout_ms,
        .max_payload = srv->cfg.max_payload,
    };
    eio_open_encode(out, &p);
}

static void handshake_ws(eio_server_t *srv, http_req_t *req)
{
    eio_session_t *s = session_new(srv, EIO_TRANSPORT_WEBSOCKET);
    ws_conn_t *ws = ws_accept(req, &srv->ws_cfg, eio__cors_lines(srv, req), &eio__ws_ops, s);
    if (!ws) {
        /* the ws layer answered 400; the owner never heard of this session */
        eio__table_remove(srv, s);
        free(s);
        return;
    }
    srv->n_ws++;
    s->ws = ws;
    buf_clear(&srv->scratch);
    encode_open(srv, s, &srv->scratch, false);
    ws_send(ws, false, buf_slice(&srv->scratch));
    eio__heartbeat_start(s);
    srv->ops->on_open(s);
}

static void handshake_polling(eio_server_t *srv, http_req_t *req)
{
    eio_session_t *s = session_new(srv, EIO_TRANSPORT_POLLING);
    bool upgrades = !srv->cfg.transports || (srv->cfg.transports & EIO_TRANSPORT_WEBSOCKET);
    eio__poll_init(s);
    encode_open(srv, s, &s->poll->out, upgrades);
    eio__heartbeat_start(s);
    srv->ops->on_open(s);
    if (s->state == EIO_S_CLOSED) {
        refuse(srv, req, false, EIO_ERR_SID_UNKNOWN);
        return;
    }
    eio__poll_get(s, req);
}

/* ---- polling POST --------------------------------------------------------------- */

static bool is_octet_stream(http_req_t *req)
{
    slice_t ct;
    if (!http_req_header(req, "content-type", &ct))
        return false;
    slice_t want = SLICE_LIT("application/octet-stream");
    return ct.len >= want.len && slice_eq_nocase(slice_make(ct.ptr, want.len), want);
}

static void poll_post(eio_server_t *srv, eio_session_t *s, http_req_t *req)
{
    eio__poll_post_done(s, req);
    if (s->state != EIO_S_OPEN) {
        respond(srv, req, 200, "text/html", SLICE_LIT("ok")); /* closing: ignored */
        return;
    }
    slice_t body = http_req_body(req);
    if (is_octet_stream(req) || !utf8_is_valid(body.ptr, body.len)) {
        respond(srv, req, 400, NULL, SLICE_LIT(""));
        LOG_RATELIMITED(LOG_INFO, srv->log_count, 100, "eio %.6s: bad POST body", s->sid);
        eio__close(s, EIO_REASON_TRANSPORT_ERROR);
        return;
    }
    /* the payload decoder rewrites base64 records in place: work on a copy */
    buf_clear(&srv->body);
    buf_append_slice(&srv->body, body);
    eio_payload_iter_t it;
    eio_packet_t pkt;
    const char *err = NULL;
    int rc;
    eio_payload_iter_init(&it, buf_data(&srv->body), srv->body.len, 0);
    srv->batch++;
    while ((rc = eio_payload_next(&it, &pkt, &err)) == 1 && s->state == EIO_S_OPEN)
        eio__on_packet(s, &pkt);
    bool bad = rc < 0 && s->state == EIO_S_OPEN;
    if (bad) {
        LOG_RATELIMITED(LOG_INFO, srv->log_count, 100, "eio %.6s: %s", s->sid, err);
        eio__close(s, EIO_REASON_PARSE_ERROR);
    }
    eio__batch_end(srv);
    if (bad)
        respond(srv, req, 400, NULL, SLICE_LIT(""));
    else
        respond(srv, req, 200, "text/html", SLICE_LIT("ok"));
}

/* ---- WebSocket for an existing session ------------------------------------------ */

static void upgrade_request(eio_server_t *srv, eio_session_t *s, http_req_t *req)
{
    slice_t lines = eio__cors_lines(srv, req);
    if (s->state != EIO_S_OPEN || s->ws || s->upg) {
        /* already upgraded or upgrading: accept, then close at once (reference) */
        ws_conn_t *dup = ws_accept(req, &srv->ws_cfg, lines, &eio__ws_orphan_ops, srv);
        if (dup) {
            srv->n_ws++;
            ws_close(dup, 0, SLICE_LIT(""));
        }
        return;
    }
    ws_conn_t *ws = ws_accept(req, &srv->ws_cfg, lines, &eio__ws_ops, s);
    if (!ws)
        return;
    srv->n_ws++;
    eio__upgrade_start(s, ws);
}

/* ---- request routing ------------------------------------------------------------ */

static eio_method_t method_of(http_req_t *req)
{
    switch (http_req_method_id(req)) {
    case HTTP_METHOD_GET:
        return EIO_METHOD_GET;
    case HTTP_METHOD_POST:
        return EIO_METHOD_POST;
    default:
        return EIO_METHOD_OTHER;
    }
}

static void on_engine_request(eio_server_t *srv, http_req_t *req)
{
    eio_query_t q;
    eio_query_parse(http_req_query_string(req), &q);
    eio_session_t *s = NULL;
    if (q.has_sid && q.sid_len <= EIO_QUERY_SID_MAX)
        s = eio__table_find(srv, slice_make(q.sid, q.sid_len));
    eio_verify_in_t in = {
        .method = method_of(req),
        .is_upgrade = http_req_is_websocket_upgrade(req),
        .query = &q,
        .transports = srv->cfg.transports,
        .session_transport = s ? (eio_transport_t)s->transport : EIO_TRANSPORT_NONE,
    };
    in.has_origin = http_req_header(req, "origin", &in.origin);
    eio_error_t err = EIO_ERR_BAD_REQUEST;
    switch (eio_verify(&in, &err)) {
    case EIO_ROUTE_REFUSE:
        refuse(srv, req, in.is_upgrade, err);
        break;
    case EIO_ROUTE_HANDSHAKE:
        if (q.transport == EIO_TRANSPORT_WEBSOCKET)
            handshake_ws(srv, req);
        else
            handshake_polling(srv, req);
        break;
    case EIO_ROUTE_POLL_GET:
        eio__poll_get(s, req);
        break;
    case EIO_ROUTE_POLL_POST:
        poll_post(srv, s, req);
        break;
    case EIO_ROUTE_POLL_BAD_METHOD:
        respond(srv, req, 500, NULL, SLICE_LIT(""));
        break;
    case EIO_ROUTE_UPGRADE:
        upgrade_request(srv, s, req);
        break;
    }
}

/* Headers of a request are in, its body is not: marks a polling POST as arriving, so
 * that an overlapping one can be refused (spec §1.4). */
static void on_headers(http_req_t *req, void *user)
{
    eio_server_t *srv = user;
    if (srv->closing || http_req_method_id(req) != HTTP_METHOD_POST ||
        !slice_starts_with(http_req_path(req), slice_from_cstr(srv->path)))
        return;
    eio_query_t q;
    eio_query_parse(http_req_query_string(req), &q);
    if (!q.has_sid || q.sid_len > EIO_QUERY_SID_MAX || q.transport != EIO_TRANSPORT_POLLING)
        return;
    eio_session_t *s = eio__table_find(srv, slice_make(q.sid, q.sid_len));
    if (s && s->state == EIO_S_OPEN && s->poll)
        eio__poll_post_start(s, req);
}

static void on_request(http_req_t *req, void *user)
{
    eio_server_t *srv = user;
    if (!slice_starts_with(http_req_path(req), slice_from_cstr(srv->path))) {
        if (srv->ops->on_http && !srv->closing)
            srv->ops->on_http(srv, req);
        else
            http_resp_send(req, 404, "text/plain", SLICE_LIT(""), SLICE_LIT("Not Found"));
        return;
    }
    if (!srv->closing && srv->ops->on_engine_request && srv->ops->on_engine_request(srv, req))
        return;
    if (srv->closing) {
        http_req_set_close(req);
        http_resp_send(req, 503, NULL, SLICE_LIT(""), SLICE_LIT(""));
        return;
    }
    if (srv->cors.enabled && http_req_method_id(req) == HTTP_METHOD_OPTIONS) {
        preflight(srv, req);
        return;
    }
    on_engine_request(srv, req);
}

/* ---- server lifecycle ----------------------------------------------------------- */

static char *normalize_path(const char *path)
{
    if (!path || !*path)
        path = "/engine.io/";
    size_t n = strlen(path);
    bool lead = path[0] == '/';
    bool trail = path[n - 1] == '/';
    char *p = xmalloc(n + 3);
    size_t k = 0;
    if (!lead)
        p[k++] = '/';
    memcpy(p + k, path, n);
    k += n;
    if (!trail)
        p[k++] = '/';
    p[k] = '\0';
    return p;
}

eio_server_t *eio_server_new(net_loop_t *nl, const eio_config_t *cfg, const eio_handler_ops_t *ops,
                             void *user)
{
    if (!ops || !ops->on_open || !ops->on_message || !ops->on_close)
        return NULL;
    eio_server_t *srv = xcalloc(1, sizeof *srv);
    srv->nl = nl;
    srv->ops = ops;
    srv->user = user;
    if (cfg)
        srv->cfg = *cfg;
    eio_config_t *c = &srv->cfg;
    c->ping_interval_ms = c->ping_interval_ms ? c->ping_interval_ms : 25000;
    c->ping_timeout_ms = c->ping_timeout_ms ? c->ping_timeout_ms : 20000;
    c->upgrade_timeout_ms = c->upgrade_timeout_ms ? c->upgrade_timeout_ms : 10000;
    c->max_payload = c->max_payload ? c->max_payload : 1000000;
    if (!c->max_output_bytes)
        c->max_output_bytes = net_loop_config(nl)->max_out_bytes;
    c->transports &= EIO_TRANSPORT_POLLING | EIO_TRANSPORT_WEBSOCKET;
    srv->path = normalize_path(c->path);
    c->path = srv->path;
    eio_cors_init(&srv->cors, c->cors_origins, c->cors_credentials);
    c->cors_origins = NULL; /* not kept: the parsed copy is in srv->cors */
    srv->ws_cfg = (ws_config_t){
        .max_message = c->max_payload,
        .max_out_bytes = c->max_output_bytes,
        .deflate = c->deflate,
    };
    http_server_config_t hc;
    http_server_config_init(&hc);
    hc.max_body_bytes = c->max_payload;
    hc.max_out_bytes = c->max_output_bytes;
    srv->http = http_server_new(nl, &hc, on_request, srv);
    http_server_on_headers(srv->http, on_headers);
    table_grow(srv);
    return srv;
}

int eio_server_listen(eio_server_t *srv, const char *host, int port)
{
    if (!srv->http)
        return UV_EINVAL;
    return http_server_listen(srv->http, host, port);
}

int eio_server_port(const eio_server_t *srv)
{
    return srv->http ? http_server_port(srv->http) : -1;
}

void *eio_server_get_user(const eio_server_t *srv)
{
    return srv->user;
}

net_loop_t *eio_server_loop(const eio_server_t *srv)
{
    return srv->nl;
}

const eio_config_t *eio_server_config(const eio_server_t *srv)
{
    return &srv->cfg;
}

size_t eio_server_session_count(const eio_server_t *srv)
{
    return srv->count;
}

void eio_server_transport_counts(const eio_server_t *srv, size_t *websocket, size_t *polling)
{
    size_t ws = 0;
    for (size_t i = 0; i < srv->cap; i++)
        ws += srv->slots[i] && srv->slots[i]->transport == EIO_TRANSPORT_WEBSOCKET;
    *websocket = ws;
    *polling = srv->count - ws;
}

static void really_free(eio_server_t *srv)
{
    for (int i = 0; i < EIO_FRAME_CACHE; i++)
        rcbuf_unref(srv->frames[i].rc);
    free(srv->slots);
    free(srv->path);
    eio_cors_dispose(&srv->cors);
    buf_dispose(&srv->hdr);
    buf_dispose(&srv->scratch);
    buf_dispose(&srv->body);
    free(srv);
}

static void maybe_free(eio_server_t *srv)
{
    if (srv->freeing && !srv->http && srv->n_ws == 0 && !net_defer_is_pending(&srv->defer))
        really_free(srv);
}

void eio__ws_gone(eio_server_t *srv)
{
    srv->n_ws--;
    maybe_free(srv);
}

/* Runs outside any HTTP callback: the HTTP server may be freed here. */
static void on_deferred_http_free(net_defer_t *d)
{
    eio_server_t *srv = NET_CONTAINER_OF(d, eio_server_t, defer);
    if (srv->http) {
        http_server_free(srv->http);
        srv->http = NULL;
    }
    maybe_free(srv);
}

void eio_server_close(eio_server_t *srv)
{
    if (srv->closing)
        return;
    srv->closing = true;
    /* snapshot: closing edits the table */
    size_t n = srv->count, k = 0;
    eio_session_t **all = xmalloc((n ? n : 1) * sizeof *all);
    for (size_t i = 0; i < srv->cap && k < n; i++) {
        if (srv->slots[i])
            all[k++] = srv->slots[i];
    }
    for (size_t i = 0; i < k; i++)
        eio__close(all[i], EIO_REASON_SERVER_CLOSE);
    free(all);
    net_loop_defer(srv->nl, &srv->defer, on_deferred_http_free);
}

void eio_server_free(eio_server_t *srv)
{
    if (!srv)
        return;
    eio_server_close(srv);
    srv->freeing = true;
    maybe_free(srv);
}
