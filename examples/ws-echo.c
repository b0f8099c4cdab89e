/*
 * ws-echo: a raw WebSocket echo server on the sioc transport (net + http + ws).
 *
 * Every text or binary message is sent back unchanged on the same connection
 * (messages up to --max-payload bytes, default 16 MiB). Upgrade requests are accepted
 * on --path (any path when not given); other HTTP requests get 426. Prints
 * "listening on HOST:PORT" once listening; exits 0 after SIGTERM/SIGINT, closing the
 * listener and every connection (close 1001) and letting the loop run dry.
 *
 *   build/ws-echo [--host 127.0.0.1] [--port 3000] [--path /] [--max-payload N]
 *                 [--deflate]
 * Accepted and ignored (shared flags of the example programs): --ping-interval,
 * --ping-timeout, --cors, --transports, --connect-timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "net/net_timer.h"
#include "ws/ws_conn.h"

enum { GRACE_MS = 1500, DEFAULT_MAX = 16 * 1024 * 1024 };

typedef struct app app_t;

typedef struct client {
    ws_conn_t *ws;
    app_t *app;
    struct client *prev, *next;
} client_t;

struct app {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    ws_config_t wscfg;
    const char *path;       /* NULL: any path */
    client_t *clients;      /* open WebSocket connections */
    uv_signal_t sig[2];
    net_timer_t grace;      /* shutdown deadline */
    bool stopping;
};

static void on_message(ws_conn_t *ws, bool is_binary, slice_t msg)
{
    ws_send(ws, is_binary, msg);
}

static void on_grace(net_timer_t *t)
{
    app_t *app = NET_CONTAINER_OF(t, app_t, grace);
    if (!app->nl)
        return;
    net_loop_free(app->nl); /* force-closes whatever is left */
    app->nl = NULL;
}

static void on_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    (void)code;
    (void)reason;
    client_t *c = ws_get_user(ws);
    app_t *app = c->app;
    if (c->prev)
        c->prev->next = c->next;
    else
        app->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (app->stopping && !app->clients && app->nl)
        net_timer_start(app->nl, &app->grace, 0, on_grace);
}

static const ws_handler_ops_t echo_ops = {
    .on_message = on_message,
    .on_close = on_close,
};

static void on_request(http_req_t *req, void *user)
{
    app_t *app = user;
    slice_t v;
    bool wants_ws = http_req_header(req, "upgrade", &v) ||
                    http_req_header(req, "sec-websocket-key", &v);
    if (!wants_ws) {
        http_resp_send(req, 426, "text/plain", SLICE_LIT("Upgrade: websocket\r\n"),
                       SLICE_LIT("WebSocket endpoint\n"));
        return;
    }
    if (app->path && !slice_eq_cstr(http_req_path(req), app->path)) {
        ws_reject(req, 400, slice_make(NULL, 0), SLICE_LIT("wrong path"));
        return;
    }
    client_t *c = xcalloc(1, sizeof *c);
    c->app = app;
    c->ws = ws_accept(req, &app->wscfg, slice_make(NULL, 0), &echo_ops, c);
    if (!c->ws) {
        free(c);
        return;
    }
    c->next = app->clients;
    c->prev = NULL;
    if (app->clients)
        app->clients->prev = c;
    app->clients = c;
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    app_t *app = s->data;
    if (app->stopping)
        return;
    app->stopping = true;
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&app->sig[i], on_signal_closed);
    http_server_free(app->srv);
    app->srv = NULL;
    for (client_t *c = app->clients; c; c = c->next)
        ws_close(c->ws, WS_CLOSE_GOING_AWAY, SLICE_LIT("server shutting down"));
    net_timer_start(app->nl, &app->grace, app->clients ? GRACE_MS : 0, on_grace);
}

static void usage(void)
{
    fprintf(stderr, "usage: ws-echo [--host H] [--port P] [--path /] [--max-payload N] "
                    "[--deflate]\n");
}

static int parse_args(app_t *app, int argc, char **argv, const char **host, int *port)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--deflate") == 0) {
            app->wscfg.deflate = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || !val) {
            usage();
            return -1;
        }
        i++;
        if (strcmp(a, "--host") == 0)
            *host = val;
        else if (strcmp(a, "--port") == 0)
            *port = atoi(val);
        else if (strcmp(a, "--path") == 0)
            app->path = val;
        else if (strcmp(a, "--max-payload") == 0)
            app->wscfg.max_message = strtoull(val, NULL, 10);
        /* --ping-interval, --ping-timeout, --cors, --transports, ...: not meaningful */
    }
    return 0;
}

int main(int argc, char **argv)
{
    static app_t app; /* lives for the whole process; not a shared mutable global */
    const char *host = "127.0.0.1";
    int port = 3000;
    app.wscfg.max_message = DEFAULT_MAX;
    if (parse_args(&app, argc, argv, &host, &port) < 0)
        return 2;
    if (getenv("SIOC_LOG_LEVEL") && log_level_parse(getenv("SIOC_LOG_LEVEL")) >= 0)
        log_set_level((enum log_level)log_level_parse(getenv("SIOC_LOG_LEVEL")));
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&app.loop);
    net_loop_config_t ncfg = {.max_out_bytes = 2 * app.wscfg.max_message + (1 << 20)};
    app.nl = net_loop_new(&app.loop, &ncfg);
    net_timer_init(&app.grace);

    http_server_config_t hcfg;
    http_server_config_init(&hcfg);
    app.srv = http_server_new(app.nl, &hcfg, on_request, &app);
    int r = http_server_listen(app.srv, host, port);
    if (r < 0) {
        fprintf(stderr, "ws-echo: listen %s:%d: %s\n", host, port, uv_strerror(r));
        return 1;
    }
    printf("listening on %s:%d\n", host, http_server_port(app.srv));
    fflush(stdout);

    for (int i = 0; i < 2; i++) {
        uv_signal_init(&app.loop, &app.sig[i]);
        app.sig[i].data = &app;
        uv_signal_start(&app.sig[i], on_signal, i ? SIGINT : SIGTERM);
    }
    uv_run(&app.loop, UV_RUN_DEFAULT);
    if (app.nl) { /* the loop ran dry before the grace timer: tear down now */
        net_loop_free(app.nl);
        app.nl = NULL;
        uv_run(&app.loop, UV_RUN_DEFAULT);
    }
    r = uv_loop_close(&app.loop);
    if (r != 0) {
        fprintf(stderr, "ws-echo: uv_loop_close: %s\n", uv_strerror(r));
        return 1;
    }
    return 0;
}
