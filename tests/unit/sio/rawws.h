/*
 * rawws.h: a test fixture for the sio unit tests — a real sioc server and raw WebSocket
 * clients on one uv loop on loopback (STYLE rule 37). Header-only (static functions), so
 * each test binary includes it; it is not a test itself (no test_ prefix).
 *
 * Clients speak Engine.IO/Socket.IO by hand (masked text frames) and keep a log of the
 * text messages they received, one per line, so tests assert on exact wire bytes.
 * Teardown closes every client, stops and frees the server, and fails if a handle is
 * left open or the loop does not close.
 */
#ifndef SIOC_TESTS_RAWWS_H
#define SIOC_TESTS_RAWWS_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "sioc.h"
#include "ws/ws_frame.h"

#define RW_MAX_CLIENTS 64
#define RW_IN_CAP 65536
#define RW_LOG_CAP 65536

typedef struct rw_client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    char in[RW_IN_CAP];
    size_t n;
    bool upgraded;     /* 101 seen */
    bool closed;       /* the server closed the connection */
    bool answer_pings; /* reply "3" to "2" (default true) */
    int opens, connects, msgs, frames;
    char log[RW_LOG_CAP]; /* text messages, '\n'-separated */
    size_t log_len;
} rw_client_t;

typedef struct rw_fixture {
    uv_loop_t loop;
    sioc_server_t *srv;
    rw_client_t *clients; /* n of them */
    int n;
    int closed_handles;
} rw_fixture_t;

static rw_fixture_t rw;

static inline void rw_send_raw(rw_client_t *c, const void *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    cr_assert_eq(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)n);
}

/* Sends one masked text frame. */
static inline void rw_send(rw_client_t *c, const char *text)
{
    static uint8_t frame[8192];
    const uint8_t mask[4] = {9, 8, 7, 6};
    size_t len = strlen(text);
    cr_assert_lt(len, sizeof frame - 16);
    size_t h = ws_frame_header_encode_masked(frame, WS_OP_TEXT, true, false, len, mask);
    memcpy(frame + h, text, len);
    ws_frame_unmask(frame + h, len, mask, 0);
    rw_send_raw(c, frame, h + len);
}

static inline void rw_on_text(rw_client_t *c, const char *p, size_t len)
{
    if (len >= 2 && p[0] == '0' && p[1] == '{')
        c->opens++;
    else if (len >= 2 && p[0] == '4' && p[1] == '0')
        c->connects++;
    else if (len >= 8 && memcmp(p, "42[\"msg\"", 8) == 0)
        c->msgs++;
    if (len == 1 && p[0] == '2' && c->answer_pings)
        rw_send(c, "3");
    if (c->log_len + len + 1 < RW_LOG_CAP) {
        memcpy(c->log + c->log_len, p, len);
        c->log_len += len;
        c->log[c->log_len++] = '\n';
        c->log[c->log_len] = '\0';
    }
}

static inline void rw_parse(rw_client_t *c)
{
    size_t off = 0;
    while (c->n - off >= 2) {
        const uint8_t *p = (const uint8_t *)c->in + off;
        size_t hl = 2, len = p[1] & 0x7f;
        if (len == 126) {
            if (c->n - off < 4)
                break;
            len = (size_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (c->n - off < 10)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | p[i];
            hl = 10;
        }
        if (c->n - off < hl + len)
            break;
        c->frames++;
        if ((p[0] & 0x0f) == WS_OP_TEXT)
            rw_on_text(c, (const char *)p + hl, len);
        else if ((p[0] & 0x0f) == WS_OP_CLOSE)
            c->closed = true;
        off += hl + len;
    }
    memmove(c->in, c->in + off, c->n - off);
    c->n -= off;
}

static inline void rw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    rw_client_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->in + c->n, (unsigned)(RW_IN_CAP - c->n));
}

static inline void rw_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    rw_client_t *c = st->data;
    (void)buf;
    if (nread < 0) {
        c->closed = true;
        uv_read_stop(st);
        return;
    }
    c->n += (size_t)nread;
    if (!c->upgraded) {
        char *end = memmem(c->in, c->n, "\r\n\r\n", 4);
        if (!end)
            return;
        cr_assert(memcmp(c->in, "HTTP/1.1 101", 12) == 0, "upgrade refused");
        size_t hl = (size_t)(end + 4 - c->in);
        memmove(c->in, c->in + hl, c->n - hl);
        c->n -= hl;
        c->upgraded = true;
    }
    rw_parse(c);
}

static inline void rw_on_connect(uv_connect_t *req, int status)
{
    rw_client_t *c = req->data;
    static const char hs[] = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                             "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";
    cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
    uv_read_start((uv_stream_t *)&c->tcp, rw_alloc, rw_read);
    rw_send_raw(c, hs, sizeof hs - 1);
}

typedef bool (*rw_pred_fn)(void *arg);

/* Runs the loop until done(arg) or `ms` milliseconds passed; returns done(arg). */
static inline bool rw_run_until(rw_pred_fn done, void *arg, uint64_t ms)
{
    uv_update_time(&rw.loop);
    uint64_t start = uv_now(&rw.loop);
    while (!done(arg)) {
        if (uv_now(&rw.loop) - start >= ms)
            return false;
        uv_run(&rw.loop, UV_RUN_NOWAIT);
        uv_sleep(1);
        uv_update_time(&rw.loop);
    }
    return true;
}

static inline bool rw_all_open(void *arg)
{
    (void)arg;
    for (int i = 0; i < rw.n; i++) {
        if (rw.clients[i].opens < 1)
            return false;
    }
    return true;
}

/* The text `needle` appears in client `c`'s log. */
static inline bool rw_logged(rw_client_t *c, const char *needle)
{
    return strstr(c->log, needle) != NULL;
}

typedef struct rw_wait {
    rw_client_t *c;
    const char *needle;
} rw_wait_t;

static inline bool rw_pred_logged(void *arg)
{
    rw_wait_t *w = arg;
    return rw_logged(w->c, w->needle);
}

/* Waits (up to 5 s) until `needle` appears in the log of `c`; fails the test if not. */
static inline void rw_expect(rw_client_t *c, const char *needle)
{
    rw_wait_t w = {c, needle};
    cr_assert(rw_run_until(rw_pred_logged, &w, 5000), "never got %s; log:\n%s", needle, c->log);
}

/* Runs the loop for `ms` milliseconds. */
static inline bool rw_never(void *arg)
{
    (void)arg;
    return false;
}

static inline void rw_spin(uint64_t ms)
{
    rw_run_until(rw_never, NULL, ms);
}

/* Creates the server (cfg, own handlers set by `init`) and `n` open clients. */
static inline void rw_start(const sioc_config_t *cfg, void (*init)(sioc_server_t *), rw_client_t *cl,
                     int n)
{
    memset(&rw, 0, sizeof rw);
    cr_assert_eq(uv_loop_init(&rw.loop), 0);
    rw.srv = sioc_server_new(&rw.loop, cfg);
    cr_assert_not_null(rw.srv);
    if (init)
        init(rw.srv);
    cr_assert_eq(sioc_server_listen(rw.srv), 0);
    rw.clients = cl;
    rw.n = n;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", sioc_server_port(rw.srv), &addr);
    for (int i = 0; i < n; i++) {
        rw_client_t *c = &cl[i];
        memset(c, 0, sizeof *c);
        c->answer_pings = true;
        uv_tcp_init(&rw.loop, &c->tcp);
        c->tcp.data = c;
        c->creq.data = c;
        cr_assert_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, rw_on_connect), 0);
    }
    cr_assert(rw_run_until(rw_all_open, NULL, 5000), "clients did not open");
}

static inline void rw_on_closed(uv_handle_t *h)
{
    (void)h;
    rw.closed_handles++;
}

static inline void rw_count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static inline void rw_stop(void)
{
    for (int i = 0; i < rw.n; i++)
        uv_close((uv_handle_t *)&rw.clients[i].tcp, rw_on_closed);
    sioc_server_stop(rw.srv);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    sioc_server_free(rw.srv);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&rw.loop, rw_count_handle, &open);
    cr_assert_eq(open, 0, "%d handles left open", open);
    cr_assert_eq(rw.closed_handles, rw.n);
    cr_assert_eq(uv_loop_close(&rw.loop), 0);
}

#endif
