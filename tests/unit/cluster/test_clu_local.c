/* Unit tests for the in-process adapter: socket.io-adapter room semantics (spec §2.6) —
 * own-id rooms, union of rooms, except lists, each socket once, empty rooms removed,
 * socketsJoin/Leave. Sockets here are detached from any connection, so deliveries are
 * no-ops and the selection is observed through the `sockets` operation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clu_local.h"
#include "sio/sio_socket.h"

#define N 6

static struct sioc_nsp nsp;
static sioc_socket_t socks[N];
static sio_adapter_t *ad;
static const sio_adapter_ops_t *ops = &clu_local_ops;

static void setup(void)
{
    memset(&nsp, 0, sizeof nsp);
    ad = ops->create(&nsp, NULL);
    for (int i = 0; i < N; i++) {
        sioc_socket_t *s = &socks[i];
        memset(s, 0, sizeof *s);
        sio_member_init(&s->member);
        s->state = SIO_SOCK_CONNECTED;
        s->refs = 1;
        snprintf(s->id, sizeof s->id, "sock%016d", i);
        slice_t own = slice_from_cstr(s->id);
        ops->add_all(ad, s, &own, 1);
    }
}

static void teardown(void)
{
    for (int i = 0; i < N; i++)
        ops->del_all(ad, &socks[i]);
    ops->destroy(ad);
}

TestSuite(clu_local, .init = setup, .fini = teardown);

static void mark(void *arg, sioc_socket_t *s)
{
    unsigned *mask = arg;
    unsigned bit = 1u << (unsigned)(s - socks);
    cr_assert(!(*mask & bit), "socket %d visited twice", (int)(s - socks));
    *mask |= bit;
}

/* The set of sockets (bit mask) a broadcast with these rooms/except would reach. */
static unsigned select_mask(const char *const *rooms, size_t nr, const char *const *except,
                            size_t ne)
{
    slice_t r[8], e[8];
    for (size_t i = 0; i < nr; i++)
        r[i] = slice_from_cstr(rooms[i]);
    for (size_t i = 0; i < ne; i++)
        e[i] = slice_from_cstr(except[i]);
    sio_bcast_t o = {r, nr, e, ne, 0};
    unsigned mask = 0;
    ops->sockets(ad, &o, mark, &mask);
    return mask;
}

static void join(int i, const char *room)
{
    slice_t r = slice_from_cstr(room);
    ops->add_all(ad, &socks[i], &r, 1);
}

Test(clu_local, everyone_and_own_rooms)
{
    cr_assert_eq(select_mask(NULL, 0, NULL, 0), 0x3f);
    const char *own[] = {socks[3].id};
    cr_assert_eq(select_mask(own, 1, NULL, 0), 1u << 3);
    cr_assert_eq(ops->room_size(ad, slice_from_cstr(socks[2].id)), 1);
    cr_assert(ops->has(ad, &socks[2], slice_from_cstr(socks[2].id)));
    cr_assert(!ops->has(ad, &socks[2], slice_from_cstr(socks[1].id)));
}

Test(clu_local, union_each_once)
{
    join(0, "a");
    join(1, "a");
    join(1, "b");
    join(2, "b");
    const char *ab[] = {"a", "b"};
    cr_assert_eq(select_mask(ab, 2, NULL, 0), 0x7); /* socket 1 once */
    const char *ab_missing[] = {"a", "nope", "b"};
    cr_assert_eq(select_mask(ab_missing, 3, NULL, 0), 0x7);
}

Test(clu_local, except_rooms)
{
    join(0, "a");
    join(1, "a");
    join(2, "a");
    join(2, "vip");
    join(4, "vip");
    const char *a[] = {"a"};
    const char *ex[] = {"vip"};
    cr_assert_eq(select_mask(a, 1, ex, 1), 0x3);
    /* socket.broadcast: except the sender's own room */
    const char *sender[] = {socks[1].id};
    cr_assert_eq(select_mask(a, 1, sender, 1), 0x5);
    /* everyone except a room */
    cr_assert_eq(select_mask(NULL, 0, ex, 1), 0x3f & ~((1u << 2) | (1u << 4)));
    const char *two[] = {"vip", socks[0].id};
    cr_assert_eq(select_mask(a, 1, two, 2), 0x2);
}

Test(clu_local, leave_and_empty_rooms_vanish)
{
    join(0, "a");
    join(1, "a");
    cr_assert_eq(ops->room_size(ad, SLICE_LIT("a")), 2);
    ops->del(ad, &socks[0], SLICE_LIT("a"));
    ops->del(ad, &socks[0], SLICE_LIT("a")); /* leaving twice is fine */
    cr_assert_eq(ops->room_size(ad, SLICE_LIT("a")), 1);
    ops->del_all(ad, &socks[1]);
    cr_assert_eq(ops->room_size(ad, SLICE_LIT("a")), 0);
    cr_assert_eq(ops->room_size(ad, slice_from_cstr(socks[1].id)), 0);
    const char *a[] = {"a"};
    cr_assert_eq(select_mask(a, 1, NULL, 0), 0);
    cr_assert_eq(select_mask(NULL, 0, NULL, 0), 0x3f & ~0x2u, "a detached socket is gone");
}

static void count_room(void *arg, slice_t name)
{
    int *n = arg;
    (*n)++;
    cr_assert(name.len > 0);
}

Test(clu_local, all_rooms_and_server_count)
{
    int n = 0;
    ops->all_rooms(ad, count_room, &n);
    cr_assert_eq(n, N);
    join(0, "x");
    join(1, "x");
    n = 0;
    ops->all_rooms(ad, count_room, &n);
    cr_assert_eq(n, N + 1);
    cr_assert_eq(ops->server_count(ad), 1);
}

Test(clu_local, sockets_join_and_leave)
{
    join(0, "a");
    join(1, "a");
    join(3, "b");
    const slice_t a[] = {SLICE_LIT("a")};
    const slice_t to[] = {SLICE_LIT("c"), SLICE_LIT("d")};
    sio_bcast_t sel = {a, 1, NULL, 0, 0};
    ops->add_sockets(ad, &sel, to, 2);
    const char *c[] = {"c"}, *d[] = {"d"};
    cr_assert_eq(select_mask(c, 1, NULL, 0), 0x3);
    cr_assert_eq(select_mask(d, 1, NULL, 0), 0x3);
    const slice_t b[] = {SLICE_LIT("b")};
    sio_bcast_t all = {NULL, 0, b, 1, 0};
    ops->add_sockets(ad, &all, to, 1); /* everyone but room b joins c */
    cr_assert_eq(select_mask(c, 1, NULL, 0), 0x3f & ~(1u << 3));
    ops->del_sockets(ad, &sel, to, 2);
    cr_assert_eq(select_mask(c, 1, NULL, 0), 0x3f & ~0xbu);
    cr_assert_eq(ops->room_size(ad, SLICE_LIT("d")), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(socks[i].refs, 1, "snapshot references are all released");
}
