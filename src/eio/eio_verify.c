/* eio_verify: query parsing and the reference server's request checks, in its order. */
#include "eio/eio_verify.h"

#include <string.h>

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes `v` into out[0..cap). Returns the decoded length (which may exceed
 * cap: then only the first cap bytes are written), or -1 on a bad escape. */
static long pct_decode(slice_t v, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++, n++) {
        uint8_t c = v.ptr[i];
        if (c == '%') {
            if (i + 2 >= v.len)
                return -1;
            int hi = hexval(v.ptr[i + 1]);
            int lo = hexval(v.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (n < cap)
            out[n] = (char)c;
    }
    return (long)n;
}

static void take_param(eio_query_t *q, slice_t key, slice_t val)
{
    char tmp[16];
    long n;
    if (slice_eq_cstr(key, "EIO")) {
        n = pct_decode(val, tmp, sizeof tmp);
        q->protocol = (n == 1 && tmp[0] == '4') ? 4 : 3;
    } else if (slice_eq_cstr(key, "transport")) {
        n = pct_decode(val, tmp, sizeof tmp);
        q->transport = EIO_TRANSPORT_NONE;
        if (n == 7 && memcmp(tmp, "polling", 7) == 0)
            q->transport = EIO_TRANSPORT_POLLING;
        else if (n == 9 && memcmp(tmp, "websocket", 9) == 0)
            q->transport = EIO_TRANSPORT_WEBSOCKET;
    } else if (slice_eq_cstr(key, "sid")) {
        q->has_sid = true;
        n = pct_decode(val, q->sid, EIO_QUERY_SID_MAX);
        /* a bad escape or an over-long value can match no session */
        q->sid_len = n < 0 ? EIO_QUERY_SID_MAX + 1 : (size_t)n;
        q->sid[q->sid_len <= EIO_QUERY_SID_MAX ? q->sid_len : 0] = '\0';
    }
}

void eio_query_parse(slice_t qs, eio_query_t *q)
{
    memset(q, 0, sizeof *q);
    q->protocol = 3;
    size_t i = 0;
    while (i < qs.len) {
        size_t end = i;
        while (end < qs.len && qs.ptr[end] != '&')
            end++;
        slice_t pair = slice_make(qs.ptr + i, end - i);
        long eq = slice_index(pair, '=');
        slice_t key = eq < 0 ? pair : slice_make(pair.ptr, (size_t)eq);
        slice_t val =
            eq < 0 ? slice_make(pair.ptr + pair.len, 0) : slice_tail(pair, (size_t)eq + 1);
        take_param(q, key, val);
        i = end + 1;
    }
}

bool eio_header_value_is_valid(slice_t v)
{
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        if (c == '\t' || (c >= 0x20 && c != 0x7f))
            continue;
        return false;
    }
    return true;
}

static eio_route_t refuse(eio_error_t *err, eio_error_t code)
{
    *err = code;
    return EIO_ROUTE_REFUSE;
}

/* The checks for a request that names an existing session (step 3). */
static eio_route_t verify_with_sid(const eio_verify_in_t *in, eio_error_t *err)
{
    const eio_query_t *q = in->query;
    if (in->session_transport == EIO_TRANSPORT_NONE)
        return refuse(err, EIO_ERR_SID_UNKNOWN);
    if (in->is_upgrade && q->transport == EIO_TRANSPORT_WEBSOCKET)
        return EIO_ROUTE_UPGRADE;
    if (in->session_transport != q->transport)
        return refuse(err, EIO_ERR_BAD_REQUEST); /* TRANSPORT_MISMATCH */
    if (q->transport != EIO_TRANSPORT_POLLING)
        return refuse(err, EIO_ERR_BAD_REQUEST); /* plain HTTP on a websocket session */
    if (in->method == EIO_METHOD_GET)
        return EIO_ROUTE_POLL_GET;
    if (in->method == EIO_METHOD_POST)
        return EIO_ROUTE_POLL_POST;
    return EIO_ROUTE_POLL_BAD_METHOD;
}

eio_route_t eio_verify(const eio_verify_in_t *in, eio_error_t *err)
{
    const eio_query_t *q = in->query;
    unsigned enabled =
        in->transports ? in->transports : (EIO_TRANSPORT_POLLING | EIO_TRANSPORT_WEBSOCKET);
    if (q->transport == EIO_TRANSPORT_NONE || !(enabled & q->transport))
        return refuse(err, EIO_ERR_TRANSPORT_UNKNOWN);
    if (in->has_origin && !eio_header_value_is_valid(in->origin))
        return refuse(err, EIO_ERR_BAD_REQUEST);
    if (q->has_sid)
        return verify_with_sid(in, err);
    if (in->method != EIO_METHOD_GET)
        return refuse(err, EIO_ERR_BAD_HANDSHAKE_METHOD);
    if (q->transport == EIO_TRANSPORT_WEBSOCKET && !in->is_upgrade)
        return refuse(err, EIO_ERR_BAD_REQUEST); /* TRANSPORT_HANDSHAKE_ERROR */
    if (q->transport == EIO_TRANSPORT_POLLING && in->is_upgrade)
        return refuse(err, EIO_ERR_BAD_REQUEST);
    if (q->protocol != 4)
        return refuse(err, EIO_ERR_UNSUPPORTED_VERSION);
    return EIO_ROUTE_HANDSHAKE;
}

int eio_error_status(eio_error_t err)
{
    return err == EIO_ERR_FORBIDDEN ? 403 : 400;
}

slice_t eio_error_body(eio_error_t err)
{
    switch (err) {
    case EIO_ERR_TRANSPORT_UNKNOWN:
        return SLICE_LIT("{\"code\":0,\"message\":\"Transport unknown\"}");
    case EIO_ERR_SID_UNKNOWN:
        return SLICE_LIT("{\"code\":1,\"message\":\"Session ID unknown\"}");
    case EIO_ERR_BAD_HANDSHAKE_METHOD:
        return SLICE_LIT("{\"code\":2,\"message\":\"Bad handshake method\"}");
    case EIO_ERR_BAD_REQUEST:
        return SLICE_LIT("{\"code\":3,\"message\":\"Bad request\"}");
    case EIO_ERR_FORBIDDEN:
        return SLICE_LIT("{\"code\":4,\"message\":\"Forbidden\"}");
    case EIO_ERR_UNSUPPORTED_VERSION:
        return SLICE_LIT("{\"code\":5,\"message\":\"Unsupported protocol version\"}");
    }
    return SLICE_LIT("{\"code\":3,\"message\":\"Bad request\"}");
}

const char *eio_error_message(eio_error_t err)
{
    switch (err) {
    case EIO_ERR_TRANSPORT_UNKNOWN:
        return "Transport unknown";
    case EIO_ERR_SID_UNKNOWN:
        return "Session ID unknown";
    case EIO_ERR_BAD_HANDSHAKE_METHOD:
        return "Bad handshake method";
    case EIO_ERR_BAD_REQUEST:
        return "Bad request";
    case EIO_ERR_FORBIDDEN:
        return "Forbidden";
    case EIO_ERR_UNSUPPORTED_VERSION:
        return "Unsupported protocol version";
    }
    return "Bad request";
}
