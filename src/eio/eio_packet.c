/*
 * eio_packet: Engine.IO v4 packet and polling payload codec. See eio_packet.h.
 *
 * Base64 records are decoded in place with base64_decode(in, n, out = in): that decoder
 * reads character i before it writes output byte floor(6(i+1)/8) - 1 <= i, so the write
 * position never passes the read position (tests/unit/eio/test_eio_packet.c checks this
 * in-place use, so a change in base64.c that broke it would fail there).
 */
#include "eio/eio_packet.h"

#include <string.h>

#include "base/base64.h"
#include "base/json.h"

static const char ERR_EMPTY[] = "eio: empty packet";
static const char ERR_TYPE[] = "eio: unknown packet type";
static const char ERR_BASE64[] = "eio: invalid base64 in binary packet";
static const char ERR_TOO_MANY[] = "eio: too many packets in payload";
static const char ERR_FAILED[] = "eio: payload decoding already failed";

static inline void set_err(const char **err, const char *msg)
{
    if (err)
        *err = msg;
}

/* Decodes the record p[0..len), already known to be non-empty. */
static int decode_record(uint8_t *p, size_t len, eio_packet_t *out, const char **err)
{
    if (p[0] == 'b') {
        /* Node's decoder is lenient about padding; standard alphabet, padding optional. */
        ssize_t n = base64_decode((const char *)p + 1, len - 1, p, BASE64_STD | BASE64_NOPAD);
        if (n < 0) {
            set_err(err, ERR_BASE64);
            return -1;
        }
        *out = (eio_packet_t){EIO_MESSAGE, true, slice_make(p, (size_t)n)};
        return 0;
    }
    if (p[0] < '0' || p[0] > '6') {
        set_err(err, ERR_TYPE);
        return -1;
    }
    *out = (eio_packet_t){(eio_packet_type_t)(p[0] - '0'), false, slice_make(p + 1, len - 1)};
    return 0;
}

int eio_packet_decode_text(uint8_t *msg, size_t len, eio_packet_t *out, const char **err)
{
    if (len == 0) {
        set_err(err, ERR_EMPTY);
        return -1;
    }
    return decode_record(msg, len, out, err);
}

void eio_packet_decode_binary(slice_t msg, eio_packet_t *out)
{
    *out = (eio_packet_t){EIO_MESSAGE, true, msg};
}

void eio_payload_iter_init(eio_payload_iter_t *it, uint8_t *payload, size_t len,
                           unsigned max_packets)
{
    *it = (eio_payload_iter_t){
        ._p = payload,
        ._len = len,
        ._max = max_packets ? max_packets : EIO_PAYLOAD_MAX_PACKETS,
    };
}

/* engine.io-parser splits on 0x1E and decodes every piece, stopping at the first error;
 * "".split(sep) is [""], so an empty body is one empty (invalid) record, and a trailing
 * separator yields a final empty record. */
int eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out, const char **err)
{
    if (it->_state == 1)
        return 0;
    if (it->_state < 0)
        goto out_fail;
    if (it->_count >= it->_max) {
        set_err(err, ERR_TOO_MANY);
        it->_state = -1;
        return -1;
    }
    uint8_t *start = it->_p + it->_pos;
    size_t rest = it->_len - it->_pos;
    uint8_t *sep = rest ? memchr(start, EIO_RECORD_SEP, rest) : NULL;
    size_t n = sep ? (size_t)(sep - start) : rest;
    if (n == 0) {
        set_err(err, ERR_EMPTY);
        it->_state = -1;
        return -1;
    }
    if (decode_record(start, n, out, err) < 0) {
        it->_state = -1;
        return -1;
    }
    it->_count++;
    if (sep)
        it->_pos += n + 1;
    else
        it->_state = 1;
    return 1;
out_fail:
    set_err(err, ERR_FAILED);
    return -1;
}

void eio_packet_encode(buf_t *out, eio_packet_type_t type, slice_t data)
{
    uint8_t *p = buf_reserve(out, 1 + data.len);
    p[0] = (uint8_t)('0' + type);
    if (data.len)
        memcpy(p + 1, data.ptr, data.len);
    buf_commit(out, 1 + data.len);
}

void eio_packet_encode_b64(buf_t *out, slice_t bytes)
{
    size_t n = base64_encoded_len(bytes.len, BASE64_STD);
    uint8_t *p = buf_reserve(out, 1 + n);
    p[0] = 'b';
    base64_encode(bytes.ptr, bytes.len, (char *)p + 1, BASE64_STD);
    buf_commit(out, 1 + n);
}

void eio_payload_append(buf_t *out, bool first, const eio_packet_t *pkt)
{
    if (!first)
        buf_append_byte(out, EIO_RECORD_SEP);
    if (pkt->binary)
        eio_packet_encode_b64(out, pkt->data);
    else
        eio_packet_encode(out, pkt->type, pkt->data);
}

void eio_payload_append_encoded(buf_t *out, bool first, slice_t record)
{
    if (!first)
        buf_append_byte(out, EIO_RECORD_SEP);
    buf_append_slice(out, record);
}

void eio_open_encode(buf_t *out, const eio_open_params_t *p)
{
    buf_append(out, "0{\"sid\":", 8);
    json_append_string(out, p->sid);
    if (p->upgrade_websocket)
        buf_append_cstr(out, ",\"upgrades\":[\"websocket\"]");
    else
        buf_append_cstr(out, ",\"upgrades\":[]");
    buf_append_cstr(out, ",\"pingInterval\":");
    buf_append_u64(out, p->ping_interval);
    buf_append_cstr(out, ",\"pingTimeout\":");
    buf_append_u64(out, p->ping_timeout);
    buf_append_cstr(out, ",\"maxPayload\":");
    buf_append_u64(out, p->max_payload);
    buf_append_byte(out, '}');
}
