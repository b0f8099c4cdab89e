/*
 * clu_redis_sio: the "socketio" wire format of the Redis adapter —
 * @socket.io/redis-adapter 8.x classic mode and @socket.io/redis-emitter 5.x
 * (cluster layer). The message codec is clu_wire_sio; this file decides what to send
 * and what to do with what arrives.
 *
 * Per namespace: PSUBSCRIBE `<key>#<nsp>#*` (broadcasts), SUBSCRIBE `<key>-request#<nsp>#`
 * (which also makes this node count in PUBSUB NUMSUB, the server count), and the shared
 * and node-specific response channels. A broadcast for one room arrives on the room's
 * channel; a node with no member in that room drops it from the channel name alone.
 * Requests are answered whatever their sender (Node or sioc), so no peer waits for a
 * timeout: 0 (legacy allSockets), 1 allRooms, 2/3 socketsJoin/Leave, 4
 * disconnectSockets, 5 fetchSockets, 6 serverSideEmit (with or without ack), 7 broadcast
 * with acks (answered with 8 then one 9 per client ack).
 * Unlike the Node adapter, this node applies its own socketsJoin/Leave/disconnectSockets
 * locally before publishing and ignores its own echo, so they still work locally during
 * a Redis outage; the other nodes see the same messages as from a Node peer.
 *
 * Spec: redis-adapter-protocol.md §1.2-§1.4, §3, §6.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/clu_cluster_private.h"
#include "cluster/clu_rooms.h"
#include "cluster/clu_wire_sio.h"
#include "sio/sio_socket.h"

/* ---- subscriptions --------------------------------------------------------------- */

static void sio_nsp_start(sio_adapter_t *a)
{
    clu_cluster_t *cl = a->cl;
    slice_t uid = clu__uid(cl);
    buf_clear(&a->pattern);
    buf_clear(&a->req_chan);
    buf_clear(&a->resp_chan);
    buf_clear(&a->resp_uid_chan);
    clu_wire_sio_bcast_pattern(&a->pattern, clu__key(cl), a->name);
    clu_wire_sio_request_channel(&a->req_chan, clu__key(cl), a->name);
    clu_wire_sio_response_channel(&a->resp_chan, clu__key(cl), a->name, NULL);
    clu_wire_sio_response_channel(&a->resp_uid_chan, clu__key(cl), a->name, &uid);
    clu_redis_psubscribe(cl->r, buf_slice(&a->pattern));
    clu_redis_subscribe(cl->r, buf_slice(&a->req_chan));
    clu_redis_subscribe(cl->r, buf_slice(&a->resp_chan));
    clu_redis_subscribe(cl->r, buf_slice(&a->resp_uid_chan));
}

static void sio_nsp_stop(sio_adapter_t *a)
{
    clu_cluster_t *cl = a->cl;
    if (!cl->r)
        return;
    clu_redis_punsubscribe(cl->r, buf_slice(&a->pattern));
    clu_redis_unsubscribe(cl->r, buf_slice(&a->req_chan));
    clu_redis_unsubscribe(cl->r, buf_slice(&a->resp_chan));
    clu_redis_unsubscribe(cl->r, buf_slice(&a->resp_uid_chan));
}

/* ---- targets --------------------------------------------------------------------- */

/* Room and except names of one message (slices into the message or the rx buffers). */
typedef struct rx_target {
    slice_t rooms[CLU_MAX_ROOMS];
    slice_t except[CLU_MAX_ROOMS];
    sio_bcast_t o;
    clu_sio_flags_t flags;
} rx_target_t;

/* True when `v` is an object (JSON) or a map (msgpack). */
static bool is_object(clu_wire_val_t v)
{
    if (!v.raw.len)
        return false;
    uint8_t c = v.raw.ptr[0];
    if (v.fmt == CLU_WIRE_JSON)
        return c == '{';
    return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

/* Reads {rooms, except[, flags]} (absent members: none). Returns 0 or -1. */
static int read_opts(clu_cluster_t *cl, clu_wire_val_t opts, rx_target_t *t, const char **err)
{
    clu_wire_val_t rooms = {0}, except = {0}, flags = {0};
    memset(&t->o, 0, sizeof t->o);
    t->flags = CLU_SIO_FLAGS_NONE;
    if (clu_wire_val_present(opts) &&
        (!is_object(opts) || clu_wire_val_get(opts, "rooms", &rooms) < 0 ||
         clu_wire_val_get(opts, "except", &except) < 0 ||
         clu_wire_val_get(opts, "flags", &flags) < 0)) {
        *err = "malformed opts";
        return -1;
    }
    buf_clear(&cl->rx_rooms);
    buf_clear(&cl->rx_except);
    if (clu_wire_val_strings(rooms, t->rooms, CLU_MAX_ROOMS, &t->o.n_rooms, &cl->rx_rooms, err) ||
        clu_wire_val_strings(except, t->except, CLU_MAX_ROOMS, &t->o.n_except, &cl->rx_except, err))
        return -1;
    t->o.rooms = t->rooms;
    t->o.except = t->except;
    if (clu_wire_val_present(flags))
        clu_wire_sio_flags(flags, &t->flags);
    t->o.flags = t->flags.is_volatile ? SIO_BCAST_VOLATILE : 0;
    return 0;
}

static clu_sio_target_t target_of(const sio_bcast_t *o, clu_sio_flags_t flags)
{
    flags.is_volatile = (o->flags & SIO_BCAST_VOLATILE) != 0;
    return (clu_sio_target_t){o->rooms, o->n_rooms, o->except, o->n_except, flags};
}

static clu_sio_event_t event_of(const sio_adapter_t *a, const sio_outpkt_t *pkt)
{
    return (clu_sio_event_t){a->name, pkt->name, pkt->args, pkt->bins, pkt->h.attachments};
}

/* ---- sending --------------------------------------------------------------------- */

static int sio_publish_bcast(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    clu_cluster_t *cl = a->cl;
    clu_sio_target_t t = target_of(o, CLU_SIO_FLAGS_NONE);
    clu_sio_event_t ev = event_of(a, pkt);
    const char *err = NULL;
    buf_clear(&cl->out);
    if (clu_wire_sio_encode_broadcast(&cl->out, clu__uid(cl), &ev, &t, &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: cannot encode an emit: %s", err);
        return SIOC_EINVAL;
    }
    if (cl->out.len > cl->max_message) {
        cl->stats.too_big++;
        return SIOC_E2BIG;
    }
    buf_clear(&cl->chan);
    clu_wire_sio_bcast_channel(&cl->chan, clu__key(cl), a->name, o->n_rooms == 1 ? o->rooms : NULL);
    int rc = clu_cluster_publish(cl, buf_slice(&cl->chan), buf_slice(&cl->out));
    return rc == SIOC_E2BIG ? rc : 0; /* an outage is not the emitter's failure */
}

static int sio_publish_bcast_ack(sio_adapter_t *a, const sio_outpkt_t *pkt, const sio_bcast_t *o,
                                 sio_ackgroup_t *grp)
{
    clu_cluster_t *cl = a->cl;
    clu_sio_flags_t flags = CLU_SIO_FLAGS_NONE;
    flags.has_timeout = true;
    flags.timeout = CLU_REQUEST_TIMEOUT_MS;
    clu_sio_target_t t = target_of(o, flags);
    clu_sio_event_t ev = event_of(a, pkt);
    clu_pending_t *p = clu_pending_new(a, CLU_PEND_BCAST_ACK);
    const char *err = NULL;
    if (clu_wire_sio_encode_bcast_ack_req(&p->req, clu__uid(cl), slice_make(p->id, p->id_len), &ev,
                                          &t, &err) != 0 ||
        p->req.len > cl->max_message) {
        cl->stats.too_big += p->req.len > cl->max_message;
        clu_pending_finish(p, SIOC_EINVAL);
        return SIOC_E2BIG;
    }
    p->grp = grp;
    sio_ackgroup_ref(grp);
    sio_ackgroup_expect(grp, 1); /* held until the server count is known */
    p->waiting = 1;
    clu_pending_numsub(p, CLU_REQUEST_TIMEOUT_MS);
    return 0;
}

static void publish_req(sio_adapter_t *a)
{
    clu_cluster_publish(a->cl, buf_slice(&a->req_chan), buf_slice(&a->cl->out));
}

static void sio_publish_rooms(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms,
                              size_t n, bool join)
{
    clu_sio_target_t t = target_of(o, CLU_SIO_FLAGS_NONE);
    buf_clear(&a->cl->out);
    clu_wire_sio_encode_rooms_req(&a->cl->out, clu__uid(a->cl),
                                  join ? CLU_SIO_REQ_REMOTE_JOIN : CLU_SIO_REQ_REMOTE_LEAVE, &t,
                                  rooms, n);
    publish_req(a);
}

static void sio_publish_disconnect(sio_adapter_t *a, const sio_bcast_t *o, bool close)
{
    clu_sio_target_t t = target_of(o, CLU_SIO_FLAGS_NONE);
    buf_clear(&a->cl->out);
    clu_wire_sio_encode_disconnect_req(&a->cl->out, clu__uid(a->cl), &t, close);
    publish_req(a);
}

static int sio_publish_sse(sio_adapter_t *a, slice_t event, slice_t args)
{
    clu_cluster_t *cl = a->cl;
    buf_clear(&cl->out);
    clu_wire_sio_encode_sse_req(&cl->out, clu__uid(cl), NULL, event, args);
    if (cl->out.len > cl->max_message) {
        cl->stats.too_big++;
        return SIOC_E2BIG;
    }
    return clu_cluster_publish(cl, buf_slice(&a->req_chan), buf_slice(&cl->out));
}

static int sio_sse_ack(sio_adapter_t *a, slice_t request_id, slice_t arg_json)
{
    clu_cluster_t *cl = a->cl;
    buf_clear(&cl->out);
    clu_wire_sio_encode_sse_resp(&cl->out, request_id, arg_json);
    return clu_cluster_publish(cl, buf_slice(&a->resp_chan), buf_slice(&cl->out));
}

static void sio_fetch(sio_adapter_t *a, clu_pending_t *p, const sio_bcast_t *o)
{
    clu_sio_target_t t = target_of(o, CLU_SIO_FLAGS_NONE);
    clu_wire_sio_encode_fetch_req(&p->req, clu__uid(a->cl), slice_make(p->id, p->id_len), &t);
    clu_pending_numsub(p, CLU_REQUEST_TIMEOUT_MS);
}

/* ---- receiving broadcasts -------------------------------------------------------- */

static void on_broadcast(sio_adapter_t *a, slice_t channel, slice_t payload)
{
    clu_cluster_t *cl = a->cl;
    slice_t room;
    int rc = clu_wire_sio_parse_bcast_channel(channel, clu__key(cl), a->name, &room);
    if (rc < 0)
        return;
    if (rc == 1 && sio_rooms_count(a->rooms, room) == 0) {
        cl->stats.filtered++; /* nobody here: not even decoded */
        return;
    }
    clu_sio_bcast_t b;
    const char *err = NULL;
    if (clu_wire_sio_decode_broadcast(payload, &b, &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: bad broadcast on %.*s: %s",
                        (int)channel.len, (const char *)channel.ptr, err);
        return;
    }
    if (slice_eq(b.uid, clu__uid(cl)) || !slice_eq(b.nsp, a->name))
        return;
    rx_target_t t;
    clu_wire_val_t opts_rooms = b.rooms, opts_except = b.except;
    buf_clear(&cl->rx_rooms);
    buf_clear(&cl->rx_except);
    memset(&t.o, 0, sizeof t.o);
    if (clu_wire_val_strings(opts_rooms, t.rooms, CLU_MAX_ROOMS, &t.o.n_rooms, &cl->rx_rooms,
                             &err) ||
        clu_wire_val_strings(opts_except, t.except, CLU_MAX_ROOMS, &t.o.n_except, &cl->rx_except,
                             &err))
        goto bad;
    t.o.rooms = t.rooms;
    t.o.except = t.except;
    t.o.flags = b.flags.is_volatile ? SIO_BCAST_VOLATILE : 0;
    slice_t bins[SIO_OUT_MAX_BINS], name;
    msgpack_bins_t mb = {bins, SIO_OUT_MAX_BINS, 0};
    size_t nargs;
    buf_clear(&cl->rx_args);
    buf_clear(&cl->rx_names);
    if (clu_wire_val_event(b.data, &cl->rx_names, &name, &cl->rx_args, &mb, &nargs, &err) != 0)
        goto bad;
    sio_outpkt_t pkt;
    clu_adapter_outpkt(a, &pkt, name, buf_slice(&cl->rx_args), bins, mb.n);
    clu_rooms_deliver(a->rooms, &pkt, &t.o);
    sio_outpkt_release(&pkt);
    cl->stats.received++;
    return;
bad:
    LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: bad broadcast on %.*s: %s",
                    (int)channel.len, (const char *)channel.ptr, err);
}

/* ---- receiving requests ---------------------------------------------------------- */

typedef struct ids_ctx {
    buf_t *out;
    bool first;
} ids_ctx_t;

static void visit_id(void *arg, sio_member_t *m)
{
    ids_ctx_t *c = arg;
    buf_append_cstr(c->out, c->first ? "\"" : ",\"");
    buf_append_cstr(c->out, sio_socket_from_member(m)->id); /* ids are URL-safe base64 */
    buf_append_byte(c->out, '"');
    c->first = false;
}

static void respond(sio_adapter_t *a)
{
    clu_cluster_publish(a->cl, buf_slice(&a->resp_chan), buf_slice(&a->cl->out));
}

/* Legacy allSockets (type 0): {"requestId","sockets":[sid...]} */
static void req_sockets(sio_adapter_t *a, const clu_sio_msg_t *m, slice_t rid)
{
    rx_target_t t;
    const char *err = NULL;
    memset(&t.o, 0, sizeof t.o);
    buf_clear(&a->cl->rx_rooms);
    if (clu_wire_val_strings(m->rooms, t.rooms, CLU_MAX_ROOMS, &t.o.n_rooms, &a->cl->rx_rooms,
                             &err) != 0)
        return;
    t.o.rooms = t.rooms;
    buf_t *out = &a->cl->out;
    buf_clear(out);
    buf_append_cstr(out, "{\"requestId\":\"");
    buf_append_slice(out, rid); /* ids are checked to be plain characters */
    buf_append_cstr(out, "\",\"sockets\":[");
    sio_rooms_filter_t f = {t.o.rooms, t.o.n_rooms, NULL, 0};
    ids_ctx_t c = {out, true};
    sio_rooms_foreach(a->rooms, &f, visit_id, &c);
    buf_append_cstr(out, "]}");
    respond(a);
}

typedef struct names_ctx {
    buf_t *v;
} names_ctx_t;

static void visit_room_name(void *arg, slice_t name, size_t members)
{
    names_ctx_t *c = arg;
    (void)members;
    buf_append(c->v, &name, sizeof name);
}

static void req_all_rooms(sio_adapter_t *a, slice_t rid)
{
    buf_t names = BUF_INIT;
    names_ctx_t c = {&names};
    sio_rooms_list(a->rooms, visit_room_name, &c);
    buf_clear(&a->cl->out);
    clu_wire_sio_encode_all_rooms_resp(&a->cl->out, rid, (const slice_t *)(void *)buf_data(&names),
                                       names.len / sizeof(slice_t));
    buf_dispose(&names);
    respond(a);
}

/* Legacy per-socket join/leave/disconnect (no opts): acts if the sid is here. */
static void req_legacy(sio_adapter_t *a, const clu_sio_msg_t *m, slice_t rid)
{
    slice_t sid, room = {0};
    buf_clear(&a->cl->rx_names);
    if (clu_wire_val_str(m->sid, &a->cl->rx_names, &sid) != 0 || sid.len > SIO_ROOM_NAME_MAX)
        return;
    sio_bcast_t o = {.rooms = &sid, .n_rooms = 1};
    if (sio_rooms_count(a->rooms, sid) == 0)
        return; /* not ours */
    if (m->type == CLU_SIO_REQ_REMOTE_DISCONNECT) {
        bool close = false;
        clu_wire_val_bool(m->close, &close);
        clu_rooms_disconnect_selected(a->rooms, &o, close);
    } else {
        if (clu_wire_val_str(m->room, &a->cl->rx_except, &room) != 0)
            return;
        clu_rooms_join_selected(a->rooms, &o, &room, 1, m->type == CLU_SIO_REQ_REMOTE_JOIN);
    }
    if (!rid.len)
        return;
    buf_clear(&a->cl->out);
    buf_append_cstr(&a->cl->out, "{\"requestId\":\"");
    buf_append_slice(&a->cl->out, rid);
    buf_append_cstr(&a->cl->out, "\"}");
    respond(a);
}

static void req_rooms(sio_adapter_t *a, const clu_sio_msg_t *m, bool join)
{
    rx_target_t t;
    slice_t rooms[CLU_MAX_ROOMS];
    size_t n;
    const char *err = NULL;
    if (read_opts(a->cl, m->opts, &t, &err) != 0)
        return;
    buf_clear(&a->cl->rx_names);
    if (clu_wire_val_strings(m->rooms, rooms, CLU_MAX_ROOMS, &n, &a->cl->rx_names, &err) != 0)
        return;
    clu_rooms_join_selected(a->rooms, &t.o, rooms, n, join);
}

static void req_disconnect(sio_adapter_t *a, const clu_sio_msg_t *m)
{
    rx_target_t t;
    const char *err = NULL;
    bool close = false;
    if (read_opts(a->cl, m->opts, &t, &err) != 0)
        return;
    clu_wire_val_bool(m->close, &close);
    clu_rooms_disconnect_selected(a->rooms, &t.o, close);
}

static void req_fetch(sio_adapter_t *a, const clu_sio_msg_t *m, slice_t rid)
{
    rx_target_t t;
    const char *err = NULL;
    if (read_opts(a->cl, m->opts, &t, &err) != 0)
        return;
    buf_t *out = &a->cl->out;
    buf_clear(out);
    clu_wire_sio_encode_fetch_resp_begin(out, rid);
    clu_adapter_fetch_local(a, &t.o, out, true);
    clu_wire_sio_encode_fetch_resp_end(out);
    respond(a);
}

static void req_sse(sio_adapter_t *a, const clu_sio_msg_t *m, slice_t rid)
{
    clu_cluster_t *cl = a->cl;
    slice_t name, bins[SIO_OUT_MAX_BINS];
    msgpack_bins_t mb = {bins, SIO_OUT_MAX_BINS, 0};
    size_t nargs;
    const char *err = NULL;
    buf_clear(&cl->rx_args);
    buf_clear(&cl->rx_names);
    if (clu_wire_val_event(m->data, &cl->rx_names, &name, &cl->rx_args, &mb, &nargs, &err) != 0)
        return;
    if (!a->sse_cb) {
        if (rid.len)
            a->cl->fmt->sse_ack(a, rid, SLICE_LIT(""));
        return;
    }
    sioc_str_t sbins[SIO_OUT_MAX_BINS];
    for (size_t i = 0; i < mb.n; i++)
        sbins[i] = (sioc_str_t){(const char *)bins[i].ptr, bins[i].len};
    struct sioc_args args = {buf_slice(&cl->rx_args), (uint32_t)nargs, sbins, mb.n};
    sioc_str_t sname = {(const char *)name.ptr, name.len};
    sioc_str_t ack = {(const char *)rid.ptr, rid.len};
    a->sse_cb(a->nsp, sname, &args, ack, a->sse_arg);
}

/* A broadcast with acks from another node: delivered here with one ack id through the
 * public emit (local only); the client count goes back first, then each client's ack. */
typedef struct remote_ack {
    clu_cluster_t *cl;
    sioc_nsp_t *nsp;
    char rid[CLU_ID_MAX];
    size_t rid_len;
} remote_ack_t;

static void on_remote_client_ack(sioc_socket_t *s, int status, const sioc_args_t *args, void *arg)
{
    remote_ack_t *ra = arg;
    if (!s || !args) { /* the final call */
        free(ra);
        return;
    }
    (void)status;
    sio_adapter_t *a = clu_cluster_adapter(ra->cl, slice_from_cstr(sioc_nsp_name(ra->nsp)));
    if (!a || ra->cl->stopped)
        return;
    sioc_str_t first = sioc_args_at(args, 0);
    slice_t bins[SIO_OUT_MAX_BINS];
    size_t nb = sioc_args_bin_count(args);
    for (size_t i = 0; i < nb && i < SIO_OUT_MAX_BINS; i++) {
        sioc_str_t b = sioc_args_bin(args, i);
        bins[i] = slice_make(b.ptr, b.len);
    }
    const char *err = NULL;
    buf_clear(&ra->cl->out);
    if (clu_wire_sio_encode_ack_resp(&ra->cl->out, slice_make(ra->rid, ra->rid_len),
                                     slice_make(first.ptr, first.len), bins, nb, &err) == 0)
        respond(a);
}

static void req_bcast_ack(sio_adapter_t *a, const clu_sio_msg_t *m, slice_t rid)
{
    clu_cluster_t *cl = a->cl;
    rx_target_t t;
    clu_wire_val_t data;
    const char *err = NULL;
    if (rid.len >= CLU_ID_MAX || read_opts(cl, m->opts, &t, &err) != 0 ||
        clu_wire_val_get(m->packet, "data", &data) != 1)
        return;
    slice_t name, bins[SIO_OUT_MAX_BINS];
    msgpack_bins_t mb = {bins, SIO_OUT_MAX_BINS, 0};
    size_t nargs;
    buf_clear(&cl->rx_args);
    buf_clear(&cl->rx_names);
    if (clu_wire_val_event(data, &cl->rx_names, &name, &cl->rx_args, &mb, &nargs, &err) != 0)
        return;
    /* the public emit wants C strings: copy the names with terminators */
    buf_t names = BUF_INIT;
    const char *rooms[CLU_MAX_ROOMS], *except[CLU_MAX_ROOMS];
    size_t offs[2 * CLU_MAX_ROOMS + 1], k = 0;
    offs[k++] = names.len;
    buf_append_slice(&names, name);
    buf_append_byte(&names, 0);
    for (size_t i = 0; i < t.o.n_rooms + t.o.n_except; i++) {
        offs[k++] = names.len;
        buf_append_slice(&names, i < t.o.n_rooms ? t.rooms[i] : t.except[i - t.o.n_rooms]);
        buf_append_byte(&names, 0);
    }
    const char *base = (const char *)buf_data(&names);
    for (size_t i = 0; i < t.o.n_rooms; i++)
        rooms[i] = base + offs[1 + i];
    for (size_t i = 0; i < t.o.n_except; i++)
        except[i] = base + offs[1 + t.o.n_rooms + i];
    sioc_to_t to = {rooms, t.o.n_rooms, except, t.o.n_except, SIOC_LOCAL | t.o.flags};
    sioc_str_t sbins[SIO_OUT_MAX_BINS];
    for (size_t i = 0; i < mb.n; i++)
        sbins[i] = (sioc_str_t){(const char *)bins[i].ptr, bins[i].len};
    sioc_data_t d = {(const char *)buf_data(&cl->rx_args), cl->rx_args.len, sbins, mb.n};
    if (!cl->rx_args.len)
        d.json = "";
    remote_ack_t *ra = xcalloc(1, sizeof *ra);
    ra->cl = cl;
    ra->nsp = a->nsp;
    memcpy(ra->rid, rid.ptr, rid.len);
    ra->rid_len = rid.len;
    uint64_t timeout =
        t.flags.has_timeout && t.flags.timeout ? t.flags.timeout : CLU_REQUEST_TIMEOUT_MS;
    a->last_ack_count = 0;
    if (sioc_emit_ack(a->nsp, &to, base, d, (uint32_t)timeout, on_remote_client_ack, ra) != 0)
        free(ra);
    buf_dispose(&names);
    buf_clear(&cl->out);
    clu_wire_sio_encode_client_count_resp(&cl->out, rid, a->last_ack_count);
    respond(a);
}

static bool plain_id(slice_t id)
{
    if (id.len == 0 || id.len >= CLU_ID_MAX)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        uint8_t c = id.ptr[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f)
            return false;
    }
    return true;
}

static void on_request(sio_adapter_t *a, slice_t payload)
{
    clu_cluster_t *cl = a->cl;
    clu_sio_msg_t m;
    const char *err = NULL;
    if (clu_wire_sio_decode_msg(payload, &m, &err) != 0) {
        LOG_RATELIMITED(LOG_WARN, cl->log_count, 100, "cluster: bad request: %s", err);
        return;
    }
    slice_t uid = {0}, rid = {0};
    buf_clear(&cl->scratch);
    if (clu_wire_val_present(m.uid) && clu_wire_val_str(m.uid, &cl->scratch, &uid) == 0 &&
        slice_eq(uid, clu__uid(cl)))
        return; /* our own: applied locally already, or we are the requester */
    if (clu_wire_val_present(m.request_id) &&
        (clu_wire_val_str(m.request_id, &cl->scratch, &rid) != 0 || !plain_id(rid)))
        return;
    bool legacy = !clu_wire_val_present(m.opts) && clu_wire_val_present(m.sid);
    switch (m.type) {
    case CLU_SIO_REQ_SOCKETS:
        if (rid.len)
            req_sockets(a, &m, rid);
        break;
    case CLU_SIO_REQ_ALL_ROOMS:
        if (rid.len)
            req_all_rooms(a, rid);
        break;
    case CLU_SIO_REQ_REMOTE_JOIN:
    case CLU_SIO_REQ_REMOTE_LEAVE:
        if (legacy)
            req_legacy(a, &m, rid);
        else
            req_rooms(a, &m, m.type == CLU_SIO_REQ_REMOTE_JOIN);
        break;
    case CLU_SIO_REQ_REMOTE_DISCONNECT:
        if (legacy)
            req_legacy(a, &m, rid);
        else
            req_disconnect(a, &m);
        break;
    case CLU_SIO_REQ_REMOTE_FETCH:
        if (rid.len)
            req_fetch(a, &m, rid);
        break;
    case CLU_SIO_REQ_SERVER_SIDE_EMIT:
        req_sse(a, &m, rid);
        break;
    case CLU_SIO_REQ_BROADCAST:
        if (rid.len)
            req_bcast_ack(a, &m, rid);
        break;
    default:
        break;
    }
}

/* ---- receiving responses --------------------------------------------------------- */

static void resp_fetch(clu_pending_t *p, const clu_sio_msg_t *m)
{
    buf_t tmp = BUF_INIT;
    size_t n = 0;
    const char *err = NULL;
    if (clu_wire_val_len(m->sockets, &n) == 0 &&
        clu_wire_val_to_json(m->sockets, &tmp, NULL, &err) == 0 && tmp.len > 2 && n) {
        if (p->acc.len)
            buf_append_byte(&p->acc, ',');
        buf_append(&p->acc, buf_data(&tmp) + 1, tmp.len - 2);
        p->n += n;
    }
    buf_dispose(&tmp);
    clu_pending_got(p);
}

static void resp_ack(clu_pending_t *p, const clu_sio_msg_t *m)
{
    clu_cluster_t *cl = p->cl;
    if (!p->grp)
        return;
    if (m->type == CLU_SIO_REQ_BROADCAST_CLIENT_COUNT) {
        int64_t count = 0;
        if (!clu_wire_val_i64(m->client_count, &count) || count < 0 || !p->waiting)
            return;
        sio_ackgroup_expect(p->grp, (size_t)count);
        p->waiting--;
        sio_ackgroup_answer_remote(p->grp, NULL); /* that node's placeholder */
    } else if (m->type == CLU_SIO_REQ_BROADCAST_ACK) {
        slice_t bins[SIO_OUT_MAX_BINS];
        msgpack_bins_t mb = {bins, SIO_OUT_MAX_BINS, 0};
        const char *err = NULL;
        buf_clear(&cl->rx_args);
        if (clu_wire_val_present(m->packet) &&
            clu_wire_val_to_json(m->packet, &cl->rx_args, &mb, &err) != 0)
            return;
        sioc_str_t sbins[SIO_OUT_MAX_BINS];
        for (size_t i = 0; i < mb.n; i++)
            sbins[i] = (sioc_str_t){(const char *)bins[i].ptr, bins[i].len};
        struct sioc_args args = {buf_slice(&cl->rx_args), cl->rx_args.len ? 1 : 0, sbins, mb.n};
        sio_ackgroup_answer_remote(p->grp, &args);
    }
    if (sio_ackgroup_is_done(p->grp))
        clu_pending_finish(p, 0);
}

static void on_response(sio_adapter_t *a, slice_t payload)
{
    clu_cluster_t *cl = a->cl;
    clu_sio_msg_t m;
    const char *err = NULL;
    slice_t rid;
    if (clu_wire_sio_decode_msg(payload, &m, &err) != 0)
        return;
    buf_clear(&cl->scratch);
    if (clu_wire_val_str(m.request_id, &cl->scratch, &rid) != 0)
        return;
    clu_pending_t *p = clu_pending_find(cl, rid);
    if (!p || p->a != a)
        return; /* another node's request, or one that timed out */
    if (p->kind == CLU_PEND_FETCH && clu_wire_val_present(m.sockets))
        resp_fetch(p, &m);
    else if (p->kind == CLU_PEND_BCAST_ACK)
        resp_ack(p, &m);
}

static void sio_on_message(clu_cluster_t *cl, slice_t pattern, slice_t channel, slice_t payload)
{
    for (sio_adapter_t *a = cl->adapters; a; a = a->next) {
        if (pattern.len) {
            if (slice_eq(pattern, buf_slice(&a->pattern))) {
                on_broadcast(a, channel, payload);
                return;
            }
        } else if (slice_eq(channel, buf_slice(&a->req_chan))) {
            on_request(a, payload);
            return;
        } else if (slice_eq(channel, buf_slice(&a->resp_chan)) ||
                   slice_eq(channel, buf_slice(&a->resp_uid_chan))) {
            on_response(a, payload);
            return;
        }
    }
}

const clu_format_ops_t clu_format_socketio = {
    .name = "socketio",
    .default_channel = "socket.io",
    .nsp_start = sio_nsp_start,
    .nsp_stop = sio_nsp_stop,
    .on_message = sio_on_message,
    .publish_bcast = sio_publish_bcast,
    .publish_bcast_ack = sio_publish_bcast_ack,
    .publish_rooms = sio_publish_rooms,
    .publish_disconnect = sio_publish_disconnect,
    .publish_sse = sio_publish_sse,
    .sse_ack = sio_sse_ack,
    .fetch = sio_fetch,
};
