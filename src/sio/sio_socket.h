/*
 * sio_socket: one client's presence in one namespace (sio layer).
 *
 * A socket is created by a CONNECT, lives while its namespace connection lasts, and is
 * freed when its last reference goes (the connection's own, a pending middleware
 * decision, the app's sioc_socket_ref, a dispatch in progress):
 *
 *   PENDING --accept--> CONNECTED --disconnect (either side, or the session)--> GONE
 *      └──reject / session closed──────────────────────────────────────────────┘
 *
 * In always_connect mode the socket is CONNECTED before the middleware runs, and
 * `mw_pending` says the decision is outstanding.
 *
 * The public functions of include/sioc.h about sockets, events, acks, rooms and
 * broadcasts are implemented in sio_socket.c and sio_emit.c on these structures.
 *
 * Ownership: see above; a GONE socket has no client and is out of every room.
 * Threading: loop thread only. Spec: socketio-protocol.md §2.4-§2.6.
 */
#ifndef SIOC_SIO_SOCKET_H
#define SIOC_SIO_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "eio/eio_id.h"
#include "sio/sio_acks.h"
#include "sio/sio_emit.h"
#include "sio/sio_rooms.h"
#include "sio/sio_server.h"
#include "sioc.h"

/** Socket states. */
enum sio_sock_state {
    SIO_SOCK_PENDING,   /* waiting for the middleware (not in the namespace yet) */
    SIO_SOCK_CONNECTED, /* in the namespace */
    SIO_SOCK_GONE,      /* left; memory kept while referenced */
};

struct sioc_socket {
    sio_member_t member; /* room membership (used by the local adapter) */
    sioc_nsp_t *nsp;
    struct sio_client *client; /* NULL once GONE */
    sioc_socket_t *next;       /* in the client's list */
    void *user;                /* the application's pointer */
    sio_ack_list_t acks;       /* server->client acks waiting */
    char *auth;                /* copy of the CONNECT auth while a decision is pending
                                  after the middleware returned (async middleware) */
    uint32_t refs;
    uint8_t state;   /* enum sio_sock_state */
    bool mw_pending; /* a middleware decision is outstanding */
    char id[EIO_ID_LEN + 1];
};

/** Received arguments, as handed to event and ack callbacks. */
struct sioc_args {
    slice_t json;           /* raw JSON, comma-separated, no brackets */
    uint32_t n;             /* number of arguments */
    const sioc_str_t *bins; /* attachments */
    size_t n_bins;
};

/** A broadcast with acks in progress. */
struct sio_ackgroup {
    sioc_nsp_t *nsp;
    sioc_ack_cb cb;
    void *arg;
    size_t expected;   /* recipients still to answer */
    uint32_t refs;     /* pending entries + the group itself while not done */
    bool done;         /* the final callback ran */
    net_timer_t timer; /* timeout, or the immediate completion with no recipient */
};

/** Creates a PENDING socket of `c` in `nsp` (one reference: the connection's). */
sioc_socket_t *sio__socket_new(struct sio_client *c, sioc_nsp_t *nsp);

/**
 * Makes a PENDING socket CONNECTED: joins its id room, cancels the connect timeout,
 * sends the CONNECT reply.
 */
void sio__socket_join_nsp(sioc_socket_t *s);

/**
 * Ends a socket: sends DISCONNECT when `send` (and it was connected), leaves every
 * room, fails its pending acks, runs the disconnect handler (if it was connected),
 * drops the connection's reference. No-op for a GONE socket.
 */
void sio__socket_gone(sioc_socket_t *s, sioc_reason_t reason, bool send);

/** Dispatches a decoded EVENT to the namespace handlers (ref held around the call). */
void sio__socket_on_event(sioc_socket_t *s, const sio_packet_t *p, const sioc_str_t *bins,
                          size_t n_bins);

/** Completes the pending ack of a decoded ACK (unknown ids are ignored). */
void sio__socket_on_ack(sioc_socket_t *s, const sio_packet_t *p, const sioc_str_t *bins,
                        size_t n_bins);

/** Runs the connection handler (and frees a kept auth copy). */
void sio__socket_connected(sioc_socket_t *s, int status, sioc_str_t auth);

/** Encodes `data` as event `name` (or an ack with `ack_id` >= 0) of `nsp` into the
 *  server scratch and sends it to one session. */
int sio__send_packet(sioc_socket_t *s, sio_packet_type_t type, slice_t name, int64_t ack_id,
                     sioc_data_t data);

/** Normalises public data (json/len, bins) into slices; SIOC_EINVAL when unusable. */
int sio__data_slices(sioc_data_t d, slice_t *json, slice_t *bins, size_t cap);

#endif
