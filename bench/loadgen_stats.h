/*
 * loadgen_stats: a fixed-size latency histogram for bench/loadgen.c (bench, not the library).
 *
 * Latencies are recorded in microseconds without allocating: values under 1024 us get a
 * bucket each; above that every power of two is cut into 64 buckets, so a reported
 * quantile is within about 1.6 % of the true value up to 2^42 us. Percentiles are read
 * by walking the buckets. The histogram is a plain value the caller owns (about 25 KiB);
 * one thread. Functions are static: this header is included by exactly one program.
 */
#ifndef SIOC_BENCH_LOADGEN_STATS_H
#define SIOC_BENCH_LOADGEN_STATS_H

#include <stdint.h>
#include <string.h>

#define LG_HIST_LINEAR 1024 /* exact buckets for 0..1023 us */
#define LG_HIST_SUBBITS 6   /* 64 sub-buckets per power of two above that */
#define LG_HIST_OCTAVES 32  /* powers of two from 2^10 to 2^42 us */
#define LG_HIST_BUCKETS (LG_HIST_LINEAR + (LG_HIST_OCTAVES << LG_HIST_SUBBITS))

typedef struct lg_hist {
    uint64_t n;                     /* samples */
    uint64_t sum;                   /* their sum, us */
    uint64_t max;                   /* largest sample, us */
    uint64_t b[LG_HIST_BUCKETS];    /* counts per bucket */
} lg_hist_t;

static inline void lg_hist_init(lg_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}

/** Bucket index of `v` us (values past the last octave land in the last bucket). */
static inline unsigned lg_hist_index(uint64_t v)
{
    if (v < LG_HIST_LINEAR)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* floor(log2 v), >= 10 */
    if (e >= 10 + LG_HIST_OCTAVES)
        return LG_HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - LG_HIST_SUBBITS)) & ((1u << LG_HIST_SUBBITS) - 1);
    return LG_HIST_LINEAR + ((e - 10) << LG_HIST_SUBBITS) + sub;
}

/** The middle of bucket `i`, in us: the value a percentile in that bucket reports. */
static inline uint64_t lg_hist_value(unsigned i)
{
    if (i < LG_HIST_LINEAR)
        return i;
    unsigned e = 10 + ((i - LG_HIST_LINEAR) >> LG_HIST_SUBBITS);
    uint64_t sub = (i - LG_HIST_LINEAR) & ((1u << LG_HIST_SUBBITS) - 1);
    uint64_t width = 1ull << (e - LG_HIST_SUBBITS);
    return (1ull << e) + sub * width + width / 2;
}

static inline void lg_hist_add(lg_hist_t *h, uint64_t v)
{
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
    h->b[lg_hist_index(v)]++;
}

/** The `q`-quantile (0 < q <= 1) in us; 0 when empty. Never above the exact max. */
static uint64_t lg_hist_quantile(const lg_hist_t *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = lg_hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

static inline uint64_t lg_hist_mean(const lg_hist_t *h)
{
    return h->n ? h->sum / h->n : 0;
}

#endif
