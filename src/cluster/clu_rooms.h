/*
 * clu_rooms: the local half of every adapter (cluster layer): socket.io-adapter's room
 * operations on this node's sio_rooms index, shared by the in-process adapter
 * (clu_local) and the Redis adapter (clu_redis_adapter), which adds the other nodes.
 *
 * Delivery goes through sio_socket_deliver*, which queue frames encoded once for every
 * recipient: nothing here allocates per recipient. The operations that act on selected
 * sockets (join, leave, disconnect) snapshot the selection first, holding a reference
 * on each socket, since acting may change rooms or free sockets.
 *
 * Ownership: `r` and every argument are borrowed for the call. Threading: loop thread.
 * Spec: socketio-protocol.md §2.6 (adapter semantics).
 */
#ifndef SIOC_CLU_ROOMS_H
#define SIOC_CLU_ROOMS_H

#include <stdbool.h>
#include <stddef.h>

#include "sio/sio_adapter.h"
#include "sio/sio_rooms.h"

/** The sio_rooms selection of broadcast options `o`. */
sio_rooms_filter_t clu_rooms_filter(const sio_bcast_t *o);

/* The adapter operations that are local on every node, used as they are in both
 * adapters' op tables. They take the adapter, whose struct sio_adapter must begin with
 * its `sio_rooms_t *rooms` (clu_local.c, clu_cluster_private.h). */

/** Adds `s` to `rooms` (attaching it to the index on the first call). */
void clu_rooms_add_all(sio_adapter_t *a, sioc_socket_t *s, const slice_t *rooms, size_t n);
/** Removes `s` from `room`. */
void clu_rooms_del(sio_adapter_t *a, sioc_socket_t *s, slice_t room);
/** Removes `s` from every room and from the index. */
void clu_rooms_del_all(sio_adapter_t *a, sioc_socket_t *s);
/** True if `s` is in `room`. */
bool clu_rooms_has(sio_adapter_t *a, const sioc_socket_t *s, slice_t room);
/** Number of local sockets in `room`. */
size_t clu_rooms_size(sio_adapter_t *a, slice_t room);

/** Delivers `pkt` to the local sockets `o` selects. */
void clu_rooms_deliver(sio_rooms_t *r, sio_outpkt_t *pkt, const sio_bcast_t *o);
/** Like clu_rooms_deliver, each recipient expecting an ack counted into `grp`; returns
 *  the number of recipients. */
size_t clu_rooms_deliver_ack(sio_rooms_t *r, sio_outpkt_t *pkt, const sio_bcast_t *o,
                             sio_ackgroup_t *grp);
/** Visits the local sockets `o` selects. */
void clu_rooms_sockets(sio_rooms_t *r, const sio_bcast_t *o, sio_socket_visit_cb cb, void *arg);
/** The selected local sockets join (`join`) or leave `rooms`. */
void clu_rooms_join_selected(sio_rooms_t *r, const sio_bcast_t *o, const slice_t *rooms,
                             size_t n, bool join);
/** The selected local sockets are disconnected (`close`: their connection too). */
void clu_rooms_disconnect_selected(sio_rooms_t *r, const sio_bcast_t *o, bool close);
/** Visits every local room. */
void clu_rooms_list(sio_rooms_t *r, sio_room_visit_cb cb, void *arg);

#endif
