/*
 * app_rest_stats: the server's live counters over HTTP (app layer): `GET /api/sioc/stats`
 * (JSON, for the web client's dashboard) and `GET /metrics` (Prometheus text format 0.0.4,
 * for scrapers).
 *
 * Both read sioc_server_stats (connections by transport, rooms, events and bytes in and
 * out, slow-consumer drops), the database queue (requests issued and not yet answered)
 * and the state of the websocket Redis. Counters are totals since start: the dashboard
 * and Prometheus' rate() compute rates from two readings, so the server keeps no history.
 *
 * Access: any verified user may read the dashboard's JSON (it shows counts, never who);
 * /metrics is for admins only (a scraper signs in with an admin token), since it is
 * meant for operators.
 *
 * Ownership: nothing kept between calls. Threading: loop thread.
 */
#include <inttypes.h>
#include <stdio.h>

#include "app/app_rest_private.h"
#include "base/buf.h"
#include "sioc_redis.h"
#include "store/store.h"

/* The snapshot both formats print. */
typedef struct snapshot {
    sioc_stats_t s;
    unsigned db_queue;
    const char *redis; /* "off", "up", "down" */
    uint64_t uptime_s;
} snapshot_t;

static void take(app_rest_call_t *c, snapshot_t *out)
{
    app_t *app = c->app;
    sioc_server_stats(app->srv, &out->s);
    out->db_queue = app->store ? store_inflight(app->store) : 0;
    sioc_redis_t *ws = app->redis ? app_redis_ws(app->redis) : NULL;
    out->redis = !ws ? "off" : sioc_redis_is_ready(ws) ? "up" : "down";
    uint64_t now = app__now_ms();
    out->uptime_s = now > c->rest->started_ms ? (now - c->rest->started_ms) / 1000 : 0;
}

void app_rest__stats(app_rest_call_t *c)
{
    snapshot_t n;
    take(c, &n);
    buf_t b = BUF_INIT;
    buf_appendf(&b,
                "{\"connections\":{\"websocket\":%" PRIu64 ",\"polling\":%" PRIu64 "},"
                "\"sockets\":%" PRIu64 ",\"rooms\":%" PRIu64 ",\"events_in\":%" PRIu64
                ",\"events_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                ",\"connections_accepted\":%" PRIu64 ",\"slow_consumer_disconnects\":%" PRIu64
                ",\"adapter\":\"%s\",\"redis\":\"%s\",\"db_queue\":%u,\"uptime_s\":%" PRIu64 "}",
                n.s.clients_websocket, n.s.clients_polling, n.s.sockets, n.s.rooms,
                n.s.events_in, n.s.events_out, n.s.bytes_in, n.s.bytes_out, n.s.conns_accepted,
                n.s.slow_consumer_closes, n.s.adapter, n.redis, n.db_queue, n.uptime_s);
    app_rest__reply_buf(c, 200, &b);
}

/* One metric: its HELP and TYPE lines, then the sample(s) the caller appends. */
static void metric(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void app_rest__metrics(app_rest_call_t *c)
{
    if (!c->user.is_admin) {
        app_rest__detail(c, 403, APP_REST_E_ACCESS);
        return;
    }
    snapshot_t n;
    take(c, &n);
    buf_t b = BUF_INIT;
    metric(&b, "sioc_connections", "gauge", "Engine.IO sessions by transport.");
    buf_appendf(&b, "sioc_connections{transport=\"websocket\"} %" PRIu64 "\n",
                n.s.clients_websocket);
    buf_appendf(&b, "sioc_connections{transport=\"polling\"} %" PRIu64 "\n", n.s.clients_polling);
    metric(&b, "sioc_sockets", "gauge", "Connected Socket.IO sockets, all namespaces.");
    buf_appendf(&b, "sioc_sockets %" PRIu64 "\n", n.s.sockets);
    metric(&b, "sioc_rooms", "gauge", "Rooms, not counting each socket's own room.");
    buf_appendf(&b, "sioc_rooms %" PRIu64 "\n", n.s.rooms);
    metric(&b, "sioc_events_total", "counter", "Socket.IO events by direction.");
    buf_appendf(&b, "sioc_events_total{direction=\"in\"} %" PRIu64 "\n", n.s.events_in);
    buf_appendf(&b, "sioc_events_total{direction=\"out\"} %" PRIu64 "\n", n.s.events_out);
    metric(&b, "sioc_bytes_total", "counter", "Bytes read from and written to clients.");
    buf_appendf(&b, "sioc_bytes_total{direction=\"in\"} %" PRIu64 "\n", n.s.bytes_in);
    buf_appendf(&b, "sioc_bytes_total{direction=\"out\"} %" PRIu64 "\n", n.s.bytes_out);
    metric(&b, "sioc_connections_accepted_total", "counter", "TCP connections accepted.");
    buf_appendf(&b, "sioc_connections_accepted_total %" PRIu64 "\n", n.s.conns_accepted);
    metric(&b, "sioc_slow_consumer_disconnects_total", "counter",
           "Clients dropped because their output queue passed the bound.");
    buf_appendf(&b, "sioc_slow_consumer_disconnects_total %" PRIu64 "\n",
                n.s.slow_consumer_closes);
    metric(&b, "sioc_redis_up", "gauge", "1 when the websocket Redis is connected (absent: off).");
    if (n.redis[1] != 'f')
        buf_appendf(&b, "sioc_redis_up %d\n", n.redis[0] == 'u');
    metric(&b, "sioc_db_queue", "gauge", "Database requests issued and not yet answered.");
    buf_appendf(&b, "sioc_db_queue %u\n", n.db_queue);
    metric(&b, "sioc_uptime_seconds", "gauge", "Seconds since the server started.");
    buf_appendf(&b, "sioc_uptime_seconds %" PRIu64 "\n", n.uptime_s);
    app_rest__reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
