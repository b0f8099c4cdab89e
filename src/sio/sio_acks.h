/*
 * sio_acks: the pending server->client acks of one socket (sio layer).
 *
 * When the server emits with an ack, it picks an id (per namespace counter, as the
 * reference does), remembers what to call back under that id on the socket, and sends
 * the event. The client's ACK/BINARY_ACK with that id takes the entry out (unknown ids
 * are ignored); a timeout or the socket's disconnect takes it out too, so every entry
 * is completed exactly once (STYLE rule 17). A socket rarely has more than a few acks
 * pending, so the list is a plain singly linked list in emit order.
 *
 * An entry is either a single emit's callback or one recipient of a broadcast with acks
 * (then `grp` points at the shared collector).
 *
 * Ownership: entries are allocated by the caller (sio_socket.c) and owned by the list
 * while linked; the take/pop functions hand them back. Threading: loop thread only.
 * Spec: socketio-protocol.md §2.5.
 */
#ifndef SIOC_SIO_ACKS_H
#define SIOC_SIO_ACKS_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net_timer.h"
#include "sioc.h"

struct sio_ackgroup;

/** One expected ack. */
typedef struct sio_ack {
    struct sio_ack *next;
    uint64_t id;    /* the ack id sent with the event */
    sioc_ack_cb cb; /* single emit: the callback (NULL for a group entry) */
    void *arg;
    struct sio_ackgroup *grp; /* broadcast with acks: the collector */
    sioc_socket_t *s;         /* the socket waiting (for the timer) */
    net_timer_t timer;        /* single emit with a timeout */
} sio_ack_t;

/** The pending acks of a socket. Zeroed = empty. */
typedef struct sio_ack_list {
    sio_ack_t *head;
} sio_ack_list_t;

/** Appends `a` (its `id` set). */
void sio_acks_push(sio_ack_list_t *l, sio_ack_t *a);

/** Removes and returns the entry with `id`, or NULL if none (unknown or duplicate ack). */
sio_ack_t *sio_acks_take(sio_ack_list_t *l, uint64_t id);

/** Removes `a` if linked; returns whether it was. */
bool sio_acks_remove(sio_ack_list_t *l, sio_ack_t *a);

/** Removes and returns the oldest entry, or NULL when empty (for disconnect). */
sio_ack_t *sio_acks_pop(sio_ack_list_t *l);

#endif
