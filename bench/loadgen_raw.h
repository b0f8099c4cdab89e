/*
 * loadgen_raw.h: handshake mode's plain sockets, for bench/loadgen.c (bench, not the
 * library). Included by loadgen.c once, after the connection functions it calls
 * (make_upgrade, conn_fail, conn_set_state, conn_open, conn_input, on_eof, reap_closed);
 * conn_start, conn_write, conn_try_send and conn_close branch here when lg->raw is set.
 * One thread.
 */
#ifndef SIOC_BENCH_LOADGEN_RAW_H
#define SIOC_BENCH_LOADGEN_RAW_H

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"
#include "loadgen_net.h"

/* ---- handshake mode: plain sockets ---------------------------------------------------
 *
 * Handshake mode measures how fast a server takes new connections, so the client's own
 * cost per cycle bounds how far it can push a fast server (both servers run against the
 * same client, so a cheaper client only lifts that bound). libuv streams cost syscalls
 * that the cycle does not need: FIONBIO, SO_ERROR, an epoll ADD that fails with EEXIST
 * and then a MOD after connecting, an epoll DEL before close, and a read for an EOF
 * that epoll already reported. Here a cycle is socket (+ bind), connect, the upgrade
 * request written at once (on loopback the connection is up when connect(2) returns;
 * else it goes on EPOLLOUT), one epoll ADD, a read or write per packet, and close, which
 * also leaves the epoll set. EPOLLRDHUP says that the server's FIN follows the bytes just
 * read. The epoll set is watched by one uv_poll_t, so the tick timer and the signals stay
 * on the libuv loop. TCP_NODELAY is not set: each client packet is written after a read
 * that acknowledged every earlier one, so Nagle's algorithm never holds one back.
 */

/* Sends the upgrade request: true once it is out, false while the socket still
 * connects (or after failing the connection, which is then closing). */
static bool raw_send_upgrade(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    make_upgrade(c);
    int e = lg_raw_send(c->fd, buf_data(&lg->msg), lg->msg.len);
    if (e == -EAGAIN)
        return false;
    if (e < 0) {
        conn_fail(c, E_CONNECT, strerror(-e));
        return false;
    }
    lg->n.bytes_out += lg->msg.len;
    conn_set_state(c, CS_HTTP);
    return true;
}

static void raw_watch(lg_conn_t *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(c->lg->ep, op, c->fd, &ev) < 0)
        conn_fail(c, E_CONNECT, strerror(errno));
}

static void raw_start(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    c->fd = lg_raw_connect(&lg->dst, lg->cfg.sources, c->idx);
    if (c->fd < 0) {
        int e = -c->fd;
        c->fd = -1;
        conn_fail(c, E_CONNECT, strerror(e));
        return;
    }
    bool sent = raw_send_upgrade(c);
    if (c->state == CS_HTTP || c->state == CS_CONNECTING)
        raw_watch(c, EPOLL_CTL_ADD, sent ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
}

/* One epoll event of a plain socket. */
static void raw_event(lg_conn_t *c, uint32_t events)
{
    lg_t *lg = c->lg;
    if (c->state == CS_CONNECTING) {
        if (raw_send_upgrade(c))
            raw_watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
        return;
    }
    if (!conn_open(c) && c->state != CS_WS_CLOSING)
        return; /* closed earlier in this batch */
    ssize_t n = read(c->fd, lg->rbuf, sizeof(lg->rbuf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        on_eof(c, n == 0 ? UV_EOF : -errno);
        return;
    }
    conn_input(c, lg->rbuf, (size_t)n);
    bool fin_next = (events & EPOLLRDHUP) && (size_t)n < sizeof(lg->rbuf);
    if (fin_next && (conn_open(c) || c->state == CS_WS_CLOSING))
        on_eof(c, UV_EOF); /* everything before the FIN is read: no read for the EOF */
}

static void on_ep_ready(uv_poll_t *h, int status, int events)
{
    lg_t *lg = h->data;
    (void)status;
    (void)events;
    int n = epoll_wait(lg->ep, lg->evs, (int)(sizeof(lg->evs) / sizeof(lg->evs[0])), 0);
    for (int i = 0; i < n; i++)
        raw_event(lg->evs[i].data.ptr, lg->evs[i].events);
    reap_closed(lg);
}

/* Handshake mode: the epoll set of the plain sockets, watched from the loop. */
static int raw_init(lg_t *lg)
{
    lg->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lg->ep < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        return -1;
    }
    uv_poll_init(lg->loop, &lg->ep_poll, lg->ep);
    lg->ep_poll.data = lg;
    uv_poll_start(&lg->ep_poll, UV_READABLE, on_ep_ready);
    uv_idle_init(lg->loop, &lg->reaper);
    lg->reaper.data = lg;
    return 0;
}

#endif
