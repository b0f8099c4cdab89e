/*
 * sioc: the public server object of include/sioc.h — the top of the library.
 *
 * It composes the layers: a libuv loop (its own or the caller's), the net context, the
 * Socket.IO server (which owns the Engine.IO and HTTP servers) and the adapter: the
 * in-process one (clu_local), or the Redis one (clu_redis_adapter) when redis_url is set,
 * whose cluster node (clu_cluster_t) this object owns. It lives in src/cluster because it
 * is the one place that knows both sio and the adapters, and cluster is the highest
 * layer folder of the library; sio itself never includes a cluster header.
 *
 * The other public functions (namespaces, sockets, emits, arguments) are implemented
 * next to the structures they work on, in src/sio; the cluster-wide queries
 * (sioc_server_count, sioc_fetch_sockets, sioc_server_side_*) are here, answered by the
 * Redis adapter or, for a single node, on the next loop turn.
 *
 * Shutdown: sioc_server_stop closes every session and the listeners; the loop then runs
 * out of work by itself (WebSockets finish their closing handshake, bounded by the net
 * layer's linger; the Redis client closes too) and sioc_server_run returns.
 * sioc_server_free releases the rest.
 */
#include "sioc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/clu_local.h"
#include "cluster/clu_redis_adapter.h"
#include "http/http_server.h"
#include "net/net_loop.h"
#include "sio/sio_server.h"
#include "sio/sio_socket.h"

struct sioc_server {
    uv_loop_t own_loop; /* used when the caller gave no loop */
    uv_loop_t *loop;
    bool owns_loop;
    net_loop_t *nl;
    sio_server_t *sio;
    clu_cluster_t *cluster; /* NULL: single node (local adapter) */
    char *host;             /* owned copy */
    int port;               /* asked for */
    bool stop_on_signals;
    bool signals_on;
    uv_signal_t sigint, sigterm;
    sioc_http_cb http_cb;
    void *http_arg;
    sioc_http_filter_cb filter_cb;
    void *filter_arg;
    bool stopped;
};

const char *sioc_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case SIOC_EINVAL:
        return "invalid argument";
    case SIOC_ENOTCONN:
        return "socket not connected";
    case SIOC_ETIMEDOUT:
        return "ack timed out";
    case SIOC_EREFUSED:
        return "refused by the middleware";
    case SIOC_EDISCONNECTED:
        return "socket disconnected before the ack";
    case SIOC_E2BIG:
        return "event larger than the cluster message bound";
    case SIOC_EUNAVAIL:
        return "cluster unavailable";
    default:
        return uv_strerror(err);
    }
}

const char *sioc_reason_str(sioc_reason_t reason)
{
    switch (reason) {
    case SIOC_CLIENT_NAMESPACE_DISCONNECT:
        return "client namespace disconnect";
    case SIOC_SERVER_NAMESPACE_DISCONNECT:
        return "server namespace disconnect";
    case SIOC_TRANSPORT_CLOSE:
        return "transport close";
    case SIOC_TRANSPORT_ERROR:
        return "transport error";
    case SIOC_PING_TIMEOUT:
        return "ping timeout";
    case SIOC_PARSE_ERROR:
        return "parse error";
    case SIOC_FORCED_CLOSE:
        return "forced close";
    case SIOC_FORCED_SERVER_CLOSE:
        return "forced server close";
    case SIOC_SERVER_SHUTTING_DOWN:
        return "server shutting down";
    }
    return "transport close";
}

static void on_http(http_req_t *req, void *arg)
{
    sioc_server_t *srv = arg;
    if (srv->http_cb) {
        srv->http_cb(req, srv->http_arg);
        return;
    }
    http_resp_send(req, 404, "text/plain", SLICE_LIT(""), SLICE_LIT("Not Found"));
}

static bool on_engine_request(http_req_t *req, void *arg)
{
    sioc_server_t *srv = arg;
    return srv->filter_cb && srv->filter_cb(req, srv->filter_arg);
}

static void signals_start(sioc_server_t *srv);

static uint32_t or_default(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

sioc_server_t *sioc_server_new(uv_loop_t *loop, const sioc_config_t *cfg)
{
    sioc_config_t c = cfg ? *cfg : (sioc_config_t){0};
    if (c.port < 0 || c.port > 65535)
        return NULL;
    sioc_server_t *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    if (!loop) {
        uv_loop_init(&srv->own_loop);
        srv->loop = &srv->own_loop;
        srv->owns_loop = true;
    }
    srv->host = xstrndup(c.host ? c.host : "127.0.0.1", strlen(c.host ? c.host : "127.0.0.1"));
    srv->port = c.port;
    srv->stop_on_signals = c.stop_on_signals;
    net_loop_config_t ncfg = {.max_out_bytes = c.max_output_bytes};
    srv->nl = net_loop_new(srv->loop, &ncfg);
    eio_config_t e = {
        .path = c.path ? c.path : "/socket.io/",
        .ping_interval_ms = or_default(c.ping_interval_ms, 25000),
        .ping_timeout_ms = or_default(c.ping_timeout_ms, 20000),
        .upgrade_timeout_ms = or_default(c.upgrade_timeout_ms, 10000),
        .max_payload = c.max_payload ? c.max_payload : 1000000,
        .max_output_bytes = c.max_output_bytes,
        .transports = c.transports & (SIOC_POLLING | SIOC_WEBSOCKET),
        .cors_origins = c.cors_origins,
        .cors_credentials = c.cors_credentials,
        .deflate = c.deflate,
    };
    if (c.redis_url && *c.redis_url) {
        const char *err = NULL;
        clu_cluster_config_t cc = {
            .url = c.redis_url,
            .sentinel_hosts = c.redis_sentinel_hosts,
            .sentinel_port = c.redis_sentinel_port,
            .format = c.redis_format,
            .channel = c.redis_channel,
            .room_channels = c.redis_room_channels,
            .max_message = c.redis_max_message,
        };
        srv->cluster = clu_cluster_new(srv->loop, srv->nl, &cc, &err);
        if (!srv->cluster) {
            LOG(LOG_ERROR, "sioc: redis configuration refused: %s", err);
            srv->stopped = true;
            sioc_server_free(srv);
            return NULL;
        }
    }
    sio_config_t s = {
        .connect_timeout_ms = or_default(c.connect_timeout_ms, 45000),
        .always_connect = c.always_connect,
        .adapter = srv->cluster ? &clu_redis_adapter_ops : &clu_local_ops,
        .adapter_config = srv->cluster,
        .on_http = on_http,
        .on_engine_request = on_engine_request,
        .http_arg = srv,
        .owner = srv,
    };
    srv->sio = sio_server_new(srv->nl, &e, &s);
    if (!srv->sio) {
        srv->stopped = true;
        sioc_server_free(srv);
        return NULL;
    }
    /* handlers go in now: a signal between listen and run must already stop us */
    signal(SIGPIPE, SIG_IGN);
    signals_start(srv);
    return srv;
}

int sioc_server_listen(sioc_server_t *srv)
{
    return eio_server_listen(sio_server_eio(srv->sio), srv->host, srv->port);
}

int sioc_server_port(const sioc_server_t *srv)
{
    int port = eio_server_port(sio_server_eio(srv->sio));
    return port < 0 ? 0 : port;
}

uv_loop_t *sioc_server_loop(sioc_server_t *srv)
{
    return srv->loop;
}

size_t sioc_server_connections(const sioc_server_t *srv)
{
    return sio_server_client_count(srv->sio);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    sioc_server_t *srv = sig->data;
    LOG(LOG_INFO, "sioc: signal %d, stopping", signum);
    sioc_server_stop(srv);
}

static void signals_start(sioc_server_t *srv)
{
    if (!srv->stop_on_signals || srv->signals_on || srv->stopped)
        return;
    uv_signal_init(srv->loop, &srv->sigint);
    uv_signal_init(srv->loop, &srv->sigterm);
    srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    srv->signals_on = true;
}

static void signals_stop(sioc_server_t *srv)
{
    if (!srv->signals_on)
        return;
    srv->signals_on = false;
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
}

int sioc_server_run(sioc_server_t *srv)
{
    uv_run(srv->loop, UV_RUN_DEFAULT);
    return 0;
}

void sioc_server_stop(sioc_server_t *srv)
{
    if (srv->stopped)
        return;
    srv->stopped = true;
    signals_stop(srv);
    if (srv->sio)
        sio_server_close(srv->sio);
    clu_cluster_stop(srv->cluster);
}

void sioc_server_free(sioc_server_t *srv)
{
    if (!srv)
        return;
    sioc_server_stop(srv);
    sio_server_free(srv->sio);
    srv->sio = NULL;
    clu_cluster_free(srv->cluster); /* now, or once its Redis client has closed */
    srv->cluster = NULL;
    if (srv->owns_loop) {
        uv_run(srv->loop, UV_RUN_DEFAULT);
        net_loop_free(srv->nl);
        uv_run(srv->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(srv->loop) != 0)
            LOG(LOG_WARN, "sioc: loop still has open handles at free");
    } else {
        net_loop_free(srv->nl);
    }
    free(srv->host);
    free(srv);
}

sioc_nsp_t *sioc_of(sioc_server_t *srv, const char *name)
{
    if (!name)
        return NULL;
    return sio_server_nsp(srv->sio, slice_from_cstr(name));
}

void sioc_server_on_namespace(sioc_server_t *srv, sioc_nsp_resolve_cb cb, void *arg)
{
    sio_server_on_namespace(srv->sio, cb, arg);
}

void sioc_server_on_http(sioc_server_t *srv, sioc_http_cb cb, void *arg)
{
    srv->http_cb = cb;
    srv->http_arg = arg;
}

void sioc_server_on_engine_request(sioc_server_t *srv, sioc_http_filter_cb cb, void *arg)
{
    srv->filter_cb = cb;
    srv->filter_arg = arg;
}

static void count_room(void *arg, slice_t name)
{
    (void)name;
    (*(uint64_t *)arg)++;
}

void sioc_server_stats(const sioc_server_t *srv, sioc_stats_t *out)
{
    const sio_server_t *sio = srv->sio;
    const net_loop_stats_t *ns = net_loop_stats(srv->nl);
    size_t ws = 0, polling = 0;
    uint64_t rooms = 0, sockets = 0;
    eio_server_transport_counts(sio_server_eio(sio), &ws, &polling);
    for (size_t i = 0; i < sio->n_nsps; i++) {
        sioc_nsp_t *nsp = sio->nsps[i];
        nsp->srv->cfg.adapter->all_rooms(nsp->adapter, count_room, &rooms);
        sockets += nsp->n_sockets;
    }
    *out = (sioc_stats_t){
        .clients_websocket = ws,
        .clients_polling = polling,
        .sockets = sockets,
        /* every socket sits in the room of its own id: those are not counted */
        .rooms = rooms > sockets ? rooms - sockets : 0,
        .events_in = sio->events_in,
        .events_out = sio->events_out,
        .bytes_in = ns->bytes_read,
        .bytes_out = ns->bytes_written,
        .conns_accepted = ns->conns_accepted,
        .slow_consumer_closes = ns->slow_consumer_closes,
        .adapter = sio->cfg.adapter->name,
    };
}

/* ---- cluster-wide queries ------------------------------------------------------- */

static clu_cluster_t *cluster_of(sioc_nsp_t *nsp)
{
    sioc_server_t *srv = nsp->srv->cfg.owner;
    return srv->cluster;
}

/* A single node answers the async queries on the next loop turn (never during the call,
 * as with a cluster). */
typedef struct local_query {
    net_timer_t timer;
    sioc_nsp_t *nsp;
    bool fetch;
    sioc_count_cb count_cb;
    sioc_fetch_cb fetch_cb;
    void *arg;
    buf_t json;
    size_t n;
} local_query_t;

static void on_local_query(net_timer_t *t)
{
    local_query_t *q = NET_CONTAINER_OF(t, local_query_t, timer);
    if (q->fetch) {
        sioc_str_t s = {(const char *)buf_data(&q->json), q->json.len};
        q->fetch_cb(0, s, q->n, q->arg);
    } else {
        q->count_cb(0, 1, q->arg);
    }
    buf_dispose(&q->json);
    free(q);
}

static void fetch_visit(sioc_socket_t *s, void *arg)
{
    local_query_t *q = arg;
    buf_appendf(&q->json, "%s{\"id\":\"%s\",\"handshake\":{},\"rooms\":[", q->n ? "," : "",
                sioc_socket_id(s));
    sio_member_t *m = sio_socket_member(s);
    for (size_t i = 0; i < sio_member_room_count(m); i++) {
        slice_t r = sio_member_room(m, i);
        buf_append_cstr(&q->json, i ? ",\"" : "\"");
        for (size_t k = 0; k < r.len; k++) {
            if (r.ptr[k] == '"' || r.ptr[k] == '\\')
                buf_append_byte(&q->json, '\\');
            if (r.ptr[k] < 0x20)
                buf_appendf(&q->json, "\\u%04x", r.ptr[k]);
            else
                buf_append_byte(&q->json, r.ptr[k]);
        }
        buf_append_byte(&q->json, '"');
    }
    buf_append_cstr(&q->json, "],\"data\":{}}");
    q->n++;
}

static void local_query_start(sioc_nsp_t *nsp, local_query_t *q)
{
    q->nsp = nsp;
    net_timer_init(&q->timer);
    net_timer_start(eio_server_loop(nsp->srv->eio), &q->timer, 0, on_local_query);
}

int sioc_server_count(sioc_nsp_t *nsp, sioc_count_cb cb, void *arg)
{
    if (!nsp || !cb)
        return SIOC_EINVAL;
    if (cluster_of(nsp))
        return clu_cluster_server_count(nsp->adapter, cb, arg);
    local_query_t *q = xcalloc(1, sizeof *q);
    q->count_cb = cb;
    q->arg = arg;
    local_query_start(nsp, q);
    return 0;
}

/* The broadcast options of a public target (names as slices into `v`). */
static int target_slices(const sioc_to_t *to, slice_t *v, size_t cap, sio_bcast_t *o)
{
    size_t nr = to ? to->n_rooms : 0, ne = to ? to->n_except : 0;
    if (nr + ne > cap)
        return SIOC_EINVAL;
    for (size_t i = 0; i < nr; i++)
        v[i] = slice_from_cstr(to->rooms[i]);
    for (size_t i = 0; i < ne; i++)
        v[nr + i] = slice_from_cstr(to->except[i]);
    *o = (sio_bcast_t){v, nr, v + nr, ne, to ? to->flags & SIOC_VOLATILE : 0};
    return 0;
}

int sioc_fetch_sockets(sioc_nsp_t *nsp, const sioc_to_t *to, sioc_fetch_cb cb, void *arg)
{
    if (!nsp || !cb)
        return SIOC_EINVAL;
    if (cluster_of(nsp) && !(to && (to->flags & SIOC_LOCAL))) {
        slice_t v[64];
        sio_bcast_t o;
        if (target_slices(to, v, 64, &o) != 0)
            return SIOC_EINVAL;
        return clu_cluster_fetch_sockets(nsp->adapter, &o, cb, arg);
    }
    local_query_t *q = xcalloc(1, sizeof *q);
    q->fetch = true;
    q->fetch_cb = cb;
    q->arg = arg;
    buf_append_byte(&q->json, '[');
    sioc_sockets_each(nsp, to, fetch_visit, q);
    buf_append_byte(&q->json, ']');
    local_query_start(nsp, q);
    return 0;
}

int sioc_server_side_emit(sioc_nsp_t *nsp, const char *event, sioc_data_t data)
{
    if (!nsp || !event)
        return SIOC_EINVAL;
    if (!cluster_of(nsp))
        return 0;
    slice_t json, bins[SIO_OUT_MAX_BINS];
    if (sio__data_slices(data, &json, bins, SIO_OUT_MAX_BINS) < 0)
        return SIOC_EINVAL; /* binaries do not travel in serverSideEmit (JSON) */
    return clu_cluster_server_side_emit(nsp->adapter, slice_from_cstr(event), json);
}

void sioc_on_server_side(sioc_nsp_t *nsp, sioc_server_side_cb cb, void *arg)
{
    if (nsp && cluster_of(nsp))
        clu_cluster_on_server_side(nsp->adapter, cb, arg);
}

int sioc_server_side_ack(sioc_nsp_t *nsp, sioc_str_t ack_id, sioc_data_t data)
{
    if (!nsp || !ack_id.len)
        return SIOC_EINVAL;
    if (!cluster_of(nsp))
        return 0;
    slice_t json, bins[SIO_OUT_MAX_BINS];
    if (sio__data_slices(data, &json, bins, SIO_OUT_MAX_BINS) < 0)
        return SIOC_EINVAL;
    return clu_cluster_server_side_ack(nsp->adapter, slice_make(ack_id.ptr, ack_id.len), json);
}

void sioc_cluster_stats(const sioc_server_t *srv, sioc_cluster_stats_t *out)
{
    if (!srv->cluster) {
        *out = (sioc_cluster_stats_t){0};
        return;
    }
    clu_cluster_stats(srv->cluster, out);
}
