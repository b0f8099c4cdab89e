/*
 * eio_session: what one Engine.IO session does — queue and send packets on its current
 * transport, answer the parked GET, run the heartbeat, upgrade to a WebSocket, close.
 *
 * Sending, by transport:
 *   websocket  each packet is one message, copied into the connection's queue (or, for
 *              a shared broadcast frame, referenced)
 *   polling    each packet is appended as a record to `out`; a parked GET takes all of
 *              `out` at once. While a batch runs (a POST body or a WebSocket message is
 *              being dispatched) the answer waits for the batch end, so the reactions
 *              to one POST leave in one response.
 *
 * Closing has two shapes. eio__close is immediate: the owner is told, a parked GET gets
 * "1" ("6" when the client itself sent "1"), the WebSocket gets a close frame, and the
 * session is freed at the end of the loop turn. eio_session_close (the owner's forced
 * close) keeps what is queued: a WebSocket sends it before its close frame; a polling
 * session with no parked GET lingers (out of reach of the owner) until a GET takes the
 * last packets and "1", or EIO_CLOSE_LINGER_MS passes.
 */
#include "eio/eio_session.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define NOOP_INTERVAL_MS 100    /* reference: the upgrade's check interval */
#define OUT_KEEP_BYTES 1024     /* pending-payload storage kept between GETs */
#define WS_WRITABLE_BYTES 65536 /* "writable" for volatile emits: little queued */

static void orphan_on_message(ws_conn_t *ws, bool is_binary, slice_t msg);
static void orphan_on_close(ws_conn_t *ws, unsigned code, slice_t reason);

/* A WebSocket the server no longer uses (a refused duplicate, an aborted probe, the
 * transport of a closed session): its user pointer is the server, for bookkeeping. */
const ws_handler_ops_t eio__ws_orphan_ops = {
    .on_message = orphan_on_message,
    .on_close = orphan_on_close,
};

const char *eio_reason_str(eio_reason_t r)
{
    switch (r) {
    case EIO_REASON_TRANSPORT_CLOSE:
        return "transport close";
    case EIO_REASON_TRANSPORT_ERROR:
        return "transport error";
    case EIO_REASON_PING_TIMEOUT:
        return "ping timeout";
    case EIO_REASON_PARSE_ERROR:
        return "parse error";
    case EIO_REASON_FORCED_CLOSE:
        return "forced close";
    case EIO_REASON_SERVER_CLOSE:
        return "server close";
    }
    return "transport close";
}

/* ---- accessors ------------------------------------------------------------------ */

void *eio_session_ext(eio_session_t *s)
{
    return s->ext;
}

eio_session_t *eio_session_from_ext(void *ext)
{
    return NET_CONTAINER_OF(ext, eio_session_t, ext);
}

const char *eio_session_id(const eio_session_t *s)
{
    return s->sid;
}

eio_server_t *eio_session_server(const eio_session_t *s)
{
    return s->srv;
}

eio_transport_t eio_session_transport(const eio_session_t *s)
{
    return (eio_transport_t)s->transport;
}

bool eio_session_is_open(const eio_session_t *s)
{
    return s->state == EIO_S_OPEN;
}

bool eio_session_is_writable(const eio_session_t *s)
{
    if (s->state != EIO_S_OPEN || s->overflow)
        return false;
    if (s->ws)
        return !ws_is_closing(s->ws) && ws_buffered_bytes(s->ws) < WS_WRITABLE_BYTES;
    return s->poll && s->poll->get;
}

void eio_session_log_tag(const eio_session_t *s, char out[8])
{
    memcpy(out, s->sid, 6);
    out[6] = '\0';
}

/* ---- freeing -------------------------------------------------------------------- */

void eio__poll_init(eio_session_t *s)
{
    s->poll = xcalloc(1, sizeof *s->poll);
}

static void forget_post(eio_session_t *s)
{
    if (s->poll && s->poll->post) {
        http_req_on_abort(s->poll->post, NULL, NULL);
        s->poll->post = NULL;
    }
}

static void poll_free(eio_session_t *s)
{
    if (!s->poll)
        return;
    forget_post(s);
    buf_dispose(&s->poll->out);
    free(s->poll);
    s->poll = NULL;
}

static void on_free(net_defer_t *d)
{
    eio_session_t *s = NET_CONTAINER_OF(d, eio_session_t, defer);
    poll_free(s);
    free(s);
}

static void schedule_free(eio_session_t *s)
{
    net_loop_defer(s->srv->nl, &s->defer, on_free);
}

static void orphan_close(eio_server_t *srv, ws_conn_t *ws)
{
    ws_set_ops(ws, &eio__ws_orphan_ops);
    ws_set_user(ws, srv);
    ws_close(ws, 0, SLICE_LIT(""));
}

static void orphan_on_message(ws_conn_t *ws, bool is_binary, slice_t msg)
{
    (void)ws;
    (void)is_binary;
    (void)msg;
}

static void orphan_on_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    (void)code;
    (void)reason;
    eio__ws_gone(ws_get_user(ws));
}

/* ---- polling output ------------------------------------------------------------- */

/* Answers the parked GET with `body` (the caller then resets `out` if it sent it). */
static void answer_get(eio_session_t *s, slice_t body)
{
    http_req_t *req = s->poll->get;
    s->poll->get = NULL;
    http_req_on_abort(req, NULL, NULL);
    eio__cors_lines(s->srv, req);
    buf_append_cstr(&s->srv->hdr, "Cache-Control: no-store\r\n");
    http_resp_send(req, 200, "text/plain; charset=UTF-8", buf_slice(&s->srv->hdr), body);
}

static void reset_out(eio_session_t *s)
{
    if (s->poll->out._cap > OUT_KEEP_BYTES)
        buf_dispose(&s->poll->out);
    else
        buf_clear(&s->poll->out);
}

void eio__flush_get(eio_session_t *s)
{
    if (!s->poll || !s->poll->get || s->poll->out.len == 0)
        return;
    answer_get(s, buf_slice(&s->poll->out));
    reset_out(s);
}

/* Something was appended to `out`: answer the parked GET now, or at the batch end. */
static void out_wake(eio_session_t *s)
{
    eio_server_t *srv = s->srv;
    if (!s->poll->get)
        return;
    if (!srv->batch) {
        eio__flush_get(s);
        return;
    }
    if (!s->poll->in_flush) {
        s->poll->in_flush = true;
        s->poll->flush_next = srv->flush_list;
        srv->flush_list = s;
    }
}

/* The deferred close of an overflowed session (not done synchronously: the send that
 * overflowed may run inside a broadcast iterating the room index). */
static void on_overflow(net_defer_t *d)
{
    eio_session_t *s = NET_CONTAINER_OF(d, eio_session_t, defer);
    if (s->state == EIO_S_CLOSED) {
        on_free(d); /* closed meanwhile: its free was folded into this call */
        return;
    }
    eio__close(s, EIO_REASON_TRANSPORT_ERROR);
}

/* Enforces the output bound on a polling session. */
static int out_check(eio_session_t *s)
{
    if (s->poll->out.len <= s->srv->cfg.max_output_bytes)
        return 0;
    LOG_RATELIMITED(LOG_INFO, s->srv->log_count, 100,
                    "eio %.6s: polling output over %zu bytes, closing slow client", s->sid,
                    s->srv->cfg.max_output_bytes);
    s->overflow = true;
    buf_dispose(&s->poll->out);
    net_loop_defer(s->srv->nl, &s->defer, on_overflow);
    return UV_ENOBUFS;
}

void eio__batch_end(eio_server_t *srv)
{
    if (--srv->batch > 0)
        return;
    while (srv->flush_list) {
        eio_session_t *s = srv->flush_list;
        srv->flush_list = s->poll->flush_next;
        s->poll->flush_next = NULL;
        s->poll->in_flush = false;
        if (s->state == EIO_S_OPEN)
            eio__flush_get(s);
    }
}

/* ---- sending -------------------------------------------------------------------- */

/* Concatenates parts into the server scratch buffer (rare: binary in several parts). */
static slice_t concat(eio_server_t *srv, const slice_t *parts, size_t n)
{
    if (n == 1)
        return parts[0];
    buf_clear(&srv->scratch);
    for (size_t i = 0; i < n; i++)
        buf_append_slice(&srv->scratch, parts[i]);
    return buf_slice(&srv->scratch);
}

static int ws_send_message(eio_session_t *s, bool binary, const slice_t *parts, size_t n)
{
    if (binary)
        return ws_send_parts(s->ws, true, parts, n);
    slice_t tmp[8];
    if (n + 1 > sizeof tmp / sizeof tmp[0]) {
        tmp[1] = concat(s->srv, parts, n);
        n = 1;
    } else {
        memcpy(tmp + 1, parts, n * sizeof *parts);
    }
    tmp[0] = SLICE_LIT("4");
    return ws_send_parts(s->ws, false, tmp, n + 1);
}

int eio_session_sendv(eio_session_t *s, bool binary, const slice_t *parts, size_t n)
{
    if (s->state != EIO_S_OPEN)
        return UV_EPIPE;
    if (s->overflow)
        return UV_ENOBUFS;
    if (s->ws)
        return ws_send_message(s, binary, parts, n);
    buf_t *out = &s->poll->out;
    if (out->len)
        buf_append_byte(out, EIO_RECORD_SEP);
    if (binary) {
        eio_packet_encode_b64(out, concat(s->srv, parts, n));
    } else {
        buf_append_byte(out, '4');
        for (size_t i = 0; i < n; i++)
            buf_append_slice(out, parts[i]);
    }
    int rc = out_check(s);
    if (rc == 0)
        out_wake(s);
    return rc;
}

int eio_session_send(eio_session_t *s, bool binary, slice_t data)
{
    return eio_session_sendv(s, binary, &data, 1);
}

int eio_session_send_frame(eio_session_t *s, rcbuf_t *frame, size_t hdr_len, bool binary)
{
    if (s->state != EIO_S_OPEN)
        return UV_EPIPE;
    if (s->overflow)
        return UV_ENOBUFS;
    if (s->ws)
        return ws_send_frame(s->ws, frame);
    slice_t msg = slice_make(frame->data + hdr_len, frame->len - hdr_len);
    buf_t *out = &s->poll->out;
    if (binary) {
        if (out->len)
            buf_append_byte(out, EIO_RECORD_SEP);
        eio_packet_encode_b64(out, msg);
    } else {
        eio_payload_append_encoded(out, out->len == 0, msg);
    }
    int rc = out_check(s);
    if (rc == 0)
        out_wake(s);
    return rc;
}

/* Writes the frame of `len` payload bytes (parts, after "4" for text) into `f`. */
static void frame_fill(rcbuf_t *f, const slice_t *parts, size_t n, bool binary, size_t len,
                       size_t *hdr_len)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_header_encode(hdr, binary ? WS_OP_BINARY : WS_OP_TEXT, true, false, len);
    uint8_t *p = f->data;
    memcpy(p, hdr, hl);
    p += hl;
    if (!binary)
        *p++ = '4';
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len)
            memcpy(p, parts[i].ptr, parts[i].len);
        p += parts[i].len;
    }
    f->len = hl + len;
    *hdr_len = hl;
}

static size_t frame_payload_len(const slice_t *parts, size_t n, bool binary)
{
    size_t len = binary ? 0 : 1;
    for (size_t i = 0; i < n; i++)
        len += parts[i].len;
    return len;
}

rcbuf_t *eio_frame_new(const slice_t *parts, size_t n, bool binary, size_t *hdr_len)
{
    size_t len = frame_payload_len(parts, n, binary);
    rcbuf_t *f = rcbuf_new(WS_FRAME_HEADER_MAX + len);
    frame_fill(f, parts, n, binary, len, hdr_len);
    return f;
}

#ifdef SIOC_ASAN
#define FRAME_CACHE_ON 0 /* keep use-after-free visible */
#else
#define FRAME_CACHE_ON 1
#endif

rcbuf_t *eio_server_frame_new(eio_server_t *srv, const slice_t *parts, size_t n, bool binary,
                              size_t *hdr_len)
{
    size_t len = frame_payload_len(parts, n, binary);
    size_t need = WS_FRAME_HEADER_MAX + len;
    int victim = -1;
    for (int i = 0; FRAME_CACHE_ON && need <= EIO_FRAME_CACHE_MAX && i < EIO_FRAME_CACHE; i++) {
        rcbuf_t *rc = srv->frames[i].rc;
        if (rc && rc->refs == 1 && srv->frames[i].cap >= need) {
            /* every recipient let go of it: it is ours alone again */
            frame_fill(rc, parts, n, binary, len, hdr_len);
            return rcbuf_ref(rc);
        }
        if (victim < 0 && (!rc || rc->refs == 1))
            victim = i;
    }
    if (victim < 0)
        return eio_frame_new(parts, n, binary, hdr_len);
    size_t cap = need < 1024 ? 1024 : need;
    rcbuf_unref(srv->frames[victim].rc);
    rcbuf_t *f = rcbuf_new(cap);
    frame_fill(f, parts, n, binary, len, hdr_len);
    srv->frames[victim].rc = f;
    srv->frames[victim].cap = cap;
    return rcbuf_ref(f);
}

void eio__send_packet(eio_session_t *s, eio_packet_type_t type, slice_t data)
{
    if (s->state != EIO_S_OPEN || s->overflow)
        return;
    if (s->ws) {
        uint8_t digit = (uint8_t)('0' + type);
        slice_t parts[2] = {slice_make(&digit, 1), data};
        ws_send_parts(s->ws, false, parts, 2);
        return;
    }
    eio_packet_t pkt = {.type = type, .binary = false, .data = data};
    eio_payload_append(&s->poll->out, s->poll->out.len == 0, &pkt);
    if (out_check(s) == 0)
        out_wake(s);
}

/* ---- heartbeat ------------------------------------------------------------------ */

static void on_timer(net_timer_t *t)
{
    eio_session_t *s = NET_CONTAINER_OF(t, eio_session_t, timer);
    eio_server_t *srv = s->srv;
    if (s->state == EIO_S_LINGER) {
        eio__close(s, EIO_REASON_FORCED_CLOSE); /* nobody came for the last packets */
        return;
    }
    if (s->state != EIO_S_OPEN)
        return;
    if (s->hb == EIO_HB_WAIT_PING) {
        s->hb = EIO_HB_WAIT_PONG;
        net_timer_start(srv->nl, t, srv->cfg.ping_timeout_ms, on_timer);
        eio__send_packet(s, EIO_PING, SLICE_LIT(""));
        return;
    }
    eio__close(s, EIO_REASON_PING_TIMEOUT);
}

void eio__heartbeat_start(eio_session_t *s)
{
    s->hb = EIO_HB_WAIT_PING;
    net_timer_start(s->srv->nl, &s->timer, s->srv->cfg.ping_interval_ms, on_timer);
}

void eio__on_packet(eio_session_t *s, const eio_packet_t *pkt)
{
    if (s->state != EIO_S_OPEN)
        return;
    switch (pkt->type) {
    case EIO_MESSAGE:
        s->srv->ops->on_message(s, pkt->binary, pkt->data);
        break;
    case EIO_PONG:
        /* v4: only a pong proves liveness; the next ping is due pingInterval from now */
        eio__heartbeat_start(s);
        break;
    case EIO_PING:
        LOG_RATELIMITED(LOG_INFO, s->srv->log_count, 100,
                        "eio %.6s: ping from the client (invalid heartbeat direction)", s->sid);
        eio__close(s, EIO_REASON_TRANSPORT_ERROR);
        break;
    case EIO_CLOSE:
        s->client_closed = true;
        eio__close(s, EIO_REASON_TRANSPORT_CLOSE);
        break;
    default:
        break; /* open, upgrade, noop from a client: nothing to do */
    }
}

/* ---- polling GET ---------------------------------------------------------------- */

static void on_get_abort(http_req_t *req, void *arg)
{
    eio_session_t *s = arg;
    (void)req;
    s->poll->get = NULL;
    eio__close(s, EIO_REASON_TRANSPORT_ERROR); /* poll connection closed prematurely */
}

/* ---- polling POST bodies -------------------------------------------------------- */

static void on_post_abort(http_req_t *req, void *arg)
{
    eio_session_t *s = arg;
    (void)req;
    s->poll->post = NULL; /* client gone mid-body, or 413: the session goes on */
}

void eio__poll_post_start(eio_session_t *s, http_req_t *req)
{
    if (s->poll->post && s->poll->post != req) {
        /* one POST at a time: refuse this one and close the session (reference) */
        http_resp_send(req, 400, NULL, eio__cors_lines(s->srv, req), SLICE_LIT(""));
        LOG_RATELIMITED(LOG_INFO, s->srv->log_count, 100, "eio %.6s: overlapping POST", s->sid);
        eio__close(s, EIO_REASON_TRANSPORT_ERROR);
        return;
    }
    s->poll->post = req;
    http_req_on_abort(req, on_post_abort, s);
}

void eio__poll_post_done(eio_session_t *s, http_req_t *req)
{
    if (s->poll && s->poll->post == req)
        forget_post(s);
}

/* A GET on a lingering session: the queued packets first, "1" alone in a later
 * response. (Clients handle the packets of one payload before they act on a close
 * that follows in the same payload only if nothing defers them; socket.io-client
 * defers, so "1" must not share the response with the last packets.) */
static void linger_get(eio_session_t *s, http_req_t *req)
{
    s->poll->get = req;
    if (s->poll->out.len) {
        answer_get(s, buf_slice(&s->poll->out));
        buf_clear(&s->poll->out);
        return;
    }
    answer_get(s, SLICE_LIT("1"));
    eio__close(s, EIO_REASON_FORCED_CLOSE);
}

void eio__poll_get(eio_session_t *s, http_req_t *req)
{
    if (s->state == EIO_S_LINGER) {
        linger_get(s, req);
        return;
    }
    if (s->poll->get) {
        /* one GET at a time: refuse this one, and the close answers the parked one */
        http_resp_send(req, 400, NULL, eio__cors_lines(s->srv, req), SLICE_LIT(""));
        LOG_RATELIMITED(LOG_INFO, s->srv->log_count, 100, "eio %.6s: overlapping GET", s->sid);
        eio__close(s, EIO_REASON_TRANSPORT_ERROR);
        return;
    }
    s->poll->get = req;
    if (s->poll->out.len && !s->srv->batch) {
        eio__flush_get(s);
        return;
    }
    http_req_on_abort(req, on_get_abort, s);
}

/* ---- closing -------------------------------------------------------------------- */

static void upgrade_abort(eio_session_t *s)
{
    struct eio_upgrade *u = s->upg;
    if (!u)
        return;
    s->upg = NULL;
    net_timer_stop(&u->timeout);
    net_timer_stop(&u->noop);
    if (u->ws)
        orphan_close(s->srv, u->ws);
    free(u);
}

void eio__close(eio_session_t *s, eio_reason_t reason)
{
    if (s->state == EIO_S_CLOSED)
        return;
    bool was_open = s->state == EIO_S_OPEN;
    s->state = EIO_S_CLOSED;
    eio__table_remove(s->srv, s);
    net_timer_stop(&s->timer);
    upgrade_abort(s);
    forget_post(s);
    if (s->poll && s->poll->get)
        answer_get(s, s->client_closed ? SLICE_LIT("6") : SLICE_LIT("1"));
    if (s->ws) {
        ws_conn_t *ws = s->ws;
        s->ws = NULL;
        orphan_close(s->srv, ws);
    }
    if (was_open)
        s->srv->ops->on_close(s, reason);
    schedule_free(s);
}

void eio_session_close(eio_session_t *s)
{
    if (s->state != EIO_S_OPEN)
        return;
    if (s->ws) {
        eio__close(s, EIO_REASON_FORCED_CLOSE); /* ws_close sends the queue first */
        return;
    }
    /* polling: linger until GETs have taken the queued packets and then "1" */
    upgrade_abort(s);
    s->state = EIO_S_LINGER;
    net_timer_start(s->srv->nl, &s->timer, EIO_CLOSE_LINGER_MS, on_timer);
    s->srv->ops->on_close(s, EIO_REASON_FORCED_CLOSE);
    if (s->poll->get && s->state == EIO_S_LINGER) {
        http_req_t *req = s->poll->get;
        s->poll->get = NULL;
        http_req_on_abort(req, NULL, NULL);
        linger_get(s, req);
    }
}

/* ---- WebSocket transport -------------------------------------------------------- */

/* Decodes one WebSocket message into a packet. A text message starting with 'b'
 * (base64 binary, legal in the reference) is decoded in the scratch buffer, since the
 * message itself is borrowed read-only. */
static int decode_ws(eio_server_t *srv, bool is_binary, slice_t msg, eio_packet_t *pkt)
{
    const char *err = NULL;
    if (is_binary) {
        eio_packet_decode_binary(msg, pkt);
        return 0;
    }
    if (msg.len && msg.ptr[0] == 'b') {
        buf_clear(&srv->scratch);
        buf_append_slice(&srv->scratch, msg);
        return eio_packet_decode_text(buf_data(&srv->scratch), msg.len, pkt, &err);
    }
    /* eio_packet_decode_text writes only into 'b' messages, excluded above */
    return eio_packet_decode_text((uint8_t *)(uintptr_t)msg.ptr, msg.len, pkt, &err);
}

static void upgrade_finish(eio_session_t *s)
{
    struct eio_upgrade *u = s->upg;
    ws_conn_t *ws = u->ws;
    u->ws = NULL;
    upgrade_abort(s);
    if (s->poll->get)
        answer_get(s, SLICE_LIT("6")); /* the old transport is done */
    s->ws = ws;
    s->transport = EIO_TRANSPORT_WEBSOCKET;
    /* what was queued for polling goes out on the WebSocket, in order */
    eio_payload_iter_t it;
    eio_packet_t pkt;
    const char *err;
    buf_t *out = &s->poll->out;
    eio_payload_iter_init(&it, buf_data(out), out->len, UINT32_MAX);
    while (out->len && eio_payload_next(&it, &pkt, &err) == 1) {
        if (pkt.binary) {
            ws_send(ws, true, pkt.data);
            continue;
        }
        uint8_t digit = (uint8_t)('0' + pkt.type);
        slice_t parts[2] = {slice_make(&digit, 1), pkt.data};
        ws_send_parts(ws, false, parts, 2);
    }
    poll_free(s);
}

static void on_noop_tick(net_timer_t *t)
{
    struct eio_upgrade *u = NET_CONTAINER_OF(t, struct eio_upgrade, noop);
    eio_session_t *s = u->s;
    if (s->poll->get && s->poll->out.len == 0)
        answer_get(s, SLICE_LIT("6"));
    net_timer_start(s->srv->nl, t, NOOP_INTERVAL_MS, on_noop_tick);
}

static void on_upgrade_timeout(net_timer_t *t)
{
    struct eio_upgrade *u = NET_CONTAINER_OF(t, struct eio_upgrade, timeout);
    LOG(LOG_DEBUG, "eio %.6s: upgrade timed out", u->s->sid);
    upgrade_abort(u->s);
}

void eio__upgrade_start(eio_session_t *s, ws_conn_t *ws)
{
    struct eio_upgrade *u = xcalloc(1, sizeof *u);
    u->ws = ws;
    u->s = s;
    s->upg = u;
    net_timer_start(s->srv->nl, &u->timeout, s->srv->cfg.upgrade_timeout_ms, on_upgrade_timeout);
}

static void probe_message(eio_session_t *s, bool is_binary, slice_t msg)
{
    struct eio_upgrade *u = s->upg;
    if (!is_binary && slice_eq(msg, SLICE_LIT("2probe"))) {
        ws_send(u->ws, false, SLICE_LIT("3probe"));
        if (!u->probed)
            net_timer_start(s->srv->nl, &u->noop, NOOP_INTERVAL_MS, on_noop_tick);
        u->probed = true;
        return;
    }
    if (!is_binary && slice_eq(msg, SLICE_LIT("5"))) {
        upgrade_finish(s);
        return;
    }
    upgrade_abort(s); /* anything else before "5" aborts the upgrade */
}

static void ws_on_message(ws_conn_t *ws, bool is_binary, slice_t msg)
{
    eio_session_t *s = ws_get_user(ws);
    eio_server_t *srv = s->srv;
    if (s->upg && s->upg->ws == ws) {
        probe_message(s, is_binary, msg);
        return;
    }
    if (s->ws != ws || s->state != EIO_S_OPEN)
        return;
    eio_packet_t pkt;
    if (decode_ws(srv, is_binary, msg, &pkt) != 0) {
        LOG_RATELIMITED(LOG_INFO, srv->log_count, 100, "eio %.6s: undecodable packet", s->sid);
        eio__close(s, EIO_REASON_PARSE_ERROR);
        return;
    }
    srv->batch++;
    eio__on_packet(s, &pkt);
    eio__batch_end(srv);
}

static void ws_on_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    eio_session_t *s = ws_get_user(ws);
    eio_server_t *srv = s->srv;
    (void)reason;
    if (s->upg && s->upg->ws == ws) {
        s->upg->ws = NULL;
        upgrade_abort(s);
    } else if (s->ws == ws) {
        s->ws = NULL;
        bool error = code == WS_CLOSE_PROTOCOL_ERROR || code == WS_CLOSE_INVALID_DATA ||
                     code == WS_CLOSE_TOO_BIG;
        eio__close(s, error ? EIO_REASON_TRANSPORT_ERROR : EIO_REASON_TRANSPORT_CLOSE);
    }
    eio__ws_gone(srv);
}

const ws_handler_ops_t eio__ws_ops = {
    .on_message = ws_on_message,
    .on_close = ws_on_close,
};
