/*
 * alloc: the two allocation policies (base layer, STYLE rule 13).
 *
 * xmalloc/xcalloc/xrealloc/xstrdup are for small internal allocations: on OOM they
 * print file and line and abort, so callers never check. Every size a peer controls
 * is capped first and then goes through try_malloc/try_realloc, which return NULL and
 * must be checked. Thread-safe (they only wrap libc).
 */
#ifndef SIOC_BASE_ALLOC_H
#define SIOC_BASE_ALLOC_H

#include <stddef.h>

#define SIOC_MUST_CHECK __attribute__((warn_unused_result))

void *alloc_x_malloc(size_t n, const char *file, int line);
void *alloc_x_calloc(size_t count, size_t n, const char *file, int line);
void *alloc_x_realloc(void *p, size_t n, const char *file, int line);
char *alloc_x_strndup(const char *s, size_t n, const char *file, int line);

/** Abort-on-OOM allocation for internal sizes. Never returns NULL. */
#define xmalloc(n) alloc_x_malloc((n), __FILE__, __LINE__)
#define xcalloc(c, n) alloc_x_calloc((c), (n), __FILE__, __LINE__)
#define xrealloc(p, n) alloc_x_realloc((p), (n), __FILE__, __LINE__)
#define xstrndup(s, n) alloc_x_strndup((s), (n), __FILE__, __LINE__)

/** Fallible allocation for peer-controlled sizes: NULL on failure. */
SIOC_MUST_CHECK void *try_malloc(size_t n);
SIOC_MUST_CHECK void *try_realloc(void *p, size_t n);

/** Process-wide count of allocations made through this module, for the hot-path
 *  no-allocation tests. Relaxed atomic; cheap. */
unsigned long alloc_count(void);

#endif
