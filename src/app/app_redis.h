/*
 * app_redis: the program's Redis connections and key names (app layer).
 *
 * With WEBSOCKET_MANAGER=redis the socket layer's shared state (session and usage pools,
 * cleanup locks, Yjs documents) lives in the Redis of WEBSOCKET_REDIS_URL (with
 * WEBSOCKET_SENTINEL_HOSTS/PORT), under Open WebUI's key names: `<REDIS_KEY_PREFIX>:...`
 * (openwebui-protocol.md §5.1). Token revocation markers are read from the application
 * Redis, REDIS_URL (with REDIS_SENTINEL_HOSTS/PORT), or the websocket one when REDIS_URL
 * is empty, as Open WebUI's connect handler does (§2.1 step 2).
 *
 * Everything is asynchronous (sioc_redis.h). When Redis is down commands fail at once;
 * the callers keep their local state authoritative and write it back when the
 * connection returns (app_redis_on_up, called on every reconnection).
 *
 * Ownership: the app owns the module (app_redis_new .. app_redis_close). Keys written
 * by app_redis_key are the caller's buffer. Threading: loop thread only.
 */
#ifndef SIOC_APP_REDIS_H
#define SIOC_APP_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "app/app.h"
#include "base/buf.h"
#include "base/slice.h"
#include "sioc_redis.h"

typedef struct app_redis app_redis_t;

/** Called when the websocket Redis connection is (again) ready. */
typedef void (*app_redis_up_cb)(app_t *app);

/**
 * Opens the connections the configuration asks for: the websocket Redis when
 * WEBSOCKET_MANAGER is "redis", the application Redis when REDIS_URL is set. Returns 0
 * with `*out` (NULL when neither is configured), or -1 with a reason in `err` (a bad URL).
 * `on_up` runs each time the websocket connection becomes ready.
 */
int app_redis_new(app_t *app, app_redis_up_cb on_up, app_redis_t **out, char *err, size_t errlen);

/** Closes both connections (pending commands fail with SIOC_REDIS_ECLOSED). NULL-safe. */
void app_redis_close(app_redis_t *r);

/** The websocket Redis (pools, locks, documents), or NULL when not in Redis mode. */
sioc_redis_t *app_redis_ws(const app_redis_t *r);

/** Starts `dst` (cleared) with "<prefix>:" followed by `suffix`. */
void app_redis_key(const app_redis_t *r, buf_t *dst, const char *suffix);

/**
 * Runs a command on the websocket Redis; a failure to send is returned (and `cb`, which
 * may be NULL, does not run). A NULL `cb` means fire and forget: errors are logged at a
 * limited rate.
 */
int app_redis_cmd(app_redis_t *r, sioc_redis_reply_cb cb, void *arg, int argc,
                  const sioc_str_t *argv);

/** A pub/sub message of the websocket Redis (borrowed for the call). */
typedef void (*app_redis_message_cb)(app_t *app, sioc_str_t channel, sioc_str_t payload, void *arg);

/**
 * SUBSCRIBEs the websocket Redis to `channel` (kept across reconnections); its messages
 * go to `cb`. One subscriber per channel; a second one replaces the first. Returns 0 or
 * a SIOC_REDIS_E* code (no websocket Redis: SIOC_REDIS_ECLOSED).
 */
int app_redis_subscribe(app_redis_t *r, const char *channel, app_redis_message_cb cb, void *arg);

/** PUBLISHes `payload` on `channel` of the websocket Redis (fire and forget). Returns 0
 *  or a SIOC_REDIS_E* code (no websocket Redis: SIOC_REDIS_ECLOSED). */
int app_redis_publish(app_redis_t *r, const char *channel, sioc_str_t payload);

/** Forgets a subscription of app_redis_subscribe. NULL-safe. */
void app_redis_unsubscribe(app_redis_t *r, const char *channel);

/** A sioc_str_t of a buffer's bytes. */
sioc_str_t app_redis_str_buf(const buf_t *b);
/** A sioc_str_t of a NUL-terminated string. */
sioc_str_t app_redis_str(const char *s);

/**
 * Token revocation (openwebui-protocol.md §2.1 step 4): `cb(app, revoked, arg)` with
 * `revoked` true when `<prefix>:auth:token:<jti>:revoked` exists, or when
 * `<prefix>:auth:user:<uid>:revoked_at` exists and the token has no iat or iat <= it.
 * Without a Redis for revocation `cb` runs at once with false. When that Redis cannot
 * answer, the token counts as revoked (Open WebUI's check raises then, and the socket
 * stays anonymous). `cb` runs exactly once, maybe before this returns.
 */
typedef void (*app_redis_revoked_cb)(app_t *app, bool revoked, void *arg);
void app_redis_check_revoked(app_redis_t *r, const char *jti, const char *user_id, bool has_iat,
                             long long iat, app_redis_revoked_cb cb, void *arg);

#endif
