/*
 * ws_reader: frames -> messages. Two paths:
 *
 *   fast:  [hdr|payload of a whole FIN frame, first of its message]  -> unmask in place,
 *          deliver the slice of the caller's input (no copy)
 *   slow:  fragments, or a frame split across reads:
 *          [hdr|part of payload] -> unmask, append to r->msg ... FIN complete -> deliver
 *          r->msg, free it at the next call
 *
 * Control frames may come between the fragments of a message; they are handled from
 * the input directly and never touch r->msg.
 */
#include "ws/ws_reader.h"

#include <string.h>

void ws_reader_init(ws_reader_t *r, size_t max_message, unsigned flags)
{
    *r = (ws_reader_t){0};
    r->max_message = max_message < UINT32_MAX ? (uint32_t)max_message : UINT32_MAX - 1;
    r->flags = (uint8_t)flags;
}

void ws_reader_dispose(ws_reader_t *r)
{
    buf_dispose(&r->msg);
    r->release = false;
}

static ws_event_type_t fail(ws_reader_t *r, ws_event_t *ev, unsigned code, const char *why)
{
    r->failed = true;
    r->err_code = (uint16_t)code;
    r->err_reason = why;
    ev->close_code = code;
    ev->reason = why;
    ev->data = slice_make(NULL, 0);
    buf_dispose(&r->msg);
    return WS_EV_ERROR;
}

static void message_done(ws_reader_t *r)
{
    r->msg_op = 0;
    r->msg_len = 0;
    r->compressed = false;
    r->utf8 = UTF8_STATE_INIT;
}

static bool check_text(ws_reader_t *r, const uint8_t *p, size_t n)
{
    if (r->msg_op != WS_OP_TEXT || r->compressed)
        return true;
    return utf8_feed(&r->utf8, p, n);
}

static ws_event_type_t control_frame(ws_reader_t *r, const ws_frame_header_t *h, uint8_t *pl,
                                     ws_event_t *ev)
{
    if (h->masked)
        ws_frame_unmask(pl, h->payload_len, h->mask, 0);
    ev->data = slice_make(pl, h->payload_len);
    if (h->opcode == WS_OP_PING)
        return WS_EV_PING;
    if (h->opcode == WS_OP_PONG)
        return WS_EV_PONG;
    const char *err = NULL;
    unsigned code;
    slice_t reason;
    if (ws_close_payload_parse(ev->data, &code, &reason, &err) != 0)
        return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, err);
    ev->close_code = code;
    ev->data = reason;
    return WS_EV_CLOSE;
}

/* Header of a data frame: message-level checks and bookkeeping. Returns 0 or an error
 * close code with *why set. */
static unsigned data_frame_start(ws_reader_t *r, const ws_frame_header_t *h, const char **why)
{
    if (h->opcode == WS_OP_CONT) {
        if (!r->msg_op) {
            *why = "continuation frame outside a fragmented message";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        if (h->rsv1) {
            *why = "RSV1 on a continuation frame";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
    } else {
        if (r->msg_op) {
            *why = "new data frame inside a fragmented message";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        r->msg_op = h->opcode;
        r->compressed = h->rsv1;
        r->utf8 = UTF8_STATE_INIT;
        r->msg_len = 0;
    }
    if (h->payload_len > r->max_message - r->msg_len) {
        *why = "message too big";
        return WS_CLOSE_TOO_BIG;
    }
    r->msg_len += (uint32_t)h->payload_len;
    return 0;
}

static ws_event_type_t deliver(ws_reader_t *r, slice_t msg, ws_event_t *ev)
{
    if (r->msg_op == WS_OP_TEXT && !r->compressed && !utf8_is_complete(&r->utf8))
        return fail(r, ev, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
    ev->data = msg;
    ev->binary = r->msg_op == WS_OP_BINARY;
    ev->compressed = r->compressed;
    message_done(r);
    return WS_EV_MESSAGE;
}

/* Slow path: the payload of the current frame, as far as the input goes. */
static ws_event_type_t accumulate(ws_reader_t *r, uint8_t *p, size_t len, size_t *off,
                                  ws_event_t *ev)
{
    size_t k = r->frame_left < len - *off ? (size_t)r->frame_left : len - *off;
    if (k) {
        uint8_t *d = p + *off;
        ws_frame_unmask(d, k, r->mask, r->frame_off);
        if (!check_text(r, d, k))
            return fail(r, ev, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        uint8_t *dst = buf_try_reserve(&r->msg, k);
        if (!dst)
            return fail(r, ev, WS_CLOSE_TOO_BIG, "out of memory for the message");
        memcpy(dst, d, k);
        buf_commit(&r->msg, k);
        r->frame_off += (uint32_t)k;
        r->frame_left -= (uint32_t)k;
        *off += k;
    }
    if (r->frame_left)
        return WS_EV_NEED_MORE;
    r->in_frame = false;
    if (!r->frame_fin)
        return WS_EV_NEED_MORE; /* frame done; the caller loop goes on to the next */
    r->release = true;
    return deliver(r, buf_slice(&r->msg), ev);
}

ws_event_type_t ws_reader_next(ws_reader_t *r, uint8_t *p, size_t len, size_t *consumed,
                               ws_event_t *ev)
{
    *ev = (ws_event_t){0};
    *consumed = 0;
    if (r->failed) {
        ev->close_code = r->err_code;
        ev->reason = r->err_reason;
        return WS_EV_ERROR;
    }
    if (r->release) {
        buf_dispose(&r->msg);
        r->release = false;
    }
    size_t off = 0;
    for (;;) {
        if (r->in_frame) {
            ws_event_type_t t = accumulate(r, p, len, &off, ev);
            *consumed = off;
            if (t != WS_EV_NEED_MORE || r->in_frame || off == len)
                return t;
            continue;
        }
        ws_frame_header_t h;
        const char *err = NULL;
        int hl = ws_frame_parse_header(p + off, len - off, r->flags, &h, &err);
        if (hl == WS_FRAME_NEED_MORE)
            return WS_EV_NEED_MORE;
        if (hl < 0)
            return fail(r, ev, (unsigned)-hl, err);
        size_t avail = len - off - (size_t)hl;
        if (h.opcode >= WS_OP_CLOSE) {
            if (avail < h.payload_len)
                return WS_EV_NEED_MORE;
            *consumed = off + (size_t)hl + h.payload_len;
            return control_frame(r, &h, p + off + hl, ev);
        }
        unsigned code = data_frame_start(r, &h, &err);
        if (code)
            return fail(r, ev, code, err);
        off += (size_t)hl;
        if (h.fin && h.opcode != WS_OP_CONT && avail >= h.payload_len) {
            uint8_t *pl = p + off;
            ws_frame_unmask(pl, h.payload_len, h.mask, 0);
            *consumed = off + h.payload_len;
            if (!check_text(r, pl, h.payload_len))
                return fail(r, ev, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
            return deliver(r, slice_make(pl, h.payload_len), ev);
        }
        r->in_frame = true;
        r->frame_left = (uint32_t)h.payload_len; /* <= max_message, checked above */
        r->frame_off = 0;
        r->frame_fin = h.fin;
        memcpy(r->mask, h.mask, 4);
        *consumed = off;
    }
}
