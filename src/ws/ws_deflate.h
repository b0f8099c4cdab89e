/*
 * ws_deflate: permessage-deflate for server-side WebSockets (ws layer).
 *
 * Negotiation: ws_deflate_negotiate reads the client's Sec-WebSocket-Extensions
 * offers and picks the first permessage-deflate offer we can honour; the response
 * line echoes the agreed parameters. We accept server_no_context_takeover,
 * client_no_context_takeover, server_max_window_bits 9..15 (zlib cannot produce a raw
 * deflate stream with an 8-bit window, so such an offer is declined) and
 * client_max_window_bits with or without a value (our inflater always uses a 15-bit
 * window, which reads every smaller window, so we do not answer with a limit).
 *
 * Compression: raw deflate (zlib windowBits negative). Each outgoing message is
 * compressed with a sync flush and the trailing 00 00 ff ff is stripped; each incoming
 * message gets 00 00 ff ff appended before inflating. Without context takeover the
 * zlib state is released after every message (it is large: about 256 KiB for a
 * deflater at the defaults), otherwise it persists for the connection.
 *
 * Ownership: ws_deflate_t is owned by its ws_conn. Output goes to caller buffers.
 * Threading: one owner, loop thread. Spec: RFC 7692 §5 (negotiation), §7 (the
 * permessage-deflate extension), §7.2.1-7.2.3 (compression, decompression, 00 00 ff ff).
 */
#ifndef SIOC_WS_DEFLATE_H
#define SIOC_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** The agreed parameters. */
typedef struct ws_deflate_params {
    bool server_no_context_takeover; /**< we reset our compressor per message */
    bool client_no_context_takeover; /**< the client resets per message */
    uint8_t server_max_window_bits;  /**< 9..15 when the client asked for a limit, else 0 */
} ws_deflate_params_t;

typedef struct ws_deflate ws_deflate_t;

/**
 * Examines one Sec-WebSocket-Extensions header value (a comma-separated list of
 * offers). Returns true and fills *out for the first acceptable permessage-deflate
 * offer; false when there is none.
 */
bool ws_deflate_negotiate(slice_t offers, ws_deflate_params_t *out);

/** Writes "Sec-WebSocket-Extensions: permessage-deflate[; ...]\r\n" for `p` into
 *  `out` (`cap` >= 128). Returns its length. */
size_t ws_deflate_response(const ws_deflate_params_t *p, char *out, size_t cap);

/** A new codec state for a connection with parameters `p` and zlib `level`
 *  (1..9). zlib streams are created on first use. */
ws_deflate_t *ws_deflate_new(const ws_deflate_params_t *p, int level);

/** Frees the codec and its zlib streams. NULL-safe. */
void ws_deflate_free(ws_deflate_t *d);

/**
 * Inflates one received message `in` (payload as sent, without the 00 00 ff ff) and
 * appends the result to `out`. Returns 0, 1009 (WS_CLOSE_TOO_BIG) when the result
 * would pass `max` bytes, or 1007 (WS_CLOSE_INVALID_DATA) for corrupt data.
 */
unsigned ws_deflate_inflate(ws_deflate_t *d, slice_t in, buf_t *out, size_t max);

/** Compresses the message made of `n` parts and appends the payload to send (trailing
 *  00 00 ff ff removed) to `out`. Returns 0, or -1 if zlib failed (send uncompressed). */
int ws_deflate_deflate(ws_deflate_t *d, const slice_t *parts, size_t n, buf_t *out);

#endif
