/*
 * yjs_timsort: V8's Array.prototype.sort (TimSort, as in CPython's listsort) over an
 * array of 32-bit handles, driven by a raw three-way comparator (pure library,
 * src/yjs).
 *
 * Why: yjs's mergeUpdates sorts its readers with a comparator that is inconsistent for
 * a GC and an Item at the same ID (it answers -1 both ways), so the order it leaves
 * depends on exactly which comparisons the sort makes (spec 3.4 "Ties"). Reproducing
 * the bytes yjs writes therefore needs the same algorithm, comparison for comparison:
 * run counting (strictly descending runs reversed), minrun, binary insertion, the
 * merge_collapse invariants, galloping with MIN_GALLOP 7 and its adaptive threshold.
 * With a consistent comparator this is simply a stable sort.
 *
 * Ownership: sorts the caller's array in place. Needs a scratch area of n/2+1 handles,
 * allocated with try_malloc per call (no allocation when n < 64... except merges of
 * runs, which only happen when n >= 64).
 *
 * Threading: no globals; reentrant.
 */
#ifndef SIOC_YJS_TIMSORT_H
#define SIOC_YJS_TIMSORT_H

#include <stddef.h>
#include <stdint.h>

/** Three-way comparator over handles: only the sign of the result is used (< 0, >= 0),
 *  like V8 does with a JS comparator's return value. */
typedef int (*yjs_sort_cmp_fn)(void *ctx, uint32_t a, uint32_t b);

/**
 * Sorts `a[0..n)` in place exactly as V8's TimSort would with comparator `cmp`.
 * Returns 0, or -1 if the scratch allocation failed (the array is then a permutation
 * of its input, in no defined order).
 */
int yjs_timsort(uint32_t *a, size_t n, yjs_sort_cmp_fn cmp, void *ctx);

#endif
