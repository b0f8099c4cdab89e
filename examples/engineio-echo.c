/*
 * engineio-echo: a bare Engine.IO v4 server at /engine.io/ that sends every message
 * back to its session unchanged (text as text, binary as binary).
 *
 * It sits directly on the library's Engine.IO layer (src/eio/eio_server.h) rather than
 * on include/sioc.h, whose API is Socket.IO's. Flags as build/echo-server:
 *   --host H (127.0.0.1; ::1 and localhost work)  --port N (3000; 0 = free port)
 *   --path P (/engine.io/)  --ping-interval MS  --ping-timeout MS  --max-payload BYTES
 *   --cors ORIGIN (repeatable or a comma list; * allowed)  --transports websocket,polling
 *   --deflate
 * Prints "listening on HOST:PORT" once listening; exits 0 on SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "eio/eio_server.h"
#include "net/net_loop.h"

typedef struct app {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    net_loop_t *nl;
    eio_server_t *srv;
    char cors[4096];
} app_t;

static void on_open(eio_session_t *s)
{
    (void)s;
}

static void on_message(eio_session_t *s, bool binary, slice_t data)
{
    eio_session_send(s, binary, data);
}

static void on_close(eio_session_t *s, eio_reason_t reason)
{
    (void)s;
    (void)reason;
}

static const eio_handler_ops_t echo_ops = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

static void on_signal(uv_signal_t *sig, int signum)
{
    app_t *app = sig->data;
    (void)signum;
    eio_server_close(app->srv);
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
}

static unsigned parse_transports(const char *v)
{
    unsigned t = 0;
    if (strstr(v, "polling"))
        t |= EIO_TRANSPORT_POLLING;
    if (strstr(v, "websocket"))
        t |= EIO_TRANSPORT_WEBSOCKET;
    return t;
}

static void add_cors(app_t *app, const char *v)
{
    size_t n = strlen(app->cors);
    snprintf(app->cors + n, sizeof app->cors - n, "%s%s", n ? "," : "", v);
}

static int parse_args(app_t *app, int argc, char **argv, eio_config_t *cfg, const char **host,
                      int *port)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--deflate")) {
            cfg->deflate = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "engineio-echo: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--host"))
            *host = v;
        else if (!strcmp(a, "--port"))
            *port = atoi(v);
        else if (!strcmp(a, "--path"))
            cfg->path = v;
        else if (!strcmp(a, "--ping-interval"))
            cfg->ping_interval_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ping-timeout"))
            cfg->ping_timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-payload"))
            cfg->max_payload = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--cors"))
            add_cors(app, v);
        else if (!strcmp(a, "--transports"))
            cfg->transports = parse_transports(v);
        else if (strcmp(a, "--connect-timeout") != 0) {
            fprintf(stderr, "engineio-echo: unknown flag %s\n", a);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static app_t app;
    eio_config_t cfg = {.path = "/engine.io/"};
    const char *host = "127.0.0.1";
    int port = 3000;
    if (parse_args(&app, argc, argv, &cfg, &host, &port) != 0)
        return 2;
    if (app.cors[0])
        cfg.cors_origins = app.cors;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&app.loop);
    app.nl = net_loop_new(&app.loop, NULL);
    app.srv = eio_server_new(app.nl, &cfg, &echo_ops, &app);
    uv_signal_init(&app.loop, &app.sigint);
    uv_signal_init(&app.loop, &app.sigterm);
    app.sigint.data = app.sigterm.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    int rc = app.srv ? eio_server_listen(app.srv, host, port) : UV_EINVAL;
    if (rc != 0) {
        fprintf(stderr, "engineio-echo: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
        return 1;
    }
    printf("listening on %s:%d\n", host, eio_server_port(app.srv));
    fflush(stdout);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    eio_server_free(app.srv);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    net_loop_free(app.nl);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    return uv_loop_close(&app.loop) == 0 ? 0 : 1;
}
