/*
 * net_private: what the net layer's own files share (net layer, internal).
 *
 * Not for other layers: only the .c files of src/net include it. Holds the loop struct so that
 * net_loop.c (prepare hook, defers), net_timer.c (the heap) and net_conn.c
 * (connections, flush list) can reach the shared state. Symbols shared across these
 * files use the net__ infix (STYLE rule 2). Threading: loop thread only.
 */
#ifndef SIOC_NET_PRIVATE_H
#define SIOC_NET_PRIVATE_H

#include "base/rcbuf.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "net/net_timer.h"

/* One queued output segment: bytes [off, rc->len) of rc are still to be written.
 * cap != 0 marks a chunk owned by this queue that more copies may be appended to. */
struct net_seg {
    rcbuf_t *rc;
    uint32_t off;
    uint32_t cap;
};

/* How many spare overflow segment arrays a loop keeps. */
#define NET_SEGS_POOL_MAX 64

struct net_loop {
    uv_loop_t *uv;               /* the caller's loop */
    net_loop_config_t cfg;       /* defaults filled in */
    uv_prepare_t prepare;        /* once-per-turn flush + defers; ref'd only while busy */
    uv_idle_t idle;              /* runs the yield list; active only while it is not empty */
    uv_timer_t timer;            /* drives the net_timer heap */
    uint8_t *rbuf;               /* the shared read buffer (cfg.read_buf_size) */
    net_conn_t *flush_list;      /* connections with output or redelivery pending */
    net_conn_t *yield_head;      /* connections whose input waits for the next turn, FIFO */
    net_conn_t **yield_tail;
    uint64_t turn;               /* loop turns seen by the prepare hook (accept caps) */
    net_defer_t *defer_head;     /* deferred calls, FIFO */
    net_defer_t **defer_tail;
    net_timer_t *heap_root;      /* timer min-heap, by due time */
    size_t heap_n;               /* timers in the heap */
    bool in_fire;                /* the timer callback loop is running */
    net_conn_t *conns;           /* every open connection (doubly linked) */
    rcbuf_t *chunk_pool;         /* recycled output chunks, linked through data[] */
    unsigned chunk_pool_n;
    struct net_seg *segs_pool[NET_SEGS_POOL_MAX]; /* recycled overflow segment arrays */
    unsigned segs_pool_n;
    net_loop_stats_t stats;      /* counters */
    uint64_t slow_log_counter;   /* rate limit of the slow-consumer log line */
    uint64_t next_conn_id;       /* last id handed out */
    bool freeing;                /* net_loop_free was called; tear down when idle */
    int handles_open;            /* our own uv handles not yet closed */
};

/** Makes sure the prepare hook runs this turn and keeps the loop alive for it. */
void net__loop_wake(net_loop_t *nl);

/** Called by the prepare hook: flushes/redelivers every connection on the list.
 *  Returns true if it did any work. */
bool net__conn_run_flush_list(net_loop_t *nl);

/** Called by the idle hook once per turn: hands every connection that yielded its next
 *  share of input (entries added meanwhile wait for the next turn). */
void net__conn_run_yield_list(net_loop_t *nl);

/** Makes sure the idle hook runs on the next loop turns (a connection yielded). */
void net__loop_want_idle(net_loop_t *nl);

/** uv_timer callback of the loop's timer: fires every due net_timer_t. */
void net__timer_on_uv(uv_timer_t *h);

/** Stops every active timer without running it (loop teardown). */
void net__timer_drop_all(net_loop_t *nl);

/** Whether a listener's accepted sockets inherit its TCP_NODELAY (checked once). */
enum net__nodelay {
    NET__NODELAY_UNKNOWN = 0,   /* nothing accepted yet */
    NET__NODELAY_INHERITED = 1, /* accepted sockets have it: nothing to do */
    NET__NODELAY_PER_CONN = 2,  /* set it on every accepted socket */
};

/** Accepts a pending connection of `server` and registers it with the loop; NULL if
 *  the accept failed. `nodelay` is the listener's state for `server` (checked and
 *  updated on the first accept). The caller gives it an owner and then calls
 *  net__conn_start. */
net_conn_t *net__conn_accept(net_loop_t *nl, uv_stream_t *server, enum net__nodelay *nodelay);

/** Starts reading a freshly accepted connection (or closes it if it got no owner). */
void net__conn_start(net_conn_t *c);

/** Frees the loop's recycled chunks and segment arrays. */
void net__conn_pool_free(net_loop_t *nl);

#endif
