/*
 * clu_local: the in-process adapter (cluster layer).
 *
 * Implements sio_adapter_ops_t for a single node with the sio_rooms index: every socket
 * embeds its room membership, broadcasts walk the union of the target rooms minus the
 * except rooms once, without allocating, and deliver the shared frames. Operations
 * that change rooms or disconnect sockets (socketsJoin/Leave, disconnectSockets) first
 * snapshot the selected sockets, holding a reference on each, then act.
 *
 * Ownership: one instance per namespace, created and destroyed by sio. Threading: loop
 * thread only. Spec: socketio-protocol.md §2.6 (socket.io-adapter in-memory adapter).
 */
#ifndef SIOC_CLU_LOCAL_H
#define SIOC_CLU_LOCAL_H

#include "sio/sio_adapter.h"

/** The in-process adapter's operations (its config pointer is unused: pass NULL). */
extern const sio_adapter_ops_t clu_local_ops;

#endif
