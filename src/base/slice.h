/*
 * slice: a borrowed view of bytes (base layer).
 *
 * A slice never owns its bytes: whoever made it says how long they live. Protocol
 * data is always ptr+len and never assumed NUL-terminated. Same shape as uv_buf_t and
 * struct iovec, but convert with the helpers at the libuv boundary, never by cast.
 * Pure value type, no threading concerns.
 */
#ifndef SIOC_BASE_SLICE_H
#define SIOC_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct slice {
    const uint8_t *ptr;
    size_t len;
} slice_t;

/** A slice over `len` bytes at `p` (borrowed). */
static inline slice_t slice_make(const void *p, size_t len)
{
    return (slice_t){(const uint8_t *)p, len};
}

/** A slice over a NUL-terminated C string, without the NUL (borrowed). */
static inline slice_t slice_from_cstr(const char *s)
{
    return (slice_t){(const uint8_t *)s, s ? strlen(s) : 0};
}

#define SLICE_LIT(s) ((slice_t){(const uint8_t *)(s), sizeof(s) - 1})

static inline bool slice_eq(slice_t a, slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool slice_eq_cstr(slice_t a, const char *s)
{
    return slice_eq(a, slice_from_cstr(s));
}

/** ASCII case-insensitive equality, for HTTP header names and tokens. */
bool slice_eq_nocase(slice_t a, slice_t b);

static inline bool slice_starts_with(slice_t a, slice_t prefix)
{
    return a.len >= prefix.len && memcmp(a.ptr, prefix.ptr, prefix.len) == 0;
}

/** The bytes from `off` on; empty when `off` is past the end. */
static inline slice_t slice_tail(slice_t a, size_t off)
{
    return off >= a.len ? (slice_t){a.ptr + a.len, 0} : (slice_t){a.ptr + off, a.len - off};
}

/** Index of the first `c` in `a`, or -1. */
static inline long slice_index(slice_t a, uint8_t c)
{
    const uint8_t *p = a.len ? memchr(a.ptr, c, a.len) : NULL;
    return p ? (long)(p - a.ptr) : -1;
}

/**
 * Parses a whole slice as a non-negative decimal integer that fits in `max`.
 * Returns false on an empty slice, a non-digit, or overflow past `max`.
 */
bool slice_to_u64(slice_t a, uint64_t max, uint64_t *out);

#endif
