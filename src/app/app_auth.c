/*
 * app_auth: the socket layer's token check (openwebui-protocol.md §2.1, [latest]
 * get_verified_user_by_token): HS256 JWT with the algorithm pinned (app_jwt), then the
 * user row on the store's thread pool, then the role gate (pending users are refused).
 * With a Redis for it (REDIS_URL, or the websocket Redis), the revocation markers are read
 * between the JWT and the user row (app_redis_check_revoked); a revoked token is a bad
 * token: the socket stays anonymous.
 *
 * Every failure looks the same to the caller, and to the client: an anonymous socket.
 * Nothing is logged with the token or the user id of a refused token above DEBUG, so the
 * log does not tell an attacker-controlled observer whether a user exists either.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app_json.h"
#include "app/app_jwt.h"
#include "app/app_private.h"
#include "base/alloc.h"
#include "base/log.h"

typedef struct auth_op {
    app_t *app;
    app_auth_cb cb;
    void *arg;
    char id[APP_JWT_MAX_ID + 1]; /* the token's user id */
} auth_op_t;

uint64_t app__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t app__now_s(void)
{
    return (int64_t)time(NULL);
}

static double now_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long app__token_of(slice_t payload, bool direct, char *out, size_t cap)
{
    json_value_t auth;
    if (direct) {
        auth.type = JSON_OBJECT;
        auth.raw = payload;
    } else if (!app_json_get(payload, "auth", &auth) || auth.type != JSON_OBJECT) {
        return -1;
    }
    json_value_t tok;
    if (!app_json_get(auth.raw, "token", &tok))
        return -1;
    return app_json_str(tok, out, cap);
}

static void on_user(int status, const store_user_t *u, void *arg)
{
    auth_op_t *op = arg;
    if (status == STORE_OK &&
        !(u->role && (strcmp(u->role, "user") == 0 || strcmp(u->role, "admin") == 0)))
        status = STORE_EACCES;
    if (status != STORE_OK && status != STORE_ENOTFOUND && status != STORE_EACCES &&
        status != STORE_ECANCELED)
        LOG(LOG_WARN, "auth: user lookup failed: %s", store_strerror(status));
    op->cb(op->app, status, status == STORE_OK ? u : NULL, op->arg);
    free(op);
}

static void on_revocation(app_t *app, bool revoked, void *arg)
{
    auth_op_t *op = arg;
    (void)app;
    if (revoked || !op->app->store || op->app->stopping) {
        LOG(LOG_DEBUG, "auth: token refused: %s", revoked ? "revoked" : "stopping");
        op->cb(op->app, revoked ? STORE_EACCES : STORE_ECANCELED, NULL, op->arg);
        free(op);
        return;
    }
    store_user_get(op->app->store, op->id, on_user, op);
}

void app__auth_token(app_t *app, const char *token, size_t len, app_auth_cb cb, void *arg)
{
    const char *key = app->cfg->secret_key;
    app_jwt_claims_t claims;
    int rc = app_jwt_verify(key, key ? strlen(key) : 0, token, len, now_f(), &claims);
    if (rc != APP_JWT_OK) {
        LOG(LOG_DEBUG, "auth: token refused: %s", app_jwt_strerror(rc));
        cb(app, STORE_EACCES, NULL, arg);
        return;
    }
    if (!app->store || app->stopping) {
        cb(app, STORE_ECANCELED, NULL, arg);
        return;
    }
    auth_op_t *op = xmalloc(sizeof *op);
    op->app = app;
    op->cb = cb;
    op->arg = arg;
    memcpy(op->id, claims.id, sizeof op->id);
    if (!app->redis) {
        on_revocation(app, false, op);
        return;
    }
    app_redis_check_revoked(app->redis, claims.jti, claims.id, claims.has_iat, claims.iat,
                            on_revocation, op);
}

app_user_rec_t *app__user_new(const store_user_t *u, int64_t now_s)
{
    const char *f[5] = {u->id, u->name ? u->name : "", u->email ? u->email : "",
                        u->role ? u->role : "", u->session_json ? u->session_json : "{}"};
    size_t lens[5], total = 0;
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(f[i]);
        total += lens[i] + 1;
    }
    app_user_rec_t *r = xmalloc(sizeof *r + total);
    char *p = r->data;
    const char **dst[5] = {&r->pub.id, &r->pub.name, &r->pub.email, &r->pub.role,
                           &r->pub.session_json};
    for (int i = 0; i < 5; i++) {
        memcpy(p, f[i], lens[i] + 1);
        *dst[i] = p;
        p += lens[i] + 1;
    }
    r->pub.is_admin = strcmp(r->pub.role, "admin") == 0;
    r->pub.last_seen_at = now_s;
    return r;
}
