/*
 * rcbuf: an immutable, reference-counted block of bytes (base layer, STYLE rule 9).
 *
 * A broadcast is encoded once into an rcbuf and every recipient's write queue holds a
 * reference, not a copy; the last rcbuf_unref frees it.
 *
 *   encoder --rcbuf_new--> [refs=1 | bytes...] --rcbuf_ref per recipient--> queues
 *   encoder drops its own ref; each queue unrefs after its write completes.
 *
 * Refcounts are not atomic: an rcbuf belongs to one loop thread (STYLE rule 28).
 */
#ifndef SIOC_BASE_RCBUF_H
#define SIOC_BASE_RCBUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/slice.h"

typedef struct rcbuf {
    uint32_t refs; /* owners; freed when it drops to 0 */
    uint32_t _pad;
    size_t len;      /* bytes used in data[] */
    uint8_t data[];  /* the bytes, written by the creator before sharing */
} rcbuf_t;

/** A new rcbuf with room for `cap` bytes, refs=1, len=0. Aborts on OOM: cap the size
 *  first when a peer controls it. */
rcbuf_t *rcbuf_new(size_t cap);

/** A new rcbuf holding a copy of `s`. */
rcbuf_t *rcbuf_from(slice_t s);

static inline rcbuf_t *rcbuf_ref(rcbuf_t *b)
{
    b->refs++;
    return b;
}

/** Drops one reference; frees on the last. NULL-safe. */
void rcbuf_unref(rcbuf_t *b);

static inline slice_t rcbuf_slice(const rcbuf_t *b)
{
    return slice_make(b->data, b->len);
}

#endif
