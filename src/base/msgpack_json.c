/*
 * msgpack_json: the bridge between MessagePack and JSON text. See msgpack_json.h for the
 * contract.
 *
 * Both directions walk one value recursively, bounded by MSGPACK_MAX_DEPTH (the reader
 * refuses deeper input), and write straight into the caller's buffer: strings are
 * unescaped in place behind a worst-case header gap, binaries become placeholders that
 * point into the input.
 */
#include "base/msgpack_json.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/json.h"

#define E_DEPTH "msgpack: nesting too deep"

static int fail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -1;
}

/* A 4-byte big-endian number (timestamp fields). */
static uint64_t be32(const uint8_t *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
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

/* Extensions as notepack decodes them (see msgpack_json_from_mp). */
static int ext_to_json(buf_t *out, const msgpack_value_t *v, msgpack_bins_t *bins, int depth,
                       const char **err)
{
    uint8_t marker = v->raw.ptr[0];
    const uint8_t *d = v->v.bytes.ptr;
    size_t len = v->v.bytes.len;
    if (v->ext_type == 0 && marker >= 0xc7 && marker <= 0xc9)
        return bin_to_json(out, v->v.bytes, false, bins, depth, err);
    if (v->ext_type == 0 && marker == 0xd7) {
        append_date(out, (double)(int32_t)be32(d) * 4294967296.0 + (double)be32(d + 4));
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xd6) {
        append_date(out, (double)be32(d) * 1e3);
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xd7) {
        uint64_t hi = be32(d), lo = be32(d + 4);
        double s = (double)(hi & 3) * 4294967296.0 + (double)lo;
        append_date(out, s * 1e3 + (double)(hi >> 2) / 1e6);
        return 0;
    }
    if (v->ext_type == -1 && marker == 0xc7 && len == 12) {
        double ns = (double)be32(d);
        double s = (double)(int32_t)be32(d + 4) * 4294967296.0 + (double)be32(d + 8);
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

int msgpack_json_from_mp(slice_t raw, buf_t *out, msgpack_bins_t *bins, const char **err)
{
    size_t p = 0;
    return value_to_json(raw, &p, out, bins, 0, err);
}

int msgpack_json_list_from_mp(slice_t raw, uint32_t first, buf_t *out, msgpack_bins_t *bins,
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
    size_t hlen = msgpack_str_header(head, n);
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

int msgpack_json_to_mp(slice_t json, buf_t *out, const slice_t *bins, size_t nbins, const char **err)
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

int msgpack_json_list_to_mp(slice_t list, buf_t *out, const slice_t *bins, size_t nbins,
                           uint32_t *count, const char **err)
{
    from_ctx_t c = {out, bins, nbins};
    return walk_list(list, &c, count, err);
}
