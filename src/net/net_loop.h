/*
 * net_loop: the per-uv_loop context of the transport (net layer).
 *
 * One net_loop_t exists per uv_loop_t. It owns what every connection on that loop
 * shares:
 *   - one loop-wide read buffer (64 KiB by default) that libuv reads into whenever a
 *     connection holds no partial input, so idle connections hold no read buffer
 *     (STYLE rule 11);
 *   - one uv_prepare hook that runs once per loop turn, just before libuv polls. It
 *     flushes every connection with queued output (one writev/uv_try_write per
 *     connection; only a short write arms uv_write, STYLE rule 25) and then runs the
 *     deferred frees;
 *   - one uv_idle hook, active only while some connection has yielded input waiting
 *     (net_conn_yield, STYLE rule 26): it hands each such connection its next share of
 *     input once per loop turn, and while it is active libuv polls without blocking,
 *     so the other connections' I/O runs in between;
 *   - the deferred-free list: objects are never destroyed inside their own callback;
 *     they are queued with net_loop_defer() and destroyed from the prepare hook;
 *   - the timer heap behind net_timer.h (one uv_timer_t for the whole loop);
 *   - a small pool of recycled output chunks and the loop's counters.
 *
 * Lifecycle:
 *   uv_loop_init(&uv); nl = net_loop_new(&uv, NULL);
 *   ... servers, connections, timers ... uv_run(&uv, UV_RUN_DEFAULT);
 *   close every server/connection/timer, then net_loop_free(nl);
 *   uv_run(&uv, UV_RUN_DEFAULT);   (lets the close callbacks run)
 *   uv_loop_close(&uv) == 0
 *
 * Ownership: the caller owns the uv_loop_t, which must outlive the net_loop_t.
 * Threading: everything here belongs to the loop's thread (STYLE rule 28); no
 * function may be called from another thread.
 * Spec: none (infrastructure); DESIGN.md "The data path" steps 1 and 6.
 */
#ifndef SIOC_NET_LOOP_H
#define SIOC_NET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/** Gets the address of the struct of type `type` whose member `member` is at `ptr`
 *  (for embedded hooks such as net_timer_t and net_defer_t, STYLE rule 21). */
#define NET_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

typedef struct net_loop net_loop_t;

/** Loop-wide settings; zero fields take the defaults. Copied by net_loop_new. */
typedef struct net_loop_config {
    size_t read_buf_size;     /**< the shared read buffer, default 65536 */
    size_t max_out_bytes;     /**< default bound on one connection's queued output
                                   bytes, default 16 MiB (net_conn_set_max_out overrides) */
    unsigned linger_ms;       /**< how long a gracefully closed connection waits for the
                                   peer's EOF after our FIN, default 2000 */
    unsigned max_accepts;     /**< connections one listener accepts per loop turn before
                                   it yields to the other I/O, default 64 (STYLE rule 26) */
    bool no_uring;            /**< send with one sendmsg(2) per connection even where
                                   io_uring could batch a flush pass's sends */
} net_loop_config_t;

/** Counters kept by the loop (monotonic unless noted). */
typedef struct net_loop_stats {
    uint64_t conns_accepted;      /**< connections accepted by all listeners */
    uint64_t conns_open;          /**< connections currently open (gauge) */
    uint64_t slow_consumer_closes;/**< connections closed because output passed the bound */
    uint64_t bytes_written;       /**< bytes handed to the kernel */
    uint64_t bytes_read;          /**< bytes read from peers */
    uint64_t flush_sends;      /**< sends made by the flush hook */
    uint64_t send_batches;        /**< io_uring submissions carrying those sends (0 where
                                       each send is its own sendmsg(2)) */
    uint64_t accepts_deferred;    /**< times a listener hit max_accepts and left the rest
                                       of its backlog for the next loop turn */
    uint64_t reads_yielded;       /**< times an owner stopped at its per-read work cap
                                       (net_conn_yield) and resumed on a later turn */
} net_loop_stats_t;

/**
 * Creates the net context of `uv`. `cfg` may be NULL (all defaults). Allocates the
 * read buffer and starts the (unreferenced) prepare hook. Aborts on OOM.
 */
net_loop_t *net_loop_new(uv_loop_t *uv, const net_loop_config_t *cfg);

/**
 * Starts tearing the context down: force-closes any connection still open (their
 * on_close callbacks run from libuv's close phase), stops the timer heap (active
 * net_timer_t entries are simply dropped, their callbacks never run) and closes the
 * loop's own handles. Memory is released from the close callbacks, so the caller must
 * run the uv loop afterwards (uv_run(uv, UV_RUN_DEFAULT)) before uv_loop_close. Do not
 * use `nl` after this call. Must not be called from inside a net callback.
 */
void net_loop_free(net_loop_t *nl);

/** The uv loop this context belongs to. */
uv_loop_t *net_loop_uv(const net_loop_t *nl);

/** The loop's cached clock in milliseconds (uv_now), the time base of net_timer_t. */
uint64_t net_loop_now(const net_loop_t *nl);

/** The loop's counters (a borrowed pointer, valid until net_loop_free). */
const net_loop_stats_t *net_loop_stats(const net_loop_t *nl);

/** The configuration the loop runs with (defaults filled in). */
const net_loop_config_t *net_loop_config(const net_loop_t *nl);

/* ---- deferred destruction ------------------------------------------------------ */

typedef struct net_defer net_defer_t;

/** Runs once from the loop's prepare hook; typically frees the object embedding `d`. */
typedef void (*net_defer_cb)(net_defer_t *d);

/**
 * An embeddable deferred-call entry (no allocation). Embed one in any object that
 * must not be freed inside its own callback, and recover the object with
 * NET_CONTAINER_OF. Fields are private.
 */
struct net_defer {
    net_defer_t *_next; /* singly linked pending list */
    net_defer_cb _cb;   /* what to run; NULL when not queued */
};

/**
 * Queues `cb(d)` to run later on the loop thread: at the end of the current loop turn
 * (from the prepare hook, after the output flush), never synchronously. Queuing an
 * entry that is already queued is a no-op. Callbacks queued while the list runs run
 * in the same pass. Keeps the loop alive until it has run.
 */
void net_loop_defer(net_loop_t *nl, net_defer_t *d, net_defer_cb cb);

/** True if `d` is queued and has not run yet. */
static inline bool net_defer_is_pending(const net_defer_t *d)
{
    return d->_cb != NULL;
}

#endif
