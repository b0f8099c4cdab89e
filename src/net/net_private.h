/*
 * net_private: what the net layer's own files share (net layer, internal).
 *
 * Not for other layers: only the .c files of src/net include it. Holds the loop and
 * connection structs so that net_loop.c (prepare hook, defers), net_timer.c (the heap),
 * net_conn.c (connections, flush list) and net_outq.c (output queue memory) can reach
 * the shared state. Symbols shared across these files use the net__ infix (STYLE rule
 * 2). Threading: loop thread only.
 */
#ifndef SIOC_NET_PRIVATE_H
#define SIOC_NET_PRIVATE_H

#include <sys/socket.h>

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

#ifdef SIOC_ASAN
enum { NET_POOL_MAX = 0 }; /* no recycling under sanitizers: every block is really freed */
#else
enum { NET_POOL_MAX = 64 }; /* at most 256 KiB of spare chunks per loop */
#endif

enum {
    MAX_IOV = 64,                                 /* iovecs per send */
    NET_SEND_BATCH = 256,                         /* sends per io_uring submission */
    NET_CHUNK_CAP = 4096 - (int)sizeof(rcbuf_t), /* a pooled copy chunk is one 4 KiB block */
    NET_INLINE_SEGS = 2,                          /* segment slots inside a connection */
    NET_POOL_SEGS = 16,                           /* size of a pooled overflow array */
};

/* One send of a batch being built (net_conn.c, batched flush). */
struct net_send_slot {
    net_conn_t *c;
    size_t total;                 /* bytes offered */
    struct msghdr mh;
    uv_buf_t iov[MAX_IOV];
};

/* A memory connection (tests, fuzzers) has no socket: the storage of the uv handle
 * holds what it needs instead. */
struct net_mem {
    net_defer_t closed;           /* runs the close callback from the loop */
    buf_t *sink;                  /* where flushed output goes (caller-owned) */
};

struct net_conn {
    union {
        uv_tcp_t tcp;             /* the socket; tcp.data = this */
        struct net_mem mem;       /* when `memory` is set */
    };
    net_loop_t *nl;               /* owning context */
    const net_conn_ops_t *ops;    /* owner's callbacks; NULL until set */
    void *user;                   /* owner's pointer */
    net_conn_t *prev, *next;      /* the loop's list of open connections */
    net_conn_t *flush_next;       /* the loop's flush list, while in_flush */
    net_conn_t *yield_next;       /* the loop's yield list, while in_yield */
    uint8_t *tail;                /* unconsumed input at tail[tail_off..], NULL when none */
    uint32_t tail_off, tail_len, tail_cap;
    struct net_seg *segs;         /* inline_segs or a pooled/heap array */
    uint32_t seg_head, seg_n, seg_cap;
    uint32_t inflight;            /* segments covered by the armed uv_write */
    size_t inflight_bytes;        /* bytes of that write */
    struct net_seg inline_segs[NET_INLINE_SEGS];
    size_t queued;                /* bytes pending in segs */
    size_t max_out;               /* bound on queued; 0 = loop default */
    uint64_t id;                  /* for log lines */
    uv_write_t *wreq;             /* armed write after a short write, else NULL */
    struct net_linger *linger;        /* set once the FIN was sent */
    int close_status;             /* what on_close reports */
    unsigned in_flush : 1;        /* on the loop's flush list */
    unsigned redeliver : 1;       /* present the tail again at the next flush */
    unsigned closing : 1;         /* net_conn_close called or peer gone */
    unsigned uv_closed : 1;       /* uv_close called */
    unsigned dead : 1;            /* closed and freed as soon as the flush list lets go */
    unsigned eof : 1;             /* the peer sent FIN */
    unsigned read_active : 1;     /* uv_read_start in effect */
    unsigned shut : 1;            /* shutdown started */
    unsigned memory : 1;          /* no socket: see net_conn_new_memory */
    unsigned status_set : 1;      /* close_status is final (first cause wins) */
    unsigned in_yield : 1;        /* on the loop's yield list (net_conn_yield) */
    unsigned yield_paused : 1;    /* resume reading once the yielded input is handed over */
    unsigned no_linger : 1;       /* NET_CLOSE_NO_LINGER: close once flushed, no FIN wait */
};


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
    struct net_uring *uring;     /* batched sends, or NULL: sendmsg(2) per connection */
    struct net_send_slot *send_slots; /* one per send the ring holds (NET_SEND_BATCH) */
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
void net__outq_pool_free(net_loop_t *nl);

/* net_outq.c: the output queue's memory (see net_conn.c for the queue itself) */

/** Gives segment `s`'s buffer back (to the chunk pool when it is a sole-owner chunk). */
void net__outq_release(net_loop_t *nl, struct net_seg *s);
/** Back to the inline slots once the queue is empty (the overflow array is pooled). */
void net__outq_reset(net_conn_t *c);
/** Appends a segment for `rc` (cap != 0: a chunk more copies may go into). */
void net__outq_push(net_conn_t *c, rcbuf_t *rc, uint32_t cap);
/** Releases every queued segment and empties the queue. */
void net__outq_release_all(net_conn_t *c);
/** Copies `n` bytes into the queue (the last chunk, pooled chunks, or one exact block). */
void net__outq_copy_in(net_conn_t *c, const uint8_t *p, size_t n);

#endif
