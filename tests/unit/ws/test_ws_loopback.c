/* Real-loop loopback tests for src/ws/ws_conn's per-read work cap (STYLE rules 26, 37):
 * an http_server on 127.0.0.1 port 0 accepting WebSockets that echo, and raw libuv
 * clients in the same loop. One client pipelines 10 000 messages in a single write;
 * every echo must come back, in order, and a second client's message must be served
 * while the first one's backlog is still being worked through. Every test ends with no
 * handle open and uv_loop_close == 0. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "net/net_timer.h"
#include "ws/ws_conn.h"

enum { BURST = 10000 };

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    buf_t out;         /* what this client wrote (kept alive for uv_write) */
    buf_t in;          /* bytes received and not parsed yet */
    bool connected;
    bool upgraded;     /* the 101 head was received */
    bool closed;
    bool written;
    int echoes;        /* echo frames received */
    bool in_order;     /* echo i carried message i */
    char tag;          /* 'A' or 'B' */
} client_t;

typedef struct world {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    ws_config_t cfg;
    int port;
    int ws_open;           /* server-side WebSockets not closed yet */
    int a_handled;         /* messages of client A handled by the server */
    int b_handled;
    int a_handled_at_b;    /* a_handled when B's message was handled */
    int a_echoes_at_b;     /* echoes client A had received when B got its echo */
    client_t a, b;
} world_t;

static world_t w;
static net_timer_t ticker;

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void tick(net_timer_t *t)
{
    net_timer_start(w.nl, t, 5, tick);
}

/* ---- server: echo every message ------------------------------------------------------ */

static void srv_message(ws_conn_t *ws, bool bin, slice_t msg)
{
    if (msg.len && msg.ptr[0] == 'A') {
        w.a_handled++;
    } else if (msg.len && msg.ptr[0] == 'B') {
        w.b_handled++;
        w.a_handled_at_b = w.a_handled;
    }
    ws_send(ws, bin, msg);
}

static void srv_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    (void)ws;
    (void)code;
    (void)reason;
    w.ws_open--;
}

static const ws_handler_ops_t srv_ops = {.on_message = srv_message, .on_close = srv_close};

static void on_request(http_req_t *req, void *user)
{
    (void)user;
    if (ws_accept(req, &w.cfg, slice_make(NULL, 0), &srv_ops, NULL))
        w.ws_open++;
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    memset(&w, 0, sizeof w);
    cr_assert_eq(uv_loop_init(&w.loop), 0);
    w.nl = net_loop_new(&w.loop, NULL);
    w.srv = http_server_new(w.nl, NULL, on_request, NULL);
    cr_assert_eq(http_server_listen(w.srv, "127.0.0.1", 0), 0);
    w.port = http_server_port(w.srv);
    w.a_handled_at_b = -1;
    w.a_echoes_at_b = -1;
    net_timer_init(&ticker);
    tick(&ticker);
}

static void teardown(void)
{
    net_timer_stop(&ticker);
    http_server_free(w.srv);
    net_loop_free(w.nl);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&w.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles still open at teardown", open);
    cr_assert_eq(uv_loop_close(&w.loop), 0);
}

TestSuite(ws_loopback, .init = setup, .fini = teardown, .timeout = 30);

#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t t0_ = uv_now(&w.loop);                                                            \
        while (!(cond) && uv_now(&w.loop) - t0_ < (ms))                                            \
            uv_run(&w.loop, UV_RUN_ONCE);                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

/* ---- clients ---------------------------------------------------------------------------- */

static const char upgrade[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

static void cli_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(s);
    b->len = s;
}

/* Parses the echo frames received so far; checks they carry "<tag><index>". */
static void parse_echoes(client_t *c)
{
    const uint8_t *p = buf_data(&c->in);
    size_t len = c->in.len, off = 0;
    for (;;) {
        ws_frame_header_t h;
        int hl = ws_frame_parse_header(p + off, len - off, 0, &h, NULL);
        cr_assert_geq(hl, 0, "bad frame from the server");
        if (hl == WS_FRAME_NEED_MORE || len - off - (size_t)hl < h.payload_len)
            break;
        char want[16];
        int k = snprintf(want, sizeof want, "%c%05d", c->tag, c->echoes);
        const uint8_t *pl = p + off + hl;
        if (h.opcode != WS_OP_TEXT || h.payload_len != (uint64_t)k || memcmp(pl, want, (size_t)k))
            c->in_order = false;
        c->echoes++;
        if (c->tag == 'B' && w.a_echoes_at_b < 0)
            w.a_echoes_at_b = w.a.echoes;
        off += (size_t)hl + h.payload_len;
    }
    buf_consume(&c->in, off);
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client_t *c = s->data;
    if (n > 0)
        buf_append(&c->in, b->base, (size_t)n);
    free(b->base);
    if (n <= 0)
        return;
    if (!c->upgraded) {
        const uint8_t *d = buf_data(&c->in);
        const uint8_t *e = memmem(d, c->in.len, "\r\n\r\n", 4);
        if (!e)
            return;
        cr_assert(memcmp(d, "HTTP/1.1 101 ", 13) == 0);
        buf_consume(&c->in, (size_t)(e + 4 - d));
        c->upgraded = true;
    }
    parse_echoes(c);
}

static void cli_on_connect(uv_connect_t *req, int status)
{
    client_t *c = req->data;
    cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
    c->connected = true;
    uv_read_start((uv_stream_t *)&c->tcp, cli_alloc, cli_read);
}

static void cli_open(client_t *c, char tag)
{
    memset(c, 0, sizeof *c);
    c->tag = tag;
    c->in_order = true;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", w.port, &a);
    uv_tcp_init(&w.loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    cr_assert_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, cli_on_connect), 0);
    RUN_UNTIL(c->connected, 2000);
    uv_buf_t b = uv_buf_init((char *)upgrade, sizeof upgrade - 1);
    cr_assert_eq(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)sizeof upgrade - 1);
    RUN_UNTIL(c->upgraded, 2000);
}

static void cli_written(uv_write_t *req, int status)
{
    client_t *c = req->data;
    cr_assert_eq(status, 0);
    c->written = true;
}

/* Queues `n` masked text frames "<tag><index>" and sends them with ONE write. */
static void cli_burst(client_t *c, int n)
{
    static const uint8_t key[4] = {9, 8, 7, 6};
    for (int i = 0; i < n; i++) {
        char m[16];
        int k = snprintf(m, sizeof m, "%c%05d", c->tag, i);
        uint8_t hdr[WS_FRAME_HEADER_MAX_MASKED];
        size_t hl = ws_frame_header_encode_masked(hdr, WS_OP_TEXT, true, false, (size_t)k, key);
        buf_append(&c->out, hdr, hl);
        uint8_t *d = buf_reserve(&c->out, (size_t)k);
        memcpy(d, m, (size_t)k);
        ws_frame_unmask(d, (size_t)k, key, 0);
        buf_commit(&c->out, (size_t)k);
    }
    uv_buf_t b = uv_buf_init((char *)buf_data(&c->out), (unsigned)c->out.len);
    c->wreq.data = c;
    cr_assert_eq(uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, cli_written), 0);
}

static void cli_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    c->closed = true;
    buf_dispose(&c->in);
    buf_dispose(&c->out);
}

static void cli_close(client_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, cli_closed);
    RUN_UNTIL(c->closed, 2000);
}

/* ---- tests ------------------------------------------------------------------------------ */

Test(ws_loopback, burst_of_10k_is_echoed_in_order_and_another_client_gets_in_between)
{
    cli_open(&w.a, 'A');
    cli_open(&w.b, 'B');
    RUN_UNTIL(w.ws_open == 2, 2000);
    uint64_t yields0 = net_loop_stats(w.nl)->reads_yielded;
    cli_burst(&w.a, BURST); /* ~120 KB in one write */
    cli_burst(&w.b, 1);     /* queued right behind it, from another connection */
    RUN_UNTIL(w.a.echoes == BURST && w.b.echoes == 1, 20000);
    cr_assert(w.a.in_order, "client A's echoes are complete and in order");
    cr_assert(w.b.in_order);
    cr_assert_eq(w.a_handled, BURST);
    cr_assert_eq(w.b_handled, 1);
    cr_log_info("B was handled after %d of A's %d messages; B's echo arrived after %d of A's "
                "echoes; %llu yields", w.a_handled_at_b, BURST, w.a_echoes_at_b,
                (unsigned long long)(net_loop_stats(w.nl)->reads_yielded - yields0));
    cr_assert_lt(w.a_handled_at_b, BURST / 4,
                 "B must be served while A's backlog is worked through (after %d)",
                 w.a_handled_at_b);
    cr_assert_lt(w.a_echoes_at_b, BURST, "B's echo must not wait for all of A's");
    cr_assert_geq(net_loop_stats(w.nl)->reads_yielded - yields0, BURST / 64 / 2);
    cli_close(&w.a);
    cli_close(&w.b);
    RUN_UNTIL(w.ws_open == 0, 5000);
}

Test(ws_loopback, client_gone_with_a_backlog)
{
    cli_open(&w.a, 'A');
    RUN_UNTIL(w.ws_open == 1, 2000);
    cli_burst(&w.a, BURST);
    RUN_UNTIL(w.a.written && w.a_handled > 0, 5000);
    cli_close(&w.a); /* the server still holds part of the burst: freed with the conn */
    RUN_UNTIL(w.ws_open == 0, 5000);
    cr_assert_leq(w.a_handled, BURST);
    cr_assert_eq(net_loop_stats(w.nl)->conns_open, 0);
}
