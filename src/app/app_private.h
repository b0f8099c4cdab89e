/*
 * app_private: what the app's own modules share (app layer, internal).
 *
 * The app context body, the per-socket record and the functions one app module calls in
 * another (`app__` infix, STYLE rule 2). app_ydoc.c does not include this header: it uses
 * app.h only.
 *
 * Ownership: the app owns every app_sock_t (created at CONNECT, freed by the disconnect
 * handler) and the user record inside it. Threading: loop thread only.
 */
#ifndef SIOC_APP_PRIVATE_H
#define SIOC_APP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/app_direct.h"
#include "app/app_pool.h"
#include "app/app_redis.h"
#include "app/app_usage.h"
#include "base/buf.h"

/** Longest id (user, channel, chat, note, message, model) the handlers accept. Open
 *  WebUI's ids are 36-byte UUIDs; model ids are free-form but short. */
#define APP_ID_MAX 256
/** Longest token read from a payload (app_jwt refuses longer ones anyway). */
#define APP_TOKEN_MAX 8192

typedef struct app_chan_emit app_chan_emit_t; /* app_emit.c: channel-mode throttles */

/** The app context. */
struct app {
    const app_config_t *cfg; /* borrowed from main */
    uv_loop_t loop;          /* the one loop (owned) */
    sioc_server_t *srv;      /* owned */
    sioc_nsp_t *nsp;         /* "/" */
    store_t *store;          /* owned; NULL once closed */
    void *ydoc;              /* app_ydoc_t *, NULL when the module is not built in */
    app_usage_t *usage;      /* USAGE_POOL (this node's sockets) */
    app_redis_t *redis;      /* Redis connections, NULL without Redis */
    app_pool_t *pool;        /* where the pools are shared (local or Redis) */
    app_direct_t *direct;    /* per-request events of direct connections (§3.10) */
    struct app_task_mirror *task_mirror; /* the task registry in Redis, NULL without */
    app_chan_emit_t *chan;   /* channel-mode emitter state */
    uv_timer_t tick;         /* 1 s housekeeping: usage sweep (3 s), throttle expiry */
    unsigned ticks;          /* tick count */
    uv_signal_t sigint, sigterm;
    uv_timer_t guard;      /* shutdown deadline */
    buf_t scratch;         /* reusable output buffer for emits (loop thread only) */
    int stopping;          /* 0 running, 1 draining, 2 handles closing */
    int exit_code;         /* what app_run returns */
    unsigned handles_open; /* own uv handles still to close */
    uint64_t log_count;    /* LOG_RATELIMITED counter for peer-caused warnings */
    size_t sockets;        /* live per-socket records */
    struct app_rest *rest; /* REST routes, chat generations, tasks (app_rest_core.c) */
};

/** A user record: the public view plus its strings, one allocation. */
typedef struct app_user_rec {
    app_user_t pub;
    char data[]; /* the strings pub points into */
} app_user_rec_t;

/** The per-socket record (sioc_socket_get_user of every socket of "/"). */
typedef struct app_sock {
    app_t *app;
    sioc_socket_t *s;
    app_user_rec_t *user;    /* NULL = anonymous */
    void *ydoc;              /* app_socket_ydoc_slot */
    app_usage_link_t *usage; /* this socket's USAGE_POOL entries */
    uint64_t last_typing_ms; /* typing rate limit */
    bool touch_inflight;     /* a heartbeat DB write is running */
    bool read_inflight;      /* a channel last_read_at write is running */
    char *read_pending;      /* channel id whose write waits for the running one */
} app_sock_t;

/** The record of a socket, or NULL (not yet connected / already gone). */
static inline app_sock_t *app__sock(const sioc_socket_t *s)
{
    return s ? (app_sock_t *)sioc_socket_get_user(s) : NULL;
}

/** Copies a store user into a new record (free with free()). */
app_user_rec_t *app__user_new(const store_user_t *u, int64_t now_s);

/** Milliseconds of the wall clock. */
uint64_t app__now_ms(void);
/** Seconds of the wall clock. */
int64_t app__now_s(void);

/* ---- app_auth.c ----------------------------------------------------------------- */

/**
 * Result of a token check: STORE_OK with the user (borrowed for the call), or a negative
 * code (bad token, unknown or pending user, database error) with `u` NULL.
 */
typedef void (*app_auth_cb)(app_t *app, int status, const store_user_t *u, void *arg);

/**
 * Checks a session JWT as Open WebUI's get_verified_user_by_token does: HS256 with the
 * configured key, `exp`, an `id` claim, then the user row, whose role must be "user" or
 * "admin". `cb` always runs later on the loop (never inside this call).
 */
void app__auth_token(app_t *app, const char *token, size_t len, app_auth_cb cb, void *arg);

/** Extracts payload.auth.token (user-join, join-channels, join-note) or, with `direct`,
 *  payload.token (the CONNECT auth). Returns the length or -1. */
long app__token_of(slice_t payload, bool direct, char *out, size_t cap);

/* ---- app_handlers.c ------------------------------------------------------------- */

/** Registers connect/disconnect and the client event handlers on app->nsp. */
void app__handlers_register(app_t *app);

/* ---- app_http.c ----------------------------------------------------------------- */

/** The HTTP hook for every request outside /ws/socket.io/. */
void app__http_on_request(sioc_http_req_t *req, void *arg);
/** Engine.IO request filter: Open WebUI's 400 for a websocket request without upgrade
 *  headers (spec §1.1). */
bool app__http_guard_engine(sioc_http_req_t *req, void *arg);

/* ---- app_emit.c ----------------------------------------------------------------- */

/** Creates the emitters' state (channel-mode throttles, per-chat write queues). */
app_chan_emit_t *app__chan_emit_new(app_t *app);
/** Frees it, with whatever is still queued. NULL-safe. */
void app__chan_emit_free(app_chan_emit_t *c);
/** Drops throttle entries idle for longer than a minute. */
void app__chan_emit_sweep(app_chan_emit_t *c, uint64_t now_ms);

#endif
