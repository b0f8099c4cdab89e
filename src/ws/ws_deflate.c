/*
 * ws_deflate: RFC 7692 negotiation and the zlib glue. The zlib streams are created
 * lazily and, when the peer agreed to no context takeover on that side, ended after
 * each message so an idle connection holds no zlib memory.
 */
#include "ws/ws_deflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"
#include "ws/ws_frame.h"

enum { OUT_STEP = 16384, MEM_LEVEL = 8 };

struct ws_deflate {
    ws_deflate_params_t p;
    int level;
    z_stream inf;   /* client -> server */
    z_stream def;   /* server -> client */
    bool inf_live;  /* inflateInit2 done */
    bool def_live;  /* deflateInit2 done */
};

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

/* ---- negotiation ------------------------------------------------------------- */

static slice_t trim(slice_t s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s = slice_tail(s, 1);
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Splits off the text up to `sep` (or the end) from *s. */
static slice_t next_item(slice_t *s, uint8_t sep)
{
    long i = slice_index(*s, sep);
    slice_t item = i < 0 ? *s : slice_make(s->ptr, (size_t)i);
    *s = i < 0 ? slice_tail(*s, s->len) : slice_tail(*s, (size_t)i + 1);
    return trim(item);
}

/* Parses a window-bits value (8..15, possibly quoted). Returns it or 0. */
static unsigned window_bits(slice_t v)
{
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
        v = slice_make(v.ptr + 1, v.len - 2);
    uint64_t n;
    if (!slice_to_u64(v, 15, &n) || n < 8)
        return 0;
    return (unsigned)n;
}

/* One parameter of an offer. Returns false if the offer must be declined. */
static bool offer_param(slice_t param, ws_deflate_params_t *o, unsigned *seen)
{
    slice_t rest = param;
    slice_t name = next_item(&rest, '=');
    bool has_value = param.len > name.len && slice_index(param, '=') >= 0;
    slice_t value = trim(rest);
    unsigned bit;
    if (slice_eq_cstr(name, "server_no_context_takeover")) {
        bit = 1;
        o->server_no_context_takeover = true;
        if (has_value)
            return false;
    } else if (slice_eq_cstr(name, "client_no_context_takeover")) {
        bit = 2;
        o->client_no_context_takeover = true;
        if (has_value)
            return false;
    } else if (slice_eq_cstr(name, "server_max_window_bits")) {
        bit = 4;
        unsigned w = has_value ? window_bits(value) : 0;
        if (w < 9) /* missing, invalid, or 8 (not possible with raw zlib) */
            return false;
        o->server_max_window_bits = (uint8_t)w;
    } else if (slice_eq_cstr(name, "client_max_window_bits")) {
        bit = 8;
        if (has_value && !window_bits(value))
            return false;
    } else {
        return false;
    }
    if (*seen & bit)
        return false;
    *seen |= bit;
    return true;
}

static bool offer_ok(slice_t offer, ws_deflate_params_t *out)
{
    slice_t name = next_item(&offer, ';');
    if (!slice_eq_cstr(name, "permessage-deflate"))
        return false;
    ws_deflate_params_t o = {0};
    unsigned seen = 0;
    while (offer.len) {
        slice_t param = next_item(&offer, ';');
        if (param.len && !offer_param(param, &o, &seen))
            return false;
    }
    *out = o;
    return true;
}

bool ws_deflate_negotiate(slice_t offers, ws_deflate_params_t *out)
{
    while (offers.len) {
        slice_t offer = next_item(&offers, ',');
        if (offer_ok(offer, out))
            return true;
    }
    return false;
}

size_t ws_deflate_response(const ws_deflate_params_t *p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "Sec-WebSocket-Extensions: permessage-deflate%s%s",
                     p->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     p->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (p->server_max_window_bits)
        n += snprintf(out + n, cap - (size_t)n, "; server_max_window_bits=%u",
                      p->server_max_window_bits);
    n += snprintf(out + n, cap - (size_t)n, "\r\n");
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ---- codec ------------------------------------------------------------------- */

ws_deflate_t *ws_deflate_new(const ws_deflate_params_t *p, int level)
{
    ws_deflate_t *d = xcalloc(1, sizeof *d);
    d->p = *p;
    d->level = level >= 1 && level <= 9 ? level : 1;
    return d;
}

void ws_deflate_free(ws_deflate_t *d)
{
    if (!d)
        return;
    if (d->inf_live)
        inflateEnd(&d->inf);
    if (d->def_live)
        deflateEnd(&d->def);
    free(d);
}

/* Feeds `n` bytes to the inflater, appending output to `out`. */
static unsigned inflate_some(ws_deflate_t *d, const uint8_t *p, size_t n, buf_t *out, size_t max)
{
    z_stream *z = &d->inf;
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    for (;;) {
        uint8_t *dst = buf_try_reserve(out, OUT_STEP);
        if (!dst)
            return WS_CLOSE_TOO_BIG;
        z->next_out = dst;
        z->avail_out = OUT_STEP;
        int r = inflate(z, Z_SYNC_FLUSH);
        buf_commit(out, OUT_STEP - z->avail_out);
        if (out->len > max)
            return WS_CLOSE_TOO_BIG;
        if (r == Z_STREAM_END) { /* a final block: the next data starts a new stream */
            inflateReset(z);
            if (!z->avail_in)
                return 0;
            continue;
        }
        if (r == Z_BUF_ERROR || (r == Z_OK && z->avail_in == 0 && z->avail_out != 0))
            return 0;
        if (r != Z_OK)
            return WS_CLOSE_INVALID_DATA;
    }
}

unsigned ws_deflate_inflate(ws_deflate_t *d, slice_t in, buf_t *out, size_t max)
{
    if (!d->inf_live) {
        memset(&d->inf, 0, sizeof d->inf);
        if (inflateInit2(&d->inf, -15) != Z_OK)
            return WS_CLOSE_INTERNAL_ERROR;
        d->inf_live = true;
    }
    unsigned r = inflate_some(d, in.ptr, in.len, out, max);
    if (r == 0)
        r = inflate_some(d, sync_tail, sizeof sync_tail, out, max);
    if (r != 0 || d->p.client_no_context_takeover) {
        inflateEnd(&d->inf);
        d->inf_live = false;
    }
    return r;
}

static int deflate_some(z_stream *z, const uint8_t *p, size_t n, int flush, buf_t *out)
{
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    do {
        uint8_t *dst = buf_try_reserve(out, OUT_STEP);
        if (!dst)
            return -1;
        z->next_out = dst;
        z->avail_out = OUT_STEP;
        int r = deflate(z, flush);
        buf_commit(out, OUT_STEP - z->avail_out);
        if (r != Z_OK && r != Z_BUF_ERROR)
            return -1;
    } while (z->avail_in > 0 || z->avail_out == 0);
    return 0;
}

int ws_deflate_deflate(ws_deflate_t *d, const slice_t *parts, size_t n, buf_t *out)
{
    if (!d->def_live) {
        int wbits = d->p.server_max_window_bits ? d->p.server_max_window_bits : 15;
        memset(&d->def, 0, sizeof d->def);
        if (deflateInit2(&d->def, d->level, Z_DEFLATED, -wbits, MEM_LEVEL,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        d->def_live = true;
    }
    size_t start = out->len;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = deflate_some(&d->def, parts[i].ptr, parts[i].len, Z_NO_FLUSH, out);
    if (r == 0)
        r = deflate_some(&d->def, NULL, 0, Z_SYNC_FLUSH, out);
    size_t produced = out->len - start;
    if (r == 0 && produced >= 4 &&
        memcmp(buf_data(out) + out->len - 4, sync_tail, sizeof sync_tail) == 0)
        out->len -= 4;
    if (r != 0 || d->p.server_no_context_takeover) {
        deflateEnd(&d->def);
        d->def_live = false;
    }
    return r;
}
