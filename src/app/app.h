/*
 * app: the Open WebUI real-time application's shared context (app layer).
 *
 * One app_t runs one `sioc` server process: the Socket.IO server at `/ws/socket.io/` (built
 * on include/sioc.h only), the asynchronous store (src/store), the configuration (Open
 * WebUI's environment variables, openwebui-protocol.md §1.2, plus command-line flags), the
 * session pool (which user each socket authenticated as, §2.1, §5.1) and the usage pool
 * (§3.1, §5.3). The modules of src/app register their handlers on the namespace "/" and
 * reach the shared state through the accessors below:
 *   - app_handlers.c  connect/disconnect, user-join, heartbeat, join-*, events:*, usage;
 *   - app_auth.c      the token check (app_jwt + the user row);
 *   - app_emit.h      the chat and channel-mode emitters and the event call (§7);
 *   - app_http.c      the REST side: /api/v1/socket/{emit,chat/event,call}, /api/usage;
 *   - app_usage.h     USAGE_POOL; app_config.h the settings; app_json.h payload lookups;
 *   - app_ydoc.c      the Yjs collaboration handlers (owned by the app-ydoc engineer),
 *                     hooked in through app_ydoc.h (see .team/app-api.md).
 *
 * Sessions: every socket of the namespace gets an app-owned per-socket record at connect
 * (stored in sioc_socket_set_user: no other module may call sioc_socket_set_user). A socket
 * is "authenticated" ("auth'd" in the spec) while it has a user, i.e. app_socket_user()
 * returns non-NULL; a bad token leaves it anonymous, and `user-join` may authenticate it
 * later or switch it to another user. Handlers must therefore look the user up on every
 * event and never keep the pointer across an asynchronous call: copy the id you need.
 *
 * Ownership: the app owns the server, the store, the pools and every per-socket record.
 * Pointers returned by the accessors are borrowed: app_server/app_nsp/app_store/app_loop/
 * app_config live as long as the app; an app_user_t lives until the socket's next event
 * or its disconnect (see app_socket_user).
 *
 * Threading: everything runs on the loop thread (the store's callbacks too); no function
 * here may be called from another thread.
 *
 * Spec: openwebui-protocol.md §1 (configuration), §2 (authentication, rooms), §3 (handlers),
 * §5.3 (usage pool), §7 (emitters).
 */
#ifndef SIOC_APP_H
#define SIOC_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app_config.h"
#include "sioc.h"
#include "store/store.h"

typedef struct app app_t;

/**
 * The user a socket is authenticated as (its SESSION_POOL entry, §2.1). All strings are
 * NUL-terminated and owned by the app.
 */
typedef struct app_user {
    const char *id;           /* user.id */
    const char *name;         /* user.name */
    const char *email;        /* user.email */
    const char *role;         /* "admin" or "user" (pending users never authenticate) */
    bool is_admin;            /* role == "admin" */
    int64_t last_seen_at;     /* epoch seconds of connect / user-join / heartbeat */
    const char *session_json; /* the pool value without last_seen_at (store_user_t's) */
} app_user_t;

/* ---------------------------------------------------------------------------------- */
/* Accessors (all borrowed, valid for the app's lifetime)                              */

/** The Socket.IO server. */
sioc_server_t *app_server(app_t *app);
/** The namespace "/" every handler is registered on. */
sioc_nsp_t *app_nsp(app_t *app);
/** The store (asynchronous; callbacks on the loop thread). */
store_t *app_store(app_t *app);
/** The loop everything runs on. */
uv_loop_t *app_loop(app_t *app);
/** The configuration. */
const app_config_t *app_config(const app_t *app);
/** The Redis connections (app_redis.h), NULL when no Redis is configured. */
struct app_redis *app_redis_of(app_t *app);
/** The per-request event registry of direct connections (app_direct.h, spec §3.10). */
struct app_direct *app_direct_of(app_t *app);

/* ---------------------------------------------------------------------------------- */
/* Sessions                                                                           */

/**
 * The user `s` is authenticated as, or NULL for an anonymous socket (no or bad token,
 * unknown or pending user) and for a socket that has disconnected. The pointer is valid
 * during the current callback only: a later `user-join` may replace it and the disconnect
 * frees it. Copy what you need across asynchronous work.
 */
const app_user_t *app_socket_user(const sioc_socket_t *s);

/**
 * A pointer-sized slot in the socket's record reserved for the Yjs module (its per-socket
 * list of joined documents). NULL at connect; the app never reads or frees it. Returns
 * NULL when the socket has no record (not connected through the app). app_ydoc must have
 * released what it stored by the end of app_ydoc_on_disconnect.
 */
void **app_socket_ydoc_slot(sioc_socket_t *s);

/**
 * The connected socket whose id is `sid` (the Socket.IO sid the browser sees as
 * socket.id), or NULL. Borrowed for the current callback.
 */
sioc_socket_t *app_socket_by_sid(app_t *app, const char *sid);

/** The app of a socket served by it, or NULL (not connected through the app). */
app_t *app_of_socket(const sioc_socket_t *s);

/* ---------------------------------------------------------------------------------- */
/* Lifecycle (src/main.c)                                                             */

/**
 * Creates the app on a loop of its own: opens the store (synchronously: schema creation
 * happens here), creates the Socket.IO server at /ws/socket.io/ with the configured
 * transports, registers every handler (including the Yjs module's) and installs the
 * SIGINT/SIGTERM handlers. Nothing listens yet. `cfg` is borrowed for the app's lifetime.
 * Returns 0 and `*out`, or -1 with a one-line reason in `err`.
 */
int app_new(const app_config_t *cfg, app_t **out, char *err, size_t errlen);

/** Binds and listens. Returns the bound port (> 0), or -1 with a reason in `err`. */
int app_listen(app_t *app, char *err, size_t errlen);

/**
 * Runs the loop until a signal (or app_stop) has stopped the server, flushed the Yjs
 * module's pending note saves and drained and closed the store. Returns the process exit
 * status: 0 after a clean stop.
 */
int app_run(app_t *app);

/** Starts the graceful stop (what SIGTERM does). Safe inside any callback. */
void app_stop(app_t *app);

/** Frees a stopped app (after app_run returned). NULL-safe. */
void app_free(app_t *app);

#endif
