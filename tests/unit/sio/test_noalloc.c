/*
 * The broadcast hot path allocates nothing per recipient (STYLE rules 9, 14, 39).
 *
 * A real sioc server and N raw WebSocket clients run on one uv loop on loopback. One
 * client sends an event; the server's handler broadcasts it to a room. The allocation
 * counter of base/alloc.h (every library allocation goes through it) is read around
 * the whole path — read, unmask, Engine.IO and Socket.IO decode, dispatch, encode once,
 * queue a reference per recipient, flush — for a room of N sockets and for a room of
 * one: the counts must be equal (nothing per recipient), and in a normal build zero
 * (the shared frame is recycled from the server's frame cache once every recipient has
 * released it). ASan builds bypass the recycle pools, so there only the equality is
 * asserted.
 */
#include "base/alloc.h"
#include "rawws.h"

#define NCLIENTS 64

#ifdef SIOC_ASAN
#define POOLS_BYPASSED true /* ASan builds allocate where pools would recycle */
#else
#define POOLS_BYPASSED false
#endif

static rw_client_t clients[NCLIENTS];
static sioc_nsp_t *root;

/* ---- the server's handlers ------------------------------------------------------- */

static void on_join(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev;
    (void)ack;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_socket_join(s, room);
}

static void on_bc(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev;
    (void)ack;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_emit_room(sioc_socket_nsp(s), room, "msg", sioc_args_tail(a, 1));
}

static void init_server(sioc_server_t *srv)
{
    root = sioc_of(srv, "/");
    sioc_on(root, "join", on_join, NULL);
    sioc_on(root, "bc", on_bc, NULL);
}

/* ---- waiting --------------------------------------------------------------------- */

static int base[NCLIENTS]; /* msgs counts before the current broadcast */

static void wait_for(rw_pred_fn done, const char *what)
{
    cr_assert(rw_run_until(done, NULL, 10000), "timed out waiting for %s", what);
}

static bool all_connected(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCLIENTS; i++) {
        if (clients[i].connects < 1)
            return false;
    }
    return true;
}

static bool rooms_ready(void *arg)
{
    (void)arg;
    return sioc_room_size(root, "room") == NCLIENTS && sioc_room_size(root, "solo") == 1;
}

static bool all_msgs(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCLIENTS; i++) {
        if (clients[i].msgs <= base[i])
            return false;
    }
    return true;
}

static bool first_msgs(void *arg)
{
    (void)arg;
    return clients[0].msgs > base[0];
}

static void setup(void)
{
    sioc_config_t cfg = {.port = 0};
    rw_start(&cfg, init_server, clients, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
        rw_send(&clients[i], "40");
    wait_for(all_connected, "the CONNECT replies");
    for (int i = 0; i < NCLIENTS; i++)
        rw_send(&clients[i], "42[\"join\",\"room\"]");
    rw_send(&clients[0], "42[\"join\",\"solo\"]");
    wait_for(rooms_ready, "the joins");
}

static void teardown(void)
{
    rw_stop();
}

/* Sends one broadcast to `room` from client 0 and returns the allocations made until
 * the recipients (`all` = every client, else client 0 only) have it. */
static unsigned long broadcast_allocs(const char *frame, bool all)
{
    for (int i = 0; i < NCLIENTS; i++)
        base[i] = clients[i].msgs;
    unsigned long before = alloc_count();
    rw_send(&clients[0], frame);
    wait_for(all ? all_msgs : first_msgs, "the broadcast");
    return alloc_count() - before;
}

Test(noalloc, broadcast_allocates_nothing_per_recipient, .init = setup, .fini = teardown,
     .timeout = 30)
{
    static const char to_room[] = "42[\"bc\",\"room\",{\"text\":\"hello\",\"n\":[1,2,3]}]";
    static const char to_solo[] = "42[\"bc\",\"solo\",{\"text\":\"hello\",\"n\":[1,2,3]}]";
    for (int i = 0; i < 3; i++) { /* warm up: scratch buffers and pools reach size */
        broadcast_allocs(to_room, true);
        broadcast_allocs(to_solo, false);
    }
    unsigned long many = broadcast_allocs(to_room, true);
    unsigned long one = broadcast_allocs(to_solo, false);
    unsigned long many2 = broadcast_allocs(to_room, true);
    cr_log_info("allocations per broadcast: %lu to %d sockets, %lu to one", many, NCLIENTS, one);
    cr_assert_eq(many, one, "%lu allocations for %d recipients vs %lu for one", many, NCLIENTS,
                 one);
    cr_assert_eq(many2, many);
    if (!POOLS_BYPASSED)
        cr_assert_eq(many, 0, "a warm broadcast allocates nothing (%lu)", many);
    for (int i = 0; i < NCLIENTS; i++)
        cr_assert_eq(clients[i].msgs, clients[0].msgs - (i ? 4 : 0),
                     "client %d got %d broadcasts", i, clients[i].msgs);
}
