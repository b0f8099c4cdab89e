/*
 * sio_server: the Socket.IO v5 server — namespaces, connections, packet dispatch,
 * CONNECT and the middleware, binary reassembly (sio layer).
 *
 * The server sits on an Engine.IO server it creates, and keeps one sio_client in the
 * extension area of every Engine.IO session (no second allocation). A client holds the
 * sockets it opened, one per namespace. Incoming message path (DESIGN "data path"):
 *
 *   eio message -> sio_packet_decode (header + shape, no DOM) -> socket by namespace
 *     CONNECT     -> middleware -> socket joins its id room -> CONNECT reply ->
 *                    connection handler
 *     EVENT       -> namespace handler table by name (or the catch-all); the arguments
 *                    stay raw JSON (sioc_args_t)
 *     ACK         -> the socket's pending ack with that id
 *     DISCONNECT  -> socket leaves (reason "client namespace disconnect")
 *     BINARY_*    -> text kept until the N attachments arrived, then as above
 *   anything out of order -> the whole connection is closed (reference behaviour)
 *
 * Ownership: the server owns namespaces (for its whole life), sockets (until their last
 * reference) and the Engine.IO server. The facade (src/cluster/sioc.c) owns the server.
 * Threading: loop thread only.
 * Spec: socketio-protocol.md §2 (Socket.IO v5): §2.3 decoding rules, §2.4 namespaces and
 * CONNECT, §2.5 events/acks/disconnect, §2.6 rooms.
 */
#ifndef SIOC_SIO_SERVER_H
#define SIOC_SIO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "eio/eio_id.h"
#include "eio/eio_server.h"
#include "net/net_timer.h"
#include "sio/sio_adapter.h"
#include "sio/sio_packet.h"
#include "sioc.h"

typedef struct sio_server sio_server_t;

/** Socket.IO settings. Copied by sio_server_new. */
typedef struct sio_config {
    uint32_t connect_timeout_ms;      /* default 45000 */
    bool always_connect;              /* see sioc_config_t */
    uint32_t max_attachments;         /* per incoming packet, default 10, at most 64 */
    const sio_adapter_ops_t *adapter; /* required */
    void *adapter_config;             /* passed to adapter->create */
    /** Requests outside the Engine.IO path (NULL: 404). */
    void (*on_http)(http_req_t *req, void *arg);
    /** Requests under the Engine.IO path, first (see eio on_engine_request); optional. */
    bool (*on_engine_request)(http_req_t *req, void *arg);
    void *http_arg; /* for both */
    void *owner;    /* the facade's server, for sioc_socket_server */
} sio_config_t;

/** One registered event handler. */
struct sio_handler {
    char *name; /* owned, NUL-terminated; NULL = empty slot */
    size_t len;
    sioc_event_cb cb;
    void *arg;
};

/** A namespace. */
struct sioc_nsp {
    sio_server_t *srv;
    char *name; /* owned, NUL-terminated ("/", "/admin") */
    size_t name_len;
    sio_adapter_t *adapter; /* rooms and broadcasts */
    sioc_middleware_cb mw;
    void *mw_arg;
    sioc_connection_cb on_conn;
    void *on_conn_arg;
    sioc_disconnect_cb on_disc;
    void *on_disc_arg;
    sioc_event_cb on_any;
    void *on_any_arg;
    struct sio_handler *events; /* open addressing by name hash */
    size_t ev_cap;              /* power of two (0 = none) */
    size_t ev_count;
    uint64_t next_ack_id; /* server->client ack ids (per namespace, as Node) */
    size_t n_sockets;     /* connected sockets */
};

/** Binary packet reassembly in progress (allocated only meanwhile). */
struct sio_rx {
    uint8_t *text; /* copy of the text part */
    size_t text_len;
    uint32_t expected; /* attachments announced */
    uint32_t got;
    buf_t bins; /* attachments back to back */
    size_t off[SIO_OUT_MAX_BINS + 1];
};

/**
 * Per Engine.IO session state, in the session's extension area (its server and session
 * are derived from that, not stored). Until its first namespace join a client sits in
 * the server's FIFO of connect deadlines: the timeout is the same for every client, so
 * one server timer for the oldest deadline replaces a timer per client.
 */
struct sio_client {
    sioc_socket_t *sockets;                   /* one per joined (or joining) namespace */
    struct sio_rx *rx;                        /* binary reassembly, NULL when none */
    struct sio_client *pend_prev, *pend_next; /* in the connect-deadline FIFO */
    uint64_t deadline;                        /* connect deadline (net_loop_now ms) while pending */
    bool pending;                             /* in the FIFO */
    bool joined;                              /* a namespace was joined once: no connect timeout */
    bool closed;                              /* the session closed */
};

struct sio_server {
    eio_server_t *eio;
    sio_config_t cfg;
    sioc_nsp_t **nsps; /* every namespace (few: linear search) */
    size_t n_nsps, cap_nsps;
    sioc_nsp_resolve_cb resolve;
    void *resolve_arg;
    eio_idgen_t ids;                          /* socket ids */
    buf_t enc;                                /* scratch: packet encoding */
    buf_t names;                              /* scratch: unescaped event names */
    struct sio_client *pend_head, *pend_tail; /* connect deadlines, oldest first */
    net_timer_t pend_timer;                   /* fires at the oldest deadline */
    sioc_socket_t *mw_sock;                   /* the socket whose middleware call is running */
    sioc_str_t mw_auth;                       /* its auth, borrowed during that call */
    size_t n_clients;
    uint64_t events_in;  /* events received from clients (stats) */
    uint64_t events_out; /* event packets queued to sockets, one per recipient (stats) */
    bool closing;
    unsigned log_count; /* rate limit for peer-triggered log lines */
};

/**
 * Creates the server and its Engine.IO server on `nl` (`ecfg` as eio_server_new; its
 * session_ext is set here). Returns NULL on a bad configuration. The namespace "/"
 * exists from the start.
 */
sio_server_t *sio_server_new(net_loop_t *nl, const eio_config_t *ecfg, const sio_config_t *cfg);

/** The Engine.IO server underneath. */
eio_server_t *sio_server_eio(const sio_server_t *srv);

/**
 * Disconnects every socket (reason "server shutting down", nothing sent) and closes the
 * Engine.IO server. Idempotent; safe inside callbacks.
 */
void sio_server_close(sio_server_t *srv);

/** Closes if needed and frees the server, its namespaces and adapters. Run the loop
 *  afterwards so connections finish closing. NULL-safe. */
void sio_server_free(sio_server_t *srv);

/** Finds a namespace by name, or NULL. */
sioc_nsp_t *sio_server_find_nsp(sio_server_t *srv, slice_t name);

/** Creates (or finds) a namespace. NULL for a name that does not start with '/'. */
sioc_nsp_t *sio_server_nsp(sio_server_t *srv, slice_t name);

/** Installs the dynamic namespace hook (called with the owner as server). */
void sio_server_on_namespace(sio_server_t *srv, sioc_nsp_resolve_cb cb, void *arg);

/** Connections (Engine.IO sessions) open. */
size_t sio_server_client_count(const sio_server_t *srv);

/* ---- shared between the sio files (sio__ infix, STYLE rule 2) ------------------- */

/** The Engine.IO session of a client. */
static inline eio_session_t *sio__client_eio(struct sio_client *c)
{
    return eio_session_from_ext(c);
}

/** The server of a client. */
static inline sio_server_t *sio__client_srv(struct sio_client *c)
{
    return (sio_server_t *)eio_server_get_user(eio_session_server(eio_session_from_ext(c)));
}

/** The client joined its first namespace: its connect deadline is dropped for good. */
void sio__client_joined(struct sio_client *c);

/** Closes the whole connection after a protocol violation (logged, rate-limited). */
void sio__client_violation(struct sio_client *c, const char *why);

/** The handler of `name` in `nsp`, or NULL. */
const struct sio_handler *sio__nsp_handler(const sioc_nsp_t *nsp, slice_t name);

#endif
