/*
 * sio_adapter: the interface between a Socket.IO namespace and its adapter (sio layer).
 *
 * An adapter keeps the namespace's rooms and delivers broadcasts: the in-process one
 * (src/cluster/clu_local.c) for a single node, the Redis one (a later issue) for a
 * cluster, which forwards broadcasts to other nodes and delivers locally through the
 * same calls. Adapters implement one const ops table (STYLE rule 22); sio holds the
 * table and one adapter instance per namespace, and never includes cluster headers.
 *
 * Semantics are socket.io-adapter's (spec §2.6):
 *   - every socket joins the room named by its id when it connects (add_all) and leaves
 *     all rooms when it disconnects (del_all); empty rooms disappear;
 *   - a broadcast goes to the union of `rooms` (all sockets when none), minus every
 *     socket in an `except` room, each socket at most once;
 *   - SIO_BCAST_LOCAL: this node only; SIO_BCAST_VOLATILE: skip sockets whose transport
 *     cannot take the packet right now.
 *
 * Delivery: adapters hand each selected local socket to sio_socket_deliver (or
 * sio_socket_deliver_ack), which queues the packet frames encoded ONCE for all
 * recipients (sio_outpkt_t): no allocation per recipient.
 *
 * Ownership: the namespace owns its adapter instance (create/destroy). Packets, options
 * and names are borrowed for the call. Threading: loop thread only; callbacks of the
 * iteration functions must not modify rooms (collect first, as sio_sockets_* do).
 */
#ifndef SIOC_SIO_ADAPTER_H
#define SIOC_SIO_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/rcbuf.h"
#include "base/slice.h"
#include "eio/eio_server.h"
#include "sio/sio_packet.h"
#include "sioc.h"

typedef struct sio_adapter sio_adapter_t;   /* an adapter instance, defined by the adapter */
typedef struct sio_ackgroup sio_ackgroup_t; /* a broadcast-with-ack collector (sio) */

/** Most binary attachments an outgoing packet may carry. */
#define SIO_OUT_MAX_BINS 64

/**
 * One outgoing packet shared by every recipient. The fields up to `bins` describe it
 * (for adapters that re-encode it for other nodes); the frames are built once, on the
 * first local delivery (sio_outpkt_frames), and released by sio_outpkt_release.
 */
typedef struct sio_outpkt {
    sio_header_t h;      /* type EVENT/BINARY_EVENT (...), nsp, ack id */
    slice_t name;        /* event name (UTF-8) */
    slice_t args;        /* raw JSON arguments, comma-separated, no brackets */
    const slice_t *bins; /* binary attachments (h.attachments of them) */
    buf_t *scratch;      /* where the encoder works (sio's; borrowed) */
    eio_server_t *eio;   /* whose frame cache the frames come from */
    /* built lazily, shared: */
    rcbuf_t *text;   /* the text message frame */
    size_t text_hdr; /* its frame header length */
    rcbuf_t **bin;   /* one frame per attachment */
    size_t *bin_hdr;
} sio_outpkt_t;

/** Broadcast flags. */
enum { SIO_BCAST_LOCAL = 1, SIO_BCAST_VOLATILE = 2 };

/** Who gets a broadcast. Slices borrowed for the call. */
typedef struct sio_bcast {
    const slice_t *rooms; /* n_rooms == 0: every socket of the namespace */
    size_t n_rooms;
    const slice_t *except; /* sockets in these rooms are skipped */
    size_t n_except;
    unsigned flags; /* SIO_BCAST_* */
} sio_bcast_t;

/** Called once per selected socket by `sockets`. */
typedef void (*sio_socket_visit_cb)(void *arg, sioc_socket_t *s);

/** Called once per room by `all_rooms` (name valid for the call). */
typedef void (*sio_room_visit_cb)(void *arg, slice_t name);

/** The operations of an adapter. All are required. */
typedef struct sio_adapter_ops {
    const char *name; /* "local", "redis", ... for logs */
    /** A new instance for `nsp`, with the adapter's own `config` (borrowed). */
    sio_adapter_t *(*create)(sioc_nsp_t *nsp, void *config);
    /** Frees the instance (every socket has left already). */
    void (*destroy)(sio_adapter_t *a);
    /** Adds `s` to `rooms` (joining the namespace on the first call). */
    void (*add_all)(sio_adapter_t *a, sioc_socket_t *s, const slice_t *rooms, size_t n);
    /** Removes `s` from `room`. */
    void (*del)(sio_adapter_t *a, sioc_socket_t *s, slice_t room);
    /** Removes `s` from every room and from the namespace (disconnect). */
    void (*del_all)(sio_adapter_t *a, sioc_socket_t *s);
    /** True if `s` is in `room`. */
    bool (*has)(sio_adapter_t *a, const sioc_socket_t *s, slice_t room);
    /** Number of local sockets in `room`. */
    size_t (*room_size)(sio_adapter_t *a, slice_t room);
    /** Delivers `pkt` to the selected sockets (and other nodes unless LOCAL). Returns 0,
     *  or a SIOC_E* code when the broadcast went nowhere (SIOC_E2BIG: too large for the
     *  cluster). */
    int (*broadcast)(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *opts);
    /**
     * Delivers `pkt` (which carries an ack id) to the selected sockets, each expecting
     * an ack counted into `grp`. Returns the number of recipients (local + remote).
     */
    size_t (*broadcast_with_ack)(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *opts,
                                 sio_ackgroup_t *grp);
    /** Visits the selected local sockets (fetchSockets). No room changes in `cb`. */
    void (*sockets)(sio_adapter_t *a, const sio_bcast_t *opts, sio_socket_visit_cb cb, void *arg);
    /** The selected sockets join `rooms` (socketsJoin). */
    void (*add_sockets)(sio_adapter_t *a, const sio_bcast_t *opts, const slice_t *rooms, size_t n);
    /** The selected sockets leave `rooms` (socketsLeave). */
    void (*del_sockets)(sio_adapter_t *a, const sio_bcast_t *opts, const slice_t *rooms, size_t n);
    /** The selected sockets are disconnected (disconnectSockets). */
    void (*disconnect_sockets)(sio_adapter_t *a, const sio_bcast_t *opts, bool close);
    /** Sends an event to the other servers of the cluster (no-op for a single node). */
    void (*server_side_emit)(sio_adapter_t *a, const sio_outpkt_t *pkt);
    /** Visits every room (allRooms). */
    void (*all_rooms)(sio_adapter_t *a, sio_room_visit_cb cb, void *arg);
    /** Number of servers in the cluster (1 for the local adapter). */
    size_t (*server_count)(sio_adapter_t *a);
} sio_adapter_ops_t;

/* ---- what sio offers adapters (implemented in src/sio) -------------------------- */

/** The room-index member embedded in a socket (for adapters that use sio_rooms). */
struct sio_member *sio_socket_member(sioc_socket_t *s);

/** The socket embedding `m`. */
sioc_socket_t *sio_socket_from_member(struct sio_member *m);

/**
 * Queues `pkt` on socket `s` (frames built on first use, then shared). Honours
 * SIO_BCAST_VOLATILE in `flags`. Never modifies rooms and never runs app callbacks.
 */
void sio_socket_deliver(sioc_socket_t *s, sio_outpkt_t *pkt, unsigned flags);

/** Like sio_socket_deliver, registering an expected ack of `grp` on `s` first. Returns
 *  true if the packet was queued (the socket then counts as a recipient). */
bool sio_socket_deliver_ack(sioc_socket_t *s, sio_outpkt_t *pkt, unsigned flags,
                            sio_ackgroup_t *grp);

/** Builds the shared frames of `pkt` if not built yet (done by the deliver calls). */
void sio_outpkt_frames(sio_outpkt_t *pkt);

/** Releases the frames of `pkt`. */
void sio_outpkt_release(sio_outpkt_t *pkt);

/* ---- for cluster adapters: answers from other nodes (src/sio/sio_adapter.c) ------ */

/**
 * Adds `n` expected answers to `g`: client acks announced by another node, or one
 * placeholder per node that has not reported its count yet (withdrawn with
 * sio_ackgroup_answer_remote(g, NULL)). No-op once the group is done.
 */
void sio_ackgroup_expect(sio_ackgroup_t *g, size_t n);

/** Takes a reference on `g` (a cluster request that may still answer into it). */
void sio_ackgroup_ref(sio_ackgroup_t *g);

/** Drops a reference taken with sio_ackgroup_ref (frees the group at zero). */
void sio_ackgroup_unref(sio_ackgroup_t *g);

/** True once the group's final callback has run (timeout, or every answer came). */
bool sio_ackgroup_is_done(const sio_ackgroup_t *g);

/**
 * One expected answer arrived from another node: the per-answer callback runs with
 * `args` and a NULL socket (the client is not local). `args` NULL only withdraws one
 * expected answer (a placeholder, or a node that went away). The final callback runs
 * when nothing is expected any more.
 */
void sio_ackgroup_answer_remote(sio_ackgroup_t *g, const sioc_args_t *args);

#endif
