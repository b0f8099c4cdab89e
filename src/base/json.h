/*
 * json: an allocation-free JSON scanner and a JSON.stringify-exact writer (base layer).
 *
 * Reading. Nothing here builds a DOM: values are located and validated in place and
 * handed out as `json_value_t` (type + raw slice into the input). The grammar is RFC 8259
 * exactly as V8's JSON.parse accepts it:
 *   - whitespace is only space, \t, \n, \r; literals are `true` `false` `null`;
 *   - numbers are -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? (no +1, 01, .5, 1., NaN);
 *   - strings reject raw control characters (< 0x20) and unknown escapes, and ACCEPT lone
 *     surrogate escapes (`"\ud800"`), as JSON.parse does;
 *   - bytes >= 0x80 inside strings are passed through unchecked: UTF-8 validity of the
 *     whole message is the transport's job (the ws layer validates text frames, the
 *     polling layer validates POST bodies). The writer below never emits invalid UTF-8.
 * Nesting is capped at JSON_MAX_DEPTH (V8 only stops at stack exhaustion, thousands
 * deep; deeper input is a parse error here, which bounds the work per message). The
 * scanner is iterative (a bit stack), so a hostile input cannot blow the C stack.
 *
 * Writing. `json_append_*` append to a caller `buf_t` (growth aborts on OOM, as buf_t
 * does: callers cap sizes first). Strings are escaped exactly like JSON.stringify:
 * `\"` `\\` `\b` `\f` `\n` `\r` `\t`, every other control character as `\u00xx` with
 * lower-case hex (so 0x1E, the polling record separator, becomes `\u001e`), everything
 * else raw, including DEL and non-ASCII. Invalid UTF-8 in the input is replaced by
 * U+FFFD per maximal invalid subsequence (what Node produces when it decodes such bytes
 * into a JS string before stringifying), so the output is always valid UTF-8.
 *
 * Ownership: every slice passed in is borrowed for the call; every slice handed out
 * (json_value_t.raw, keys) points into the caller's input and lives as long as it.
 * Threading: no state at all; every function is reentrant.
 * Spec: RFC 8259; ECMA-262 JSON.parse / JSON.stringify (QuoteJSONString,
 * Number::toString); socketio-protocol.md §1.4 (0x1E escaping), §2.2.
 */
#ifndef SIOC_BASE_JSON_H
#define SIOC_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Maximum nesting of arrays/objects accepted by the scanner (a value at depth 65 fails). */
#define JSON_MAX_DEPTH 64

/** The kind of a JSON value. JSON_INVALID is never returned with a success code. */
typedef enum json_type {
    JSON_INVALID = 0,
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type_t;

/** A located, validated value: its type and its exact bytes in the input (a string's raw
 *  slice includes both quotes; an array's includes both brackets). No surrounding
 *  whitespace. `raw` borrows the scanned input. */
typedef struct json_value {
    json_type_t type;
    slice_t raw;
} json_value_t;

/* ------------------------------------------------------------------ scanning */

/**
 * Validates that `s` is exactly one JSON text: optional whitespace, one value, optional
 * whitespace, end. On success returns 0 and, if `out` is non-NULL, stores the value
 * (without the surrounding whitespace). On failure returns -1 and sets `*err` (if
 * non-NULL) to a static reason string such as "json: unexpected end".
 */
int json_validate(slice_t s, json_value_t *out, const char **err);

/**
 * Scans one complete value that starts at `*pos` in `s` (leading whitespace is skipped).
 * On success returns 0, stores the value in `out` (may be NULL), and advances `*pos` to
 * the first byte after the value (trailing whitespace is NOT skipped). On failure returns
 * -1, sets `*err` (static string, may be NULL) and leaves `*pos` unspecified.
 */
int json_skip_value(slice_t s, size_t *pos, json_value_t *out, const char **err);

/** Returns the first offset >= `pos` in `s` that is not JSON whitespace (or s.len). */
size_t json_skip_ws(slice_t s, size_t pos);

/**
 * An iterator over the elements of one array or the members of one object. Embeddable
 * by value; its fields are private. It borrows the scanned slice.
 */
typedef struct json_iter {
    slice_t _s;     /* the container text */
    size_t _pos;    /* next byte to look at */
    uint8_t _close; /* ']' or '}' */
    bool _first;    /* no element returned yet */
    bool _done;     /* the closing bracket was consumed */
} json_iter_t;

/**
 * Starts iterating the array whose text is `s` (optional whitespace, then `[`; trailing
 * bytes after the array are not looked at). Returns 0, or -1 with `*err` when `s` does
 * not start with an array. Element values are validated as they are returned, so an
 * iteration that reaches the end (returns 0) has validated the whole array.
 */
int json_array_begin(json_iter_t *it, slice_t s, const char **err);

/**
 * Returns the next element: 1 with `*elem` filled, 0 when the array ended (the closing
 * `]` was found), -1 on malformed input with `*err` set. After 0 or -1 it keeps returning
 * the same answer.
 */
int json_array_next(json_iter_t *it, json_value_t *elem, const char **err);

/** Like json_array_begin, for an object (`{`). */
int json_object_begin(json_iter_t *it, slice_t s, const char **err);

/**
 * Returns the next member: 1 with `*key` (a JSON_STRING value, raw, with quotes: compare
 * with json_string_eq) and `*val` filled, 0 at the closing `}`, -1 with `*err` on
 * malformed input. Duplicate keys are returned as they come (JSON.parse keeps the last).
 */
int json_object_next(json_iter_t *it, json_value_t *key, json_value_t *val, const char **err);

/** Offset just past the container's closing bracket, valid after next() returned 0. */
static inline size_t json_iter_end(const json_iter_t *it)
{
    return it->_pos;
}

/* ------------------------------------------------------------------ strings */

/** True when the raw string (with quotes, already validated) contains a backslash, i.e.
 *  its decoded value differs from the bytes between the quotes. */
bool json_string_has_escapes(slice_t raw);

/**
 * Decodes a raw JSON string (with quotes, already validated by the scanner) to UTF-8
 * into `dst` (capacity `cap`), storing the length in `*len`. Escapes are resolved;
 * surrogate-pair escapes become one 4-byte sequence; a lone surrogate escape becomes
 * U+FFFD (EF BF BD), which is what Node writes when such a JS string is UTF-8 encoded.
 * The output is never longer than raw.len - 2, so that capacity always suffices.
 * Returns 0, or -1 when `cap` is too small or `raw` is not a string.
 */
int json_string_unescape(slice_t raw, uint8_t *dst, size_t cap, size_t *len);

/** Like json_string_unescape, appending the decoded bytes to `out`. Returns 0 or -1 (not
 *  a string). */
int json_string_unescape_buf(slice_t raw, buf_t *out);

/**
 * True when the decoded value of the raw JSON string `raw` (with quotes, validated)
 * equals the UTF-8 bytes `lit`. No allocation; escapes are decoded on the fly.
 */
bool json_string_eq(slice_t raw, slice_t lit);

/* ------------------------------------------------------------------ numbers */

/** Converts a validated raw JSON number to the nearest double (as JSON.parse). Returns 0,
 *  or -1 when `raw` is not a number token (or longer than 512 bytes). */
int json_number_to_double(slice_t raw, double *out);

/**
 * Converts a raw JSON number whose value is an integer in [-(2^53-1), 2^53-1] (the JS
 * safe-integer range; `1.0` and `1e2` qualify) to int64. Returns 0, or -1 when the token
 * is not a number, not integral, or out of range.
 */
int json_number_to_i64(slice_t raw, int64_t *out);

/* ------------------------------------------------------------------ writing */

/**
 * Appends `utf8` as a JSON string literal, quotes included, escaped exactly like
 * JSON.stringify (see the header comment; invalid UTF-8 becomes U+FFFD).
 */
void json_append_string(buf_t *out, slice_t utf8);

/** The exact number of bytes json_append_string would append for `utf8` (for sizing
 *  an output up front). */
size_t json_string_len(slice_t utf8);

/** Appends a signed integer in decimal. */
void json_append_i64(buf_t *out, int64_t v);

/** Appends an unsigned integer in decimal. */
void json_append_u64(buf_t *out, uint64_t v);

/**
 * Appends a double the way JSON.stringify does (ECMAScript Number::toString: shortest
 * round-trip digits, `1e+21`, `1e-7`, `0.000001`, `-0` written as `0`); NaN and the
 * infinities are written as `null`.
 */
void json_append_double(buf_t *out, double v);

/** Appends `true` or `false`. */
void json_append_bool(buf_t *out, bool v);

/** Appends `null`. */
void json_append_null(buf_t *out);

#endif
