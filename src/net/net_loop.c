/*
 * net_loop: the per-loop context. The prepare hook is the heart of it:
 *
 *   uv_run turn:  timers -> pending -> IDLE -> PREPARE -> poll (I/O callbacks) -> check
 *                             |          |                         -> close callbacks
 *                             |          flush every connection on the flush list, run
 *                             |          deferred calls, repeat while either produced
 *                             |          more work
 *                             hand each connection that yielded (hit its per-read work
 *                             cap last turn) its next share of input
 *
 * The idle hook is started only while the yield list is not empty. An active idle
 * handle makes libuv poll with a zero timeout, so a connection with a backlog of
 * pipelined input is served a bounded share per turn and every other connection's
 * I/O is polled in between; once the backlogs are gone the loop blocks in poll again.
 *
 * Everything queued by I/O, timer and close callbacks during one turn is therefore
 * written by a single syscall per connection just before libuv would block again.
 * The prepare handle is unreferenced while there is nothing to do so an idle context
 * does not keep uv_run alive, and referenced while work is pending.
 */
#include "net/net_private.h"

#include <stdlib.h>

#include "base/alloc.h"
#include "net/net_uring.h"

enum {
    DEFAULT_READ_BUF = 65536,
    DEFAULT_MAX_OUT = 16 * 1024 * 1024,
    DEFAULT_LINGER_MS = 2000,
    DEFAULT_MAX_ACCEPTS = 64, /* accepts per listener per turn (STYLE rule 26) */
    MAX_PREPARE_ROUNDS = 16, /* bound on flush/defer rounds per turn (STYLE rule 26) */
};

static void run_defers(net_loop_t *nl)
{
    /* Detach the list first so that entries queued by the callbacks are collected in
     * a fresh list, which the caller's next round runs. */
    net_defer_t *d = nl->defer_head;
    nl->defer_head = NULL;
    nl->defer_tail = &nl->defer_head;
    nl->yield_tail = &nl->yield_head;
    while (d) {
        net_defer_t *next = d->_next;
        net_defer_cb cb = d->_cb;
        d->_next = NULL;
        d->_cb = NULL;
        cb(d);
        d = next;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    net_loop_t *nl = h->data;
    if (--nl->handles_open > 0)
        return;
    net__outq_pool_free(nl);
    net_uring_free(nl->uring);
    free(nl->send_slots);
    free(nl->rbuf);
    free(nl);
}

static void finish_free(net_loop_t *nl)
{
    uv_prepare_stop(&nl->prepare);
    uv_timer_stop(&nl->timer);
    uv_idle_stop(&nl->idle);
    uv_close((uv_handle_t *)&nl->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&nl->timer, on_handle_closed);
    uv_close((uv_handle_t *)&nl->idle, on_handle_closed);
}

static void on_idle(uv_idle_t *h)
{
    net_loop_t *nl = h->data;
    net__conn_run_yield_list(nl);
    if (!nl->yield_head)
        uv_idle_stop(h);
}

void net__loop_want_idle(net_loop_t *nl)
{
    if (!uv_is_active((uv_handle_t *)&nl->idle))
        uv_idle_start(&nl->idle, on_idle);
}

static void on_prepare(uv_prepare_t *h)
{
    net_loop_t *nl = h->data;
    nl->turn++;
    for (int round = 0; round < MAX_PREPARE_ROUNDS; round++) {
        bool worked = net__conn_run_flush_list(nl);
        if (nl->defer_head) {
            run_defers(nl);
            worked = true;
        }
        if (!worked)
            break;
    }
    bool busy = nl->flush_list || nl->defer_head || nl->yield_head;
    if (nl->freeing && !busy && !nl->conns) {
        finish_free(nl);
        return;
    }
    if (busy || nl->freeing)
        uv_ref((uv_handle_t *)&nl->prepare);
    else
        uv_unref((uv_handle_t *)&nl->prepare);
}

void net__loop_wake(net_loop_t *nl)
{
    uv_ref((uv_handle_t *)&nl->prepare);
}

net_loop_t *net_loop_new(uv_loop_t *uv, const net_loop_config_t *cfg)
{
    net_loop_t *nl = xcalloc(1, sizeof *nl);
    nl->uv = uv;
    if (cfg)
        nl->cfg = *cfg;
    if (!nl->cfg.read_buf_size)
        nl->cfg.read_buf_size = DEFAULT_READ_BUF;
    if (!nl->cfg.max_out_bytes)
        nl->cfg.max_out_bytes = DEFAULT_MAX_OUT;
    if (!nl->cfg.linger_ms)
        nl->cfg.linger_ms = DEFAULT_LINGER_MS;
    if (!nl->cfg.max_accepts)
        nl->cfg.max_accepts = DEFAULT_MAX_ACCEPTS;
    nl->rbuf = xmalloc(nl->cfg.read_buf_size);
    if (!nl->cfg.no_uring && !getenv("SIOC_NO_URING"))
        nl->uring = net_uring_new(NET_SEND_BATCH);
    if (nl->uring)
        nl->send_slots = xcalloc(NET_SEND_BATCH, sizeof(struct net_send_slot));
    nl->defer_tail = &nl->defer_head;
    nl->yield_tail = &nl->yield_head;

    uv_prepare_init(uv, &nl->prepare);
    nl->prepare.data = nl;
    uv_prepare_start(&nl->prepare, on_prepare);
    uv_unref((uv_handle_t *)&nl->prepare);
    uv_timer_init(uv, &nl->timer);
    nl->timer.data = nl;
    uv_idle_init(uv, &nl->idle);
    nl->idle.data = nl;
    nl->handles_open = 3;
    return nl;
}

void net_loop_free(net_loop_t *nl)
{
    if (!nl || nl->freeing)
        return;
    nl->freeing = true;
    net_loop_close_all_conns(nl);
    /* Active timers are dropped: their owners are being torn down too. */
    net__timer_drop_all(nl);
    /* The prepare hook finishes the job once the connections are gone. */
    net__loop_wake(nl);
}

uv_loop_t *net_loop_uv(const net_loop_t *nl)
{
    return nl->uv;
}

uint64_t net_loop_now(const net_loop_t *nl)
{
    return uv_now(nl->uv);
}

const net_loop_stats_t *net_loop_stats(const net_loop_t *nl)
{
    return &nl->stats;
}

const net_loop_config_t *net_loop_config(const net_loop_t *nl)
{
    return &nl->cfg;
}

void net_loop_defer(net_loop_t *nl, net_defer_t *d, net_defer_cb cb)
{
    if (d->_cb)
        return;
    d->_cb = cb;
    d->_next = NULL;
    *nl->defer_tail = d;
    nl->defer_tail = &d->_next;
    net__loop_wake(nl);
}
