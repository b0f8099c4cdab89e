/* Unit tests for sio_acks: pending server->client acks are found by id exactly once, in
 * emit order, and drained at disconnect. */
#include <criterion/criterion.h>

#include "sio/sio_acks.h"

static sio_ack_t mk(uint64_t id)
{
    sio_ack_t a = {0};
    a.id = id;
    return a;
}

Test(sio_acks, take_by_id_once)
{
    sio_ack_list_t l = {0};
    sio_ack_t a = mk(0), b = mk(1), c = mk(2);
    sio_acks_push(&l, &a);
    sio_acks_push(&l, &b);
    sio_acks_push(&l, &c);
    cr_assert_eq(sio_acks_take(&l, 1), &b);
    cr_assert_null(sio_acks_take(&l, 1), "a duplicate ack finds nothing");
    cr_assert_null(sio_acks_take(&l, 7), "an unknown id finds nothing");
    cr_assert_eq(sio_acks_take(&l, 2), &c);
    cr_assert_eq(sio_acks_take(&l, 0), &a);
    cr_assert_null(l.head);
}

Test(sio_acks, pop_in_emit_order)
{
    sio_ack_list_t l = {0};
    sio_ack_t v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = mk((uint64_t)(10 - i));
        sio_acks_push(&l, &v[i]);
    }
    for (int i = 0; i < 5; i++)
        cr_assert_eq(sio_acks_pop(&l), &v[i]);
    cr_assert_null(sio_acks_pop(&l));
}

Test(sio_acks, remove_for_timeouts)
{
    sio_ack_list_t l = {0};
    sio_ack_t a = mk(5), b = mk(6), c = mk(7);
    sio_acks_push(&l, &a);
    sio_acks_push(&l, &b);
    sio_acks_push(&l, &c);
    cr_assert(sio_acks_remove(&l, &b));
    cr_assert(!sio_acks_remove(&l, &b), "removing twice is a no-op");
    cr_assert_null(sio_acks_take(&l, 6), "a timed-out ack is not answered later");
    cr_assert_eq(sio_acks_pop(&l), &a);
    cr_assert_eq(sio_acks_pop(&l), &c);
}

Test(sio_acks, same_id_twice_answers_oldest_first)
{
    /* broadcast-with-ack ids are per namespace, so one socket never sees the same id twice
     * from one emitter; if it ever did, the oldest entry is completed first */
    sio_ack_list_t l = {0};
    sio_ack_t a = mk(3), b = mk(3);
    sio_acks_push(&l, &a);
    sio_acks_push(&l, &b);
    cr_assert_eq(sio_acks_take(&l, 3), &a);
    cr_assert_eq(sio_acks_take(&l, 3), &b);
}
