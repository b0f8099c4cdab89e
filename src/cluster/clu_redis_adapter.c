/*
 * clu_redis_adapter: the Redis adapter's core — the cluster node, the adapter operations
 * over the local rooms, and the pending cluster requests. See the header; the wire
 * formats are in clu_redis_sio.c (socketio) and clu_redis_py.c (python-socketio).
 */
#include "cluster/clu_redis_adapter.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/clu_cluster_private.h"
#include "cluster/clu_redis_url.h"
#include "cluster/clu_rooms.h"
#include "cluster/clu_wire_py.h"
#include "sio/sio_socket.h"

#define DEFAULT_MAX_MESSAGE (1024 * 1024)

static const clu_format_ops_t *const formats[] = {
    [CLU_FORMAT_SOCKETIO] = &clu_format_socketio,
    [CLU_FORMAT_PYTHON] = &clu_format_python,
};

int clu_format_parse(const char *name)
{
    if (!name || !*name || !strcmp(name, "socketio"))
        return CLU_FORMAT_SOCKETIO;
    if (!strcmp(name, "python-socketio"))
        return CLU_FORMAT_PYTHON;
    return -1;
}

/* ---- the node ------------------------------------------------------------------- */

static uint64_t next_rand(clu_cluster_t *cl)
{
    uint64_t x = cl->rnd; /* xorshift64: ids need uniqueness, not secrecy */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return cl->rnd = x;
}

void clu_cluster_new_id(clu_cluster_t *cl, char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[next_rand(cl) % (sizeof alphabet - 1)];
    out[len] = '\0';
}

sio_adapter_t *clu_cluster_adapter(clu_cluster_t *cl, slice_t nsp)
{
    for (sio_adapter_t *a = cl->adapters; a; a = a->next) {
        if (slice_eq(a->name, nsp))
            return a;
    }
    return NULL;
}

static void on_message(clu_redis_t *r, slice_t pattern, slice_t channel, slice_t payload)
{
    clu_cluster_t *cl = clu_redis_get_user(r);
    if (cl && !cl->stopped)
        cl->fmt->on_message(cl, pattern, channel, payload);
}

static void on_event(clu_redis_t *r, clu_redis_event_t ev)
{
    clu_cluster_t *cl = clu_redis_get_user(r);
    if (cl && ev == CLU_REDIS_EV_SUB_READY)
        LOG(LOG_INFO, "cluster: node %s subscribed (%s format)", cl->uid, cl->fmt->name);
}

static const clu_redis_callbacks_t redis_cbs = {.on_message = on_message, .on_event = on_event};

static int read_url(const clu_cluster_config_t *cfg, clu_redis_url_t *u, const char **err)
{
    if (clu_redis_url_parse(cfg->url, u, err) != 0)
        return -1;
    if (cfg->sentinel_hosts && *cfg->sentinel_hosts) {
        char port[16];
        snprintf(port, sizeof port, "%d", cfg->sentinel_port > 0 ? cfg->sentinel_port : 26379);
        if (clu_redis_url_set_sentinels(u, cfg->sentinel_hosts, port, err) != 0)
            return -1;
    }
    return 0;
}

clu_cluster_t *clu_cluster_new(uv_loop_t *loop, net_loop_t *nl, const clu_cluster_config_t *cfg,
                               const char **err)
{
    int f = clu_format_parse(cfg->format);
    if (f < 0) {
        *err = "unknown redis format (socketio or python-socketio)";
        return NULL;
    }
    clu_redis_url_t *u = xcalloc(1, sizeof *u);
    if (read_url(cfg, u, err) != 0) {
        free(u);
        return NULL;
    }
    clu_cluster_t *cl = xcalloc(1, sizeof *cl);
    cl->loop = loop;
    cl->nl = nl;
    cl->fmt = formats[f];
    const char *key = cfg->channel && *cfg->channel ? cfg->channel : cl->fmt->default_channel;
    cl->key_len = strlen(key);
    cl->key = xstrndup(key, cl->key_len);
    cl->room_channels = cfg->room_channels;
    cl->max_message = cfg->max_message ? cfg->max_message : DEFAULT_MAX_MESSAGE;
    if (uv_random(NULL, NULL, &cl->rnd, sizeof cl->rnd, 0, NULL) != 0 || !cl->rnd)
        cl->rnd = (uint64_t)uv_hrtime() | 1;
    if (f == CLU_FORMAT_PYTHON) {
        uint8_t rnd[16];
        for (int i = 0; i < 16; i += 8) {
            uint64_t v = next_rand(cl);
            memcpy(rnd + i, &v, 8);
        }
        char hex[33];
        clu_wire_py_host_id(rnd, hex);
        memcpy(cl->uid, hex, 33);
        cl->uid_len = 32;
    } else {
        clu_cluster_new_id(cl, cl->uid, 6);
        cl->uid_len = 6;
    }
    clu_redis_config_t rc = {
        .url = u,
        .name = "cluster-redis",
        .cbs = &redis_cbs,
        .user = cl,
        /* the message bound plus room for the envelope: the adapter checks the event */
        .max_message = cl->max_message + 64 * 1024,
    };
    cl->r = clu_redis_new(loop, &rc);
    free(u);
    if (!cl->r) {
        *err = "cannot create the redis client";
        free(cl->key);
        free(cl);
        return NULL;
    }
    return cl;
}

static void on_closed(clu_redis_t *r)
{
    clu_cluster_t *cl = clu_redis_get_user(r);
    cl->closed = true;
    if (cl->free_on_close)
        clu_cluster_free(cl);
}

void clu_cluster_stop(clu_cluster_t *cl)
{
    if (!cl || cl->stopped)
        return;
    cl->stopped = true;
    for (clu_pending_t *p = cl->pending, *next; p; p = next) {
        next = p->next;
        clu_pending_finish(p, SIOC_EUNAVAIL);
    }
    for (sio_adapter_t *a = cl->adapters; a; a = a->next)
        cl->fmt->nsp_stop(a);
    clu_redis_t *r = cl->r;
    cl->r = NULL;
    clu_redis_close(r, on_closed);
}

void clu_cluster_free(clu_cluster_t *cl)
{
    if (!cl)
        return;
    clu_cluster_stop(cl);
    if (!cl->closed) {
        cl->free_on_close = true;
        return;
    }
    while (cl->pending) { /* only ones still waiting for a Redis reply */
        clu_pending_t *p = cl->pending;
        cl->pending = p->next;
        buf_dispose(&p->acc);
        buf_dispose(&p->req);
        free(p);
    }
    buf_dispose(&cl->out);
    buf_dispose(&cl->chan);
    buf_dispose(&cl->scratch);
    buf_dispose(&cl->rx_args);
    buf_dispose(&cl->rx_names);
    buf_dispose(&cl->rx_att);
    buf_dispose(&cl->rx_rooms);
    buf_dispose(&cl->rx_except);
    free(cl->key);
    free(cl);
}

void clu_cluster_stats(const clu_cluster_t *cl, sioc_cluster_stats_t *out)
{
    *out = cl->stats;
}

/* A publish completed: counted as published, or as dropped when the connection was
 * lost before it went out (it waited in the client's bounded queue meanwhile). */
static void on_published(clu_redis_t *r, int status, const clu_redis_reply_t *rep, void *arg)
{
    (void)r;
    (void)rep;
    clu_cluster_t *cl = arg;
    if (status == 0)
        cl->stats.published++;
    else
        cl->stats.dropped++;
}

int clu_cluster_publish(clu_cluster_t *cl, slice_t channel, slice_t payload)
{
    if (payload.len > cl->max_message + 64 * 1024) {
        cl->stats.too_big++;
        return SIOC_E2BIG;
    }
    if (!cl->r) {
        cl->stats.dropped++;
        return SIOC_EUNAVAIL;
    }
    int rc = clu_redis_publish(cl->r, channel, payload, on_published, cl);
    if (rc == 0)
        return 0;
    if (rc == CLU_REDIS_E_TOO_BIG) {
        cl->stats.too_big++;
        return SIOC_E2BIG;
    }
    cl->stats.dropped++; /* outage or full queue: the client logged the outage once */
    LOG_RATELIMITED(LOG_DEBUG, cl->log_count, 1000, "cluster: publish dropped: %s",
                    clu_redis_strerror(rc));
    return SIOC_EUNAVAIL;
}

/* ---- pending cluster requests --------------------------------------------------- */

clu_pending_t *clu_pending_new(sio_adapter_t *a, int kind)
{
    clu_pending_t *p = xcalloc(1, sizeof *p);
    p->cl = a->cl;
    p->a = a;
    p->kind = kind;
    clu_cluster_new_id(a->cl, p->id, 6);
    p->id_len = 6;
    net_timer_init(&p->timer);
    p->timer_status = SIOC_ETIMEDOUT;
    p->next = a->cl->pending;
    a->cl->pending = p;
    return p;
}

clu_pending_t *clu_pending_find(clu_cluster_t *cl, slice_t id)
{
    for (clu_pending_t *p = cl->pending; p; p = p->next) {
        if (!p->finished && slice_eq(slice_make(p->id, p->id_len), id))
            return p;
    }
    return NULL;
}

static void pending_unlink_free(clu_pending_t *p)
{
    clu_pending_t **pp = &p->cl->pending;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    buf_dispose(&p->acc);
    buf_dispose(&p->req);
    free(p);
}

void clu_pending_finish(clu_pending_t *p, int status)
{
    if (!p->finished) {
        p->finished = true;
        net_timer_stop(&p->timer);
        if (p->kind == CLU_PEND_FETCH && p->fetch_cb) {
            buf_t out = BUF_INIT;
            buf_append_byte(&out, '[');
            buf_append(&out, buf_data(&p->acc), p->acc.len);
            buf_append_byte(&out, ']');
            sioc_str_t s = {(const char *)buf_data(&out), out.len};
            p->fetch_cb(status, s, p->n, p->arg);
            buf_dispose(&out);
        } else if (p->kind == CLU_PEND_COUNT && p->count_cb) {
            p->count_cb(status, status ? 0 : p->n, p->arg);
        } else if (p->kind == CLU_PEND_BCAST_ACK && p->grp) {
            for (size_t i = 0; i < p->waiting; i++) /* nodes that never reported */
                sio_ackgroup_answer_remote(p->grp, NULL);
            sio_ackgroup_unref(p->grp);
            p->grp = NULL;
        }
    }
    if (!p->numsub_pending)
        pending_unlink_free(p);
}

static void on_pending_timer(net_timer_t *t)
{
    clu_pending_t *p = NET_CONTAINER_OF(t, clu_pending_t, timer);
    clu_pending_finish(p, p->timer_status);
}

void clu_pending_arm(clu_pending_t *p, uint64_t ms)
{
    net_timer_start(p->cl->nl, &p->timer, ms, on_pending_timer);
}

void clu_pending_got(clu_pending_t *p)
{
    if (p->waiting)
        p->waiting--;
    if (!p->waiting)
        clu_pending_finish(p, 0);
}

/* ---- local delivery (the room operations themselves are clu_rooms) -------------- */

void clu_adapter_outpkt(sio_adapter_t *a, sio_outpkt_t *pkt, slice_t name, slice_t args,
                        const slice_t *bins, size_t nbins)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->h = (sio_header_t){
        .type = nbins ? SIO_BINARY_EVENT : SIO_EVENT,
        .attachments = (uint32_t)nbins,
        .nsp = a->name,
    };
    pkt->name = name;
    pkt->args = args;
    pkt->bins = bins;
    pkt->scratch = &a->nsp->srv->enc;
    pkt->eio = a->nsp->srv->eio;
}

static void json_str(buf_t *out, slice_t s)
{
    buf_append_byte(out, '"');
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '"' || c == '\\')
            buf_append_byte(out, '\\');
        if (c < 0x20)
            buf_appendf(out, "\\u%04x", c);
        else
            buf_append_byte(out, c);
    }
    buf_append_byte(out, '"');
}

typedef struct fetch_ctx {
    buf_t *acc;
    bool first;
    size_t n;
} fetch_ctx_t;

static void visit_fetch(void *arg, sio_member_t *m)
{
    fetch_ctx_t *c = arg;
    sioc_socket_t *s = sio_socket_from_member(m);
    if (!c->first)
        buf_append_byte(c->acc, ',');
    c->first = false;
    c->n++;
    buf_append_cstr(c->acc, "{\"id\":");
    json_str(c->acc, slice_from_cstr(s->id));
    buf_append_cstr(c->acc, ",\"handshake\":{},\"rooms\":[");
    for (size_t i = 0; i < sio_member_room_count(m); i++) {
        if (i)
            buf_append_byte(c->acc, ',');
        json_str(c->acc, sio_member_room(m, i));
    }
    buf_append_cstr(c->acc, "],\"data\":{}}");
}

size_t clu_adapter_fetch_local(sio_adapter_t *a, const sio_bcast_t *o, buf_t *acc, bool first)
{
    sio_rooms_filter_t f = clu_rooms_filter(o);
    fetch_ctx_t c = {acc, first, 0};
    sio_rooms_foreach(a->rooms, &f, visit_fetch, &c);
    return c.n;
}

/* ---- the adapter operations ------------------------------------------------------ */

static sio_adapter_t *ra_create(sioc_nsp_t *nsp, void *config)
{
    clu_cluster_t *cl = config;
    sio_adapter_t *a = xcalloc(1, sizeof *a);
    a->cl = cl;
    a->nsp = nsp;
    a->name = slice_make(nsp->name, nsp->name_len);
    a->rooms = sio_rooms_new();
    a->next = cl->adapters;
    cl->adapters = a;
    if (cl->r)
        cl->fmt->nsp_start(a);
    return a;
}

static void ra_destroy(sio_adapter_t *a)
{
    if (!a)
        return;
    clu_cluster_t *cl = a->cl;
    if (cl->r)
        cl->fmt->nsp_stop(a);
    for (clu_pending_t *p = cl->pending; p; p = p->next) {
        if (p->a == a)
            p->a = NULL;
    }
    sio_adapter_t **pp = &cl->adapters;
    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    sio_rooms_free(a->rooms);
    buf_dispose(&a->pattern);
    buf_dispose(&a->req_chan);
    buf_dispose(&a->resp_chan);
    buf_dispose(&a->resp_uid_chan);
    free(a);
}

static int ra_broadcast(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o)
{
    if (!(o->flags & SIO_BCAST_LOCAL) && a->cl->fmt->publish_bcast(a, pkt, o) == SIOC_E2BIG) {
        LOG_RATELIMITED(LOG_ERROR, a->cl->log_count, 100,
                        "cluster: emit of \"%.*s\" on %.*s refused: larger than the "
                        "redis_max_message bound (%zu bytes)",
                        (int)pkt->name.len, (const char *)pkt->name.ptr, (int)a->name.len,
                        (const char *)a->name.ptr, a->cl->max_message);
        return SIOC_E2BIG;
    }
    clu_rooms_deliver(a->rooms, pkt, o);
    return 0;
}

static size_t ra_broadcast_with_ack(sio_adapter_t *a, sio_outpkt_t *pkt, const sio_bcast_t *o,
                                    sio_ackgroup_t *grp)
{
    size_t n = clu_rooms_deliver_ack(a->rooms, pkt, o, grp);
    a->last_ack_count = n;
    if (!(o->flags & SIO_BCAST_LOCAL))
        a->cl->fmt->publish_bcast_ack(a, pkt, o, grp);
    return n;
}

static void ra_sockets(sio_adapter_t *a, const sio_bcast_t *o, sio_socket_visit_cb cb, void *arg)
{
    clu_rooms_sockets(a->rooms, o, cb, arg);
}

static void ra_add_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms, size_t n)
{
    clu_rooms_join_selected(a->rooms, o, rooms, n, true);
    if (!(o->flags & SIO_BCAST_LOCAL))
        a->cl->fmt->publish_rooms(a, o, rooms, n, true);
}

static void ra_del_sockets(sio_adapter_t *a, const sio_bcast_t *o, const slice_t *rooms, size_t n)
{
    clu_rooms_join_selected(a->rooms, o, rooms, n, false);
    if (!(o->flags & SIO_BCAST_LOCAL))
        a->cl->fmt->publish_rooms(a, o, rooms, n, false);
}

static void ra_disconnect_sockets(sio_adapter_t *a, const sio_bcast_t *o, bool close)
{
    if (!(o->flags & SIO_BCAST_LOCAL))
        a->cl->fmt->publish_disconnect(a, o, close);
    clu_rooms_disconnect_selected(a->rooms, o, close);
}

static void ra_server_side_emit(sio_adapter_t *a, const sio_outpkt_t *pkt)
{
    a->cl->fmt->publish_sse(a, pkt->name, pkt->args);
}

static void ra_all_rooms(sio_adapter_t *a, sio_room_visit_cb cb, void *arg)
{
    clu_rooms_list(a->rooms, cb, arg);
}

static size_t ra_server_count(sio_adapter_t *a)
{
    (void)a;
    return 1; /* the synchronous call can only vouch for this node: see
                 clu_cluster_server_count */
}

const sio_adapter_ops_t clu_redis_adapter_ops = {
    .name = "redis",
    .create = ra_create,
    .destroy = ra_destroy,
    .add_all = clu_rooms_add_all,
    .del = clu_rooms_del,
    .del_all = clu_rooms_del_all,
    .has = clu_rooms_has,
    .room_size = clu_rooms_size,
    .broadcast = ra_broadcast,
    .broadcast_with_ack = ra_broadcast_with_ack,
    .sockets = ra_sockets,
    .add_sockets = ra_add_sockets,
    .del_sockets = ra_del_sockets,
    .disconnect_sockets = ra_disconnect_sockets,
    .server_side_emit = ra_server_side_emit,
    .all_rooms = ra_all_rooms,
    .server_count = ra_server_count,
};

/* ---- cluster-wide queries -------------------------------------------------------- */

static void numsub_done(clu_pending_t *p, size_t servers)
{
    if (p->kind == CLU_PEND_COUNT) {
        p->n = servers;
        clu_pending_finish(p, 0);
        return;
    }
    size_t others = servers > 1 ? servers - 1 : 0;
    if (p->kind == CLU_PEND_BCAST_ACK && p->grp) {
        /* one placeholder per other node until its client count comes (type 8) */
        sio_ackgroup_expect(p->grp, others);
        p->waiting = others;
        sio_ackgroup_answer_remote(p->grp, NULL); /* the placeholder held until now */
        clu_pending_arm(p, CLU_ACK_HOLD_MS);
    } else {
        p->waiting = others;
    }
    if (!others || !p->a) {
        clu_pending_finish(p, 0);
        return;
    }
    if (clu_cluster_publish(p->cl, buf_slice(&p->a->req_chan), buf_slice(&p->req)) != 0)
        clu_pending_finish(p, SIOC_EUNAVAIL);
    buf_dispose(&p->req);
}

static void on_numsub(clu_redis_t *r, int status, const clu_redis_reply_t *rep, void *arg)
{
    (void)r;
    clu_pending_t *p = arg;
    p->numsub_pending = false;
    if (p->finished) {
        clu_pending_finish(p, 0); /* frees it */
        return;
    }
    const clu_redis_reply_t *n = rep ? clu_redis_reply_at(rep, 1) : NULL;
    if (status != 0 || !n || clu_redis_reply_type(n) != CLU_REDIS_REPLY_INTEGER) {
        clu_pending_finish(p, p->kind == CLU_PEND_FETCH ? 0 : SIOC_EUNAVAIL);
        return;
    }
    long long servers = clu_redis_reply_int(n);
    numsub_done(p, servers > 0 ? (size_t)servers : 1);
}

void clu_pending_numsub(clu_pending_t *p, uint64_t timeout_ms)
{
    clu_cluster_t *cl = p->cl;
    if (p->a && cl->r) {
        slice_t argv[3] = {SLICE_LIT("PUBSUB"), SLICE_LIT("NUMSUB"), buf_slice(&p->a->req_chan)};
        if (clu_redis_command(cl->r, on_numsub, p, 3, argv) == 0) {
            p->numsub_pending = true;
            clu_pending_arm(p, timeout_ms);
            return;
        }
    }
    /* Redis unavailable: this node only, answered next turn (never during the call) */
    p->timer_status = p->kind == CLU_PEND_COUNT ? SIOC_EUNAVAIL : 0;
    clu_pending_arm(p, 0);
}

int clu_cluster_server_count(sio_adapter_t *a, sioc_count_cb cb, void *arg)
{
    clu_pending_t *p = clu_pending_new(a, CLU_PEND_COUNT);
    p->count_cb = cb;
    p->arg = arg;
    p->n = 1;
    if (!a->req_chan.len) { /* python-socketio has no server count: this node */
        p->timer_status = 0;
        clu_pending_arm(p, 0);
        return 0;
    }
    clu_pending_numsub(p, CLU_REQUEST_TIMEOUT_MS);
    return 0;
}

int clu_cluster_fetch_sockets(sio_adapter_t *a, const sio_bcast_t *o, sioc_fetch_cb cb, void *arg)
{
    clu_pending_t *p = clu_pending_new(a, CLU_PEND_FETCH);
    p->fetch_cb = cb;
    p->arg = arg;
    p->n = clu_adapter_fetch_local(a, o, &p->acc, true);
    a->cl->fmt->fetch(a, p, o);
    return 0;
}

int clu_cluster_server_side_emit(sio_adapter_t *a, slice_t event, slice_t args)
{
    return a->cl->fmt->publish_sse(a, event, args);
}

void clu_cluster_on_server_side(sio_adapter_t *a, sioc_server_side_cb cb, void *arg)
{
    a->sse_cb = cb;
    a->sse_arg = arg;
}

int clu_cluster_server_side_ack(sio_adapter_t *a, slice_t ack_id, slice_t arg_json)
{
    return a->cl->fmt->sse_ack(a, ack_id, arg_json);
}
