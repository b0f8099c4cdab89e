/*
 * msgpack: a MessagePack codec with notepack.io's encoder choices (base layer, pure).
 * The bridge to JSON text is base/msgpack_json.h.
 *
 * Why notepack: @socket.io/redis-adapter and @socket.io/redis-emitter encode every
 * broadcast with notepack.io 3.x, so the bytes a sioc node publishes should be the bytes
 * a Node node would publish for the same event, and everything notepack can produce must
 * decode here.
 *
 * Encoding (msgpack_append_*, into a caller buf_t; growth aborts on OOM like buf_t, so
 * callers cap sizes first). notepack's choices, checked against notepack.io 3.0.1:
 *   - integers: the smallest of positive fixint, uint8/16/32/64 for values >= 0 (also for
 *     -0), negative fixint, int8/16/32/64 for values < 0; never a signed form for a
 *     non-negative value;
 *   - a JS number (msgpack_append_number) that is not an integer, or is NaN or infinite,
 *     is a float64 (0xcb); float32 is never produced by notepack (msgpack_append_float32
 *     exists for completeness). One deliberate difference: notepack writes integral
 *     numbers outside the 64-bit range (|v| >= 2^64, or < -2^63) as a wrapped uint64 or
 *     int64, i.e. a different number; we write them as float64, which keeps the value;
 *   - strings fixstr/str8/16/32, binaries (Node Buffer, ArrayBuffer, typed arrays)
 *     bin8/16/32, arrays fixarray/array16/32, objects fixmap/map16/32 with string keys;
 *   - `undefined`: notepack 3.x writes nil (0xc0) and drops object members whose value is
 *     undefined; 2.x wrote fixext1 type 0 (`d4 00 00`), which both versions still decode
 *     as undefined (msgpack_append_undefined writes that legacy form).
 *
 * Decoding never allocates and never trusts a length: msgpack_read reads one header
 * (and a scalar's payload), msgpack_next / msgpack_skip one whole value. An array or map
 * count larger than the bytes left is refused at once (every element takes >= 1 byte),
 * nesting deeper than MSGPACK_MAX_DEPTH containers is refused, the reserved byte 0xc1 is
 * refused, and skipping is iterative, so no input can exhaust the C stack. Strings are
 * returned as raw bytes (UTF-8 is not validated: the JSON bridge repairs it the way
 * Node's decoder does). Every integer marker is normalised: a non-negative value is
 * MSGPACK_UINT, a negative one MSGPACK_INT.
 *
 * Ownership: every slice passed in is borrowed for the call; every slice handed out
 * (msgpack_value_t.v.bytes, .raw, collected binaries) points into the caller's input and
 * lives as long as it. Threading: no state; every function is reentrant.
 * Spec: MessagePack specification (msgpack/msgpack spec.md, 2017 revision: formats,
 * timestamp extension type -1); redis-adapter-protocol.md §4; notepack.io 3.0.1
 * lib/encode.js and lib/decode.js (behaviour only).
 */
#ifndef SIOC_BASE_MSGPACK_H
#define SIOC_BASE_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Most containers a value may be nested in (a value inside 65 arrays fails). */
#define MSGPACK_MAX_DEPTH 64

/** The kind of a decoded item. */
typedef enum msgpack_type {
    MSGPACK_INVALID = 0,
    MSGPACK_NIL,       /* 0xc0 */
    MSGPACK_BOOL,      /* v.b */
    MSGPACK_UINT,      /* an integer >= 0, whatever its marker: v.u */
    MSGPACK_INT,       /* an integer < 0: v.i */
    MSGPACK_FLOAT,     /* float32 or float64, widened: v.f */
    MSGPACK_STR,       /* v.bytes: the raw string bytes */
    MSGPACK_BIN,       /* v.bytes */
    MSGPACK_ARRAY,     /* n elements follow the header */
    MSGPACK_MAP,       /* n key/value pairs follow the header */
    MSGPACK_EXT,       /* ext_type and v.bytes (the extension data) */
    MSGPACK_UNDEFINED, /* notepack's `undefined`: fixext1 type 0 (d4 00 xx) */
} msgpack_type_t;

/** One decoded item. Slices borrow the decoded input. */
typedef struct msgpack_value {
    msgpack_type_t type;
    int8_t ext_type; /* MSGPACK_EXT only */
    uint32_t n;      /* MSGPACK_ARRAY: elements; MSGPACK_MAP: pairs */
    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        slice_t bytes;
    } v;
    /* msgpack_next: the whole encoded value, children included. msgpack_read: the header
     * and, for a scalar, its payload (for a container: the header only). */
    slice_t raw;
} msgpack_value_t;

/* ------------------------------------------------------------------ decoding */

/**
 * Reads one item header at `*pos` in `in` (for str/bin/ext/numbers also the payload)
 * and advances `*pos` past what it read; the elements of an array or map are NOT read.
 * Returns 0, or -1 with `*err` (static string, may be NULL) on truncated input, the
 * reserved byte 0xc1, or a container count larger than the bytes left.
 */
int msgpack_read(slice_t in, size_t *pos, msgpack_value_t *out, const char **err);

/**
 * Reads one whole value at `*pos` (a container with all its elements, validated) and
 * advances past it; `out->raw` covers the value. Returns 0 or -1 with `*err` (also for
 * nesting deeper than MSGPACK_MAX_DEPTH).
 */
int msgpack_next(slice_t in, size_t *pos, msgpack_value_t *out, const char **err);

/** Like msgpack_next without reporting the value. Iterative: O(bytes), no recursion. */
int msgpack_skip(slice_t in, size_t *pos, const char **err);

/**
 * Validates that `in` is exactly one value, no trailing bytes (what notepack.decode
 * accepts, except that we refuse nesting past MSGPACK_MAX_DEPTH). Returns 0 and fills
 * `out` (may be NULL), or -1 with `*err`.
 */
int msgpack_validate(slice_t in, msgpack_value_t *out, const char **err);

/**
 * The value as an int64 if it is a number with an integral value in the int64 range:
 * MSGPACK_UINT <= INT64_MAX, MSGPACK_INT, or a MSGPACK_FLOAT such as 2.0 (JavaScript
 * does not tell 2 from 2.0). Returns false otherwise.
 */
bool msgpack_to_i64(const msgpack_value_t *v, int64_t *out);

/** True when the value is MSGPACK_STR with exactly the bytes of `s`. */
bool msgpack_str_eq(const msgpack_value_t *v, slice_t s);

/**
 * An iterator over the elements of an array or the pairs of a map. Embeddable by value;
 * fields are private; it borrows the container bytes.
 */
typedef struct msgpack_iter {
    slice_t _in;    /* the container's encoded bytes */
    size_t _pos;    /* next element */
    uint32_t _left; /* elements (or pairs) not returned yet */
    bool _map;      /* pairs */
} msgpack_iter_t;

/**
 * Starts iterating the container encoded at the start of `raw` (e.g. the `raw` of a
 * value returned by msgpack_next). Returns 0, or -1 with `*err` when it is not an array
 * or map.
 */
int msgpack_iter_begin(msgpack_iter_t *it, slice_t raw, const char **err);

/** True if the iterated container is a map. */
static inline bool msgpack_iter_is_map(const msgpack_iter_t *it)
{
    return it->_map;
}

/**
 * Returns the next element (arrays: `*a`) or pair (maps: key `*a`, value `*b`; `b` must
 * then be non-NULL), each read whole with msgpack_next. Returns 1, 0 at the end, or -1
 * with `*err` on malformed input.
 */
int msgpack_iter_next(msgpack_iter_t *it, msgpack_value_t *a, msgpack_value_t *b, const char **err);

/**
 * Looks up the member with string key `key` in the map encoded at the start of
 * `map_raw`. Like a JavaScript object built by notepack, the LAST member with that key
 * wins. Returns 1 with `*out` filled, 0 when absent, -1 with `*err` when `map_raw` is not
 * a well-formed map.
 */
int msgpack_map_get(slice_t map_raw, slice_t key, msgpack_value_t *out, const char **err);

/* ------------------------------------------------------------------ encoding */

/** Appends nil (0xc0). */
void msgpack_append_nil(buf_t *b);
/** Appends false (0xc2) or true (0xc3). */
void msgpack_append_bool(buf_t *b, bool v);
/** Appends a non-negative integer in its smallest form (fixint, uint8/16/32/64). */
void msgpack_append_uint(buf_t *b, uint64_t v);
/** Appends an integer in notepack's smallest form (>= 0 as msgpack_append_uint). */
void msgpack_append_int(buf_t *b, int64_t v);
/** Appends a float64 (0xcb), whatever the value. */
void msgpack_append_float64(buf_t *b, double v);
/** Appends a float32 (0xca). notepack never writes one. */
void msgpack_append_float32(buf_t *b, float v);
/**
 * Appends a JavaScript number as notepack does: an integral finite value as an integer
 * (-0 as 0), anything else as float64 (see the header comment for |v| >= 2^64).
 */
void msgpack_append_number(buf_t *b, double v);
/** Appends a string header for `len` bytes (the caller appends the bytes). */
void msgpack_append_str_header(buf_t *b, size_t len);
/** Appends a string (`s` must be at most UINT32_MAX bytes; UTF-8 is not checked). */
void msgpack_append_str(buf_t *b, slice_t s);
/** Appends a bin header for `len` bytes. */
void msgpack_append_bin_header(buf_t *b, size_t len);
/** Appends a binary (at most UINT32_MAX bytes). */
void msgpack_append_bin(buf_t *b, slice_t s);
/** Appends an array header; `n` elements must follow. */
void msgpack_append_array_header(buf_t *b, uint32_t n);
/** Appends a map header; `n` key/value pairs must follow. */
void msgpack_append_map_header(buf_t *b, uint32_t n);
/** Appends an extension value: fixext for 1/2/4/8/16 data bytes, else ext8/16/32. */
void msgpack_append_ext(buf_t *b, int8_t type, slice_t data);
/** Appends notepack 2.x's `undefined` (d4 00 00); notepack 3.x writes nil instead. */
void msgpack_append_undefined(buf_t *b);

/**
 * Writes the str header (fixstr/str8/16/32) for `len` bytes into `head` and returns its
 * length (1 to 5). `len` must fit in 32 bits.
 */
size_t msgpack_str_header(uint8_t head[5], size_t len);

#endif
