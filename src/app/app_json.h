/*
 * app_json: small lookups in the JSON payloads of Open WebUI events (app layer).
 *
 * Every handler receives one JSON object and reads a few keys of it, the way Python code
 * does `data.get("key")`. These helpers find a member in raw JSON text with the base
 * scanner (no DOM, no allocation) and decode strings into caller buffers. A duplicated key
 * resolves to its last occurrence, as Python's json module (and JSON.parse) do.
 *
 * Ownership: inputs are borrowed; returned json_value_t slices point into the input.
 * Threading: stateless, reentrant.
 */
#ifndef SIOC_APP_JSON_H
#define SIOC_APP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/json.h"
#include "base/slice.h"

/**
 * Finds member `key` of the JSON object `obj` (leading whitespace allowed). Returns true
 * and `*out` when the object is well-formed and has the key; false when `obj` is not an
 * object, is malformed, or lacks the key.
 */
bool app_json_get(slice_t obj, const char *key, json_value_t *out);

/**
 * Decodes member `key` (a JSON string) into `out` (NUL-terminated, at most cap-1 bytes).
 * Returns its length, or -1 when absent, not a string, or too long. An embedded NUL
 * (\u0000) also gives -1: values read this way are ids and names.
 */
long app_json_get_str(slice_t obj, const char *key, char *out, size_t cap);

/** Decodes a raw JSON string value like app_json_get_str. */
long app_json_str(json_value_t v, char *out, size_t cap);

/** Python truthiness of a JSON value: null, false, 0, "", [] and {} are false. */
bool app_json_truthy(json_value_t v);

/** The value as a slice of a C string (for writing into buffers). */
static inline slice_t app_json_raw(json_value_t v)
{
    return v.raw;
}

#endif
