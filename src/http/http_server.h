/*
 * http_server: HTTP/1.1 server on top of net_conn, using llhttp (http layer).
 *
 * Requests are parsed by llhttp 8.1 (Debian node-llhttp). Each connection parses one
 * request at a time: when a request is complete it is handed to the server's
 * on_request callback as an http_req_t. The callback either answers it (the
 * http_resp_* functions) or returns without answering: the request is then "parked"
 * (Engine.IO long-polling) and stays valid until it is answered later from any other
 * callback, or until the client goes away (http_req_on_abort). While a request of a
 * connection is unanswered, no further (pipelined) request of that connection is
 * dispatched, so responses always go out in request order.
 *
 * Limits, answered by this layer itself, with "Connection: close":
 *   - malformed request (garbage, bad chunking, ...)      -> 400 Bad Request
 *   - header section over max_header_bytes or more than
 *     max_headers headers, or a URL over max_header_bytes -> 431
 *   - body (Content-Length or chunked total) over
 *     max_body_bytes                                      -> 413 Payload Too Large
 * The server goes on serving other connections. At most max_requests_per_read
 * pipelined requests are dispatched per read event; the rest stay buffered, in order,
 * and are dispatched on the next loop turns, so one client's burst cannot starve the
 * others. Idle keep-alive connections (and
 * connections that never complete a request) are closed after keepalive_timeout_ms
 * plus one second; responses on keep-alive connections carry
 * "Connection: keep-alive" and "Keep-Alive: timeout=<keepalive_timeout_ms/1000>"
 * (spec socketio-protocol.md §1.12), so Node's agent expires them first.
 *
 * Ownership and lifetimes:
 *   - http_server_t is owned by the caller: http_server_free.
 *   - http_req_t is owned by the server; the callback borrows it. Every slice returned
 *     by the accessors points into the request and is valid until the request is
 *     answered, taken over (http_req_take_conn) or aborted.
 *   - A parked request keeps its method, URL, headers and body (one small buffer);
 *     its connection keeps no read buffer.
 * Threading: loop thread only.
 * Spec: RFC 9112 (HTTP/1.1 message syntax, persistence, pipelining), RFC 9110 status
 * codes; socketio-protocol.md §1.9, §1.12.
 */
#ifndef SIOC_HTTP_SERVER_H
#define SIOC_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rcbuf.h"
#include "base/slice.h"
#include "net/net_conn.h"
#include "net/net_loop.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;

/** Request methods the upper layers care about; anything else is HTTP_METHOD_OTHER
 *  (the text is still available through http_req_method). */
typedef enum http_method {
    HTTP_METHOD_OTHER = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PATCH,
} http_method_t;

/** Server settings; http_server_config_init fills the defaults. Copied by
 *  http_server_new. */
typedef struct http_server_config {
    size_t max_header_bytes;       /**< request line + headers, default 16384 */
    unsigned max_headers;          /**< header lines, default 100 */
    size_t max_body_bytes;         /**< request body, default 1000000 (Engine.IO
                                        maxHttpBufferSize); over it -> 413 + close */
    unsigned keepalive_timeout_ms; /**< advertised keep-alive, default 5000 */
    size_t max_out_bytes;          /**< per-connection output bound, 0 = net default */
    unsigned max_requests_per_read;/**< pipelined requests dispatched per read event,
                                        default 16; the rest waits for the next loop
                                        turn (net_conn_yield, STYLE rule 26) */
} http_server_config_t;

/** Fills `cfg` with the defaults above. */
void http_server_config_init(http_server_config_t *cfg);

/**
 * Called for every complete request, with the `user` given to http_server_new. The
 * callback answers `req` (http_resp_send, http_static_serve, ws_accept, ...) or
 * returns without answering to park it. It may not free the server.
 */
typedef void (*http_request_cb)(http_req_t *req, void *user);

/** Called once if a parked request's client goes away before the answer. `req` is
 *  invalid after the callback returns; do not answer it from here. */
typedef void (*http_abort_cb)(http_req_t *req, void *arg);

/** Called once when a streamed answer's connection has written everything queued
 *  (http_req_on_drain). `req` is still valid and streaming. */
typedef void (*http_drain_cb)(http_req_t *req, void *arg);

/**
 * Creates a server on `nl`. `cfg` may be NULL (defaults). No listening yet. Aborts on
 * OOM.
 */
http_server_t *http_server_new(net_loop_t *nl, const http_server_config_t *cfg,
                               http_request_cb on_request, void *user);

/**
 * Listens on `host` ("127.0.0.1" when NULL, "::1", "localhost" = both loopbacks,
 * "0.0.0.0", "::") and `port` (0 = a free port). May be called more than once for
 * several addresses. Returns 0 or a negative uv error.
 */
int http_server_listen(http_server_t *srv, const char *host, int port);

/**
 * Serves HTTP on a connection accepted elsewhere (e.g. a memory connection in tests,
 * or a socket handed over by another component). Sets the connection's ops.
 */
void http_server_adopt(http_server_t *srv, net_conn_t *nc);

/** The port of the first successful listen (the real one when 0 was asked), or -1. */
int http_server_port(const http_server_t *srv);

/** The `user` given to http_server_new. */
void *http_server_get_user(const http_server_t *srv);

/**
 * Optional: `cb(req, user)` runs for every request as soon as its header section is
 * complete, before the body is read (http_req_is_complete is false unless there is no
 * body). Method, URL and headers are readable; the body is not there yet. The callback
 * may register http_req_on_abort (it then also fires if the client goes away while the
 * body is arriving, or if the http layer refuses the body with 413), and may answer
 * at once (http_resp_send...): the body is then never read and the connection closes
 * after the answer. If it returns without answering, reading goes on and on_request
 * runs when the request is complete. Must not take the connection over.
 */
void http_server_on_headers(http_server_t *srv, http_request_cb cb);

/** Closes the listeners (no new connections); existing connections go on. */
void http_server_stop_listening(http_server_t *srv);

/**
 * Stops listening and closes every connection still speaking HTTP gracefully: what
 * is queued (e.g. answers to parked requests given just before) is written first,
 * then FIN. Requests still parked get their abort callback when their connection is
 * closed (from the loop, after this returns). Connections already taken over
 * (WebSocket) are not touched. Memory is released once the connections are gone; do
 * not use `srv` after this call.
 */
void http_server_free(http_server_t *srv);

/* ---- the request ---------------------------------------------------------------- */

/** The method as an enum. */
http_method_t http_req_method_id(const http_req_t *req);

/** The method as text ("GET"). */
slice_t http_req_method(const http_req_t *req);

/** The raw request target ("/socket.io/?EIO=4&transport=polling"). */
slice_t http_req_url(const http_req_t *req);

/** The path part of the target, before '?' (not percent-decoded). */
slice_t http_req_path(const http_req_t *req);

/** The query string after '?', without it; empty when absent. */
slice_t http_req_query_string(const http_req_t *req);

/**
 * Finds query parameter `name` (exact, case-sensitive match of the raw name). On a hit
 * sets *value to the raw (still percent-encoded) value and returns true; a parameter
 * without '=' has an empty value.
 */
bool http_req_query(const http_req_t *req, const char *name, slice_t *value);

/**
 * Like http_req_query but percent-decodes the value ('+' becomes a space) into `out`
 * (`cap` bytes, not NUL-terminated) and sets *len. Returns false when absent, when
 * the value does not fit, or when it has a bad %-escape.
 */
bool http_req_query_decoded(const http_req_t *req, const char *name, uint8_t *out,
                            size_t cap, size_t *len);

/** Finds header `name` (ASCII case-insensitive); the first one if repeated. On a hit
 *  sets *value (surrounding whitespace trimmed) and returns true. */
bool http_req_header(const http_req_t *req, const char *name, slice_t *value);

/** Number of header lines. */
size_t http_req_header_count(const http_req_t *req);

/** The i-th header line (0 <= i < count) as name and value. */
void http_req_header_at(const http_req_t *req, size_t i, slice_t *name, slice_t *value);

/** True if header `name` is present and its comma-separated value list contains
 *  `token` (ASCII case-insensitive), e.g. ("connection", "upgrade"). */
bool http_req_header_has_token(const http_req_t *req, const char *name, const char *token);

/** The request body (de-chunked); empty when none. */
slice_t http_req_body(const http_req_t *req);

/** HTTP minor version (0 or 1). */
int http_req_version_minor(const http_req_t *req);

/** True if the connection stays open after the response (HTTP/1.1 default, or
 *  1.0 with "Connection: keep-alive", and not a close/upgrade request). */
bool http_req_keep_alive(const http_req_t *req);

/** Forces "Connection: close" on the response; the connection closes after it. */
void http_req_set_close(http_req_t *req);

/** True for a GET with an Upgrade header containing the "websocket" token (case-
 *  insensitive). ws_accept does the full RFC 6455 validation. */
bool http_req_is_websocket_upgrade(const http_req_t *req);

/** True while the request is parked (the callback returned without answering). */
bool http_req_is_parked(const http_req_t *req);

/** True once the whole body was received (always true in on_request). */
bool http_req_is_complete(const http_req_t *req);

/**
 * Registers `cb(req, arg)` to run exactly once if the connection closes before the
 * request is answered (client abort, server shutdown, slow consumer, or - when
 * registered from on_headers - a client gone mid-body or a 413 refusal of the body).
 * Replaces any previous registration; cb NULL clears it. Never called once the request
 * is answered (a streamed answer counts as answered at http_resp_end, so the callback
 * still fires if the connection closes mid-stream).
 */
void http_req_on_abort(http_req_t *req, http_abort_cb cb, void *arg);

/** The underlying connection (for logging and addresses; do not write to it). */
net_conn_t *http_req_conn(const http_req_t *req);

/* ---- answering ------------------------------------------------------------------ */

/**
 * Answers `req`: status line, "Content-Type: <content_type>" (omitted when NULL),
 * exact Content-Length, the Connection/Keep-Alive headers, `extra_headers` verbatim
 * (preformatted "Name: value\r\n" lines, e.g. CORS; may be empty), a blank line and
 * `body` (omitted for HEAD). `req` is invalid afterwards. Returns 0, or a negative uv
 * error if the connection is already gone (nothing sent; the request is still
 * released).
 */
int http_resp_send(http_req_t *req, int status, const char *content_type,
                   slice_t extra_headers, slice_t body);

/** Like http_resp_send, with the body given as `n` parts sent back to back (no
 *  concatenation by the caller). */
int http_resp_sendv(http_req_t *req, int status, const char *content_type,
                    slice_t extra_headers, const slice_t *parts, size_t n);

/**
 * Starts a streamed answer (a body too big to hold, e.g. a file): writes the status
 * line, "Content-Type" (omitted when NULL), "Content-Length: <content_length>", the
 * Connection/Keep-Alive headers and `extra_headers` (as http_resp_send). The body
 * follows with http_resp_write / http_resp_write_rcbuf (nothing is written for HEAD:
 * the length is only announced) and the answer ends with http_resp_end. Until then
 * the request stays valid, no further request of the connection is dispatched, and an
 * abort callback registered with http_req_on_abort still fires (once) if the
 * connection closes first - the request is then gone and must not be ended. Only for
 * a dispatched request (from on_request, or parked). Returns 0; or a negative uv
 * error when the connection is already gone (the request is released, as with
 * http_resp_send); UV_EINVAL if the request is not in a state to answer (nothing
 * happens).
 */
int http_resp_begin(http_req_t *req, int status, const char *content_type,
                    slice_t extra_headers, uint64_t content_length);

/** Queues a copy of `data` as body bytes of a streamed answer. Returns 0, UV_EINVAL
 *  if it is more than the announced length still allows or no stream was begun, or
 *  the net error (UV_EPIPE, UV_ENOBUFS: the connection is closing; the abort callback
 *  follows). Ignored (returns 0) for HEAD. */
int http_resp_write(http_req_t *req, slice_t data);

/** Like http_resp_write, queuing a reference to the whole of `rc` instead of a copy
 *  (the caller keeps its own reference). */
int http_resp_write_rcbuf(http_req_t *req, rcbuf_t *rc);

/**
 * Ends a streamed answer; `req` is invalid afterwards. If fewer body bytes were
 * written than announced the answer is incomplete: the connection is closed after
 * what was queued (the client sees the short body), else keep-alive goes on as for
 * http_resp_send. Returns 0, or UV_EINVAL if no stream was begun.
 */
int http_resp_end(http_req_t *req);

/** Output bytes queued on the request's connection and not yet written (0 when the
 *  connection is gone). For back-pressure while streaming. */
size_t http_req_buffered(const http_req_t *req);

/**
 * Registers `cb(req, arg)` to run once, from the loop, the next time the connection's
 * output queue is written out completely (replaces a previous registration; NULL
 * clears). Only while streaming an answer; never called after http_resp_end or once
 * the connection closed (the abort callback runs instead). If nothing is queued when
 * registering, it may never fire: check http_req_buffered first.
 */
void http_req_on_drain(http_req_t *req, http_drain_cb cb, void *arg);

/** The standard reason phrase of `status` ("Not Found"), "Unknown" if none. */
const char *http_status_reason(int status);

/**
 * Takes the connection out of HTTP for a protocol upgrade (used by ws_accept). The
 * request's data stays readable until the caller's on_request callback returns; the
 * HTTP state of the connection is freed after that. The connection's kept input
 * (bytes after the request) goes to the new owner's on_read once it calls
 * net_conn_set_ops. The request can no longer be answered through http_resp_*.
 * Returns NULL if the connection is already closing.
 */
net_conn_t *http_req_take_conn(http_req_t *req);

/* ---- static files --------------------------------------------------------------- */

/**
 * Finishes an http_static_serve_cb: `status` is the HTTP status sent (200, 403, 404,
 * 500), or a negative uv error when the answer was cut short (the client went away,
 * a read failed mid-transfer). The request is gone by then.
 */
typedef void (*http_static_done_cb)(int status, void *arg);

/**
 * Serves a file below `root_dir` for a GET or HEAD, without blocking the loop: the
 * file system work (realpath of root and file, open, fstat, reads) runs on libuv's
 * thread pool and the answer is given later from the loop, so the request is parked
 * meanwhile (call this from on_request). Content type by extension, "index.html" for
 * a path ending in '/', 404 when missing or not a regular file, 405 for other
 * methods, 400 for a bad %-escape, 403 for traversal attempts (a ".." segment, even
 * percent-encoded, a NUL, or a realpath outside the realpath of `root_dir`, e.g. a
 * symlink out of the root; the file is opened with O_NOFOLLOW). Any size: the body is
 * streamed in 64 KiB reads and the next read starts only while less than 128 KiB is
 * queued for the client. `root_dir` and `extra_headers` (as in http_resp_send) are
 * copied. An abort callback registered on `req` earlier is replaced.
 *
 * Returns the status (> 0) when the request was answered at once (405, 400, 403 from
 * the URL alone): `done` is then never called. Returns 0 when the answer is under
 * way: `done(status, arg)` (may be NULL) then runs exactly once from the loop after
 * the answer was queued or the client went away, and after the file was closed and
 * every resource of the transfer freed.
 */
int http_static_serve_cb(http_req_t *req, const char *root_dir, slice_t extra_headers,
                         http_static_done_cb done, void *arg);

/**
 * http_static_serve_cb without a completion callback. Returns the status when the
 * request was answered at once, else 0 (the answer follows from the loop). (Before
 * the file work moved to the thread pool this answered synchronously and returned
 * the status in every case.)
 */
int http_static_serve(http_req_t *req, const char *root_dir, slice_t extra_headers);

#endif
