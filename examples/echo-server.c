/*
 * echo-server: the Socket.IO test server of the project, on the public API (sioc.h).
 *
 * Namespaces "/" and "/custom" (any other is refused with "Invalid namespace"). Each
 * connection, in both, gets `auth` with its CONNECT auth object ({} when none). On "/":
 *   message (...)              -> emits message-back with the same arguments
 *   message-with-ack, echo     -> acks with the same arguments
 *   join (room), leave (room)  -> joins / leaves the room
 *   broadcast (room, payload)  -> emits msg(payload) to every member, sender included
 *   broadcast-except (room, except, payload)
 *                              -> msg(payload) to the room minus the `except` room(s)
 *                                 (a name or an array of names; a socket id is a room)
 *   server-disconnect (close?) -> disconnects this socket (close: the whole connection)
 *   emit-with-ack (event, ...args)
 *                              -> emits event(args) to this socket with an ack
 *                                 (5 s); the answer comes back as ack-result(...), a
 *                                 timeout as ack-timeout(event)
 * Binary arguments stay binary. Events of one socket are handled in arrival order.
 *
 * Flags: --host H (127.0.0.1; ::1, localhost) --port N (3000; 0 = free port) --path P
 * --ping-interval MS --ping-timeout MS --max-payload BYTES --cors ORIGIN (repeatable or
 * a comma list; * allowed) --transports websocket,polling --connect-timeout MS
 * --deflate --always-connect. Prints "listening on HOST:PORT" when ready; exits 0 on
 * SIGINT/SIGTERM after closing everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h" /* only to read the array form of broadcast-except's rooms */
#include "sioc.h"

#define ROOM_MAX 512

static void on_connection(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status;
    (void)arg;
    sioc_data_t d = {auth.ptr, auth.len, NULL, 0};
    sioc_socket_emit(s, "auth", d);
}

static void on_message(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                       void *arg)
{
    (void)ev;
    (void)ack;
    (void)arg;
    sioc_socket_emit(s, "message-back", sioc_args_data(a));
}

static void on_echo(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    (void)ev;
    (void)arg;
    sioc_socket_ack(s, ack, sioc_args_data(a));
}

static void on_join(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[ROOM_MAX];
    (void)ev;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_socket_join(s, room);
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_leave(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[ROOM_MAX];
    (void)ev;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_socket_leave(s, room);
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_broadcast(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                         void *arg)
{
    char room[ROOM_MAX];
    (void)ev;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_emit_room(sioc_socket_nsp(s), room, "msg", sioc_args_tail(a, 1));
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

/* Reads the except argument: one room name, or an array of names (up to `cap`). */
static size_t except_rooms(const sioc_args_t *a, char (*names)[ROOM_MAX], size_t cap)
{
    if (sioc_args_string(a, 1, names[0], ROOM_MAX) >= 0)
        return 1;
    sioc_str_t raw = sioc_args_at(a, 1);
    json_iter_t it;
    json_value_t v;
    size_t n = 0, len;
    if (json_array_begin(&it, slice_make(raw.ptr, raw.len), NULL) != 0)
        return 0;
    while (n < cap && json_array_next(&it, &v, NULL) == 1) {
        if (v.type != JSON_STRING ||
            json_string_unescape(v.raw, (uint8_t *)names[n], ROOM_MAX - 1, &len) != 0)
            continue;
        names[n++][len] = '\0';
    }
    return n;
}

static void on_broadcast_except(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                                void *arg)
{
    char room[ROOM_MAX];
    char names[16][ROOM_MAX];
    const char *except[16];
    (void)ev;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) < 0)
        return;
    size_t n = except_rooms(a, names, 16);
    for (size_t i = 0; i < n; i++)
        except[i] = names[i];
    const char *rooms[1] = {room};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1, .except = except, .n_except = n};
    sioc_emit(sioc_socket_nsp(s), &to, "msg", sioc_args_tail(a, 2));
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_server_disconnect(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                                 void *arg)
{
    (void)ev;
    (void)ack;
    (void)arg;
    sioc_str_t close = sioc_args_at(a, 0);
    sioc_socket_disconnect(s, close.len == 4 && memcmp(close.ptr, "true", 4) == 0);
}

typedef struct ack_ctx {
    char event[ROOM_MAX];      /* the event name, decoded */
    char event_json[ROOM_MAX]; /* the same as the client sent it (a JSON string) */
} ack_ctx_t;

static void on_client_ack(sioc_socket_t *s, int status, const sioc_args_t *a, void *arg)
{
    ack_ctx_t *ctx = arg;
    if (status == 0)
        sioc_socket_emit(s, "ack-result", sioc_args_data(a));
    else if (status == SIOC_ETIMEDOUT)
        sioc_socket_emit(s, "ack-timeout", sioc_json(ctx->event_json));
    free(ctx);
}

static void on_emit_with_ack(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                             void *arg)
{
    (void)ev;
    (void)ack;
    (void)arg;
    sioc_str_t raw = sioc_args_at(a, 0);
    ack_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx || raw.len >= sizeof ctx->event_json ||
        sioc_args_string(a, 0, ctx->event, sizeof ctx->event) < 0) {
        free(ctx);
        return;
    }
    memcpy(ctx->event_json, raw.ptr, raw.len);
    if (sioc_socket_emit_ack(s, ctx->event, sioc_args_tail(a, 1), 5000, on_client_ack, ctx) != 0)
        free(ctx);
}

typedef struct opts {
    sioc_config_t cfg;
    char cors[4096];
} opts_t;

static unsigned parse_transports(const char *v)
{
    unsigned t = 0;
    if (strstr(v, "polling"))
        t |= SIOC_POLLING;
    if (strstr(v, "websocket"))
        t |= SIOC_WEBSOCKET;
    return t;
}

static int parse_args(opts_t *o, int argc, char **argv)
{
    sioc_config_t *c = &o->cfg;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--deflate") || !strcmp(a, "--always-connect")) {
            c->deflate |= a[2] == 'd';
            c->always_connect |= a[2] == 'a';
            continue;
        }
        if (!v) {
            fprintf(stderr, "echo-server: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--host"))
            c->host = v;
        else if (!strcmp(a, "--port"))
            c->port = atoi(v);
        else if (!strcmp(a, "--path"))
            c->path = v;
        else if (!strcmp(a, "--ping-interval"))
            c->ping_interval_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ping-timeout"))
            c->ping_timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-payload"))
            c->max_payload = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--connect-timeout"))
            c->connect_timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--transports"))
            c->transports = parse_transports(v);
        else if (!strcmp(a, "--cors")) {
            size_t n = strlen(o->cors);
            snprintf(o->cors + n, sizeof o->cors - n, "%s%s", n ? "," : "", v);
        } else {
            fprintf(stderr, "echo-server: unknown flag %s\n", a);
            return -1;
        }
    }
    if (o->cors[0])
        c->cors_origins = o->cors;
    return 0;
}

int main(int argc, char **argv)
{
    static opts_t o = {.cfg = {.host = "127.0.0.1", .port = 3000, .stop_on_signals = true}};
    if (parse_args(&o, argc, argv) != 0)
        return 2;
    sioc_server_t *srv = sioc_server_new(NULL, &o.cfg);
    if (!srv) {
        fprintf(stderr, "echo-server: invalid configuration\n");
        return 2;
    }
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_on_connection(root, on_connection, NULL);
    sioc_on_connection(sioc_of(srv, "/custom"), on_connection, NULL);
    sioc_on(root, "message", on_message, NULL);
    sioc_on(root, "message-with-ack", on_echo, NULL);
    sioc_on(root, "echo", on_echo, NULL);
    sioc_on(root, "join", on_join, NULL);
    sioc_on(root, "leave", on_leave, NULL);
    sioc_on(root, "broadcast", on_broadcast, NULL);
    sioc_on(root, "broadcast-except", on_broadcast_except, NULL);
    sioc_on(root, "server-disconnect", on_server_disconnect, NULL);
    sioc_on(root, "emit-with-ack", on_emit_with_ack, NULL);
    int rc = sioc_server_listen(srv);
    if (rc != 0) {
        fprintf(stderr, "echo-server: cannot listen on %s:%d: %s\n", o.cfg.host, o.cfg.port,
                sioc_strerror(rc));
        sioc_server_free(srv);
        return 1;
    }
    printf("listening on %s:%d\n", o.cfg.host, sioc_server_port(srv));
    fflush(stdout);
    sioc_server_run(srv);
    sioc_server_free(srv);
    return 0;
}
