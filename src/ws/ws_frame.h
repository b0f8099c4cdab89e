/*
 * ws_frame: the WebSocket frame codec, no I/O (ws layer, STYLE rule 24).
 *
 * Parsing reads one frame header from bytes and answers "need more", "protocol
 * error with a close code", or the header; the caller handles the payload (unmasking
 * in place with ws_frame_unmask). Encoding writes a frame header into a caller buffer,
 * so an upper layer can build one complete frame (header + payload) in an rcbuf and
 * share it among many recipients (the broadcast path):
 *
 *   uint8_t hdr[WS_FRAME_HEADER_MAX];
 *   size_t h = ws_frame_header_encode(hdr, WS_OP_TEXT, true, false, len);
 *   rcbuf_t *f = rcbuf_new(h + len);  memcpy(f->data, hdr, h);  ...payload...
 *   ws_send_frame(ws, f) for every recipient;  rcbuf_unref(f);
 *
 * Ownership: functions only touch the caller's buffers. Threading: pure, reentrant.
 * Spec: RFC 6455 §5.2 (base framing), §5.3 (masking), §5.4 (fragmentation), §5.5
 * (control frames), §7.4 (close status codes); RFC 7692 §6 (RSV1 = compressed).
 */
#ifndef SIOC_WS_FRAME_H
#define SIOC_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/** Frame opcodes (RFC 6455 §5.2). */
enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/** Close status codes (RFC 6455 §7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005,      /**< never sent: "no code in the close frame" */
    WS_CLOSE_ABNORMAL = 1006,       /**< never sent: "closed without a close frame" */
    WS_CLOSE_INVALID_DATA = 1007,   /**< e.g. invalid UTF-8 in a text message */
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXT = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

/** Longest server (unmasked) frame header: 2 + 8 bytes. */
#define WS_FRAME_HEADER_MAX 10
/** Longest client (masked) frame header: 2 + 8 + 4 bytes. */
#define WS_FRAME_HEADER_MAX_MASKED 14
/** Largest control frame payload (RFC 6455 §5.5). */
#define WS_CONTROL_MAX 125

/** A parsed frame header. */
typedef struct ws_frame_header {
    uint64_t payload_len; /**< payload bytes that follow the header */
    uint8_t mask[4];      /**< masking key, when `masked` */
    uint8_t opcode;       /**< enum ws_opcode */
    uint8_t header_len;   /**< bytes of the header itself (2..14) */
    bool fin;             /**< final fragment of a message */
    bool rsv1;            /**< RSV1: "compressed" under permessage-deflate */
    bool masked;          /**< MASK bit */
} ws_frame_header_t;

/** Flags for ws_frame_parse_header. */
enum ws_parse_flags {
    WS_PARSE_REQUIRE_MASK = 1 << 0, /**< server side: unmasked frames are errors */
    WS_PARSE_ALLOW_RSV1 = 1 << 1,   /**< an extension using RSV1 was negotiated */
};

/** ws_frame_parse_header result when the bytes hold no complete header yet. */
#define WS_FRAME_NEED_MORE 0

/**
 * Parses the frame header at `p` (`len` bytes available).
 * Returns:
 *   > 0  the header length; *h is filled;
 *   0    (WS_FRAME_NEED_MORE) not enough bytes for a header yet; nothing filled;
 *   < 0  a protocol error: minus the close code to send (-1002), with a static reason
 *        in *err: RSV2/RSV3 set, RSV1 set without WS_PARSE_ALLOW_RSV1 or on a control
 *        frame, unknown opcode, fragmented or over-125-byte control frame, a 64-bit
 *        length with the top bit set, or (with WS_PARSE_REQUIRE_MASK) no mask.
 * Message-level rules (continuation order, sizes, UTF-8) are the caller's: see
 * ws_reader.h.
 */
int ws_frame_parse_header(const uint8_t *p, size_t len, unsigned flags, ws_frame_header_t *h,
                          const char **err);

/**
 * XORs `len` bytes at `p` with `mask`, in place, as if they started at payload offset
 * `offset` (so a payload can be unmasked in pieces). Works a machine word at a time.
 */
void ws_frame_unmask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);

/**
 * Writes an unmasked (server) frame header for a `payload_len`-byte payload into
 * `out` (room for WS_FRAME_HEADER_MAX bytes), using the shortest length form.
 * Returns the header length (2, 4 or 10).
 */
size_t ws_frame_header_encode(uint8_t *out, unsigned opcode, bool fin, bool rsv1,
                              uint64_t payload_len);

/**
 * Writes a masked (client) frame header with masking key `mask` into `out` (room for
 * WS_FRAME_HEADER_MAX_MASKED bytes); the caller masks the payload with
 * ws_frame_unmask. For test clients and the load generator. Returns the length (6, 8
 * or 14).
 */
size_t ws_frame_header_encode_masked(uint8_t *out, unsigned opcode, bool fin, bool rsv1,
                                     uint64_t payload_len, const uint8_t mask[4]);

/** True if `code` may appear in a received close frame (1000-1003, 1007-1014,
 *  3000-4999; RFC 6455 §7.4 and the IANA registry). */
bool ws_close_code_is_valid(unsigned code);

/**
 * Checks a received close frame payload: empty (no code), or a valid 2-byte code
 * followed by a UTF-8 reason. Returns 0 and sets *code (WS_CLOSE_NO_STATUS when empty)
 * and *reason (borrowed from `payload`), or returns WS_CLOSE_PROTOCOL_ERROR (length 1,
 * invalid code, reason not UTF-8) with a static reason in *err.
 */
int ws_close_payload_parse(slice_t payload, unsigned *code, slice_t *reason, const char **err);

/**
 * Writes a close frame payload (2-byte code + reason truncated to 123 bytes) into
 * `out` (room for WS_CONTROL_MAX bytes). Returns its length; 0 when `code` is 0 (an
 * empty close frame).
 */
size_t ws_close_payload_encode(uint8_t *out, unsigned code, slice_t reason);

#endif
