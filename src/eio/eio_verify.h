/*
 * eio_verify: Engine.IO request classification, pure (eio layer).
 *
 * Every HTTP request under the Engine.IO path goes through two steps that need no I/O
 * and are unit-tested on their own:
 *   1. eio_query_parse reads the three query parameters Engine.IO cares about (EIO,
 *      transport, sid; `t` and everything else is ignored);
 *   2. eio_verify applies the reference server's checks in the reference order and
 *      either routes the request (new session, polling GET/POST, WebSocket upgrade) or
 *      refuses it with an Engine.IO error code:
 *        1. transport known and enabled                         else 0 Transport unknown
 *        2. Origin header made of valid header characters       else 3 Bad request
 *        3. with sid: the session exists                        else 1 Session ID unknown
 *           and (non-upgrade) uses that transport               else 3 Bad request
 *        4. without sid: method GET                             else 2 Bad handshake method
 *           websocket transport only as an upgrade              else 3 Bad request
 *        5. without sid: EIO=4                                  else 5 Unsupported protocol
 * The HTTP status and JSON body of each code come from eio_error_status/eio_error_body.
 *
 * Ownership: eio_query_t holds copies (no borrowed pointers). Threading: pure.
 * Spec: socketio-protocol.md §1.1 (query), §1.3 (verification order), §1.9 (error table).
 */
#ifndef SIOC_EIO_VERIFY_H
#define SIOC_EIO_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

/** Transport ids; also bits of an allow-list (same values as SIOC_POLLING/WEBSOCKET). */
typedef enum eio_transport {
    EIO_TRANSPORT_NONE = 0,
    EIO_TRANSPORT_POLLING = 1,
    EIO_TRANSPORT_WEBSOCKET = 2,
} eio_transport_t;

/** Engine.IO error codes (§1.9). */
typedef enum eio_error {
    EIO_ERR_TRANSPORT_UNKNOWN = 0,
    EIO_ERR_SID_UNKNOWN = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_VERSION = 5,
} eio_error_t;

/** Longest sid value kept by the parser; longer ones can match no session. */
#define EIO_QUERY_SID_MAX 64

/** The Engine.IO view of a query string. */
typedef struct eio_query {
    int protocol;                    /* 4 when EIO=4, else 3 (the reference's default) */
    eio_transport_t transport;       /* NONE when missing or unknown */
    bool has_sid;                    /* a sid parameter was present (even empty or too long) */
    size_t sid_len;                  /* decoded length; > EIO_QUERY_SID_MAX means "too long" */
    char sid[EIO_QUERY_SID_MAX + 1]; /* decoded value, NUL-terminated (when it fits) */
} eio_query_t;

/**
 * Parses `qs` (the raw query string without '?'). Values are percent-decoded ('+' is a
 * space); a bad escape makes the value unusable (transport unknown, protocol 3, sid that
 * matches nothing). Never fails.
 */
void eio_query_parse(slice_t qs, eio_query_t *q);

/** Request methods as far as Engine.IO distinguishes them. */
typedef enum eio_method {
    EIO_METHOD_GET,
    EIO_METHOD_POST,
    EIO_METHOD_OTHER,
} eio_method_t;

/** What eio_verify decided. */
typedef enum eio_route {
    EIO_ROUTE_REFUSE,          /* answer with the error code */
    EIO_ROUTE_HANDSHAKE,       /* open a new session on query.transport */
    EIO_ROUTE_POLL_GET,        /* long-polling receive on an existing polling session */
    EIO_ROUTE_POLL_POST,       /* long-polling send */
    EIO_ROUTE_POLL_BAD_METHOD, /* another method on a polling session: bare 500 */
    EIO_ROUTE_UPGRADE,         /* WebSocket for an existing session (probe or duplicate) */
} eio_route_t;

/** The inputs of eio_verify. */
typedef struct eio_verify_in {
    eio_method_t method;
    bool is_upgrade; /* a WebSocket upgrade request */
    const eio_query_t *query;
    bool has_origin;                   /* an Origin header is present */
    slice_t origin;                    /* its value (borrowed for the call) */
    unsigned transports;               /* enabled transports (bits); 0 = both */
    eio_transport_t session_transport; /* the sid's session transport, NONE if unknown */
} eio_verify_in_t;

/** Decides what to do with a request (see the header comment). On EIO_ROUTE_REFUSE
 *  `*err` is set. */
eio_route_t eio_verify(const eio_verify_in_t *in, eio_error_t *err);

/** HTTP status for an error code: 403 for EIO_ERR_FORBIDDEN, else 400. */
int eio_error_status(eio_error_t err);

/** The exact JSON body, e.g. `{"code":1,"message":"Session ID unknown"}` (static). */
slice_t eio_error_body(eio_error_t err);

/** The message alone ("Session ID unknown"), for WebSocket-upgrade refusals (static). */
const char *eio_error_message(eio_error_t err);

/** True if `v` holds only characters valid in an HTTP header value (tab, 0x20-0x7e,
 *  0x80-0xff), as Node's checkInvalidHeaderChar requires of Origin. */
bool eio_header_value_is_valid(slice_t v);

#endif
