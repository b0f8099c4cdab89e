/*
 * sio_emit: broadcasts — encode once, deliver a reference to every recipient — and
 * broadcasts with acks (sio layer).
 *
 * sio_emit.c implements the broadcast half of include/sioc.h (sioc_emit,
 * sioc_emit_room, sioc_socket_broadcast, sioc_emit_ack, sioc_sockets_*,
 * sioc_room_size) and the delivery calls adapters use (sio_socket_deliver,
 * sio_outpkt_frames, ... in sio_adapter.h). This header holds what the other sio files
 * need from it: the broadcast-with-ack collector.
 *
 * A collector (struct sio_ackgroup, in sio_socket.h) counts the recipients that still
 * owe an answer. Each recipient's pending ack entry holds a reference; the group holds
 * one on itself until its final callback ran (all answered, timeout, or nobody to ask).
 *
 * Ownership: see above. Threading: loop thread only.
 * Spec: socketio-protocol.md §2.5 (broadcast with acks reuses one id), §2.6.
 */
#ifndef SIOC_SIO_EMIT_H
#define SIOC_SIO_EMIT_H

#include "sioc.h"

struct sio_ackgroup;

/** Drops a reference to an ack group (frees it at zero). */
void sio__ackgroup_unref(struct sio_ackgroup *g);

/** One recipient of group `g` answered (`args`) or went away (`args` NULL): the
 *  per-answer callback runs for answers, the final one when nobody owes anything. */
void sio__ackgroup_answer(struct sio_ackgroup *g, sioc_socket_t *s, const sioc_args_t *args);

#endif
