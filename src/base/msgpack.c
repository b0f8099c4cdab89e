/*
 * msgpack: MessagePack codec and JSON bridge. See msgpack.h for the contract.
 *
 * The reader is a flat switch over the first byte; every length is checked against the
 * bytes left before it is used, and container counts are checked the same way (an
 * element takes at least one byte), so a 5-byte header claiming 2^32 elements is refused
 * before anyone loops over it. Whole-value skipping keeps one counter per open container
 * in a fixed array, never recursing.
 */
#include "base/msgpack.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/json.h"

#define E_END "msgpack: unexpected end"
#define E_COUNT "msgpack: container count exceeds input"
#define E_DEPTH "msgpack: nesting too deep"

static int fail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -1;
}

static uint64_t load_be(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = (x << 8) | p[i];
    return x;
}

static void store_be(uint8_t *p, uint64_t x, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

/* Reads an n-byte big-endian unsigned number at *p. */
static int read_num(slice_t in, size_t *p, int n, uint64_t *out, const char **err)
{
    if ((size_t)n > in.len - *p)
        return fail(err, E_END);
    *out = load_be(in.ptr + *p, n);
    *p += (size_t)n;
    return 0;
}

/* Takes `len` payload bytes at *p. */
static int take(slice_t in, size_t *p, uint64_t len, slice_t *out, const char **err)
{
    if (len > in.len - *p)
        return fail(err, E_END);
    *out = slice_make(in.ptr + *p, (size_t)len);
    *p += (size_t)len;
    return 0;
}

/* A container header: refuse counts the remaining bytes cannot possibly hold. */
static int container(slice_t in, size_t p, msgpack_type_t t, uint64_t n, msgpack_value_t *v,
                     const char **err)
{
    uint64_t need = t == MSGPACK_MAP ? 2 * n : n;
    if (need > in.len - p)
        return fail(err, E_COUNT);
    v->type = t;
    v->n = (uint32_t)n;
    return 0;
}

static void set_int(msgpack_value_t *v, int64_t x)
{
    if (x >= 0) {
        v->type = MSGPACK_UINT;
        v->v.u = (uint64_t)x;
    } else {
        v->type = MSGPACK_INT;
        v->v.i = x;
    }
}

/* Extensions: type byte then `len` data bytes. fixext1 type 0 is notepack's undefined. */
static int read_ext(slice_t in, size_t *p, uint64_t len, bool fix1, msgpack_value_t *v,
                    const char **err)
{
    uint64_t t;
    if (read_num(in, p, 1, &t, err) < 0 || take(in, p, len, &v->v.bytes, err) < 0)
        return -1;
    v->ext_type = (int8_t)(uint8_t)t;
    v->type = (fix1 && t == 0) ? MSGPACK_UNDEFINED : MSGPACK_EXT;
    return 0;
}

static int read_float(slice_t in, size_t *p, bool wide, msgpack_value_t *v, const char **err)
{
    uint64_t bits;
    if (read_num(in, p, wide ? 8 : 4, &bits, err) < 0)
        return -1;
    v->type = MSGPACK_FLOAT;
    if (wide) {
        double d;
        memcpy(&d, &bits, sizeof d);
        v->v.f = d;
    } else {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        v->v.f = f;
    }
    return 0;
}

static int read_signed(slice_t in, size_t *p, int n, msgpack_value_t *v, const char **err)
{
    uint64_t x;
    if (read_num(in, p, n, &x, err) < 0)
        return -1;
    int64_t s;
    switch (n) {
    case 1:
        s = (int8_t)(uint8_t)x;
        break;
    case 2:
        s = (int16_t)(uint16_t)x;
        break;
    case 4:
        s = (int32_t)(uint32_t)x;
        break;
    default:
        s = (int64_t)x;
        break;
    }
    set_int(v, s);
    return 0;
}

/* The markers 0xc0..0xdf. */
static int read_marker(slice_t in, size_t *p, uint8_t c, msgpack_value_t *v, const char **err)
{
    uint64_t x;
    if (c == 0xc0) {
        v->type = MSGPACK_NIL;
        return 0;
    }
    if (c == 0xc1)
        return fail(err, "msgpack: reserved byte 0xc1");
    if (c <= 0xc3) {
        v->type = MSGPACK_BOOL;
        v->v.b = c == 0xc3;
        return 0;
    }
    if (c <= 0xc6) {
        v->type = MSGPACK_BIN;
        return read_num(in, p, 1 << (c - 0xc4), &x, err) < 0 ? -1
                                                             : take(in, p, x, &v->v.bytes, err);
    }
    if (c <= 0xc9)
        return read_num(in, p, 1 << (c - 0xc7), &x, err) < 0 ? -1
                                                             : read_ext(in, p, x, false, v, err);
    if (c <= 0xcb)
        return read_float(in, p, c == 0xcb, v, err);
    if (c <= 0xcf) {
        v->type = MSGPACK_UINT;
        return read_num(in, p, 1 << (c - 0xcc), &v->v.u, err);
    }
    if (c <= 0xd3)
        return read_signed(in, p, 1 << (c - 0xd0), v, err);
    if (c <= 0xd8)
        return read_ext(in, p, (uint64_t)1 << (c - 0xd4), c == 0xd4, v, err);
    if (c <= 0xdb) {
        v->type = MSGPACK_STR;
        return read_num(in, p, 1 << (c - 0xd9), &x, err) < 0 ? -1
                                                             : take(in, p, x, &v->v.bytes, err);
    }
    if (read_num(in, p, (c & 1) ? 4 : 2, &x, err) < 0)
        return -1;
    return container(in, *p, c <= 0xdd ? MSGPACK_ARRAY : MSGPACK_MAP, x, v, err);
}

int msgpack_read(slice_t in, size_t *pos, msgpack_value_t *out, const char **err)
{
    size_t p = *pos;
    if (p >= in.len)
        return fail(err, E_END);
    uint8_t c = in.ptr[p++];
    msgpack_value_t v;
    memset(&v, 0, sizeof v);
    int rc = 0;
    if (c <= 0x7f) {
        v.type = MSGPACK_UINT;
        v.v.u = c;
    } else if (c <= 0x8f) {
        rc = container(in, p, MSGPACK_MAP, c & 0x0f, &v, err);
    } else if (c <= 0x9f) {
        rc = container(in, p, MSGPACK_ARRAY, c & 0x0f, &v, err);
    } else if (c <= 0xbf) {
        v.type = MSGPACK_STR;
        rc = take(in, &p, c & 0x1f, &v.v.bytes, err);
    } else if (c >= 0xe0) {
        set_int(&v, (int8_t)c);
    } else {
        rc = read_marker(in, &p, c, &v, err);
    }
    if (rc < 0)
        return -1;
    v.raw = slice_make(in.ptr + *pos, p - *pos);
    *pos = p;
    if (out)
        *out = v;
    return 0;
}

static bool is_container(const msgpack_value_t *v)
{
    return v->type == MSGPACK_ARRAY || v->type == MSGPACK_MAP;
}

static uint64_t children(const msgpack_value_t *v)
{
    if (v->type == MSGPACK_ARRAY)
        return v->n;
    return v->type == MSGPACK_MAP ? 2 * (uint64_t)v->n : 0;
}

/*
 * Skips `count` whole items at *pos, inside `depth` already-open containers. One counter
 * of items left per open container; a container item pushes its own counter.
 */
static int skip_items(slice_t in, size_t *pos, uint64_t count, int depth, const char **err)
{
    uint64_t left[MSGPACK_MAX_DEPTH + 1];
    int top = 0;
    size_t p = *pos;
    left[0] = count;
    while (top >= 0) {
        if (left[top] == 0) {
            top--;
            continue;
        }
        left[top]--;
        msgpack_value_t v;
        if (msgpack_read(in, &p, &v, err) < 0)
            return -1;
        if (!is_container(&v))
            continue;
        if (depth + top + 1 > MSGPACK_MAX_DEPTH)
            return fail(err, E_DEPTH);
        if (children(&v) > 0)
            left[++top] = children(&v);
    }
    *pos = p;
    return 0;
}

int msgpack_next(slice_t in, size_t *pos, msgpack_value_t *out, const char **err)
{
    size_t p = *pos;
    msgpack_value_t v;
    if (msgpack_read(in, &p, &v, err) < 0)
        return -1;
    if (is_container(&v) && skip_items(in, &p, children(&v), 1, err) < 0)
        return -1;
    v.raw = slice_make(in.ptr + *pos, p - *pos);
    *pos = p;
    if (out)
        *out = v;
    return 0;
}

int msgpack_skip(slice_t in, size_t *pos, const char **err)
{
    return skip_items(in, pos, 1, 0, err);
}

int msgpack_validate(slice_t in, msgpack_value_t *out, const char **err)
{
    size_t p = 0;
    if (msgpack_next(in, &p, out, err) < 0)
        return -1;
    return p == in.len ? 0 : fail(err, "msgpack: trailing bytes");
}

bool msgpack_to_i64(const msgpack_value_t *v, int64_t *out)
{
    switch (v->type) {
    case MSGPACK_UINT:
        if (v->v.u > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v->v.u;
        return true;
    case MSGPACK_INT:
        *out = v->v.i;
        return true;
    case MSGPACK_FLOAT:
        if (!(v->v.f >= -9223372036854775808.0 && v->v.f < 9223372036854775808.0))
            return false;
        if (v->v.f != trunc(v->v.f))
            return false;
        *out = (int64_t)v->v.f;
        return true;
    default:
        return false;
    }
}

bool msgpack_str_eq(const msgpack_value_t *v, slice_t s)
{
    return v->type == MSGPACK_STR && slice_eq(v->v.bytes, s);
}

int msgpack_iter_begin(msgpack_iter_t *it, slice_t raw, const char **err)
{
    msgpack_value_t v;
    size_t p = 0;
    if (msgpack_read(raw, &p, &v, err) < 0)
        return -1;
    if (!is_container(&v))
        return fail(err, "msgpack: not an array or map");
    it->_in = raw;
    it->_pos = p;
    it->_left = v.n;
    it->_map = v.type == MSGPACK_MAP;
    return 0;
}

int msgpack_iter_next(msgpack_iter_t *it, msgpack_value_t *a, msgpack_value_t *b, const char **err)
{
    if (it->_left == 0)
        return 0;
    if (msgpack_next(it->_in, &it->_pos, a, err) < 0)
        return -1;
    if (it->_map && msgpack_next(it->_in, &it->_pos, b, err) < 0)
        return -1;
    it->_left--;
    return 1;
}

int msgpack_map_get(slice_t map_raw, slice_t key, msgpack_value_t *out, const char **err)
{
    msgpack_iter_t it;
    msgpack_value_t k, v;
    int found = 0, rc;
    if (msgpack_iter_begin(&it, map_raw, err) < 0)
        return -1;
    if (!it._map)
        return fail(err, "msgpack: not a map");
    while ((rc = msgpack_iter_next(&it, &k, &v, err)) == 1) {
        if (msgpack_str_eq(&k, key)) {
            *out = v;
            found = 1;
        }
    }
    return rc < 0 ? -1 : found;
}

/* ------------------------------------------------------------------ encoding */

static void put_head(buf_t *b, uint8_t marker, uint64_t x, int n)
{
    uint8_t t[9];
    t[0] = marker;
    store_be(t + 1, x, n);
    buf_append(b, t, (size_t)n + 1);
}

void msgpack_append_nil(buf_t *b)
{
    buf_append_byte(b, 0xc0);
}

void msgpack_append_bool(buf_t *b, bool v)
{
    buf_append_byte(b, v ? 0xc3 : 0xc2);
}

void msgpack_append_uint(buf_t *b, uint64_t v)
{
    if (v < 0x80)
        buf_append_byte(b, (uint8_t)v);
    else if (v < 0x100)
        put_head(b, 0xcc, v, 1);
    else if (v < 0x10000)
        put_head(b, 0xcd, v, 2);
    else if (v < 0x100000000ULL)
        put_head(b, 0xce, v, 4);
    else
        put_head(b, 0xcf, v, 8);
}

void msgpack_append_int(buf_t *b, int64_t v)
{
    if (v >= 0)
        msgpack_append_uint(b, (uint64_t)v);
    else if (v >= -32)
        buf_append_byte(b, (uint8_t)v);
    else if (v >= -128)
        put_head(b, 0xd0, (uint64_t)v, 1);
    else if (v >= -32768)
        put_head(b, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        put_head(b, 0xd2, (uint64_t)v, 4);
    else
        put_head(b, 0xd3, (uint64_t)v, 8);
}

void msgpack_append_float64(buf_t *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_head(b, 0xcb, bits, 8);
}

void msgpack_append_float32(buf_t *b, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_head(b, 0xca, bits, 4);
}

void msgpack_append_number(buf_t *b, double v)
{
    if (!isfinite(v) || floor(v) != v)
        msgpack_append_float64(b, v);
    else if (v >= 0 && v < 18446744073709551616.0)
        msgpack_append_uint(b, (uint64_t)v);
    else if (v < 0 && v >= -9223372036854775808.0)
        msgpack_append_int(b, (int64_t)v);
    else
        msgpack_append_float64(b, v);
}

void msgpack_append_str_header(buf_t *b, size_t len)
{
    assert(len <= UINT32_MAX);
    if (len < 32)
        buf_append_byte(b, (uint8_t)(0xa0 | len));
    else if (len < 0x100)
        put_head(b, 0xd9, len, 1);
    else if (len < 0x10000)
        put_head(b, 0xda, len, 2);
    else
        put_head(b, 0xdb, len, 4);
}

void msgpack_append_str(buf_t *b, slice_t s)
{
    msgpack_append_str_header(b, s.len);
    buf_append(b, s.ptr, s.len);
}

void msgpack_append_bin_header(buf_t *b, size_t len)
{
    assert(len <= UINT32_MAX);
    if (len < 0x100)
        put_head(b, 0xc4, len, 1);
    else if (len < 0x10000)
        put_head(b, 0xc5, len, 2);
    else
        put_head(b, 0xc6, len, 4);
}

void msgpack_append_bin(buf_t *b, slice_t s)
{
    msgpack_append_bin_header(b, s.len);
    buf_append(b, s.ptr, s.len);
}

void msgpack_append_array_header(buf_t *b, uint32_t n)
{
    if (n < 16)
        buf_append_byte(b, (uint8_t)(0x90 | n));
    else if (n < 0x10000)
        put_head(b, 0xdc, n, 2);
    else
        put_head(b, 0xdd, n, 4);
}

void msgpack_append_map_header(buf_t *b, uint32_t n)
{
    if (n < 16)
        buf_append_byte(b, (uint8_t)(0x80 | n));
    else if (n < 0x10000)
        put_head(b, 0xde, n, 2);
    else
        put_head(b, 0xdf, n, 4);
}

void msgpack_append_ext(buf_t *b, int8_t type, slice_t data)
{
    assert(data.len <= UINT32_MAX);
    switch (data.len) {
    case 1:
        buf_append_byte(b, 0xd4);
        break;
    case 2:
        buf_append_byte(b, 0xd5);
        break;
    case 4:
        buf_append_byte(b, 0xd6);
        break;
    case 8:
        buf_append_byte(b, 0xd7);
        break;
    case 16:
        buf_append_byte(b, 0xd8);
        break;
    default:
        if (data.len < 0x100)
            put_head(b, 0xc7, data.len, 1);
        else if (data.len < 0x10000)
            put_head(b, 0xc8, data.len, 2);
        else
            put_head(b, 0xc9, data.len, 4);
    }
    buf_append_byte(b, (uint8_t)type);
    buf_append(b, data.ptr, data.len);
}

void msgpack_append_undefined(buf_t *b)
{
    static const uint8_t undef[3] = {0xd4, 0x00, 0x00};
    buf_append(b, undef, sizeof undef);
}

/* ------------------------------------------------------------------ msgpack -> JSON */

/* JavaScript's Date#toISOString for a time value in ms (TimeClip applied), or null. */
static void append_date(buf_t *out, double ms)
{
    if (!isfinite(ms) || fabs(ms) > 8.64e15) {
        json_append_null(out);
        return;
    }
    int64_t t = (int64_t)trunc(ms);
    int64_t days = t / 86400000, rem = t % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    /* days since 1970-01-01 -> civil date (proleptic Gregorian, era = 400 years) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    buf_append_byte(out, '"');
    if (y >= 0 && y <= 9999)
        buf_appendf(out, "%04lld", (long long)y);
    else
        buf_appendf(out, "%c%06lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
    buf_appendf(out, "-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ\"", (long long)m, (long long)d,
                (long long)(rem / 3600000), (long long)(rem / 60000 % 60),
                (long long)(rem / 1000 % 60), (long long)(rem % 1000));
}

/* A binary: a placeholder when collecting, else what JSON.stringify makes of a Buffer
 * (`buffer`) or an ArrayBuffer. `depth` containers are open around it: the object (and a
 * Buffer's data array) it renders as must still fit under JSON_MAX_DEPTH, or the JSON we
 * hand on would be refused by our own reader. */
static int bin_to_json(buf_t *out, slice_t data, bool buffer, msgpack_bins_t *bins, int depth,
                       const char **err)
{
    if (depth + (bins || !buffer ? 1 : 2) > JSON_MAX_DEPTH)
        return fail(err, E_DEPTH);
    if (bins) {
        if (bins->n >= bins->cap)
            return fail(err, "msgpack: too many binaries");
        bins->bins[bins->n] = data;
        buf_append_cstr(out, "{\"_placeholder\":true,\"num\":");
        buf_append_u64(out, bins->n++);
        buf_append_byte(out, '}');
        return 0;
    }
    if (!buffer) {
        buf_append_cstr(out, "{}");
        return 0;
    }
    buf_append_cstr(out, "{\"type\":\"Buffer\",\"data\":[");
    for (size_t i = 0; i < data.len; i++) {
        if (i)
            buf_append_byte(out, ',');
        buf_append_u64(out, data.ptr[i]);
    }
    buf_append_cstr(out, "]}");
    return 0;
}

/* Extensions as notepack decodes them (see msgpack_to_json). */
static int ext_to_json(buf_t *out, const msgpack_value_t *v, msgpack_bins_t *bins, int depth,
                       const char **err)
{
    uint8_t marker = v->raw.ptr[0];
    const uint8_t *d = v->v.bytes.ptr;
    size_t len = v->v.bytes.len;
    if (v->ext_type == 0 && marker >= 0xc7 && marker <= 0xc9)
        return bin_to_json(out, v->v.bytes, false, bins, depth, err);
    if (v->ext_type == 0 && marker == 0xd7) {
        append_date(out, (double)(int32_t)load_be(d, 4) * 4294967296.0 + (double)load_be(d + 4, 4));
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xd6) {
        append_date(out, (double)load_be(d, 4) * 1e3);
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xd7) {
        uint64_t hi = load_be(d, 4), lo = load_be(d + 4, 4);
        double s = (double)(hi & 3) * 4294967296.0 + (double)lo;
        append_date(out, s * 1e3 + (double)(hi >> 2) / 1e6);
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xc7 && len == 12) {
        double ns = (double)load_be(d, 4);
        double s = (double)(int32_t)load_be(d + 4, 4) * 4294967296.0 + (double)load_be(d + 8, 4);
        append_date(out, s * 1e3 + ns / 1e6);
        return 0;
    }
    if (depth + 1 > JSON_MAX_DEPTH)
        return fail(err, E_DEPTH);
    buf_append_byte(out, '[');
    json_append_i64(out, v->ext_type);
    buf_append_byte(out, ',');
    if (bin_to_json(out, v->v.bytes, true, bins, depth + 1, err) < 0)
        return -1;
    buf_append_byte(out, ']');
    return 0;
}

/* A map key as a JavaScript property name (String(key)), quoted. */
static int key_to_json(buf_t *out, const msgpack_value_t *k, const char **err)
{
    switch (k->type) {
    case MSGPACK_STR:
        json_append_string(out, k->v.bytes);
        return 0;
    case MSGPACK_UINT:
    case MSGPACK_INT:
    case MSGPACK_FLOAT:
        break;
    case MSGPACK_NIL:
        buf_append_cstr(out, "\"null\"");
        return 0;
    case MSGPACK_UNDEFINED:
        buf_append_cstr(out, "\"undefined\"");
        return 0;
    case MSGPACK_BOOL:
        buf_append_cstr(out, k->v.b ? "\"true\"" : "\"false\"");
        return 0;
    default:
        return fail(err, "msgpack: unsupported map key");
    }
    double f = k->type == MSGPACK_UINT  ? (double)k->v.u
               : k->type == MSGPACK_INT ? (double)k->v.i
                                        : k->v.f;
    buf_append_byte(out, '"');
    if (isnan(f))
        buf_append_cstr(out, "NaN");
    else if (isinf(f))
        buf_append_cstr(out, f > 0 ? "Infinity" : "-Infinity");
    else
        json_append_double(out, f);
    buf_append_byte(out, '"');
    return 0;
}

static int value_to_json(slice_t in, size_t *p, buf_t *out, msgpack_bins_t *bins, int depth,
                         const char **err);

static int array_to_json(slice_t in, size_t *p, uint32_t n, buf_t *out, msgpack_bins_t *bins,
                         int depth, const char **err)
{
    buf_append_byte(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            buf_append_byte(out, ',');
        if (value_to_json(in, p, out, bins, depth, err) < 0)
            return -1;
    }
    buf_append_byte(out, ']');
    return 0;
}

/* Members whose value is undefined are left out, as JSON.stringify does. */
static int map_to_json(slice_t in, size_t *p, uint32_t n, buf_t *out, msgpack_bins_t *bins,
                       int depth, const char **err)
{
    bool first = true;
    buf_append_byte(out, '{');
    for (uint32_t i = 0; i < n; i++) {
        msgpack_value_t k, v;
        if (msgpack_next(in, p, &k, err) < 0)
            return -1;
        size_t at = *p;
        if (msgpack_read(in, &at, &v, err) < 0)
            return -1;
        if (v.type == MSGPACK_UNDEFINED) {
            *p = at;
            continue;
        }
        if (!first)
            buf_append_byte(out, ',');
        first = false;
        if (key_to_json(out, &k, err) < 0)
            return -1;
        buf_append_byte(out, ':');
        if (value_to_json(in, p, out, bins, depth, err) < 0)
            return -1;
    }
    buf_append_byte(out, '}');
    return 0;
}

static int value_to_json(slice_t in, size_t *p, buf_t *out, msgpack_bins_t *bins, int depth,
                         const char **err)
{
    msgpack_value_t v;
    if (msgpack_read(in, p, &v, err) < 0)
        return -1;
    switch (v.type) {
    case MSGPACK_BOOL:
        json_append_bool(out, v.v.b);
        return 0;
    case MSGPACK_FLOAT:
        json_append_double(out, v.v.f);
        return 0;
    case MSGPACK_STR:
        json_append_string(out, v.v.bytes);
        return 0;
    case MSGPACK_BIN:
        return bin_to_json(out, v.v.bytes, true, bins, depth, err);
    case MSGPACK_EXT:
        return ext_to_json(out, &v, bins, depth, err);
    case MSGPACK_UINT:
        if (v.v.u <= (1ULL << 53))
            json_append_u64(out, v.v.u);
        else
            json_append_double(out, (double)v.v.u);
        return 0;
    case MSGPACK_INT:
        if (v.v.i >= -(1LL << 53))
            json_append_i64(out, v.v.i);
        else
            json_append_double(out, (double)v.v.i);
        return 0;
    case MSGPACK_ARRAY:
    case MSGPACK_MAP:
        if (depth >= MSGPACK_MAX_DEPTH)
            return fail(err, E_DEPTH);
        if (v.type == MSGPACK_ARRAY)
            return array_to_json(in, p, v.n, out, bins, depth + 1, err);
        return map_to_json(in, p, v.n, out, bins, depth + 1, err);
    default:
        json_append_null(out);
        return 0;
    }
}

int msgpack_to_json(slice_t raw, buf_t *out, msgpack_bins_t *bins, const char **err)
{
    size_t p = 0;
    return value_to_json(raw, &p, out, bins, 0, err);
}

int msgpack_array_to_json_list(slice_t raw, uint32_t first, buf_t *out, msgpack_bins_t *bins,
                               size_t *count, const char **err)
{
    msgpack_value_t v;
    size_t p = 0, written = 0;
    if (msgpack_read(raw, &p, &v, err) < 0)
        return -1;
    if (v.type != MSGPACK_ARRAY)
        return fail(err, "msgpack: not an array");
    for (uint32_t i = 0; i < v.n; i++) {
        if (i < first) {
            if (msgpack_skip(raw, &p, err) < 0)
                return -1;
            continue;
        }
        if (written++)
            buf_append_byte(out, ',');
        if (value_to_json(raw, &p, out, bins, 1, err) < 0)
            return -1;
    }
    if (count)
        *count = written;
    return 0;
}

/* ------------------------------------------------------------------ JSON -> msgpack */

typedef struct from_ctx {
    buf_t *out;
    const slice_t *bins; /* NULL: placeholders are ordinary objects */
    size_t nbins;
} from_ctx_t;

static int json_to_mp(from_ctx_t *c, json_value_t val, const char **err);

/* Unescapes the string straight into the output, behind a worst-case 5-byte header
 * gap, then closes the gap once the decoded length is known. */
static void str_from_json(buf_t *out, slice_t raw)
{
    size_t cap = raw.len - 2, n = 0;
    uint8_t *dst = buf_reserve(out, 5 + cap);
    int rc = json_string_unescape(raw, dst + 5, cap, &n);
    assert(rc == 0);
    (void)rc;
    uint8_t head[5];
    size_t hlen;
    if (n < 32) {
        head[0] = (uint8_t)(0xa0 | n);
        hlen = 1;
    } else {
        int w = n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
        head[0] = w == 1 ? 0xd9 : w == 2 ? 0xda : 0xdb;
        store_be(head + 1, n, w);
        hlen = (size_t)w + 1;
    }
    memmove(dst + hlen, dst + 5, n);
    memcpy(dst, head, hlen);
    buf_commit(out, hlen + n);
}

/*
 * The raw text of a member key returned by json_object_next, re-scanned from its opening
 * quote inside the object text. (json_object_next in base/json.c at 28486d7 mis-measures
 * keys that are empty or start with an escape; scanning again is correct either way.)
 */
static json_value_t object_key(slice_t obj, json_value_t k)
{
    size_t pos = (size_t)(k.raw.ptr - obj.ptr);
    json_value_t fixed;
    if (json_skip_value(obj, &pos, &fixed, NULL) < 0 || fixed.type != JSON_STRING)
        return k;
    return fixed;
}

/*
 * socket.io-parser's reconstructPacket test: the object's (last) `_placeholder` member
 * is `true`. Returns 1 with the binary index in *num, 0 if not a placeholder, -1 when it
 * is one with an unusable `num`.
 */
static int placeholder(const from_ctx_t *c, slice_t obj, size_t *num, const char **err)
{
    json_iter_t it;
    json_value_t k, v, flag = {JSON_INVALID, {NULL, 0}}, nv = {JSON_INVALID, {NULL, 0}};
    int rc;
    if (json_object_begin(&it, obj, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        k = object_key(obj, k);
        if (json_string_eq(k.raw, SLICE_LIT("_placeholder")))
            flag = v;
        else if (json_string_eq(k.raw, SLICE_LIT("num")))
            nv = v;
    }
    if (rc < 0)
        return -1;
    if (flag.type != JSON_TRUE)
        return 0;
    int64_t i;
    if (nv.type != JSON_NUMBER || json_number_to_i64(nv.raw, &i) < 0 || i < 0 ||
        (uint64_t)i >= c->nbins)
        return fail(err, "msgpack: illegal attachments");
    *num = (size_t)i;
    return 1;
}

static int object_to_mp(from_ctx_t *c, slice_t obj, const char **err)
{
    json_iter_t it;
    json_value_t k, v;
    uint64_t n = 0;
    int rc;
    if (c->bins) {
        size_t num;
        rc = placeholder(c, obj, &num, err);
        if (rc != 0) {
            if (rc > 0)
                msgpack_append_bin(c->out, c->bins[num]);
            return rc < 0 ? -1 : 0;
        }
    }
    if (json_object_begin(&it, obj, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1)
        n++;
    if (rc < 0 || n > UINT32_MAX)
        return fail(err, "msgpack: bad object");
    msgpack_append_map_header(c->out, (uint32_t)n);
    json_object_begin(&it, obj, err);
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        str_from_json(c->out, object_key(obj, k).raw);
        if (json_to_mp(c, v, err) < 0)
            return -1;
    }
    return rc < 0 ? -1 : 0;
}

static int array_to_mp(from_ctx_t *c, slice_t arr, const char **err)
{
    json_iter_t it;
    json_value_t v;
    uint64_t n = 0;
    int rc;
    if (json_array_begin(&it, arr, err) < 0)
        return -1;
    while ((rc = json_array_next(&it, &v, err)) == 1)
        n++;
    if (rc < 0 || n > UINT32_MAX)
        return fail(err, "msgpack: bad array");
    msgpack_append_array_header(c->out, (uint32_t)n);
    json_array_begin(&it, arr, err);
    while ((rc = json_array_next(&it, &v, err)) == 1) {
        if (json_to_mp(c, v, err) < 0)
            return -1;
    }
    return rc < 0 ? -1 : 0;
}

static int json_to_mp(from_ctx_t *c, json_value_t val, const char **err)
{
    double d;
    switch (val.type) {
    case JSON_NULL:
        msgpack_append_nil(c->out);
        return 0;
    case JSON_TRUE:
        msgpack_append_bool(c->out, true);
        return 0;
    case JSON_FALSE:
        msgpack_append_bool(c->out, false);
        return 0;
    case JSON_STRING:
        str_from_json(c->out, val.raw);
        return 0;
    case JSON_ARRAY:
        return array_to_mp(c, val.raw, err);
    case JSON_OBJECT:
        return object_to_mp(c, val.raw, err);
    case JSON_NUMBER:
        if (json_number_to_double(val.raw, &d) < 0)
            return fail(err, "msgpack: bad number");
        msgpack_append_number(c->out, d);
        return 0;
    default:
        return fail(err, "msgpack: bad JSON value");
    }
}

int msgpack_from_json(slice_t json, buf_t *out, const slice_t *bins, size_t nbins, const char **err)
{
    from_ctx_t c = {out, bins, nbins};
    json_value_t v;
    if (json_validate(json, &v, err) < 0)
        return -1;
    return json_to_mp(&c, v, err);
}

/* Walks a bracket-less list `a,b,c`, encoding each value when `c` is non-NULL. */
static int walk_list(slice_t list, from_ctx_t *c, uint32_t *count, const char **err)
{
    size_t pos = json_skip_ws(list, 0);
    uint32_t n = 0;
    while (pos < list.len) {
        json_value_t v;
        if (json_skip_value(list, &pos, &v, err) < 0)
            return -1;
        if (n == UINT32_MAX)
            return fail(err, "msgpack: list too long");
        n++;
        if (c && json_to_mp(c, v, err) < 0)
            return -1;
        pos = json_skip_ws(list, pos);
        if (pos == list.len)
            break;
        if (list.ptr[pos] != ',')
            return fail(err, "msgpack: expected ',' in list");
        pos = json_skip_ws(list, pos + 1);
        if (pos == list.len)
            return fail(err, "msgpack: trailing ',' in list");
    }
    if (count)
        *count = n;
    return 0;
}

int msgpack_json_list_count(slice_t list, uint32_t *count, const char **err)
{
    return walk_list(list, NULL, count, err);
}

int msgpack_from_json_list(slice_t list, buf_t *out, const slice_t *bins, size_t nbins,
                           uint32_t *count, const char **err)
{
    from_ctx_t c = {out, bins, nbins};
    return walk_list(list, &c, count, err);
}
