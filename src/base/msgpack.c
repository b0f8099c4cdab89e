/*
 * msgpack: the MessagePack codec. See msgpack.h for the contract (the JSON bridge is
 * msgpack_json.c).
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

size_t msgpack_str_header(uint8_t head[5], size_t len)
{
    assert(len <= UINT32_MAX);
    if (len < 32) {
        head[0] = (uint8_t)(0xa0 | len);
        return 1;
    }
    int w = len < 0x100 ? 1 : len < 0x10000 ? 2 : 4;
    head[0] = w == 1 ? 0xd9 : w == 2 ? 0xda : 0xdb;
    store_be(head + 1, len, w);
    return (size_t)w + 1;
}

void msgpack_append_str_header(buf_t *b, size_t len)
{
    uint8_t head[5];
    buf_append(b, head, msgpack_str_header(head, len));
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
