/*
 * ws_conn: a server-side WebSocket connection over a net_conn (ws layer).
 *
 * ws_accept() validates an HTTP upgrade request, writes the 101 response and turns
 * the connection into a WebSocket (the HTTP parser state is freed). From then on:
 *   - received frames are parsed in the read buffer, unmasked in place and delivered
 *     as whole messages through ops->on_message (zero copy when a message arrives in
 *     one read; otherwise fragments or split frames accumulate in a per-connection
 *     buffer bounded by max_message, freed after delivery);
 *   - protocol errors close the connection with the RFC close code: unmasked frame,
 *     reserved bits, bad control frame, bad continuation, unknown opcode -> 1002;
 *     invalid UTF-8 in a text message -> 1007; message over max_message -> 1009;
 *   - pings are answered with pongs carrying the same payload; a close frame is
 *     echoed and the connection shut down;
 *   - permessage-deflate (RFC 7692) is negotiated only when the config enables it
 *     (off by default; zlib raw deflate, context takeover or not as negotiated);
 *   - at most max_events_per_read frames are handled per read event: a client that
 *     pipelines thousands of messages is served a share per loop turn, in order, and
 *     the other connections are served in between.
 * Sending: ws_send / ws_send_parts copy the message into the output queue;
 * ws_send_frame queues a reference to a complete frame prebuilt with
 * ws_frame_header_encode (the broadcast path: no copy, no allocation). Output is
 * flushed once per loop turn by the net layer and bounded (slow consumers are
 * closed).
 *
 * Lifecycle and ownership:
 *   ws_accept ---> open --ws_close / peer close / error / EOF---> closing ---> on_close
 *   - the ws_conn_t belongs to the ws layer; the owner holds a borrowed pointer that
 *     is valid until ops->on_close returns (the object is freed right after);
 *   - on_close runs exactly once, from the loop, never inside ws_send/ws_close;
 *   - the config passed to ws_accept is borrowed for the whole life of the connection
 *     (share one config per server: it is not copied, to keep connections small).
 * Threading: loop thread only.
 * Spec: RFC 6455 §4.2 (server handshake), §5 (framing), §7 (closing), §8.1 (UTF-8);
 * RFC 7692 (permessage-deflate); socketio-protocol.md §1.5.
 */
#ifndef SIOC_WS_CONN_H
#define SIOC_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rcbuf.h"
#include "base/slice.h"
#include "http/http_server.h"
#include "ws/ws_frame.h"

typedef struct ws_conn ws_conn_t;

/** Connection settings, shared by many connections (borrowed, never copied). */
typedef struct ws_config {
    size_t max_message;     /**< largest received message (after inflation), bytes;
                                 0 = default 1000000; over it -> close 1009 */
    size_t max_out_bytes;   /**< bound on queued output; 0 = net loop default */
    bool deflate;           /**< accept permessage-deflate when offered (default off) */
    int deflate_level;      /**< zlib level when deflating, 0 = default 1 (fast) */
    size_t deflate_min;     /**< messages shorter than this are sent uncompressed even
                                 when deflate is on; 0 = default 64 */
    const char *subprotocol;/**< echoed in Sec-WebSocket-Protocol only if the client
                                 offered exactly this token; NULL = never echo */
    unsigned max_events_per_read; /**< frames handled (messages, pings, pongs) per
                                 read event, 0 = default 64; the rest stays buffered
                                 and is handled on the next loop turns, in order
                                 (net_conn_yield, STYLE rule 26) */
} ws_config_t;

/** What the owner of WebSocket connections implements (one const table). */
typedef struct ws_handler_ops {
    /**
     * A complete message. `msg` is borrowed for the call (it may point into the read
     * buffer). Text messages are valid UTF-8. The handler may send, and may call
     * ws_close (no further messages are delivered after that).
     */
    void (*on_message)(ws_conn_t *ws, bool is_binary, slice_t msg);
    /**
     * The connection is gone (exactly once). `code` is the peer's close code
     * (WS_CLOSE_NO_STATUS if its close frame had none), or the code we sent on a
     * local ws_close or protocol error, or WS_CLOSE_ABNORMAL (1006) when the TCP
     * connection ended without a close frame. `reason` is borrowed for the call.
     * The ws_conn_t is freed after it returns.
     */
    void (*on_close)(ws_conn_t *ws, unsigned code, slice_t reason);
    /** Optional (may be NULL): the output queue has just been fully written. */
    void (*on_drain)(ws_conn_t *ws);
} ws_handler_ops_t;

/**
 * Completes a WebSocket handshake for `req` (from an http_request_cb). Validates:
 * method GET, HTTP/1.1, "Upgrade" containing the "websocket" token, "Connection"
 * containing the "upgrade" token, "Sec-WebSocket-Version: 13", and a
 * "Sec-WebSocket-Key" that is the base64 of 16 bytes. On failure answers
 * "400 Bad Request" (with "Sec-WebSocket-Version: 13" when the version was wrong),
 * closes the connection and returns NULL. On success writes "101 Switching
 * Protocols" with the accept key, any negotiated permessage-deflate parameters, and
 * `extra_headers` (preformatted "Name: value\r\n" lines, e.g. CORS; may be empty),
 * takes the connection over and returns the new connection with `user` set. `req` is
 * released in both cases (do not answer it again). `cfg` and `ops` are borrowed for
 * the life of the connection.
 */
ws_conn_t *ws_accept(http_req_t *req, const ws_config_t *cfg, slice_t extra_headers,
                     const ws_handler_ops_t *ops, void *user);

/**
 * Answers an upgrade request with a plain HTTP error and closes the connection (the
 * Engine.IO way to refuse before the 101: "HTTP/1.1 400 Bad Request",
 * "Connection: close", "Content-Type: text/html", `body`). `req` is released.
 */
void ws_reject(http_req_t *req, int status, slice_t extra_headers, slice_t body);

/**
 * Sends one message (a copy of `msg`; compressed when deflate was negotiated and the
 * message is long enough). Returns 0, or UV_EPIPE when the connection is closing
 * (nothing sent), or UV_ENOBUFS when the output bound was passed (the connection is
 * now closing as a slow consumer).
 */
int ws_send(ws_conn_t *ws, bool is_binary, slice_t msg);

/** Sends one message made of `n` parts back to back (e.g. "4" + packet), without the
 *  caller concatenating them. Same returns as ws_send. */
int ws_send_parts(ws_conn_t *ws, bool is_binary, const slice_t *parts, size_t n);

/**
 * Queues a reference to `frame`, a complete unmasked frame (header from
 * ws_frame_header_encode + payload; RSV1 clear unless it is a deflated message and
 * the connection negotiated deflate). The caller keeps its own reference. No copy and
 * no allocation while the queue has room. Same returns as ws_send.
 */
int ws_send_frame(ws_conn_t *ws, rcbuf_t *frame);

/** Sends a ping with `payload` (at most 125 bytes, longer is truncated). Same returns
 *  as ws_send. Pongs from the peer are ignored. */
int ws_ping(ws_conn_t *ws, slice_t payload);

/**
 * Starts the closing handshake: queues a close frame with `code` (0 = no code) and
 * `reason` (truncated to 123 bytes), stops delivering messages, flushes and closes
 * the TCP connection. Idempotent. on_close runs later with `code`.
 */
void ws_close(ws_conn_t *ws, unsigned code, slice_t reason);

/** Closes the TCP connection at once without a close frame (on_close gets 1006). */
void ws_abort(ws_conn_t *ws);

/** True once closing started (ws_close, a received close frame, an error). */
bool ws_is_closing(const ws_conn_t *ws);

/** The owner's pointer given to ws_accept / set with ws_set_user. */
void *ws_get_user(const ws_conn_t *ws);
/** Replaces the owner's pointer. */
void ws_set_user(ws_conn_t *ws, void *user);

/** Replaces the handler table (e.g. to hand the connection to another owner). */
void ws_set_ops(ws_conn_t *ws, const ws_handler_ops_t *ops);

/** Bytes queued for this connection and not yet written to the kernel. */
size_t ws_buffered_bytes(const ws_conn_t *ws);

/** True if permessage-deflate was negotiated on this connection. */
bool ws_is_deflate(const ws_conn_t *ws);

/** The underlying connection (ids, addresses). */
net_conn_t *ws_net_conn(const ws_conn_t *ws);

/** Writes the peer address as text, as net_conn_remote_addr. */
int ws_remote_addr(const ws_conn_t *ws, char *out, size_t cap);

/** Length of a Sec-WebSocket-Accept value (base64 of a SHA-1 digest). */
#define WS_ACCEPT_KEY_LEN 28

/**
 * Computes the Sec-WebSocket-Accept value for client key `key` (RFC 6455 §4.2.2:
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))) into `out`
 * (WS_ACCEPT_KEY_LEN + 1 bytes, NUL-terminated).
 */
void ws_accept_key(slice_t key, char out[WS_ACCEPT_KEY_LEN + 1]);

#endif
