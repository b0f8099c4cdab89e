/*
 * eio_server: the Engine.IO v4 server — sessions, both transports, upgrade, heartbeat
 * (eio layer).
 *
 * An eio_server_t owns an HTTP server. Requests whose path starts with the configured
 * prefix are Engine.IO requests; every other request goes to ops->on_http (404 when
 * NULL). Engine.IO requests are verified (eio_verify.h), then:
 *   - handshake: a new session with an unguessable sid (eio_id.h), answered with the open
 *     packet (polling: the GET body; websocket: the first frame, "upgrades":[]);
 *   - polling GET: answered at once with the queued packets, else parked until a packet
 *     is queued, the session closes or an upgrade needs a noop; a second GET while one is
 *     parked -> 400 and the session closes (the parked one gets "1");
 *   - polling POST: every packet of the body is dispatched (ops->on_message for
 *     messages) BEFORE the "ok" answer, and packets queued meanwhile for a parked GET go
 *     out together once the body is done; octet-stream bodies -> 400 + close; bodies
 *     over max_payload are refused with 413 by the HTTP layer;
 *   - websocket: one packet per message; binary messages are raw bytes;
 *   - upgrade: "2probe" -> "3probe", noop to a parked GET every 100 ms, "5" switches the
 *     session to the WebSocket and flushes what was queued; upgrade timeout closes the
 *     probe socket; a WebSocket for an upgraded/upgrading session is closed at once;
 *   - heartbeat: "2" every ping_interval, close after ping_timeout without "3"; the next
 *     ping is scheduled from the pong.
 *
 * The owner (Socket.IO, or an example) implements eio_handler_ops_t and gets a per
 * session extension area of `session_ext` bytes (STYLE rule 21: one allocation).
 *
 * Lifecycle of a session:
 *   open --eio_session_close / transport gone / timeout / protocol error--> closed
 *   ops->on_close runs exactly once, at that transition; the session is freed at the end
 *   of the loop turn (deferred), or — for a server-initiated close on polling with no
 *   parked GET — after the next GET has carried the final packets and "1" (at most
 *   EIO_CLOSE_LINGER_MS). After on_close nothing reaches the owner and sends are dropped.
 *
 * Ownership: the server owns sessions; the owner borrows eio_session_t pointers until
 * on_close returns. Slices passed to callbacks are borrowed for the call.
 * Threading: loop thread only.
 * Spec: socketio-protocol.md §1 (Engine.IO v4): §1.3 handshake, §1.4 polling, §1.5
 * websocket, §1.6 upgrade, §1.7 heartbeat, §1.8 close reasons, §1.9 errors, §1.10 CORS.
 */
#ifndef SIOC_EIO_SERVER_H
#define SIOC_EIO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rcbuf.h"
#include "base/slice.h"
#include "eio/eio_verify.h"
#include "http/http_server.h"
#include "net/net_loop.h"

typedef struct eio_server eio_server_t;
typedef struct eio_session eio_session_t;

/** How long a server-closed polling session waits for the GET that takes its last
 *  packets (the reference's closeTimeout). */
#define EIO_CLOSE_LINGER_MS 30000

/** Why a session closed (Engine.IO's reasons). */
typedef enum eio_reason {
    EIO_REASON_TRANSPORT_CLOSE, /* "transport close": client close, WebSocket closed */
    EIO_REASON_TRANSPORT_ERROR, /* "transport error": aborted GET, overlapping GET, ... */
    EIO_REASON_PING_TIMEOUT,    /* "ping timeout" */
    EIO_REASON_PARSE_ERROR,     /* "parse error": undecodable packet */
    EIO_REASON_FORCED_CLOSE,    /* "forced close": eio_session_close by the owner */
    EIO_REASON_SERVER_CLOSE,    /* "server close": eio_server_close */
} eio_reason_t;

/** The reason string ("ping timeout"). Static. */
const char *eio_reason_str(eio_reason_t r);

/** What the owner implements (one const table). */
typedef struct eio_handler_ops {
    /**
     * A new session (the open packet is already queued). The owner initialises its
     * extension here. The owner may send (it goes out after the open packet) or close.
     */
    void (*on_open)(eio_session_t *s);
    /**
     * A message packet: text (`binary` false, `data` = UTF-8 after the "4") or binary.
     * `data` is borrowed for the call. The owner may send or close the session here.
     */
    void (*on_message)(eio_session_t *s, bool binary, slice_t data);
    /** The session closed (exactly once; see the lifecycle above). */
    void (*on_close)(eio_session_t *s, eio_reason_t reason);
    /**
     * Optional: a request outside the Engine.IO path. The callee answers `req` (now or
     * later, see http_server.h). NULL = 404.
     */
    void (*on_http)(eio_server_t *srv, http_req_t *req);
    /**
     * Optional: sees every request under the Engine.IO path first. Returns true when it
     * answered (or kept) `req` (Engine.IO then leaves it alone), false to let Engine.IO
     * handle it (it must then not have answered it).
     */
    bool (*on_engine_request)(eio_server_t *srv, http_req_t *req);
} eio_handler_ops_t;

/** Server settings; zero fields take the defaults. Copied by eio_server_new. */
typedef struct eio_config {
    const char *path;            /* prefix, default "/engine.io/"; a trailing '/' is added */
    uint32_t ping_interval_ms;   /* default 25000 */
    uint32_t ping_timeout_ms;    /* default 20000 */
    uint32_t upgrade_timeout_ms; /* default 10000 */
    size_t max_payload;          /* POST body / WebSocket message bytes, default 1000000 */
    size_t max_output_bytes;     /* queued output per connection, default net's 16 MiB */
    unsigned transports;         /* EIO_TRANSPORT_* bits, 0 = both */
    const char *cors_origins;    /* see eio_cors.h; NULL = off */
    bool cors_credentials;
    bool deflate;       /* permessage-deflate on WebSockets */
    size_t session_ext; /* bytes of owner extension per session */
} eio_config_t;

/**
 * Creates a server on `nl` with the owner's `ops` (borrowed for the server's life) and
 * `user`. Returns NULL for an invalid configuration. Nothing listens yet.
 */
eio_server_t *eio_server_new(net_loop_t *nl, const eio_config_t *cfg, const eio_handler_ops_t *ops,
                             void *user);

/** Listens on `host` and `port` (see http_server_listen). Returns 0 or a uv error. */
int eio_server_listen(eio_server_t *srv, const char *host, int port);

/** The bound port, or -1. */
int eio_server_port(const eio_server_t *srv);

/** The `user` given to eio_server_new. */
void *eio_server_get_user(const eio_server_t *srv);

/** The net loop. */
net_loop_t *eio_server_loop(const eio_server_t *srv);

/** The effective configuration (defaults filled in). */
const eio_config_t *eio_server_config(const eio_server_t *srv);

/** Number of open sessions. */
size_t eio_server_session_count(const eio_server_t *srv);

/**
 * Open sessions by current transport, counted by a walk of the session table (for stats
 * pages polled every few seconds; nothing is counted on the hot path).
 */
void eio_server_transport_counts(const eio_server_t *srv, size_t *websocket, size_t *polling);

/**
 * Closes every session (reason "server close": on_close for each) and stops
 * listening; HTTP connections are closed (parked requests aborted). Idempotent.
 */
void eio_server_close(eio_server_t *srv);

/** Closes (if needed) and frees the server. Call it outside server callbacks; run the
 *  loop afterwards so the handles finish closing. NULL-safe. */
void eio_server_free(eio_server_t *srv);

/* ---- sessions ------------------------------------------------------------------- */

/** The owner's extension area (session_ext bytes, zeroed at creation, max-aligned). */
void *eio_session_ext(eio_session_t *s);

/** The session whose extension area is `ext`. */
eio_session_t *eio_session_from_ext(void *ext);

/** The session id (EIO_ID_LEN chars, NUL-terminated). A secret: do not log it whole. */
const char *eio_session_id(const eio_session_t *s);

/** The server. */
eio_server_t *eio_session_server(const eio_session_t *s);

/** The current transport (polling until an upgrade completes). */
eio_transport_t eio_session_transport(const eio_session_t *s);

/** True until the session closed. */
bool eio_session_is_open(const eio_session_t *s);

/**
 * True if a packet sent now goes out at once (a WebSocket with little queued, or a
 * parked polling GET): the test for Socket.IO's volatile emits.
 */
bool eio_session_is_writable(const eio_session_t *s);

/**
 * Queues a message packet made of `n` parts back to back (text: the UTF-8 after "4";
 * binary: raw bytes). Copies. Returns 0, UV_EPIPE when the session is closed (dropped),
 * or UV_ENOBUFS when the output bound was passed (the session is closing).
 */
int eio_session_sendv(eio_session_t *s, bool binary, const slice_t *parts, size_t n);

/** eio_session_sendv with one part. */
int eio_session_send(eio_session_t *s, bool binary, slice_t data);

/**
 * Queues a shared, prebuilt message (the broadcast path). `frame` holds a complete
 * unmasked WebSocket frame: `hdr_len` header bytes, then the message ("4" + text for a
 * text frame; raw bytes for a binary frame). WebSocket sessions queue a reference (no
 * copy, no allocation); polling sessions copy the message into their pending payload.
 * The caller keeps its reference. Same returns as eio_session_sendv.
 */
int eio_session_send_frame(eio_session_t *s, rcbuf_t *frame, size_t hdr_len, bool binary);

/**
 * Builds a shared message frame for eio_session_send_frame: a complete unmasked
 * WebSocket frame whose payload is `n` parts back to back, preceded by the "4" message
 * digit when `binary` is false. Returns it with one reference (the caller's) and sets
 * *hdr_len. One allocation, whatever the number of recipients. Aborts on OOM.
 */
rcbuf_t *eio_frame_new(const slice_t *parts, size_t n, bool binary, size_t *hdr_len);

/**
 * Like eio_frame_new, but recycles a frame of an earlier broadcast once every recipient
 * has released it (the server keeps a few, up to EIO_FRAME_CACHE_MAX bytes each), so a
 * warm broadcast allocates nothing at all. The cache is bypassed in ASan builds.
 */
rcbuf_t *eio_server_frame_new(eio_server_t *srv, const slice_t *parts, size_t n, bool binary,
                              size_t *hdr_len);

/** Frames the server keeps for recycling, and the largest it keeps. */
#define EIO_FRAME_CACHE 4
#define EIO_FRAME_CACHE_MAX 65536

/**
 * Closes the session from the server side (reason "forced close"): on_close runs now;
 * what is queued is still delivered (polling: to the next GET, followed by "1";
 * WebSocket: then a close frame). Safe inside any callback of this session.
 */
void eio_session_close(eio_session_t *s);

/** Writes a short, non-secret tag for log lines (the first 6 sid characters). */
void eio_session_log_tag(const eio_session_t *s, char out[8]);

#endif
