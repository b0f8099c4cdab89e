/*
 * net_outq: the storage of a connection's output queue (net layer, internal): pooled
 * 4 KiB copy chunks, the two inline segment slots and the pooled overflow arrays. The
 * queue's layout and the write path are in net_conn.c; this file only hands out, grows
 * and recycles the memory, so that an idle connection owns no output memory and a busy
 * loop allocates nothing per write (STYLE rules 9, 10, 25).
 *
 * Threading: loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "net/net_private.h"

static rcbuf_t *chunk_get(net_loop_t *nl)
{
    rcbuf_t *rc = nl->chunk_pool;
    if (!rc)
        return rcbuf_new(NET_CHUNK_CAP);
    memcpy(&nl->chunk_pool, rc->data, sizeof(rcbuf_t *));
    nl->chunk_pool_n--;
    rc->len = 0;
    return rc;
}

void net__outq_release(net_loop_t *nl, struct net_seg *s)
{
    rcbuf_t *rc = s->rc;
    s->rc = NULL;
    if (s->cap == NET_CHUNK_CAP && rc->refs == 1 && (int)nl->chunk_pool_n < NET_POOL_MAX) {
        memcpy(rc->data, &nl->chunk_pool, sizeof(rcbuf_t *));
        nl->chunk_pool = rc;
        nl->chunk_pool_n++;
        return;
    }
    rcbuf_unref(rc);
}

/* Back to the two inline slots once the queue is empty. */
void net__outq_reset(net_conn_t *c)
{
    net_loop_t *nl = c->nl;
    c->seg_head = 0;
    if (c->segs == c->inline_segs)
        return;
    if (c->seg_cap == NET_POOL_SEGS && (int)nl->segs_pool_n < NET_POOL_MAX &&
        nl->segs_pool_n < NET_SEGS_POOL_MAX) {
        nl->segs_pool[nl->segs_pool_n++] = c->segs;
    } else {
        free(c->segs);
    }
    c->segs = c->inline_segs;
    c->seg_cap = NET_INLINE_SEGS;
}

static void segs_grow(net_conn_t *c)
{
    net_loop_t *nl = c->nl;
    if (c->seg_head) {
        memmove(c->segs, c->segs + c->seg_head, c->seg_n * sizeof *c->segs);
        c->seg_head = 0;
        return;
    }
    struct net_seg *a;
    if (c->segs == c->inline_segs && nl->segs_pool_n) {
        a = nl->segs_pool[--nl->segs_pool_n];
        memcpy(a, c->segs, c->seg_n * sizeof *a);
        c->seg_cap = NET_POOL_SEGS;
    } else if (c->segs == c->inline_segs) {
        a = xmalloc(NET_POOL_SEGS * sizeof *a);
        memcpy(a, c->segs, c->seg_n * sizeof *a);
        c->seg_cap = NET_POOL_SEGS;
    } else {
        a = xrealloc(c->segs, 2 * c->seg_cap * sizeof *a);
        c->seg_cap *= 2;
    }
    c->segs = a;
}

void net__outq_push(net_conn_t *c, rcbuf_t *rc, uint32_t cap)
{
    if (c->seg_head + c->seg_n == c->seg_cap)
        segs_grow(c);
    c->segs[c->seg_head + c->seg_n++] = (struct net_seg){rc, 0, cap};
}

void net__outq_release_all(net_conn_t *c)
{
    for (uint32_t i = 0; i < c->seg_n; i++)
        net__outq_release(c->nl, &c->segs[c->seg_head + i]);
    c->seg_n = 0;
    c->inflight = 0;
    c->queued = 0;
    net__outq_reset(c);
}

/* The last segment, if copies may still be appended to it. */
static struct net_seg *appendable_tail(net_conn_t *c)
{
    if (c->seg_n == 0 || c->seg_n <= c->inflight)
        return NULL;
    struct net_seg *s = &c->segs[c->seg_head + c->seg_n - 1];
    return (s->cap && s->rc->len < s->cap) ? s : NULL;
}

void net__outq_copy_in(net_conn_t *c, const uint8_t *p, size_t n)
{
    while (n) {
        struct net_seg *s = appendable_tail(c);
        if (s) {
            size_t k = s->cap - s->rc->len;
            k = k < n ? k : n;
            memcpy(s->rc->data + s->rc->len, p, k);
            s->rc->len += k;
            p += k;
            n -= k;
            continue;
        }
        if (n < NET_CHUNK_CAP) {
            net__outq_push(c, chunk_get(c->nl), NET_CHUNK_CAP);
            continue;
        }
        rcbuf_t *rc = rcbuf_new(n); /* n is under max_out, checked by the caller */
        memcpy(rc->data, p, n);
        rc->len = n;
        net__outq_push(c, rc, 0);
        return;
    }
}

void net__outq_pool_free(net_loop_t *nl)
{
    while (nl->chunk_pool) {
        rcbuf_t *rc = nl->chunk_pool;
        memcpy(&nl->chunk_pool, rc->data, sizeof(rcbuf_t *));
        rcbuf_unref(rc);
    }
    while (nl->segs_pool_n)
        free(nl->segs_pool[--nl->segs_pool_n]);
    nl->chunk_pool_n = nl->segs_pool_n = 0;
}
