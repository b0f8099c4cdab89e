/*
 * ws_conn: handshake, the receive loop over ws_reader, sending, and closing.
 *
 * Closing, as seen by this connection:
 *
 *   open --ws_close / protocol error--> close frame queued (close_sent), input ignored,
 *     |                                 net graceful close: flush, FIN, linger, close
 *     +--peer close frame--> echo it (close_sent), close once written (no linger)
 *     +--TCP EOF / error / slow consumer--> net closes
 *                         all paths end in net's on_close -> ops->on_close, free
 *
 * The code reported to on_close is the peer's when its close frame arrived, else the
 * one we sent, else 1006.
 */
#include "ws/ws_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/log.h"
#include "base/sha1.h"
#include "base/utf8.h"
#include "ws/ws_deflate.h"
#include "ws/ws_reader.h"

enum {
    DEFAULT_MAX_MESSAGE = 1000000,
    DEFAULT_DEFLATE_MIN = 64,
    DEFAULT_EVENTS_PER_READ = 64, /* STYLE rule 26 */
    STACK_PARTS = 16,
    HANDSHAKE_MAX = 512, /* our own 101 lines, without the caller's extra headers */
};

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct ws_conn {
    net_conn_t *nc;                /* the transport; valid until on_close */
    const ws_config_t *cfg;        /* borrowed, shared */
    const ws_handler_ops_t *ops;   /* borrowed, shared */
    void *user;
    ws_deflate_t *pmd;             /* permessage-deflate state, NULL if not negotiated */
    uint8_t *close_reason;         /* the peer's close reason (heap, rare), or NULL */
    ws_reader_t rd;                /* receive state machine */
    uint16_t close_code;           /* code for on_close, 0 until known */
    uint8_t close_reason_len;
    bool close_sent;               /* our close frame is queued */
    bool close_received;           /* the peer's close frame arrived */
};

static size_t max_message(const ws_config_t *cfg)
{
    return cfg->max_message ? cfg->max_message : DEFAULT_MAX_MESSAGE;
}

/* ---- handshake ------------------------------------------------------------------ */

void ws_accept_key(slice_t key, char out[WS_ACCEPT_KEY_LEN + 1])
{
    uint8_t digest[SHA1_DIGEST_LEN];
    slice_t parts[2] = {key, SLICE_LIT(ws_guid)};
    sha1_digestv(parts, 2, digest);
    size_t n = base64_encode(digest, sizeof digest, out, BASE64_STD);
    out[n] = '\0';
}

void ws_reject(http_req_t *req, int status, slice_t extra_headers, slice_t body)
{
    http_req_set_close(req);
    http_resp_send(req, status, "text/html", extra_headers, body);
}

/* Returns NULL if the request is a valid RFC 6455 opening handshake, else why not. */
static const char *handshake_error(const http_req_t *req, slice_t *key, bool *bad_version)
{
    slice_t v;
    uint8_t raw[base64_decoded_max(24)];
    *bad_version = false;
    if (http_req_method_id(req) != HTTP_METHOD_GET || http_req_version_minor(req) < 1)
        return "WebSocket handshake needs GET and HTTP/1.1";
    if (!http_req_header_has_token(req, "upgrade", "websocket"))
        return "missing Upgrade: websocket";
    if (!http_req_header_has_token(req, "connection", "upgrade"))
        return "missing Connection: Upgrade";
    if (!http_req_header(req, "sec-websocket-version", &v) || !slice_eq_cstr(v, "13")) {
        *bad_version = true;
        return "unsupported Sec-WebSocket-Version";
    }
    if (!http_req_header(req, "sec-websocket-key", key) || key->len != 24 ||
        base64_decode((const char *)key->ptr, key->len, raw, BASE64_STD) != 16)
        return "invalid Sec-WebSocket-Key";
    return NULL;
}

/* The client's Sec-WebSocket-Protocol list contains `want`. */
static bool offers_protocol(const http_req_t *req, const char *want)
{
    return want && http_req_header_has_token(req, "sec-websocket-protocol", want);
}

static bool negotiate_deflate(const http_req_t *req, const ws_config_t *cfg,
                              ws_deflate_params_t *p)
{
    if (!cfg->deflate)
        return false;
    for (size_t i = 0; i < http_req_header_count(req); i++) {
        slice_t n, v;
        http_req_header_at(req, i, &n, &v);
        if (slice_eq_nocase(n, SLICE_LIT("sec-websocket-extensions")) &&
            ws_deflate_negotiate(v, p))
            return true;
    }
    return false;
}

static const net_conn_ops_t *net_ops_for(const ws_handler_ops_t *ops);

ws_conn_t *ws_accept(http_req_t *req, const ws_config_t *cfg, slice_t extra_headers,
                     const ws_handler_ops_t *ops, void *user)
{
    slice_t key;
    bool bad_version;
    const char *why = handshake_error(req, &key, &bad_version);
    if (why) {
        slice_t hdr = bad_version ? SLICE_LIT("Sec-WebSocket-Version: 13\r\n") : extra_headers;
        ws_reject(req, 400, hdr, slice_from_cstr(why));
        return NULL;
    }
    char accept[WS_ACCEPT_KEY_LEN + 1];
    ws_accept_key(key, accept);
    char head[HANDSHAKE_MAX];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
    if (offers_protocol(req, cfg->subprotocol) && strlen(cfg->subprotocol) < 128)
        n += snprintf(head + n, sizeof head - (size_t)n, "Sec-WebSocket-Protocol: %s\r\n",
                      cfg->subprotocol);
    ws_deflate_params_t pmd;
    bool deflate = negotiate_deflate(req, cfg, &pmd);
    if (deflate)
        n += (int)ws_deflate_response(&pmd, head + n, sizeof head - (size_t)n);

    net_conn_t *nc = http_req_take_conn(req);
    if (!nc)
        return NULL;
    slice_t parts[3] = {slice_make(head, (size_t)n), extra_headers, SLICE_LIT("\r\n")};
    ws_conn_t *ws = xcalloc(1, sizeof *ws);
    ws->nc = nc;
    ws->cfg = cfg;
    ws->ops = ops;
    ws->user = user;
    unsigned flags = WS_PARSE_REQUIRE_MASK | (deflate ? WS_PARSE_ALLOW_RSV1 : 0);
    ws_reader_init(&ws->rd, max_message(cfg), flags);
    if (deflate)
        ws->pmd = ws_deflate_new(&pmd, cfg->deflate_level);
    if (cfg->max_out_bytes)
        net_conn_set_max_out(nc, cfg->max_out_bytes);
    net_conn_set_ops(nc, net_ops_for(ops), ws);
    net_conn_writev(nc, parts, 3);
    /* Bytes that followed the request reach us at once when we run inside on_request;
     * for a request answered later (it was parked) they wait in net's tail, and HTTP
     * may have paused reading meanwhile. */
    net_conn_set_reading(nc, true);
    return ws;
}

/* ---- sending ---------------------------------------------------------------------- */

static bool can_send(const ws_conn_t *ws)
{
    return !ws->close_sent && !net_conn_is_closing(ws->nc);
}

/* One frame: header + parts, copied into the queue. */
static int send_frame(ws_conn_t *ws, unsigned op, bool rsv1, const slice_t *parts, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i].len;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_header_encode(hdr, op, true, rsv1, total);
    if (n + 1 > STACK_PARTS) {
        int r = net_conn_write(ws->nc, hdr, hl);
        return r < 0 ? r : net_conn_writev(ws->nc, parts, n);
    }
    slice_t v[STACK_PARTS];
    v[0] = slice_make(hdr, hl);
    memcpy(v + 1, parts, n * sizeof *parts);
    return net_conn_writev(ws->nc, v, n + 1);
}

int ws_send_parts(ws_conn_t *ws, bool is_binary, const slice_t *parts, size_t n)
{
    if (!can_send(ws))
        return UV_EPIPE;
    unsigned op = is_binary ? WS_OP_BINARY : WS_OP_TEXT;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i].len;
    size_t min = ws->cfg->deflate_min ? ws->cfg->deflate_min : DEFAULT_DEFLATE_MIN;
    if (!ws->pmd || total < min)
        return send_frame(ws, op, false, parts, n);
    buf_t z = BUF_INIT;
    int r;
    if (ws_deflate_deflate(ws->pmd, parts, n, &z) == 0) {
        slice_t zs = buf_slice(&z);
        r = send_frame(ws, op, true, &zs, 1);
    } else {
        r = send_frame(ws, op, false, parts, n);
    }
    buf_dispose(&z);
    return r;
}

int ws_send(ws_conn_t *ws, bool is_binary, slice_t msg)
{
    return ws_send_parts(ws, is_binary, &msg, 1);
}

int ws_send_frame(ws_conn_t *ws, rcbuf_t *frame)
{
    if (!can_send(ws))
        return UV_EPIPE;
    return net_conn_write_rcbuf(ws->nc, frame);
}

int ws_ping(ws_conn_t *ws, slice_t payload)
{
    if (!can_send(ws))
        return UV_EPIPE;
    if (payload.len > WS_CONTROL_MAX)
        payload.len = WS_CONTROL_MAX;
    return send_frame(ws, WS_OP_PING, false, &payload, 1);
}

/* Queues our close frame (once) and starts the TCP close. When it answers the peer's
 * close frame the closing handshake is complete and the peer sends nothing more
 * (RFC 6455 §5.5.1), so the socket closes as soon as the frame is written (the server
 * closes first, §7.1.1); otherwise net lingers for the peer's answer and EOF. */
static void send_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    if (ws->close_sent)
        return;
    uint8_t pl[WS_CONTROL_MAX];
    size_t n = ws_close_payload_encode(pl, code, reason);
    slice_t s = slice_make(pl, n);
    send_frame(ws, WS_OP_CLOSE, false, &s, 1);
    ws->close_sent = true;
    net_conn_close(ws->nc, ws->close_received ? NET_CLOSE_NO_LINGER : NET_CLOSE_GRACEFUL);
}

void ws_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    if (ws->close_sent || net_conn_is_closing(ws->nc))
        return;
    if (!ws->close_code)
        ws->close_code = (uint16_t)(code ? code : WS_CLOSE_NO_STATUS);
    send_close(ws, code, reason);
}

void ws_abort(ws_conn_t *ws)
{
    net_conn_close(ws->nc, NET_CLOSE_ABORT);
}

/* ---- receiving -------------------------------------------------------------------- */

static void protocol_error(ws_conn_t *ws, unsigned code, const char *why)
{
    LOG(LOG_DEBUG, "conn %llu: websocket error %u: %s", (unsigned long long)net_conn_id(ws->nc),
        code, why);
    if (!ws->close_code)
        ws->close_code = (uint16_t)code;
    send_close(ws, code, slice_from_cstr(why));
}

static void deliver_compressed(ws_conn_t *ws, const ws_event_t *ev)
{
    buf_t out = BUF_INIT;
    unsigned code = ws_deflate_inflate(ws->pmd, ev->data, &out, max_message(ws->cfg));
    if (code) {
        protocol_error(ws, code, code == WS_CLOSE_TOO_BIG ? "message too big"
                                                          : "invalid compressed data");
    } else if (!ev->binary && !utf8_is_valid(buf_data(&out), out.len)) {
        protocol_error(ws, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
    } else {
        ws->ops->on_message(ws, ev->binary, buf_slice(&out));
    }
    buf_dispose(&out);
}

static void on_close_frame(ws_conn_t *ws, const ws_event_t *ev)
{
    ws->close_received = true;
    ws->close_code = (uint16_t)ev->close_code;
    if (ev->data.len) {
        ws->close_reason = xmalloc(ev->data.len);
        memcpy(ws->close_reason, ev->data.ptr, ev->data.len);
        ws->close_reason_len = (uint8_t)ev->data.len;
    }
    /* Echo the code (RFC 6455 §5.5.1); a close without a code gets an empty close. */
    unsigned echo = ev->close_code == WS_CLOSE_NO_STATUS ? 0 : ev->close_code;
    send_close(ws, echo, slice_make(NULL, 0));
}

/* One reader event. Returns false when input processing must stop. */
static bool handle_event(ws_conn_t *ws, ws_event_type_t t, const ws_event_t *ev)
{
    switch (t) {
    case WS_EV_MESSAGE:
        if (ev->compressed)
            deliver_compressed(ws, ev);
        else
            ws->ops->on_message(ws, ev->binary, ev->data);
        break;
    case WS_EV_PING:
        if (can_send(ws))
            send_frame(ws, WS_OP_PONG, false, &ev->data, 1);
        break;
    case WS_EV_PONG:
        break;
    case WS_EV_CLOSE:
        on_close_frame(ws, ev);
        return false;
    case WS_EV_ERROR:
        protocol_error(ws, ev->close_code, ev->reason);
        return false;
    case WS_EV_NEED_MORE:
        return false;
    }
    return can_send(ws);
}

/* Parses and handles frames until the input is used up, the connection closes, or the
 * per-read cap is reached: then the rest is yielded to the next loop turn. */
static size_t on_read(net_conn_t *nc, slice_t data)
{
    ws_conn_t *ws = net_conn_get_user(nc);
    uint8_t *p = (uint8_t *)data.ptr; /* net hands us a writable buffer */
    unsigned cap = ws->cfg->max_events_per_read ? ws->cfg->max_events_per_read
                                                : DEFAULT_EVENTS_PER_READ;
    unsigned events = 0;
    size_t off = 0;
    while (off < data.len && can_send(ws)) {
        if (events++ == cap) {
            net_conn_yield(nc);
            break;
        }
        size_t used;
        ws_event_t ev;
        ws_event_type_t t = ws_reader_next(&ws->rd, p + off, data.len - off, &used, &ev);
        off += used;
        if (!handle_event(ws, t, &ev))
            break;
    }
    return can_send(ws) ? off : data.len;
}

static void on_drain(net_conn_t *nc)
{
    ws_conn_t *ws = net_conn_get_user(nc);
    if (ws->ops->on_drain && !ws->close_sent)
        ws->ops->on_drain(ws);
}

static void on_net_close(net_conn_t *nc, int status)
{
    (void)status;
    ws_conn_t *ws = net_conn_get_user(nc);
    unsigned code = ws->close_code ? ws->close_code : WS_CLOSE_ABNORMAL;
    if (!ws->close_received && !ws->close_sent)
        code = WS_CLOSE_ABNORMAL;
    ws->ops->on_close(ws, code, slice_make(ws->close_reason, ws->close_reason_len));
    ws_reader_dispose(&ws->rd);
    ws_deflate_free(ws->pmd);
    free(ws->close_reason);
    free(ws);
}

static const net_conn_ops_t ws_net_ops = {
    .on_read = on_read,
    .on_drain = on_drain,
    .on_close = on_net_close,
};

/* For an owner without on_drain: net skips the call after every flush, which on a
 * broadcast to many sockets saves a visit to each one's ws_conn_t. */
static const net_conn_ops_t ws_net_ops_nodrain = {
    .on_read = on_read,
    .on_close = on_net_close,
};

static const net_conn_ops_t *net_ops_for(const ws_handler_ops_t *ops)
{
    return ops && ops->on_drain ? &ws_net_ops : &ws_net_ops_nodrain;
}

/* ---- accessors ---------------------------------------------------------------------- */

bool ws_is_closing(const ws_conn_t *ws)
{
    return !can_send(ws);
}

void *ws_get_user(const ws_conn_t *ws)
{
    return ws->user;
}

void ws_set_user(ws_conn_t *ws, void *user)
{
    ws->user = user;
}

void ws_set_ops(ws_conn_t *ws, const ws_handler_ops_t *ops)
{
    ws->ops = ops;
    net_conn_set_ops(ws->nc, net_ops_for(ops), ws);
}

size_t ws_buffered_bytes(const ws_conn_t *ws)
{
    return net_conn_buffered(ws->nc);
}

bool ws_is_deflate(const ws_conn_t *ws)
{
    return ws->pmd != NULL;
}

net_conn_t *ws_net_conn(const ws_conn_t *ws)
{
    return ws->nc;
}

int ws_remote_addr(const ws_conn_t *ws, char *out, size_t cap)
{
    return net_conn_remote_addr(ws->nc, out, cap);
}
