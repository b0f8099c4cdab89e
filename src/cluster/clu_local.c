/* clu_local: socket.io-adapter's in-memory adapter over the sio_rooms index. */
#include "cluster/clu_local.h"

#include <stdlib.h>

#include "sio/sio_rooms.h"

struct sio_adapter {
    sioc_nsp_t *nsp;
    sio_rooms_t *rooms;
};

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

static void local_add_all(sio_adapter_t *a, sioc_socket_t *s, const slice_t *rooms, size_t n)
{
    sio_member_t *m = sio_socket_member(s);
    if (!sio_member_is_attached(m))
        sio_rooms_attach(a->rooms, m);
    for (size_t i = 0; i < n; i++)
        sio_rooms_join(a->rooms, m, rooms[i]);
}

static void local_del(sio_adapter_t *a, sioc_socket_t *s, slice_t room)
{
    sio_rooms_leave(a->rooms, sio_socket_member(s), room);
}

static void local_del_all(sio_adapter_t *a, sioc_socket_t *s)
{
    sio_rooms_detach(a->rooms, sio_socket_member(s));
}

static bool local_has(sio_adapter_t *a, const sioc_socket_t *s, slice_t room)
{
    return sio_rooms_has(a->rooms, sio_socket_member((sioc_socket_t *)s), room);
}

static size_t local_room_size(sio_adapter_t *a, slice_t room)
{
    return sio_rooms_count(a->rooms, room);
}

static sio_rooms_filter_t filter_of(const sio_bcast_t *o)
{
    return (sio_rooms_filter_t){o->rooms, o->n_rooms, o->except, o->n_except};
}

typedef struct bcast_ctx {
    sio_outpkt_t *pkt;
    unsigned flags;
    sio_ackgroup_t *grp;
    size_t n;
} bcast_ctx_t;

static void visit_deliver(void *arg, sio_member_t *m)
{
    bcast_ctx_t *c = arg;
    sio_socket_deliver(sio_socket_from_member(m), c->pkt, c->flags);
}

static int local_broadcast(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    sio_rooms_filter_t f = filter_of(o);
    bcast_ctx_t c = {pkt, o->flags, NULL, 0};
    sio_rooms_foreach(a->rooms, &f, visit_deliver, &c);
    return 0;
}

static void visit_deliver_ack(void *arg, sio_member_t *m)
{
    bcast_ctx_t *c = arg;
    if (sio_socket_deliver_ack(sio_socket_from_member(m), c->pkt, c->flags, c->grp))
        c->n++;
}

static size_t local_broadcast_with_ack(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o,
                                       sio_ackgroup_t *grp)
{
    sio_rooms_filter_t f = filter_of(o);
    bcast_ctx_t c = {pkt, o->flags, grp, 0};
    sio_rooms_foreach(a->rooms, &f, visit_deliver_ack, &c);
    return c.n;
}

typedef struct visit_ctx {
    sio_socket_visit_cb cb;
    void *arg;
} visit_ctx_t;

static void visit_socket(void *arg, sio_member_t *m)
{
    visit_ctx_t *v = arg;
    v->cb(v->arg, sio_socket_from_member(m));
}

static void local_sockets(sio_adapter_t *a, const sio_bcast_t *o, sio_socket_visit_cb cb, void *arg)
{
    sio_rooms_filter_t f = filter_of(o);
    visit_ctx_t v = {cb, arg};
    sio_rooms_foreach(a->rooms, &f, visit_socket, &v);
}

/* Snapshots the selected sockets with a reference each (they may leave or go while we
 * act on them). Returns the count; the array is in `out`. */
static size_t snapshot(sio_adapter_t *a, const sio_bcast_t *o, buf_t *out)
{
    sio_rooms_filter_t f = filter_of(o);
    size_t n = sio_rooms_collect(a->rooms, &f, out);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(out);
    for (size_t i = 0; i < n; i++)
        sioc_socket_ref(sio_socket_from_member(v[i]));
    return n;
}

static void release(buf_t *out, size_t n)
{
    sio_member_t **v = (sio_member_t **)(void *)buf_data(out);
    for (size_t i = 0; i < n; i++)
        sioc_socket_unref(sio_socket_from_member(v[i]));
    buf_dispose(out);
}

static void local_add_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms,
                              size_t n_rooms)
{
    buf_t snap = BUF_INIT;
    size_t n = snapshot(a, o, &snap);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(&snap);
    for (size_t i = 0; i < n; i++) {
        if (!sio_member_is_attached(v[i]))
            continue;
        for (size_t k = 0; k < n_rooms; k++)
            sio_rooms_join(a->rooms, v[i], rooms[k]);
    }
    release(&snap, n);
}

static void local_del_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms,
                              size_t n_rooms)
{
    buf_t snap = BUF_INIT;
    size_t n = snapshot(a, o, &snap);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(&snap);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < n_rooms; k++)
            sio_rooms_leave(a->rooms, v[i], rooms[k]);
    }
    release(&snap, n);
}

static void local_disconnect_sockets(sio_adapter_t *a, const sio_bcast_t *o, bool close)
{
    buf_t snap = BUF_INIT;
    size_t n = snapshot(a, o, &snap);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(&snap);
    for (size_t i = 0; i < n; i++)
        sioc_socket_disconnect(sio_socket_from_member(v[i]), close);
    release(&snap, n);
}

static void local_server_side_emit(sio_adapter_t *a, const sio_outpkt_t *pkt)
{
    (void)a;
    (void)pkt; /* a single node has no other servers to tell */
}

typedef struct rooms_ctx {
    sio_room_visit_cb cb;
    void *arg;
} rooms_ctx_t;

static void visit_room(void *arg, slice_t name, size_t members)
{
    rooms_ctx_t *r = arg;
    (void)members;
    r->cb(r->arg, name);
}

static void local_all_rooms(sio_adapter_t *a, sio_room_visit_cb cb, void *arg)
{
    rooms_ctx_t r = {cb, arg};
    sio_rooms_list(a->rooms, visit_room, &r);
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
    .add_all = local_add_all,
    .del = local_del,
    .del_all = local_del_all,
    .has = local_has,
    .room_size = local_room_size,
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
