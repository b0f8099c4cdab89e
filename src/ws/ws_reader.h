/*
 * ws_reader: the receive state machine of a server-side WebSocket, no I/O (ws layer).
 *
 * Turns the bytes a client sends into events: complete messages, pings, pongs, close
 * frames, or a protocol error with its close code. It applies the message-level rules
 * of RFC 6455 on top of ws_frame_parse_header: continuation frames only inside a
 * fragmented message and data frames only outside one, the size bound on a whole
 * message (1009), and UTF-8 validity of text messages (1007, checked incrementally so
 * a bad fragment fails at once and a character split across fragments is fine).
 * Compressed messages (RSV1 on the first frame, permessage-deflate) are delivered
 * still compressed with `compressed` set; inflating and validating them is the
 * caller's job (ws_deflate).
 *
 * Buffers: the caller passes its (writable) input. A message that arrives whole in
 * one input is unmasked in place and delivered as a slice of that input (zero copy).
 * Otherwise the payload is unmasked and appended to the reader's own buffer, which is
 * allocated on demand, bounded by max_message, and freed at the next call after the
 * message was delivered. A control frame that is not complete yet is not consumed,
 * so the caller keeps at most 14 + 125 bytes of it.
 *
 * Ownership: the reader owns its message buffer (ws_reader_dispose frees it). Event
 * slices are valid until the next call. Threading: pure, one owner.
 * Spec: RFC 6455 §5.4 (fragmentation), §5.5 (control frames), §5.6 + §8.1 (UTF-8),
 * §7.4 (close codes), §10.4 (size limits); RFC 7692 §6.1 (RSV1 on the first frame).
 */
#ifndef SIOC_WS_READER_H
#define SIOC_WS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "base/utf8.h"
#include "ws/ws_frame.h"

/** What ws_reader_next found. */
typedef enum ws_event_type {
    WS_EV_NEED_MORE = 0, /**< every complete unit was consumed; feed more bytes */
    WS_EV_MESSAGE,       /**< a complete data message */
    WS_EV_PING,          /**< a ping; answer with a pong carrying `data` */
    WS_EV_PONG,          /**< a pong */
    WS_EV_CLOSE,         /**< a valid close frame: `close_code`, reason in `data` */
    WS_EV_ERROR,         /**< protocol error: close with `close_code`, `reason` */
} ws_event_type_t;

/** One event. */
typedef struct ws_event {
    slice_t data;          /**< message / control payload / close reason (borrowed) */
    unsigned close_code;   /**< WS_EV_CLOSE: the peer's code; WS_EV_ERROR: ours */
    const char *reason;    /**< WS_EV_ERROR: static text for the close frame */
    bool binary;           /**< WS_EV_MESSAGE: binary (else text) */
    bool compressed;       /**< WS_EV_MESSAGE: RSV1 was set (permessage-deflate) */
} ws_event_t;

/** The reader state. Fields are private. */
typedef struct ws_reader {
    buf_t msg;            /* accumulated payload of a fragmented or split message */
    const char *err_reason; /* the reported error's static reason */
    uint32_t frame_left;  /* payload bytes of the current data frame still to come */
    uint32_t frame_off;   /* payload bytes of the current frame already seen (mask) */
    uint32_t msg_len;     /* bytes of the current message so far */
    uint32_t max_message; /* bound on msg_len (at most 4 GiB - 1) */
    utf8_state_t utf8;    /* incremental check of a text message */
    uint8_t mask[4];      /* masking key of the current frame */
    uint16_t err_code;    /* the reported error's close code */
    uint8_t msg_op;       /* WS_OP_TEXT/BINARY of the open message, 0 if none */
    uint8_t flags;        /* enum ws_parse_flags */
    bool in_frame;        /* inside the payload of an accumulated data frame */
    bool frame_fin;       /* that frame ends the message */
    bool compressed;      /* the open message is compressed */
    bool release;         /* free `msg` at the next call (it was delivered) */
    bool failed;          /* an error was reported; every later call reports it */
} ws_reader_t;

/** Sets up a reader for messages up to `max_message` bytes (clamped to 4 GiB - 1).
 *  `flags` are ws_parse_flags (servers pass WS_PARSE_REQUIRE_MASK,
 *  plus WS_PARSE_ALLOW_RSV1 when permessage-deflate was negotiated). */
void ws_reader_init(ws_reader_t *r, size_t max_message, unsigned flags);

/** Frees the message buffer. The reader may be initialised again afterwards. */
void ws_reader_dispose(ws_reader_t *r);

/**
 * Consumes bytes from `p[0..len)` (writable: payloads are unmasked in place) up to and
 * including the next event, and sets *consumed. Returns the event type and fills *ev
 * (for everything but WS_EV_NEED_MORE). The caller calls again with the rest of its
 * input until WS_EV_NEED_MORE, and keeps the unconsumed bytes for the next call.
 * After WS_EV_ERROR the reader is dead: it reports the same error again.
 */
ws_event_type_t ws_reader_next(ws_reader_t *r, uint8_t *p, size_t len, size_t *consumed,
                               ws_event_t *ev);

#endif
