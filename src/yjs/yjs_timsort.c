/*
 * yjs_timsort: V8's TimSort over 32-bit handles. See yjs_timsort.h for why.
 *
 * The structure follows the published algorithm (CPython Objects/listsort.txt, which
 * V8's third_party/v8/builtins/array-sort.tq implements): find a natural run (reverse
 * it if strictly descending), extend short runs to minrun by binary insertion, push
 * the run and restore the stack invariants, and merge with galloping at the end.
 * What matters here is not speed but making the same comparisons, with the arguments
 * in the same order, as V8 does, because the yjs comparator is not consistent.
 *
 * "x < y" below always means cmp(x, y) < 0 with the arguments in that order.
 *
 * merge_low and merge_high nest four deep (the galloping loops inside the merge loop),
 * against the house limit of three: they keep the shape of listsort's merge_lo/merge_hi
 * so that they can be checked line by line against it, which matters more here.
 */
#include "yjs/yjs_timsort.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define MIN_GALLOP 7
#define MAX_RUNS 96 /* the invariants keep the stack below log_phi(2^64) entries */

typedef struct run {
    size_t base;
    size_t len;
} run_t;

typedef struct sortstate {
    uint32_t *a;
    yjs_sort_cmp_fn cmp;
    void *ctx;
    uint32_t *tmp; /* scratch for merges, n/2+1 handles */
    size_t min_gallop;
    run_t runs[MAX_RUNS];
    size_t nruns;
} sortstate_t;

static inline int lt(sortstate_t *s, uint32_t x, uint32_t y)
{
    return s->cmp(s->ctx, x, y) < 0;
}

static size_t min_run_length(size_t n)
{
    size_t r = 0;
    while (n >= 64) {
        r |= n & 1;
        n >>= 1;
    }
    return n + r;
}

/* Sorts a[lo..hi) knowing a[lo..start) is sorted: binary insertion, pivot moved right
 * while pivot < a[mid]. */
static void binary_insertion(sortstate_t *s, size_t lo, size_t start, size_t hi)
{
    uint32_t *a = s->a;
    for (; start < hi; start++) {
        size_t left = lo, right = start;
        uint32_t pivot = a[start];
        while (left < right) {
            size_t mid = left + ((right - left) >> 1);
            if (lt(s, pivot, a[mid]))
                right = mid;
            else
                left = mid + 1;
        }
        memmove(a + left + 1, a + left, (start - left) * sizeof *a);
        a[left] = pivot;
    }
}

/* Length of the run starting at lo (hi exclusive); a strictly descending run is
 * reversed in place so every run is ascending. */
static size_t count_and_make_run(sortstate_t *s, size_t lo, size_t hi)
{
    uint32_t *a = s->a;
    if (lo + 1 == hi)
        return 1;
    size_t n = 2;
    int desc = lt(s, a[lo + 1], a[lo]);
    for (size_t i = lo + 2; i < hi; i++) {
        int l = lt(s, a[i], a[i - 1]);
        if (desc ? !l : l)
            break;
        n++;
    }
    if (desc) {
        for (size_t i = lo, j = lo + n - 1; i < j; i++, j--) {
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    return n;
}

/* Leftmost position in b[0..len) where key belongs: b[k-1] < key <= b[k]. */
static size_t gallop_left(sortstate_t *s, uint32_t key, const uint32_t *b, size_t len,
                          size_t hint)
{
    size_t last = 0, ofs = 1;
    if (lt(s, b[hint], key)) {
        size_t max = len - hint;
        while (ofs < max && lt(s, b[hint + ofs], key)) {
            last = ofs;
            ofs = (ofs << 1) + 1;
        }
        if (ofs > max)
            ofs = max;
        last += hint;
        ofs += hint;
    } else {
        size_t max = hint + 1;
        while (ofs < max && !lt(s, b[hint - ofs], key)) {
            last = ofs;
            ofs = (ofs << 1) + 1;
        }
        if (ofs > max)
            ofs = max;
        size_t t = last;
        last = hint + 1 - ofs; /* hint - ofs, shifted by one to stay unsigned */
        ofs = hint - t;
        /* invariant now: b[last-2] < key <= b[ofs] in the original (signed) terms */
        goto search;
    }
    last++;
search:
    while (last < ofs) {
        size_t m = last + ((ofs - last) >> 1);
        if (lt(s, b[m], key))
            last = m + 1;
        else
            ofs = m;
    }
    return ofs;
}

/* Rightmost position in b[0..len) where key belongs: b[k-1] <= key < b[k]. */
static size_t gallop_right(sortstate_t *s, uint32_t key, const uint32_t *b, size_t len,
                           size_t hint)
{
    size_t last = 0, ofs = 1;
    if (lt(s, key, b[hint])) {
        size_t max = hint + 1;
        while (ofs < max && lt(s, key, b[hint - ofs])) {
            last = ofs;
            ofs = (ofs << 1) + 1;
        }
        if (ofs > max)
            ofs = max;
        size_t t = last;
        last = hint + 1 - ofs;
        ofs = hint - t;
        goto search;
    } else {
        size_t max = len - hint;
        while (ofs < max && !lt(s, key, b[hint + ofs])) {
            last = ofs;
            ofs = (ofs << 1) + 1;
        }
        if (ofs > max)
            ofs = max;
        last += hint;
        ofs += hint;
    }
    last++;
search:
    while (last < ofs) {
        size_t m = last + ((ofs - last) >> 1);
        if (lt(s, key, b[m]))
            ofs = m;
        else
            last = m + 1;
    }
    return ofs;
}

/* Merges the adjacent runs a[pa..pa+na) and a[pb..pb+nb) with na <= nb, copying run A
 * to scratch; the first element of B and the last of A are already known to move. */
static void merge_low(sortstate_t *s, size_t pa, size_t na, size_t pb, size_t nb)
{
    uint32_t *a = s->a, *t = s->tmp;
    memcpy(t, a + pa, na * sizeof *a);
    size_t dest = pa, ct = 0, cb = pb;
    size_t min_gallop = s->min_gallop;
    a[dest++] = a[cb++];
    if (--nb == 0)
        goto succeed;
    if (na == 1)
        goto copy_b;
    for (;;) {
        size_t wins_a = 0, wins_b = 0;
        for (;;) {
            if (lt(s, a[cb], t[ct])) {
                a[dest++] = a[cb++];
                wins_b++;
                wins_a = 0;
                if (--nb == 0)
                    goto succeed;
                if (wins_b >= min_gallop)
                    break;
            } else {
                a[dest++] = t[ct++];
                wins_a++;
                wins_b = 0;
                if (--na == 1)
                    goto copy_b;
                if (wins_a >= min_gallop)
                    break;
            }
        }
        min_gallop++;
        int first = 1;
        while (wins_a >= MIN_GALLOP || wins_b >= MIN_GALLOP || first) {
            first = 0;
            min_gallop = min_gallop > 1 ? min_gallop - 1 : 1;
            s->min_gallop = min_gallop;
            wins_a = gallop_right(s, a[cb], t + ct, na, 0);
            if (wins_a) {
                memmove(a + dest, t + ct, wins_a * sizeof *a);
                dest += wins_a;
                ct += wins_a;
                na -= wins_a;
                if (na == 1)
                    goto copy_b;
                if (na == 0) /* only with an inconsistent comparator */
                    goto succeed;
            }
            a[dest++] = a[cb++];
            if (--nb == 0)
                goto succeed;
            wins_b = gallop_left(s, t[ct], a + cb, nb, 0);
            if (wins_b) {
                memmove(a + dest, a + cb, wins_b * sizeof *a);
                dest += wins_b;
                cb += wins_b;
                nb -= wins_b;
                if (nb == 0)
                    goto succeed;
            }
            a[dest++] = t[ct++];
            if (--na == 1)
                goto copy_b;
        }
        min_gallop++;
        s->min_gallop = min_gallop;
    }
succeed:
    if (na)
        memcpy(a + dest, t + ct, na * sizeof *a);
    return;
copy_b:
    /* the last element of A belongs at the end of the merge */
    memmove(a + dest, a + cb, nb * sizeof *a);
    a[dest + nb] = t[ct];
}

/* Mirror of merge_low for na > nb: run B goes to scratch, merging from the right. */
static void merge_high(sortstate_t *s, size_t pa, size_t na, size_t pb, size_t nb)
{
    uint32_t *a = s->a, *t = s->tmp;
    memcpy(t, a + pb, nb * sizeof *a);
    /* cursors are "one past" positions so they never go below zero */
    size_t dest = pb + nb, ct = nb, ca = pa + na;
    size_t min_gallop = s->min_gallop;
    a[--dest] = a[--ca];
    if (--na == 0)
        goto succeed;
    if (nb == 1)
        goto copy_a;
    for (;;) {
        size_t wins_a = 0, wins_b = 0;
        for (;;) {
            if (lt(s, t[ct - 1], a[ca - 1])) {
                a[--dest] = a[--ca];
                wins_a++;
                wins_b = 0;
                if (--na == 0)
                    goto succeed;
                if (wins_a >= min_gallop)
                    break;
            } else {
                a[--dest] = t[--ct];
                wins_b++;
                wins_a = 0;
                if (--nb == 1)
                    goto copy_a;
                if (wins_b >= min_gallop)
                    break;
            }
        }
        min_gallop++;
        int first = 1;
        while (wins_a >= MIN_GALLOP || wins_b >= MIN_GALLOP || first) {
            first = 0;
            min_gallop = min_gallop > 1 ? min_gallop - 1 : 1;
            s->min_gallop = min_gallop;
            size_t k = gallop_right(s, t[ct - 1], a + pa, na, na - 1);
            wins_a = na - k;
            if (wins_a) {
                dest -= wins_a;
                ca -= wins_a;
                memmove(a + dest, a + ca, wins_a * sizeof *a);
                na -= wins_a;
                if (na == 0)
                    goto succeed;
            }
            a[--dest] = t[--ct];
            if (--nb == 1)
                goto copy_a;
            k = gallop_left(s, a[ca - 1], t, nb, nb - 1);
            wins_b = nb - k;
            if (wins_b) {
                dest -= wins_b;
                ct -= wins_b;
                memcpy(a + dest, t + ct, wins_b * sizeof *a);
                nb -= wins_b;
                if (nb == 1)
                    goto copy_a;
                if (nb == 0) /* only with an inconsistent comparator */
                    goto succeed;
            }
            a[--dest] = a[--ca];
            if (--na == 0)
                goto succeed;
        }
        min_gallop++;
        s->min_gallop = min_gallop;
    }
succeed:
    if (nb)
        memcpy(a + dest - nb, t, nb * sizeof *a);
    return;
copy_a:
    /* the first element of B belongs at the front of the merge */
    dest -= na;
    ca -= na;
    memmove(a + dest, a + ca, na * sizeof *a);
    a[dest - 1] = t[ct - 1];
}

static void merge_at(sortstate_t *s, size_t i)
{
    size_t pa = s->runs[i].base, na = s->runs[i].len;
    size_t pb = s->runs[i + 1].base, nb = s->runs[i + 1].len;
    s->runs[i].len = na + nb;
    if (i + 3 == s->nruns)
        s->runs[i + 1] = s->runs[i + 2];
    s->nruns--;
    /* where does B's first element go in A? what precedes it is already in place */
    size_t k = gallop_right(s, s->a[pb], s->a + pa, na, 0);
    pa += k;
    na -= k;
    if (na == 0)
        return;
    /* where does A's last element go in B? what follows it is already in place */
    nb = gallop_left(s, s->a[pa + na - 1], s->a + pb, nb, nb - 1);
    if (nb == 0)
        return;
    if (na <= nb)
        merge_low(s, pa, na, pb, nb);
    else
        merge_high(s, pa, na, pb, nb);
}

/* True iff len[n-2] > len[n-1] + len[n] (or n < 2). */
static int invariant_ok(const sortstate_t *s, size_t n)
{
    if (n < 2)
        return 1;
    return s->runs[n - 2].len > s->runs[n - 1].len + s->runs[n].len;
}

static void merge_collapse(sortstate_t *s)
{
    while (s->nruns > 1) {
        size_t n = s->nruns - 2;
        if (!invariant_ok(s, n + 1) || !invariant_ok(s, n)) {
            if (s->runs[n - 1].len < s->runs[n + 1].len)
                n--;
            merge_at(s, n);
        } else if (s->runs[n].len <= s->runs[n + 1].len) {
            merge_at(s, n);
        } else {
            break;
        }
    }
}

static void merge_force_collapse(sortstate_t *s)
{
    while (s->nruns > 1) {
        size_t n = s->nruns - 2;
        if (n > 0 && s->runs[n - 1].len < s->runs[n + 1].len)
            n--;
        merge_at(s, n);
    }
}

int yjs_timsort(uint32_t *a, size_t n, yjs_sort_cmp_fn cmp, void *ctx)
{
    if (n < 2)
        return 0;
    sortstate_t s = {.a = a, .cmp = cmp, .ctx = ctx, .min_gallop = MIN_GALLOP};
    size_t minrun = min_run_length(n);
    if (n >= 64) {
        s.tmp = try_malloc((n / 2 + 1) * sizeof *a);
        if (!s.tmp)
            return -1;
    }
    size_t lo = 0, left = n;
    while (left) {
        size_t run = count_and_make_run(&s, lo, lo + left);
        if (run < minrun) {
            size_t forced = minrun < left ? minrun : left;
            binary_insertion(&s, lo, lo + run, lo + forced);
            run = forced;
        }
        s.runs[s.nruns++] = (run_t){lo, run};
        merge_collapse(&s);
        lo += run;
        left -= run;
    }
    merge_force_collapse(&s);
    free(s.tmp);
    return 0;
}
