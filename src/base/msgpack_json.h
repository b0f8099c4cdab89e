/*
 * msgpack_json: a bridge between MessagePack and JSON text with JavaScript semantics
 * (base layer, pure).
 *
 * It gives what `JSON.stringify(notepack.decode(x))` gives in Node, and builds from JSON
 * text what `notepack.encode(JSON.parse(t))` builds, with Socket.IO binary placeholders
 * (`{"_placeholder":true,"num":N}`) standing for binaries when the caller asks for them:
 * the Redis adapter's wire format carries Socket.IO packets as msgpack, while sio keeps
 * event arguments as raw JSON text.
 *
 * Ownership: slices passed in are borrowed for the call; collected binaries point into
 * the caller's input. Threading: no state; every function is reentrant.
 * Spec: redis-adapter-protocol.md §4; notepack.io 3.0.1 (behaviour only).
 */
#ifndef SIOC_BASE_MSGPACK_JSON_H
#define SIOC_BASE_MSGPACK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/msgpack.h"
#include "base/slice.h"

/**
 * Where msgpack_json_from_mp collects binaries. `bins` (caller storage, `cap` entries) gets a
 * slice into the input for each binary, in document order, and `n` counts them.
 */
typedef struct msgpack_bins {
    slice_t *bins;
    size_t cap;
    size_t n;
} msgpack_bins_t;

/**
 * Appends to `out` the JSON text of the value encoded at the start of `raw` (trailing
 * bytes are ignored), as JSON.stringify(notepack.decode(...)) writes it:
 *   - nil, undefined, NaN and the infinities -> `null`, except that a map member whose
 *     value is undefined is left out; numbers as JavaScript prints them (integers beyond
 *     2^53 lose precision exactly as in JavaScript);
 *   - strings escaped like JSON.stringify, invalid UTF-8 replaced by U+FFFD;
 *   - map keys: strings as they are; numbers, booleans and nil are converted the way a
 *     JavaScript property key is (`1` -> "1"); other key types are an error;
 *   - timestamps (extension -1: 32, 64 and 96-bit forms) and notepack 2.x dates (fixext8
 *     type 0) -> the ISO string of the JavaScript Date, or `null` when out of range;
 *   - binaries (bin8/16/32, and ext8/16/32 type 0, notepack 2.x's ArrayBuffer): with
 *     `bins` non-NULL, each becomes the Socket.IO placeholder
 *     `{"_placeholder":true,"num":N}` and is collected (more than `bins->cap` is an
 *     error); with `bins` NULL, a bin is written as JSON.stringify writes a Node Buffer,
 *     `{"type":"Buffer","data":[1,2]}`, and an ArrayBuffer as `{}`;
 *   - any other extension -> `[type, <its data as a binary>]`, as notepack returns it.
 * Returns 0, or -1 with `*err` on malformed input (`out` may hold a partial text then).
 */
int msgpack_json_from_mp(slice_t raw, buf_t *out, msgpack_bins_t *bins, const char **err);

/**
 * Like msgpack_json_from_mp for the elements of the array encoded at the start of `raw`,
 * from index `first` on, written comma-separated without brackets (`1,"a",{}`): the
 * `args` form of a Socket.IO packet. `*count` (may be NULL) gets the number written.
 * Returns 0, or -1 with `*err` (also when `raw` is not an array).
 */
int msgpack_json_list_from_mp(slice_t raw, uint32_t first, buf_t *out, msgpack_bins_t *bins,
                               size_t *count, const char **err);

/**
 * Appends the msgpack encoding of the JSON text `json` (one value, validated here) as
 * notepack.encode(JSON.parse(json)) writes it: numbers per msgpack_append_number, strings
 * unescaped (a lone surrogate escape becomes U+FFFD), objects as maps with their members
 * in text order. When `bins` is non-NULL, an object whose `_placeholder` member is `true`
 * stands for a binary: its `num` must be an integer in [0, nbins) (else "illegal
 * attachments", as socket.io-parser) and it is written as bin `bins[num]`.
 * Returns 0, or -1 with `*err` (`out` may hold a partial encoding then).
 * Differences from V8 + notepack, byte-wise only: members are not reordered (V8 puts
 * integer-like keys first) and duplicate keys are all written (a decoder keeps the last,
 * as JSON.parse does), so the decoded object is the same.
 */
int msgpack_json_to_mp(slice_t json, buf_t *out, const slice_t *bins, size_t nbins,
                      const char **err);

/**
 * Counts the values of a comma-separated list of JSON values without brackets (the
 * `args` form of a Socket.IO packet, e.g. `1,"a"`; empty or blank means none), to size
 * the array header that precedes msgpack_json_list_to_mp's output. Returns 0 or -1.
 */
int msgpack_json_list_count(slice_t list, uint32_t *count, const char **err);

/**
 * Like msgpack_json_to_mp for each value of such a list: appends the elements' encodings
 * one after the other WITHOUT an array header, and stores their number in `*count` (may
 * be NULL). Returns 0 or -1 with `*err`.
 */
int msgpack_json_list_to_mp(slice_t list, buf_t *out, const slice_t *bins, size_t nbins,
                           uint32_t *count, const char **err);

#endif
