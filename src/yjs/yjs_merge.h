/*
 * yjs_merge: merge, diff and state vector of Yjs updates v1 without a document model
 * (pure library, src/yjs).
 *
 * What: byte-exact reproductions of yjs 13.6.x `Y.mergeUpdates`, `Y.diffUpdate` and
 * `Y.encodeStateVectorFromUpdate` for updates written by yjs (spec 3.3-3.7): lazy
 * struct readers, the merge loop with its tie-breaking (including V8's TimSort for the
 * GC/Item tie of 3.4), slicing at UTF-16 offsets with the U+FFFD repair, Skip
 * synthesis for gaps, GC merging across updates, and sorted, coalesced delete sets.
 * Item content is copied through as raw bytes (spec 3.8); item headers are re-encoded
 * as yjs does (bit 0x20 cleared when an origin is present, minimal varints).
 *
 * Cost: merging n updates of total size S is O(S) for the usual case (each update a
 * few runs of one or two clients, as editing sessions produce) and never worse than
 * yjs's O(structs x n). Memory beyond the inputs and the output: 8 bytes per input,
 * the state of the readers that are part-way through (about 250 bytes each), and 32
 * bytes per delete-set range. The output buffer is reserved once at about the inputs'
 * total size (untouched pages cost no RSS). Every input is validated completely; an
 * invalid one fails the call and leaves `out` as it was.
 *
 * Ownership: inputs are borrowed for the duration of the call. Results are appended to
 * a caller-owned buf_t; on error `out` is restored to its length at entry.
 *
 * Threading: no globals; calls on different buffers may run concurrently.
 *
 * Spec: shared/spec/yjs-update-format.md 3.3 (lazy writer), 3.4 (merge), 3.5 (delete
 * sets), 3.6 (state vector from update), 3.7 (diff), 3.9 (state vectors), P1-P15.
 */
#ifndef SIOC_YJS_MERGE_H
#define SIOC_YJS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "yjs/yjs_codec.h"

/** Largest input accepted by merge/diff/sv (offsets are kept in 32 bits). */
#define YJS_MAX_UPDATE_SIZE ((size_t)1 << 31)

/** Most updates one merge call accepts. */
#define YJS_MAX_MERGE_INPUTS ((size_t)1 << 28)

/**
 * Merges `n` updates into one, appended to `out`, byte-identical to
 * `Y.mergeUpdates(updates)`:
 *  - n == 0 gives the empty update `00 00`;
 *  - n == 1 gives the input verbatim (after validating it, which JS does not do);
 *  - otherwise structs are merged per spec 3.4 and delete sets per 3.5.
 * Every input is validated first (yjs_update_validate rules); the first invalid one
 * fails the call with YJS_E_* and `err->input` set to its index.
 * Inputs whose groups are not in descending client order are merged exactly as yjs
 * does, which may drop structs (spec P5); yjs and yrs never write such updates.
 */
int yjs_merge_updates(const slice_t *updates, size_t n, buf_t *out, yjs_error_t *err);

/**
 * Appends `Y.encodeStateVectorFromUpdate(update)`: for each client, in order of first
 * appearance, the end clock of its contiguous prefix starting at clock 0 (spec 3.6).
 * The update is validated first.
 */
int yjs_state_vector_from_update(slice_t update, buf_t *out, yjs_error_t *err);

/**
 * Appends `Y.diffUpdate(update, sv)`: every struct the holder of state vector `sv`
 * lacks, sliced at its clock where needed, plus the whole delete set (spec 3.7).
 * Both inputs are validated; a malformed state vector (or trailing bytes after it)
 * is an error with `err->input` = 1.
 */
int yjs_diff_update(slice_t update, slice_t sv, buf_t *out, yjs_error_t *err);

/**
 * Validates a state vector: varUint n, then n x (varUint client, varUint clock), and
 * nothing after. Returns YJS_OK or the error.
 */
int yjs_state_vector_validate(slice_t sv, yjs_error_t *err);

#endif
