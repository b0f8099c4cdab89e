/* alloc: abort-on-OOM helpers and fallible variants, with an allocation counter that
 * tests read to prove a hot path allocates nothing. */
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long n_allocs; /* statistics only; atomically updated */

static void count_one(void)
{
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
}

unsigned long alloc_count(void)
{
    return __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
}

static void oom(size_t n, const char *file, int line)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *alloc_x_malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n, file, line);
    count_one();
    return p;
}

void *alloc_x_calloc(size_t count, size_t n, const char *file, int line)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n, file, line);
    count_one();
    return p;
}

void *alloc_x_realloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n, file, line);
    count_one();
    return q;
}

char *alloc_x_strndup(const char *s, size_t n, const char *file, int line)
{
    char *d = alloc_x_malloc(n + 1, file, line);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *try_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p)
        count_one();
    return p;
}

void *try_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q)
        count_one();
    return q;
}
