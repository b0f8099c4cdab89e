/* Real-loop loopback tests for src/net (STYLE rule 37): listeners on port 0, raw libuv
 * clients in the same loop, the flush hook, graceful close, slow consumers, the timer
 * heap and deferred calls. Every test ends with no handle open and uv_loop_close == 0.
 * test_net_loopback_plain.c runs the same tests with io_uring batching switched off. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rcbuf.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "net/net_timer.h"
#include "net/net_uring.h"

#ifndef NET_TEST_PLAIN
#define NET_TEST_PLAIN 0 /* 1: every send is its own sendmsg(2) (net_loop_config no_uring) */
#endif

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    buf_t got;        /* bytes received */
    bool eof;         /* saw EOF */
    bool closed;
    bool reading;
} client_t;

typedef struct world {
    uv_loop_t loop;
    net_loop_t *nl;
    net_listener_t *l;
    net_conn_t *server_side;
    net_conn_t *accepted[8];  /* the first connections accepted, in order */
    int server_closes;
    int close_status;
    buf_t server_got;
    int mode; /* what the server does with input, see on_srv_read */
    int accepts;             /* connections accepted */
    uint64_t turn;           /* loop turns counted by `turns` (a uv_check) */
    uint64_t accept_turn;    /* the turn of the last accept */
    int accepts_this_turn, max_accepts_per_turn;
    uv_check_t turns;
} world_t;

static world_t w;

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void setup(void)
{
    memset(&w, 0, sizeof w);
    cr_assert_eq(uv_loop_init(&w.loop), 0);
    net_loop_config_t cfg = {.max_out_bytes = 256 * 1024, .linger_ms = 200, .max_accepts = 4,
                             .no_uring = NET_TEST_PLAIN};
    w.nl = net_loop_new(&w.loop, &cfg);
}

static void teardown(void)
{
    if (w.l)
        net_listener_close(w.l);
    net_loop_free(w.nl);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&w.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles still open at teardown", open);
    cr_assert_eq(uv_loop_close(&w.loop), 0);
    buf_dispose(&w.server_got);
}

TestSuite(net, .init = setup, .fini = teardown, .timeout = 10);

/* ---- server side -------------------------------------------------------------- */

enum { MODE_ECHO, MODE_LINES, MODE_SINK, MODE_YIELD };

enum { YIELD_LINES = 4 }; /* MODE_YIELD: lines handled per read before yielding */

/* Echoes at most YIELD_LINES complete lines per call, then yields the rest. */
static size_t yield_lines(net_conn_t *c, slice_t d)
{
    size_t off = 0;
    for (int n = 0; n < YIELD_LINES; n++) {
        long nl = slice_index(slice_tail(d, off), '\n');
        if (nl < 0)
            return off;
        buf_append(&w.server_got, d.ptr + off, (size_t)nl + 1);
        net_conn_write(c, d.ptr + off, (size_t)nl + 1);
        off += (size_t)nl + 1;
    }
    if (off < d.len)
        net_conn_yield(c);
    return off;
}

/* Consumes complete lines only: exercises the kept-tail path. */
static size_t consume_lines(net_conn_t *c, slice_t d)
{
    long nl = -1;
    for (size_t i = d.len; i > 0; i--) {
        if (d.ptr[i - 1] == '\n') {
            nl = (long)i;
            break;
        }
    }
    if (nl < 0)
        return 0;
    buf_append(&w.server_got, d.ptr, (size_t)nl);
    net_conn_write(c, d.ptr, (size_t)nl);
    return (size_t)nl;
}

static size_t on_srv_read(net_conn_t *c, slice_t d)
{
    if (w.mode == MODE_LINES)
        return consume_lines(c, d);
    if (w.mode == MODE_YIELD)
        return yield_lines(c, d);
    buf_append(&w.server_got, d.ptr, d.len);
    if (w.mode == MODE_ECHO)
        net_conn_write(c, d.ptr, d.len);
    return d.len;
}

static void on_srv_close(net_conn_t *c, int status)
{
    (void)c;
    w.server_closes++;
    w.close_status = status;
    w.server_side = NULL;
}

static const net_conn_ops_t srv_ops = {.on_read = on_srv_read, .on_close = on_srv_close};

static void on_accept(net_listener_t *l, net_conn_t *c)
{
    (void)l;
    w.accepts++;
    if (w.accept_turn != w.turn) {
        w.accept_turn = w.turn;
        w.accepts_this_turn = 0;
    }
    if (++w.accepts_this_turn > w.max_accepts_per_turn)
        w.max_accepts_per_turn = w.accepts_this_turn;
    w.server_side = c;
    if (w.accepts <= 8)
        w.accepted[w.accepts - 1] = c;
    net_conn_set_ops(c, &srv_ops, NULL);
}

static int listen_on(const char *host)
{
    int r = net_listener_new(w.nl, host, 0, on_accept, NULL, &w.l);
    cr_assert_eq(r, 0, "listen %s: %s", host, uv_strerror(r));
    int port = net_listener_port(w.l);
    cr_assert_gt(port, 0);
    return port;
}

/* ---- client side -------------------------------------------------------------- */

static void cli_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(s);
    b->len = s;
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client_t *c = s->data;
    if (n > 0)
        buf_append(&c->got, b->base, (size_t)n);
    else if (n < 0)
        c->eof = true;
    free(b->base);
}

static void cli_on_connect(uv_connect_t *req, int status)
{
    client_t *c = req->data;
    cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
    if (c->reading)
        uv_read_start((uv_stream_t *)&c->tcp, cli_alloc, cli_read);
}

static void cli_connect(client_t *c, const char *ip, int port, bool reading)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_storage ss;
    if (strchr(ip, ':'))
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss);
    else
        uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
    uv_tcp_init(&w.loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->reading = reading;
    cr_assert_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, cli_on_connect), 0);
}

static void cli_write(client_t *c, const char *s)
{
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
    cr_assert_eq(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)strlen(s));
}

static void cli_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    c->closed = true;
    buf_dispose(&c->got);
}

static void cli_close(client_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, cli_closed);
}

/* Runs the loop until `cond` holds or `ms` pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t t0_ = uv_now(&w.loop);                                                            \
        while (!(cond) && uv_now(&w.loop) - t0_ < (ms))                                            \
            uv_run(&w.loop, UV_RUN_ONCE);                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

static void nudge(net_timer_t *t)
{
    (void)t;
}

/* A timer that keeps uv_run(ONCE) from blocking forever while we poll conditions. */
static net_timer_t ticker;
static void tick(net_timer_t *t)
{
    net_timer_start(w.nl, t, 10, tick);
}

/* ---- tests -------------------------------------------------------------------- */

Test(net, echo_ipv4)
{
    net_timer_init(&ticker);
    tick(&ticker);
    int port = listen_on("127.0.0.1");
    client_t c;
    cli_connect(&c, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    cli_write(&c, "hello ");
    cli_write(&c, "world");
    RUN_UNTIL(c.got.len == 11, 2000);
    cr_assert(slice_eq_cstr(buf_slice(&c.got), "hello world"));
    cr_assert_geq(net_loop_stats(w.nl)->conns_accepted, 1);
    char addr[64];
    cr_assert_eq(net_conn_remote_addr(w.server_side, addr, sizeof addr), 0);
    cr_assert(strncmp(addr, "127.0.0.1:", 10) == 0, "%s", addr);
    cli_close(&c);
    RUN_UNTIL(w.server_closes == 1 && c.closed, 2000);
    cr_assert_eq(w.close_status, UV_EOF);
    net_timer_stop(&ticker);
}

Test(net, localhost_serves_ipv4_and_ipv6)
{
    net_timer_init(&ticker);
    tick(&ticker);
    int port = listen_on("localhost");
    client_t c4, c6;
    cli_connect(&c4, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    cli_write(&c4, "v4");
    RUN_UNTIL(c4.got.len == 2, 2000);
    cli_close(&c4);
    RUN_UNTIL(w.server_closes == 1, 2000);
    w.server_side = NULL;
    uv_tcp_t probe;
    struct sockaddr_in6 a6;
    uv_ip6_addr("::1", 0, &a6);
    uv_tcp_init(&w.loop, &probe);
    bool have_v6 = uv_tcp_bind(&probe, (struct sockaddr *)&a6, 0) == 0;
    uv_close((uv_handle_t *)&probe, NULL);
    if (have_v6) {
        cli_connect(&c6, "::1", port, true);
        RUN_UNTIL(w.server_side != NULL, 2000);
        cli_write(&c6, "v6");
        RUN_UNTIL(c6.got.len == 2, 2000);
        cli_close(&c6);
        RUN_UNTIL(w.server_closes == 2, 2000);
    }
    net_timer_stop(&ticker);
}

Test(net, unknown_host_is_einval)
{
    net_listener_t *l = NULL;
    cr_assert_eq(net_listener_new(w.nl, "no.such.host", 0, on_accept, NULL, &l), UV_EINVAL);
    cr_assert_null(l);
}

Test(net, partial_input_is_kept_until_consumed)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_LINES;
    int port = listen_on("127.0.0.1");
    client_t c;
    cli_connect(&c, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    cli_write(&c, "ab");
    RUN_UNTIL(w.server_side && uv_now(&w.loop) > 0, 100);
    for (int i = 0; i < 5; i++)
        uv_run(&w.loop, UV_RUN_ONCE);
    cr_assert_eq(w.server_got.len, 0);
    cli_write(&c, "c\nde");
    RUN_UNTIL(c.got.len == 4, 2000);
    cli_write(&c, "f\n");
    RUN_UNTIL(c.got.len == 8, 2000);
    cr_assert(slice_eq_cstr(buf_slice(&w.server_got), "abc\ndef\n"));
    cli_close(&c);
    RUN_UNTIL(w.server_closes == 1, 2000);
    net_timer_stop(&ticker);
}

Test(net, shared_rcbuf_is_referenced_not_copied)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_SINK;
    int port = listen_on("127.0.0.1");
    client_t c;
    cli_connect(&c, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    rcbuf_t *rc = rcbuf_from(SLICE_LIT("shared-frame;"));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(net_conn_write_rcbuf(w.server_side, rc), 0);
    cr_assert_eq(rc->refs, 4, "three queued references plus ours");
    cr_assert_eq(net_conn_buffered(w.server_side), 3 * rc->len);
    net_conn_write(w.server_side, "tail", 4);
    uint64_t calls = net_loop_stats(w.nl)->flush_sends;
    RUN_UNTIL(c.got.len == 3 * rc->len + 4, 2000);
    cr_assert_eq(net_loop_stats(w.nl)->flush_sends - calls, 1, "one write for the batch");
    cr_assert_eq(rc->refs, 1, "queue references released after the write");
    cr_assert(slice_eq_cstr(buf_slice(&c.got), "shared-frame;shared-frame;shared-frame;tail"));
    rcbuf_unref(rc);
    cli_close(&c);
    RUN_UNTIL(w.server_closes == 1, 2000);
    net_timer_stop(&ticker);
}

/* A sink server with one reading client connected, and BLOCKS blocks of `fill` queued on
 * the server side: the start of the close tests. */
enum { BLOCK = 50000, BLOCKS = 4 };
static void sink_with_queued_blocks(client_t *c, char fill)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_SINK;
    int port = listen_on("127.0.0.1");
    cli_connect(c, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    static char block[BLOCK];
    memset(block, fill, sizeof block);
    for (int i = 0; i < BLOCKS; i++)
        cr_assert_eq(net_conn_write(w.server_side, block, sizeof block), 0);
}

Test(net, graceful_close_delivers_everything_then_eof)
{
    client_t c;
    sink_with_queued_blocks(&c, 'z');
    net_conn_close(w.server_side, NET_CLOSE_GRACEFUL);
    cr_assert_eq(w.server_closes, 0, "on_close never runs synchronously");
    cr_assert_eq(net_conn_write(w.server_side, "x", 1), UV_EPIPE);
    RUN_UNTIL(c.eof, 3000);
    cr_assert_eq(c.got.len, BLOCKS * BLOCK);
    cli_close(&c);
    RUN_UNTIL(w.server_closes == 1, 2000);
    cr_assert_eq(w.close_status, 0);
    net_timer_stop(&ticker);
}

/* A linger far longer than any test: a close that waited for the peer would hang. */
static void setup_long_linger(void)
{
    setup();
    net_loop_free(w.nl);
    uv_run(&w.loop, UV_RUN_NOWAIT);
    net_loop_config_t cfg = {.max_out_bytes = 256 * 1024, .linger_ms = 60000, .max_accepts = 4};
    w.nl = net_loop_new(&w.loop, &cfg);
}

/* NET_CLOSE_NO_LINGER: everything queued arrives, then EOF, and the server side is gone
 * while the peer still holds its end open (no wait for the peer's EOF). */
Test(net, no_linger_close_delivers_everything_and_does_not_wait, .init = setup_long_linger)
{
    client_t c;
    sink_with_queued_blocks(&c, 'n');
    net_conn_close(w.server_side, NET_CLOSE_NO_LINGER);
    cr_assert_eq(w.server_closes, 0, "on_close never runs synchronously");
    cr_assert_eq(net_conn_write(w.server_side, "x", 1), UV_EPIPE);
    RUN_UNTIL(c.eof && w.server_closes == 1, 3000);
    cr_assert_eq(c.got.len, BLOCKS * BLOCK);
    cr_assert_eq(w.close_status, 0);
    cr_assert(!c.closed, "the server closed before the client let go");
    cli_close(&c);
    RUN_UNTIL(c.closed, 2000);
    net_timer_stop(&ticker);
}

/* A graceful close upgraded to no-linger while it already waits for the peer's EOF
 * stops waiting. */
Test(net, no_linger_ends_a_graceful_close_that_waits, .init = setup_long_linger)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_SINK;
    int port = listen_on("127.0.0.1");
    client_t c;
    cli_connect(&c, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    cr_assert_eq(net_conn_write(w.server_side, "bye", 3), 0);
    net_conn_t *s = w.server_side;
    net_conn_close(s, NET_CLOSE_GRACEFUL);
    RUN_UNTIL(c.eof, 3000); /* FIN sent: the server now lingers for our EOF */
    cr_assert_eq(w.server_closes, 0, "a graceful close waits for the peer's EOF");
    net_conn_close(s, NET_CLOSE_NO_LINGER);
    RUN_UNTIL(w.server_closes == 1, 3000);
    cr_assert(slice_eq_cstr(buf_slice(&c.got), "bye"));
    cli_close(&c);
    RUN_UNTIL(c.closed, 2000);
    net_timer_stop(&ticker);
}

Test(net, slow_consumer_is_closed)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_SINK;
    int port = listen_on("127.0.0.1");
    client_t c;
    cli_connect(&c, "127.0.0.1", port, false); /* never reads */
    RUN_UNTIL(w.server_side != NULL, 2000);
    static char block[16384];
    memset(block, 'q', sizeof block);
    int r = 0;
    for (int i = 0; i < 10000 && r == 0 && w.server_side; i++) {
        r = net_conn_write(w.server_side, block, sizeof block);
        uv_run(&w.loop, UV_RUN_NOWAIT);
    }
    cr_assert(r == UV_ENOBUFS || r == UV_EPIPE, "r=%d", r);
    RUN_UNTIL(w.server_closes == 1, 2000);
    cr_assert_eq(w.close_status, UV_ENOBUFS);
    cr_assert_eq(net_loop_stats(w.nl)->slow_consumer_closes, 1);
    cli_close(&c);
    RUN_UNTIL(c.closed, 2000);
    net_timer_stop(&ticker);
}

/* One flush pass with sends to several connections, one of them far more than its
 * socket takes at once: every client gets exactly its bytes, in order; the sends were
 * batched through io_uring unless that was switched off or is missing here. */
static void flush_to_many(bool may_batch)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_SINK;
    int port = listen_on("127.0.0.1");
    enum { N = 5, BIG = 6 << 20 };
    static client_t cs[N];
    for (int i = 0; i < N; i++) {
        cli_connect(&cs[i], "127.0.0.1", port, true);
        RUN_UNTIL(w.accepts == i + 1, 2000);
    }
    static char big[BIG];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 23);
    net_conn_set_max_out(w.accepted[0], 2 * BIG);
    uint64_t batches0 = net_loop_stats(w.nl)->send_batches;
    cr_assert_eq(net_conn_write(w.accepted[0], big, sizeof big), 0);
    for (int i = 1; i < N; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "to client %d", i);
        cr_assert_eq(net_conn_write(w.accepted[i], msg, (size_t)n), 0);
        cr_assert_eq(net_conn_write(w.accepted[i], "!", 1), 0);
    }
    RUN_UNTIL(cs[0].got.len == sizeof big && cs[N - 1].got.len == 12, 5000);
    cr_assert_eq(memcmp(buf_data(&cs[0].got), big, sizeof big), 0, "the big write is intact");
    for (int i = 1; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "to client %d!", i);
        RUN_UNTIL(cs[i].got.len == strlen(want), 2000);
        cr_assert(slice_eq_cstr(buf_slice(&cs[i].got), want), "client %d", i);
    }
    net_uring_t *probe = net_uring_new(1);
    bool batching = probe && may_batch;
    net_uring_free(probe);
    uint64_t batches = net_loop_stats(w.nl)->send_batches - batches0;
    if (batching)
        cr_assert_geq(batches, 1, "the flush went through io_uring");
    else
        cr_assert_eq(batches, 0, "no io_uring submission in plain mode");
    for (int i = 0; i < N; i++)
        cli_close(&cs[i]);
    RUN_UNTIL(w.server_closes == N, 2000);
    net_timer_stop(&ticker);
}

Test(net, one_flush_to_many_with_a_short_write)
{
    flush_to_many(!NET_TEST_PLAIN);
}

#if !NET_TEST_PLAIN
/* SIOC_NO_URING=1 in the environment switches batching off for loops created after. */
static void setup_env_plain(void)
{
    setenv("SIOC_NO_URING", "1", 1); /* each test runs in its own process */
    setup();
}

Test(net, sioc_no_uring_in_the_environment_sends_one_by_one, .init = setup_env_plain)
{
    flush_to_many(false);
}
#endif

/* ---- timers and defers -------------------------------------------------------- */

typedef struct probe {
    net_timer_t t;
    int order;
    uint64_t fired_at;
} probe_t;

static int fire_seq;

static void on_probe(net_timer_t *t)
{
    probe_t *p = NET_CONTAINER_OF(t, probe_t, t);
    p->order = ++fire_seq;
    p->fired_at = uv_now(&w.loop);
}

Test(net, timers_fire_in_order_with_ms_accuracy)
{
    probe_t p[4];
    const uint64_t ms[4] = {300, 50, 200, 120};
    uint64_t t0 = uv_now(&w.loop);
    for (int i = 0; i < 4; i++) {
        net_timer_init(&p[i].t);
        p[i].order = 0;
        net_timer_start(w.nl, &p[i].t, ms[i], on_probe);
    }
    probe_t stopped;
    net_timer_init(&stopped.t);
    stopped.order = 0;
    net_timer_start(w.nl, &stopped.t, 10, on_probe);
    net_timer_stop(&stopped.t);
    cr_assert_not(net_timer_is_active(&stopped.t));
    cr_assert_eq(net_timer_count(w.nl), 4);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* returns when no timer is left */
    cr_assert_eq(stopped.order, 0);
    cr_assert_eq(p[1].order, 1);
    cr_assert_eq(p[3].order, 2);
    cr_assert_eq(p[2].order, 3);
    cr_assert_eq(p[0].order, 4);
    for (int i = 0; i < 4; i++) {
        uint64_t dt = p[i].fired_at - t0;
        cr_assert(dt >= ms[i] && dt < ms[i] + 100, "timer %llu fired after %llu ms",
                  (unsigned long long)ms[i], (unsigned long long)dt);
    }
}

#define NT 5000
static probe_t many[NT];
static uint64_t last_due;
static bool out_of_order;

static void on_many(net_timer_t *t)
{
    if (net_timer_due(t) < last_due)
        out_of_order = true;
    last_due = net_timer_due(t);
    fire_seq++;
}

Test(net, thousands_of_timers_with_random_restart_and_stop)
{
    srand(7);
    for (int i = 0; i < NT; i++) {
        net_timer_init(&many[i].t);
        net_timer_start(w.nl, &many[i].t, (uint64_t)(rand() % 200), on_many);
    }
    int stopped = 0;
    for (int i = 0; i < NT; i++) {
        int k = rand() % 3;
        if (k == 0) {
            net_timer_stop(&many[i].t);
            stopped++;
        } else if (k == 1) {
            net_timer_start(w.nl, &many[i].t, (uint64_t)(rand() % 200), on_many);
        }
    }
    cr_assert_eq(net_timer_count(w.nl), (size_t)(NT - stopped));
    fire_seq = 0;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    cr_assert_eq(fire_seq, NT - stopped);
    cr_assert_not(out_of_order);
    cr_assert_eq(net_timer_count(w.nl), 0);
}

static net_timer_t self_timer;
static int self_runs;
static void on_self(net_timer_t *t)
{
    if (++self_runs < 5)
        net_timer_start(w.nl, t, 0, on_self); /* re-arming with 0 must not spin */
}

Test(net, timer_restarting_itself_with_zero)
{
    net_timer_init(&self_timer);
    net_timer_start(w.nl, &self_timer, 0, on_self);
    cr_assert_eq(self_runs, 0, "never synchronous");
    uv_run(&w.loop, UV_RUN_DEFAULT);
    cr_assert_eq(self_runs, 5);
    (void)nudge;
}

typedef struct deferred {
    net_defer_t d;
    int runs;
} deferred_t;

static void on_deferred(net_defer_t *d)
{
    NET_CONTAINER_OF(d, deferred_t, d)->runs++;
}

Test(net, defer_runs_once_from_the_loop)
{
    deferred_t x = {0};
    net_loop_defer(w.nl, &x.d, on_deferred);
    net_loop_defer(w.nl, &x.d, on_deferred); /* already queued: no-op */
    cr_assert(net_defer_is_pending(&x.d));
    cr_assert_eq(x.runs, 0);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* the pending defer keeps the loop alive once */
    cr_assert_eq(x.runs, 1);
    cr_assert_not(net_defer_is_pending(&x.d));
}

/* ---- bounded work per event (STYLE rule 26) ----------------------------------- */

static void on_turn(uv_check_t *h)
{
    (void)h;
    w.turn++;
}

enum { NCLIENTS = 40 };

Test(net, accepts_per_turn_are_capped)
{
    net_timer_init(&ticker);
    tick(&ticker);
    uv_check_init(&w.loop, &w.turns);
    uv_check_start(&w.turns, on_turn);
    uv_unref((uv_handle_t *)&w.turns);
    int port = listen_on("127.0.0.1");
    static client_t c[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++)
        cli_connect(&c[i], "127.0.0.1", port, true);
    RUN_UNTIL(w.accepts == NCLIENTS, 5000);
    cr_assert_leq(w.max_accepts_per_turn, 4, "%d accepts in one turn",
                  w.max_accepts_per_turn);
    cr_assert_geq(net_loop_stats(w.nl)->accepts_deferred, 1);
    for (int i = 0; i < NCLIENTS; i++)
        cli_write(&c[i], "ping");
    RUN_UNTIL(({
                  bool all = true;
                  for (int i = 0; i < NCLIENTS; i++)
                      all = all && c[i].got.len == 4;
                  all;
              }),
              3000);
    for (int i = 0; i < NCLIENTS; i++)
        cli_close(&c[i]);
    RUN_UNTIL(w.server_closes == NCLIENTS, 3000);
    uv_close((uv_handle_t *)&w.turns, NULL);
    net_timer_stop(&ticker);
}

Test(net, listener_closed_with_an_accept_pending)
{
    net_timer_init(&ticker);
    tick(&ticker);
    int port = listen_on("127.0.0.1");
    static client_t c[12];
    for (int i = 0; i < 12; i++)
        cli_connect(&c[i], "127.0.0.1", port, true);
    RUN_UNTIL(w.accepts >= 4, 3000);
    cr_assert_eq(w.accepts, 4, "the first turn takes 4");
    cr_assert_eq(net_loop_stats(w.nl)->accepts_deferred, 1);
    net_listener_close(w.l); /* a connection is held pending: closed with it */
    w.l = NULL;
    for (int i = 0; i < 20; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    for (int i = 0; i < 12; i++)
        cli_close(&c[i]);
    RUN_UNTIL(w.server_closes == w.accepts, 3000);
    net_timer_stop(&ticker);
}

enum { NLINES = 2000 };

Test(net, yielded_backlog_is_served_in_order_with_others_in_between)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_YIELD;
    int port = listen_on("127.0.0.1");
    client_t a, b;
    cli_connect(&a, "127.0.0.1", port, true);
    RUN_UNTIL(w.accepts == 1, 2000);
    cli_connect(&b, "127.0.0.1", port, true);
    RUN_UNTIL(w.accepts == 2, 2000);
    buf_t burst = BUF_INIT;
    char line[16];
    for (int i = 0; i < NLINES; i++) {
        int k = snprintf(line, sizeof line, "a%05d\n", i);
        buf_append(&burst, line, (size_t)k);
    }
    uv_buf_t ub = uv_buf_init((char *)buf_data(&burst), (unsigned)burst.len);
    cr_assert_eq(uv_try_write((uv_stream_t *)&a.tcp, &ub, 1), (int)burst.len);
    cli_write(&b, "b\n");
    RUN_UNTIL(a.got.len == burst.len && b.got.len == 2, 5000);
    cr_assert(slice_eq(buf_slice(&a.got), buf_slice(&burst)), "echoes complete and in order");
    const uint8_t *srv = buf_data(&w.server_got);
    const uint8_t *bpos = memmem(srv, w.server_got.len, "b\n", 2);
    cr_assert_not_null(bpos);
    size_t a_before_b = (size_t)(bpos - srv) / 7;
    cr_assert_lt(a_before_b, NLINES / 4, "b waited for %zu of a's lines", a_before_b);
    cr_assert_geq(net_loop_stats(w.nl)->reads_yielded, NLINES / YIELD_LINES / 2);
    buf_dispose(&burst);
    cli_close(&a);
    cli_close(&b);
    RUN_UNTIL(w.server_closes == 2, 2000);
    net_timer_stop(&ticker);
}

Test(net, close_while_yielded)
{
    net_timer_init(&ticker);
    tick(&ticker);
    w.mode = MODE_YIELD;
    int port = listen_on("127.0.0.1");
    client_t a;
    cli_connect(&a, "127.0.0.1", port, true);
    RUN_UNTIL(w.server_side != NULL, 2000);
    cli_write(&a, "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
    RUN_UNTIL(w.server_side && net_conn_is_yielded(w.server_side), 2000);
    net_conn_close(w.server_side, NET_CLOSE_ABORT);
    RUN_UNTIL(w.server_closes == 1, 2000);
    cr_assert_eq(w.server_got.len, 8, "nothing handled after the close");
    cli_close(&a);
    RUN_UNTIL(a.closed, 2000);
    net_timer_stop(&ticker);
}
