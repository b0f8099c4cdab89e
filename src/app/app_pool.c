/*
 * app_pool: the shared SESSION_POOL / USAGE_POOL backends. See app_pool.h.
 *
 * The usage pool's values are JSON objects updated by several nodes at once, so every
 * change is one Lua script (a read-modify-write in Redis itself, where Open WebUI's
 * RedisDict does HGET then HSET from Python and can lose a concurrent update). The
 * scripts use Redis' cjson, which writes compact JSON as Open WebUI's [latest] orjson
 * does; Python's json.dumps spacing of [0.10.2] values is read fine.
 */
#include "app/app_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_lock.h"
#include "app/app_private.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"

/** USAGE_POOL sweep period and entry lifetime (TIMEOUT_DURATION, §5.3), seconds. */
#define USAGE_TIMEOUT_S 3

/* USAGE_POOL[model][sid] = {updated_at}: KEYS[1] pool, ARGV model, sid, now. */
static const char LUA_USAGE_TOUCH[] =
    "local t = {} local v = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if v then local ok, d = pcall(cjson.decode, v) "
    "if ok and type(d) == 'table' then t = d end end "
    "t[ARGV[2]] = {updated_at = tonumber(ARGV[3])} "
    "redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(t)) return 1";

/* Removes ARGV[1] (a sid) from every model. */
static const char LUA_USAGE_DROP[] =
    "local all = redis.call('HGETALL', KEYS[1]) local n = 0 "
    "for i = 1, #all, 2 do local ok, d = pcall(cjson.decode, all[i + 1]) "
    "if ok and type(d) == 'table' and d[ARGV[1]] ~= nil then d[ARGV[1]] = nil n = n + 1 "
    "if next(d) == nil then redis.call('HDEL', KEYS[1], all[i]) "
    "else redis.call('HSET', KEYS[1], all[i], cjson.encode(d)) end end end return n";

/* Drops entries with now - updated_at > timeout (ARGV now, timeout); empty models go;
 * unchanged models are not written. Returns the entries removed. */
static const char LUA_USAGE_SWEEP[] =
    "local all = redis.call('HGETALL', KEYS[1]) local n = 0 "
    "local now, tmo = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "for i = 1, #all, 2 do local ok, d = pcall(cjson.decode, all[i + 1]) "
    "if ok and type(d) == 'table' then local ch = false "
    "for sid, e in pairs(d) do local u = type(e) == 'table' and tonumber(e.updated_at) or nil "
    "if u == nil or now - u > tmo then d[sid] = nil ch = true n = n + 1 end end "
    "if next(d) == nil then redis.call('HDEL', KEYS[1], all[i]) "
    "elseif ch then redis.call('HSET', KEYS[1], all[i], cjson.encode(d)) end end end "
    "return n";

/* The session reaper: drops entries whose last_seen_at is older than the timeout (an
 * entry without one counts as 0), in HDEL batches of 500. Returns how many went. */
static const char LUA_SESSION_REAP[] =
    "local all = redis.call('HGETALL', KEYS[1]) local gone = {} local n = 0 "
    "local now, tmo = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "for i = 1, #all, 2 do local ok, d = pcall(cjson.decode, all[i + 1]) "
    "local ls = ok and type(d) == 'table' and tonumber(d.last_seen_at) or 0 "
    "if now - ls > tmo then gone[#gone + 1] = all[i] "
    "if #gone == 500 then redis.call('HDEL', KEYS[1], unpack(gone)) n = n + #gone gone = {} "
    "end end end "
    "if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) n = n + #gone end return n";

typedef struct pool_ops {
    void (*session_put)(app_pool_t *p, const char *sid, const app_user_t *u);
    void (*session_del)(app_pool_t *p, const char *sid);
    void (*usage_touch)(app_pool_t *p, const char *sid, const char *model, size_t len,
                        int64_t now_s);
    void (*usage_drop)(app_pool_t *p, const char *sid);
} pool_ops_t;

struct app_pool {
    const pool_ops_t *ops;
    app_t *app;
    app_redis_t *r;
    buf_t session_key; /* <prefix>:session_pool */
    buf_t usage_key;   /* <prefix>:usage_pool */
    buf_t val;         /* scratch value */
    app_lock_t *usage_lock, *session_lock;
    uint64_t log_n;
};

/* ---- local backend: nothing to share ----------------------------------------------- */

static void local_session_put(app_pool_t *p, const char *sid, const app_user_t *u)
{
    (void)p, (void)sid, (void)u;
}

static void local_session_del(app_pool_t *p, const char *sid)
{
    (void)p, (void)sid;
}

static void local_usage_touch(app_pool_t *p, const char *sid, const char *model, size_t len,
                              int64_t now_s)
{
    (void)p, (void)sid, (void)model, (void)len, (void)now_s;
}

static void local_usage_drop(app_pool_t *p, const char *sid)
{
    (void)p, (void)sid;
}

static const pool_ops_t LOCAL_OPS = {local_session_put, local_session_del, local_usage_touch,
                                     local_usage_drop};

/* ---- redis backend ----------------------------------------------------------------- */

static void redis_session_put(app_pool_t *p, const char *sid, const app_user_t *u)
{
    buf_t *v = &p->val;
    const char *js = u->session_json && *u->session_json ? u->session_json : "{}";
    size_t n = strlen(js);
    while (n > 0 && js[n - 1] != '}')
        n--;
    buf_clear(v);
    if (n < 2) {
        buf_append_cstr(v, "{");
    } else {
        buf_append(v, js, n - 1);
        size_t i = n - 1;
        while (i > 0 && (js[i - 1] == ' ' || js[i - 1] == '\n'))
            i--;
        if (i > 0 && js[i - 1] != '{')
            buf_append_byte(v, ',');
    }
    buf_append_cstr(v, "\"last_seen_at\":");
    json_append_i64(v, u->last_seen_at);
    buf_append_byte(v, '}');
    sioc_str_t argv[4] = {app_redis_str("HSET"), app_redis_str_buf(&p->session_key),
                          app_redis_str(sid), app_redis_str_buf(v)};
    app_redis_cmd(p->r, NULL, NULL, 4, argv);
}

static void redis_session_del(app_pool_t *p, const char *sid)
{
    sioc_str_t argv[3] = {app_redis_str("HDEL"), app_redis_str_buf(&p->session_key),
                          app_redis_str(sid)};
    app_redis_cmd(p->r, NULL, NULL, 3, argv);
}

static void redis_usage_touch(app_pool_t *p, const char *sid, const char *model, size_t len,
                              int64_t now_s)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    sioc_str_t m = {model, len};
    sioc_str_t argv[7] = {app_redis_str("EVAL"),
                          app_redis_str(LUA_USAGE_TOUCH),
                          app_redis_str("1"),
                          app_redis_str_buf(&p->usage_key),
                          m,
                          app_redis_str(sid),
                          app_redis_str(now)};
    app_redis_cmd(p->r, NULL, NULL, 7, argv);
}

static void redis_usage_drop(app_pool_t *p, const char *sid)
{
    sioc_str_t argv[5] = {app_redis_str("EVAL"), app_redis_str(LUA_USAGE_DROP), app_redis_str("1"),
                          app_redis_str_buf(&p->usage_key), app_redis_str(sid)};
    app_redis_cmd(p->r, NULL, NULL, 5, argv);
}

static const pool_ops_t REDIS_OPS = {redis_session_put, redis_session_del, redis_usage_touch,
                                     redis_usage_drop};

/* ---- cleanup loops (lock holder only) ---------------------------------------------- */

static void on_swept(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    const char *what = arg;
    if (status == 0 && sioc_redis_reply_type(rep) == SIOC_REDIS_INTEGER &&
        sioc_redis_reply_int(rep) > 0)
        LOG(LOG_DEBUG, "%s: %lld entries removed", what, sioc_redis_reply_int(rep));
    else if (status != 0 && status != SIOC_REDIS_ECLOSED)
        LOG(LOG_DEBUG, "%s: %s", what, sioc_redis_strerror(status));
}

static void run_script(app_pool_t *p, const char *lua, const buf_t *key, int64_t timeout_s,
                       const char *what)
{
    char now[24], tmo[24];
    snprintf(now, sizeof now, "%lld", (long long)app__now_s());
    snprintf(tmo, sizeof tmo, "%lld", (long long)timeout_s);
    sioc_str_t argv[6] = {app_redis_str("EVAL"),  app_redis_str(lua), app_redis_str("1"),
                          app_redis_str_buf(key), app_redis_str(now), app_redis_str(tmo)};
    app_redis_cmd(p->r, on_swept, (void *)what, 6, argv);
}

static void usage_cleanup(app_t *app, void *arg)
{
    (void)app;
    app_pool_t *p = arg;
    run_script(p, LUA_USAGE_SWEEP, &p->usage_key, USAGE_TIMEOUT_S, "usage cleanup");
}

static void session_cleanup(app_t *app, void *arg)
{
    app_pool_t *p = arg;
    run_script(p, LUA_SESSION_REAP, &p->session_key, app_config(app)->session_pool_timeout_s,
               "session reaper");
}

/* ---- public ------------------------------------------------------------------------ */

app_pool_t *app_pool_new(app_t *app, app_redis_t *r)
{
    app_pool_t *p = xcalloc(1, sizeof *p);
    p->app = app;
    buf_init(&p->session_key);
    buf_init(&p->usage_key);
    buf_init(&p->val);
    if (!app_redis_ws(r)) {
        p->ops = &LOCAL_OPS;
        return p;
    }
    p->ops = &REDIS_OPS;
    p->r = r;
    app_redis_key(r, &p->session_key, "session_pool");
    app_redis_key(r, &p->usage_key, "usage_pool");
    const app_config_t *c = app_config(app);
    uint32_t ttl = c->websocket_redis_lock_timeout_s;
    p->usage_lock =
        app_lock_new(app, r, "usage_cleanup_lock", ttl, USAGE_TIMEOUT_S * 1000u, usage_cleanup, p);
    p->session_lock = app_lock_new(app, r, "session_cleanup_lock", ttl,
                                   (uint64_t)c->session_pool_timeout_s * 1000u, session_cleanup, p);
    return p;
}

void app_pool_free(app_pool_t *p)
{
    if (!p)
        return;
    app_lock_free(p->usage_lock);
    app_lock_free(p->session_lock);
    buf_dispose(&p->session_key);
    buf_dispose(&p->usage_key);
    buf_dispose(&p->val);
    free(p);
}

bool app_pool_is_shared(const app_pool_t *p)
{
    return p && p->ops == &REDIS_OPS;
}

void app_pool_session_put(app_pool_t *p, const char *sid, const app_user_t *u)
{
    if (p)
        p->ops->session_put(p, sid, u);
}

void app_pool_session_del(app_pool_t *p, const char *sid)
{
    if (p)
        p->ops->session_del(p, sid);
}

void app_pool_usage_touch(app_pool_t *p, const char *sid, const char *model, size_t len,
                          int64_t now_s)
{
    if (p)
        p->ops->usage_touch(p, sid, model, len, now_s);
}

void app_pool_usage_drop(app_pool_t *p, const char *sid)
{
    if (p)
        p->ops->usage_drop(p, sid);
}

static void resync_one(sioc_socket_t *s, void *arg)
{
    app_pool_t *p = arg;
    app_sock_t *r = app__sock(s);
    if (!r || !r->user)
        return;
    const char *sid = sioc_socket_id(s);
    p->ops->session_put(p, sid, &r->user->pub);
    for (const app_usage_link_t *e = r->usage; e; e = app_usage_link_next(e)) {
        slice_t m = app_usage_link_model(e);
        p->ops->usage_touch(p, sid, (const char *)m.ptr, m.len, app_usage_link_updated(e));
    }
}

void app_pool_resync(app_pool_t *p)
{
    if (!app_pool_is_shared(p))
        return;
    sioc_sockets_each(app_nsp(p->app), NULL, resync_one, p);
}
