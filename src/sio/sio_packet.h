/*
 * sio_packet: the Socket.IO v5 packet codec, socket.io-parser 4.2.x semantics (sio layer,
 * pure).
 *
 * Decoding never builds a JSON DOM and never allocates. sio_packet_decode reads the
 * header (type, attachment count, namespace, ack id), validates the WHOLE payload as JSON
 * with the json scanner (socket.io-parser closes the connection on `42abc[...]`, `42{}`,
 * ...), checks its shape for the packet type, and for events locates the name and the
 * argument bytes. Arguments stay raw JSON text: `42["chat",{"a":1},2]` gives
 * name `"chat"` and args `{"a":1},2`, which a handler may scan later or which the server
 * may re-emit verbatim (`sio_encode_event(..., "chat-back", args)`).
 *
 * Decoder decisions (where the reference is looser or quirky):
 *   - ack id: the maximal run of ASCII digits, value <= SIO_ACK_ID_MAX (2^53-1, the JS
 *     safe-integer range; larger ids could not round-trip through a JS peer) else error.
 *     (The reference's digit test is `Number(c) == c`, which also lets a space through;
 *     we take digits only.)
 *   - attachments (`5`/`6`): one or more ASCII digits then `-`, value 1..max_attachments
 *     (socket.io-parser 4.2.7 rejects 0 and `5-`); missing `-` is an error.
 *   - namespace: from `/` to the next `,` (consumed) or to the end (`40/custom` is valid).
 *   - payload: JSON.parse rules (surrounding JSON whitespace allowed), depth <= 64.
 *   - shapes: CONNECT object (or absent); DISCONNECT absent; CONNECT_ERROR string or
 *     object (a server must refuse it from a client: opts.server does that here);
 *     EVENT/BINARY_EVENT non-empty array whose first element is a number or a string that
 *     is not reserved (connect, connect_error, disconnect, disconnecting, newListener,
 *     removeListener); ACK/BINARY_ACK array, or absent (taken as no arguments).
 *   - an EVENT with no payload at all (`42`) is rejected (the reference lets it through
 *     and then does nothing; the spec allows either).
 *   - BINARY_*: every placeholder object must have `num` an integer with
 *     0 <= num < attachments (checked at decode time, i.e. before the attachments arrive;
 *     the reference checks the same condition at reassembly). Non-integer nums are
 *     refused (the reference would substitute `undefined`).
 *
 * Encoding appends to a caller `buf_t`: `<type>[<N>-][<nsp>,][<id>][<payload>]`, the
 * namespace omitted when it is empty or "/". Building a broadcast WebSocket frame once:
 * either size it exactly with sio_event_encoded_len() and encode straight behind the
 * frame header + `4`, or reserve a SIO_FRAME_GAP-byte gap at the front of a scratch
 * buf_t (buf_reserve + buf_commit), encode, write the real (shorter or equal) header
 * right-aligned into the gap and buf_consume() the unused front bytes:
 *
 *   [ gap 0..10 | ws hdr | '4' | 2["ev",args] ]   ->  consume(gap) -> one contiguous frame
 *
 * Ownership: all inputs are borrowed for the call; every slice in a decoded sio_packet_t
 * points into the decoded message and lives as long as it (`nsp` may instead point at a
 * static "/").
 * Threading: stateless and reentrant.
 * Spec: socketio-protocol.md §2.1-§2.3 (encoding, decoder algorithm), §2.5 (acks).
 */
#ifndef SIOC_SIO_PACKET_H
#define SIOC_SIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/slice.h"

/** Socket.IO v5 packet types (the wire digit). */
typedef enum sio_packet_type {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
} sio_packet_type_t;

/** socket.io-parser's default cap on binary attachments per packet. */
#define SIO_MAX_ATTACHMENTS_DEFAULT 10

/** Largest ack id accepted and emitted: Number.MAX_SAFE_INTEGER. */
#define SIO_ACK_ID_MAX 9007199254740991ULL

/** Bytes to leave free before an encoded packet to fit any WebSocket server frame header
 *  (10 bytes max) plus the Engine.IO `4` message digit. */
#define SIO_FRAME_GAP 11

/** The header fields of a packet (decode output; encode input). */
typedef struct sio_header {
    sio_packet_type_t type;
    uint32_t attachments; /* BINARY_EVENT/BINARY_ACK only: number of binary messages that follow */
    slice_t nsp;          /* decode: "/" when absent; encode: empty or "/" means the main one */
    bool has_id;          /* an ack id is present */
    uint64_t id;          /* ack id (<= SIO_ACK_ID_MAX) when has_id */
} sio_header_t;

/** A decoded packet. All slices borrow the decoded message. */
typedef struct sio_packet {
    sio_header_t h;
    slice_t payload;          /* the JSON payload, surrounding whitespace trimmed; empty if none */
    json_type_t payload_type; /* its type, JSON_INVALID when there is no payload */
    /* EVENT / BINARY_EVENT: the first array element, raw (JSON_STRING with its quotes, or
     * JSON_NUMBER); read the decoded name with sio_packet_event_name. Otherwise zeroed. */
    json_value_t name;
    /* EVENT/BINARY_EVENT: the elements after the name; ACK/BINARY_ACK: all elements. The
     * bytes from the first argument's first byte to the last argument's last byte, commas
     * included, no brackets (`{"a":1},2`); empty when there are none. */
    slice_t args;
    uint32_t nargs; /* number of elements in `args` */
} sio_packet_t;

/** Decoder options. Pass NULL for the defaults (max 10 attachments, server = false). */
typedef struct sio_decode_opts {
    uint32_t max_attachments; /* 0 selects SIO_MAX_ATTACHMENTS_DEFAULT */
    bool server;              /* input comes from a client: CONNECT_ERROR is a violation */
} sio_decode_opts_t;

/**
 * Decodes one Socket.IO packet from the data of an Engine.IO text message (the bytes after
 * the `4`). Returns 0 and fills `out`, or -1 with `*err` set to a static reason (e.g.
 * "sio: invalid payload"); any error means the server closes the whole Engine.IO
 * connection. For BINARY_* the caller then collects `out->h.attachments` binary
 * messages (a text message meanwhile, or a binary one when none is expected, is the
 * caller's protocol error).
 */
int sio_packet_decode(slice_t msg, const sio_decode_opts_t *opts, sio_packet_t *out,
                      const char **err);

/**
 * The decoded event name of an EVENT/BINARY_EVENT packet. When the raw string has no
 * escapes (the usual case) `*name` points into the message and `scratch` is untouched;
 * otherwise the name is unescaped into `scratch[0..cap)` and `*name` points there. A
 * numeric first element yields its raw number text (e.g. `1`; JS would key it as
 * String(1)). Returns 0, or -1 when the packet is not an event or the unescaped name
 * does not fit in `cap` (raw length - 2 always fits).
 */
int sio_packet_event_name(const sio_packet_t *p, uint8_t *scratch, size_t cap, slice_t *name);

/**
 * Starts an iteration over the arguments of an EVENT/BINARY_EVENT (elements after the
 * name) or ACK/BINARY_ACK (all elements) packet; use json_array_next on `it`. Returns 0,
 * or -1 when the packet has no array payload. The iterator borrows the message.
 */
int sio_packet_args_begin(const sio_packet_t *p, json_iter_t *it);

/** Called for each placeholder found by sio_placeholders_walk: `obj` is the raw placeholder
 *  object text, `num` its index. Return 0 to go on, non-zero to stop the walk (the walk
 *  then returns that value). */
typedef int (*sio_placeholder_cb)(void *arg, slice_t obj, uint32_t num);

/**
 * Walks `json` (any JSON text, e.g. a packet payload or its args wrapped in brackets)
 * depth first in document order, finding every binary placeholder the way
 * socket.io-parser's reconstructPacket does: an object whose (last) `_placeholder` member
 * is `true` stands for an attachment and is not looked into. `num` must be an integer
 * with 0 <= num < attachments, else the walk fails with "sio: illegal attachments".
 * `cb` (may be NULL) sees each placeholder in order; `*found` (may be NULL) gets the
 * count. Returns 0, -1 on invalid JSON / an illegal placeholder (with `*err`), or the
 * callback's non-zero value.
 */
int sio_placeholders_walk(slice_t json, uint32_t attachments, sio_placeholder_cb cb, void *arg,
                          size_t *found, const char **err);

/** Appends the header `<type>[<N>-][<nsp>,][<id>]`. `h->attachments` is written only for
 *  BINARY_*, `h->id` only when `h->has_id`. */
void sio_encode_header(buf_t *out, const sio_header_t *h);

/** The exact length sio_encode_header appends. */
size_t sio_header_encoded_len(const sio_header_t *h);

/** Appends a whole packet: header then `payload` (raw JSON, may be empty). */
void sio_encode_packet(buf_t *out, const sio_header_t *h, slice_t payload);

/** Appends the server's CONNECT reply `0[<nsp>,]{"sid":"<sid>"}`. */
void sio_encode_connect(buf_t *out, slice_t nsp, slice_t sid);

/**
 * Appends a CONNECT_ERROR `4[<nsp>,]{"message":"<message>"[,"data":<data>]}`. `message`
 * is UTF-8 text (escaped here); `data_json` is raw JSON, and the member is omitted when it
 * is empty (JS `data: undefined`).
 */
void sio_encode_connect_error(buf_t *out, slice_t nsp, slice_t message, slice_t data_json);

/** Appends a DISCONNECT `1[<nsp>,]`. */
void sio_encode_disconnect(buf_t *out, slice_t nsp);

/**
 * Appends an event `2[<nsp>,][<id>]["<name>"[,<args>]]` (or `5<N>-...` when
 * `h->type == SIO_BINARY_EVENT`). `name` is UTF-8 text (escaped like JSON.stringify);
 * `args` is raw JSON: zero or more comma-separated values without brackets, e.g. the
 * `args` slice of a decoded packet, or empty. `h->type` must be EVENT or BINARY_EVENT.
 */
void sio_encode_event(buf_t *out, const sio_header_t *h, slice_t name, slice_t args);

/** The exact length sio_encode_event would append. */
size_t sio_event_encoded_len(const sio_header_t *h, slice_t name, slice_t args);

/**
 * Appends an ack `3[<nsp>,]<id>[<args>]` (or `6<N>-...` for BINARY_ACK); `args` as for
 * sio_encode_event. `h->type` must be ACK or BINARY_ACK and `h->has_id` set.
 */
void sio_encode_ack(buf_t *out, const sio_header_t *h, slice_t args);

#endif
