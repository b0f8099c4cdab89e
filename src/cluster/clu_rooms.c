/* clu_rooms: the local room operations every adapter shares. See clu_rooms.h. */
#include "cluster/clu_rooms.h"

#include "base/buf.h"
#include "sio/sio_socket.h"

sio_rooms_filter_t clu_rooms_filter(const sio_bcast_t *o)
{
    return (sio_rooms_filter_t){o->rooms, o->n_rooms, o->except, o->n_except};
}

/* Both adapters of this layer begin their struct sio_adapter with the room index. */
static sio_rooms_t *rooms_of(const sio_adapter_t *a)
{
    return *(sio_rooms_t *const *)a;
}

void clu_rooms_add_all(sio_adapter_t *a, sioc_socket_t *s, const slice_t *rooms, size_t n)
{
    sio_rooms_t *r = rooms_of(a);
    sio_member_t *m = sio_socket_member(s);
    if (!sio_member_is_attached(m))
        sio_rooms_attach(r, m);
    for (size_t i = 0; i < n; i++)
        sio_rooms_join(r, m, rooms[i]);
}

void clu_rooms_del(sio_adapter_t *a, sioc_socket_t *s, slice_t room)
{
    sio_rooms_leave(rooms_of(a), sio_socket_member(s), room);
}

void clu_rooms_del_all(sio_adapter_t *a, sioc_socket_t *s)
{
    sio_rooms_detach(rooms_of(a), sio_socket_member(s));
}

bool clu_rooms_has(sio_adapter_t *a, const sioc_socket_t *s, slice_t room)
{
    return sio_rooms_has(rooms_of(a), sio_socket_member((sioc_socket_t *)s), room);
}

size_t clu_rooms_size(sio_adapter_t *a, slice_t room)
{
    return sio_rooms_count(rooms_of(a), room);
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

void clu_rooms_deliver(sio_rooms_t *r, sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    sio_rooms_filter_t f = clu_rooms_filter(o);
    bcast_ctx_t c = {pkt, o->flags, NULL, 0};
    sio_rooms_foreach(r, &f, visit_deliver, &c);
}

static void visit_deliver_ack(void *arg, sio_member_t *m)
{
    bcast_ctx_t *c = arg;
    if (sio_socket_deliver_ack(sio_socket_from_member(m), c->pkt, c->flags, c->grp))
        c->n++;
}

size_t clu_rooms_deliver_ack(sio_rooms_t *r, sio_outpkt_t *pkt, const sio_bcast_t *o,
                             sio_ackgroup_t *grp)
{
    sio_rooms_filter_t f = clu_rooms_filter(o);
    bcast_ctx_t c = {pkt, o->flags, grp, 0};
    sio_rooms_foreach(r, &f, visit_deliver_ack, &c);
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

void clu_rooms_sockets(sio_rooms_t *r, const sio_bcast_t *o, sio_socket_visit_cb cb, void *arg)
{
    sio_rooms_filter_t f = clu_rooms_filter(o);
    visit_ctx_t v = {cb, arg};
    sio_rooms_foreach(r, &f, visit_socket, &v);
}

/* Snapshots the selected sockets with a reference each (they may leave or go while we
 * act on them). Returns the count; the array is in `out`. */
static size_t snapshot(sio_rooms_t *r, const sio_bcast_t *o, buf_t *out)
{
    sio_rooms_filter_t f = clu_rooms_filter(o);
    size_t n = sio_rooms_collect(r, &f, out);
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

void clu_rooms_join_selected(sio_rooms_t *r, const sio_bcast_t *o, const slice_t *rooms,
                             size_t n_rooms, bool join)
{
    buf_t snap = BUF_INIT;
    size_t n = snapshot(r, o, &snap);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(&snap);
    for (size_t i = 0; i < n; i++) {
        if (!sio_member_is_attached(v[i])) /* disconnected by an earlier callback */
            continue;
        for (size_t k = 0; k < n_rooms; k++) {
            if (join)
                sio_rooms_join(r, v[i], rooms[k]);
            else
                sio_rooms_leave(r, v[i], rooms[k]);
        }
    }
    release(&snap, n);
}

void clu_rooms_disconnect_selected(sio_rooms_t *r, const sio_bcast_t *o, bool close)
{
    buf_t snap = BUF_INIT;
    size_t n = snapshot(r, o, &snap);
    sio_member_t **v = (sio_member_t **)(void *)buf_data(&snap);
    for (size_t i = 0; i < n; i++)
        sioc_socket_disconnect(sio_socket_from_member(v[i]), close);
    release(&snap, n);
}

typedef struct rooms_ctx {
    sio_room_visit_cb cb;
    void *arg;
} rooms_ctx_t;

static void visit_room(void *arg, slice_t name, size_t members)
{
    rooms_ctx_t *c = arg;
    (void)members;
    c->cb(c->arg, name);
}

void clu_rooms_list(sio_rooms_t *r, sio_room_visit_cb cb, void *arg)
{
    rooms_ctx_t c = {cb, arg};
    sio_rooms_list(r, visit_room, &c);
}
