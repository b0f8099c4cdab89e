/*
 * net_timer: an intrusive binary min-heap of timers, keyed by due time, driven by the
 * loop's single uv_timer_t.
 *
 * The heap is a complete binary tree of the entries themselves (left/right/parent
 * pointers), so nothing is allocated. Position k (1-based, root = 1) is reached from
 * the root by the bits of k below its top bit, 0 = left, 1 = right:
 *
 *            1            k = 6 = 0b110: from the root go right (1), then left (0)
 *          /   \
 *         2     3
 *        / \   / \
 *       4   5 6   7
 *
 * Insert appends at position n+1 and sifts up; removal moves the last entry into the
 * hole and sifts it down or up. After any change the uv_timer is re-armed for the
 * root (not while the firing loop runs; it re-arms once at its end).
 */
#include "net/net_private.h"

static bool before(const net_timer_t *a, const net_timer_t *b)
{
    return a->_due < b->_due;
}

/* The slot that points at `t`: its parent's child pointer, or the heap root. */
static net_timer_t **link_of(net_loop_t *nl, net_timer_t *t)
{
    if (!t->_parent)
        return &nl->heap_root;
    return t->_parent->_left == t ? &t->_parent->_left : &t->_parent->_right;
}

/* Swaps `c` with its parent `p` in the tree (pointers only; the entries stay put). */
static void swap_with_parent(net_loop_t *nl, net_timer_t *p, net_timer_t *c)
{
    net_timer_t **plink = link_of(nl, p);
    net_timer_t *cl = c->_left, *cr = c->_right;
    net_timer_t *sibling;
    if (p->_left == c) {
        sibling = p->_right;
        c->_left = p;
        c->_right = sibling;
    } else {
        sibling = p->_left;
        c->_right = p;
        c->_left = sibling;
    }
    if (sibling)
        sibling->_parent = c;
    c->_parent = p->_parent;
    *plink = c;
    p->_parent = c;
    p->_left = cl;
    p->_right = cr;
    if (cl)
        cl->_parent = p;
    if (cr)
        cr->_parent = p;
}

static void sift_up(net_loop_t *nl, net_timer_t *t)
{
    while (t->_parent && before(t, t->_parent))
        swap_with_parent(nl, t->_parent, t);
}

static void sift_down(net_loop_t *nl, net_timer_t *t)
{
    for (;;) {
        net_timer_t *m = t->_left;
        if (!m)
            return;
        if (t->_right && before(t->_right, m))
            m = t->_right;
        if (!before(m, t))
            return;
        swap_with_parent(nl, t, m);
    }
}

/* The slot for position k: walks the path bits below the top bit of k, except the
 * last, and returns the parent; *right says which child slot. */
static net_timer_t *parent_of_pos(net_loop_t *nl, size_t k, bool *right)
{
    int top = 63 - __builtin_clzll((unsigned long long)k);
    net_timer_t *n = nl->heap_root;
    for (int b = top - 1; b > 0; b--)
        n = ((k >> b) & 1) ? n->_right : n->_left;
    *right = k & 1;
    return n;
}

static void heap_insert(net_loop_t *nl, net_timer_t *t)
{
    t->_left = t->_right = t->_parent = NULL;
    nl->heap_n++;
    if (nl->heap_n == 1) {
        nl->heap_root = t;
        return;
    }
    bool right;
    net_timer_t *p = parent_of_pos(nl, nl->heap_n, &right);
    if (right)
        p->_right = t;
    else
        p->_left = t;
    t->_parent = p;
    sift_up(nl, t);
}

static void heap_remove(net_loop_t *nl, net_timer_t *t)
{
    bool right;
    net_timer_t *last;
    if (nl->heap_n == 1) {
        last = nl->heap_root;
        nl->heap_root = NULL;
    } else {
        net_timer_t *p = parent_of_pos(nl, nl->heap_n, &right);
        last = right ? p->_right : p->_left;
        if (right)
            p->_right = NULL;
        else
            p->_left = NULL;
    }
    nl->heap_n--;
    if (last == t)
        return;
    /* Put `last` where `t` was, then restore the order around it. */
    last->_left = t->_left;
    last->_right = t->_right;
    last->_parent = t->_parent;
    *link_of(nl, t) = last;
    if (last->_left)
        last->_left->_parent = last;
    if (last->_right)
        last->_right->_parent = last;
    sift_down(nl, last);
    sift_up(nl, last);
}

static void rearm(net_loop_t *nl)
{
    if (nl->in_fire)
        return;
    if (!nl->heap_root) {
        uv_timer_stop(&nl->timer);
        return;
    }
    uint64_t now = uv_now(nl->uv);
    uint64_t due = nl->heap_root->_due;
    uv_timer_start(&nl->timer, net__timer_on_uv, due > now ? due - now : 0, 0);
}

void net_timer_start(net_loop_t *nl, net_timer_t *t, uint64_t ms, net_timer_cb cb)
{
    if (t->_loop)
        heap_remove(t->_loop, t);
    /* A zero delay started from a timer callback must not fire in the same pass
     * (a callback re-arming itself with 0 would spin forever). */
    if (ms == 0 && nl->in_fire)
        ms = 1;
    t->_due = uv_now(nl->uv) + ms;
    t->_cb = cb;
    t->_loop = nl;
    heap_insert(nl, t);
    rearm(nl);
}

void net_timer_stop(net_timer_t *t)
{
    net_loop_t *nl = t->_loop;
    if (!nl)
        return;
    heap_remove(nl, t);
    t->_loop = NULL;
    rearm(nl);
}

size_t net_timer_count(const net_loop_t *nl)
{
    return nl->heap_n;
}

void net__timer_on_uv(uv_timer_t *h)
{
    net_loop_t *nl = h->data;
    uint64_t now = uv_now(nl->uv);
    nl->in_fire = true;
    while (nl->heap_root && nl->heap_root->_due <= now) {
        net_timer_t *t = nl->heap_root;
        heap_remove(nl, t);
        t->_loop = NULL;
        t->_cb(t);
    }
    nl->in_fire = false;
    rearm(nl);
}

void net__timer_drop_all(net_loop_t *nl)
{
    /* Iterative walk without a stack: detach leaves bottom-up. */
    net_timer_t *t = nl->heap_root;
    while (t) {
        if (t->_left) {
            t = t->_left;
            continue;
        }
        if (t->_right) {
            t = t->_right;
            continue;
        }
        net_timer_t *p = t->_parent;
        if (p && p->_left == t)
            p->_left = NULL;
        else if (p)
            p->_right = NULL;
        t->_loop = NULL;
        t->_parent = NULL;
        t = p;
    }
    nl->heap_root = NULL;
    nl->heap_n = 0;
    uv_timer_stop(&nl->timer);
}
