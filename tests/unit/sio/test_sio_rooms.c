/* Unit tests for src/sio/sio_rooms: join/leave semantics, empty-room deletion, union and
 * except with de-duplication, listing, and a randomized comparison against a naive model
 * (a membership matrix) that exercises the hash-set growth, shrink and deletion paths. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sio/sio_rooms.h"

typedef struct {
    int id;
    sio_member_t m;
    int hits;
} sock_t;

#define SOCK_OF(mp) ((sock_t *)((char *)(mp) - offsetof(sock_t, m)))

static slice_t S(const char *s)
{
    return slice_from_cstr(s);
}

static void on_visit(void *arg, sio_member_t *m)
{
    (void)arg;
    SOCK_OF(m)->hits++;
}

static size_t run(sio_rooms_t *r, sock_t *s, int n, const char **rooms, size_t nr,
                  const char **except, size_t ne)
{
    slice_t rs[8], es[8];
    for (size_t i = 0; i < nr; i++)
        rs[i] = S(rooms[i]);
    for (size_t i = 0; i < ne; i++)
        es[i] = S(except[i]);
    for (int i = 0; i < n; i++)
        s[i].hits = 0;
    sio_rooms_filter_t f = {rs, nr, es, ne};
    return sio_rooms_foreach(r, &f, on_visit, NULL);
}

static void setup(sio_rooms_t **r, sock_t *s, int n)
{
    *r = sio_rooms_new();
    for (int i = 0; i < n; i++) {
        char id[16];
        s[i].id = i;
        sio_member_init(&s[i].m);
        sio_rooms_attach(*r, &s[i].m);
        snprintf(id, sizeof id, "sid%d", i);
        cr_assert_eq(sio_rooms_join(*r, &s[i].m, S(id)), 1); /* own room, as at connect */
    }
}

Test(sio_rooms, join_leave_and_counts, .timeout = 5)
{
    sio_rooms_t *r;
    sock_t s[3];
    setup(&r, s, 3);
    cr_expect_eq(sio_rooms_room_count(r), 3);
    cr_expect_eq(sio_rooms_member_count(r), 3);

    cr_expect_eq(sio_rooms_join(r, &s[0].m, S("room1")), 1);
    cr_expect_eq(sio_rooms_join(r, &s[0].m, S("room1")), 0, "joining twice is a no-op");
    cr_expect_eq(sio_rooms_join(r, &s[1].m, S("room1")), 1);
    cr_expect_eq(sio_rooms_count(r, S("room1")), 2);
    cr_expect(sio_rooms_has(r, &s[0].m, S("room1")));
    cr_expect_not(sio_rooms_has(r, &s[2].m, S("room1")));
    cr_expect_eq(sio_member_room_count(&s[0].m), 2);
    cr_expect(slice_eq_cstr(sio_member_room(&s[0].m, 0), "sid0"));
    cr_expect(slice_eq_cstr(sio_member_room(&s[0].m, 1), "room1"));

    cr_expect_eq(sio_rooms_leave(r, &s[2].m, S("room1")), 0, "not a member");
    cr_expect_eq(sio_rooms_leave(r, &s[0].m, S("nope")), 0);
    cr_expect_eq(sio_rooms_leave(r, &s[0].m, S("room1")), 1);
    cr_expect_eq(sio_rooms_count(r, S("room1")), 1);
    cr_expect_eq(sio_rooms_leave(r, &s[1].m, S("room1")), 1);
    cr_expect_eq(sio_rooms_count(r, S("room1")), 0);
    cr_expect_eq(sio_rooms_room_count(r), 3, "the empty room was deleted");

    /* the empty name is a room like any other */
    cr_expect_eq(sio_rooms_join(r, &s[2].m, S("")), 1);
    cr_expect(sio_rooms_has(r, &s[2].m, S("")));

    /* a detached member cannot join */
    sock_t x;
    sio_member_init(&x.m);
    cr_expect_eq(sio_rooms_join(r, &x.m, S("room1")), -1);
    sio_rooms_free(r);
}

Test(sio_rooms, leave_all_and_detach, .timeout = 5)
{
    sio_rooms_t *r;
    sock_t s[2];
    setup(&r, s, 2);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        sio_rooms_join(r, &s[0].m, S(names[i]));
        if (i < 2)
            sio_rooms_join(r, &s[1].m, S(names[i]));
    }
    cr_expect_eq(sio_member_room_count(&s[0].m), 6, "past the inline capacity");
    cr_expect_eq(sio_rooms_room_count(r), 7);
    sio_rooms_leave_all(r, &s[0].m);
    cr_expect_eq(sio_member_room_count(&s[0].m), 0);
    cr_expect(sio_member_is_attached(&s[0].m));
    cr_expect_eq(sio_rooms_room_count(r), 3, "sid1, a, b remain");
    cr_expect_eq(sio_rooms_count(r, S("a")), 1);
    cr_expect_eq(sio_rooms_count(r, S("c")), 0);

    sio_rooms_detach(r, &s[1].m);
    cr_expect_not(sio_member_is_attached(&s[1].m));
    cr_expect_eq(sio_rooms_room_count(r), 0);
    cr_expect_eq(sio_rooms_member_count(r), 1);
    sio_rooms_detach(r, &s[1].m); /* no-op */

    /* everyone now means only s[0] */
    cr_expect_eq(run(r, s, 2, NULL, 0, NULL, 0), 1);
    cr_expect_eq(s[0].hits, 1);
    cr_expect_eq(s[1].hits, 0);
    sio_rooms_free(r);
}

Test(sio_rooms, union_except_dedup, .timeout = 5)
{
    sio_rooms_t *r;
    sock_t s[5];
    setup(&r, s, 5);
    /* A = {0,1,2}, B = {2,3}, C = {4} */
    for (int i = 0; i < 3; i++)
        sio_rooms_join(r, &s[i].m, S("A"));
    sio_rooms_join(r, &s[2].m, S("B"));
    sio_rooms_join(r, &s[3].m, S("B"));
    sio_rooms_join(r, &s[4].m, S("C"));

    const char *ab[] = {"A", "B"};
    cr_expect_eq(run(r, s, 5, ab, 2, NULL, 0), 4);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(s[i].hits, i < 4 ? 1 : 0, "socket %d visited %d times", i, s[i].hits);

    /* socket.to(A).emit from socket 0: except its own id room */
    const char *a[] = {"A"};
    const char *ex0[] = {"sid0"};
    cr_expect_eq(run(r, s, 5, a, 1, ex0, 1), 2);
    cr_expect_eq(s[0].hits, 0);
    cr_expect_eq(s[1].hits, 1);
    cr_expect_eq(s[2].hits, 1);

    /* except a room: every member of B is skipped even if also in A */
    const char *exb[] = {"B"};
    cr_expect_eq(run(r, s, 5, a, 1, exb, 1), 2);
    cr_expect_eq(s[2].hits, 0);

    /* everyone except C and socket 1 */
    const char *exc[] = {"C", "sid1"};
    cr_expect_eq(run(r, s, 5, NULL, 0, exc, 2), 3);
    cr_expect_eq(s[4].hits, 0);
    cr_expect_eq(s[1].hits, 0);
    cr_expect_eq(s[0].hits, 1);

    /* unknown rooms are empty; the same room twice still visits once */
    const char *unk[] = {"nope", "A", "A"};
    const char *exu[] = {"nope2"};
    cr_expect_eq(run(r, s, 5, unk, 3, exu, 1), 3);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(s[i].hits, 1);

    /* a NULL filter is everyone */
    for (int i = 0; i < 5; i++)
        s[i].hits = 0;
    cr_expect_eq(sio_rooms_foreach(r, NULL, on_visit, NULL), 5);

    buf_t out = BUF_INIT;
    slice_t bs[] = {S("B")};
    sio_rooms_filter_t f = {bs, 1, NULL, 0};
    cr_expect_eq(sio_rooms_collect(r, &f, &out), 2);
    cr_expect_eq(out.len, 2 * sizeof(sio_member_t *));
    sio_member_t *got[2];
    memcpy(got, buf_data(&out), sizeof got);
    cr_expect((got[0] == &s[2].m && got[1] == &s[3].m) || (got[0] == &s[3].m && got[1] == &s[2].m));
    buf_dispose(&out);
    sio_rooms_free(r);
}

typedef struct {
    int rooms;
    size_t members;
    int seen_big;
} list_t;

static void on_room(void *arg, slice_t name, size_t members)
{
    list_t *l = arg;
    l->rooms++;
    l->members += members;
    if (slice_eq_cstr(name, "big"))
        l->seen_big = (int)members;
}

Test(sio_rooms, list_rooms, .timeout = 5)
{
    sio_rooms_t *r;
    sock_t s[4];
    setup(&r, s, 4);
    for (int i = 0; i < 4; i++)
        sio_rooms_join(r, &s[i].m, S("big"));
    list_t l = {0};
    sio_rooms_list(r, on_room, &l);
    cr_expect_eq(l.rooms, 5);
    cr_expect_eq(l.members, 8);
    cr_expect_eq(l.seen_big, 4);
    sio_rooms_free(r);
}

Test(sio_rooms, foreach_allocates_nothing, .timeout = 5)
{
    sio_rooms_t *r;
    static sock_t s[200];
    setup(&r, s, 200);
    for (int i = 0; i < 200; i++) {
        sio_rooms_join(r, &s[i].m, S(i % 2 ? "odd" : "even"));
        if (i % 3 == 0)
            sio_rooms_join(r, &s[i].m, S("three"));
    }
    const char *rooms[] = {"odd", "three"};
    const char *ex[] = {"sid3"};
    unsigned long before = alloc_count();
    size_t n = run(r, s, 200, rooms, 2, ex, 1);
    cr_expect_eq(alloc_count(), before);
    /* odd or multiple of 3, minus 3: 100 odd + 34 multiples of 3 that are even - 1 */
    cr_expect_eq(n, 100 + 34 - 1);
    sio_rooms_free(r);
}

Test(sio_rooms, repeated_walks_are_independent, .timeout = 5)
{
    /* stamps left by earlier walks must never hide a member from a later one */
    sio_rooms_t *r;
    sock_t s[3];
    setup(&r, s, 3);
    for (int k = 0; k < 1000; k++) {
        const char *ex[] = {k % 2 ? "sid1" : "sid2"};
        cr_assert_eq(run(r, s, 3, NULL, 0, ex, 1), 2);
        cr_assert_eq(s[k % 2 ? 1 : 2].hits, 0);
        cr_assert_eq(s[k % 2 ? 2 : 1].hits, 1);
    }
    sio_rooms_free(r);
}

/* ---- randomized comparison with a membership matrix ---- */

#define NS 64
#define NR 24

Test(sio_rooms, random_ops_match_model, .timeout = 20)
{
    static sock_t s[NS];
    bool model[NS][NR];
    bool attached[NS];
    char names[NR][8];
    memset(model, 0, sizeof model);
    sio_rooms_t *r = sio_rooms_new();
    for (int i = 0; i < NS; i++) {
        sio_member_init(&s[i].m);
        sio_rooms_attach(r, &s[i].m);
        attached[i] = true;
    }
    for (int k = 0; k < NR; k++)
        snprintf(names[k], sizeof names[k], "r%d", k);
    unsigned seed = 12345;
    for (int step = 0; step < 40000; step++) {
        int i = rand_r(&seed) % NS, k = rand_r(&seed) % NR, op = rand_r(&seed) % 100;
        if (op < 50 && attached[i]) {
            cr_assert_eq(sio_rooms_join(r, &s[i].m, S(names[k])), model[i][k] ? 0 : 1);
            model[i][k] = true;
        } else if (op < 90) {
            cr_assert_eq(sio_rooms_leave(r, &s[i].m, S(names[k])), model[i][k] ? 1 : 0);
            model[i][k] = false;
        } else if (op < 93) {
            sio_rooms_leave_all(r, &s[i].m);
            memset(model[i], 0, sizeof model[i]);
        } else if (op < 96 && attached[i]) {
            sio_rooms_detach(r, &s[i].m);
            memset(model[i], 0, sizeof model[i]);
            attached[i] = false;
        } else if (!attached[i]) {
            sio_member_init(&s[i].m);
            sio_rooms_attach(r, &s[i].m);
            attached[i] = true;
        }
        if (step % 97 != 0)
            continue;
        /* check counts, membership, and a random union/except walk */
        size_t rooms_live = 0;
        for (int kk = 0; kk < NR; kk++) {
            size_t cnt = 0;
            for (int ii = 0; ii < NS; ii++)
                cnt += model[ii][kk];
            rooms_live += cnt > 0;
            cr_assert_eq(sio_rooms_count(r, S(names[kk])), cnt, "step %d room %d", step, kk);
        }
        cr_assert_eq(sio_rooms_room_count(r), rooms_live);
        int t1 = rand_r(&seed) % NR, t2 = rand_r(&seed) % NR, e1 = rand_r(&seed) % NR;
        const char *rooms[] = {names[t1], names[t2]};
        const char *ex[] = {names[e1]};
        bool all = rand_r(&seed) % 4 == 0;
        run(r, s, NS, rooms, all ? 0 : 2, ex, 1);
        for (int ii = 0; ii < NS; ii++) {
            bool in = all ? attached[ii] : (model[ii][t1] || model[ii][t2]);
            bool want = in && !model[ii][e1];
            cr_assert_eq(s[ii].hits, want ? 1 : 0, "step %d socket %d", step, ii);
            size_t nrooms = 0;
            for (int kk = 0; kk < NR; kk++)
                nrooms += model[ii][kk];
            cr_assert_eq(sio_member_room_count(&s[ii].m), nrooms);
        }
    }
    sio_rooms_free(r);
}
