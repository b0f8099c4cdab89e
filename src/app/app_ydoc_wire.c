/*
 * app_ydoc_wire: byte arrays as JSON, document ids. See app_ydoc_wire.h.
 */
#include "app/app_ydoc_wire.h"

#include <string.h>

#include "base/json.h"

/* Writes 0..255 in decimal. */
static char *put_u8(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
        v %= 100;
        *p++ = (char)('0' + v / 10);
    } else if (v >= 10) {
        *p++ = (char)('0' + v / 10);
    }
    *p++ = (char)('0' + v % 10);
    return p;
}

void app_ydoc_wire_append_bytes(buf_t *out, slice_t bytes)
{
    char *w = (char *)buf_reserve(out, bytes.len * 4 + 2);
    char *p = w;
    *p++ = '[';
    for (size_t i = 0; i < bytes.len; i++) {
        if (i)
            *p++ = ',';
        p = put_u8(p, bytes.ptr[i]);
    }
    *p++ = ']';
    buf_commit(out, (size_t)(p - w));
}

bool app_ydoc_wire_decode_bytes(slice_t raw, buf_t *b, slice_t *out)
{
    buf_clear(b);
    /* every element but the last takes at least two bytes ("0,"), brackets two more */
    uint8_t *w = buf_try_reserve(b, raw.len / 2 + 1);
    json_iter_t it;
    json_value_t e;
    const char *err;
    size_t n = 0;
    int r;
    if (!w || json_array_begin(&it, raw, &err) != 0)
        return false;
    while ((r = json_array_next(&it, &e, &err)) == 1) {
        int64_t v;
        if (e.type != JSON_NUMBER || json_number_to_i64(e.raw, &v) != 0 || v < 0 || v > 255)
            return false;
        w[n++] = (uint8_t)v;
    }
    if (r != 0)
        return false;
    buf_commit(b, n);
    *out = buf_slice(b);
    return true;
}

const char *app_ydoc_wire_log_id(const char *id, char out[APP_YDOC_LOG_ID_SIZE])
{
    size_t n = 0;
    for (; id[n] && n < APP_YDOC_LOG_ID_SIZE - 1; n++)
        out[n] = (unsigned char)id[n] < 0x20 || id[n] == 0x7f ? '?' : id[n];
    out[n] = '\0';
    return out;
}

void app_ydoc_wire_append_norm_id(buf_t *out, const char *id)
{
    size_t start = out->len;
    buf_append_cstr(out, id);
    char *p = (char *)buf_data(out) + start;
    for (size_t i = 0; i < out->len - start; i++)
        if (p[i] == ':')
            p[i] = '_';
}

long app_ydoc_wire_doc_id(json_value_t document_id, char *id, size_t cap)
{
    size_t n;
    if (document_id.type != JSON_STRING ||
        json_string_unescape(document_id.raw, (uint8_t *)id, cap, &n) != 0)
        return -1;
    if (n == 0 || memchr(id, '\0', n))
        return -1;
    id[n] = '\0';
    if (n >= 5 && memcmp(id, "note_", 5) == 0)
        id[4] = ':';
    return (long)n;
}

slice_t app_ydoc_wire_note_id(const char *id, size_t n)
{
    if (n < 5 || memcmp(id, "note:", 5) != 0)
        return slice_make(NULL, 0);
    const char *p = id + 5;
    const char *colon = memchr(p, ':', n - 5);
    return slice_make(p, colon ? (size_t)(colon - p) : n - 5);
}

bool app_ydoc_wire_is_nonempty_object(json_value_t v)
{
    if (v.type != JSON_OBJECT)
        return false;
    size_t p = json_skip_ws(v.raw, 1);
    return p < v.raw.len && v.raw.ptr[p] != '}';
}

void app_ydoc_wire_append_or(buf_t *o, json_value_t v, const char *dflt)
{
    if (v.type != JSON_INVALID)
        buf_append_slice(o, v.raw);
    else
        json_append_string(o, slice_from_cstr(dflt));
}

void app_ydoc_wire_append_doc_key(buf_t *o, const char *id, size_t n)
{
    buf_append_cstr(o, "{\"document_id\":");
    json_append_string(o, slice_make(id, n));
}

void app_ydoc_wire_scratch_done(buf_t *b)
{
    if (b->len > APP_YDOC_SCRATCH_KEEP)
        buf_dispose(b);
    else
        buf_clear(b);
}

sioc_data_t app_ydoc_wire_data(const buf_t *b)
{
    sioc_data_t d = {(const char *)buf_data(b), b->len, NULL, 0};
    return d;
}

bool app_ydoc_wire_bin(const app_ydoc_msg_t *m, int64_t n, slice_t *out)
{
    if (m->args) {
        if (n < 0 || (uint64_t)n >= sioc_args_bin_count(m->args))
            return false;
        sioc_str_t b = sioc_args_bin(m->args, (size_t)n);
        *out = slice_make(b.ptr, b.len);
        return true;
    }
    if (n < 0 || (uint64_t)n >= m->n_bins)
        return false;
    *out = m->bins[n];
    return true;
}

bool app_ydoc_wire_placeholder(const app_ydoc_msg_t *m, slice_t obj, slice_t *out)
{
    json_iter_t it;
    json_value_t k, v;
    const char *err;
    bool flag = false;
    int64_t num = -1;
    if (json_object_begin(&it, obj, &err) != 0)
        return false;
    while (json_object_next(&it, &k, &v, &err) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("_placeholder")))
            flag = v.type == JSON_TRUE;
        else if (json_string_eq(k.raw, SLICE_LIT("num")) &&
                 (v.type != JSON_NUMBER || json_number_to_i64(v.raw, &num) != 0))
            num = -1;
    }
    return flag && app_ydoc_wire_bin(m, num, out);
}

bool app_ydoc_wire_parse_fields(slice_t json, app_ydoc_fields_t *f)
{
    static const char *const KEYS[] = {"document_id", "user_id", "user_name",
                                       "user_color",  "update",  "data"};
    memset(f, 0, sizeof *f);
    json_value_t *slot[] = {&f->document_id, &f->user_id, &f->user_name,
                            &f->user_color,  &f->update,  &f->data};
    json_iter_t it;
    json_value_t k, v;
    const char *err;
    if (json_object_begin(&it, json, &err) != 0)
        return false;
    int r;
    while ((r = json_object_next(&it, &k, &v, &err)) == 1) {
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
            if (json_string_eq(k.raw, slice_from_cstr(KEYS[i]))) {
                *slot[i] = v;
                break;
            }
        }
    }
    return r == 0;
}
