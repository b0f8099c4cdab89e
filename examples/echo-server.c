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
 * Cluster hooks (meaningful with --redis; each acks when done):
 *   emit-all (...args)         -> msg(args) to every socket of "/" on every node
 *   emit-except (except, ...)  -> msg(args) to everyone but the `except` room(s)
 *   socket-broadcast (room|null, ...args)
 *                              -> msg(args) to the room (null: all) minus the sender
 *   sockets-join (target, room), sockets-leave (target, room)
 *                              -> the sockets of room `target` (null: all) join/leave
 *   sockets-disconnect (target, close?)
 *                              -> the sockets of room `target` are disconnected
 *   fetch-sockets (target)     -> acks (status, [{id, handshake, rooms, data}...])
 *   server-count               -> acks (status, number of servers)
 *   server-side-emit (event, ...args)
 *                              -> serverSideEmit to the other servers; a server-side
 *                                 event arriving here is emitted to this node's sockets
 *                                 as server-side(event, ...args) and acked "sioc-ack"
 *   broadcast-ack (target, event, ...args)
 *                              -> emit with acks (3 s) to room `target` (null: all) on
 *                                 every node; acks (status, [each answer's first arg])
 *   cluster-stats              -> acks ({published, received, filtered, dropped,
 *                                 too_big})
 * Binary arguments stay binary. Events of one socket are handled in arrival order.
 *
 * Flags: --host H (127.0.0.1; ::1, localhost) --port N (3000; 0 = free port) --path P
 * --ping-interval MS --ping-timeout MS --max-payload BYTES --cors ORIGIN (repeatable or
 * a comma list; * allowed) --transports websocket,polling --connect-timeout MS
 * --deflate --always-connect --redis URL --redis-format socketio|python-socketio
 * --redis-sentinels HOSTS --redis-sentinel-port N --redis-channel C
 * --redis-max-message BYTES --redis-room-channels. Prints "listening on HOST:PORT" when ready;
 * exits 0 on SIGINT/SIGTERM after closing everything.
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
    char room[ROOM_MAX], err[96];
    (void)ev;
    (void)arg;
    int rc = SIOC_EINVAL;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        rc = sioc_emit_room(sioc_socket_nsp(s), room, "msg", sioc_args_tail(a, 1));
    /* the ack tells the test whether the emit was refused (e.g. SIOC_E2BIG) */
    snprintf(err, sizeof err, "{\"error\":\"%s\"}", sioc_strerror(rc));
    sioc_socket_ack(s, ack, sioc_json(rc == 0 ? NULL : err));
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

/* ---- cluster hooks ---------------------------------------------------------------- */

/* Reads argument `i` as a room name; false for null (everybody) or a non-string. */
static bool room_arg(const sioc_args_t *a, size_t i, char *room)
{
    return sioc_args_string(a, i, room, ROOM_MAX) >= 0;
}

static void on_emit_all(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                        void *arg)
{
    (void)ev;
    (void)arg;
    sioc_emit(sioc_socket_nsp(s), NULL, "msg", sioc_args_data(a));
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_emit_except(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                           void *arg)
{
    char names[16][ROOM_MAX];
    const char *except[16];
    (void)ev;
    (void)arg;
    /* except_rooms reads argument 1: shift by passing the tail view */
    size_t n = 0;
    if (sioc_args_string(a, 0, names[0], ROOM_MAX) >= 0)
        n = 1;
    for (size_t i = 0; i < n; i++)
        except[i] = names[i];
    sioc_to_t to = {.except = except, .n_except = n};
    sioc_emit(sioc_socket_nsp(s), &to, "msg", sioc_args_tail(a, 1));
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_socket_broadcast(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                                void *arg)
{
    char room[ROOM_MAX];
    (void)ev;
    (void)arg;
    const char *rooms[1] = {room};
    sioc_to_t to = {.rooms = rooms, .n_rooms = room_arg(a, 0, room) ? 1 : 0};
    sioc_socket_broadcast(s, &to, "msg", sioc_args_tail(a, 1));
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_sockets_op(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                          void *arg)
{
    char target[ROOM_MAX], room[ROOM_MAX];
    (void)arg;
    const char *rooms[1] = {target};
    sioc_to_t to = {.rooms = rooms, .n_rooms = room_arg(a, 0, target) ? 1 : 0};
    sioc_nsp_t *nsp = sioc_socket_nsp(s);
    if (ev.len == strlen("sockets-disconnect")) {
        sioc_str_t close = sioc_args_at(a, 1);
        sioc_socket_ack(s, ack, sioc_json(NULL)); /* before: we may be one of them */
        sioc_sockets_disconnect(nsp, &to, close.len == 4 && !memcmp(close.ptr, "true", 4));
        return;
    }
    if (room_arg(a, 1, room)) {
        if (ev.len == strlen("sockets-join"))
            sioc_sockets_join(nsp, &to, room);
        else
            sioc_sockets_leave(nsp, &to, room);
    }
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

/* An ack answered later: the socket is referenced until then. */
typedef struct later {
    sioc_socket_t *s;
    int64_t ack;
    char *buf; /* broadcast-ack: the answers collected so far, as a JSON list body */
    size_t len, cap;
} later_t;

static later_t *later_new(sioc_socket_t *s, int64_t ack)
{
    later_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->s = s;
    l->ack = ack;
    sioc_socket_ref(s);
    return l;
}

static void later_answer(later_t *l, const char *json)
{
    if (sioc_socket_is_connected(l->s))
        sioc_socket_ack(l->s, l->ack, sioc_json(json));
    sioc_socket_unref(l->s);
    free(l->buf);
    free(l);
}

static void on_fetched(int status, sioc_str_t sockets, size_t n, void *arg)
{
    (void)n;
    char *json = malloc(sockets.len + 32);
    if (json) {
        snprintf(json, sockets.len + 32, "%d,%.*s", status, (int)sockets.len, sockets.ptr);
        later_answer(arg, json);
    } else {
        later_answer(arg, "-1");
    }
    free(json);
}

static void on_fetch_sockets(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                             void *arg)
{
    char target[ROOM_MAX];
    (void)ev;
    (void)arg;
    const char *rooms[1] = {target};
    sioc_to_t to = {.rooms = rooms, .n_rooms = room_arg(a, 0, target) ? 1 : 0};
    later_t *l = later_new(s, ack);
    if (l && sioc_fetch_sockets(sioc_socket_nsp(s), &to, on_fetched, l) != 0)
        later_answer(l, "-1");
}

static void on_counted(int status, size_t servers, void *arg)
{
    char json[64];
    snprintf(json, sizeof json, "%d,%zu", status, servers);
    later_answer(arg, json);
}

static void on_server_count(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                            void *arg)
{
    (void)ev;
    (void)a;
    (void)arg;
    later_t *l = later_new(s, ack);
    if (l && sioc_server_count(sioc_socket_nsp(s), on_counted, l) != 0)
        later_answer(l, "-1");
}

static void on_server_side_emit(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                                void *arg)
{
    char event[ROOM_MAX];
    char json[32];
    (void)ev;
    (void)arg;
    int rc = SIOC_EINVAL;
    if (sioc_args_string(a, 0, event, sizeof event) >= 0)
        rc = sioc_server_side_emit(sioc_socket_nsp(s), event, sioc_args_tail(a, 1));
    snprintf(json, sizeof json, "%d", rc);
    sioc_socket_ack(s, ack, sioc_json(json));
}

/* A serverSideEmit from another node: shown to this node's sockets, acked if asked. */
static void on_server_side(sioc_nsp_t *nsp, sioc_str_t name, const sioc_args_t *a,
                           sioc_str_t ack_id, void *arg)
{
    (void)arg;
    size_t cap = name.len * 6 + sioc_args_data(a).len + 8;
    char *json = malloc(cap);
    if (json) {
        size_t n = 0;
        json[n++] = '"';
        for (size_t i = 0; i < name.len; i++) { /* names here are plain ASCII */
            if (name.ptr[i] == '"' || name.ptr[i] == '\\')
                json[n++] = '\\';
            json[n++] = name.ptr[i];
        }
        json[n++] = '"';
        sioc_data_t d = sioc_args_data(a);
        if (d.len) {
            json[n++] = ',';
            memcpy(json + n, d.json, d.len);
            n += d.len;
        }
        sioc_data_t out = {json, n, d.bins, d.n_bins};
        sioc_to_t local = {.flags = SIOC_LOCAL};
        sioc_emit(nsp, &local, "server-side", out);
        free(json);
    }
    if (ack_id.len)
        sioc_server_side_ack(nsp, ack_id, sioc_json("\"sioc-ack\""));
}

static void on_bcast_answer(sioc_socket_t *s, int status, const sioc_args_t *a, void *arg)
{
    later_t *l = arg;
    if (a) { /* one answer (s NULL when it came from another node) */
        (void)s;
        sioc_str_t first = sioc_args_at(a, 0);
        if (!first.len)
            first = (sioc_str_t){"null", 4};
        if (l->len + first.len + 2 > l->cap) {
            size_t cap = (l->cap + first.len + 2) * 2;
            char *b = realloc(l->buf, cap);
            if (!b)
                return;
            l->buf = b;
            l->cap = cap;
        }
        if (l->len)
            l->buf[l->len++] = ',';
        memcpy(l->buf + l->len, first.ptr, first.len);
        l->len += first.len;
        return;
    }
    char *json = malloc(l->len + 32);
    if (!json) {
        later_answer(l, "-1");
        return;
    }
    snprintf(json, l->len + 32, "%d,[%.*s]", status, (int)l->len, l->buf ? l->buf : "");
    later_answer(l, json);
    free(json);
}

static void on_broadcast_ack(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                             void *arg)
{
    char target[ROOM_MAX], event[ROOM_MAX];
    (void)ev;
    (void)arg;
    const char *rooms[1] = {target};
    sioc_to_t to = {.rooms = rooms, .n_rooms = room_arg(a, 0, target) ? 1 : 0};
    if (sioc_args_string(a, 1, event, sizeof event) < 0)
        return;
    later_t *l = later_new(s, ack);
    if (l && sioc_emit_ack(sioc_socket_nsp(s), &to, event, sioc_args_tail(a, 2), 3000,
                           on_bcast_answer, l) != 0)
        later_answer(l, "-1,[]");
}

static void on_cluster_stats(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack,
                             void *arg)
{
    char json[256];
    sioc_cluster_stats_t st;
    (void)ev;
    (void)a;
    (void)arg;
    sioc_cluster_stats(sioc_socket_server(s), &st);
    snprintf(json, sizeof json,
             "{\"published\":%llu,\"received\":%llu,\"filtered\":%llu,\"dropped\":%llu,"
             "\"too_big\":%llu}",
             (unsigned long long)st.published, (unsigned long long)st.received,
             (unsigned long long)st.filtered, (unsigned long long)st.dropped,
             (unsigned long long)st.too_big);
    sioc_socket_ack(s, ack, sioc_json(json));
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
        if (!strcmp(a, "--redis-room-channels")) {
            c->redis_room_channels = true;
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
        else if (!strcmp(a, "--redis"))
            c->redis_url = v;
        else if (!strcmp(a, "--redis-format"))
            c->redis_format = v;
        else if (!strcmp(a, "--redis-sentinels"))
            c->redis_sentinel_hosts = v;
        else if (!strcmp(a, "--redis-sentinel-port"))
            c->redis_sentinel_port = atoi(v);
        else if (!strcmp(a, "--redis-channel"))
            c->redis_channel = v;
        else if (!strcmp(a, "--redis-max-message"))
            c->redis_max_message = strtoull(v, NULL, 10);
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
    sioc_on(root, "emit-all", on_emit_all, NULL);
    sioc_on(root, "emit-except", on_emit_except, NULL);
    sioc_on(root, "socket-broadcast", on_socket_broadcast, NULL);
    sioc_on(root, "sockets-join", on_sockets_op, NULL);
    sioc_on(root, "sockets-leave", on_sockets_op, NULL);
    sioc_on(root, "sockets-disconnect", on_sockets_op, NULL);
    sioc_on(root, "fetch-sockets", on_fetch_sockets, NULL);
    sioc_on(root, "server-count", on_server_count, NULL);
    sioc_on(root, "server-side-emit", on_server_side_emit, NULL);
    sioc_on(root, "broadcast-ack", on_broadcast_ack, NULL);
    sioc_on(root, "cluster-stats", on_cluster_stats, NULL);
    sioc_on_server_side(root, on_server_side, NULL);
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
