/* clu_local: socket.io-adapter's in-memory adapter: this node's rooms (clu_rooms) and
 * nothing else. */
#include "cluster/clu_local.h"

#include <stddef.h>
#include <stdlib.h>

#include "cluster/clu_rooms.h"

struct sio_adapter {
    sio_rooms_t *rooms; /* first: clu_rooms reaches it through the adapter */
    sioc_nsp_t *nsp;
};
_Static_assert(offsetof(struct sio_adapter, rooms) == 0, "clu_rooms needs rooms first");

static sio_adapter_t *local_create(sioc_nsp_t *nsp, void *config)
{
    (void)config;
    sio_adapter_t *a = xcalloc(1, sizeof *a);
    a->nsp = nsp;
    a->rooms = sio_rooms_new();
    return a;
}

static void local_destroy(sio_adapter_t *a)
{
    if (!a)
        return;
    sio_rooms_free(a->rooms);
    free(a);
}

static int local_broadcast(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    clu_rooms_deliver(a->rooms, pkt, o);
    return 0;
}

static size_t local_broadcast_with_ack(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o,
                                       sio_ackgroup_t *grp)
{
    return clu_rooms_deliver_ack(a->rooms, pkt, o, grp);
}

static void local_sockets(sio_adapter_t *a, const sio_bcast_t *o, sio_socket_visit_cb cb, void *arg)
{
    clu_rooms_sockets(a->rooms, o, cb, arg);
}

static void local_add_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms,
                              size_t n_rooms)
{
    clu_rooms_join_selected(a->rooms, o, rooms, n_rooms, true);
}

static void local_del_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms,
                              size_t n_rooms)
{
    clu_rooms_join_selected(a->rooms, o, rooms, n_rooms, false);
}

static void local_disconnect_sockets(sio_adapter_t *a, const sio_bcast_t *o, bool close)
{
    clu_rooms_disconnect_selected(a->rooms, o, close);
}

static void local_server_side_emit(sio_adapter_t *a, const sio_outpkt_t *pkt)
{
    (void)a;
    (void)pkt; /* a single node has no other servers to tell */
}

static void local_all_rooms(sio_adapter_t *a, sio_room_visit_cb cb, void *arg)
{
    clu_rooms_list(a->rooms, cb, arg);
}

static size_t local_server_count(sio_adapter_t *a)
{
    (void)a;
    return 1;
}

const sio_adapter_ops_t clu_local_ops = {
    .name = "local",
    .create = local_create,
    .destroy = local_destroy,
    .add_all = clu_rooms_add_all,
    .del = clu_rooms_del,
    .del_all = clu_rooms_del_all,
    .has = clu_rooms_has,
    .room_size = clu_rooms_size,
    .broadcast = local_broadcast,
    .broadcast_with_ack = local_broadcast_with_ack,
    .sockets = local_sockets,
    .add_sockets = local_add_sockets,
    .del_sockets = local_del_sockets,
    .disconnect_sockets = local_disconnect_sockets,
    .server_side_emit = local_server_side_emit,
    .all_rooms = local_all_rooms,
    .server_count = local_server_count,
};
