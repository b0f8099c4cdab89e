/*
 * yjs_bench: times the C Yjs merge (yjs_merge_updates) on an update list written by
 * bench/yjs/gen.mjs; bench/yjs/run runs it beside bench/yjs/node-merge.mjs
 * (Y.mergeUpdates) on the same file and compares.
 *
 *   build/bench/yjs_bench FILE [--batch N] [--repeat R] [--out OUT]
 *
 * Without --batch: one merge of the whole list. With --batch N: the server's
 * compaction pattern, state = merge([state, next N updates]) until the list is used
 * up. Prints one line of key=value pairs:
 *   ms              best of R runs (wall clock, CLOCK_MONOTONIC)
 *   cpu_ms          user+system CPU time of that best run (steadier on a busy machine)
 *   out_bytes       size of the merged document
 *   extra_peak_rss  peak RSS during the first run minus RSS before it (the inputs
 *                   are loaded before, in one exact-size block); what the merge needed,
 *                   output included
 *   peak_heap       peak bytes of heap blocks live during the first run, counted by
 *                   capacity (malloc_usable_size), output buffer included; the output
 *                   buffer is reserved at about the inputs' total size and grows by
 *                   powers of two, so this counts pages that are never touched
 * and writes the final merged update to OUT for the byte comparison.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "yjs/yjs_merge.h"

/* Heap accounting: this program interposes malloc and friends and forwards them to
 * glibc's own entry points, counting live bytes. The counters are the one piece of
 * mutable global state here; the program is single-threaded. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t c, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static size_t heap_live, heap_peak;

static void *counted(void *p)
{
    if (p) {
        heap_live += malloc_usable_size(p);
        if (heap_live > heap_peak)
            heap_peak = heap_live;
    }
    return p;
}

void *malloc(size_t n)
{
    return counted(__libc_malloc(n));
}

void *calloc(size_t c, size_t n)
{
    return counted(__libc_calloc(c, n));
}

void *realloc(void *p, size_t n)
{
    if (p)
        heap_live -= malloc_usable_size(p);
    void *q = __libc_realloc(p, n);
    if (!q && p && n) /* failed: the old block is still there */
        return counted(p), NULL;
    return counted(q);
}

void free(void *p)
{
    if (p)
        heap_live -= malloc_usable_size(p);
    __libc_free(p);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_now(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * 4096;
}

static long rss_peak(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int load(const char *path, buf_t *file, slice_t **list, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        perror(path);
        return -1;
    }
    /* one exact-size block, so that loading leaves no higher RSS peak behind */
    uint8_t *dst = buf_reserve(file, (size_t)st.st_size + 1);
    buf_commit(file, fread(dst, 1, (size_t)st.st_size, f));
    fclose(f);
    const uint8_t *p = buf_data(file);
    if (file->len < 8 || memcmp(p, "YJSB", 4) != 0) {
        fprintf(stderr, "%s: not a YJSB update list\n", path);
        return -1;
    }
    *n = le32(p + 4);
    *list = xcalloc(*n ? *n : 1, sizeof **list);
    size_t off = 8;
    for (size_t i = 0; i < *n; i++) {
        if (off + 4 > file->len || le32(p + off) > file->len - off - 4) {
            fprintf(stderr, "%s: truncated at update %zu\n", path, i);
            return -1;
        }
        (*list)[i] = slice_make(p + off + 4, le32(p + off));
        off += 4 + le32(p + off);
    }
    return 0;
}

/* One benchmark run; the result is left in *out. */
static int run(const slice_t *list, size_t n, size_t batch, buf_t *out)
{
    yjs_error_t err;
    buf_clear(out);
    if (!batch) {
        if (yjs_merge_updates(list, n, out, &err) == YJS_OK)
            return 0;
        fprintf(stderr, "merge failed: %s\n", err.msg);
        return -1;
    }
    slice_t *step = xcalloc(batch + 1, sizeof *step);
    buf_t next = BUF_INIT;
    buf_append(out, "\0\0", 2);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += batch) {
        size_t k = n - i < batch ? n - i : batch;
        step[0] = buf_slice(out);
        memcpy(step + 1, list + i, k * sizeof *step);
        buf_clear(&next);
        if (yjs_merge_updates(step, k + 1, &next, &err) != YJS_OK) {
            fprintf(stderr, "merge failed at %zu: %s\n", i, err.msg);
            rc = -1;
        }
        buf_t t = *out; /* the new state becomes the current one */
        *out = next;
        next = t;
    }
    buf_dispose(&next);
    free(step);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: yjs_bench FILE [--batch N] [--repeat R] [--out OUT]\n", stderr);
        return 2;
    }
    size_t batch = 0;
    int repeat = 5;
    const char *outpath = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0)
            batch = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--out") == 0)
            outpath = argv[i + 1];
    }
    buf_t file = BUF_INIT, out = BUF_INIT;
    slice_t *list = NULL;
    size_t n = 0;
    if (load(argv[1], &file, &list, &n))
        return 1;
    long before = rss_now();
    size_t heap0 = heap_live;
    heap_peak = heap_live;
    double best = 1e300, best_cpu = 0;
    long peak = 0;
    size_t peak_heap = 0;
    for (int r = 0; r < (repeat > 0 ? repeat : 1); r++) {
        if (r == 1) /* later runs reuse the output buffer of the first */
            buf_dispose(&out);
        double t0 = now_ms(), c0 = cpu_ms();
        if (run(list, n, batch, &out))
            return 1;
        double ms = now_ms() - t0, cms = cpu_ms() - c0;
        if (r == 0) {
            peak = rss_peak() - before;
            peak_heap = heap_peak - heap0;
        }
        if (ms < best) {
            best = ms;
            best_cpu = cms;
        }
    }
    if (outpath) {
        FILE *f = fopen(outpath, "wb");
        if (!f || fwrite(buf_data(&out), 1, out.len, f) != out.len) {
            perror(outpath);
            return 1;
        }
        fclose(f);
    }
    printf("impl=c updates=%zu batch=%zu ms=%.3f cpu_ms=%.3f out_bytes=%zu extra_peak_rss=%ld "
           "peak_heap=%zu\n",
           n, batch, best, best_cpu, out.len, peak > 0 ? peak : 0, peak_heap);
    buf_dispose(&out);
    buf_dispose(&file);
    free(list);
    return 0;
}
