/*
 * app_redis: the program's Redis connections, key names and the revocation check. See
 * app_redis.h.
 */
#include "app/app_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

/* Most channels the program subscribes to. */
#define MAX_SUBS 8

typedef struct sub {
    char *channel; /* NULL = free slot */
    app_redis_message_cb cb;
    void *arg;
} sub_t;

struct app_redis {
    app_t *app;
    sioc_redis_t *ws;  /* WEBSOCKET_REDIS_URL, NULL unless WEBSOCKET_MANAGER=redis */
    sioc_redis_t *rev; /* revocation: REDIS_URL's client, or `ws` (not owned twice) */
    bool rev_owned;    /* rev is a client of its own */
    app_redis_up_cb on_up;
    const char *prefix;
    uint64_t log_n;
    sub_t subs[MAX_SUBS];
};

typedef struct rev_op {
    app_redis_t *r;
    app_redis_revoked_cb cb;
    void *arg;
    bool has_jti, has_iat;
    long long iat;
} rev_op_t;

static void on_ws_state(sioc_redis_t *c, bool up, void *arg)
{
    (void)c;
    app_redis_t *r = arg;
    if (up && r->on_up)
        r->on_up(r->app);
}

static void on_forget(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg);

static void on_ws_message(sioc_redis_t *c, sioc_str_t pattern, sioc_str_t channel,
                          sioc_str_t payload, void *arg)
{
    (void)c, (void)pattern;
    app_redis_t *r = arg;
    for (size_t i = 0; i < MAX_SUBS; i++) {
        sub_t *s = &r->subs[i];
        if (s->channel && strlen(s->channel) == channel.len &&
            memcmp(s->channel, channel.ptr, channel.len) == 0) {
            s->cb(r->app, channel, payload, s->arg);
            return;
        }
    }
}

static sioc_redis_t *open_client(app_t *app, const char *name, const char *url,
                                 const char *sentinels, int port, app_redis_t *r, bool watch,
                                 char *err, size_t errlen)
{
    sioc_redis_options_t o = {
        .url = url,
        .sentinel_hosts = sentinels,
        .sentinel_port = port,
        .name = name,
        .connect_timeout_ms = 2000,
        .command_timeout_ms = 5000,
        .on_state = watch ? on_ws_state : NULL,
        .on_message = watch ? on_ws_message : NULL,
        .arg = r,
    };
    return sioc_redis_new(app_server(app), &o, err, errlen);
}

int app_redis_new(app_t *app, app_redis_up_cb on_up, app_redis_t **out, char *err, size_t errlen)
{
    const app_config_t *c = app_config(app);
    bool manager = c->websocket_manager && strcmp(c->websocket_manager, "redis") == 0;
    bool app_url = c->redis_url && *c->redis_url;
    *out = NULL;
    if (!manager && !app_url)
        return 0;
    app_redis_t *r = xcalloc(1, sizeof *r);
    r->app = app;
    r->on_up = on_up;
    r->prefix = c->redis_key_prefix ? c->redis_key_prefix : "open-webui";
    if (manager) {
        if (!c->websocket_redis_url || !*c->websocket_redis_url) {
            snprintf(err, errlen, "WEBSOCKET_MANAGER=redis needs WEBSOCKET_REDIS_URL or REDIS_URL");
            goto fail;
        }
        r->ws = open_client(app, "websocket", c->websocket_redis_url, c->websocket_sentinel_hosts,
                            (int)c->websocket_sentinel_port, r, true, err, errlen);
        if (!r->ws)
            goto fail;
    }
    if (app_url && (!manager || strcmp(c->redis_url, c->websocket_redis_url) != 0 ||
                    strcmp(c->redis_sentinel_hosts ? c->redis_sentinel_hosts : "",
                           c->websocket_sentinel_hosts ? c->websocket_sentinel_hosts : "") != 0)) {
        r->rev = open_client(app, "app", c->redis_url, c->redis_sentinel_hosts,
                             (int)c->redis_sentinel_port, r, false, err, errlen);
        if (!r->rev)
            goto fail;
        r->rev_owned = true;
    } else {
        r->rev = r->ws;
    }
    *out = r;
    return 0;
fail:
    sioc_redis_close(r->ws);
    free(r);
    return -1;
}

void app_redis_close(app_redis_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < MAX_SUBS; i++)
        free(r->subs[i].channel);
    if (r->rev_owned)
        sioc_redis_close(r->rev);
    sioc_redis_close(r->ws);
    free(r);
}

int app_redis_subscribe(app_redis_t *r, const char *channel, app_redis_message_cb cb, void *arg)
{
    if (!r || !r->ws)
        return SIOC_REDIS_ECLOSED;
    sub_t *slot = NULL;
    for (size_t i = 0; i < MAX_SUBS; i++) {
        sub_t *s = &r->subs[i];
        if (s->channel && strcmp(s->channel, channel) == 0) {
            slot = s;
            break;
        }
        if (!s->channel && !slot)
            slot = s;
    }
    if (!slot || !cb)
        return SIOC_REDIS_EARG;
    int rc = sioc_redis_subscribe(r->ws, app_redis_str(channel));
    if (rc != 0)
        return rc;
    if (!slot->channel)
        slot->channel = xstrndup(channel, strlen(channel));
    slot->cb = cb;
    slot->arg = arg;
    return 0;
}

int app_redis_publish(app_redis_t *r, const char *channel, sioc_str_t payload)
{
    if (!r || !r->ws)
        return SIOC_REDIS_ECLOSED;
    return sioc_redis_publish(r->ws, app_redis_str(channel), payload, on_forget, r);
}

void app_redis_unsubscribe(app_redis_t *r, const char *channel)
{
    for (size_t i = 0; r && i < MAX_SUBS; i++) {
        sub_t *s = &r->subs[i];
        if (s->channel && strcmp(s->channel, channel) == 0) {
            sioc_redis_unsubscribe(r->ws, app_redis_str(channel));
            free(s->channel);
            s->channel = NULL;
        }
    }
}

sioc_redis_t *app_redis_ws(const app_redis_t *r)
{
    return r ? r->ws : NULL;
}

void app_redis_key(const app_redis_t *r, buf_t *dst, const char *suffix)
{
    buf_clear(dst);
    buf_append_cstr(dst, r->prefix);
    buf_append_byte(dst, ':');
    buf_append_cstr(dst, suffix);
}

sioc_str_t app_redis_str_buf(const buf_t *b)
{
    sioc_str_t s = {(const char *)buf_data(b), b->len};
    return s;
}

sioc_str_t app_redis_str(const char *s)
{
    sioc_str_t r = {s, strlen(s)};
    return r;
}

static void on_forget(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    app_redis_t *r = arg;
    if (status == SIOC_REDIS_EREPLY) {
        sioc_str_t e = sioc_redis_reply_str(rep);
        LOG_RATELIMITED(LOG_WARN, r->log_n, 100, "redis: %.*s", (int)(e.len > 200 ? 200 : e.len),
                        e.ptr);
    }
}

int app_redis_cmd(app_redis_t *r, sioc_redis_reply_cb cb, void *arg, int argc,
                  const sioc_str_t *argv)
{
    if (!r || !r->ws)
        return SIOC_REDIS_ECLOSED;
    return sioc_redis_command(r->ws, cb ? cb : on_forget, cb ? arg : r, argc, argv);
}

/* ---- revocation -------------------------------------------------------------------- */

static bool parse_ll(sioc_str_t s, long long *out)
{
    char tmp[32];
    if (s.len == 0 || s.len >= sizeof tmp)
        return false;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *end;
    double v = strtod(tmp, &end); /* Python int(float-ish) tolerance: "1700000000.5" */
    if (*end != '\0')
        return false;
    *out = (long long)v;
    return true;
}

static void on_revocation(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    rev_op_t *op = arg;
    bool revoked = true;
    if (status == 0 && sioc_redis_reply_type(rep) == SIOC_REDIS_ARRAY) {
        size_t i = 0;
        revoked = false;
        if (op->has_jti && sioc_redis_reply_type(sioc_redis_reply_at(rep, i++)) != SIOC_REDIS_NIL)
            revoked = true;
        const sioc_redis_reply_t *at = sioc_redis_reply_at(rep, i);
        long long when;
        if (at && sioc_redis_reply_type(at) == SIOC_REDIS_STRING) {
            if (!op->has_iat || !parse_ll(sioc_redis_reply_str(at), &when) || op->iat <= when)
                revoked = true;
        }
    } else {
        LOG_RATELIMITED(LOG_WARN, op->r->log_n, 100,
                        "auth: revocation check failed (%s): token refused",
                        sioc_redis_strerror(status));
    }
    op->cb(op->r->app, revoked, op->arg);
    free(op);
}

void app_redis_check_revoked(app_redis_t *r, const char *jti, const char *user_id, bool has_iat,
                             long long iat, app_redis_revoked_cb cb, void *arg)
{
    if (!r || !r->rev) {
        cb(r ? r->app : NULL, false, arg);
        return;
    }
    buf_t k1 = BUF_INIT, k2 = BUF_INIT;
    sioc_str_t argv[3];
    int argc = 0;
    argv[argc++] = app_redis_str("MGET");
    bool has_jti = jti && *jti;
    if (has_jti) {
        app_redis_key(r, &k1, "auth:token:");
        buf_append_cstr(&k1, jti);
        buf_append_cstr(&k1, ":revoked");
        argv[argc++] = app_redis_str_buf(&k1);
    }
    app_redis_key(r, &k2, "auth:user:");
    buf_append_cstr(&k2, user_id);
    buf_append_cstr(&k2, ":revoked_at");
    argv[argc++] = app_redis_str_buf(&k2);
    rev_op_t *op = xmalloc(sizeof *op);
    *op = (rev_op_t){r, cb, arg, has_jti, has_iat, iat};
    int rc = sioc_redis_command(r->rev, on_revocation, op, argc, argv);
    buf_dispose(&k1);
    buf_dispose(&k2);
    if (rc != 0)
        on_revocation(NULL, rc, NULL, op);
}
