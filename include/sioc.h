/*
 * sioc: a Socket.IO v5 / Engine.IO v4 server library (the public API).
 *
 * This is the only header a program needs (the Open WebUI layer in src/app uses nothing
 * else). A server owns one libuv loop (its own, or one the caller passes), listens on one
 * HTTP port, serves Engine.IO at a path prefix (default "/socket.io/") with both the
 * HTTP long-polling and the WebSocket transports, and hands every other HTTP request to
 * an optional hook.
 *
 * A whole server:
 *
 *     static void on_echo(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a,
 *                         int64_t ack, void *arg)
 *     {
 *         sioc_socket_ack(s, ack, sioc_args_data(a));   // no-op when no ack was asked
 *     }
 *     int main(void)
 *     {
 *         sioc_config_t cfg = {.port = 3000, .stop_on_signals = true};
 *         sioc_server_t *srv = sioc_server_new(NULL, &cfg);
 *         sioc_on(sioc_of(srv, "/"), "echo", on_echo, NULL);
 *         if (sioc_server_listen(srv) != 0)
 *             return 1;
 *         sioc_server_run(srv);          // until SIGINT/SIGTERM or sioc_server_stop
 *         sioc_server_free(srv);
 *         return 0;
 *     }
 *
 * Data: event arguments are never parsed by the library. A handler receives them as raw
 * JSON text (sioc_args_t) and parses what it needs. Outgoing arguments are given the same
 * way, as a comma-separated list of JSON values (the inside of the argument array, so a
 * single value is just its JSON text), plus binary attachments that the JSON references
 * with Socket.IO placeholders {"_placeholder":true,"num":N}.
 *
 * Ownership: the server owns namespaces and sockets. A sioc_socket_t stays valid until
 * its disconnect handler has returned; to keep one longer (async work, deferred acks),
 * take a reference with sioc_socket_ref and drop it with sioc_socket_unref, and check
 * sioc_socket_is_connected before use. Every pointer the library passes to a callback
 * (args, strings, requests) is borrowed for the duration of that callback unless its
 * comment says otherwise. Every pointer passed into the library is borrowed for the call
 * (the library copies what it keeps).
 *
 * Threading: one server, one loop, one thread. No function may be called from another
 * thread than the one running the loop. Callbacks may call any function, including ones
 * that disconnect the socket they were called for, or stop the server.
 *
 * Errors: functions returning int give 0 on success and a negative code on failure
 * (libuv UV_E* codes for I/O, SIOC_E* below for the rest).
 *
 * Specs: Engine.IO protocol v4, Socket.IO protocol v5 (see spec/socketio-protocol.md).
 */
#ifndef SIOC_H
#define SIOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sioc_server sioc_server_t; /* one listening server */
typedef struct sioc_nsp sioc_nsp_t;       /* a namespace ("/", "/admin") */
typedef struct sioc_socket sioc_socket_t; /* one client in one namespace */
typedef struct sioc_args sioc_args_t;     /* received event/ack arguments (a view) */
typedef struct http_req sioc_http_req_t;  /* a non-Engine.IO HTTP request */

/** A borrowed byte string (not NUL-terminated unless stated). */
typedef struct sioc_str {
    const char *ptr;
    size_t len;
} sioc_str_t;

/** Error codes of this library (negative; libuv's UV_E* are also passed through). */
enum {
    SIOC_EINVAL = -30001,        /* bad argument (e.g. arguments that are not JSON) */
    SIOC_ENOTCONN = -30002,      /* the socket is disconnected */
    SIOC_ETIMEDOUT = -30003,     /* an emit-with-ack got no answer in time */
    SIOC_EREFUSED = -30004,      /* the namespace middleware refused the socket */
    SIOC_EDISCONNECTED = -30006, /* the socket disconnected before its ack came */
    SIOC_E2BIG = -30007,         /* an event too large for the cluster (redis_max_message) */
    SIOC_EUNAVAIL = -30008       /* the cluster (Redis) is unavailable */
};

/** Returns a static description of a SIOC_E* or UV_E* code. */
const char *sioc_strerror(int err);

/* ---------------------------------------------------------------------------------- */
/* Configuration                                                                      */

/** Transport bits for sioc_config_t.transports. */
enum { SIOC_POLLING = 1, SIOC_WEBSOCKET = 2 };

/**
 * Server configuration. Zero means "default" for every field, so `{0}` is a valid
 * configuration: 127.0.0.1, a free port, "/socket.io/", both transports.
 * The struct and its strings are borrowed for sioc_server_new (copied).
 */
typedef struct sioc_config {
    const char *host;            /* "127.0.0.1" (default), "::1", "localhost" (both
                                    loopbacks), "0.0.0.0", "::" */
    int port;                    /* 0 = any free port; see sioc_server_port */
    const char *path;            /* Engine.IO path prefix, default "/socket.io/" */
    uint32_t ping_interval_ms;   /* default 25000 */
    uint32_t ping_timeout_ms;    /* default 20000 */
    uint32_t upgrade_timeout_ms; /* default 10000 */
    uint32_t connect_timeout_ms; /* a connection that joins no namespace is closed after
                                    this; default 45000 */
    size_t max_payload;          /* bytes of one POST body / WebSocket message,
                                    default 1000000 */
    size_t max_output_bytes;     /* queued output per connection before the client is
                                    dropped as too slow; default 16 MiB */
    const char *cors_origins;    /* NULL = no CORS headers; "*" or a comma-separated
                                    list of allowed origins */
    bool cors_credentials;       /* send Access-Control-Allow-Credentials: true */
    unsigned transports;         /* SIOC_POLLING | SIOC_WEBSOCKET; 0 = both */
    bool deflate;                /* accept permessage-deflate on WebSockets */
    bool always_connect;         /* answer CONNECT before the middleware runs and keep
                                    the socket whatever it decides (python-socketio's
                                    always_connect, how Open WebUI runs) */
    bool stop_on_signals;        /* SIGINT/SIGTERM stop the server (handlers installed
                                    by sioc_server_new, so a signal right after listen
                                    is not lost) */
    /* Scale-out over Redis (several processes or machines as one server). */
    const char *redis_url;            /* NULL or "" = single node; else redis://[[user]:
                                         pass@]host[:port][/db], unix://..., or
                                         redis+sentinel://[[user]:pass@]h1[:p1],h2/db/svc */
    const char *redis_sentinel_hosts; /* comma list of sentinels (Open WebUI's
                                         WEBSOCKET_SENTINEL_HOSTS); the master's name is
                                         then redis_url's host. NULL = none */
    int redis_sentinel_port;          /* their port, default 26379 */
    const char *redis_format;         /* "socketio" (default: @socket.io/redis-adapter 8.x
                                         wire format) or "python-socketio" (python-socketio
                                         >= 5.14's JSON messages, Open WebUI's) */
    const char *redis_channel;        /* channel prefix: default "socket.io" for socketio,
                                         "socketio" for python-socketio */
    bool redis_room_channels;         /* python-socketio: one-room emits go on
                                         <channel>#<nsp>#<room>, and <channel>#* is
                                         listened to (Open WebUI 0.11.5's
                                         WEBSOCKET_REDIS_ROOM_CHANNELS, on by default
                                         there: set it to match the fleet) */
    size_t redis_max_message;         /* largest event published to the cluster, bytes;
                                         default 1 MiB (larger emits fail, logged) */
} sioc_config_t;

/* ---------------------------------------------------------------------------------- */
/* Server                                                                             */

/**
 * Creates a server on `loop`, or on a loop of its own when `loop` is NULL (run it with
 * sioc_server_run). Nothing listens until sioc_server_listen. The namespace "/" exists
 * from the start. Returns NULL on an invalid configuration (a port out of range).
 */
sioc_server_t *sioc_server_new(uv_loop_t *loop, const sioc_config_t *cfg);

/** Counters of a running server, for stats pages and metrics (see sioc_server_stats). */
typedef struct sioc_stats {
    uint64_t clients_websocket;    /* Engine.IO sessions on WebSocket now */
    uint64_t clients_polling;      /* Engine.IO sessions on long-polling now */
    uint64_t sockets;              /* connected namespace sockets, all namespaces */
    uint64_t rooms;                /* rooms of all namespaces, not counting the room of
                                      each socket's own id */
    uint64_t events_in;            /* events received from clients (total) */
    uint64_t events_out;           /* event packets queued to sockets, one per recipient */
    uint64_t bytes_in;             /* bytes read from clients (total) */
    uint64_t bytes_out;            /* bytes written to clients (total) */
    uint64_t conns_accepted;       /* TCP connections accepted (total) */
    uint64_t slow_consumer_closes; /* clients dropped because their output passed
                                      max_output_bytes (total) */
    const char *adapter;           /* "local", "redis", ... (static string) */
} sioc_stats_t;

/** Fills `out` with the server's counters. Cheap enough to poll every second; the
 *  transport split walks the session table. */
void sioc_server_stats(const sioc_server_t *srv, sioc_stats_t *out);

/** Binds and listens. Returns 0 or a UV_E* code (e.g. UV_EADDRINUSE). */
int sioc_server_listen(sioc_server_t *srv);

/** The bound TCP port (useful with port 0), or 0 before listening. */
int sioc_server_port(const sioc_server_t *srv);

/** The loop the server runs on (its own or the one given). */
uv_loop_t *sioc_server_loop(sioc_server_t *srv);

/**
 * Runs the loop until the server is stopped (sioc_server_stop, or a signal when
 * stop_on_signals is set) and everything it opened is closed. Returns 0.
 */
int sioc_server_run(sioc_server_t *srv);

/**
 * Starts a graceful stop: stops listening, disconnects every socket (reason
 * "server shutting down"; nothing is sent, so clients reconnect), closes every
 * connection. Safe inside any callback; idempotent. With its own loop, sioc_server_run
 * returns once everything is closed (WebSocket closing handshakes are bounded by a
 * short linger, well under 5 s).
 */
void sioc_server_stop(sioc_server_t *srv);

/**
 * Frees the server (stopping it first if needed). NULL-safe. Call it outside the
 * server's callbacks.
 *   - own loop: runs the loop until the remaining handles are closed, then closes it;
 *   - caller's loop: call sioc_server_stop, let the loop run until the server's work
 *     is done (uv_run returns, if nothing else lives on it), call sioc_server_free, then
 *     run the loop once more (uv_run) so the last handles finish closing.
 * Sockets the application still references become invalid here: drop them first.
 */
void sioc_server_free(sioc_server_t *srv);

/** Number of open Engine.IO connections (sessions). */
size_t sioc_server_connections(const sioc_server_t *srv);

/* ---------------------------------------------------------------------------------- */
/* Namespaces and handlers                                                            */

/**
 * Returns the namespace `name` ("/", "/admin"), creating it on first use. Names start
 * with '/'. The namespace lives as long as the server. Returns NULL for a bad name.
 */
sioc_nsp_t *sioc_of(sioc_server_t *srv, const char *name);

/** The namespace name, NUL-terminated, owned by the namespace. */
const char *sioc_nsp_name(const sioc_nsp_t *nsp);

/**
 * Called when a client asks for a namespace that does not exist. Return the namespace
 * to use (typically `sioc_of(srv, name)` after registering its handlers), or NULL to
 * refuse with CONNECT_ERROR {"message":"Invalid namespace"}. `name` is NUL-terminated
 * and borrowed for the call.
 */
typedef sioc_nsp_t *(*sioc_nsp_resolve_cb)(sioc_server_t *srv, const char *name, void *arg);

/** Installs the dynamic namespace hook (one per server; NULL removes it). */
void sioc_server_on_namespace(sioc_server_t *srv, sioc_nsp_resolve_cb cb, void *arg);

/**
 * The connection middleware: decides whether `s` may join. It must call
 * sioc_socket_accept or sioc_socket_reject exactly once, during the callback or later
 * (after async work; the socket stays valid until then). `auth` is the raw JSON object
 * of the CONNECT packet ("{}" when the client sent none), borrowed for the call.
 * With always_connect the CONNECT reply has already gone out and the socket is kept
 * either way; the connection handler is then told the decision through its status.
 */
typedef void (*sioc_middleware_cb)(sioc_socket_t *s, sioc_str_t auth, void *arg);

/**
 * A socket joined. `status` is 0, or SIOC_EREFUSED when the middleware refused it in
 * always_connect mode. `auth` as for the middleware. Emits made here are sent after the
 * CONNECT reply.
 */
typedef void (*sioc_connection_cb)(sioc_socket_t *s, int status, sioc_str_t auth, void *arg);

/** Why a socket left its namespace (Socket.IO's disconnect reasons). */
typedef enum sioc_reason {
    SIOC_CLIENT_NAMESPACE_DISCONNECT, /* "client namespace disconnect" */
    SIOC_SERVER_NAMESPACE_DISCONNECT, /* "server namespace disconnect" */
    SIOC_TRANSPORT_CLOSE,             /* "transport close" */
    SIOC_TRANSPORT_ERROR,             /* "transport error" */
    SIOC_PING_TIMEOUT,                /* "ping timeout" */
    SIOC_PARSE_ERROR,                 /* "parse error" */
    SIOC_FORCED_CLOSE,                /* "forced close" */
    SIOC_FORCED_SERVER_CLOSE,         /* "forced server close" */
    SIOC_SERVER_SHUTTING_DOWN         /* "server shutting down" */
} sioc_reason_t;

/** The reason's Socket.IO string ("transport close", ...). Static. */
const char *sioc_reason_str(sioc_reason_t reason);

/**
 * A socket left the namespace. It is out of every room already; emits to it are
 * dropped. The socket is freed after this returns unless referenced.
 */
typedef void (*sioc_disconnect_cb)(sioc_socket_t *s, sioc_reason_t reason, void *arg);

/**
 * An event. `name` is the decoded event name (borrowed). `args` is valid only during
 * the call (copy what you keep, or take sioc_args_data and use it before returning).
 * `ack_id` is the client's ack id, or -1 when it asked for none: answer with
 * sioc_socket_ack, now or later (hold a reference to the socket meanwhile).
 */
typedef void (*sioc_event_cb)(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args,
                              int64_t ack_id, void *arg);

/** Sets the middleware (one per namespace; NULL = accept everyone). */
void sioc_use(sioc_nsp_t *nsp, sioc_middleware_cb cb, void *arg);
/** Sets the connection handler (one per namespace). */
void sioc_on_connection(sioc_nsp_t *nsp, sioc_connection_cb cb, void *arg);
/** Sets the disconnect handler (one per namespace). */
void sioc_on_disconnect(sioc_nsp_t *nsp, sioc_disconnect_cb cb, void *arg);
/**
 * Registers the handler of event `name` in the namespace (replacing an earlier one).
 * The table is per namespace, shared by all its sockets. Returns 0 or SIOC_EINVAL.
 */
int sioc_on(sioc_nsp_t *nsp, const char *name, sioc_event_cb cb, void *arg);
/** Sets the catch-all handler for events that have no handler of their own. */
void sioc_on_any(sioc_nsp_t *nsp, sioc_event_cb cb, void *arg);

/* ---------------------------------------------------------------------------------- */
/* Received arguments                                                                 */

/** Number of arguments. */
size_t sioc_args_count(const sioc_args_t *a);

/** Raw JSON text of argument `i` (binary ones are placeholder objects); empty if out of
 *  range. Borrowed like `a`. */
sioc_str_t sioc_args_at(const sioc_args_t *a, size_t i);

/**
 * Decodes argument `i` as a JSON string into `out` (NUL-terminated, at most cap-1
 * bytes). Returns its length, or -1 if it is not a string or does not fit.
 */
long sioc_args_string(const sioc_args_t *a, size_t i, char *out, size_t cap);

/** Number of binary attachments. */
size_t sioc_args_bin_count(const sioc_args_t *a);

/** The bytes of attachment `n` (placeholder num `n`); empty if out of range. */
sioc_str_t sioc_args_bin(const sioc_args_t *a, size_t n);

/* ---------------------------------------------------------------------------------- */
/* Outgoing data                                                                      */

/**
 * Arguments to send: `json` is a comma-separated list of JSON values (`"\"hi\",1"`,
 * `"{\"a\":1}"`; NULL or "" = no arguments). Binary values appear in it as
 * {"_placeholder":true,"num":N} and N indexes `bins`. With `len` 0 the length is
 * strlen(json). Borrowed for the call. The library does not validate the JSON beyond
 * cheap checks: sending broken JSON breaks the client, not the server.
 */
typedef struct sioc_data {
    const char *json;
    size_t len;
    const sioc_str_t *bins;
    size_t n_bins;
} sioc_data_t;

/** Convenience: arguments from a NUL-terminated JSON list, no binaries. */
static inline sioc_data_t sioc_json(const char *json)
{
    sioc_data_t d = {json, 0, NULL, 0};
    return d;
}

/** The received arguments as outgoing data (to echo or forward them), borrowed like
 *  `a`. */
sioc_data_t sioc_args_data(const sioc_args_t *a);

/** Like sioc_args_data, for the arguments from index `i` on (e.g. to forward all but
 *  the first). Binary placeholders keep their numbers, so all attachments come along. */
sioc_data_t sioc_args_tail(const sioc_args_t *a, size_t i);

/* ---------------------------------------------------------------------------------- */
/* Sockets                                                                            */

/** The socket id (20 chars, NUL-terminated; not the Engine.IO session id). */
const char *sioc_socket_id(const sioc_socket_t *s);
/** The socket's namespace. */
sioc_nsp_t *sioc_socket_nsp(const sioc_socket_t *s);
/** The server. */
sioc_server_t *sioc_socket_server(const sioc_socket_t *s);
/** Application data, NULL at first. The library never touches it. */
void *sioc_socket_get_user(const sioc_socket_t *s);
void sioc_socket_set_user(sioc_socket_t *s, void *user);
/** True until the socket has left the namespace. */
bool sioc_socket_is_connected(const sioc_socket_t *s);
/** Keeps the socket's memory alive past its disconnect handler. */
void sioc_socket_ref(sioc_socket_t *s);
/** Drops a reference from sioc_socket_ref. NULL-safe. */
void sioc_socket_unref(sioc_socket_t *s);

/** Middleware decision: let the socket in (see sioc_middleware_cb). */
void sioc_socket_accept(sioc_socket_t *s);
/**
 * Middleware decision: refuse with CONNECT_ERROR {"message":message,"data":data_json}
 * (`data_json` raw JSON or NULL for no "data"). Borrowed for the call.
 */
void sioc_socket_reject(sioc_socket_t *s, const char *message, const char *data_json);

/** Sends event `event` to this socket. Returns 0, SIOC_ENOTCONN or SIOC_EINVAL. */
int sioc_socket_emit(sioc_socket_t *s, const char *event, sioc_data_t data);

/**
 * The result of an emit with ack: `status` 0 with the client's `args`, or
 * SIOC_ETIMEDOUT / SIOC_EDISCONNECTED with `args` NULL. Called exactly once (if the
 * emit returned 0). `s` is valid during the call.
 */
typedef void (*sioc_ack_cb)(sioc_socket_t *s, int status, const sioc_args_t *args, void *arg);

/**
 * Sends `event` asking for an ack; `cb` runs when it comes, after `timeout_ms` (0 = no
 * timeout) or at disconnect. Returns 0 (cb will run) or an error (cb never runs).
 */
int sioc_socket_emit_ack(sioc_socket_t *s, const char *event, sioc_data_t data, uint32_t timeout_ms,
                         sioc_ack_cb cb, void *arg);

/**
 * Answers the client's ack `ack_id` (from the event callback). Does nothing and
 * returns 0 when ack_id is negative. Returns SIOC_ENOTCONN when the socket is gone.
 */
int sioc_socket_ack(sioc_socket_t *s, int64_t ack_id, sioc_data_t data);

/** Joins room `room` (any name, NUL-terminated). Returns 0 or SIOC_ENOTCONN. */
int sioc_socket_join(sioc_socket_t *s, const char *room);
/** Leaves room `room`; leaving a room one is not in is fine. */
int sioc_socket_leave(sioc_socket_t *s, const char *room);
/** True if the socket is in `room`. */
bool sioc_socket_in_room(const sioc_socket_t *s, const char *room);

/**
 * Disconnects the socket from its namespace (sends DISCONNECT; reason
 * "server namespace disconnect"); with `close_connection` the whole Engine.IO
 * connection (every namespace) is closed too. Safe inside callbacks.
 */
void sioc_socket_disconnect(sioc_socket_t *s, bool close_connection);

/* ---------------------------------------------------------------------------------- */
/* Rooms and broadcasting                                                             */

/** Flags of a broadcast. */
enum {
    SIOC_LOCAL = 1,   /* only this server process (no cluster forwarding) */
    SIOC_VOLATILE = 2 /* drop for recipients that cannot take it right now */
};

/**
 * Who receives a broadcast: the union of `rooms` (none = every socket of the
 * namespace), minus every socket in an `except` room. Each socket gets it at most once.
 * Arrays and strings are borrowed for the call.
 */
typedef struct sioc_to {
    const char *const *rooms;
    size_t n_rooms;
    const char *const *except;
    size_t n_except;
    unsigned flags;
} sioc_to_t;

/**
 * Sends `event` to the sockets `to` selects (NULL = everyone in the namespace). The
 * packet is encoded once and shared by every recipient. Returns 0, SIOC_EINVAL, or, with
 * Redis configured, SIOC_E2BIG for an event larger than redis_max_message (it then goes
 * nowhere, not even to this node's sockets, so every node sees the same stream).
 */
int sioc_emit(sioc_nsp_t *nsp, const sioc_to_t *to, const char *event, sioc_data_t data);

/** Convenience: emit to one room. */
int sioc_emit_room(sioc_nsp_t *nsp, const char *room, const char *event, sioc_data_t data);

/** Like sioc_emit, but never to `from` itself (socket.broadcast / socket.to(room)). */
int sioc_socket_broadcast(sioc_socket_t *from, const sioc_to_t *to, const char *event,
                          sioc_data_t data);

/**
 * A broadcast with acks: `cb` runs once per response with status 0 (`s` the socket
 * that answered), then once more with `s` NULL and status 0 when every recipient has
 * answered, or SIOC_ETIMEDOUT when `timeout_ms` passed first (`args` NULL).
 * With Redis configured, clients on other nodes are asked too: their answers come with
 * status 0, their `args`, and `s` NULL (tell the final call by `args` NULL).
 * Returns 0 (the final call will happen) or an error.
 */
int sioc_emit_ack(sioc_nsp_t *nsp, const sioc_to_t *to, const char *event, sioc_data_t data,
                  uint32_t timeout_ms, sioc_ack_cb cb, void *arg);

/** Makes the selected sockets join `room` (socketsJoin). */
void sioc_sockets_join(sioc_nsp_t *nsp, const sioc_to_t *to, const char *room);
/** Makes the selected sockets leave `room` (socketsLeave). */
void sioc_sockets_leave(sioc_nsp_t *nsp, const sioc_to_t *to, const char *room);
/** Disconnects the selected sockets (disconnectSockets). */
void sioc_sockets_disconnect(sioc_nsp_t *nsp, const sioc_to_t *to, bool close_connection);

/**
 * Calls `cb` for each selected local socket (fetchSockets on this process). The
 * callback must not join, leave or disconnect sockets; collect and act after.
 */
typedef void (*sioc_socket_visit_cb)(sioc_socket_t *s, void *arg);
void sioc_sockets_each(sioc_nsp_t *nsp, const sioc_to_t *to, sioc_socket_visit_cb cb, void *arg);

/** Number of local sockets in `room` (0 if it does not exist). */
size_t sioc_room_size(sioc_nsp_t *nsp, const char *room);

/* ---------------------------------------------------------------------------------- */
/* Cluster-wide queries (Redis; with a single node they answer for this process)      */

/**
 * The number of servers (nodes) serving `nsp` across the cluster: `status` 0 with
 * `servers` (1 for a single node), or an error (e.g. Redis unavailable) with 0.
 */
typedef void (*sioc_count_cb)(int status, size_t servers, void *arg);

/** Asks for the server count (`cb` runs exactly once, never during this call, if 0 is
 *  returned). Returns 0 or SIOC_EINVAL. */
int sioc_server_count(sioc_nsp_t *nsp, sioc_count_cb cb, void *arg);

/**
 * The result of sioc_fetch_sockets: `sockets` is a JSON array (borrowed for the call)
 * with one object per selected socket on every node, as @socket.io/redis-adapter's
 * fetchSockets response has them: {"id","handshake","rooms":[...],"data"}; `n` is their
 * number. `status` is 0, or SIOC_ETIMEDOUT when some node did not answer within 5 s
 * (the sockets of those that did are still given).
 */
typedef void (*sioc_fetch_cb)(int status, sioc_str_t sockets, size_t n, void *arg);

/** fetchSockets across the cluster for the sockets `to` selects (NULL = all). `cb` runs
 *  exactly once, never during this call, if 0 is returned. Returns 0 or SIOC_EINVAL. */
int sioc_fetch_sockets(sioc_nsp_t *nsp, const sioc_to_t *to, sioc_fetch_cb cb, void *arg);

/**
 * Sends `event` to the OTHER servers of the cluster (serverSideEmit), where it reaches
 * their sioc_on_server_side handler (or a Node server's serverSideEmit listeners). No
 * acknowledgement. A no-op with a single node. Returns 0, SIOC_EINVAL, or SIOC_E2BIG
 * when it exceeds redis_max_message.
 */
int sioc_server_side_emit(sioc_nsp_t *nsp, const char *event, sioc_data_t data);

/**
 * An event from another server (serverSideEmit). `ack_id` is non-empty when the sender
 * wants an acknowledgement: answer with sioc_server_side_ack (copy the id to answer
 * later). `args` as for sioc_event_cb.
 */
typedef void (*sioc_server_side_cb)(sioc_nsp_t *nsp, sioc_str_t name, const sioc_args_t *args,
                                    sioc_str_t ack_id, void *arg);

/**
 * Sets the handler of events from other servers (one per namespace; NULL removes it).
 * Without a handler, requests that want an ack are answered at once with no data, so
 * the sender never waits for a timeout.
 */
void sioc_on_server_side(sioc_nsp_t *nsp, sioc_server_side_cb cb, void *arg);

/** Answers a serverSideEmit that wanted an ack (`data`: one JSON value, or empty). */
int sioc_server_side_ack(sioc_nsp_t *nsp, sioc_str_t ack_id, sioc_data_t data);

/** Cluster statistics (all zero for a single node). */
typedef struct sioc_cluster_stats {
    uint64_t published; /* messages published */
    uint64_t received;  /* broadcasts received from other nodes and delivered */
    uint64_t filtered;  /* broadcasts skipped unread: no local member of the room */
    uint64_t dropped;   /* publishes dropped while Redis was unavailable */
    uint64_t too_big;   /* emits refused for exceeding redis_max_message */
} sioc_cluster_stats_t;

/** Fills `out` with the cluster statistics of the server. */
void sioc_cluster_stats(const sioc_server_t *srv, sioc_cluster_stats_t *out);

/* ---------------------------------------------------------------------------------- */
/* Other HTTP requests on the same port                                               */

/**
 * Called for every HTTP request whose path is not under the Engine.IO path (REST
 * endpoints, static files). The handler must answer with sioc_http_respond or
 * sioc_http_serve_file, now or later; until then the request stays valid. Without a
 * hook such requests get 404.
 */
typedef void (*sioc_http_cb)(sioc_http_req_t *req, void *arg);
void sioc_server_on_http(sioc_server_t *srv, sioc_http_cb cb, void *arg);

/**
 * Sees every HTTP request under the Engine.IO path before Engine.IO does. Return true
 * when the callback answered the request (sioc_http_respond), now or later: Engine.IO
 * then leaves it alone. Return false, without answering, to let Engine.IO handle it.
 * For application-specific refusals (e.g. Open WebUI's body for a websocket request
 * without upgrade headers). `req` as for sioc_http_cb.
 */
typedef bool (*sioc_http_filter_cb)(sioc_http_req_t *req, void *arg);
void sioc_server_on_engine_request(sioc_server_t *srv, sioc_http_filter_cb cb, void *arg);

/** The method ("GET", ...), NUL-terminated, borrowed until the request is answered. */
const char *sioc_http_method(const sioc_http_req_t *req);
/** The path without the query string (not decoded). */
sioc_str_t sioc_http_path(const sioc_http_req_t *req);
/** The raw query string without '?' (may be empty). */
sioc_str_t sioc_http_query(const sioc_http_req_t *req);
/** A header value by case-insensitive name; ptr NULL when absent. */
sioc_str_t sioc_http_header(const sioc_http_req_t *req, const char *name);
/** The request body (already complete and within max_payload). */
sioc_str_t sioc_http_body(const sioc_http_req_t *req);

/**
 * Answers the request. `extra_headers` is NULL or preformatted "Name: value\r\n" lines.
 * Content-Length is set from `body`. All borrowed for the call. After this the request
 * is gone.
 */
void sioc_http_respond(sioc_http_req_t *req, int status, const char *content_type,
                       const char *extra_headers, sioc_str_t body);

/**
 * Answers a GET/HEAD with a file under `root` (content type by extension, index.html
 * for directories, no path traversal, 404 when missing). The request is gone after.
 */
void sioc_http_serve_file(sioc_http_req_t *req, const char *root);

/**
 * Called once if the client goes away before the request was answered; the request
 * is gone after the callback (do not answer it).
 */
typedef void (*sioc_http_abort_cb)(sioc_http_req_t *req, void *arg);
void sioc_http_on_abort(sioc_http_req_t *req, sioc_http_abort_cb cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif
