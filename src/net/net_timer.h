/*
 * net_timer: embeddable millisecond timers, many per loop, one uv_timer_t (net layer).
 *
 * A net_timer_t is a small intrusive entry of a per-loop min-heap; the loop arms a
 * single uv_timer_t for the earliest due entry (STYLE rule 27: no uv_timer_t per
 * connection). Starting and stopping are O(log n) and never allocate, so millions of
 * sessions can each hold a ping timer. Resolution is libuv's: milliseconds against
 * the loop's cached clock (net_loop_now), so a 300 ms ping interval fires after
 * 300 ms, not on a coarse tick.
 *
 *   struct session { ...; net_timer_t ping; };
 *   static void on_ping(net_timer_t *t) {
 *       struct session *s = NET_CONTAINER_OF(t, struct session, ping); ...
 *   }
 *   net_timer_init(&s->ping);  net_timer_start(nl, &s->ping, 25000, on_ping);
 *
 * Ownership: the entry lives inside the caller's object; stop it before freeing that
 * object. An initialised, stopped entry holds no resources.
 * Callbacks: a due timer is removed from the heap before its callback runs, so the
 * callback may restart it, stop or start other timers, or queue the object for
 * deferred freeing. Timers due at the same moment fire in an unspecified order.
 * Threading: loop thread only.
 */
#ifndef SIOC_NET_TIMER_H
#define SIOC_NET_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net_loop.h"

typedef struct net_timer net_timer_t;

/** Fired once when the timer is due; the timer is already stopped at that point. */
typedef void (*net_timer_cb)(net_timer_t *t);

/** An embeddable timer entry. All fields are private; use the functions below. */
struct net_timer {
    net_timer_t *_left;   /* heap children and parent (intrusive binary heap) */
    net_timer_t *_right;
    net_timer_t *_parent;
    uint64_t _due;        /* absolute due time, net_loop_now() milliseconds */
    net_timer_cb _cb;     /* callback; also the "active" flag when _loop is set */
    net_loop_t *_loop;    /* the loop whose heap holds it; NULL when stopped */
};

/** Prepares an entry (stopped). Needed once before the first start; zeroed memory is
 *  also a valid stopped entry. */
static inline void net_timer_init(net_timer_t *t)
{
    *t = (net_timer_t){0};
}

/**
 * (Re)starts `t` to fire `cb(t)` once, `ms` milliseconds from net_loop_now(nl). A
 * timer that is already active is moved, not duplicated. `ms` 0 fires on the next
 * loop turn, never synchronously.
 */
void net_timer_start(net_loop_t *nl, net_timer_t *t, uint64_t ms, net_timer_cb cb);

/** Stops `t`; a no-op when it is not active. Its callback will not run. */
void net_timer_stop(net_timer_t *t);

/** True while `t` is started and has not fired or been stopped. */
static inline bool net_timer_is_active(const net_timer_t *t)
{
    return t->_loop != NULL;
}

/** The absolute due time of an active timer (net_loop_now() milliseconds). */
static inline uint64_t net_timer_due(const net_timer_t *t)
{
    return t->_due;
}

/** Number of active timers on the loop (for tests and stats). */
size_t net_timer_count(const net_loop_t *nl);

#endif
