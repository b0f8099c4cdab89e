/*
 * eio_cors: CORS response headers for the Engine.IO endpoint, pure (eio layer).
 *
 * Off by default: without a configuration no header is produced and an OPTIONS request
 * is just an (invalid) Engine.IO request. When configured, every Engine.IO response
 * (handshake, polling, errors, the WebSocket 101) carries the headers the `cors`
 * middleware (expressjs/cors 2.8) would add, and an OPTIONS preflight is answered 204
 * directly:
 *   origins "*"          -> Access-Control-Allow-Origin: *  (with credentials the
 *                           request's Origin is reflected instead, since browsers refuse
 *                           "*" with credentials; + Vary: Origin)
 *   one origin "http://a" -> Access-Control-Allow-Origin: http://a + Vary: Origin
 *   a list "http://a,http://b" -> the request's Origin reflected when it is in the list
 *                           (nothing otherwise) + Vary: Origin
 *   credentials          -> Access-Control-Allow-Credentials: true
 *   preflight            -> + Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE
 *                           + Access-Control-Allow-Headers: <Access-Control-Request-Headers>
 *                           + Vary: Access-Control-Request-Headers (merged into one Vary)
 *
 * Ownership: eio_cors_t owns copies of the origins (eio_cors_dispose frees them); the
 * header functions append to a caller buf_t and borrow their inputs for the call.
 * Threading: read-only after init; pure functions.
 * Spec: socketio-protocol.md §1.10; expressjs/cors 2.8.6 behaviour.
 */
#ifndef SIOC_EIO_CORS_H
#define SIOC_EIO_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/slice.h"

/** A parsed CORS configuration. */
typedef struct eio_cors {
    bool enabled;     /* any configuration at all */
    bool any;         /* "*" */
    bool credentials; /* Access-Control-Allow-Credentials: true */
    size_t n_origins; /* allowed origins (not counting "*") */
    char **origins;   /* owned NUL-terminated copies */
} eio_cors_t;

/**
 * Parses `origins` (NULL or "" = CORS off; "*"; or a comma-separated list, spaces
 * around items ignored) into `c`. Always succeeds (aborts on OOM).
 */
void eio_cors_init(eio_cors_t *c, const char *origins, bool credentials);

/** Frees the copies. NULL-safe; `c` is disabled afterwards. */
void eio_cors_dispose(eio_cors_t *c);

/**
 * Appends the "Name: value\r\n" lines for an ordinary response to a request whose
 * Origin header is `origin` (`has_origin` false when absent). Appends nothing when CORS
 * is off.
 */
void eio_cors_headers(const eio_cors_t *c, bool has_origin, slice_t origin, buf_t *out);

/**
 * Appends the lines for a preflight (OPTIONS) response; `req_headers` is the request's
 * Access-Control-Request-Headers value (`has_req_headers` false when absent).
 */
void eio_cors_preflight_headers(const eio_cors_t *c, bool has_origin, slice_t origin,
                                bool has_req_headers, slice_t req_headers, buf_t *out);

#endif
