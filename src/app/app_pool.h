/*
 * app_pool: where SESSION_POOL and USAGE_POOL are shared (app layer;
 * openwebui-protocol.md §2.1, §3.1, §3.3, §3.9, §5.1-§5.4).
 *
 * The node's own view is always in process: the session of a socket is its app_sock_t
 * user record, its usage entries are in app_usage; handlers read only those, so a local
 * socket is served the same whether Redis answers or not. This module publishes that
 * view for the other nodes through one const ops table with two backends:
 *   - local (no WEBSOCKET_MANAGER=redis): nothing to share; every call is a no-op, and
 *     the cleanup loops are the app's 1 s tick (locks are no-ops, as in Open WebUI);
 *   - redis: HSET/HDEL on `<prefix>:session_pool` (field sid -> the user JSON with
 *     last_seen_at) and atomic Lua updates of `<prefix>:usage_pool` (field model ->
 *     {"<sid>":{"updated_at":<s>},...}), plus two app_lock loops: the usage cleanup
 *     (`usage_cleanup_lock`, every 3 s: entries older than 3 s go, empty models go) and
 *     the session reaper (`session_cleanup_lock`, at acquisition and then every
 *     SESSION_POOL_TIMEOUT: entries whose last_seen_at is older than it go).
 * Writes are fire-and-forget: when Redis is down they fail at once (the outage is logged
 * once by the client), nothing is queued, and app_pool_resync writes every local entry
 * back when the connection returns (a restarted Redis is empty).
 *
 * Ownership: the app owns the pool. Strings are borrowed for each call.
 * Threading: loop thread only.
 */
#ifndef SIOC_APP_POOL_H
#define SIOC_APP_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/app_redis.h"

typedef struct app_pool app_pool_t;

/** Creates the pool: the redis backend when `r` has a websocket Redis, else local. */
app_pool_t *app_pool_new(app_t *app, app_redis_t *r);

/** Stops the cleanup loops (releasing their locks) and frees the pool. NULL-safe. */
void app_pool_free(app_pool_t *p);

/** True for the redis backend. */
bool app_pool_is_shared(const app_pool_t *p);

/** SESSION_POOL[sid] = the user (with its last_seen_at). */
void app_pool_session_put(app_pool_t *p, const char *sid, const app_user_t *u);
/** del SESSION_POOL[sid]. */
void app_pool_session_del(app_pool_t *p, const char *sid);
/** USAGE_POOL[model][sid] = {"updated_at": now_s}. `model` is `len` bytes. */
void app_pool_usage_touch(app_pool_t *p, const char *sid, const char *model, size_t len,
                          int64_t now_s);
/** Removes `sid` from every USAGE_POOL model (models left empty go). */
void app_pool_usage_drop(app_pool_t *p, const char *sid);

/** Writes every local session and usage entry back (after a reconnection). */
void app_pool_resync(app_pool_t *p);

#endif
