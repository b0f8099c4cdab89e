/*
 * eio_session: the Engine.IO server's internal state, shared by eio_server.c (HTTP
 * routing, handshake, session table) and eio_session.c (transports, queue, heartbeat,
 * upgrade, close) (eio layer, internal: no other layer includes this).
 *
 * A session's transport state:
 *
 *   polling ──(probe WebSocket, "2probe"/"3probe", "5")──> websocket
 *      │  poll->out: pending payload (records joined by 0x1E)  ws: the connection
 *      │  poll->get: the parked GET, if any                    (poll freed)
 *      └─ upg: the probe WebSocket and its timers, only while an upgrade runs
 *
 * Invariant outside a batch (a POST body or a WebSocket message being dispatched): a
 * parked GET implies an empty `out` (whatever is queued is sent at once).
 *
 * Session memory (one allocation, STYLE rule 21):
 *   [ struct eio_session | owner extension (session_ext bytes) ]
 *
 * Ownership: the server owns sessions (its table) until they are freed from a deferred
 * call. Threading: loop thread only.
 * Spec: socketio-protocol.md §1.3-§1.8.
 */
#ifndef SIOC_EIO_SESSION_H
#define SIOC_EIO_SESSION_H

#include <stdalign.h>
#include <stddef.h>

#include "base/buf.h"
#include "eio/eio_cors.h"
#include "eio/eio_id.h"
#include "eio/eio_packet.h"
#include "eio/eio_server.h"
#include "net/net_timer.h"
#include "ws/ws_conn.h"

/** Session states. */
enum eio_state {
    EIO_S_OPEN,   /* in the table, talking to the owner */
    EIO_S_LINGER, /* closed for the owner; waits for a GET to carry the last packets */
    EIO_S_CLOSED, /* out of the table; freed at the end of the loop turn */
};

/** Allocates the polling state of a new polling session. */
void eio__poll_init(eio_session_t *s);

/** Heartbeat phases of the session timer. */
enum eio_hb {
    EIO_HB_WAIT_PING, /* the timer sends the next ping */
    EIO_HB_WAIT_PONG, /* the timer is the pong deadline */
};

/** Long-polling state: allocated for polling sessions only, freed at the upgrade, so a
 *  WebSocket session carries none of it. */
struct eio_poll {
    buf_t out;                 /* pending payload (records joined by 0x1E) */
    http_req_t *get;           /* the parked GET (NULL when none) */
    http_req_t *post;          /* a POST whose body is still arriving (NULL when none) */
    eio_session_t *flush_next; /* in the server's batch flush list */
    bool in_flush;             /* linked in the flush list */
};

/** The probe WebSocket of an upgrade in progress (allocated only meanwhile). */
struct eio_upgrade {
    ws_conn_t *ws;       /* the new transport */
    eio_session_t *s;    /* back pointer for the timers */
    net_timer_t timeout; /* upgrade_timeout_ms from the WebSocket's accept */
    net_timer_t noop;    /* every 100 ms after the probe: noop to a parked GET */
    bool probed;         /* "2probe" seen, "3probe" sent */
};

struct eio_session {
    eio_server_t *srv;
    ws_conn_t *ws;           /* the WebSocket transport (NULL while polling) */
    struct eio_poll *poll;   /* polling state (NULL on a WebSocket) */
    struct eio_upgrade *upg; /* upgrade in progress (NULL when none) */
    net_timer_t timer;       /* heartbeat, or the linger deadline */
    net_defer_t defer;       /* deferred free */
    uint8_t state;           /* enum eio_state */
    uint8_t transport;       /* eio_transport_t */
    uint8_t hb;              /* enum eio_hb */
    bool client_closed;      /* the client sent "1": a parked GET gets "6", not "1" */
    bool overflow;           /* polling output passed the bound; closing next turn */
    char sid[EIO_ID_LEN + 1];
    alignas(max_align_t) unsigned char ext[]; /* the owner's extension */
};

struct eio_server {
    net_loop_t *nl;
    http_server_t *http; /* NULL once closed */
    const eio_handler_ops_t *ops;
    void *user;
    eio_config_t cfg; /* defaults filled in; path is `path` below */
    char *path;       /* owned copy, ends with '/' */
    eio_cors_t cors;
    ws_config_t ws_cfg; /* shared by every WebSocket of this server */
    eio_idgen_t ids;
    eio_session_t **slots;     /* open-addressing sid table (linear probing) */
    size_t cap;                /* power of two */
    size_t count;              /* sessions in the table */
    size_t n_ws;               /* WebSocket connections still referencing ws_cfg */
    unsigned batch;            /* > 0 while a POST body / ws message is dispatched */
    eio_session_t *flush_list; /* sessions whose parked GET waits for the batch end */
    struct {
        rcbuf_t *rc; /* a frame held for reuse (one reference) */
        size_t cap;  /* its capacity */
    } frames[EIO_FRAME_CACHE];
    buf_t hdr;          /* scratch: response header lines */
    buf_t scratch;      /* scratch: open packets, base64 records, concatenation */
    buf_t body;         /* copy of the POST body being dispatched */
    net_defer_t defer;  /* deferred HTTP shutdown / free */
    bool closing;       /* eio_server_close ran */
    bool freeing;       /* eio_server_free ran; freed when n_ws reaches 0 */
    unsigned log_count; /* rate limit for peer-triggered log lines */
};

/** The WebSocket handler table of session transports (eio_session.c). */
extern const ws_handler_ops_t eio__ws_ops;

/** The table of WebSockets the server no longer uses (user pointer = the server). */
extern const ws_handler_ops_t eio__ws_orphan_ops;

/** Table operations (eio_server.c). */
eio_session_t *eio__table_find(eio_server_t *srv, slice_t sid);
void eio__table_remove(eio_server_t *srv, eio_session_t *s);

/** Appends the CORS lines for `req` to srv->hdr (after clearing it) and returns them. */
slice_t eio__cors_lines(eio_server_t *srv, http_req_t *req);

/** Starts the heartbeat of a new session (eio_session.c). */
void eio__heartbeat_start(eio_session_t *s);

/** Queues a non-message packet (open, ping, noop, ...) on the current transport. */
void eio__send_packet(eio_session_t *s, eio_packet_type_t type, slice_t data);

/** Dispatches one decoded packet received on the active transport. */
void eio__on_packet(eio_session_t *s, const eio_packet_t *pkt);

/** A POST for `s` has its headers: refuses an overlapping one, else marks it. */
void eio__poll_post_start(eio_session_t *s, http_req_t *req);

/** The POST `req` is complete (on_request): it is no longer "arriving". */
void eio__poll_post_done(eio_session_t *s, http_req_t *req);

/** A polling GET for `s` (already verified). Answers or parks it. */
void eio__poll_get(eio_session_t *s, http_req_t *req);

/** Answers the parked GET with the pending payload if there is one. */
void eio__flush_get(eio_session_t *s);

/** Ends a batch: answers the parked GETs that got packets during it. */
void eio__batch_end(eio_server_t *srv);

/** Closes a session with `reason` (immediate close; see eio_session.c). */
void eio__close(eio_session_t *s, eio_reason_t reason);

/** Starts an upgrade with the accepted probe WebSocket `ws`. */
void eio__upgrade_start(eio_session_t *s, ws_conn_t *ws);

/** A WebSocket closed: bookkeeping for eio_server_free (eio_server.c). */
void eio__ws_gone(eio_server_t *srv);

#endif
