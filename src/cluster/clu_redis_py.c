/*
 * clu_redis_py: the "python-socketio" wire format of the Redis adapter — python-socketio
 * >= 5.14's JSON pub/sub manager messages, with Open WebUI 0.11.5's per-room channels
 * (cluster layer). The codec is clu_wire_py; this file decides what to send and what to
 * do with what arrives.
 *
 * Channels: every node SUBSCRIBEs `<channel>` (default `socketio`) and, with room
 * channels on, PSUBSCRIBEs `<channel>#*`; an emit whose room is one name then travels on
 * `<channel>#<nsp>#<room>`, and a node with no member in that room drops it from the
 * channel name alone. The server count is PUBSUB NUMSUB of `<channel>` (every Python
 * and sioc node subscribes it).
 *
 * Mapping of sioc's operations (python-socketio has fewer):
 *   - broadcast: `emit` with room null / a name / a list, skip_sid = the except names
 *     (Python receivers only skip sids; sioc receivers treat them as rooms, a superset);
 *   - broadcast with ack to ONE room (sio.call semantics): `emit` with callback
 *     [room, nsp, id] when the room has no local member; the owner's client ack comes
 *     back as a `callback` message addressed to this host_id. Several rooms or local
 *     members: local only (python-socketio refuses callbacks for broadcasts);
 *   - socketsJoin/Leave for named targets without a local member: `enter_room` /
 *     `leave_room` per target (python publishes those for non-local sids); leaving room R
 *     for the target R is `close_room`; disconnectSockets: `disconnect` per target;
 *   - serverSideEmit and fetchSockets have no python-socketio counterpart: this node only.
 * Incoming: emit (skip our own host_id; deliver with ack ids when a callback is asked,
 * and publish each client's answer as `callback` to the emitting host), callback (ours
 * only), disconnect, enter_room, leave_room, close_room.
 *
 * Spec: redis-adapter-protocol.md §5; openwebui-protocol.md §9.1, §9.3.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/clu_cluster_private.h"
#include "cluster/clu_rooms.h"
#include "cluster/clu_wire_py.h"
#include "sio/sio_socket.h"

#define PY_MAX_BINS SIO_OUT_MAX_BINS

static void py_nsp_start(sio_adapter_t *a)
{
    clu_cluster_t *cl = a->cl;
    buf_clear(&a->req_chan);
    buf_append(&a->req_chan, cl->key, cl->key_len); /* NUMSUB target: the server count */
    clu_redis_subscribe(cl->r, clu__key(cl));         /* once per node: repeats are no-ops */
    if (cl->room_channels) {
        buf_clear(&a->pattern);
        clu_wire_py_room_pattern(&a->pattern, clu__key(cl));
        clu_redis_psubscribe(cl->r, buf_slice(&a->pattern));
    }
}

static void py_nsp_stop(sio_adapter_t *a)
{
    (void)a; /* the subscriptions belong to the node, not to one namespace */
}

/* ---- sending --------------------------------------------------------------------- */

static clu_py_names_t names_of(const slice_t *v, size_t n)
{
    return (clu_py_names_t){n ? v : NULL, n, n > 1};
}

static int publish_emit(sio_adapter_t *a, const clu_py_emit_t *e)
{
    clu_cluster_t *cl = a->cl;
    const char *err = NULL;
    buf_clear(&cl->out);
    if (clu_wire_py_encode_emit(&cl->out, e, &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: cannot encode an emit: %s", err);
        return SIOC_EINVAL;
    }
    if (cl->out.len > cl->max_message) {
        cl->stats.too_big++;
        return SIOC_E2BIG;
    }
    buf_clear(&cl->chan);
    if (cl->room_channels && e->room.n == 1 && !e->room.list)
        clu_wire_py_room_channel(&cl->chan, clu__key(cl), a->name, e->room.names[0]);
    else
        buf_append(&cl->chan, cl->key, cl->key_len);
    int rc = clu_cluster_publish(cl, buf_slice(&cl->chan), buf_slice(&cl->out));
    return rc == SIOC_E2BIG ? rc : 0;
}

static int py_publish_bcast(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    clu_py_emit_t e = {
        .event = pkt->name,
        .args = pkt->args,
        .bins = pkt->bins,
        .nbins = pkt->h.attachments,
        .nsp = a->name,
        .room = names_of(o->rooms, o->n_rooms),
        .skip_sid = names_of(o->except, o->n_except),
        .host_id = clu__uid(a->cl),
    };
    return publish_emit(a, &e);
}

static int py_publish_bcast_ack(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o,
                                sio_ackgroup_t *grp)
{
    if (o->n_rooms != 1 || sio_rooms_count(a->rooms, o->rooms[0]) > 0)
        return 0; /* python-socketio acks one remote target only (sio.call) */
    clu_pending_t *p = clu_pending_new(a, CLU_PEND_BCAST_ACK);
    uint64_t id = ++a->cl->py_next_id;
    p->id_len = (size_t)snprintf(p->id, sizeof p->id, "%llu", (unsigned long long)id);
    clu_py_emit_t e = {
        .event = pkt->name,
        .args = pkt->args,
        .bins = pkt->bins,
        .nbins = pkt->h.attachments,
        .nsp = a->name,
        .room = names_of(o->rooms, 1),
        .skip_sid = names_of(o->except, o->n_except),
        .has_callback = true,
        .cb_room = o->rooms[0],
        .cb_id = id,
        .host_id = clu__uid(a->cl),
    };
    int rc = publish_emit(a, &e);
    if (rc != 0) {
        clu_pending_finish(p, rc);
        return rc;
    }
    p->grp = grp;
    sio_ackgroup_ref(grp);
    sio_ackgroup_expect(grp, 1); /* the one remote client's answer */
    p->waiting = 1;
    clu_pending_arm(p, CLU_ACK_HOLD_MS);
    return 0;
}

static void py_publish_rooms(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms, size_t n,
                             bool join)
{
    clu_cluster_t *cl = a->cl;
    for (size_t i = 0; i < o->n_rooms; i++) {
        if (sio_rooms_count(a->rooms, o->rooms[i]) > 0)
            continue; /* local: done already */
        for (size_t k = 0; k < n; k++) {
            buf_clear(&cl->out);
            if (!join && slice_eq(rooms[k], o->rooms[i]))
                clu_wire_py_encode_close_room(&cl->out, rooms[k], a->name, clu__uid(cl));
            else
                clu_wire_py_encode_room(&cl->out, join, o->rooms[i], rooms[k], a->name, clu__uid(cl));
            clu_cluster_publish(cl, clu__key(cl), buf_slice(&cl->out));
        }
    }
}

static void py_publish_disconnect(sio_adapter_t *a, const sio_bcast_t *o, bool close)
{
    clu_cluster_t *cl = a->cl;
    (void)close; /* python-socketio's message has no such flag */
    for (size_t i = 0; i < o->n_rooms; i++) {
        if (sio_rooms_count(a->rooms, o->rooms[i]) > 0)
            continue;
        buf_clear(&cl->out);
        clu_wire_py_encode_disconnect(&cl->out, o->rooms[i], a->name, clu__uid(cl));
        clu_cluster_publish(cl, clu__key(cl), buf_slice(&cl->out));
    }
}

static int py_publish_sse(sio_adapter_t *a, slice_t event, slice_t args)
{
    (void)a;
    (void)event;
    (void)args;
    return 0; /* no server-side events in python-socketio's protocol */
}

static int py_sse_ack(sio_adapter_t *a, slice_t request_id, slice_t arg_json)
{
    (void)a;
    (void)request_id;
    (void)arg_json;
    return 0;
}

static void py_fetch(sio_adapter_t *a, clu_pending_t *p, const sio_bcast_t *o)
{
    (void)a;
    (void)o;
    p->timer_status = 0; /* this node's sockets only, answered next turn */
    clu_pending_arm(p, 0);
}

/* ---- receiving ------------------------------------------------------------------- */

/* A client's answer to an emit that asked for a callback: back to the emitting host. */
typedef struct py_ack {
    clu_cluster_t *cl;
    char host[CLU_ID_MAX];
    size_t host_len;
    int64_t id;
    char *room_nsp; /* room, then nsp, back to back */
    size_t room_len, nsp_len;
} py_ack_t;

static void on_client_ack(sioc_socket_t *s, int status, const sioc_args_t *args, void *arg)
{
    py_ack_t *pa = arg;
    (void)s;
    if (status == 0 && args && !pa->cl->stopped) {
        clu_cluster_t *cl = pa->cl;
        const char *err = NULL;
        sioc_data_t d = sioc_args_data(args);
        buf_clear(&cl->out);
        if (clu_wire_py_encode_callback(&cl->out, slice_make(pa->host, pa->host_len),
                                        slice_make(pa->room_nsp, pa->room_len),
                                        slice_make(pa->room_nsp + pa->room_len, pa->nsp_len),
                                        (uint64_t)pa->id, slice_make(d.json, d.len), &err) == 0)
            clu_cluster_publish(cl, clu__key(cl), buf_slice(&cl->out));
    }
    free(pa->room_nsp);
    free(pa);
}

typedef struct collect_ctx {
    buf_t *out;
} collect_ctx_t;

static void visit_collect(void *arg, sio_member_t *m)
{
    collect_ctx_t *c = arg;
    sioc_socket_t *s = sio_socket_from_member(m);
    sioc_socket_ref(s);
    buf_append(c->out, &s, sizeof s);
}

/* Delivers an emit that wants a callback: one ack id per local recipient. */
static void emit_with_callback(sio_adapter_t *a, const clu_py_msg_t *m, const sio_bcast_t *o,
                               slice_t name, sioc_data_t d)
{
    clu_cluster_t *cl = a->cl;
    slice_t cb_room, cb_nsp, host;
    int64_t cb_id;
    buf_reserve(&cl->scratch, m->callback.raw.len + m->host_id.raw.len + 16);
    if (clu_wire_py_callback(m, &cl->scratch, &cb_room, &cb_nsp, &cb_id) != 1 ||
        clu_wire_val_str(m->host_id, &cl->scratch, &host) != 0 || host.len >= CLU_ID_MAX)
        return;
    char *ev = xstrndup((const char *)name.ptr, name.len);
    buf_t list = BUF_INIT;
    collect_ctx_t c = {&list};
    sio_rooms_filter_t f = {o->rooms, o->n_rooms, o->except, o->n_except};
    sio_rooms_foreach(a->rooms, &f, visit_collect, &c);
    sioc_socket_t **v = (sioc_socket_t **)(void *)buf_data(&list);
    size_t n = list.len / sizeof *v;
    for (size_t i = 0; i < n; i++) {
        py_ack_t *pa = xcalloc(1, sizeof *pa);
        pa->cl = cl;
        memcpy(pa->host, host.ptr, host.len);
        pa->host_len = host.len;
        pa->id = cb_id;
        pa->room_len = cb_room.len;
        pa->nsp_len = cb_nsp.len;
        pa->room_nsp = xmalloc(cb_room.len + cb_nsp.len + 1);
        memcpy(pa->room_nsp, cb_room.ptr, cb_room.len);
        memcpy(pa->room_nsp + cb_room.len, cb_nsp.ptr, cb_nsp.len);
        if (sioc_socket_emit_ack(v[i], ev, d, 0, on_client_ack, pa) != 0) {
            free(pa->room_nsp);
            free(pa);
        }
        sioc_socket_unref(v[i]);
    }
    buf_dispose(&list);
    free(ev);
}

static void on_emit(sio_adapter_t *a, const clu_py_msg_t *m)
{
    clu_cluster_t *cl = a->cl;
    slice_t rooms[CLU_MAX_ROOMS], except[CLU_MAX_ROOMS], name, bins[PY_MAX_BINS];
    size_t n_rooms = 0, n_except = 0, nargs = 0, nbins = 0;
    bool all = false, none = false;
    const char *err = NULL;
    buf_clear(&cl->rx_rooms);
    buf_clear(&cl->rx_except);
    buf_clear(&cl->rx_names);
    buf_clear(&cl->rx_args);
    buf_clear(&cl->rx_att);
    if (clu_wire_py_names(m->room, rooms, CLU_MAX_ROOMS, &n_rooms, &all, &cl->rx_rooms, &err) ||
        clu_wire_py_names(m->skip_sid, except, CLU_MAX_ROOMS, &n_except, &none, &cl->rx_except,
                          &err) ||
        clu_wire_val_str(m->event, &cl->rx_names, &name) != 0 ||
        clu_wire_py_emit_args(m, &cl->rx_args, &nargs, &cl->rx_att, bins, PY_MAX_BINS, &nbins,
                              &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: bad python-socketio emit: %s",
                        err ? err : "bad event name");
        return;
    }
    if (!all && n_rooms == 0)
        return; /* an empty list of rooms: nobody */
    sio_bcast_t o = {rooms, all ? 0 : n_rooms, except, n_except, 0};
    if (clu_wire_val_present(m->callback) && !clu_wire_val_is_nullish(m->callback)) {
        sioc_str_t sb[PY_MAX_BINS];
        for (size_t i = 0; i < nbins; i++)
            sb[i] = (sioc_str_t){(const char *)bins[i].ptr, bins[i].len};
        sioc_data_t d = {(const char *)buf_data(&cl->rx_args), cl->rx_args.len, sb, nbins};
        if (!d.len)
            d.json = "";
        emit_with_callback(a, m, &o, name, d);
        cl->stats.received++;
        return;
    }
    sio_outpkt_t pkt;
    clu_adapter_outpkt(a, &pkt, name, buf_slice(&cl->rx_args), bins, nbins);
    clu_rooms_deliver(a->rooms, &pkt, &o);
    sio_outpkt_release(&pkt);
    cl->stats.received++;
}

static void on_callback(clu_cluster_t *cl, const clu_py_msg_t *m)
{
    int64_t id;
    if (!clu_wire_val_i64(m->id, &id) || id < 0)
        return;
    char text[32];
    int len = snprintf(text, sizeof text, "%lld", (long long)id);
    clu_pending_t *p = clu_pending_find(cl, slice_make(text, (size_t)len));
    if (!p || p->kind != CLU_PEND_BCAST_ACK || !p->grp)
        return;
    size_t nargs = 0;
    slice_t raw = m->args.raw;
    if (clu_wire_val_len(m->args, &nargs) != 0 || m->args.fmt != CLU_WIRE_JSON)
        return;
    /* the JSON list's inside: from after '[' to before the last ']' */
    long open = slice_index(raw, '[');
    size_t close = raw.len;
    while (close > 0 && raw.ptr[close - 1] != ']')
        close--;
    if (open < 0 || close == 0)
        return;
    slice_t body = slice_make(raw.ptr + open + 1, close - 1 - (size_t)open - 1);
    struct sioc_args args = {body, (uint32_t)nargs, NULL, 0};
    p->waiting = 0;
    sio_ackgroup_answer_remote(p->grp, &args);
    clu_pending_finish(p, 0);
}

static void on_room_op(sio_adapter_t *a, const clu_py_msg_t *m)
{
    clu_cluster_t *cl = a->cl;
    slice_t sid = {0}, room = {0};
    buf_clear(&cl->rx_rooms);
    buf_clear(&cl->rx_except);
    if (m->method != CLU_PY_CLOSE_ROOM && clu_wire_val_str(m->sid, &cl->rx_rooms, &sid) != 0)
        return;
    if (m->method != CLU_PY_DISCONNECT && clu_wire_val_str(m->room, &cl->rx_except, &room) != 0)
        return;
    slice_t target = m->method == CLU_PY_CLOSE_ROOM ? room : sid;
    if (target.len == 0 || target.len > SIO_ROOM_NAME_MAX || sio_rooms_count(a->rooms, target) == 0)
        return; /* not here */
    sio_bcast_t o = {&target, 1, NULL, 0, 0};
    if (m->method == CLU_PY_DISCONNECT)
        clu_rooms_disconnect_selected(a->rooms, &o, false);
    else
        clu_rooms_join_selected(a->rooms, &o, &room, 1, m->method == CLU_PY_ENTER_ROOM);
}

static void handle(clu_cluster_t *cl, slice_t payload, sio_adapter_t *only)
{
    clu_py_msg_t m;
    const char *err = NULL;
    if (clu_wire_py_decode(payload, &m, &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: bad python-socketio message: %s",
                        err);
        return;
    }
    slice_t host = {0}, nsp = SLICE_LIT("/");
    buf_clear(&cl->scratch);
    buf_reserve(&cl->scratch, m.host_id.raw.len + m.nsp.raw.len + 8);
    if (clu_wire_val_str(m.host_id, &cl->scratch, &host) != 0)
        return;
    if (m.method == CLU_PY_CALLBACK) {
        if (slice_eq(host, clu__uid(cl)))
            on_callback(cl, &m);
        return;
    }
    if (slice_eq(host, clu__uid(cl)))
        return; /* our own, delivered locally already */
    if (!clu_wire_val_is_nullish(m.nsp) && clu_wire_val_str(m.nsp, &cl->scratch, &nsp) != 0)
        return;
    sio_adapter_t *a = only ? only : clu_cluster_adapter(cl, nsp);
    if (!a || !slice_eq(a->name, nsp))
        return;
    switch (m.method) {
    case CLU_PY_EMIT:
        on_emit(a, &m);
        break;
    case CLU_PY_DISCONNECT:
    case CLU_PY_ENTER_ROOM:
    case CLU_PY_LEAVE_ROOM:
    case CLU_PY_CLOSE_ROOM:
        on_room_op(a, &m);
        break;
    default:
        break;
    }
}

static void py_on_message(clu_cluster_t *cl, slice_t pattern, slice_t channel, slice_t payload)
{
    if (!pattern.len) {
        if (slice_eq(channel, clu__key(cl)))
            handle(cl, payload, NULL);
        return;
    }
    slice_t nsp, room;
    if (clu_wire_py_parse_room_channel(channel, clu__key(cl), &nsp, &room) != 0)
        return;
    sio_adapter_t *a = clu_cluster_adapter(cl, nsp);
    if (!a || sio_rooms_count(a->rooms, room) == 0) {
        cl->stats.filtered++; /* nobody here: not even decoded */
        return;
    }
    handle(cl, payload, a);
}

const clu_format_ops_t clu_format_python = {
    .name = "python-socketio",
    .default_channel = CLU_PY_DEFAULT_CHANNEL,
    .nsp_start = py_nsp_start,
    .nsp_stop = py_nsp_stop,
    .on_message = py_on_message,
    .publish_bcast = py_publish_bcast,
    .publish_bcast_ack = py_publish_bcast_ack,
    .publish_rooms = py_publish_rooms,
    .publish_disconnect = py_publish_disconnect,
    .publish_sse = py_publish_sse,
    .sse_ack = py_sse_ack,
    .fetch = py_fetch,
};
