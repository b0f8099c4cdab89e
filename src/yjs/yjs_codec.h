/*
 * yjs_codec: lib0 primitive encodings used by Yjs updates, plus the error type shared
 * by the whole yjs layer (pure library, src/yjs).
 *
 * What: a bounds-checked read cursor over borrowed bytes (varUint, varInt, fixed-width,
 * varUint8Array, varString with strict UTF-8 validation, `any` values), the matching
 * writers into a buf_t, and UTF-8 <-> UTF-16 length/offset helpers used to slice Yjs
 * strings whose lengths are counted in UTF-16 code units.
 *
 * Ownership: a cursor borrows its bytes; every slice it returns points into them and
 * lives as long as they do. Writers append to a caller-owned buf_t (which aborts on
 * OOM; callers cap peer-controlled sizes before writing). Nothing here allocates.
 *
 * Errors: every reader returns YJS_OK (0) or a negative yjs_status_t and, on failure,
 * fills the cursor's error slot once (first error wins) with the byte offset and a
 * one-line reason. Inputs are never trusted: no read goes past the end, and values
 * above 2^53-1 (what JavaScript can hold) are rejected.
 *
 * Threading: no globals, no state outside the arguments; safe from any thread.
 *
 * Spec: shared/spec/yjs-update-format.md, section 1 (lib0 primitives), 2.5 (UTF-16
 * slicing), 1.5 (`any`).
 */
#ifndef SIOC_YJS_CODEC_H
#define SIOC_YJS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Largest integer JavaScript holds exactly (2^53-1): the cap on every varUint. */
#define YJS_MAX_SAFE_INT 0x1fffffffffffffULL

/** Deepest `any` nesting accepted (JS has no limit; we refuse deeper values). */
#define YJS_MAX_ANY_DEPTH 1000

/** Status codes. 0 is success; every error is negative. Compare codes, not messages. */
typedef enum yjs_status {
    YJS_OK = 0,
    YJS_E_TRUNCATED = -1, /* input ends inside a value ("Unexpected end of array") */
    YJS_E_VARINT = -2,    /* varint longer than 10 bytes or above 2^53-1 */
    YJS_E_LENGTH = -3,    /* a declared length/count runs past the end of the input */
    YJS_E_CONTENT = -4,   /* unknown content ref, type ref, or info byte */
    YJS_E_UTF8 = -5,      /* invalid UTF-8 in a string */
    YJS_E_ANY = -6,       /* unknown `any` tag, or nesting deeper than YJS_MAX_ANY_DEPTH */
    YJS_E_TRAILING = -7,  /* bytes left after the delete set (e.g. a v2 update fed as v1) */
    YJS_E_LIMIT = -8,     /* absurd count or size (would exhaust memory or overflow) */
    YJS_E_STRUCT = -9,    /* structurally invalid: zero-length struct, clock overflow, ... */
    YJS_E_NOMEM = -10,    /* allocation failed */
    YJS_E_ARG = -11,      /* invalid argument from the caller (not from the input) */
} yjs_status_t;

/**
 * Error detail. Every top-level function of the yjs layer (decode, validate, merge,
 * diff, state vector, text) clears it on entry and fills it on failure; the cursor
 * readers below only fill it, first error wins, so that a whole decode reports the
 * innermost cause. `msg` is one line that says where (update index when there are
 * several inputs, byte offset) and why (what was expected), e.g.
 * "update 2: byte 17: truncated varUint (struct count)". It lives in the caller's
 * struct: nothing is allocated on error paths.
 */
typedef struct yjs_error {
    int code;       /* yjs_status_t; YJS_OK when no error was recorded */
    size_t offset;  /* byte offset in the failing input */
    size_t input;   /* index of the failing input (merge), else 0 */
    char msg[192];  /* NUL-terminated human-readable reason */
} yjs_error_t;

/** Resets an error slot to "no error". NULL-safe. */
void yjs_error_clear(yjs_error_t *err);

/**
 * Records an error if the slot is still clear (first error wins) and returns `code`.
 * `fmt` describes what was expected; the offset is prefixed as "byte N: ". NULL-safe.
 */
int yjs_error_set(yjs_error_t *err, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Name of a status code ("truncated", "utf8", ...), for logs and the CLI. */
const char *yjs_status_name(int code);

/**
 * A read cursor over borrowed bytes. `base` is kept so that errors can report offsets
 * relative to the start of the whole update, not of a sub-slice.
 */
typedef struct yjs_cursor {
    const uint8_t *base; /* start of the whole input (for offsets) */
    const uint8_t *p;    /* next unread byte */
    const uint8_t *end;  /* one past the last byte */
    yjs_error_t *err;    /* where to report the first error; may be NULL */
} yjs_cursor_t;

/** A cursor over `len` bytes at `p`, reporting into `err` (may be NULL). */
static inline yjs_cursor_t yjs_cursor_make(const uint8_t *p, size_t len, yjs_error_t *err)
{
    return (yjs_cursor_t){p, p, p ? p + len : p, err}; /* NULL + 0 is undefined */
}

/** Bytes not read yet. */
static inline size_t yjs_cursor_left(const yjs_cursor_t *c)
{
    return (size_t)(c->end - c->p);
}

/** Offset of the next unread byte from the start of the input. */
static inline size_t yjs_cursor_offset(const yjs_cursor_t *c)
{
    return (size_t)(c->p - c->base);
}

/**
 * Reads a varUint count of items that take at least `min_item_bytes` each, and refuses
 * (YJS_E_LENGTH) a count the rest of the input cannot hold, before anyone sizes an
 * allocation by it. `what` names the count in messages ("delete set clients").
 */
int yjs_read_count(yjs_cursor_t *c, uint64_t *n, size_t min_item_bytes, const char *what);

/** Reads one delete-set range (clock, length); YJS_E_STRUCT if it ends past 2^53-1. */
int yjs_read_ds_range(yjs_cursor_t *c, uint64_t *clock, uint64_t *len);

/** Reads one byte. YJS_E_TRUNCATED at the end. `what` names the field for the message. */
int yjs_read_u8(yjs_cursor_t *c, uint8_t *out, const char *what);

/**
 * Reads a varUint (LEB128, little-endian, 7 bits a byte). Non-minimal encodings are
 * accepted (as lib0 does) up to 10 bytes; longer ones and values above 2^53-1 give
 * YJS_E_VARINT, a missing end YJS_E_TRUNCATED.
 */
/** Out-of-line part of yjs_read_varuint (near the end of the input, long values, errors). */
int yjs__read_varuint(yjs_cursor_t *c, uint64_t *out, const char *what);

static inline int yjs_read_varuint(yjs_cursor_t *c, uint64_t *out, const char *what)
{
    const uint8_t *p = c->p;
    if (c->end - p >= 8) { /* up to 7 bytes (49 bits): no bounds or range checks needed */
        uint64_t v = 0;
        for (unsigned i = 0; i < 7; i++) {
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (p[i] < 0x80) {
                c->p = p + i + 1;
                *out = v;
                return YJS_OK;
            }
        }
    } else if (p < c->end && *p < 0x80) {
        *out = *p;
        c->p = p + 1;
        return YJS_OK;
    }
    return yjs__read_varuint(c, out, what);
}

/**
 * Reads a varInt (sign-magnitude: first byte has continue 0x80, sign 0x40, 6 bits).
 * `*neg` is true for a set sign bit, so -0 (byte 0x40) is reported as neg with
 * magnitude 0. Either out pointer may be NULL.
 */
int yjs_read_varint(yjs_cursor_t *c, uint64_t *magnitude, bool *neg, const char *what);

/** Reads `n` raw bytes as a borrowed slice. YJS_E_LENGTH if fewer remain. */
int yjs_read_raw(yjs_cursor_t *c, size_t n, slice_t *out, const char *what);

/** Reads a varUint8Array (varUint length, then the bytes). */
int yjs_read_buf(yjs_cursor_t *c, slice_t *out, const char *what);

/**
 * Reads a varString: a varUint8Array that must be valid UTF-8 (strict, like
 * TextDecoder fatal: no overlong forms, no surrogates, nothing above U+10FFFF).
 * `utf16_len` (may be NULL) receives its length in UTF-16 code units.
 */
int yjs_read_string(yjs_cursor_t *c, slice_t *out, uint64_t *utf16_len, const char *what);

/**
 * Skips one `any` value (spec 1.5), validating it fully (tags, nested strings' UTF-8,
 * nesting depth), and returns its encoded bytes (tag included) in `*raw` (may be NULL).
 */
int yjs_read_any(yjs_cursor_t *c, slice_t *raw, const char *what);

/** Kinds of `any` value (the wire tag). */
typedef enum yjs_any_tag {
    YJS_ANY_UNDEFINED = 127,
    YJS_ANY_NULL = 126,
    YJS_ANY_INT = 125,     /* varInt */
    YJS_ANY_FLOAT32 = 124, /* 4 bytes big-endian */
    YJS_ANY_FLOAT64 = 123, /* 8 bytes big-endian */
    YJS_ANY_BIGINT = 122,  /* int64 big-endian */
    YJS_ANY_FALSE = 121,
    YJS_ANY_TRUE = 120,
    YJS_ANY_STRING = 119,  /* varString */
    YJS_ANY_OBJECT = 118,  /* varUint n, n x (varString key, any) */
    YJS_ANY_ARRAY = 117,   /* varUint n, n x any */
    YJS_ANY_BYTES = 116,   /* varUint8Array */
} yjs_any_tag_t;

/**
 * A shallowly decoded `any` value. Scalars are decoded; a string or byte array is a
 * borrowed slice; an object or array gives its element count and the encoded bytes
 * of its elements (`body`), to be walked with yjs_any_next / yjs_read_string.
 */
typedef struct yjs_any {
    uint8_t tag;    /* yjs_any_tag_t */
    bool neg;       /* INT: sign bit (true for -0 too) */
    uint64_t u;     /* INT: magnitude; BIGINT: the 64 raw bits; OBJECT/ARRAY: count */
    double f;       /* FLOAT32/FLOAT64 value; INT as a double */
    slice_t s;      /* STRING: UTF-8 bytes; BYTES: the bytes; OBJECT/ARRAY: element bytes */
    slice_t raw;    /* the whole encoded value, tag included */
} yjs_any_t;

/**
 * Decodes the next `any` value at the cursor into `*out` (validating all of it, nested
 * values included) and advances past it.
 */
int yjs_any_next(yjs_cursor_t *c, yjs_any_t *out);

/**
 * Appends a JSON-like rendering of one encoded `any` value (as returned in
 * yjs_any_t.raw) to `out`: undefined as `undefined`, bytes as `Uint8Array[1,2]`,
 * bigints with an `n` suffix. For inspection and logs, not for round trips.
 * Returns YJS_OK or the decode error (the value is re-validated).
 */
int yjs_any_to_json(slice_t raw, buf_t *out, yjs_error_t *err);

/* ---- writers (lib0 encodings into a growable buffer) ---- */

/** Appends a minimal varUint (v <= 2^53-1 expected; larger values are still encoded). */
void yjs_write_varuint(buf_t *b, uint64_t v);

/** Number of bytes yjs_write_varuint uses for `v` (1..10). */
size_t yjs_varuint_size(uint64_t v);

/** Encodes a minimal varUint into `dst` (at least 10 bytes); returns its length. */
static inline size_t yjs_put_varuint(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v > 0x7f) {
        dst[n++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

/** Appends a varUint8Array / varString (length prefix, then the bytes). */
void yjs_write_buf(buf_t *b, slice_t s);

/* ---- UTF-8 / UTF-16 helpers (inputs must be valid UTF-8) ---- */

/**
 * Validates strict UTF-8 (see yjs_read_string). Returns the byte index of the first
 * invalid sequence, or `s.len` when valid; `*utf16_len` (may be NULL) gets the UTF-16
 * length of the valid prefix.
 */
size_t yjs_utf8_check(slice_t s, uint64_t *utf16_len);

/** UTF-16 length of valid UTF-8 (a 4-byte sequence counts 2, every other one 1). */
uint64_t yjs_utf16_len(slice_t s);

/**
 * Splits valid UTF-8 at UTF-16 offset `k` (0 <= k <= utf16 length), the way yjs's
 * ContentString.splice and TextEncoder do (spec 2.5). `*left` and `*right` are the
 * byte ranges before and after the cut. When `k` falls between the two halves of a
 * surrogate pair, the 4-byte character belongs to neither range and `*mid_pair` is
 * true: the JS left part is then `left` + U+FFFD and the right part U+FFFD + `right`.
 */
void yjs_utf16_split(slice_t s, uint64_t k, slice_t *left, slice_t *right, bool *mid_pair);

/** The UTF-8 bytes of U+FFFD (REPLACEMENT CHARACTER): ef bf bd. */
#define YJS_FFFD_UTF8 "\xef\xbf\xbd"

#endif
