/*
 * yjs_codec: lib0 primitives for Yjs updates. See yjs_codec.h for the contract.
 *
 * Every reader checks the bytes left before it touches them, reports the first error
 * into the cursor's slot with the offset of the value that failed (not of the byte
 * where the failure was noticed, so "byte N" points at the field), and leaves the
 * cursor wherever it stopped: after an error the cursor must not be used again.
 */
#include "yjs/yjs_codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void yjs_error_clear(yjs_error_t *err)
{
    if (!err)
        return;
    err->code = YJS_OK;
    err->offset = 0;
    err->input = 0;
    err->msg[0] = '\0';
}

int yjs_error_set(yjs_error_t *err, int code, size_t offset, const char *fmt, ...)
{
    if (!err || err->code != YJS_OK)
        return code;
    err->code = code;
    err->offset = offset;
    int n = snprintf(err->msg, sizeof err->msg, "byte %zu: ", offset);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

const char *yjs_status_name(int code)
{
    switch (code) {
    case YJS_OK: return "ok";
    case YJS_E_TRUNCATED: return "truncated";
    case YJS_E_VARINT: return "varint";
    case YJS_E_LENGTH: return "length";
    case YJS_E_CONTENT: return "content";
    case YJS_E_UTF8: return "utf8";
    case YJS_E_ANY: return "any";
    case YJS_E_TRAILING: return "trailing";
    case YJS_E_LIMIT: return "limit";
    case YJS_E_STRUCT: return "struct";
    case YJS_E_NOMEM: return "nomem";
    case YJS_E_ARG: return "arg";
    default: return "unknown";
    }
}

static int fail(yjs_cursor_t *c, const uint8_t *at, int code, const char *fmt, const char *what)
{
    return yjs_error_set(c->err, code, (size_t)(at - c->base), fmt, what ? what : "value");
}

int yjs_read_count(yjs_cursor_t *c, uint64_t *n, size_t min_item_bytes, const char *what)
{
    const uint8_t *at = c->p;
    int rc = yjs_read_varuint(c, n, what);
    if (rc)
        return rc;
    if (*n > yjs_cursor_left(c) / min_item_bytes)
        return yjs_error_set(c->err, YJS_E_LENGTH, (size_t)(at - c->base),
                             "%s: %llu declared, more than the input holds", what,
                             (unsigned long long)*n);
    return YJS_OK;
}

int yjs_read_ds_range(yjs_cursor_t *c, uint64_t *clock, uint64_t *len)
{
    const uint8_t *at = c->p;
    int rc;
    if ((rc = yjs_read_varuint(c, clock, "delete range clock")) ||
        (rc = yjs_read_varuint(c, len, "delete range length")))
        return rc;
    if (*len > YJS_MAX_SAFE_INT - *clock)
        return yjs_error_set(c->err, YJS_E_STRUCT, (size_t)(at - c->base),
                             "delete range end above 2^53-1");
    return YJS_OK;
}

int yjs_read_u8(yjs_cursor_t *c, uint8_t *out, const char *what)
{
    if (c->p >= c->end)
        return fail(c, c->p, YJS_E_TRUNCATED, "unexpected end of input, expected %s", what);
    *out = *c->p++;
    return YJS_OK;
}

int yjs__read_varuint(yjs_cursor_t *c, uint64_t *out, const char *what)
{
    const uint8_t *start = c->p;
    size_t left = yjs_cursor_left(c);
    uint64_t v = 0;
    /* up to 7 bytes hold at most 49 bits: no range check needed on the way */
    for (size_t i = 0; i < 7 && i < left; i++) {
        uint8_t b = start[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            c->p = start + i + 1;
            *out = v;
            return YJS_OK;
        }
    }
    if (left < 7)
        return fail(c, start, YJS_E_TRUNCATED, "truncated varUint (%s)", what);
    for (unsigned i = 7; i < 10; i++) {
        if (i >= left)
            return fail(c, start, YJS_E_TRUNCATED, "truncated varUint (%s)", what);
        uint8_t b = start[i];
        uint64_t bits = (uint64_t)(b & 0x7f);
        /* byte 8 may add 4 more bits (up to 2^53-1); bytes 9 and 10 only zeros */
        if (bits && (i > 7 || (v | bits << 49) > YJS_MAX_SAFE_INT))
            return fail(c, start, YJS_E_VARINT, "varUint above 2^53-1 (%s)", what);
        v |= bits << (7 * i);
        if (!(b & 0x80)) {
            c->p = start + i + 1;
            *out = v;
            return YJS_OK;
        }
    }
    return fail(c, start, YJS_E_VARINT, "varUint longer than 10 bytes (%s)", what);
}

int yjs_read_varint(yjs_cursor_t *c, uint64_t *magnitude, bool *neg, const char *what)
{
    const uint8_t *start = c->p;
    if (c->p >= c->end)
        return fail(c, start, YJS_E_TRUNCATED, "truncated varInt (%s)", what);
    uint8_t b = *c->p++;
    uint64_t v = b & 0x3f;
    bool sign = (b & 0x40) != 0;
    unsigned shift = 6;
    while (b & 0x80) {
        if (shift > 6 + 7 * 8)
            return fail(c, start, YJS_E_VARINT, "varInt longer than 10 bytes (%s)", what);
        if (c->p >= c->end)
            return fail(c, start, YJS_E_TRUNCATED, "truncated varInt (%s)", what);
        b = *c->p++;
        uint64_t bits = (uint64_t)(b & 0x7f);
        if (bits && (shift >= 53 || (bits << shift) >> shift != bits))
            return fail(c, start, YJS_E_VARINT, "varInt above 2^53-1 (%s)", what);
        v |= bits << shift;
        if (v > YJS_MAX_SAFE_INT)
            return fail(c, start, YJS_E_VARINT, "varInt above 2^53-1 (%s)", what);
        shift += 7;
    }
    if (magnitude)
        *magnitude = v;
    if (neg)
        *neg = sign;
    return YJS_OK;
}

int yjs_read_raw(yjs_cursor_t *c, size_t n, slice_t *out, const char *what)
{
    if (n > yjs_cursor_left(c))
        return fail(c, c->p, YJS_E_LENGTH, "%s runs past the end of the input", what);
    if (out)
        *out = slice_make(c->p, n);
    c->p += n;
    return YJS_OK;
}

int yjs_read_buf(yjs_cursor_t *c, slice_t *out, const char *what)
{
    const uint8_t *start = c->p;
    uint64_t n;
    int rc = yjs_read_varuint(c, &n, what);
    if (rc)
        return rc;
    if (n > yjs_cursor_left(c))
        return fail(c, start, YJS_E_LENGTH, "length of %s runs past the end of the input",
                    what);
    if (out)
        *out = slice_make(c->p, (size_t)n);
    c->p += n;
    return YJS_OK;
}

int yjs_read_string(yjs_cursor_t *c, slice_t *out, uint64_t *utf16_len, const char *what)
{
    const uint8_t *start = c->p;
    slice_t s = {0};
    /* short ASCII strings (most map keys, typed characters) settle here */
    if (c->end - c->p >= 2 && c->p[0] < 0x80 && c->p[0] <= c->end - c->p - 1) {
        size_t n = c->p[0], i = 0;
        while (i < n && c->p[1 + i] < 0x80)
            i++;
        if (i == n) {
            if (out)
                *out = slice_make(c->p + 1, n);
            if (utf16_len)
                *utf16_len = n;
            c->p += 1 + n;
            return YJS_OK;
        }
    }
    int rc = yjs_read_buf(c, &s, what);
    if (rc)
        return rc;
    size_t bad = yjs_utf8_check(s, utf16_len);
    if (bad != s.len) {
        c->p = start;
        return yjs_error_set(c->err, YJS_E_UTF8, (size_t)(s.ptr + bad - c->base),
                             "invalid UTF-8 in %s", what ? what : "string");
    }
    if (out)
        *out = s;
    return YJS_OK;
}

/* Reads the payload of one `any` value whose tag is already read; recursion is bounded
 * by `depth` so that a hostile nesting cannot exhaust the stack. */
static int any_body(yjs_cursor_t *c, uint8_t tag, unsigned depth, yjs_any_t *out);

static int any_value(yjs_cursor_t *c, unsigned depth, yjs_any_t *out)
{
    const uint8_t *start = c->p;
    uint8_t tag = 0;
    int rc = yjs_read_u8(c, &tag, "any tag");
    if (rc)
        return rc;
    if (depth > YJS_MAX_ANY_DEPTH)
        return yjs_error_set(c->err, YJS_E_ANY, (size_t)(start - c->base),
                             "any value nested deeper than %d", YJS_MAX_ANY_DEPTH);
    rc = any_body(c, tag, depth, out);
    if (rc)
        return rc;
    if (out)
        out->raw = slice_make(start, (size_t)(c->p - start));
    return YJS_OK;
}

static double be_float32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint64_t be_u64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return u;
}

static int any_container(yjs_cursor_t *c, uint8_t tag, unsigned depth, yjs_any_t *out)
{
    const uint8_t *start = c->p;
    uint64_t n;
    int rc = yjs_read_varuint(c, &n, tag == YJS_ANY_OBJECT ? "object size" : "array size");
    if (rc)
        return rc;
    /* each entry takes at least one byte: a count beyond what is left is a lie */
    if (n > yjs_cursor_left(c))
        return yjs_error_set(c->err, YJS_E_LENGTH, (size_t)(start - c->base),
                             "any %s of %llu entries runs past the end of the input",
                             tag == YJS_ANY_OBJECT ? "object" : "array", (unsigned long long)n);
    const uint8_t *body = c->p;
    for (uint64_t i = 0; i < n; i++) {
        if (tag == YJS_ANY_OBJECT && (rc = yjs_read_string(c, NULL, NULL, "object key")))
            return rc;
        if ((rc = any_value(c, depth + 1, NULL)))
            return rc;
    }
    if (out) {
        out->u = n;
        out->s = slice_make(body, (size_t)(c->p - body));
    }
    return YJS_OK;
}

static int any_body(yjs_cursor_t *c, uint8_t tag, unsigned depth, yjs_any_t *out)
{
    yjs_any_t tmp;
    if (!out)
        out = &tmp;
    memset(out, 0, sizeof *out);
    out->tag = tag;
    slice_t s = {0};
    int rc;
    switch (tag) {
    case YJS_ANY_UNDEFINED:
    case YJS_ANY_NULL:
    case YJS_ANY_FALSE:
    case YJS_ANY_TRUE:
        return YJS_OK;
    case YJS_ANY_INT:
        rc = yjs_read_varint(c, &out->u, &out->neg, "any integer");
        out->f = out->neg ? -(double)out->u : (double)out->u;
        return rc;
    case YJS_ANY_FLOAT32:
        if ((rc = yjs_read_raw(c, 4, &s, "any float32")))
            return rc;
        out->f = be_float32(s.ptr);
        return YJS_OK;
    case YJS_ANY_FLOAT64:
        if ((rc = yjs_read_raw(c, 8, &s, "any float64")))
            return rc;
        out->u = be_u64(s.ptr);
        memcpy(&out->f, &out->u, sizeof out->f);
        out->u = 0;
        return YJS_OK;
    case YJS_ANY_BIGINT:
        if ((rc = yjs_read_raw(c, 8, &s, "any bigint")))
            return rc;
        out->u = be_u64(s.ptr);
        return YJS_OK;
    case YJS_ANY_STRING:
        return yjs_read_string(c, &out->s, NULL, "any string");
    case YJS_ANY_BYTES:
        return yjs_read_buf(c, &out->s, "any byte array");
    case YJS_ANY_OBJECT:
    case YJS_ANY_ARRAY:
        return any_container(c, tag, depth, out);
    default:
        return yjs_error_set(c->err, YJS_E_ANY, (size_t)(c->p - 1 - c->base),
                             "unknown any tag %u", tag);
    }
}

int yjs_read_any(yjs_cursor_t *c, slice_t *raw, const char *what)
{
    (void)what;
    yjs_any_t v;
    int rc = any_value(c, 0, &v);
    if (rc == YJS_OK && raw)
        *raw = v.raw;
    return rc;
}

int yjs_any_next(yjs_cursor_t *c, yjs_any_t *out)
{
    return any_value(c, 0, out);
}

static void json_string(buf_t *out, slice_t s)
{
    buf_append_byte(out, '"');
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if (ch == '"' || ch == '\\') {
            buf_append_byte(out, '\\');
            buf_append_byte(out, ch);
        } else if (ch < 0x20) {
            buf_appendf(out, "\\u%04x", ch);
        } else {
            buf_append_byte(out, ch);
        }
    }
    buf_append_byte(out, '"');
}

static void json_number(buf_t *out, double f)
{
    if (isnan(f))
        buf_append_cstr(out, "NaN");
    else if (isinf(f))
        buf_append_cstr(out, f > 0 ? "Infinity" : "-Infinity");
    else
        buf_appendf(out, "%.17g", f);
}

static int any_json(yjs_cursor_t *c, buf_t *out);

static int any_json_container(const yjs_any_t *v, buf_t *out, yjs_error_t *err)
{
    yjs_cursor_t in = yjs_cursor_make(v->s.ptr, v->s.len, err);
    buf_append_byte(out, v->tag == YJS_ANY_OBJECT ? '{' : '[');
    for (uint64_t i = 0; i < v->u; i++) {
        if (i)
            buf_append_byte(out, ',');
        slice_t key;
        int rc;
        if (v->tag == YJS_ANY_OBJECT) {
            if ((rc = yjs_read_string(&in, &key, NULL, "object key")))
                return rc;
            json_string(out, key);
            buf_append_byte(out, ':');
        }
        if ((rc = any_json(&in, out)))
            return rc;
    }
    buf_append_byte(out, v->tag == YJS_ANY_OBJECT ? '}' : ']');
    return YJS_OK;
}

static int any_json(yjs_cursor_t *c, buf_t *out)
{
    yjs_any_t v;
    int rc = yjs_any_next(c, &v);
    if (rc)
        return rc;
    switch (v.tag) {
    case YJS_ANY_UNDEFINED: buf_append_cstr(out, "undefined"); break;
    case YJS_ANY_NULL: buf_append_cstr(out, "null"); break;
    case YJS_ANY_TRUE: buf_append_cstr(out, "true"); break;
    case YJS_ANY_FALSE: buf_append_cstr(out, "false"); break;
    case YJS_ANY_INT:
        buf_appendf(out, "%s%llu", v.neg ? "-" : "", (unsigned long long)v.u);
        break;
    case YJS_ANY_FLOAT32:
    case YJS_ANY_FLOAT64: json_number(out, v.f); break;
    case YJS_ANY_BIGINT: buf_appendf(out, "%lldn", (long long)(int64_t)v.u); break;
    case YJS_ANY_STRING: json_string(out, v.s); break;
    case YJS_ANY_BYTES:
        buf_append_cstr(out, "Uint8Array[");
        for (size_t i = 0; i < v.s.len; i++)
            buf_appendf(out, i ? ",%u" : "%u", v.s.ptr[i]);
        buf_append_byte(out, ']');
        break;
    default: return any_json_container(&v, out, c->err);
    }
    return YJS_OK;
}

int yjs_any_to_json(slice_t raw, buf_t *out, yjs_error_t *err)
{
    yjs_cursor_t c = yjs_cursor_make(raw.ptr, raw.len, err);
    return any_json(&c, out);
}

size_t yjs_varuint_size(uint64_t v)
{
    size_t n = 1;
    while (v > 0x7f) {
        v >>= 7;
        n++;
    }
    return n;
}

void yjs_write_varuint(buf_t *b, uint64_t v)
{
    uint8_t *p = buf_reserve(b, 10);
    buf_commit(b, yjs_put_varuint(p, v));
}

void yjs_write_buf(buf_t *b, slice_t s)
{
    yjs_write_varuint(b, s.len);
    if (s.len)
        buf_append(b, s.ptr, s.len);
}

/* Length of the UTF-8 sequence starting with `b0` and whether the bytes at p (n left)
 * form a valid, shortest-form, non-surrogate scalar value: 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t b0 = p[0];
    if (b0 < 0x80)
        return 1;
    if (b0 < 0xc2 || b0 > 0xf4)
        return 0; /* continuation byte, overlong 2-byte lead, or above U+10FFFF */
    size_t len = b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : 4;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    uint8_t b1 = p[1];
    if (b0 == 0xe0 && b1 < 0xa0)
        return 0; /* overlong 3-byte */
    if (b0 == 0xed && b1 >= 0xa0)
        return 0; /* UTF-16 surrogate */
    if (b0 == 0xf0 && b1 < 0x90)
        return 0; /* overlong 4-byte */
    if (b0 == 0xf4 && b1 >= 0x90)
        return 0; /* above U+10FFFF */
    return len;
}

size_t yjs_utf8_check(slice_t s, uint64_t *utf16_len)
{
    uint64_t units = 0;
    size_t i = 0;
    while (i < s.len) {
        if (s.ptr[i] < 0x80) {
            i++;
            units++;
            continue;
        }
        size_t l = utf8_seq(s.ptr + i, s.len - i);
        if (l == 0)
            break;
        units += l == 4 ? 2 : 1;
        i += l;
    }
    if (utf16_len)
        *utf16_len = units;
    return i;
}

uint64_t yjs_utf16_len(slice_t s)
{
    /* valid UTF-8: one unit per lead byte, one more per 4-byte lead */
    uint64_t units = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t b = s.ptr[i];
        units += (b & 0xc0) != 0x80;
        units += b >= 0xf0;
    }
    return units;
}

void yjs_utf16_split(slice_t s, uint64_t k, slice_t *left, slice_t *right, bool *mid_pair)
{
    uint64_t units = 0;
    size_t i = 0;
    *mid_pair = false;
    if (!s.ptr) {
        *left = *right = s;
        return;
    }
    while (i < s.len && units < k) {
        uint8_t b = s.ptr[i];
        size_t l = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        if (l == 4 && units + 1 == k) {
            *mid_pair = true;
            *left = slice_make(s.ptr, i);
            *right = slice_make(s.ptr + i + 4, s.len - i - 4);
            return;
        }
        units += l == 4 ? 2 : 1;
        i += l;
    }
    *left = slice_make(s.ptr, i);
    *right = slice_make(s.ptr + i, s.len - i);
}
