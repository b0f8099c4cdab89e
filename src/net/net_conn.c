/*
 * net_conn: connections, the input tail and the output queue (listeners are in
 * net_listener.c).
 *
 * Output queue of one connection (STYLE rules 9, 10, 25):
 *
 *   segs[head .. head+n)  each {rc, off, cap}: bytes rc->data[off .. rc->len) pending
 *   |<- inflight ->|        the first `inflight` segments belong to an armed uv_write
 *   [chunk A][shared frame F][chunk B (cap>0: copies may be appended)]
 *
 * Copies go into pooled 4 KiB chunks (appended to the last chunk while it has room
 * and is not part of an in-flight write); shared frames are queued by reference. Two
 * segment slots live inline in the connection; more spill into a pooled array that
 * is given back when the queue drains, so an idle connection owns no output memory.
 * That memory management is net_outq.c; the struct is in net_private.h.
 *
 * Connection states:
 *
 *   open --net_conn_close(GRACEFUL) / peer EOF--> closing: input discarded, queue
 *     |                                            flushed, then shutdown (FIN) and a
 *     |                                            short linger for the peer's EOF
 *     +--net_conn_close(ABORT) / error / slow consumer--+
 *                                                       v
 *                              uv_close --(close phase)--> ops->on_close, free
 *
 * A connection closed while it sits on the loop's flush list is marked dead in the
 * close callback and freed when the flush list reaches it, never inside a callback
 * that may still reference it.
 */
#include "net/net_private.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/log.h"
#include "net/net_uring.h"

enum {
    MAX_TAIL = 1 << 20,    /* hard cap on kept input; upper layers stay far below */
};

struct net_linger {
    uv_shutdown_t req; /* the FIN */
    net_timer_t timer; /* how long we wait for the peer's EOF afterwards */
    net_conn_t *c;
};

/* ---- flush scheduling ------------------------------------------------------------ */

/* Marks the connection for the loop's flush pass. */
static void schedule(net_conn_t *c)
{
    if (c->in_flush || c->uv_closed)
        return;
    c->in_flush = 1;
    c->flush_next = c->nl->flush_list;
    c->nl->flush_list = c;
    net__loop_wake(c->nl);
}

/* ---- closing ---------------------------------------------------------------- */

/* Takes a closed connection off the loop's yield list at once, so its memory does not
 * wait for (or outlive) the next idle pass. Close callbacks never run during that
 * pass, so the connection is always on the loop's list here, which holds only the
 * connections with a backlog: a short scan. */
static void yield_unlink(net_conn_t *c)
{
    net_loop_t *nl = c->nl;
    net_conn_t **pp = &nl->yield_head;
    while (*pp && *pp != c)
        pp = &(*pp)->yield_next;
    if (*pp) {
        *pp = c->yield_next;
        if (nl->yield_tail == &c->yield_next)
            nl->yield_tail = pp;
    }
    c->yield_next = NULL;
    c->in_yield = 0;
}

static void conn_closed(net_conn_t *c)
{
    net_loop_t *nl = c->nl;
    net__outq_release_all(c);
    free(c->tail);
    c->tail = NULL;
    c->tail_off = c->tail_len = c->tail_cap = 0;
    if (c->linger) {
        net_timer_stop(&c->linger->timer);
        free(c->linger);
        c->linger = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        nl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nl->stats.conns_open--;
    if (c->in_yield)
        yield_unlink(c);
    if (c->ops && c->ops->on_close)
        c->ops->on_close(c, c->close_status);
    if (c->in_flush)
        c->dead = 1;
    else
        free(c);
}

static void on_uv_close(uv_handle_t *h)
{
    conn_closed(h->data);
}

static void on_mem_closed(net_defer_t *d)
{
    conn_closed(NET_CONTAINER_OF(d, net_conn_t, mem.closed));
}

static void do_uv_close(net_conn_t *c)
{
    if (c->uv_closed)
        return;
    c->uv_closed = 1;
    c->closing = 1;
    if (c->linger)
        net_timer_stop(&c->linger->timer);
    if (c->memory)
        net_loop_defer(c->nl, &c->mem.closed, on_mem_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, on_uv_close);
}

/* Records why the connection ends; the first cause wins (a local close stays 0 even
 * if the peer's EOF or a reset arrives while lingering). */
static void set_status(net_conn_t *c, int status)
{
    if (c->status_set)
        return;
    c->status_set = 1;
    c->close_status = status;
}

static void fail(net_conn_t *c, int err)
{
    set_status(c, err);
    do_uv_close(c);
}

static void on_linger_timeout(net_timer_t *t)
{
    struct net_linger *l = NET_CONTAINER_OF(t, struct net_linger, timer);
    do_uv_close(l->c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct net_linger *l = req->data;
    net_conn_t *c = l->c;
    if (status == UV_ECANCELED || c->uv_closed)
        return;
    if (status < 0 || c->eof) {
        do_uv_close(c);
        return;
    }
    net_timer_start(c->nl, &l->timer, c->nl->cfg.linger_ms, on_linger_timeout);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* All output is written: send FIN and wait briefly for the peer's EOF, so that a
 * peer still sending does not get our last bytes destroyed by a reset. */
static void begin_shutdown(net_conn_t *c)
{
    if (c->shut || c->uv_closed)
        return;
    c->shut = 1;
    if (c->eof || c->memory || c->no_linger) { /* close(2) sends the FIN after our bytes */
        do_uv_close(c);
        return;
    }
    c->linger = xcalloc(1, sizeof *c->linger);
    c->linger->c = c;
    c->linger->req.data = c->linger;
    net_timer_init(&c->linger->timer);
    if (uv_shutdown(&c->linger->req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        do_uv_close(c);
        return;
    }
    if (!c->read_active && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->read_active = 1;
}

/* ---- writing ---------------------------------------------------------------- */

static size_t fill_iov(const net_conn_t *c, uv_buf_t *iov, size_t max, size_t *total)
{
    size_t k = c->seg_n < max ? c->seg_n : max;
    *total = 0;
    for (size_t i = 0; i < k; i++) {
        const struct net_seg *s = &c->segs[c->seg_head + i];
        iov[i] = uv_buf_init((char *)s->rc->data + s->off, (unsigned)(s->rc->len - s->off));
        *total += s->rc->len - s->off;
    }
    return k;
}

/* Drops `w` written bytes from the front of the queue. */
static void consume(net_conn_t *c, size_t w)
{
    c->queued -= w;
    c->nl->stats.bytes_written += w;
    while (w) {
        struct net_seg *s = &c->segs[c->seg_head];
        size_t left = s->rc->len - s->off;
        if (w < left) {
            s->off += (uint32_t)w;
            return;
        }
        w -= left;
        net__outq_release(c->nl, s);
        c->seg_head++;
        c->seg_n--;
    }
    if (c->seg_n == 0)
        net__outq_reset(c);
}

static void after_drain(net_conn_t *c)
{
    if (c->closing) {
        begin_shutdown(c);
        return;
    }
    if (c->ops && c->ops->on_drain)
        c->ops->on_drain(c);
}

static void on_write(uv_write_t *req, int status)
{
    net_conn_t *c = req->data;
    free(req);
    c->wreq = NULL;
    if (status == UV_ECANCELED || c->uv_closed) {
        c->inflight = 0;
        return;
    }
    if (status < 0) {
        c->inflight = 0;
        fail(c, status);
        return;
    }
    size_t done = c->inflight_bytes;
    c->inflight = 0;
    c->inflight_bytes = 0;
    consume(c, done);
    if (c->seg_n)
        schedule(c);
    else
        after_drain(c);
}

/* The kernel did not take everything: hand the rest to uv_write, which finishes it as
 * the socket becomes writable. */
static void arm_write(net_conn_t *c)
{
    uv_buf_t iov[MAX_IOV];
    size_t total;
    size_t k = fill_iov(c, iov, MAX_IOV, &total);
    c->wreq = xmalloc(sizeof *c->wreq);
    c->wreq->data = c;
    int r = uv_write(c->wreq, (uv_stream_t *)&c->tcp, iov, (unsigned)k, on_write);
    if (r < 0) {
        free(c->wreq);
        c->wreq = NULL;
        fail(c, r);
        return;
    }
    c->inflight = (uint32_t)k;
    c->inflight_bytes = total;
}

/* A memory connection "writes" by appending everything to its sink. */
static void mem_flush(net_conn_t *c)
{
    size_t total = c->queued;
    for (uint32_t i = 0; i < c->seg_n; i++) {
        const struct net_seg *s = &c->segs[c->seg_head + i];
        if (c->mem.sink)
            buf_append(c->mem.sink, s->rc->data + s->off, s->rc->len - s->off);
    }
    consume(c, total);
}

_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) &&
                   offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "libuv's uv_buf_t is a struct iovec on Unix");

/* One non-blocking send of the queued iovecs: sendmsg(2) on the socket rather than the
 * writev(2) of uv_try_write, which takes the VFS write path (file position lock, write
 * checks, fsnotify) on every call; on a broadcast that is one call per socket. Returns
 * the bytes taken (0 when the socket is full) or a negative uv error. */
static ssize_t send_iov(net_conn_t *c, uv_buf_t *iov, size_t k)
{
    uv_os_fd_t fd;
    int e = uv_fileno((uv_handle_t *)&c->tcp, &fd);
    if (e < 0)
        return e;
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = k};
    ssize_t n;
    do {
        n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno; /* uv errors are -errno here */
}

static void conn_flush(net_conn_t *c)
{
    if (c->wreq || c->uv_closed)
        return;
    bool had = c->seg_n > 0;
    if (c->memory && had)
        mem_flush(c);
    while (c->seg_n) {
        uv_buf_t iov[MAX_IOV];
        size_t total;
        size_t k = fill_iov(c, iov, MAX_IOV, &total);
        ssize_t r = send_iov(c, iov, k);
        c->nl->stats.flush_sends++;
        if (r < 0) {
            fail(c, (int)r);
            return;
        }
        consume(c, (size_t)r);
        if ((size_t)r < total) {
            arm_write(c);
            return;
        }
    }
    if (had || c->closing)
        after_drain(c);
}

static int check_room(net_conn_t *c, size_t n)
{
    if (c->closing || c->uv_closed)
        return UV_EPIPE;
    size_t max = c->max_out ? c->max_out : c->nl->cfg.max_out_bytes;
    if (n <= max && c->queued <= max - n)
        return 0;
    net_loop_t *nl = c->nl;
    nl->stats.slow_consumer_closes++;
    LOG_RATELIMITED(LOG_WARN, nl->slow_log_counter, 100,
                    "conn %llu: slow consumer, %zu bytes queued (bound %zu), closing",
                    (unsigned long long)c->id, c->queued + n, max);
    fail(c, UV_ENOBUFS);
    return UV_ENOBUFS;
}

int net_conn_write(net_conn_t *c, const void *p, size_t n)
{
    slice_t s = slice_make(p, n);
    return net_conn_writev(c, &s, 1);
}

int net_conn_writev(net_conn_t *c, const slice_t *parts, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i].len;
    int r = check_room(c, total);
    if (r < 0 || total == 0)
        return r;
    for (size_t i = 0; i < n; i++)
        net__outq_copy_in(c, parts[i].ptr, parts[i].len);
    c->queued += total;
    schedule(c);
    return 0;
}

int net_conn_write_rcbuf(net_conn_t *c, rcbuf_t *rc)
{
    int r = check_room(c, rc->len);
    if (r < 0 || rc->len == 0)
        return r;
    net__outq_push(c, rcbuf_ref(rc), 0);
    c->queued += rc->len;
    schedule(c);
    return 0;
}

size_t net_conn_buffered(const net_conn_t *c)
{
    return c->queued;
}

void net_conn_set_max_out(net_conn_t *c, size_t max_bytes)
{
    c->max_out = max_bytes;
}

/* ---- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    net_conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->nl->rbuf, (unsigned)c->nl->cfg.read_buf_size);
}

static void tail_free(net_conn_t *c)
{
    free(c->tail);
    c->tail = NULL;
    c->tail_off = c->tail_len = c->tail_cap = 0;
}

/* Makes room for `need` bytes of tail starting at offset 0; the kept bytes are moved
 * to the front first. */
static bool tail_reserve(net_conn_t *c, size_t need)
{
    if (c->tail_off) {
        memmove(c->tail, c->tail + c->tail_off, c->tail_len);
        c->tail_off = 0;
    }
    if (need <= c->tail_cap)
        return true;
    if (need > MAX_TAIL) {
        LOG_RATELIMITED(LOG_WARN, c->nl->slow_log_counter, 100,
                        "conn %llu: %zu unconsumed input bytes, closing",
                        (unsigned long long)c->id, need);
        fail(c, UV_ENOBUFS);
        return false;
    }
    uint8_t *t = try_realloc(c->tail, need);
    if (!t) {
        fail(c, UV_ENOMEM);
        return false;
    }
    c->tail = t;
    c->tail_cap = (uint32_t)need;
    return true;
}

/* Keeps data[0..len) for the next delivery. `data` may point into the tail itself:
 * then only the offset moves, so an owner that eats a long tail a bounded share per
 * turn (net_conn_yield) does not copy the rest each time. */
static void keep_tail(net_conn_t *c, const uint8_t *data, size_t len)
{
    if (!len || c->closing) {
        tail_free(c);
        return;
    }
    bool inside = c->tail && data >= c->tail && data < c->tail + c->tail_cap;
    if (inside) {
        c->tail_off = (uint32_t)(data - c->tail);
    } else {
        c->tail_len = 0;
        if (!tail_reserve(c, len))
            return;
        memcpy(c->tail, data, len);
    }
    c->tail_len = (uint32_t)len;
}

/* Hands data to the owner until it stops consuming; follows an ops swap (HTTP ->
 * WebSocket) so bytes after an upgrade request reach the new owner at once. */
static void deliver(net_conn_t *c, uint8_t *data, size_t len)
{
    while (len && !c->closing && c->ops) {
        const net_conn_ops_t *ops = c->ops;
        size_t used = ops->on_read(c, slice_make(data, len));
        if (used > len)
            used = len;
        data += used;
        len -= used;
        if (c->ops == ops || c->in_yield)
            break;
    }
    keep_tail(c, data, len);
}

/* Presents the kept tail to the owner again. */
static void deliver_tail(net_conn_t *c)
{
    if (c->tail_len && !c->closing)
        deliver(c, c->tail + c->tail_off, c->tail_len);
}

static void handle_eof(net_conn_t *c)
{
    c->eof = 1;
    set_status(c, UV_EOF);
    if (c->read_active && !c->memory)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->read_active = 0;
    c->closing = 1;
    schedule(c); /* flush what is queued, then close */
}

/* New input at `data` (the loop's read buffer): appended to a kept tail if there is
 * one, so the owner always sees contiguous unconsumed bytes. While the connection has
 * yielded (only a memory connection still gets input then) it just joins the tail,
 * whose turn comes from the yield list. */
static void handle_data(net_conn_t *c, uint8_t *data, size_t n)
{
    if (c->closing)
        return; /* lingering: discard */
    if (c->tail_len || c->in_yield) {
        if (!tail_reserve(c, (size_t)c->tail_len + n))
            return;
        memcpy(c->tail + c->tail_len, data, n);
        c->tail_len += (uint32_t)n;
        if (c->in_yield)
            return;
        data = c->tail;
        n = c->tail_len;
    }
    deliver(c, data, n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    net_conn_t *c = s->data;
    if (nread == 0)
        return;
    if (nread == UV_EOF && !c->shut) {
        handle_eof(c);
        return;
    }
    if (nread < 0 && c->shut) { /* the peer's answer to our FIN: done lingering */
        do_uv_close(c);
        return;
    }
    if (nread < 0) {
        fail(c, (int)nread);
        return;
    }
    c->nl->stats.bytes_read += (uint64_t)nread;
    handle_data(c, (uint8_t *)buf->base, (size_t)nread);
}

void net_conn_set_reading(net_conn_t *c, bool on)
{
    if (c->closing || c->uv_closed)
        return;
    if (c->in_yield) { /* the socket stays paused until the yielded input is handed over */
        c->yield_paused = on;
        return;
    }
    if (!on) {
        if (c->read_active && !c->memory)
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_active = 0;
        c->yield_paused = 0; /* the owner's word wins over a resume after a yield */
        return;
    }
    if (!c->read_active && c->memory) {
        c->read_active = 1;
    } else if (!c->read_active) {
        int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (r < 0) {
            fail(c, r);
            return;
        }
        c->read_active = 1;
    }
    net_conn_redeliver(c);
}

void net_conn_redeliver(net_conn_t *c)
{
    if (!c->tail_len || c->closing || c->in_yield)
        return;
    c->redeliver = 1;
    schedule(c);
}

/* ---- batched flush through io_uring (net_uring.h) ---------------------------------
 *
 * The flush pass gathers the sends of many connections into one submission. Nothing
 * that can run an owner callback happens between queueing a send and submitting it (the
 * batch goes out first), so every connection in a batch is still open, with the same
 * queue head, when the kernel sends from it. */

static bool batchable(const net_conn_t *c)
{
    return c->nl->uring && !c->memory && !c->wreq && !c->uv_closed && c->seg_n;
}

/* One result: the same steps as conn_flush after its sendmsg. */
static void on_batch_sent(void *arg, uint64_t tag, int r)
{
    net_loop_t *nl = arg;
    struct net_send_slot *sl = &nl->send_slots[tag];
    net_conn_t *c = sl->c;
    nl->stats.flush_sends++;
    if (r == -ECANCELED) {        /* never issued: the plain way */
        conn_flush(c);
        return;
    }
    if (c->uv_closed)
        return;
    if (r == -EAGAIN)
        r = 0;
    if (r < 0) {
        fail(c, r);
        return;
    }
    consume(c, (size_t)r);
    if ((size_t)r < sl->total) {
        arm_write(c);
        return;
    }
    if (c->seg_n) {               /* more than MAX_IOV segments, or written meanwhile */
        conn_flush(c);
        return;
    }
    after_drain(c);
}

static void batch_submit(net_loop_t *nl)
{
    if (!nl->uring || net_uring_space(nl->uring) == NET_SEND_BATCH)
        return;
    nl->stats.send_batches++;
    if (net_uring_submit(nl->uring, on_batch_sent, nl) < 0) {
        LOG(LOG_WARN, "io_uring failed, sending with sendmsg(2) from now on");
        net_uring_free(nl->uring);
        nl->uring = NULL;
    }
}

static void batch_add(net_loop_t *nl, net_conn_t *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0) {
        conn_flush(c);
        return;
    }
    unsigned i = NET_SEND_BATCH - net_uring_space(nl->uring); /* the next free slot */
    struct net_send_slot *sl = &nl->send_slots[i];
    sl->c = c;
    size_t k = fill_iov(c, sl->iov, MAX_IOV, &sl->total);
    sl->mh = (struct msghdr){.msg_iov = (struct iovec *)sl->iov, .msg_iovlen = k};
    net_uring_sendmsg(nl->uring, fd, &sl->mh, i);
    if (net_uring_space(nl->uring) == 0)
        batch_submit(nl);
}

bool net__conn_run_flush_list(net_loop_t *nl)
{
    net_conn_t *list = nl->flush_list;
    if (!list)
        return false;
    nl->flush_list = NULL;
    while (list) {
        net_conn_t *c = list;
        list = c->flush_next;
        c->flush_next = NULL;
        c->in_flush = 0;
        if (c->dead) {
            free(c);
            continue;
        }
        if (c->redeliver) {
            batch_submit(nl);
            c->redeliver = 0;
            if (!c->in_yield)
                deliver_tail(c);
        }
        if (batchable(c)) {
            batch_add(nl, c);
            continue;
        }
        batch_submit(nl);
        conn_flush(c);
    }
    batch_submit(nl);
    return true;
}

/* ---- bounded work per read (STYLE rule 26) ----------------------------------------
 *
 *   on_read hits its cap --net_conn_yield--> socket paused, conn on the yield list,
 *                                             idle hook on (poll no longer blocks)
 *   next turn, idle hook --> on_read(tail) --yields again--> stays on the list
 *                                           --done--------> reading resumes
 */

void net_conn_yield(net_conn_t *c)
{
    if (c->in_yield || c->closing || c->uv_closed)
        return;
    net_loop_t *nl = c->nl;
    c->in_yield = 1;
    /* yield_paused survives from an earlier yield whose share was just handed over:
     * the socket is already paused then, and must resume all the same. */
    if (c->read_active)
        c->yield_paused = 1;
    if (c->read_active && !c->memory) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_active = 0;
    }
    c->yield_next = NULL;
    *nl->yield_tail = c;
    nl->yield_tail = &c->yield_next;
    nl->stats.reads_yielded++;
    net__loop_want_idle(nl);
}

bool net_conn_is_yielded(const net_conn_t *c)
{
    return c->in_yield;
}

/* The yielded input was handed over without another yield: back to normal reading. */
static void resume_after_yield(net_conn_t *c)
{
    bool want = c->yield_paused;
    c->yield_paused = 0;
    if (c->closing || c->uv_closed || c->memory)
        return;
    if (!want || c->read_active)
        return;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        fail(c, r);
        return;
    }
    c->read_active = 1;
}

void net__conn_run_yield_list(net_loop_t *nl)
{
    /* Detach first: a connection that yields again joins a fresh list for next turn. */
    net_conn_t *list = nl->yield_head;
    nl->yield_head = NULL;
    nl->yield_tail = &nl->yield_head;
    while (list) {
        net_conn_t *c = list;
        list = c->yield_next;
        c->yield_next = NULL;
        c->in_yield = 0;
        deliver_tail(c);
        if (!c->in_yield)
            resume_after_yield(c);
    }
}

/* ---- connection accessors and close ------------------------------------------ */

void net_conn_set_ops(net_conn_t *c, const net_conn_ops_t *ops, void *user)
{
    c->ops = ops;
    c->user = user;
}

void *net_conn_get_user(const net_conn_t *c)
{
    return c->user;
}

net_loop_t *net_conn_loop(const net_conn_t *c)
{
    return c->nl;
}

uint64_t net_conn_id(const net_conn_t *c)
{
    return c->id;
}

bool net_conn_is_closing(const net_conn_t *c)
{
    return c->closing;
}

void net_conn_close(net_conn_t *c, enum net_close_mode mode)
{
    if (c->uv_closed)
        return;
    set_status(c, 0);
    if (mode == NET_CLOSE_ABORT) {
        do_uv_close(c);
        return;
    }
    if (mode == NET_CLOSE_NO_LINGER) {
        c->no_linger = 1;
        if (c->linger) /* already waiting for the peer's EOF: stop waiting */
            do_uv_close(c);
    }
    if (c->closing)
        return;
    c->closing = 1;
    schedule(c);
}

void net_loop_close_all_conns(net_loop_t *nl)
{
    for (net_conn_t *c = nl->conns; c; c = c->next)
        net_conn_close(c, NET_CLOSE_ABORT);
}

static int addr_to_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[64];
    int port;
    int r;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        r = uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
        if (r == 0)
            snprintf(out, cap, "[%s]:%d", host, port);
        return r;
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    r = uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    if (r == 0)
        snprintf(out, cap, "%s:%d", host, port);
    return r;
}

int net_conn_remote_addr(const net_conn_t *c, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (cap)
        out[0] = '\0';
    if (c->memory) {
        snprintf(out, cap, "memory");
        return 0;
    }
    int r = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
    return r < 0 ? r : addr_to_text(&ss, out, cap);
}

/* ---- accepting ------------------------------------------------------------------ */

static void on_accept_failed_close(uv_handle_t *h)
{
    free(h->data);
}

static void conn_register(net_loop_t *nl, net_conn_t *c)
{
    c->nl = nl;
    c->segs = c->inline_segs;
    c->seg_cap = NET_INLINE_SEGS;
    c->id = ++nl->next_conn_id;
    c->next = nl->conns;
    if (nl->conns)
        nl->conns->prev = c;
    nl->conns = c;
    nl->stats.conns_open++;
}

net_conn_t *net_conn_new_memory(net_loop_t *nl, buf_t *sink)
{
    net_conn_t *c = xcalloc(1, sizeof *c);
    c->memory = 1;
    c->mem.sink = sink;
    c->read_active = 1;
    conn_register(nl, c);
    return c;
}

void net_conn_memory_feed(net_conn_t *c, const void *p, size_t n)
{
    const uint8_t *src = p;
    size_t step = c->nl->cfg.read_buf_size;
    while (n && !c->uv_closed) {
        size_t k = n < step ? n : step;
        memcpy(c->nl->rbuf, src, k); /* the owner may modify its input in place */
        handle_data(c, c->nl->rbuf, k);
        src += k;
        n -= k;
    }
}

void net_conn_memory_eof(net_conn_t *c)
{
    if (!c->closing && !c->eof)
        handle_eof(c);
}

/* TCP_NODELAY is set on the listening socket, and Linux copies it to every socket
 * accepted from it: no setsockopt per connection. The listener's first accepted socket
 * checks that with one getsockopt; where the option does not carry over, every accepted
 * socket gets it set. */
static void accept_nodelay(net_conn_t *c, enum net__nodelay *state)
{
    if (*state == NET__NODELAY_UNKNOWN) {
        uv_os_fd_t fd;
        int on = 0;
        socklen_t len = sizeof on;
        bool inherited = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
                         getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on;
        *state = inherited ? NET__NODELAY_INHERITED : NET__NODELAY_PER_CONN;
    }
    if (*state == NET__NODELAY_PER_CONN)
        uv_tcp_nodelay(&c->tcp, 1);
}

net_conn_t *net__conn_accept(net_loop_t *nl, uv_stream_t *server, enum net__nodelay *nodelay)
{
    net_conn_t *c = xcalloc(1, sizeof *c);
    uv_tcp_init(nl->uv, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_accept_failed_close);
        return NULL;
    }
    conn_register(nl, c);
    nl->stats.conns_accepted++;
    accept_nodelay(c, nodelay);
    return c;
}

void net__conn_start(net_conn_t *c)
{
    if (c->closing || c->uv_closed)
        return;
    if (!c->ops) {
        net_conn_close(c, NET_CLOSE_ABORT);
        return;
    }
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        fail(c, r);
        return;
    }
    c->read_active = 1;
}
