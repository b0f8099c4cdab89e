/*
 * loadgen_raw.h: the client sockets of bench/loadgen.c (bench, not the library).
 * Included by loadgen.c once, after the connection functions it calls (make_upgrade,
 * conn_fail, conn_set_state, conn_open, conn_input, on_eof, reap_closed); conn_start,
 * conn_write, conn_try_send and conn_close come here. One thread.
 */
#ifndef SIOC_BENCH_LOADGEN_RAW_H
#define SIOC_BENCH_LOADGEN_RAW_H

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"
#include "loadgen_net.h"

/* ---- plain sockets on one edge-triggered epoll set ----------------------------------
 *
 * The generator's own cost per message bounds how far it can push a fast server (both
 * servers run against the same client, so a cheaper client only lifts that bound). So
 * the clients are plain sockets rather than libuv streams, which would cost syscalls
 * the workload does not need (FIONBIO, SO_ERROR, epoll ADD then MOD, a DEL before
 * close, a read for an EOF that epoll already reported). Each socket joins the set once,
 * edge-triggered for input and output, and is read until it is drained. The reads of one
 * epoll batch go to the kernel in a single io_uring submission (net_uring.h) where the
 * system allows it, else one read(2) each. A cycle is socket (+ bind), connect, the
 * upgrade request written at once (on loopback the connection is up when connect(2)
 * returns; else it goes on EPOLLOUT), one epoll ADD, the reads and writes of the
 * workload, and close, which also leaves the epoll set. EPOLLRDHUP says that the
 * server's FIN follows the bytes just read. The epoll set is watched by one uv_poll_t,
 * so the tick timer and the signals stay on the libuv loop.
 *
 * TCP_NODELAY is set except in handshake mode, where each client packet is written
 * after a read that acknowledged every earlier one, so Nagle's algorithm never holds
 * one back and the extra setsockopt would only cost.
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
    if (lg->cfg.mode != M_HANDSHAKE) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    raw_send_upgrade(c);
    if (c->state != CS_HTTP && c->state != CS_CONNECTING)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(lg->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        conn_fail(c, E_CONNECT, strerror(errno));
}

/* EPOLLOUT: what conn_write could not send earlier goes now. */
static void raw_flush_wbuf(lg_conn_t *c)
{
    ssize_t r = lg_raw_send_some(c->fd, buf_data(&c->wbuf), c->wbuf.len);
    if (r < 0) {
        conn_lost(c, strerror((int)-r));
        return;
    }
    buf_consume(&c->wbuf, (size_t)r);
    if (c->wbuf.len == 0)
        buf_dispose(&c->wbuf);
}

static bool raw_reading(const lg_conn_t *c)
{
    return conn_open(c) || c->state == CS_WS_CLOSING;
}

/* One read's result: bytes go to the connection, 0 is the server's FIN, -EAGAIN means
 * nothing was there. Returns true when the socket may hold more (the buffer was full). */
static bool raw_take(lg_conn_t *c, const uint8_t *p, ssize_t n, size_t cap, uint32_t events)
{
    if (n == -EAGAIN || n == -EINTR)
        return false;
    if (n <= 0) {
        on_eof(c, n == 0 ? UV_EOF : (int)n);
        return false;
    }
    conn_input(c, p, (size_t)n);
    if ((size_t)n == cap)
        return raw_reading(c);
    if ((events & EPOLLRDHUP) && raw_reading(c))
        on_eof(c, UV_EOF); /* everything before the FIN is read: no read for the EOF */
    return false;
}

/* Reads until the socket is drained (edge-triggered: no new event comes otherwise). */
static void raw_drain(lg_conn_t *c, uint32_t events)
{
    lg_t *lg = c->lg;
    bool more = true;
    while (more && raw_reading(c)) {
        ssize_t n = read(c->fd, lg->rbuf, sizeof(lg->rbuf));
        more = raw_take(c, lg->rbuf, n < 0 ? -errno : n, sizeof(lg->rbuf), events);
    }
}

/* slot_res of an event whose socket was not read in the batch */
#define SLOT_NOT_READ (-ECANCELED)

/* Event `i` of the batch, whose read result (if one was made) is in slot_res[i]. */
static void raw_event(lg_conn_t *c, uint32_t events, int i)
{
    lg_t *lg = c->lg;
    if (c->state == CS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            raw_send_upgrade(c);
        return;
    }
    if (!raw_reading(c))
        return; /* closed earlier in this batch */
    if ((events & EPOLLOUT) && c->wbuf.len)
        raw_flush_wbuf(c);
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) || !raw_reading(c))
        return;
    int res = lg->slot_res[i];
    if (res == SLOT_NOT_READ) { /* no ring, or the ring did not issue it */
        raw_drain(c, events);
        return;
    }
    const uint8_t *p = lg->slots + (size_t)i * READ_SLOT;
    if (raw_take(c, p, res, READ_SLOT, events))
        raw_drain(c, events);
}

static void on_slot_read(void *arg, uint64_t tag, int res)
{
    lg_t *lg = arg;
    lg->slot_res[tag] = res;
}

/* Queues one read per readable socket of the batch and runs them in one submission. */
static void raw_read_batch(lg_t *lg, int n)
{
    int queued = 0;
    for (int i = 0; i < n; i++) {
        lg_conn_t *c = lg->evs[i].data.ptr;
        uint32_t ev = lg->evs[i].events;
        lg->slot_res[i] = SLOT_NOT_READ;
        if (!lg->uring || c->state == CS_CONNECTING || !raw_reading(c) ||
            !(ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
            continue;
        net_uring_recv(lg->uring, c->fd, lg->slots + (size_t)i * READ_SLOT, READ_SLOT,
                       (uint64_t)i);
        queued++;
    }
    if (queued && net_uring_submit(lg->uring, on_slot_read, lg) < 0) {
        net_uring_free(lg->uring); /* the rest of the run reads with read(2) */
        lg->uring = NULL;
    }
}

static void on_ep_ready(uv_poll_t *h, int status, int events)
{
    lg_t *lg = h->data;
    (void)status;
    (void)events;
    int n = epoll_wait(lg->ep, lg->evs, EP_BATCH, 0);
    /* The reads run before any event is handled: handling one may close a socket, and
     * its fd number must not be read from again. */
    raw_read_batch(lg, n);
    for (int i = 0; i < n; i++)
        raw_event(lg->evs[i].data.ptr, lg->evs[i].events, i);
    reap_closed(lg);
}

/* The epoll set of the client sockets, watched from the loop, and the read ring. */
static int raw_init(lg_t *lg)
{
    lg->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lg->ep < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        return -1;
    }
    lg->uring = net_uring_new(EP_BATCH);
    if (lg->uring)
        lg->slots = xmalloc((size_t)EP_BATCH * READ_SLOT);
    uv_poll_init(lg->loop, &lg->ep_poll, lg->ep);
    lg->ep_poll.data = lg;
    uv_poll_start(&lg->ep_poll, UV_READABLE, on_ep_ready);
    uv_idle_init(lg->loop, &lg->reaper);
    lg->reaper.data = lg;
    return 0;
}

#endif
