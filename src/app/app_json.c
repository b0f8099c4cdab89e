/*
 * app_json: member lookup and string decoding over the base scanner. See app_json.h.
 */
#include "app/app_json.h"

#include <string.h>

bool app_json_get(slice_t obj, const char *key, json_value_t *out)
{
    json_iter_t it;
    if (json_object_begin(&it, obj, NULL) != 0)
        return false;
    slice_t want = slice_from_cstr(key);
    json_value_t k, v;
    bool found = false;
    int rc;
    while ((rc = json_object_next(&it, &k, &v, NULL)) == 1) {
        if (json_string_eq(k.raw, want)) {
            *out = v;
            found = true;
        }
    }
    return rc == 0 && found;
}

long app_json_str(json_value_t v, char *out, size_t cap)
{
    if (v.type != JSON_STRING || cap == 0)
        return -1;
    size_t len = 0;
    if (json_string_unescape(v.raw, (uint8_t *)out, cap - 1, &len) != 0)
        return -1;
    if (memchr(out, '\0', len))
        return -1;
    out[len] = '\0';
    return (long)len;
}

long app_json_get_str(slice_t obj, const char *key, char *out, size_t cap)
{
    json_value_t v;
    if (!app_json_get(obj, key, &v))
        return -1;
    return app_json_str(v, out, cap);
}

bool app_json_truthy(json_value_t v)
{
    switch (v.type) {
    case JSON_NULL:
    case JSON_FALSE:
    case JSON_INVALID:
        return false;
    case JSON_TRUE:
        return true;
    case JSON_NUMBER: {
        double d = 0;
        return json_number_to_double(v.raw, &d) == 0 && d != 0;
    }
    case JSON_STRING:
        return v.raw.len > 2;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        size_t pos = json_skip_ws(v.raw, 1);
        return pos < v.raw.len && v.raw.ptr[pos] != ']' && v.raw.ptr[pos] != '}';
    }
    }
    return false;
}
