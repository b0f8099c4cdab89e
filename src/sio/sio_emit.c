/*
 * sio_emit: broadcasts — the encode-once packet, delivery to each recipient, the
 * namespace-wide operations of include/sioc.h, and broadcasts with acks.
 *
 * A broadcast (DESIGN data path steps 4-5, STYLE rule 9):
 *
 *   sioc_emit -> sio_outpkt_t {header, name, raw args, bins}
 *             -> adapter->broadcast (room union minus except, each socket once)
 *                -> sio_socket_deliver(socket) for each local recipient
 *                   first call: sio_outpkt_frames encodes the packet ONCE into a shared
 *                   frame [ws header | '4' | packet] (+ one per attachment)
 *                   every call: eio_session_send_frame -> a reference on WebSocket
 *                   queues, a copy of the record on polling ones
 *             -> sio_outpkt_release drops the encoder's reference
 *
 * so a broadcast costs one allocation (the frame) whatever the number of recipients.
 */
#include <stdlib.h>
#include <string.h>

#include "sio/sio_emit.h"
#include "sio/sio_socket.h"

#define ROOMS_INLINE 16 /* rooms/except names converted without allocating */

/* ---- the shared packet ---------------------------------------------------------- */

void sio_outpkt_frames(sio_outpkt_t *pkt)
{
    if (pkt->text)
        return;
    buf_clear(pkt->scratch);
    sio_encode_event(pkt->scratch, &pkt->h, pkt->name, pkt->args);
    slice_t part = buf_slice(pkt->scratch);
    pkt->text = eio_server_frame_new(pkt->eio, &part, 1, false, &pkt->text_hdr);
    uint32_t n = pkt->h.attachments;
    if (!n)
        return;
    pkt->bin = xcalloc(n, sizeof *pkt->bin);
    pkt->bin_hdr = xcalloc(n, sizeof *pkt->bin_hdr);
    for (uint32_t i = 0; i < n; i++)
        pkt->bin[i] = eio_server_frame_new(pkt->eio, &pkt->bins[i], 1, true, &pkt->bin_hdr[i]);
}

void sio_outpkt_release(sio_outpkt_t *pkt)
{
    rcbuf_unref(pkt->text);
    pkt->text = NULL;
    if (pkt->bin) {
        for (uint32_t i = 0; i < pkt->h.attachments; i++)
            rcbuf_unref(pkt->bin[i]);
    }
    free(pkt->bin);
    free(pkt->bin_hdr);
    pkt->bin = NULL;
    pkt->bin_hdr = NULL;
}

static bool can_deliver(sioc_socket_t *s, unsigned flags)
{
    if (s->state != SIO_SOCK_CONNECTED || !s->client || s->client->closed)
        return false;
    return !(flags & SIO_BCAST_VOLATILE) || eio_session_is_writable(sio__client_eio(s->client));
}

static void deliver(sioc_socket_t *s, sio_outpkt_t *pkt)
{
    eio_session_t *es = sio__client_eio(s->client);
    sio_outpkt_frames(pkt);
    s->nsp->srv->events_out++;
    eio_session_send_frame(es, pkt->text, pkt->text_hdr, false);
    for (uint32_t i = 0; i < pkt->h.attachments; i++)
        eio_session_send_frame(es, pkt->bin[i], pkt->bin_hdr[i], true);
}

void sio_socket_deliver(sioc_socket_t *s, sio_outpkt_t *pkt, unsigned flags)
{
    if (can_deliver(s, flags))
        deliver(s, pkt);
}

bool sio_socket_deliver_ack(sioc_socket_t *s, sio_outpkt_t *pkt, unsigned flags,
                            sio_ackgroup_t *grp)
{
    if (!can_deliver(s, flags))
        return false;
    sio_ack_t *a = xcalloc(1, sizeof *a);
    a->id = pkt->h.id;
    a->grp = grp;
    a->s = s;
    grp->refs++;
    grp->expected++;
    sio_acks_push(&s->acks, a);
    deliver(s, pkt);
    return true;
}

/* ---- targets -------------------------------------------------------------------- */

/* The broadcast options of a public target, plus an extra except room (the sender's
 * id for socket.broadcast). Names become slices in `inl`, or in a heap array when
 * there are many (freed by target_dispose). */
typedef struct target {
    sio_bcast_t o;
    slice_t inl[ROOMS_INLINE];
    slice_t *heap;
} target_t;

static void target_init(target_t *t, const sioc_to_t *to, const char *extra_except)
{
    memset(t, 0, sizeof *t);
    size_t nr = to ? to->n_rooms : 0, ne = to ? to->n_except : 0;
    size_t total = nr + ne + (extra_except ? 1 : 0);
    slice_t *v = t->inl;
    if (total > ROOMS_INLINE)
        v = t->heap = xmalloc(total * sizeof *v);
    for (size_t i = 0; i < nr; i++)
        v[i] = slice_from_cstr(to->rooms[i]);
    for (size_t i = 0; i < ne; i++)
        v[nr + i] = slice_from_cstr(to->except[i]);
    if (extra_except)
        v[nr + ne++] = slice_from_cstr(extra_except);
    t->o = (sio_bcast_t){
        .rooms = v,
        .n_rooms = nr,
        .except = v + nr,
        .n_except = ne,
        .flags = (to ? to->flags : 0) & (SIO_BCAST_LOCAL | SIO_BCAST_VOLATILE),
    };
}

static void target_dispose(target_t *t)
{
    free(t->heap);
}

/* Fills `pkt` for event `event` of `nsp`; returns 0 or SIOC_EINVAL. */
static int outpkt_init(sio_outpkt_t *pkt, sioc_nsp_t *nsp, const char *event, sioc_data_t data,
                       slice_t *bins)
{
    slice_t json;
    int nb = sio__data_slices(data, &json, bins, SIO_OUT_MAX_BINS);
    if (nb < 0 || !event)
        return SIOC_EINVAL;
    memset(pkt, 0, sizeof *pkt);
    pkt->h = (sio_header_t){
        .type = nb ? SIO_BINARY_EVENT : SIO_EVENT,
        .attachments = (uint32_t)nb,
        .nsp = slice_make(nsp->name, nsp->name_len),
    };
    pkt->name = slice_from_cstr(event);
    pkt->args = json;
    pkt->bins = bins;
    pkt->scratch = &nsp->srv->enc;
    pkt->eio = nsp->srv->eio;
    return 0;
}

static int broadcast(sioc_nsp_t *nsp, const sioc_to_t *to, const char *except_id, const char *event,
                     sioc_data_t data)
{
    slice_t bins[SIO_OUT_MAX_BINS];
    sio_outpkt_t pkt;
    if (!nsp || outpkt_init(&pkt, nsp, event, data, bins) != 0)
        return SIOC_EINVAL;
    target_t t;
    target_init(&t, to, except_id);
    int rc = nsp->srv->cfg.adapter->broadcast(nsp->adapter, &pkt, &t.o);
    target_dispose(&t);
    sio_outpkt_release(&pkt);
    return rc;
}

int sioc_emit(sioc_nsp_t *nsp, const sioc_to_t *to, const char *event, sioc_data_t data)
{
    return broadcast(nsp, to, NULL, event, data);
}

int sioc_emit_room(sioc_nsp_t *nsp, const char *room, const char *event, sioc_data_t data)
{
    if (!room)
        return SIOC_EINVAL;
    sioc_to_t to = {.rooms = &room, .n_rooms = 1};
    return broadcast(nsp, &to, NULL, event, data);
}

int sioc_socket_broadcast(sioc_socket_t *from, const sioc_to_t *to, const char *event,
                          sioc_data_t data)
{
    return broadcast(from->nsp, to, from->id, event, data);
}

/* ---- broadcasts with acks ------------------------------------------------------- */

void sio__ackgroup_unref(struct sio_ackgroup *g)
{
    if (--g->refs == 0)
        free(g);
}

static void group_finish(struct sio_ackgroup *g, int status)
{
    if (g->done)
        return;
    g->done = true;
    net_timer_stop(&g->timer);
    g->cb(NULL, status, NULL, g->arg);
    sio__ackgroup_unref(g); /* the group's own reference */
}

void sio__ackgroup_answer(struct sio_ackgroup *g, sioc_socket_t *s, const sioc_args_t *args)
{
    if (g->done)
        return;
    if (args)
        g->cb(s, 0, args, g->arg);
    if (g->expected)
        g->expected--;
    if (!g->expected)
        group_finish(g, 0);
}

static void on_group_timer(net_timer_t *t)
{
    struct sio_ackgroup *g = NET_CONTAINER_OF(t, struct sio_ackgroup, timer);
    group_finish(g, g->expected ? SIOC_ETIMEDOUT : 0);
}

int sioc_emit_ack(sioc_nsp_t *nsp, const sioc_to_t *to, const char *event, sioc_data_t data,
                  uint32_t timeout_ms, sioc_ack_cb cb, void *arg)
{
    slice_t bins[SIO_OUT_MAX_BINS];
    sio_outpkt_t pkt;
    if (!nsp || !cb || outpkt_init(&pkt, nsp, event, data, bins) != 0)
        return SIOC_EINVAL;
    struct sio_ackgroup *g = xcalloc(1, sizeof *g);
    g->nsp = nsp;
    g->cb = cb;
    g->arg = arg;
    g->refs = 1;
    pkt.h.has_id = true;
    pkt.h.id = nsp->next_ack_id++;
    target_t t;
    target_init(&t, to, NULL);
    nsp->srv->cfg.adapter->broadcast_with_ack(nsp->adapter, &pkt, &t.o, g);
    target_dispose(&t);
    sio_outpkt_release(&pkt);
    net_loop_t *nl = eio_server_loop(nsp->srv->eio);
    if (!g->expected)
        net_timer_start(nl, &g->timer, 0, on_group_timer); /* nobody: done next turn */
    else if (timeout_ms)
        net_timer_start(nl, &g->timer, timeout_ms, on_group_timer);
    return 0;
}

/* ---- namespace-wide socket operations ------------------------------------------- */

void sioc_sockets_join(sioc_nsp_t *nsp, const sioc_to_t *to, const char *room)
{
    if (!room)
        return;
    target_t t;
    slice_t r = slice_from_cstr(room);
    target_init(&t, to, NULL);
    nsp->srv->cfg.adapter->add_sockets(nsp->adapter, &t.o, &r, 1);
    target_dispose(&t);
}

void sioc_sockets_leave(sioc_nsp_t *nsp, const sioc_to_t *to, const char *room)
{
    if (!room)
        return;
    target_t t;
    slice_t r = slice_from_cstr(room);
    target_init(&t, to, NULL);
    nsp->srv->cfg.adapter->del_sockets(nsp->adapter, &t.o, &r, 1);
    target_dispose(&t);
}

void sioc_sockets_disconnect(sioc_nsp_t *nsp, const sioc_to_t *to, bool close_connection)
{
    target_t t;
    target_init(&t, to, NULL);
    nsp->srv->cfg.adapter->disconnect_sockets(nsp->adapter, &t.o, close_connection);
    target_dispose(&t);
}

typedef struct visit_ctx {
    sioc_socket_visit_cb cb;
    void *arg;
} visit_ctx_t;

static void visit_one(void *arg, sioc_socket_t *s)
{
    visit_ctx_t *v = arg;
    v->cb(s, v->arg);
}

void sioc_sockets_each(sioc_nsp_t *nsp, const sioc_to_t *to, sioc_socket_visit_cb cb, void *arg)
{
    target_t t;
    visit_ctx_t v = {cb, arg};
    target_init(&t, to, NULL);
    nsp->srv->cfg.adapter->sockets(nsp->adapter, &t.o, visit_one, &v);
    target_dispose(&t);
}

size_t sioc_room_size(sioc_nsp_t *nsp, const char *room)
{
    if (!room)
        return 0;
    return nsp->srv->cfg.adapter->room_size(nsp->adapter, slice_from_cstr(room));
}
