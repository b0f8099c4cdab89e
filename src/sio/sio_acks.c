/* sio_acks: a short singly linked list of pending acks, oldest first. */
#include "sio/sio_acks.h"

#include <stddef.h>

void sio_acks_push(sio_ack_list_t *l, sio_ack_t *a)
{
    sio_ack_t **pp = &l->head;
    while (*pp)
        pp = &(*pp)->next;
    a->next = NULL;
    *pp = a;
}

sio_ack_t *sio_acks_take(sio_ack_list_t *l, uint64_t id)
{
    for (sio_ack_t **pp = &l->head; *pp; pp = &(*pp)->next) {
        sio_ack_t *a = *pp;
        if (a->id != id)
            continue;
        *pp = a->next;
        a->next = NULL;
        return a;
    }
    return NULL;
}

bool sio_acks_remove(sio_ack_list_t *l, sio_ack_t *a)
{
    for (sio_ack_t **pp = &l->head; *pp; pp = &(*pp)->next) {
        if (*pp != a)
            continue;
        *pp = a->next;
        a->next = NULL;
        return true;
    }
    return false;
}

sio_ack_t *sio_acks_pop(sio_ack_list_t *l)
{
    sio_ack_t *a = l->head;
    if (!a)
        return NULL;
    l->head = a->next;
    a->next = NULL;
    return a;
}
