/*
 * eio_packet: the Engine.IO v4 packet and polling-payload codec (eio layer, pure).
 *
 * No I/O, no clock, no allocation on decode (STYLE rule 24). Decoders take the bytes of
 * one WebSocket message or one polling body and hand back packets whose data are slices
 * into that input. The one transformation is base64 (`b...` records, polling binary):
 * it is decoded IN PLACE, over the record's own bytes (decoded data is always shorter
 * than its base64 text and is written left to right behind the read position), which is
 * why those decoders take a mutable `uint8_t *`. A record is only rewritten when it is
 * reached, so packets already returned stay intact.
 *
 *   polling body:  4hello 1E bAQIDBA== 1E 2
 *                  |----|    |-------|    |
 *   after next():  "hello"   01 02 03 04 (written over "AQID..")   ping
 *
 * Encoders append to a caller `buf_t` (which aborts on OOM: sizes are ours).
 *
 * Ownership: input buffers are borrowed; returned `eio_packet_t.data` slices point into
 * them and live as long as they do (and until the caller reuses the buffer).
 * Threading: stateless except the iterator, which belongs to its caller; reentrant.
 * Spec: socketio-protocol.md §1.2 (packet encoding, decodePacket rules), §1.3 (open
 * packet), §1.4 (payload encoding, 0x1E separator, `b` + base64).
 */
#ifndef SIOC_EIO_PACKET_H
#define SIOC_EIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Engine.IO v4 packet types; the wire form is the ASCII digit. */
typedef enum eio_packet_type {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
} eio_packet_type_t;

/** The polling record separator (ASCII RS). */
#define EIO_RECORD_SEP 0x1E

/** A reasonable default for the packet-count cap of one polling payload: far above what
 *  engine.io-client batches (it splits by maxPayload bytes), far below the 500k one-byte
 *  records a 1 MB body could hold. */
#define EIO_PAYLOAD_MAX_PACKETS 4096

/** One decoded packet. */
typedef struct eio_packet {
    eio_packet_type_t type;
    bool binary;  /* a message whose data is bytes: a WebSocket binary frame or a `b` record */
    slice_t data; /* payload after the type digit (empty when none); borrowed from the input */
} eio_packet_t;

/**
 * Decodes one Engine.IO packet from a text message (WebSocket text frame). Returns 0 and
 * fills `out`, or -1 with `*err` = "parse error" reason when the message is empty or its
 * first byte is not `0`..`6` or `b` (the reference then closes the session with reason
 * `parse error`). A `b` message (base64 binary, legal over WebSocket too in the reference)
 * is decoded in place in `msg`; `out->data` then points at the decoded bytes, at `msg`.
 * Invalid base64 also fails. Only a message starting with `b` is ever written to, so a
 * caller may pass read-only bytes when it has checked that first byte itself.
 */
int eio_packet_decode_text(uint8_t *msg, size_t len, eio_packet_t *out, const char **err);

/** Decodes a binary message (WebSocket binary frame): always a binary `message` packet whose
 *  data is the whole input (no type byte in v4). Never fails. */
void eio_packet_decode_binary(slice_t msg, eio_packet_t *out);

/** An iterator over the records of one polling payload. Embeddable; fields private. */
typedef struct eio_payload_iter {
    uint8_t *_p;     /* payload bytes (rewritten in place for `b` records) */
    size_t _len;     /* payload length */
    size_t _pos;     /* start of the next record */
    unsigned _count; /* records returned so far */
    unsigned _max;   /* cap on records */
    int _state;      /* 0 running, 1 done, -1 failed */
} eio_payload_iter_t;

/**
 * Starts iterating the polling payload `payload[0..len)` (a POST body), which the iterator
 * may rewrite in place (base64 records). `max_packets` caps the records (0 selects
 * EIO_PAYLOAD_MAX_PACKETS). The payload stays borrowed for the iteration and for as long as
 * the returned packets are used.
 */
void eio_payload_iter_init(eio_payload_iter_t *it, uint8_t *payload, size_t len,
                           unsigned max_packets);

/**
 * Returns the next packet: 1 with `*out` filled, 0 after the last record, -1 on a bad
 * record with `*err` set (an empty record, including the one an empty body or a trailing
 * 0x1E yields; a bad type digit; bad base64; more than `max_packets` records). As in
 * engine.io-parser, the packets before a bad record are valid and already returned;
 * after -1 the iterator keeps returning -1.
 */
int eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out, const char **err);

/**
 * Appends one packet in its text form: the type digit then `data`, e.g. `4hello`, `2`,
 * `3probe`. For a binary message use eio_packet_encode_b64 (polling) or send the bytes
 * as a WebSocket binary frame.
 */
void eio_packet_encode(buf_t *out, eio_packet_type_t type, slice_t data);

/** Appends a binary message in its polling form: `b` + standard base64 with padding. */
void eio_packet_encode_b64(buf_t *out, slice_t bytes);

/**
 * Appends one packet to a polling payload being built in `out`: a 0x1E separator first
 * unless `first`, then the packet (text form, or `b` + base64 when `pkt->binary`).
 */
void eio_payload_append(buf_t *out, bool first, const eio_packet_t *pkt);

/**
 * Appends an already-encoded text packet record (e.g. the shared `4...` bytes of a
 * broadcast) to a polling payload: a 0x1E separator first unless `first`, then `record`.
 */
void eio_payload_append_encoded(buf_t *out, bool first, slice_t record);

/** The handshake parameters of the open packet. */
typedef struct eio_open_params {
    slice_t sid;            /* session id (URL-safe, no escaping needed; it is escaped anyway) */
    bool upgrade_websocket; /* true: "upgrades":["websocket"]; false: "upgrades":[] */
    uint64_t ping_interval; /* ms */
    uint64_t ping_timeout;  /* ms */
    uint64_t max_payload;   /* bytes */
} eio_open_params_t;

/**
 * Appends the whole open packet, type digit included:
 * `0{"sid":"...","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,
 * "maxPayload":1000000}` — exactly these keys in this order, no whitespace.
 */
void eio_open_encode(buf_t *out, const eio_open_params_t *p);

#endif
