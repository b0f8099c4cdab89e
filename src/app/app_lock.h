/*
 * app_lock: a cleanup loop that runs on exactly one node at a time, behind a Redis lock
 * (app layer; openwebui-protocol.md §5.2-§5.4, [latest] behaviour).
 *
 * The lock is the STRING `<prefix>:<name>` holding a random token, with a TTL of
 * WEBSOCKET_REDIS_LOCK_TIMEOUT seconds (T):
 *   - acquire: `SET key token NX EX T` (a holder that still owns the key after a lost
 *     reply just extends it), retried forever every uniform(T/2, T) seconds;
 *   - renew: a compare-and-expire Lua script, every max(T/2, 0.5) s while held; a renewal
 *     that finds another token (or no key: Redis restarted) drops back to acquiring;
 *   - release: a compare-and-delete Lua script at stop (errors ignored).
 * While held, `work` runs at acquisition and then every `period_ms`. Redis errors never
 * end the loop: the lock is simply acquired again once Redis answers. Acquisition and
 * loss are logged at INFO ("<name>: this node holds the lock").
 *
 * Ownership: the app owns the lock (app_lock_new .. app_lock_free, which releases it and
 * closes the timer; the loop must run afterwards). Threading: loop thread only.
 */
#ifndef SIOC_APP_LOCK_H
#define SIOC_APP_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "app/app_redis.h"

typedef struct app_lock app_lock_t;

/** The work of the holder. */
typedef void (*app_lock_work_cb)(app_t *app, void *arg);

/**
 * Starts a lock loop for key `<prefix>:<name>` (name copied) with TTL `ttl_s` and the
 * work period `period_ms`. Never NULL.
 */
app_lock_t *app_lock_new(app_t *app, app_redis_t *r, const char *name, uint32_t ttl_s,
                         uint64_t period_ms, app_lock_work_cb work, void *arg);

/** True while this node holds the lock. */
bool app_lock_is_held(const app_lock_t *l);

/** Releases the lock when held (compare-and-delete), stops and frees. NULL-safe. */
void app_lock_free(app_lock_t *l);

#endif
