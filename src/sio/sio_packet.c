/*
 * sio_packet: Socket.IO v5 packet codec. See sio_packet.h for the contract and for where
 * we deliberately differ from socket.io-parser's quirks.
 *
 * Decoding is one pass over the header bytes and one validating pass over the payload.
 * Events and acks are validated by iterating the array (each element is scanned exactly
 * once), which also finds the name and the argument span on the way:
 *
 *   2/chat,17 [ "msg" , {"a":1} , 2 ]
 *   |  nsp |id  name   '---args---'
 */
#include "sio/sio_packet.h"

#include <string.h>

static const char ERR_EMPTY[] = "sio: empty packet";
static const char ERR_TYPE[] = "sio: unknown packet type";
static const char ERR_ATTACH[] = "sio: illegal attachments";
static const char ERR_TOO_MANY[] = "sio: too many attachments";
static const char ERR_ID[] = "sio: ack id too large";
static const char ERR_PAYLOAD[] = "sio: invalid payload";
static const char ERR_JSON[] = "sio: payload is not valid JSON";
static const char ERR_RESERVED[] = "sio: reserved event name";
static const char ERR_NO_DATA[] = "sio: event without payload";
static const char ERR_CLIENT_CE[] = "sio: CONNECT_ERROR from a client";

static const uint8_t MAIN_NSP[] = "/";

static inline void set_err(const char **err, const char *msg)
{
    if (err)
        *err = msg;
}

static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_binary_type(sio_packet_type_t t)
{
    return t == SIO_BINARY_EVENT || t == SIO_BINARY_ACK;
}

static inline bool is_main_nsp(slice_t nsp)
{
    return nsp.len == 0 || (nsp.len == 1 && nsp.ptr[0] == '/');
}

/* Parses the maximal digit run at p[*i], which must be non-empty, into *v <= max.
 * Returns 0, or -1 on overflow. */
static int parse_digits(const uint8_t *p, size_t len, size_t *i, uint64_t max, uint64_t *v)
{
    uint64_t acc = 0;
    bool over = false;
    while (*i < len && is_digit(p[*i])) {
        uint64_t d = (uint64_t)(p[*i] - '0');
        if (acc > (max - d) / 10)
            over = true;
        else
            acc = acc * 10 + d;
        (*i)++;
    }
    *v = acc;
    return over ? -1 : 0;
}

static const struct {
    const char *name;
    size_t len;
} RESERVED[] = {
    {"connect", 7},        {"connect_error", 13}, {"disconnect", 10},
    {"disconnecting", 13}, {"newListener", 11},   {"removeListener", 14},
};

/* The usual name has no escapes: compare its bytes directly; only an escaped name (which
 * could spell a reserved one, `"\u0063onnect"`) is decoded on the fly. */
static bool is_reserved_name(slice_t raw)
{
    bool esc = json_string_has_escapes(raw);
    size_t n = raw.len - 2;
    for (size_t k = 0; k < sizeof RESERVED / sizeof RESERVED[0]; k++) {
        slice_t r = slice_make(RESERVED[k].name, RESERVED[k].len);
        if (esc ? json_string_eq(raw, r) : (n == r.len && !memcmp(raw.ptr + 1, r.ptr, n)))
            return true;
    }
    return false;
}

/* Validates an array payload for EVENT/ACK and records the name (events) and the argument
 * span. `s` is the payload text (may carry surrounding whitespace). */
static int decode_array(slice_t s, bool event, sio_packet_t *out, const char **err)
{
    json_iter_t it;
    json_value_t v;
    const char *jerr = NULL;
    if (json_array_begin(&it, s, &jerr) < 0) {
        /* only the reason differs: valid JSON of the wrong shape, or not JSON at all */
        set_err(err, json_validate(s, NULL, NULL) == 0 ? ERR_PAYLOAD : ERR_JSON);
        return -1;
    }
    size_t first = json_skip_ws(s, 0);
    const uint8_t *astart = NULL, *aend = NULL;
    uint32_t n = 0;
    bool have_name = false;
    int rc;
    while ((rc = json_array_next(&it, &v, &jerr)) == 1) {
        if (event && !have_name) {
            out->name = v;
            have_name = true;
            continue;
        }
        if (!astart)
            astart = v.raw.ptr;
        aend = v.raw.ptr + v.raw.len;
        n++;
    }
    if (rc < 0 || json_skip_ws(s, json_iter_end(&it)) != s.len) {
        set_err(err, ERR_JSON);
        return -1;
    }
    out->payload = slice_make(s.ptr + first, json_iter_end(&it) - first);
    out->payload_type = JSON_ARRAY;
    out->args = astart ? slice_make(astart, (size_t)(aend - astart)) : slice_make(s.ptr, 0);
    out->nargs = n;
    if (!event)
        return 0;
    if (!have_name || (out->name.type != JSON_STRING && out->name.type != JSON_NUMBER)) {
        set_err(err, ERR_PAYLOAD);
        return -1;
    }
    if (out->name.type == JSON_STRING && is_reserved_name(out->name.raw)) {
        set_err(err, ERR_RESERVED);
        return -1;
    }
    return 0;
}

static int walk_value(json_value_t v, uint32_t attachments, sio_placeholder_cb cb, void *arg,
                      size_t *found, const char **err);

/* Validates the payload of a non-array packet type and checks its shape. */
static int decode_other(slice_t s, const sio_decode_opts_t *o, sio_packet_t *out, const char **err)
{
    json_value_t v;
    if (json_validate(s, &v, NULL) < 0) {
        set_err(err, ERR_JSON);
        return -1;
    }
    out->payload = v.raw;
    out->payload_type = v.type;
    switch (out->h.type) {
    case SIO_CONNECT:
        if (v.type == JSON_OBJECT)
            return 0;
        break;
    case SIO_CONNECT_ERROR:
        if (o->server) {
            set_err(err, ERR_CLIENT_CE);
            return -1;
        }
        if (v.type == JSON_OBJECT || v.type == JSON_STRING)
            return 0;
        break;
    default: /* DISCONNECT: no payload allowed */
        break;
    }
    set_err(err, ERR_PAYLOAD);
    return -1;
}

/* Reads `<type>[<N>-][<nsp>,][<id>]`, leaving *pos at the payload. */
static int decode_header(slice_t msg, uint32_t max_att, sio_header_t *h, size_t *pos,
                         const char **err)
{
    const uint8_t *p = msg.ptr;
    size_t len = msg.len, i = 1;
    if (len == 0) {
        set_err(err, ERR_EMPTY);
        return -1;
    }
    if (p[0] < '0' || p[0] > '6') {
        set_err(err, ERR_TYPE);
        return -1;
    }
    h->type = (sio_packet_type_t)(p[0] - '0');
    if (is_binary_type(h->type)) {
        uint64_t n;
        if (i >= len || !is_digit(p[i])) {
            set_err(err, ERR_ATTACH);
            return -1;
        }
        bool over = parse_digits(p, len, &i, UINT32_MAX, &n) < 0;
        if (i >= len || p[i] != '-' || (!over && n == 0)) {
            set_err(err, ERR_ATTACH);
            return -1;
        }
        if (over || n > max_att) {
            set_err(err, ERR_TOO_MANY);
            return -1;
        }
        h->attachments = (uint32_t)n;
        i++;
    }
    h->nsp = slice_make(MAIN_NSP, 1);
    if (i < len && p[i] == '/') {
        size_t start = i;
        const uint8_t *comma = memchr(p + i, ',', len - i);
        i = comma ? (size_t)(comma - p) : len;
        h->nsp = slice_make(p + start, i - start);
        if (comma)
            i++;
    }
    if (i < len && is_digit(p[i])) {
        h->has_id = true;
        if (parse_digits(p, len, &i, SIO_ACK_ID_MAX, &h->id) < 0) {
            set_err(err, ERR_ID);
            return -1;
        }
    }
    *pos = i;
    return 0;
}

int sio_packet_decode(slice_t msg, const sio_decode_opts_t *opts, sio_packet_t *out,
                      const char **err)
{
    sio_decode_opts_t o = opts ? *opts : (sio_decode_opts_t){0};
    if (o.max_attachments == 0)
        o.max_attachments = SIO_MAX_ATTACHMENTS_DEFAULT;
    memset(out, 0, sizeof *out);
    size_t pos;
    if (decode_header(msg, o.max_attachments, &out->h, &pos, err) < 0)
        return -1;
    slice_t s = slice_tail(msg, pos);
    out->payload = slice_make(s.ptr, 0);
    out->args = slice_make(s.ptr, 0);
    sio_packet_type_t t = out->h.type;
    bool event = t == SIO_EVENT || t == SIO_BINARY_EVENT;
    bool ack = t == SIO_ACK || t == SIO_BINARY_ACK;
    if (s.len == 0) {
        if (event) {
            set_err(err, ERR_NO_DATA);
            return -1;
        }
        if (t == SIO_CONNECT_ERROR && o.server) {
            set_err(err, ERR_CLIENT_CE);
            return -1;
        }
        return 0;
    }
    int rc = (event || ack) ? decode_array(s, event, out, err) : decode_other(s, &o, out, err);
    if (rc < 0 || !is_binary_type(t))
        return rc;
    json_value_t whole = {JSON_ARRAY, out->payload};
    return walk_value(whole, out->h.attachments, NULL, NULL, NULL, err) == 0 ? 0 : -1;
}

int sio_packet_event_name(const sio_packet_t *p, uint8_t *scratch, size_t cap, slice_t *name)
{
    if (p->h.type != SIO_EVENT && p->h.type != SIO_BINARY_EVENT)
        return -1;
    slice_t raw = p->name.raw;
    if (p->name.type == JSON_NUMBER) {
        *name = raw;
        return 0;
    }
    if (p->name.type != JSON_STRING || raw.len < 2)
        return -1;
    if (!json_string_has_escapes(raw)) {
        *name = slice_make(raw.ptr + 1, raw.len - 2);
        return 0;
    }
    size_t n;
    if (json_string_unescape(raw, scratch, cap, &n) < 0)
        return -1;
    *name = slice_make(scratch, n);
    return 0;
}

int sio_packet_args_begin(const sio_packet_t *p, json_iter_t *it)
{
    sio_packet_type_t t = p->h.type;
    bool event = t == SIO_EVENT || t == SIO_BINARY_EVENT;
    if (p->payload_type != JSON_ARRAY || !(event || t == SIO_ACK || t == SIO_BINARY_ACK))
        return -1;
    if (json_array_begin(it, p->payload, NULL) < 0)
        return -1;
    if (event && json_array_next(it, NULL, NULL) != 1)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ placeholders */

/* Looks at the direct members of an object for the reference's placeholder test. Returns
 * 1 when it is a placeholder (with *num set), 0 when not, -1 on an illegal one. */
static int placeholder_check(slice_t obj, uint32_t attachments, uint32_t *num, const char **err)
{
    json_iter_t it;
    json_value_t k, v, numv = {JSON_INVALID, {NULL, 0}};
    bool ph = false;
    json_object_begin(&it, obj, NULL);
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("_placeholder")))
            ph = v.type == JSON_TRUE;
        else if (json_string_eq(k.raw, SLICE_LIT("num")))
            numv = v;
    }
    if (!ph)
        return 0;
    int64_t n;
    if (numv.type != JSON_NUMBER || json_number_to_i64(numv.raw, &n) < 0 || n < 0 ||
        (uint64_t)n >= attachments) {
        set_err(err, ERR_ATTACH);
        return -1;
    }
    *num = (uint32_t)n;
    return 1;
}

/* Depth-first walk of an already validated value (depth is bounded by JSON_MAX_DEPTH,
 * so the recursion is too). */
static int walk_value(json_value_t v, uint32_t attachments, sio_placeholder_cb cb, void *arg,
                      size_t *found, const char **err)
{
    json_iter_t it;
    json_value_t k, child;
    if (v.type == JSON_ARRAY) {
        json_array_begin(&it, v.raw, NULL);
        while (json_array_next(&it, &child, NULL) == 1) {
            int rc = walk_value(child, attachments, cb, arg, found, err);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (v.type != JSON_OBJECT)
        return 0;
    uint32_t num;
    int ph = placeholder_check(v.raw, attachments, &num, err);
    if (ph < 0)
        return -1;
    if (ph == 1) {
        if (found)
            (*found)++;
        return cb ? cb(arg, v.raw, num) : 0;
    }
    json_object_begin(&it, v.raw, NULL);
    while (json_object_next(&it, &k, &child, NULL) == 1) {
        int rc = walk_value(child, attachments, cb, arg, found, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sio_placeholders_walk(slice_t json, uint32_t attachments, sio_placeholder_cb cb, void *arg,
                          size_t *found, const char **err)
{
    json_value_t v;
    if (found)
        *found = 0;
    if (json_validate(json, &v, NULL) < 0) {
        set_err(err, ERR_JSON);
        return -1;
    }
    return walk_value(v, attachments, cb, arg, found, err);
}

/* ------------------------------------------------------------------ encoding */

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

size_t sio_header_encoded_len(const sio_header_t *h)
{
    size_t n = 1;
    if (is_binary_type(h->type))
        n += u64_digits(h->attachments) + 1;
    if (!is_main_nsp(h->nsp))
        n += h->nsp.len + 1;
    if (h->has_id)
        n += u64_digits(h->id);
    return n;
}

void sio_encode_header(buf_t *out, const sio_header_t *h)
{
    buf_append_byte(out, (uint8_t)('0' + h->type));
    if (is_binary_type(h->type)) {
        buf_append_u64(out, h->attachments);
        buf_append_byte(out, '-');
    }
    if (!is_main_nsp(h->nsp)) {
        buf_append_slice(out, h->nsp);
        buf_append_byte(out, ',');
    }
    if (h->has_id)
        buf_append_u64(out, h->id);
}

void sio_encode_packet(buf_t *out, const sio_header_t *h, slice_t payload)
{
    sio_encode_header(out, h);
    buf_append_slice(out, payload);
}

void sio_encode_connect(buf_t *out, slice_t nsp, slice_t sid)
{
    sio_header_t h = {.type = SIO_CONNECT, .nsp = nsp};
    sio_encode_header(out, &h);
    buf_append(out, "{\"sid\":", 7);
    json_append_string(out, sid);
    buf_append_byte(out, '}');
}

void sio_encode_connect_error(buf_t *out, slice_t nsp, slice_t message, slice_t data_json)
{
    sio_header_t h = {.type = SIO_CONNECT_ERROR, .nsp = nsp};
    sio_encode_header(out, &h);
    buf_append(out, "{\"message\":", 11);
    json_append_string(out, message);
    if (data_json.len) {
        buf_append(out, ",\"data\":", 8);
        buf_append_slice(out, data_json);
    }
    buf_append_byte(out, '}');
}

void sio_encode_disconnect(buf_t *out, slice_t nsp)
{
    sio_header_t h = {.type = SIO_DISCONNECT, .nsp = nsp};
    sio_encode_header(out, &h);
}

void sio_encode_event(buf_t *out, const sio_header_t *h, slice_t name, slice_t args)
{
    sio_encode_header(out, h);
    buf_append_byte(out, '[');
    json_append_string(out, name);
    if (args.len) {
        buf_append_byte(out, ',');
        buf_append_slice(out, args);
    }
    buf_append_byte(out, ']');
}

size_t sio_event_encoded_len(const sio_header_t *h, slice_t name, slice_t args)
{
    return sio_header_encoded_len(h) + 2 + json_string_len(name) + (args.len ? args.len + 1 : 0);
}

void sio_encode_ack(buf_t *out, const sio_header_t *h, slice_t args)
{
    sio_encode_header(out, h);
    buf_append_byte(out, '[');
    buf_append_slice(out, args);
    buf_append_byte(out, ']');
}
