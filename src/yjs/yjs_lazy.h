/*
 * yjs_lazy: the lazy struct reader, the lazy group writer and delete-set helpers that
 * merge, diff and state vectors are built from (pure library, src/yjs).
 *
 * What:
 *  - yjs_lreader_t walks one update struct by struct without building the decoded form
 *    (spec 3.2), optionally filtering Skips (merge does, diff and sv do not), and
 *    validates every struct as it goes. After the last struct it sits on the delete set.
 *  - yjs_lwriter_t is spec 3.3's LazyStructWriter writing straight into one output
 *    buffer: groups are opened with a 10-byte hole for their struct count, and
 *    yjs_lwriter_finish closes the holes by sliding the bytes left once (O(size), no
 *    second buffer).
 *  - yjs_write_struct writes a struct with an offset exactly as yjs's Item.write does
 *    (spec 2.3): origin rewritten for offsets, bit 0x20 only when the parent is
 *    written... or inherited by a slice, content sliced (UTF-16 split with U+FFFD repair).
 *  - yjs_dsset_t collects delete-set ranges from several updates, then writes them
 *    either merged (sorted and coalesced, spec 3.5) or as read (clients re-ordered, 3.7).
 *
 * Ownership: readers borrow the update bytes; writers append to the caller's buf_t;
 * yjs_dsset_t owns its range array (yjs_dsset_dispose).
 *
 * Threading: no globals; each object has one owner.
 *
 * Spec: shared/spec/yjs-update-format.md 2.3, 2.5, 3.2, 3.3, 3.5, 3.7.
 */
#ifndef SIOC_YJS_LAZY_H
#define SIOC_YJS_LAZY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_update.h"

/** A struct as merge and diff handle it: a decoded struct plus a slice offset. The
 *  effective struct starts at s.id.clock + off and has s.len - off clock units. */
typedef struct yjs_view {
    yjs_struct_t s; /* as decoded (GC/Skip may have a len changed by merging) */
    uint64_t off;   /* slice offset (0 = whole struct) */
} yjs_view_t;

/** Lazy struct reader over one update. */
typedef struct yjs_lreader {
    yjs_cursor_t c;        /* after the current struct (or on the delete set) */
    uint64_t groups_left;  /* groups whose header is not read yet */
    uint64_t structs_left; /* structs of the current group not read yet */
    uint64_t client;       /* client of the current group */
    uint64_t clock;        /* clock of the next struct of the current group */
    bool filter_skips;     /* merge: skip Skip structs */
    bool has;              /* `cur` is valid; false once the structs are exhausted */
    yjs_struct_t cur;      /* the current struct */
} yjs_lreader_t;

/**
 * Starts a reader on `update` and reads its first struct. Returns YJS_OK (with
 * r->has false for an update without structs) or a decode error into `err`.
 */
int yjs_lreader_init(yjs_lreader_t *r, slice_t update, bool filter_skips, yjs_error_t *err);

/** Moves to the next struct; r->has turns false at the end of the structs. */
int yjs_lreader_next(yjs_lreader_t *r);

/** Lazy group writer (spec 3.3) into a caller buffer. */
typedef struct yjs_lwriter {
    buf_t *out;
    size_t start;     /* out->len when the writer began: where the group count goes */
    size_t *holes;    /* per closed or open group: offset of its 10-byte count hole */
    uint64_t *counts; /* per group: number of structs */
    size_t ngroups;
    size_t cap;
    uint64_t cur_client;
    uint64_t count;   /* structs in the open group; 0 = no open group */
} yjs_lwriter_t;

/** Starts a writer appending to `out` (reserves the group-count hole). */
void yjs_lwriter_init(yjs_lwriter_t *w, buf_t *out);

/**
 * Writes the struct of `v` from offset `v->off + extra` (spec 3.3 put): opens a new
 * group when the client changes. Returns YJS_OK or YJS_E_NOMEM.
 */
int yjs_lwriter_put(yjs_lwriter_t *w, const yjs_view_t *v, uint64_t extra);

/**
 * Closes the open group and replaces the holes with the group count and struct
 * counts (minimal varUints), compacting the output in place. The writer is disposed.
 */
void yjs_lwriter_finish(yjs_lwriter_t *w);

/** Frees the writer's bookkeeping without finishing (error paths). */
void yjs_lwriter_dispose(yjs_lwriter_t *w);

/**
 * Writes one struct with offset `off` (0 <= off < effective length) as yjs's
 * Item.write / GC.write / Skip.write would (spec 2.3, 2.4, 2.5). Returns YJS_OK, or
 * YJS_E_NOMEM (nothing written) when the buffer cannot grow.
 */
int yjs_write_struct(buf_t *b, const yjs_struct_t *s, uint64_t off);

/** One delete-set range tagged with its client and arrival order. */
typedef struct yjs_dsrec {
    uint64_t client;
    uint64_t clock;
    uint64_t len;
    uint64_t seq;
} yjs_dsrec_t;

/** A growable collection of delete-set ranges from one or more updates. */
typedef struct yjs_dsset {
    yjs_dsrec_t *r;
    size_t n;
    size_t cap;
} yjs_dsset_t;

/**
 * Reads a delete set at the cursor (spec 2.1 deleteSet) into `ds` (entries with zero
 * ranges are dropped, as readDeleteSet does) and checks that nothing follows it.
 * Returns YJS_OK or the decode / trailing-bytes / allocation error.
 */
int yjs_dsset_read(yjs_dsset_t *ds, yjs_cursor_t *c);

/** Writes the union of the collected ranges: per client sorted by clock and coalesced
 *  (adjacent ranges too), clients in descending order (spec 3.5 mergeDS + writeDS). */
void yjs_dsset_write_merged(yjs_dsset_t *ds, buf_t *out);

/** Writes the ranges as read: clients descending, each client's ranges in arrival
 *  order (spec 3.7 readDS + writeDS). */
void yjs_dsset_write_as_read(yjs_dsset_t *ds, buf_t *out);

/** Frees the collection. NULL-safe. */
void yjs_dsset_dispose(yjs_dsset_t *ds);

/** Adds `prefix` (e.g. "update 3: ") in front of an error message already recorded. */
void yjs_error_prefix(yjs_error_t *err, const char *prefix);

#endif
