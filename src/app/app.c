/*
 * app: the context, the per-socket records' accessors, start-up and the graceful stop.
 * See app.h.
 *
 * Stop sequence (SIGTERM/SIGINT or app_stop), each step started by the previous one's
 * completion, with a guard timer that ends the process if a step hangs:
 *   1. sioc_server_stop: no new connections; every socket disconnects (the disconnect
 *      handler empties the pools and tells the Yjs module);
 *   2. app_ydoc_flush_all: pending debounced note saves are issued now; the pools'
 *      cleanup locks are released (app_pool_free);
 *   3. store_close: every issued request (the saves included) completes, then the
 *      connections close, then the Redis connections (app_redis_close);
 *   4. the app closes its own handles; uv_run returns; app_run returns 0.
 */
#include "app/app.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_private.h"
#include "app/app_rest.h"
#include "app/app_task_mirror.h"
#include "base/alloc.h"
#include "base/log.h"

#if __has_include("app/app_ydoc.h")
#include "app/app_ydoc.h"
#define APP_HAVE_YDOC 1
#else
#define APP_HAVE_YDOC 0
#endif

/** How long the stop may take before the guard gives up (the contract is 5 s). */
#define APP_STOP_DEADLINE_MS 4500
/** USAGE_POOL sweep period and entry lifetime (TIMEOUT_DURATION, §5.3), seconds. */
#define APP_USAGE_TIMEOUT_S 3

/* ---- accessors --------------------------------------------------------------------- */

sioc_server_t *app_server(app_t *app)
{
    return app->srv;
}

sioc_nsp_t *app_nsp(app_t *app)
{
    return app->nsp;
}

store_t *app_store(app_t *app)
{
    return app->store;
}

uv_loop_t *app_loop(app_t *app)
{
    return &app->loop;
}

const app_config_t *app_config(const app_t *app)
{
    return app->cfg;
}

app_redis_t *app_redis_of(app_t *app)
{
    return app->redis;
}

app_direct_t *app_direct_of(app_t *app)
{
    return app->direct;
}

const app_user_t *app_socket_user(const sioc_socket_t *s)
{
    app_sock_t *r = app__sock(s);
    return r && r->user ? &r->user->pub : NULL;
}

void **app_socket_ydoc_slot(sioc_socket_t *s)
{
    app_sock_t *r = app__sock(s);
    return r ? &r->ydoc : NULL;
}

app_t *app_of_socket(const sioc_socket_t *s)
{
    app_sock_t *r = app__sock(s);
    return r ? r->app : NULL;
}

typedef struct find_sid {
    const char *sid;
    sioc_socket_t *found;
} find_sid_t;

static void visit_sid(sioc_socket_t *s, void *arg)
{
    find_sid_t *f = arg;
    if (!f->found && strcmp(sioc_socket_id(s), f->sid) == 0)
        f->found = s;
}

sioc_socket_t *app_socket_by_sid(app_t *app, const char *sid)
{
    if (!sid || !*sid)
        return NULL;
    const char *rooms[1] = {sid};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1};
    find_sid_t f = {sid, NULL};
    sioc_sockets_each(app->nsp, &to, visit_sid, &f);
    return f.found && app__sock(f.found) ? f.found : NULL;
}

/* ---- stop -------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    app_t *app = h->data;
    app->handles_open--;
}

static void close_handles(app_t *app)
{
    app->stopping = 2;
    uv_handle_t *hs[] = {(uv_handle_t *)&app->tick, (uv_handle_t *)&app->guard,
                         (uv_handle_t *)&app->sigint, (uv_handle_t *)&app->sigterm};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_handle_closed);
}

static void on_store_closed(void *arg)
{
    app_t *app = arg;
    app->store = NULL;
    app_direct_free(app->direct); /* every socket is gone: no event can come */
    app->direct = NULL;
    app_redis_close(app->redis); /* after the locks' release had time to go out */
    app->redis = NULL;
    LOG(LOG_INFO, "sioc: stopped");
    close_handles(app);
}

static void on_ydoc_flushed(void *arg)
{
    app_t *app = arg;
#if APP_HAVE_YDOC
    app_ydoc_free(app->ydoc);
#endif
    app->ydoc = NULL;
    app_pool_free(app->pool); /* every socket is gone: release the cleanup locks */
    app->pool = NULL;
    app_task_mirror_free(app->task_mirror); /* after app_rest_stop: entries deleted */
    app->task_mirror = NULL;
    store_close(app->store, on_store_closed, app);
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    LOG(LOG_ERROR, "sioc: the stop did not finish within %d ms; exiting", APP_STOP_DEADLINE_MS);
    exit(1);
}

void app_stop(app_t *app)
{
    if (app->stopping)
        return;
    app->stopping = 1;
    uv_timer_stop(&app->tick);
    uv_timer_start(&app->guard, on_guard, APP_STOP_DEADLINE_MS, 0);
    app_rest_stop(app->rest); /* REST: generations end and write what they have */
    sioc_server_stop(app->srv);
#if APP_HAVE_YDOC
    if (app->ydoc) {
        app_ydoc_flush_all(app->ydoc, on_ydoc_flushed, app);
        return;
    }
#endif
    on_ydoc_flushed(app);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    app_t *app = sig->data;
    if (app->stopping) {
        LOG(LOG_WARN, "sioc: signal %d again during the stop; exiting now", signum);
        exit(1);
    }
    LOG(LOG_INFO, "sioc: signal %d, stopping", signum);
    app_stop(app);
}

/* ---- housekeeping ------------------------------------------------------------------ */

static void on_redis_up(app_t *app)
{
    app_pool_resync(app->pool);
    app_task_mirror_resync(app->task_mirror);
#if APP_HAVE_YDOC
    app_ydoc_resync(app->ydoc);
#endif
}

static void on_tick(uv_timer_t *t)
{
    app_t *app = t->data;
    if (++app->ticks % APP_USAGE_TIMEOUT_S == 0)
        app_usage_sweep(app->usage, app__now_s(), APP_USAGE_TIMEOUT_S);
    app__chan_emit_sweep(app->chan, app__now_ms());
}

/* ---- start-up ---------------------------------------------------------------------- */

/* CORS_ALLOW_ORIGIN is ';'-separated; the library takes ','. */
static void cors_list(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++)
        out[n++] = *p == ';' ? ',' : *p;
    out[n] = '\0';
}

static int open_store(app_t *app, char *err, size_t errlen)
{
    store_config_t sc = {.database_url = app->cfg->database_url, .data_dir = app->cfg->data_dir};
    char why[256] = "";
    if (store_open(&sc, &app->loop, &app->store, why, sizeof why) != 0) {
        snprintf(err, errlen, "database: %s", why);
        return -1;
    }
    return 0;
}

static int make_server(app_t *app, char *err, size_t errlen)
{
    const app_config_t *c = app->cfg;
    char cors[2048];
    cors_list(c->cors_allow_origin ? c->cors_allow_origin : "*", cors, sizeof cors);
    sioc_config_t sc = {
        .host = c->host,
        .port = c->port,
        .path = "/ws/socket.io/",
        .ping_interval_ms = c->ping_interval_s * 1000u,
        .ping_timeout_ms = c->ping_timeout_s * 1000u,
        .max_payload = c->max_payload,
        .cors_origins = *cors ? cors : NULL,
        .transports = c->enable_websocket ? SIOC_WEBSOCKET : SIOC_POLLING,
        .deflate = c->ws_deflate,
        /* Every socket is accepted, as with python-socketio's always_connect; the CONNECT
         * reply waits for the token check so that events the client sends once connected
         * find the session in place (see app_handlers.c). */
        .always_connect = false,
        .stop_on_signals = false,
    };
    if (c->websocket_manager && strcmp(c->websocket_manager, "redis") == 0) {
        /* the adapter: broadcasts across nodes (openwebui-protocol.md §9) */
        sc.redis_url = c->websocket_redis_url;
        sc.redis_sentinel_hosts = c->websocket_sentinel_hosts;
        sc.redis_sentinel_port = (int)c->websocket_sentinel_port;
        sc.redis_format = c->websocket_redis_format;
        sc.redis_channel = NULL; /* the format's default: "socketio" / "socket.io" */
        sc.redis_room_channels = c->websocket_redis_room_channels;
        sc.redis_max_message = c->max_payload;
    }
    app->srv = sioc_server_new(&app->loop, &sc);
    if (!app->srv) {
        snprintf(err, errlen, "invalid server configuration (host %s)", c->host);
        return -1;
    }
    app->nsp = sioc_of(app->srv, "/");
    return 0;
}

static void init_handles(app_t *app)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&app->tick, (uv_handle_t *)&app->guard,
                         (uv_handle_t *)&app->sigint, (uv_handle_t *)&app->sigterm};
    uv_timer_init(&app->loop, &app->tick);
    uv_timer_init(&app->loop, &app->guard);
    uv_signal_init(&app->loop, &app->sigint);
    uv_signal_init(&app->loop, &app->sigterm);
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        hs[i]->data = app;
    app->handles_open = 4;
    uv_signal_start(&app->sigint, on_signal, SIGINT);
    uv_signal_start(&app->sigterm, on_signal, SIGTERM);
    uv_timer_start(&app->tick, on_tick, 1000, 1000);
}

int app_new(const app_config_t *cfg, app_t **out, char *err, size_t errlen)
{
    app_t *app = xcalloc(1, sizeof *app);
    app->cfg = cfg;
    buf_init(&app->scratch);
    int rc = uv_loop_init(&app->loop);
    if (rc != 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        free(app);
        return -1;
    }
    if (open_store(app, err, errlen) != 0)
        goto fail;
    if (make_server(app, err, errlen) != 0)
        goto fail;
    if (app_redis_new(app, on_redis_up, &app->redis, err, errlen) != 0)
        goto fail;
    app->pool = app_pool_new(app, app->redis);
    app->usage = app_usage_new();
    app->chan = app__chan_emit_new(app);
    app__handlers_register(app);
    app->direct = app_direct_new(app);
    app->rest = app_rest_new(app); /* REST: routes, upstream client, tasks */
    app->task_mirror = app_task_mirror_new(app, app->redis, app_rest_tasks(app->rest));
    sioc_server_on_http(app->srv, app__http_on_request, app);
    sioc_server_on_engine_request(app->srv, app__http_guard_engine, app);
#if APP_HAVE_YDOC
    app->ydoc = app_ydoc_register(app);
    if (!app->ydoc) {
        snprintf(err, errlen, "the Yjs module failed to start");
        goto fail;
    }
#endif
    init_handles(app);
    *out = app;
    return 0;
fail:
    if (app->srv)
        sioc_server_free(app->srv);
    if (app->store)
        store_close(app->store, NULL, NULL);
    app_usage_free(app->usage);
    app__chan_emit_free(app->chan);
    app_task_mirror_free(app->task_mirror);
    app_pool_free(app->pool);
    app_direct_free(app->direct);
    app_redis_close(app->redis);
    app_rest_free(app->rest); /* REST */
    uv_run(&app->loop, UV_RUN_DEFAULT);
    uv_loop_close(&app->loop);
    free(app);
    return -1;
}

int app_listen(app_t *app, char *err, size_t errlen)
{
    int rc = sioc_server_listen(app->srv);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", app->cfg->host, app->cfg->port,
                 sioc_strerror(rc));
        return -1;
    }
    return sioc_server_port(app->srv);
}

int app_run(app_t *app)
{
    uv_run(&app->loop, UV_RUN_DEFAULT);
    return app->exit_code;
}

void app_free(app_t *app)
{
    if (!app)
        return;
    if (!app->stopping)
        app_stop(app);
    while (app->stopping < 2 || app->handles_open > 0)
        if (uv_run(&app->loop, UV_RUN_ONCE) == 0 && app->handles_open == 0)
            break;
    sioc_server_free(app->srv);
    uv_run(&app->loop, UV_RUN_DEFAULT);
    app_usage_free(app->usage);
    app__chan_emit_free(app->chan);
    app_rest_free(app->rest); /* REST */
    app_direct_free(app->direct);
    buf_dispose(&app->scratch);
    if (uv_loop_close(&app->loop) != 0)
        LOG(LOG_WARN, "sioc: handles left open at exit");
    free(app);
}
