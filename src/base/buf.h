/*
 * buf: a growable byte buffer (base layer, STYLE rule 29).
 *
 * The idiom is reserve -> write into the spare room -> commit, and consume from the
 * front. The buffer owns its storage; `buf_dispose` frees it. `buf_data` pointers are
 * valid until the next call that may grow the buffer. Not thread-safe: one owner.
 *
 *   data                     data+len        data+cap
 *   |<- consumed ->|<- live ->|<-- spare -->|
 *   ^ storage      ^ off
 */
#ifndef SIOC_BASE_BUF_H
#define SIOC_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/slice.h"

typedef struct buf {
    uint8_t *_mem; /* storage, NULL until first reserve */
    size_t _off;   /* consumed bytes at the front */
    size_t len;    /* live bytes after _off */
    size_t _cap;   /* storage size */
} buf_t;

#define BUF_INIT ((buf_t){NULL, 0, 0, 0})

static inline void buf_init(buf_t *b)
{
    *b = BUF_INIT;
}

/** Frees the storage; the buffer is empty and reusable afterwards. NULL-safe. */
void buf_dispose(buf_t *b);

/** The live bytes (valid until the buffer grows or is disposed). */
static inline uint8_t *buf_data(const buf_t *b)
{
    return b->_mem ? b->_mem + b->_off : NULL;
}

static inline slice_t buf_slice(const buf_t *b)
{
    return slice_make(buf_data(b), b->len);
}

/**
 * Makes room for `n` more bytes and returns where to write them. Aborts on OOM: use
 * only for sizes already capped by the caller.
 */
uint8_t *buf_reserve(buf_t *b, size_t n);

/** Like buf_reserve, but returns NULL on OOM (peer-controlled sizes). */
SIOC_MUST_CHECK uint8_t *buf_try_reserve(buf_t *b, size_t n);

/** Marks `n` reserved bytes as written. */
static inline void buf_commit(buf_t *b, size_t n)
{
    b->len += n;
}

/** Drops `n` bytes from the front (n <= len). */
void buf_consume(buf_t *b, size_t n);

/** Empties the buffer, keeping its storage. */
static inline void buf_clear(buf_t *b)
{
    b->_off = 0;
    b->len = 0;
}

void buf_append(buf_t *b, const void *p, size_t n);
static inline void buf_append_slice(buf_t *b, slice_t s)
{
    buf_append(b, s.ptr, s.len);
}
void buf_append_cstr(buf_t *b, const char *s);
void buf_append_byte(buf_t *b, uint8_t c);
/** Appends an unsigned decimal number. */
void buf_append_u64(buf_t *b, uint64_t v);
/** printf-style append (never on a hot path). */
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Takes the storage out of the buffer as a heap block the caller frees with free();
 *  the buffer is left empty. Returns NULL when empty. */
uint8_t *buf_steal(buf_t *b, size_t *len);

#endif
