/*
 * sio_server: connections, namespaces and the incoming packet dispatch.
 *
 * Every Engine.IO session carries a struct sio_client in its extension area. Incoming
 * text messages are decoded with sio_packet_decode (header, shape and JSON validity, no
 * DOM, no allocation) and routed by namespace to the client's socket; binary packets
 * keep a copy of their text part until their attachments have arrived (the only
 * allocation on the receive path, bounded by max_attachments x max_payload).
 *
 * Anything the reference server treats as an invalid state — a CONNECT for a namespace
 * already joined, a packet for a namespace not joined, an undecodable packet, a binary
 * message nobody announced — closes the whole connection ("forced close").
 */
#include "sio/sio_server.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sio/sio_socket.h"

#define NSP_NAME_MAX 1024 /* longest namespace name handed to the resolve hook */

/* ---- namespaces ----------------------------------------------------------------- */

static uint64_t name_hash(slice_t s)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < s.len; i++) {
        h ^= s.ptr[i];
        h *= 1099511628211ULL;
    }
    return h;
}

sioc_nsp_t *sio_server_find_nsp(sio_server_t *srv, slice_t name)
{
    for (size_t i = 0; i < srv->n_nsps; i++) {
        sioc_nsp_t *nsp = srv->nsps[i];
        if (nsp->name_len == name.len && memcmp(nsp->name, name.ptr, name.len) == 0)
            return nsp;
    }
    return NULL;
}

sioc_nsp_t *sio_server_nsp(sio_server_t *srv, slice_t name)
{
    if (name.len == 0 || name.ptr[0] != '/')
        return NULL;
    sioc_nsp_t *nsp = sio_server_find_nsp(srv, name);
    if (nsp)
        return nsp;
    nsp = xcalloc(1, sizeof *nsp);
    nsp->srv = srv;
    nsp->name = xstrndup((const char *)name.ptr, name.len);
    nsp->name_len = name.len;
    nsp->adapter = srv->cfg.adapter->create(nsp, srv->cfg.adapter_config);
    if (srv->n_nsps == srv->cap_nsps) {
        srv->cap_nsps = srv->cap_nsps ? srv->cap_nsps * 2 : 4;
        srv->nsps = xrealloc(srv->nsps, srv->cap_nsps * sizeof *srv->nsps);
    }
    srv->nsps[srv->n_nsps++] = nsp;
    return nsp;
}

static void nsp_free(sioc_nsp_t *nsp)
{
    nsp->srv->cfg.adapter->destroy(nsp->adapter);
    for (size_t i = 0; i < nsp->ev_cap; i++)
        free(nsp->events[i].name);
    free(nsp->events);
    free(nsp->name);
    free(nsp);
}

const struct sio_handler *sio__nsp_handler(const sioc_nsp_t *nsp, slice_t name)
{
    if (!nsp->ev_count)
        return NULL;
    size_t mask = nsp->ev_cap - 1;
    for (size_t i = (size_t)name_hash(name) & mask; nsp->events[i].name; i = (i + 1) & mask) {
        const struct sio_handler *h = &nsp->events[i];
        if (h->len == name.len && memcmp(h->name, name.ptr, name.len) == 0)
            return h;
    }
    return NULL;
}

static void handlers_put(struct sio_handler *tab, size_t cap, struct sio_handler h)
{
    size_t mask = cap - 1;
    size_t i = (size_t)name_hash(slice_make(h.name, h.len)) & mask;
    while (tab[i].name)
        i = (i + 1) & mask;
    tab[i] = h;
}

static void handlers_grow(sioc_nsp_t *nsp)
{
    size_t cap = nsp->ev_cap ? nsp->ev_cap * 2 : 16;
    struct sio_handler *tab = xcalloc(cap, sizeof *tab);
    for (size_t i = 0; i < nsp->ev_cap; i++) {
        if (nsp->events[i].name)
            handlers_put(tab, cap, nsp->events[i]);
    }
    free(nsp->events);
    nsp->events = tab;
    nsp->ev_cap = cap;
}

int sioc_on(sioc_nsp_t *nsp, const char *name, sioc_event_cb cb, void *arg)
{
    if (!nsp || !name || !cb)
        return SIOC_EINVAL;
    slice_t n = slice_from_cstr(name);
    struct sio_handler *h = (struct sio_handler *)sio__nsp_handler(nsp, n);
    if (h) {
        h->cb = cb;
        h->arg = arg;
        return 0;
    }
    if ((nsp->ev_count + 1) * 2 > nsp->ev_cap)
        handlers_grow(nsp);
    handlers_put(nsp->events, nsp->ev_cap,
                 (struct sio_handler){xstrndup(name, n.len), n.len, cb, arg});
    nsp->ev_count++;
    return 0;
}

void sioc_on_any(sioc_nsp_t *nsp, sioc_event_cb cb, void *arg)
{
    nsp->on_any = cb;
    nsp->on_any_arg = arg;
}

void sioc_use(sioc_nsp_t *nsp, sioc_middleware_cb cb, void *arg)
{
    nsp->mw = cb;
    nsp->mw_arg = arg;
}

void sioc_on_connection(sioc_nsp_t *nsp, sioc_connection_cb cb, void *arg)
{
    nsp->on_conn = cb;
    nsp->on_conn_arg = arg;
}

void sioc_on_disconnect(sioc_nsp_t *nsp, sioc_disconnect_cb cb, void *arg)
{
    nsp->on_disc = cb;
    nsp->on_disc_arg = arg;
}

const char *sioc_nsp_name(const sioc_nsp_t *nsp)
{
    return nsp->name;
}

/* ---- connections ---------------------------------------------------------------- */

static sio_server_t *server_of(eio_session_t *es)
{
    return eio_server_get_user(eio_session_server(es));
}

void sio__client_violation(struct sio_client *c, const char *why)
{
    char tag[8];
    eio_session_log_tag(sio__client_eio(c), tag);
    LOG_RATELIMITED(LOG_INFO, sio__client_srv(c)->log_count, 100, "sio %s: closing: %s", tag, why);
    eio_session_close(sio__client_eio(c));
}

/* ---- connect deadlines: a FIFO, since every client gets the same timeout ---------- */

static void pend_unlink(sio_server_t *srv, struct sio_client *c)
{
    if (!c->pending)
        return;
    c->pending = false;
    *(c->pend_prev ? &c->pend_prev->pend_next : &srv->pend_head) = c->pend_next;
    *(c->pend_next ? &c->pend_next->pend_prev : &srv->pend_tail) = c->pend_prev;
    c->pend_prev = c->pend_next = NULL;
}

static void on_pend_timer(net_timer_t *t);

static void pend_arm(sio_server_t *srv)
{
    if (!srv->pend_head) {
        net_timer_stop(&srv->pend_timer);
        return;
    }
    net_loop_t *nl = eio_server_loop(srv->eio);
    uint64_t now = net_loop_now(nl), due = srv->pend_head->deadline;
    net_timer_start(nl, &srv->pend_timer, due > now ? due - now : 0, on_pend_timer);
}

/* Closes every client whose deadline passed without a namespace join. */
static void on_pend_timer(net_timer_t *t)
{
    sio_server_t *srv = NET_CONTAINER_OF(t, sio_server_t, pend_timer);
    uint64_t now = net_loop_now(eio_server_loop(srv->eio));
    while (srv->pend_head && srv->pend_head->deadline <= now) {
        struct sio_client *c = srv->pend_head;
        pend_unlink(srv, c);
        eio_session_close(sio__client_eio(c));
    }
    pend_arm(srv);
}

void sio__client_joined(struct sio_client *c)
{
    c->joined = true;
    pend_unlink(sio__client_srv(c), c); /* the timer re-arms itself when it fires */
}

static void on_open(eio_session_t *es)
{
    sio_server_t *srv = server_of(es);
    struct sio_client *c = eio_session_ext(es);
    srv->n_clients++;
    c->deadline = net_loop_now(eio_server_loop(srv->eio)) + srv->cfg.connect_timeout_ms;
    c->pending = true;
    c->pend_prev = srv->pend_tail;
    *(srv->pend_tail ? &srv->pend_tail->pend_next : &srv->pend_head) = c;
    srv->pend_tail = c;
    if (srv->pend_head == c)
        pend_arm(srv);
}

static void rx_free(struct sio_rx *rx)
{
    if (!rx)
        return;
    free(rx->text);
    buf_dispose(&rx->bins);
    free(rx);
}

static sioc_reason_t reason_of(eio_reason_t r)
{
    switch (r) {
    case EIO_REASON_TRANSPORT_CLOSE:
        return SIOC_TRANSPORT_CLOSE;
    case EIO_REASON_TRANSPORT_ERROR:
        return SIOC_TRANSPORT_ERROR;
    case EIO_REASON_PING_TIMEOUT:
        return SIOC_PING_TIMEOUT;
    case EIO_REASON_PARSE_ERROR:
        return SIOC_PARSE_ERROR;
    case EIO_REASON_FORCED_CLOSE:
        return SIOC_FORCED_CLOSE;
    case EIO_REASON_SERVER_CLOSE:
        return SIOC_SERVER_SHUTTING_DOWN;
    }
    return SIOC_TRANSPORT_CLOSE;
}

static void on_close(eio_session_t *es, eio_reason_t reason)
{
    struct sio_client *c = eio_session_ext(es);
    sio_server_t *srv = sio__client_srv(c);
    c->closed = true;
    srv->n_clients--;
    pend_unlink(srv, c);
    rx_free(c->rx);
    c->rx = NULL;
    while (c->sockets)
        sio__socket_gone(c->sockets, reason_of(reason), false);
}

static sioc_socket_t *client_socket(struct sio_client *c, slice_t nsp)
{
    for (sioc_socket_t *s = c->sockets; s; s = s->next) {
        if (s->nsp->name_len == nsp.len && memcmp(s->nsp->name, nsp.ptr, nsp.len) == 0)
            return s;
    }
    return NULL;
}

static void send_connect_error(struct sio_client *c, slice_t nsp, slice_t message, slice_t data)
{
    buf_t *enc = &sio__client_srv(c)->enc;
    buf_clear(enc);
    sio_encode_connect_error(enc, nsp, message, data);
    eio_session_send(sio__client_eio(c), false, buf_slice(enc));
}

static sioc_nsp_t *resolve_nsp(sio_server_t *srv, slice_t name)
{
    sioc_nsp_t *nsp = sio_server_find_nsp(srv, name);
    if (nsp || !srv->resolve || name.len > NSP_NAME_MAX)
        return nsp;
    char tmp[NSP_NAME_MAX + 1];
    memcpy(tmp, name.ptr, name.len);
    tmp[name.len] = '\0';
    if (memchr(tmp, '\0', name.len))
        return NULL;
    return srv->resolve(srv->cfg.owner, tmp, srv->resolve_arg);
}

/* A CONNECT for a namespace this connection has not joined. */
static void on_connect_packet(struct sio_client *c, const sio_packet_t *p)
{
    sio_server_t *srv = sio__client_srv(c);
    sioc_nsp_t *nsp = resolve_nsp(srv, p->h.nsp);
    if (!nsp) {
        send_connect_error(c, p->h.nsp, SLICE_LIT("Invalid namespace"), SLICE_LIT(""));
        return;
    }
    if (c->closed || srv->closing)
        return;
    slice_t auth = p->payload.len ? p->payload : SLICE_LIT("{}");
    sioc_str_t auth_s = {(const char *)auth.ptr, auth.len};
    sioc_socket_t *s = sio__socket_new(c, nsp);
    if (srv->cfg.always_connect)
        sio__socket_join_nsp(s);
    if (!nsp->mw) {
        if (!srv->cfg.always_connect)
            sio__socket_join_nsp(s);
        sio__socket_connected(s, 0, auth_s);
        return;
    }
    s->mw_pending = true;
    s->refs += 2; /* one held until the decision, one across the call */
    srv->mw_sock = s;
    srv->mw_auth = auth_s;
    nsp->mw(s, auth_s, nsp->mw_arg);
    srv->mw_sock = NULL;
    if (s->mw_pending && !s->auth)
        s->auth = xstrndup(auth_s.ptr, auth_s.len); /* decided later: keep the auth */
    sioc_socket_unref(s);
}

static void dispatch(struct sio_client *c, const sio_packet_t *p, const sioc_str_t *bins,
                     size_t n_bins)
{
    sioc_socket_t *s = client_socket(c, p->h.nsp);
    if (p->h.type == SIO_CONNECT) {
        if (s)
            sio__client_violation(c, "CONNECT for a namespace already joined");
        else
            on_connect_packet(c, p);
        return;
    }
    if (!s || s->state != SIO_SOCK_CONNECTED) {
        sio__client_violation(c, "packet for a namespace not joined");
        return;
    }
    switch (p->h.type) {
    case SIO_DISCONNECT:
        sio__socket_gone(s, SIOC_CLIENT_NAMESPACE_DISCONNECT, false);
        break;
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        sio__socket_on_event(s, p, bins, n_bins);
        break;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        sio__socket_on_ack(s, p, bins, n_bins);
        break;
    default:
        sio__client_violation(c, "unexpected packet type");
        break;
    }
}

static const sio_decode_opts_t *decode_opts(sio_server_t *srv, sio_decode_opts_t *o)
{
    o->max_attachments = srv->cfg.max_attachments;
    o->server = true;
    return o;
}

/* The last attachment arrived: decode the kept text again and dispatch it. */
static void rx_complete(struct sio_client *c)
{
    struct sio_rx *rx = c->rx;
    c->rx = NULL; /* a close during dispatch must not free it under us */
    sioc_str_t bins[SIO_OUT_MAX_BINS];
    for (uint32_t i = 0; i < rx->expected; i++) {
        bins[i].ptr = (const char *)buf_data(&rx->bins) + rx->off[i];
        bins[i].len = rx->off[i + 1] - rx->off[i];
    }
    sio_packet_t p;
    sio_decode_opts_t o;
    const char *err = NULL;
    if (sio_packet_decode(slice_make(rx->text, rx->text_len), decode_opts(sio__client_srv(c), &o),
                          &p, &err) == 0)
        dispatch(c, &p, bins, rx->expected);
    rx_free(rx);
}

static void rx_add(struct sio_client *c, slice_t data)
{
    struct sio_rx *rx = c->rx;
    if (!rx) {
        sio__client_violation(c, "binary message without a binary packet");
        return;
    }
    size_t limit = (size_t)eio_server_config(sio__client_srv(c)->eio)->max_payload * rx->expected;
    uint8_t *dst = NULL;
    if (rx->bins.len + data.len <= limit)
        dst = buf_try_reserve(&rx->bins, data.len ? data.len : 1);
    if (!dst) {
        sio__client_violation(c, "attachments too large");
        return;
    }
    if (data.len)
        memcpy(dst, data.ptr, data.len);
    buf_commit(&rx->bins, data.len);
    rx->off[++rx->got] = rx->bins.len;
    if (rx->got == rx->expected)
        rx_complete(c);
}

static void rx_start(struct sio_client *c, slice_t text, uint32_t attachments)
{
    struct sio_rx *rx = xcalloc(1, sizeof *rx);
    rx->text = try_malloc(text.len ? text.len : 1);
    if (!rx->text) {
        free(rx);
        sio__client_violation(c, "out of memory for a binary packet");
        return;
    }
    memcpy(rx->text, text.ptr, text.len);
    rx->text_len = text.len;
    rx->expected = attachments;
    c->rx = rx;
}

static void on_message(eio_session_t *es, bool binary, slice_t data)
{
    struct sio_client *c = eio_session_ext(es);
    if (c->closed)
        return;
    if (binary) {
        rx_add(c, data);
        return;
    }
    if (c->rx) {
        sio__client_violation(c, "text message while attachments are pending");
        return;
    }
    sio_packet_t p;
    sio_decode_opts_t o;
    const char *err = NULL;
    if (sio_packet_decode(data, decode_opts(sio__client_srv(c), &o), &p, &err) != 0) {
        sio__client_violation(c, err ? err : "undecodable packet");
        return;
    }
    bool binary_pkt = p.h.type == SIO_BINARY_EVENT || p.h.type == SIO_BINARY_ACK;
    if (binary_pkt && p.h.attachments > 0) {
        rx_start(c, data, p.h.attachments);
        return;
    }
    dispatch(c, &p, NULL, 0);
}

static void on_http(eio_server_t *eio, http_req_t *req)
{
    sio_server_t *srv = eio_server_get_user(eio);
    if (srv->cfg.on_http) {
        srv->cfg.on_http(req, srv->cfg.http_arg);
        return;
    }
    http_resp_send(req, 404, "text/plain", SLICE_LIT(""), SLICE_LIT("Not Found"));
}

static bool on_engine_request(eio_server_t *eio, http_req_t *req)
{
    sio_server_t *srv = eio_server_get_user(eio);
    return srv->cfg.on_engine_request && srv->cfg.on_engine_request(req, srv->cfg.http_arg);
}

static const eio_handler_ops_t sio_eio_ops = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
    .on_http = on_http,
    .on_engine_request = on_engine_request,
};

/* ---- server --------------------------------------------------------------------- */

sio_server_t *sio_server_new(net_loop_t *nl, const eio_config_t *ecfg, const sio_config_t *cfg)
{
    if (!cfg || !cfg->adapter)
        return NULL;
    sio_server_t *srv = xcalloc(1, sizeof *srv);
    srv->cfg = *cfg;
    if (!srv->cfg.connect_timeout_ms)
        srv->cfg.connect_timeout_ms = 45000;
    if (!srv->cfg.max_attachments)
        srv->cfg.max_attachments = SIO_MAX_ATTACHMENTS_DEFAULT;
    if (srv->cfg.max_attachments > SIO_OUT_MAX_BINS)
        srv->cfg.max_attachments = SIO_OUT_MAX_BINS;
    eio_config_t e = ecfg ? *ecfg : (eio_config_t){0};
    if (!e.path)
        e.path = "/socket.io/";
    e.session_ext = sizeof(struct sio_client);
    srv->eio = eio_server_new(nl, &e, &sio_eio_ops, srv);
    if (!srv->eio) {
        free(srv);
        return NULL;
    }
    sio_server_nsp(srv, SLICE_LIT("/"));
    return srv;
}

eio_server_t *sio_server_eio(const sio_server_t *srv)
{
    return srv->eio;
}

size_t sio_server_client_count(const sio_server_t *srv)
{
    return srv->n_clients;
}

void sio_server_close(sio_server_t *srv)
{
    if (srv->closing)
        return;
    srv->closing = true;
    eio_server_close(srv->eio); /* every session closes: sockets get "server shutting down" */
    net_timer_stop(&srv->pend_timer);
}

void sio_server_free(sio_server_t *srv)
{
    if (!srv)
        return;
    sio_server_close(srv);
    eio_server_free(srv->eio);
    for (size_t i = 0; i < srv->n_nsps; i++)
        nsp_free(srv->nsps[i]);
    free(srv->nsps);
    buf_dispose(&srv->enc);
    buf_dispose(&srv->names);
    free(srv);
}

void sio_server_on_namespace(sio_server_t *srv, sioc_nsp_resolve_cb cb, void *arg)
{
    srv->resolve = cb;
    srv->resolve_arg = arg;
}
