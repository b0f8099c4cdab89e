/*
 * sioc: the public server object of include/sioc.h — the top of the library.
 *
 * It composes the layers: a libuv loop (its own or the caller's), the net context, the
 * Socket.IO server (which owns the Engine.IO and HTTP servers) and the adapter (the
 * in-process one; the Redis one joins here later). It lives in src/cluster because it
 * is the one place that knows both sio and the adapters, and cluster is the highest
 * layer folder of the library; sio itself never includes a cluster header.
 *
 * The other public functions (namespaces, sockets, emits, arguments) are implemented
 * next to the structures they work on, in src/sio.
 *
 * Shutdown: sioc_server_stop closes every session and the listeners; the loop then runs
 * out of work by itself (WebSockets finish their closing handshake, bounded by the net
 * layer's linger) and sioc_server_run returns. sioc_server_free releases the rest.
 */
#include "sioc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/clu_local.h"
#include "http/http_server.h"
#include "net/net_loop.h"
#include "sio/sio_server.h"

struct sioc_server {
    uv_loop_t own_loop; /* used when the caller gave no loop */
    uv_loop_t *loop;
    bool owns_loop;
    net_loop_t *nl;
    sio_server_t *sio;
    char *host; /* owned copy */
    int port;   /* asked for */
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
    sio_config_t s = {
        .connect_timeout_ms = or_default(c.connect_timeout_ms, 45000),
        .always_connect = c.always_connect,
        .adapter = &clu_local_ops,
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
    sio_server_close(srv->sio);
}

void sioc_server_free(sioc_server_t *srv)
{
    if (!srv)
        return;
    sioc_server_stop(srv);
    sio_server_free(srv->sio);
    srv->sio = NULL;
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
