/*
 * loadgen: a Socket.IO v5 / Engine.IO v4 load generator over WebSocket (bench).
 *
 * One libuv loop drives many client connections against one server. Each connection
 * does what socket.io-client does with `transports: ["websocket"]`: a WebSocket upgrade
 * on `<path>?EIO=4&transport=websocket`, waits for the Engine.IO open packet, sends the
 * Socket.IO CONNECT `40`, and answers every server ping `2` with `3`
 * (socketio-protocol.md §1.3, §1.5, §1.7, §2.2). The client-side wire codecs live in
 * loadgen_wire.h, the latency histogram in loadgen_stats.h, flags and output in
 * loadgen_cli.h: the generator shares no code with the server it measures.
 *
 * Modes (bench/README.md has the details):
 *   handshake  --conns parallel clients connect, handshake and close in a loop for
 *              --duration s: handshakes per second, handshake latency, failures;
 *   idle       --conns clients connect and join two rooms each, then hold for
 *              --duration s; prints a ready line for the runner to read the server's RSS;
 *   echo       --conns clients send `message-with-ack` (one in flight each, or --rate
 *              messages/s in total): ack latency p50/p99/max and acks per second;
 *   fanout     --conns clients join one room, one more client emits `broadcast` to it
 *              (--window broadcasts in flight, or --rate per second): deliveries per
 *              second and delivery latency from a send timestamp in the payload.
 * Output: one JSON line on stdout (`"event":"result"`, and `"event":"ready"` when the
 * clients are up) and one human line on stderr.
 *
 * Connections are spread over the source addresses 127.0.0.1..127.0.0.K (--sources K,
 * IPv4 only) to get past the ephemeral port range of one address (loadgen_net.h).
 *
 * Ownership: the `lg_t` owns every connection (`all[]`) and its buffers; a connection
 * is reused only after its handle's close callback. Timeouts come from one sweep on the
 * tick timer, not a timer per connection. One thread; no globals (signals arrive
 * through uv_signal_t).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/slice.h"
#include "loadgen.h"
#include "loadgen_cli.h"
#include "loadgen_net.h"
#include "loadgen_stats.h"
#include "loadgen_wire.h"

static void conn_close(lg_conn_t *c, bool reset);
static void conn_send_text(lg_conn_t *c, slice_t text);
static void lg_pump(lg_t *lg);
static void lg_enter(lg_t *lg, enum lg_phase phase);
static void fanout_send(lg_t *lg);

static inline uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static uint64_t rand64(lg_t *lg)
{
    uint64_t x = lg->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    lg->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static bool conn_open(const lg_conn_t *c)
{
    return c->state >= CS_CONNECTING && c->state < CS_WS_CLOSING;
}

static bool conn_handshaking(const lg_conn_t *c)
{
    return c->state >= CS_CONNECTING && c->state <= CS_JOINING;
}

/* Leaves the handshaking states; keeps the count of handshakes in flight right. */
static void conn_set_state(lg_conn_t *c, enum conn_state s)
{
    if (conn_handshaking(c) && !(s >= CS_CONNECTING && s <= CS_JOINING))
        c->lg->handshaking--;
    if (c->state == CS_READY && s != CS_READY && c->sender == false &&
        c->lg->cfg.mode == M_FANOUT)
        c->lg->members--;
    c->state = (uint8_t)s;
}

/*
 * Counts a failure once and closes the connection. A client that fails before it was
 * ready counts as failed for the ramp; after that it is gone for the rest of the run.
 */
static void conn_fail(lg_conn_t *c, enum lg_err kind, const char *why)
{
    lg_t *lg = c->lg;
    if (!conn_open(c))
        return;
    lg->n.err[kind]++;
    if (lg->errors_printed < 5 || lg->cfg.verbose) {
        lg->errors_printed++;
        fprintf(stderr, "loadgen: %s error on client %u: %s\n", lg_err_names[kind], c->idx, why);
    }
    if (!c->was_ready && lg->cfg.mode != M_HANDSHAKE)
        lg->failed++;
    conn_close(c, true);
}

/* The end of a connection that the server or the network decided. */
static void conn_lost(lg_conn_t *c, const char *why)
{
    bool before_ready = conn_handshaking(c);
    conn_fail(c, before_ready ? E_HANDSHAKE : E_DISCONNECT, why);
}

/* The handle is gone: the connection object may be reused. */
static void conn_released(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    buf_dispose(&c->rbuf);
    buf_dispose(&c->frag);
    buf_dispose(&c->wbuf);
    c->state = CS_FREE;
    lg->live--;
    if (lg->cfg.mode == M_HANDSHAKE) {
        c->next_free = lg->free_list;
        lg->free_list = c;
    }
    lg_pump(lg);
}

/* Releases the closed plain sockets, like libuv's close callbacks: never inside the
 * call that closed one, whose caller may still look at the connection. */
static void reap_closed(lg_t *lg)
{
    while (lg->reap) {
        lg_conn_t *c = lg->reap;
        lg->reap = c->reap_next;
        c->reap_next = NULL;
        conn_released(c);
    }
}

static void on_reap(uv_idle_t *h)
{
    uv_idle_stop(h);
    reap_closed(h->data);
}

/* Closes the handle; `reset` aborts with RST instead of a FIN (nothing left to say). */
static void conn_close(lg_conn_t *c, bool reset)
{
    lg_t *lg = c->lg;
    if (c->state == CS_FREE || c->state == CS_CLOSING)
        return;
    c->lg->n.lost += c->inflight; /* echo messages that will never be answered */
    c->inflight = 0;
    conn_set_state(c, CS_CLOSING);
    c->deadline = 0;
    if (c->fd >= 0) /* closing the fd also takes it out of the epoll set */
        lg_raw_close(c->fd, reset);
    c->fd = -1;
    c->reap_next = lg->reap;
    lg->reap = c;
    uv_idle_start(&lg->reaper, on_reap);
}

/* Writes all of p[0..n) at once if the socket takes it; false otherwise. */
static bool conn_try_send(lg_conn_t *c, const uint8_t *p, size_t n)
{
    return c->wbuf.len == 0 && lg_raw_send(c->fd, p, n) == 0;
}

/* Starts the WebSocket closing handshake (RFC 6455 §7.1.2): the server closes TCP. */
static void conn_ws_close(lg_conn_t *c)
{
    if (c->state < CS_EIO_OPEN || !conn_open(c)) {
        conn_close(c, true);
        return;
    }
    static const uint8_t code[2] = {0x03, 0xE8}; /* 1000 normal closure */
    lg_t *lg = c->lg;
    buf_clear(&lg->frame);
    uint8_t *out = buf_reserve(&lg->frame, lg_ws_frame_size(2));
    size_t n = lg_ws_encode(out, LG_WS_CLOSE, code, 2, (uint32_t)rand64(lg));
    c->lg->n.lost += c->inflight;
    c->inflight = 0;
    conn_set_state(c, CS_WS_CLOSING);
    c->deadline = now_us() + CLOSE_WAIT_US;
    if (!conn_try_send(c, out, n))
        conn_close(c, true); /* a close frame that cannot go out at once: just reset */
}

/* Writes what the socket takes at once and keeps the rest in c->wbuf, which goes out
 * on the next EPOLLOUT edge (raw_flush_wbuf); later writes queue behind it. */
static void conn_write(lg_conn_t *c, const uint8_t *p, size_t n)
{
    c->lg->n.bytes_out += n;
    if (c->wbuf.len) {
        buf_append(&c->wbuf, p, n);
        return;
    }
    ssize_t r = lg_raw_send_some(c->fd, p, n);
    if (r < 0) {
        conn_lost(c, strerror((int)-r));
        return;
    }
    if ((size_t)r < n)
        buf_append(&c->wbuf, p + r, n - (size_t)r);
}

static void conn_send_frame(lg_conn_t *c, uint8_t opcode, const uint8_t *p, size_t len)
{
    lg_t *lg = c->lg;
    buf_clear(&lg->frame);
    uint8_t *out = buf_reserve(&lg->frame, lg_ws_frame_size(len));
    size_t n = lg_ws_encode(out, opcode, p, len, (uint32_t)rand64(lg));
    conn_write(c, out, n);
}

static void conn_send_text(lg_conn_t *c, slice_t text)
{
    conn_send_frame(c, LG_WS_TEXT, text.ptr, text.len);
}

#include "loadgen_workload.h"

/* ---- incoming packets --------------------------------------------------------------- */

static void on_sio(lg_conn_t *c, slice_t pkt)
{
    int type;
    int64_t ack;
    slice_t json;
    if (!lg_sio_split(pkt, &type, &ack, &json))
        return; /* other namespaces and binary packets are not ours to measure */
    switch (type) {
    case 0:
        if (c->state == CS_SIO_CONNECT)
            on_sio_connected(c);
        return;
    case 1:
        conn_lost(c, "Socket.IO DISCONNECT from the server");
        return;
    case 3:
        on_ack(c, ack, json);
        return;
    case 4:
        conn_fail(c, E_HANDSHAKE, "Socket.IO CONNECT_ERROR");
        return;
    case 2:
        if (slice_eq_cstr(lg_sio_event_name(json), "msg") && c->state == CS_READY)
            on_delivery(c, json);
        return;
    default:
        return;
    }
}

/* One Engine.IO packet in a text message (§1.2). */
static void on_eio(lg_conn_t *c, slice_t m)
{
    if (m.len == 0) {
        conn_fail(c, E_PROTOCOL, "empty Engine.IO packet");
        return;
    }
    switch (m.ptr[0]) {
    case '0':
        if (c->state != CS_EIO_OPEN) {
            conn_fail(c, E_PROTOCOL, "unexpected Engine.IO open");
            return;
        }
        conn_set_state(c, CS_SIO_CONNECT);
        conn_send_text(c, SLICE_LIT("40"));
        return;
    case '1':
        conn_lost(c, "Engine.IO close from the server");
        return;
    case '2':
        c->lg->n.pings++;
        conn_send_text(c, SLICE_LIT("3"));
        return;
    case '4':
        on_sio(c, slice_tail(m, 1));
        return;
    case '3':
    case '6':
        return;
    default:
        conn_fail(c, E_PROTOCOL, "unknown Engine.IO packet type");
        return;
    }
}

static void on_message(lg_conn_t *c, uint8_t opcode, slice_t m)
{
    if (opcode == LG_WS_TEXT && c->state != CS_WS_CLOSING)
        on_eio(c, m);
    /* Binary messages carry Socket.IO attachments, which the benchmark never asks for. */
}

/* A data frame; fragments are joined into one message first (RFC 6455 §5.4). */
static void on_data_frame(lg_conn_t *c, const lg_frame_t *f)
{
    bool cont = f->opcode == LG_WS_CONT;
    if (cont != (c->frag_op != 0)) {
        conn_fail(c, E_PROTOCOL, "bad fragment sequence");
        return;
    }
    if (!cont && f->fin) {
        on_message(c, f->opcode, slice_make(f->payload, f->len));
        return;
    }
    if (c->frag.len + f->len > MAX_FRAME) {
        conn_fail(c, E_PROTOCOL, "fragmented message too large");
        return;
    }
    if (!cont)
        c->frag_op = f->opcode;
    buf_append(&c->frag, f->payload, f->len);
    if (!f->fin)
        return;
    uint8_t op = c->frag_op;
    c->frag_op = 0;
    on_message(c, op, buf_slice(&c->frag));
    buf_dispose(&c->frag); /* the handle closes later, never inside this call */
}

static void on_frame(lg_conn_t *c, const lg_frame_t *f)
{
    switch (f->opcode) {
    case LG_WS_PING:
        if (c->state != CS_WS_CLOSING)
            conn_send_frame(c, LG_WS_PONG, f->payload, f->len);
        return;
    case LG_WS_PONG:
        return;
    case LG_WS_CLOSE:
        if (c->state == CS_WS_CLOSING)
            return; /* the answer to ours: wait for the server's FIN */
        conn_lost(c, "WebSocket close from the server");
        return;
    default:
        on_data_frame(c, f);
        return;
    }
}

/* Handles whole frames in p[0..n) and returns the bytes used; the rest is a partial frame. */
static size_t conn_process(lg_conn_t *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    const char *err = NULL;
    if (c->state == CS_HTTP) {
        int status;
        long r = lg_http_check_101(p, n, c->key, &status, &err);
        if (r == 0)
            return 0;
        if (r < 0) {
            conn_fail(c, E_HANDSHAKE, err);
            return n;
        }
        off = (size_t)r;
        conn_set_state(c, CS_EIO_OPEN);
    }
    while (off < n && (conn_open(c) || c->state == CS_WS_CLOSING)) {
        lg_frame_t f;
        long r = lg_ws_parse(p + off, n - off, MAX_FRAME, &f, &err);
        if (r == 0)
            break;
        if (r < 0) {
            conn_fail(c, E_PROTOCOL, err);
            return n;
        }
        off += (size_t)r;
        on_frame(c, &f);
    }
    return off;
}

static void on_eof(lg_conn_t *c, ssize_t status)
{
    if (c->state == CS_WS_CLOSING) {
        conn_close(c, false);
        return;
    }
    conn_lost(c, status == UV_EOF ? "connection closed by the server" : uv_strerror((int)status));
}

/*
 * New bytes: frames are handled straight from the shared read buffer, and only a
 * trailing partial frame is copied into the connection's own buffer, which is freed as
 * soon as it is empty again (an idle client holds no read buffer).
 */
static void conn_input(lg_conn_t *c, const uint8_t *p, size_t n)
{
    c->lg->n.bytes_in += (uint64_t)n;
    if (c->rbuf.len) {
        buf_append(&c->rbuf, p, n);
        p = buf_data(&c->rbuf);
        n = c->rbuf.len;
    }
    size_t used = conn_process(c, p, n);
    if (c->state == CS_CLOSING || c->state == CS_FREE)
        return;
    if (c->rbuf.len) {
        buf_consume(&c->rbuf, used);
        if (c->rbuf.len == 0)
            buf_dispose(&c->rbuf);
    } else if (used < n) {
        buf_append(&c->rbuf, p + used, n - used);
    }
}

/* The upgrade request (RFC 6455 §4.1) into lg->msg, with a fresh key in c->key. */
static void make_upgrade(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = rand64(lg);
        memcpy(nonce + i, &r, 8);
    }
    lg_ws_make_key(nonce, c->key);
    size_t pl = strlen(lg->cfg.path);
    const char *slash = pl && lg->cfg.path[pl - 1] == '/' ? "" : "/";
    buf_clear(&lg->msg);
    buf_appendf(&lg->msg,
                "GET %s%s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n",
                lg->cfg.path, slash, lg->host_hdr, c->key);
}

#include "loadgen_raw.h"

/* Opens connection `c` for client `idx`; a failure is counted and closes it. */
static void conn_start(lg_t *lg, lg_conn_t *c, uint32_t idx)
{
    buf_dispose(&c->rbuf);
    buf_dispose(&c->frag);
    c->idx = idx;
    c->frag_op = 0;
    c->inflight = c->next_ack = c->join_ack = 0;
    c->was_ready = false;
    c->t_start = now_us();
    c->deadline = c->t_start + (uint64_t)(lg->cfg.timeout * 1e6);
    c->state = CS_CONNECTING;
    c->fd = -1;
    lg->live++;
    lg->handshaking++;
    lg->n.started++;
    raw_start(c);
}

static lg_conn_t *conn_new(lg_t *lg)
{
    if (lg->free_list) {
        lg_conn_t *c = lg->free_list;
        lg->free_list = c->next_free;
        return c;
    }
    lg_conn_t *c = xcalloc(1, sizeof(*c));
    c->lg = lg;
    if (lg->nall == lg->capall) {
        lg->capall = lg->capall ? lg->capall * 2 : 64;
        lg->all = xrealloc(lg->all, lg->capall * sizeof(*lg->all));
    }
    lg->all[lg->nall++] = c;
    return c;
}

/* ---- phases and pacing -------------------------------------------------------------- */

/* How many starts the --rate cap allows since the phase began (unlimited without one). */
static uint64_t rate_allows(const lg_t *lg, uint64_t now)
{
    if (lg->cfg.rate <= 0 || lg->cfg.mode == M_ECHO || lg->cfg.mode == M_FANOUT)
        return UINT64_MAX;
    return (uint64_t)(lg->cfg.rate * (double)(now - lg->phase_start) / 1e6) + 1;
}

/* Opens clients while the in-flight and rate limits allow; ends the ramp when all are in. */
static void pump_ramp(lg_t *lg)
{
    uint64_t allow = rate_allows(lg, now_us());
    while (lg->started < lg->target && lg->handshaking < lg->cfg.concurrency &&
           lg->started < allow) {
        uint32_t idx = lg->started++;
        lg_conn_t *c = conn_new(lg);
        c->sender = lg->cfg.mode == M_FANOUT && !lg->cfg.recv_only && idx == 0;
        if (c->sender)
            lg->sender = c;
        conn_start(lg, c, idx);
    }
    if (lg->ready + lg->failed >= lg->target)
        lg_enter(lg, P_RUN);
}

static uint64_t errors_total(const lg_t *lg)
{
    uint64_t e = 0;
    for (int i = 0; i < E_COUNT; i++)
        e += lg->n.err[i];
    return e;
}

/*
 * Handshake mode: keep --conns handshakes in flight for the whole run. A server that
 * refuses at once would turn this into a spin, so after --conns failures within one tick
 * the next starts wait for the next tick.
 */
static void pump_handshake(lg_t *lg)
{
    uint64_t allow = rate_allows(lg, now_us());
    while (lg->handshaking < lg->cfg.conns && lg->started < allow && lg->live < lg->live_cap &&
           errors_total(lg) - lg->errs_at_tick < lg->cfg.conns) {
        lg_conn_t *c = conn_new(lg);
        conn_start(lg, c, lg->started++);
    }
}

static void lg_pump(lg_t *lg)
{
    if (lg->phase == P_RAMP)
        pump_ramp(lg);
    else if (lg->phase == P_RUN && lg->cfg.mode == M_HANDSHAKE)
        pump_handshake(lg);
    if (lg->phase == P_CLOSE && lg->live == 0)
        lg_enter(lg, P_DONE);
}

static void fanout_send(lg_t *lg)
{
    lg_conn_t *s = lg->sender;
    if (!s || s->state != CS_READY)
        return;
    uint64_t seq = lg->bseq++;
    lg_bcast_t *b = &lg->ring[seq % RING];
    if (b->active)
        bcast_finish(lg, b, true); /* the ring lapped a broadcast that never completed */
    *b = (lg_bcast_t){.seq = seq, .sent = now_us(), .remaining = lg->members,
                      .active = lg->members > 0};
    lg->binflight += b->active;
    lg->n.expected += lg->members;
    lg->n.sent++;
    msg_event(lg, 0, "broadcast");
    buf_append_cstr(&lg->msg, ",\"");
    buf_append_cstr(&lg->msg, lg->cfg.room);
    buf_append_cstr(&lg->msg, "\"");
    msg_payload(lg, seq);
    conn_send_text(s, buf_slice(&lg->msg));
}

/* Open-loop pacing: sends what --rate says is due by now. */
static void pace(lg_t *lg, uint64_t now)
{
    if (lg->phase != P_RUN || lg->cfg.mode == M_HANDSHAKE)
        return;
    if (lg->cfg.rate <= 0) { /* fanout window: refill slots freed by late broadcasts */
        while (lg->cfg.mode == M_FANOUT && lg->binflight < lg->cfg.window && lg->members &&
               lg->sender && lg->sender->state == CS_READY)
            fanout_send(lg);
        return;
    }
    uint64_t due = (uint64_t)(lg->cfg.rate * (double)(now - lg->run_start) / 1e6) + 1;
    if (lg->cfg.mode == M_FANOUT) {
        while (lg->n.sent < due && lg->sender && lg->sender->state == CS_READY)
            fanout_send(lg);
        return;
    }
    if (lg->cfg.mode != M_ECHO || lg->nall == 0)
        return;
    for (uint32_t scanned = 0; lg->n.sent + lg->n.skipped < due && scanned < lg->nall;) {
        lg_conn_t *c = lg->all[lg->cursor++ % lg->nall];
        scanned++;
        if (c->state != CS_READY)
            continue;
        if (c->inflight >= ECHO_MAX_INFLIGHT)
            lg->n.skipped++;
        else
            echo_send(c);
    }
}

/* Times out late handshakes, acks and closes, and late broadcasts. */
static void sweep(lg_t *lg, uint64_t now)
{
    for (uint32_t i = 0; i < lg->nall; i++) {
        lg_conn_t *c = lg->all[i];
        if (!c->deadline || now < c->deadline)
            continue;
        if (c->state == CS_WS_CLOSING) {
            conn_close(c, true);
            continue;
        }
        conn_fail(c, E_TIMEOUT, conn_handshaking(c) ? "handshake timed out" : "ack timed out");
    }
    uint64_t late = (uint64_t)(lg->cfg.timeout * 1e6);
    for (uint32_t i = 0; i < RING && lg->binflight; i++) {
        if (lg->ring[i].active && now - lg->ring[i].sent > late)
            bcast_finish(lg, &lg->ring[i], true);
    }
}

static bool drained(const lg_t *lg)
{
    if (lg->cfg.mode == M_HANDSHAKE)
        return lg->handshaking == 0;
    if (lg->cfg.mode == M_FANOUT)
        return lg->binflight == 0;
    if (lg->cfg.mode == M_ECHO)
        return lg->n.received + lg->n.lost >= lg->n.sent;
    return true;
}

static void close_all(lg_t *lg)
{
    for (uint32_t i = 0; i < lg->nall; i++)
        conn_close(lg->all[i], true);
}

static void on_tick(uv_timer_t *t)
{
    lg_t *lg = t->data;
    uint64_t now = now_us();
    lg->ticks++;
    if (lg->ticks % SWEEP_EVERY == 0)
        sweep(lg, now);
    pace(lg, now);
    lg->errs_at_tick = errors_total(lg);
    lg_pump(lg);
    uint64_t in_phase = now - lg->phase_start;
    bool nobody = lg->cfg.mode != M_HANDSHAKE && lg->ready == 0;
    bool over = !lg->cfg.recv_only && in_phase >= lg->cfg.duration * 1e6;
    if (lg->phase == P_RUN && (nobody || over))
        lg_enter(lg, P_DRAIN);
    else if (lg->phase == P_DRAIN && (drained(lg) || in_phase >= lg->cfg.timeout * 1e6))
        lg_enter(lg, P_CLOSE);
    else if (lg->phase == P_CLOSE && in_phase >= CLOSE_WAIT_US + 500000)
        close_all(lg);
}

static void enter_run(lg_t *lg, uint64_t now)
{
    lg->run_start = now;
    lg->last_event = now;
    if (lg->cfg.mode == M_HANDSHAKE) {
        lg->started = 0;
        pump_handshake(lg);
        return;
    }
    lg->ramp_us = now - lg->t0;
    lg_print_ready(&lg->cfg, lg->ready, lg->failed, (double)lg->ramp_us / 1e6);
    if (lg->cfg.mode == M_ECHO && lg->cfg.rate <= 0) {
        for (uint32_t i = 0; i < lg->nall; i++)
            if (lg->all[i]->state == CS_READY)
                echo_send(lg->all[i]);
    }
    if (lg->cfg.mode == M_FANOUT && lg->cfg.rate <= 0) {
        for (uint32_t i = 0; i < lg->cfg.window; i++)
            fanout_send(lg);
    }
}

/* Closes every connection: the WebSocket closing handshake first, a reset if it stalls. */
static void enter_close(lg_t *lg)
{
    for (uint32_t i = 0; i < lg->nall; i++) {
        lg_conn_t *c = lg->all[i];
        if (conn_open(c))
            conn_ws_close(c);
    }
}

static void lg_enter(lg_t *lg, enum lg_phase phase)
{
    if (phase <= lg->phase)
        return;
    uint64_t now = now_us();
    lg->phase = phase;
    lg->phase_start = now;
    if (phase >= P_DRAIN && lg->run_start && !lg->run_end)
        lg->run_end = now;
    if (phase == P_RUN)
        enter_run(lg, now);
    else if (phase == P_CLOSE)
        enter_close(lg);
    if (phase == P_CLOSE && lg->live == 0)
        lg_enter(lg, P_DONE);
    if (phase == P_DONE) {
        uv_close((uv_handle_t *)&lg->tick, NULL);
        uv_close((uv_handle_t *)&lg->sigint, NULL);
        uv_close((uv_handle_t *)&lg->sigterm, NULL);
        uv_close((uv_handle_t *)&lg->ep_poll, NULL);
        uv_close((uv_handle_t *)&lg->reaper, NULL);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    lg_t *lg = s->data;
    (void)signum;
    if (lg->phase >= P_CLOSE) {
        close_all(lg);
        return;
    }
    lg->interrupted = true;
    lg_enter(lg, P_CLOSE);
}

/* ---- results and set-up ------------------------------------------------------------- */

/* Sums up the run: rates count completions until the last one, drain included. */
static void print_result(lg_t *lg)
{
    const lg_counts_t *n = &lg->n;
    uint64_t end = lg->last_event > lg->run_end ? lg->last_event : lg->run_end;
    double run_s = lg->run_start && end > lg->run_start ? (double)(end - lg->run_start) / 1e6 : 0;
    uint64_t count = lg->cfg.mode == M_HANDSHAKE ? n->handshakes : n->received;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lg_result_t r = {
        .cfg = &lg->cfg, .n = n, .lat = &lg->lat,
        .hs = lg->cfg.mode == M_HANDSHAKE ? &lg->lat : &lg->hs,
        .ready = lg->ready, .failed = lg->failed, .ramp_s = (double)lg->ramp_us / 1e6,
        .run_s = run_s,
        .rate = lg->cfg.mode == M_IDLE || run_s <= 0 ? 0 : (double)count / run_s,
        .cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6,
        .lost = n->lost, .interrupted = lg->interrupted};
    if (lg->cfg.mode == M_FANOUT)
        r.lost = n->expected > n->received ? n->expected - n->received : 0;
    lg_print_result(&r);
}

static void lg_dispose(lg_t *lg)
{
    for (uint32_t i = 0; i < lg->nall; i++) {
        buf_dispose(&lg->all[i]->rbuf);
        buf_dispose(&lg->all[i]->frag);
        buf_dispose(&lg->all[i]->wbuf);
        free(lg->all[i]);
    }
    free(lg->all);
    buf_dispose(&lg->msg);
    buf_dispose(&lg->frame);
    free(lg->pad);
    net_uring_free(lg->uring);
    free(lg->slots);
    free(lg);
}

int main(int argc, char **argv)
{
    lg_t *lg = xcalloc(1, sizeof(*lg));
    int rc = 2;
    int pa = lg_parse_args(&lg->cfg, argc, argv);
    if (pa != 0) {
        lg_usage(pa > 0 ? stdout : stderr);
        rc = pa > 0 ? 0 : 2;
        goto out_free;
    }
    if (lg_resolve(lg->cfg.host, lg->cfg.port, &lg->dst, lg->host_hdr, sizeof(lg->host_hdr)))
        goto out_free;
    uint64_t fds = lg_fd_budget();
    if (lg->cfg.mode != M_HANDSHAKE && (uint64_t)lg->cfg.conns + 1 > fds) {
        fprintf(stderr, "loadgen: %u clients need more fds than the %llu this process may "
                "open: run several processes (bench/run does)\n", lg->cfg.conns, (ull)fds);
        goto out_free;
    }
    /* Handshake mode: closing connections do not count as in flight, so cap them too. */
    lg->live_cap = (uint32_t)(fds < (uint64_t)lg->cfg.conns * 8 + 64 ? fds
                                                                     : lg->cfg.conns * 8 + 64);
    signal(SIGPIPE, SIG_IGN);
    if (getrandom(&lg->rng, sizeof(lg->rng), 0) != sizeof(lg->rng) || lg->rng == 0)
        lg->rng = uv_hrtime() | 1;
    lg->pad = xmalloc(lg->cfg.size + 1);
    memset(lg->pad, 'x', lg->cfg.size);
    lg_hist_init(&lg->lat);
    lg_hist_init(&lg->hs);
    lg->loop = uv_default_loop();
    lg->target = lg->cfg.conns + (lg->cfg.mode == M_FANOUT && !lg->cfg.recv_only ? 1 : 0);
    uv_timer_init(lg->loop, &lg->tick);
    lg->tick.data = lg;
    uv_signal_init(lg->loop, &lg->sigint);
    uv_signal_init(lg->loop, &lg->sigterm);
    lg->sigint.data = lg->sigterm.data = lg;
    uv_signal_start(&lg->sigint, on_signal, SIGINT);
    uv_signal_start(&lg->sigterm, on_signal, SIGTERM);
    lg->t0 = lg->phase_start = now_us();
    uv_timer_start(&lg->tick, on_tick, TICK_MS, TICK_MS);
    if (raw_init(lg) < 0)
        goto out_free;
    if (lg->cfg.mode == M_HANDSHAKE)
        lg_enter(lg, P_RUN);
    else
        lg_pump(lg);
    uv_run(lg->loop, UV_RUN_DEFAULT);
    close(lg->ep);
    print_result(lg);
    rc = lg->ready == 0 && lg->n.handshakes == 0 ? 1 : 0;
    uv_loop_close(lg->loop);
out_free:
    lg_dispose(lg);
    return rc;
}
