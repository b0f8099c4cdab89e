/*
 * app_direct: dynamic per-request events for direct connections (app layer;
 * openwebui-protocol.md §3.10).
 *
 * For a "direct connection" model Open WebUI asks the browser to call the upstream
 * itself (request:chat:completion through an event call) and registers, for the time of
 * that request, a handler for an event literally named
 * `{user_id}:{session_id}:{request_id}`: the browser emits the raw SSE lines (strings)
 * on it and finally {"done": true}. sioc has no per-request handler registration; one
 * catch-all (sioc_on_any) routes such events to the request registered under that exact
 * name, and only when the sending socket is authenticated as the request's user: a
 * socket of another user (or an anonymous one) cannot feed someone else's stream, which
 * the upstream fix attempts also require. Events for no registered request are dropped
 * without an ack, as python-socketio does for an event without a handler; a delivered
 * event is acked empty when the client asked for an ack.
 *
 * Across nodes (WEBSOCKET_MANAGER=redis): the browser's socket may live on another node
 * than the request. An event whose name is not registered here, sent by a socket
 * authenticated as the user the name starts with, is published on the Redis channel
 * `<prefix>:direct:events` as {"event": <name>, "data": <argument 0>} (and acked); every
 * node subscribes to that channel and delivers a message whose name it has registered.
 * The user binding is checked by the node the socket is on.
 *
 * The internal API is for issue 6's direct-connection chat: register a request when it
 * starts, unregister it when its HTTP stream ends (after which nothing is delivered).
 *
 * Ownership: the app owns the registry (app_direct_new .. app_direct_free); a request
 * belongs to its registrant until app_direct_unregister. Names are copied.
 * Threading: loop thread only.
 */
#ifndef SIOC_APP_DIRECT_H
#define SIOC_APP_DIRECT_H

#include <stddef.h>

#include "app/app.h"
#include "sioc.h"

/** Most requests registered at once (a registration past it fails). */
#define APP_DIRECT_MAX 4096

typedef struct app_direct app_direct_t;
typedef struct app_direct_req app_direct_req_t;

/**
 * One event for a request: `data` is the raw JSON of its first argument (borrowed for the
 * call: an SSE line as a JSON string, or {"done":true} at the end), `s` the sender (its
 * user is the request's), or NULL when the event was relayed from another node. The
 * callback may unregister the request.
 */
typedef void (*app_direct_event_cb)(app_direct_req_t *req, sioc_socket_t *s, sioc_str_t data,
                                    void *arg);

/** Creates the registry and installs its catch-all on app_nsp(app); with a websocket
 *  Redis (app_redis_of(app)) it also subscribes to the relay channel. */
app_direct_t *app_direct_new(app_t *app);

/** Frees the registry and every request still registered (their registrants must not
 *  use them afterwards: end them first). Call before the Redis connections close, once
 *  no event can arrive any more. NULL-safe. */
void app_direct_free(app_direct_t *d);

/**
 * Registers the request `{user_id}:{session_id}:{request_id}`. Returns it, or NULL when
 * a part is empty, the name is taken or the registry is full.
 */
app_direct_req_t *app_direct_register(app_direct_t *d, const char *user_id, const char *session_id,
                                      const char *request_id, app_direct_event_cb cb, void *arg);

/** Removes a request; no event reaches it afterwards. NULL-safe. */
void app_direct_unregister(app_direct_req_t *req);

/** The event name of a request (NUL-terminated, owned by the request). */
const char *app_direct_name(const app_direct_req_t *req);

/** Number of registered requests. */
size_t app_direct_count(const app_direct_t *d);

#endif
