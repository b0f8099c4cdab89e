/*
 * clu_cluster_private: the structures shared by the Redis adapter's core
 * (clu_redis_adapter.c) and its wire formats (clu_redis_sio.c, ...) (cluster layer).
 *
 * A wire format is a const table (clu_format_ops_t) the core calls: it subscribes a
 * namespace's channels, publishes broadcasts and room operations, and handles what
 * arrives. The core keeps the rooms, the Redis client, the counters and the pending
 * cluster requests (fetchSockets, server count, broadcast acks).
 *
 * Ownership: the cluster owns its adapters' list links, the pending requests and the
 * scratch buffers; adapters are owned by their namespaces. Threading: loop thread only.
 */
#ifndef SIOC_CLU_CLUSTER_PRIVATE_H
#define SIOC_CLU_CLUSTER_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "cluster/clu_redis.h"
#include "cluster/clu_redis_adapter.h"
#include "net/net_timer.h"
#include "sio/sio_rooms.h"
#include "sio/sio_server.h"

/** Longest node / request id (python-socketio's host_id: 32 hex chars). */
#define CLU_ID_MAX 40
/** Rooms of one cluster message handled without allocating. */
#define CLU_MAX_ROOMS 256
/** Cluster request timeout (the Node adapter's requestsTimeout). */
#define CLU_REQUEST_TIMEOUT_MS 5000
/** How long a broadcast-with-ack request keeps its collector for late client acks. */
#define CLU_ACK_HOLD_MS 60000

typedef struct clu_pending clu_pending_t;

/** The operations of a wire format. */
typedef struct clu_format_ops {
    const char *name;
    const char *default_channel;
    /** Subscribes the namespace's channels. */
    void (*nsp_start)(sio_adapter_t *a);
    /** Unsubscribes them (adapter going away). */
    void (*nsp_stop)(sio_adapter_t *a);
    /** A pub/sub message (the core found no other owner). */
    void (*on_message)(clu_cluster_t *cl, slice_t pattern, slice_t channel, slice_t payload);
    /** Publishes a broadcast; returns 0 or a SIOC_E* code (nothing published). */
    int (*publish_bcast)(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o);
    /** Publishes a broadcast whose acks come back into `grp` (a placeholder is held for
     *  the other nodes). Returns 0 or a SIOC_E* code. */
    int (*publish_bcast_ack)(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o,
                             sio_ackgroup_t *grp);
    /** Publishes socketsJoin (`join`) / socketsLeave. */
    void (*publish_rooms)(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms, size_t n,
                          bool join);
    /** Publishes disconnectSockets. */
    void (*publish_disconnect)(sio_adapter_t *a, const sio_bcast_t *o, bool close);
    /** Publishes a serverSideEmit. Returns 0 or a SIOC_E* code. */
    int (*publish_sse)(sio_adapter_t *a, slice_t event, slice_t args);
    /** Answers a serverSideEmit ack. */
    int (*sse_ack)(sio_adapter_t *a, slice_t request_id, slice_t arg_json);
    /** Starts a fetchSockets for the other nodes (after the local part is in `p`). */
    void (*fetch)(sio_adapter_t *a, clu_pending_t *p, const sio_bcast_t *o);
} clu_format_ops_t;

struct clu_cluster {
    uv_loop_t *loop;
    net_loop_t *nl;
    clu_redis_t *r; /* NULL once stopped */
    const clu_format_ops_t *fmt;
    char uid[CLU_ID_MAX]; /* this node's id */
    size_t uid_len;
    char *key; /* channel prefix (owned) */
    size_t key_len;
    bool room_channels;
    size_t max_message;
    sio_adapter_t *adapters;                              /* one per namespace */
    clu_pending_t *pending;                               /* cluster requests in progress */
    buf_t out, chan, scratch;                             /* encoding scratch (reused) */
    buf_t rx_args, rx_names, rx_att, rx_rooms, rx_except; /* decoding scratch (reused) */
    uint64_t rnd;                                         /* xorshift state for request ids */
    uint64_t py_next_id; /* python-socketio: callback ids of this node */
    sioc_cluster_stats_t stats;
    unsigned log_count;
    bool stopped;
    bool closed;        /* the Redis client finished closing */
    bool free_on_close; /* clu_cluster_free came first */
};

struct sio_adapter {
    sio_rooms_t *rooms; /* first: clu_rooms reaches it through the adapter */
    clu_cluster_t *cl;
    sioc_nsp_t *nsp;
    sio_adapter_t *next;
    slice_t name;   /* the namespace name (the nsp's) */
    buf_t pattern;  /* socketio: <key>#<nsp>#* ; python: room pattern */
    buf_t req_chan; /* socketio: <key>-request#<nsp># */
    buf_t resp_chan, resp_uid_chan;
    sioc_server_side_cb sse_cb;
    void *sse_arg;
    size_t last_ack_count; /* recipients of the last broadcast_with_ack (local part) */
};
_Static_assert(offsetof(struct sio_adapter, rooms) == 0, "clu_rooms needs rooms first");

/** Kinds of pending cluster requests. */
enum clu_pending_kind { CLU_PEND_COUNT, CLU_PEND_FETCH, CLU_PEND_BCAST_ACK };

/** A cluster request waiting for answers. */
struct clu_pending {
    clu_pending_t *next;
    clu_cluster_t *cl;
    sio_adapter_t *a; /* NULL once the namespace went */
    int kind;
    char id[CLU_ID_MAX]; /* request id */
    size_t id_len;
    size_t waiting; /* responses still expected (broadcast ack: nodes whose client
                       count has not come; each holds one expected answer of `grp`) */
    net_timer_t timer;
    int timer_status;    /* what the timer completes with (SIOC_ETIMEDOUT by default) */
    bool numsub_pending; /* a NUMSUB reply is still to come (holds the object) */
    bool finished;
    /* fetch */
    buf_t acc; /* fetch: JSON array body (no brackets) */
    buf_t req; /* the request to publish once the server count is known */
    size_t n;
    sioc_fetch_cb fetch_cb;
    sioc_count_cb count_cb;
    void *arg;
    /* broadcast ack */
    sio_ackgroup_t *grp;
};

/* ---- core services for the formats (clu_redis_adapter.c) ------------------------ */

/** The channel prefix and this node's id as slices. */
static inline slice_t clu__key(const clu_cluster_t *cl)
{
    return slice_make(cl->key, cl->key_len);
}

static inline slice_t clu__uid(const clu_cluster_t *cl)
{
    return slice_make(cl->uid, cl->uid_len);
}

/** Publishes `payload` on `channel`; counts, maps errors to SIOC_E*, logs rate-limited. */
int clu_cluster_publish(clu_cluster_t *cl, slice_t channel, slice_t payload);

/** A fresh 6-character request id into `p->id`. */
void clu_cluster_new_id(clu_cluster_t *cl, char *out, size_t len);

/** Finds the adapter of namespace `nsp`, or NULL. */
sio_adapter_t *clu_cluster_adapter(clu_cluster_t *cl, slice_t nsp);

/** A new pending request of `kind` for `a` (linked into the cluster). */
clu_pending_t *clu_pending_new(sio_adapter_t *a, int kind);

/** Finds a pending request by id, or NULL. */
clu_pending_t *clu_pending_find(clu_cluster_t *cl, slice_t id);

/**
 * Asks Redis for the number of subscribers of `p->a`'s request channel, then: a COUNT
 * request completes with it; others publish `p->req` on the request channel and wait for
 * one response per other node (none: complete at once), up to `timeout_ms`.
 */
void clu_pending_numsub(clu_pending_t *p, uint64_t timeout_ms);

/** Arms the request timeout. */
void clu_pending_arm(clu_pending_t *p, uint64_t ms);

/** One response fewer expected; finishes the request at zero. */
void clu_pending_got(clu_pending_t *p);

/** Completes the request (callbacks with `status`) and frees it when nothing refers to
 *  it any more. */
void clu_pending_finish(clu_pending_t *p, int status);

/** Appends the local sockets `o` selects to a fetch result (`first`: none written yet). */
size_t clu_adapter_fetch_local(sio_adapter_t *a, const sio_bcast_t *o, buf_t *acc, bool first);

/** A packet for local delivery of event `name` (`args`, `bins`) in `a`'s namespace. */
void clu_adapter_outpkt(sio_adapter_t *a, sio_outpkt_t *pkt, slice_t name, slice_t args,
                        const slice_t *bins, size_t nbins);

/** The formats. */
extern const clu_format_ops_t clu_format_socketio;
extern const clu_format_ops_t clu_format_python;

#endif
