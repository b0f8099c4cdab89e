/*
 * clu_wire_py: python-socketio Redis manager message codec. See the header.
 *
 * The writer half imitates CPython's json.dumps with default arguments: ensure_ascii
 * string escaping, `, ` / `: ` separators, integers copied digit for digit (Python ints
 * are exact), floats through repr's shortest round-trip digits with Python's switch to
 * exponent notation outside 1e-4 <= |x| < 1e16.
 */
#include "cluster/clu_wire_py.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/json.h"

static int fail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -1;
}

/* ------------------------------------------------------------------ Python-style JSON */

/* One code point of possibly invalid UTF-8; an invalid byte becomes U+FFFD. */
static uint32_t utf8_next(const uint8_t *p, size_t n, size_t *len)
{
    uint8_t c = p[0];
    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf && n >= 2 && (p[1] & 0xc0) == 0x80) {
        *len = 2;
        return ((uint32_t)(c & 0x1f) << 6) | (p[1] & 0x3f);
    }
    if (c >= 0xe0 && c <= 0xef && n >= 3 && (p[2] & 0xc0) == 0x80) {
        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (p[1] >= lo && p[1] <= hi) {
            *len = 3;
            return ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        }
    }
    if (c >= 0xf0 && c <= 0xf4 && n >= 4 && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (p[1] >= lo && p[1] <= hi) {
            *len = 4;
            return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
                   ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        }
    }
    return 0xfffd;
}

static void py_u(buf_t *out, uint32_t cp)
{
    buf_appendf(out, "\\u%04x", cp);
}

/* json.dumps' ensure_ascii string: `"` `\` and \b\f\n\r\t by name, everything outside
 * printable ASCII as \uXXXX (surrogate pairs above U+FFFF). */
static void py_string(buf_t *out, slice_t s)
{
    buf_append_byte(out, '"');
    for (size_t i = 0; i < s.len;) {
        size_t len;
        uint32_t cp = utf8_next(s.ptr + i, s.len - i, &len);
        i += len;
        const char *esc = NULL;
        switch (cp) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            break;
        }
        if (esc) {
            buf_append_cstr(out, esc);
        } else if (cp >= 0x20 && cp < 0x7f) {
            buf_append_byte(out, (uint8_t)cp);
        } else if (cp < 0x10000) {
            py_u(out, cp);
        } else {
            py_u(out, 0xd800 + ((cp - 0x10000) >> 10));
            py_u(out, 0xdc00 + ((cp - 0x10000) & 0x3ff));
        }
    }
    buf_append_byte(out, '"');
}

/* repr(float): shortest round-trip digits; exponent form outside [1e-4, 1e16). */
static void py_float(buf_t *out, double d)
{
    char tmp[40], digits[24];
    if (isnan(d) || isinf(d)) {
        /* Python would write its non-JSON NaN/Infinity; JSON.stringify writes null, which
         * every peer can parse. Only reachable from out-of-range input such as 1e400. */
        buf_append_cstr(out, "null");
        return;
    }
    if (d == 0) {
        buf_append_cstr(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    const char *p = tmp;
    int k = 0;
    if (*p == '-') {
        buf_append_byte(out, '-');
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (*p != '.')
            digits[k++] = *p;
    }
    int e = atoi(p + 1);
    if (e < -4 || e >= 16) {
        buf_append_byte(out, (uint8_t)digits[0]);
        if (k > 1) {
            buf_append_byte(out, '.');
            buf_append(out, digits + 1, (size_t)k - 1);
        }
        buf_appendf(out, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e < 0) {
        buf_append_cstr(out, "0.");
        for (int i = 0; i < -e - 1; i++)
            buf_append_byte(out, '0');
        buf_append(out, digits, (size_t)k);
    } else {
        for (int i = 0; i <= e; i++)
            buf_append_byte(out, i < k ? (uint8_t)digits[i] : '0');
        buf_append_byte(out, '.');
        if (k > e + 1)
            buf_append(out, digits + e + 1, (size_t)(k - e - 1));
        else
            buf_append_byte(out, '0');
    }
}

/* A number token: Python keeps integers exact (int), the rest becomes a float. */
static int py_number(buf_t *out, slice_t raw, const char **err)
{
    bool is_int = !memchr(raw.ptr, '.', raw.len) && !memchr(raw.ptr, 'e', raw.len) &&
                  !memchr(raw.ptr, 'E', raw.len);
    if (is_int) {
        if (slice_eq_cstr(raw, "-0"))
            buf_append_byte(out, '0');
        else
            buf_append_slice(out, raw);
        return 0;
    }
    double d;
    if (json_number_to_double(raw, &d) < 0)
        return fail(err, "clu_wire_py: bad number");
    py_float(out, d);
    return 0;
}

/* See clu_wire_sio.c: re-scan keys json_object_next may mis-measure. */
static json_value_t object_key(slice_t obj, json_value_t k)
{
    size_t pos = (size_t)(k.raw.ptr - obj.ptr);
    json_value_t fixed;
    if (json_skip_value(obj, &pos, &fixed, NULL) < 0 || fixed.type != JSON_STRING)
        return k;
    return fixed;
}

/* A raw JSON string decoded and written Python-style, via the tail of `tmp`. */
static void py_raw_string(buf_t *out, slice_t raw, buf_t *tmp)
{
    size_t at = tmp->len;
    json_string_unescape_buf(raw, tmp);
    if (tmp->len > at)
        py_string(out, slice_make(buf_data(tmp) + at, tmp->len - at));
    else
        py_string(out, slice_make(NULL, 0));
    tmp->len = at;
}

static int py_value(buf_t *out, json_value_t v, buf_t *tmp, const char **err);

static int py_container(buf_t *out, json_value_t v, buf_t *tmp, const char **err)
{
    json_iter_t it;
    json_value_t k, e;
    int rc, i = 0;
    bool obj = v.type == JSON_OBJECT;
    buf_append_byte(out, obj ? '{' : '[');
    if (obj)
        json_object_begin(&it, v.raw, NULL);
    else
        json_array_begin(&it, v.raw, NULL);
    while ((rc = obj ? json_object_next(&it, &k, &e, err) : json_array_next(&it, &e, err)) == 1) {
        if (i++)
            buf_append_cstr(out, ", ");
        if (obj) {
            py_raw_string(out, object_key(v.raw, k).raw, tmp);
            buf_append_cstr(out, ": ");
        }
        if (py_value(out, e, tmp, err) < 0)
            return -1;
    }
    buf_append_byte(out, obj ? '}' : ']');
    return rc < 0 ? -1 : 0;
}

static int py_value(buf_t *out, json_value_t v, buf_t *tmp, const char **err)
{
    switch (v.type) {
    case JSON_NULL:
        buf_append_cstr(out, "null");
        return 0;
    case JSON_TRUE:
        buf_append_cstr(out, "true");
        return 0;
    case JSON_FALSE:
        buf_append_cstr(out, "false");
        return 0;
    case JSON_NUMBER:
        return py_number(out, v.raw, err);
    case JSON_STRING:
        py_raw_string(out, v.raw, tmp);
        return 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
        return py_container(out, v, tmp, err);
    default:
        return fail(err, "clu_wire_py: bad JSON");
    }
}

int clu_wire_py_json(buf_t *out, slice_t json, const char **err)
{
    json_value_t v;
    buf_t tmp = BUF_INIT;
    if (json_validate(json, &v, err) < 0)
        return -1;
    int rc = py_value(out, v, &tmp, err);
    buf_dispose(&tmp);
    return rc;
}

/* Writes a bracket-less JSON list `a,b` as Python list items `a, b`. */
static int py_list_items(buf_t *out, slice_t list, const char **err)
{
    buf_t tmp = BUF_INIT;
    size_t pos = json_skip_ws(list, 0);
    int n = 0, rc = 0;
    while (pos < list.len && rc == 0) {
        json_value_t v;
        if (json_skip_value(list, &pos, &v, err) < 0) {
            rc = -1;
            break;
        }
        if (n++)
            buf_append_cstr(out, ", ");
        rc = py_value(out, v, &tmp, err);
        pos = json_skip_ws(list, pos);
        if (pos < list.len && list.ptr[pos] != ',')
            rc = fail(err, "clu_wire_py: expected ',' in list");
        else if (pos < list.len && (pos = json_skip_ws(list, pos + 1)) == list.len)
            rc = fail(err, "clu_wire_py: trailing ',' in list");
    }
    buf_dispose(&tmp);
    return rc;
}

/* ------------------------------------------------------------------ encoding */

static void py_key(buf_t *out, const char *key)
{
    buf_append_cstr(out, ", \"");
    buf_append_cstr(out, key);
    buf_append_cstr(out, "\": ");
}

static void py_method(buf_t *out, const char *method)
{
    buf_append_cstr(out, "{\"method\": \"");
    buf_append_cstr(out, method);
    buf_append_byte(out, '"');
}

static void py_names(buf_t *out, const clu_py_names_t *n)
{
    if (!n->list && n->n == 0) {
        buf_append_cstr(out, "null");
        return;
    }
    if (!n->list) {
        py_string(out, n->names[0]);
        return;
    }
    buf_append_byte(out, '[');
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            buf_append_cstr(out, ", ");
        py_string(out, n->names[i]);
    }
    buf_append_byte(out, ']');
}

/* `data`: the argument list, or [list, "b64", ...] for a binary emit. */
static int py_emit_data(buf_t *out, const clu_py_emit_t *e, const char **err)
{
    buf_append_byte(out, '[');
    if (e->nbins)
        buf_append_byte(out, '[');
    if (py_list_items(out, e->args, err) < 0)
        return -1;
    if (!e->nbins) {
        buf_append_byte(out, ']');
        return 0;
    }
    buf_append_byte(out, ']');
    for (size_t i = 0; i < e->nbins; i++) {
        size_t n = base64_encoded_len(e->bins[i].len, BASE64_STD);
        buf_append_cstr(out, ", \"");
        uint8_t *dst = buf_reserve(out, n + 1);
        base64_encode(e->bins[i].ptr, e->bins[i].len, (char *)dst, BASE64_STD);
        buf_commit(out, n);
        buf_append_byte(out, '"');
    }
    buf_append_byte(out, ']');
    return 0;
}

int clu_wire_py_encode_emit(buf_t *out, const clu_py_emit_t *e, const char **err)
{
    py_method(out, "emit");
    py_key(out, "event");
    py_string(out, e->event);
    py_key(out, "data");
    if (py_emit_data(out, e, err) < 0)
        return -1;
    py_key(out, "binary");
    buf_append_cstr(out, e->nbins ? "true" : "false");
    py_key(out, "namespace");
    py_string(out, e->nsp);
    py_key(out, "room");
    py_names(out, &e->room);
    py_key(out, "skip_sid");
    py_names(out, &e->skip_sid);
    py_key(out, "callback");
    if (e->has_callback) {
        buf_append_byte(out, '[');
        py_string(out, e->cb_room);
        buf_append_cstr(out, ", ");
        py_string(out, e->nsp);
        buf_append_cstr(out, ", ");
        buf_append_u64(out, e->cb_id);
        buf_append_byte(out, ']');
    } else {
        buf_append_cstr(out, "null");
    }
    py_key(out, "host_id");
    py_string(out, e->host_id);
    buf_append_byte(out, '}');
    return 0;
}

int clu_wire_py_encode_callback(buf_t *out, slice_t host_id, slice_t sid, slice_t nsp, uint64_t id,
                                slice_t args_json, const char **err)
{
    py_method(out, "callback");
    py_key(out, "host_id");
    py_string(out, host_id);
    py_key(out, "sid");
    py_string(out, sid);
    py_key(out, "namespace");
    py_string(out, nsp);
    py_key(out, "id");
    buf_append_u64(out, id);
    py_key(out, "args");
    buf_append_byte(out, '[');
    if (py_list_items(out, args_json, err) < 0)
        return -1;
    buf_append_cstr(out, "]}");
    return 0;
}

void clu_wire_py_encode_disconnect(buf_t *out, slice_t sid, slice_t nsp, slice_t host_id)
{
    py_method(out, "disconnect");
    py_key(out, "sid");
    py_string(out, sid);
    py_key(out, "namespace");
    py_string(out, nsp);
    py_key(out, "host_id");
    py_string(out, host_id);
    buf_append_byte(out, '}');
}

void clu_wire_py_encode_room(buf_t *out, bool enter, slice_t sid, slice_t room, slice_t nsp,
                             slice_t host_id)
{
    py_method(out, enter ? "enter_room" : "leave_room");
    py_key(out, "sid");
    py_string(out, sid);
    py_key(out, "room");
    py_string(out, room);
    py_key(out, "namespace");
    py_string(out, nsp);
    py_key(out, "host_id");
    py_string(out, host_id);
    buf_append_byte(out, '}');
}

void clu_wire_py_encode_close_room(buf_t *out, slice_t room, slice_t nsp, slice_t host_id)
{
    py_method(out, "close_room");
    py_key(out, "room");
    py_string(out, room);
    py_key(out, "namespace");
    py_string(out, nsp);
    py_key(out, "host_id");
    py_string(out, host_id);
    buf_append_byte(out, '}');
}

/* ------------------------------------------------------------------ decoding */

static clu_py_method_t method_of(slice_t raw)
{
    static const char *names[] = {NULL,         "emit",       "callback",  "disconnect",
                                  "enter_room", "leave_room", "close_room"};
    for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (json_string_eq(raw, slice_from_cstr(names[i])))
            return (clu_py_method_t)i;
    }
    return CLU_PY_UNKNOWN;
}

static clu_wire_val_t *member_slot(clu_py_msg_t *m, slice_t key_raw)
{
    static const struct {
        const char *name;
        size_t off;
    } slots[] = {
        {"host_id", offsetof(clu_py_msg_t, host_id)},
        {"event", offsetof(clu_py_msg_t, event)},
        {"data", offsetof(clu_py_msg_t, data)},
        {"binary", offsetof(clu_py_msg_t, binary)},
        {"namespace", offsetof(clu_py_msg_t, nsp)},
        {"room", offsetof(clu_py_msg_t, room)},
        {"skip_sid", offsetof(clu_py_msg_t, skip_sid)},
        {"callback", offsetof(clu_py_msg_t, callback)},
        {"sid", offsetof(clu_py_msg_t, sid)},
        {"id", offsetof(clu_py_msg_t, id)},
        {"args", offsetof(clu_py_msg_t, args)},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (json_string_eq(key_raw, slice_from_cstr(slots[i].name)))
            return (clu_wire_val_t *)((char *)m + slots[i].off);
    }
    return NULL;
}

int clu_wire_py_decode(slice_t msg, clu_py_msg_t *out, const char **err)
{
    json_value_t top, k, v, method = {JSON_INVALID, {NULL, 0}};
    json_iter_t it;
    int rc;
    memset(out, 0, sizeof *out);
    if (json_validate(msg, &top, err) < 0)
        return -1;
    if (top.type != JSON_OBJECT)
        return fail(err, "clu_wire_py: message is not an object");
    json_object_begin(&it, top.raw, NULL);
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        k = object_key(top.raw, k);
        if (json_string_eq(k.raw, SLICE_LIT("method"))) {
            method = v;
            continue;
        }
        clu_wire_val_t *slot = member_slot(out, k.raw);
        if (slot)
            *slot = (clu_wire_val_t){CLU_WIRE_JSON, v.raw};
    }
    if (rc < 0)
        return -1;
    if (method.type != JSON_STRING)
        return fail(err, "clu_wire_py: no method");
    out->method = method_of(method.raw);
    return 0;
}

int clu_wire_py_names(clu_wire_val_t v, slice_t *out, size_t cap, size_t *n, bool *all,
                      buf_t *scratch, const char **err)
{
    *n = 0;
    *all = clu_wire_val_is_nullish(v);
    if (*all)
        return 0;
    if (clu_wire_val_str(v, scratch, &out[0]) == 0) {
        if (cap < 1)
            return fail(err, "clu_wire_py: too many names");
        *n = 1;
        return 0;
    }
    return clu_wire_val_strings(v, out, cap, n, scratch, err);
}

/* The elements of a JSON array value, comma-joined, into `args`. */
static int list_args(slice_t arr, buf_t *args, size_t *nargs, const char **err)
{
    json_iter_t it;
    json_value_t e;
    int rc;
    size_t n = 0;
    json_array_begin(&it, arr, NULL);
    while ((rc = json_array_next(&it, &e, err)) == 1) {
        if (n++)
            buf_append_byte(args, ',');
        buf_append_slice(args, e.raw);
    }
    *nargs = n;
    return rc < 0 ? -1 : 0;
}

/* A list value as args, anything else as the single argument (python's tuple rule). */
static int value_args(slice_t raw, buf_t *args, size_t *nargs, const char **err)
{
    json_value_t v;
    if (json_validate(raw, &v, err) < 0)
        return -1;
    if (v.type == JSON_ARRAY)
        return list_args(raw, args, nargs, err);
    buf_append_slice(args, raw);
    *nargs = 1;
    return 0;
}

/* Decodes the base64 attachments data[1..] into `att`, reserved once up front. */
static int attachments(slice_t data, buf_t *att, slice_t *bins, size_t cap, size_t *nbins,
                       const char **err)
{
    json_iter_t it;
    json_value_t e;
    size_t need = 0, n = 0;
    json_array_begin(&it, data, NULL);
    json_array_next(&it, &e, NULL);
    while (json_array_next(&it, &e, NULL) == 1) {
        if (e.type != JSON_STRING || json_string_has_escapes(e.raw))
            return fail(err, "clu_wire_py: attachment is not base64 text");
        if (++n > cap)
            return fail(err, "clu_wire_py: too many attachments");
        need += base64_decoded_max(e.raw.len - 2);
    }
    uint8_t *w = need ? buf_reserve(att, need) : NULL, *start = w;
    json_array_begin(&it, data, NULL);
    json_array_next(&it, &e, NULL);
    for (size_t i = 0; i < n; i++) {
        json_array_next(&it, &e, NULL);
        ssize_t got = base64_decode((const char *)e.raw.ptr + 1, e.raw.len - 2, w, BASE64_STD);
        if (got < 0)
            return fail(err, "clu_wire_py: bad base64 attachment");
        bins[i] = slice_make(w, (size_t)got);
        w += got;
    }
    if (start)
        buf_commit(att, (size_t)(w - start));
    *nbins = n;
    return 0;
}

int clu_wire_py_emit_args(const clu_py_msg_t *m, buf_t *args, size_t *nargs, buf_t *att,
                          slice_t *bins, size_t cap, size_t *nbins, const char **err)
{
    bool binary = false;
    *nbins = 0;
    if (!clu_wire_val_present(m->data))
        return fail(err, "clu_wire_py: emit without data");
    if (clu_wire_val_present(m->binary) && !clu_wire_val_bool(m->binary, &binary))
        binary = !clu_wire_val_is_nullish(m->binary); /* Python truthiness, roughly */
    if (!binary)
        return value_args(m->data.raw, args, nargs, err);
    json_iter_t it;
    json_value_t first;
    if (json_array_begin(&it, m->data.raw, NULL) < 0 || json_array_next(&it, &first, NULL) != 1)
        return fail(err, "clu_wire_py: binary emit data is not [args, b64...]");
    if (attachments(m->data.raw, att, bins, cap, nbins, err) < 0)
        return -1;
    return value_args(first.raw, args, nargs, err);
}

int clu_wire_py_callback(const clu_py_msg_t *m, buf_t *scratch, slice_t *room, slice_t *nsp,
                         int64_t *id)
{
    json_iter_t it;
    json_value_t e[4];
    int count = 0;
    if (!clu_wire_val_present(m->callback) || json_array_begin(&it, m->callback.raw, NULL) < 0)
        return 0;
    while (count < 4 && json_array_next(&it, &e[count], NULL) == 1)
        count++;
    if (count != 3)
        return 0;
    if (clu_wire_val_str((clu_wire_val_t){CLU_WIRE_JSON, e[0].raw}, scratch, room) < 0 ||
        clu_wire_val_str((clu_wire_val_t){CLU_WIRE_JSON, e[1].raw}, scratch, nsp) < 0 ||
        !clu_wire_val_i64((clu_wire_val_t){CLU_WIRE_JSON, e[2].raw}, id))
        return -1;
    return 1;
}

/* ------------------------------------------------------------------ channels, ids */

void clu_wire_py_room_channel(buf_t *out, slice_t channel, slice_t nsp, slice_t room)
{
    buf_append_slice(out, channel);
    buf_append_byte(out, '#');
    buf_append_slice(out, nsp);
    buf_append_byte(out, '#');
    buf_append_slice(out, room);
}

void clu_wire_py_room_pattern(buf_t *out, slice_t channel)
{
    for (size_t i = 0; i < channel.len; i++) {
        uint8_t c = channel.ptr[i];
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            buf_append_byte(out, '\\');
        buf_append_byte(out, c);
    }
    buf_append_cstr(out, "#*");
}

int clu_wire_py_parse_room_channel(slice_t name, slice_t channel, slice_t *nsp, slice_t *room)
{
    if (name.len < channel.len + 1 || memcmp(name.ptr, channel.ptr, channel.len) != 0 ||
        name.ptr[channel.len] != '#')
        return -1;
    slice_t rest = slice_tail(name, channel.len + 1);
    long hash = slice_index(rest, '#');
    if (hash < 0)
        return -1;
    *nsp = slice_make(rest.ptr, (size_t)hash);
    *room = slice_tail(rest, (size_t)hash + 1);
    return 0;
}

void clu_wire_py_host_id(const uint8_t rnd[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uint8_t b = rnd[i];
        if (i == 6)
            b = (uint8_t)((b & 0x0f) | 0x40);
        if (i == 8)
            b = (uint8_t)((b & 0x3f) | 0x80);
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[32] = '\0';
}
