/*
 * app_lock: the single-holder cleanup loop. See app_lock.h.
 *
 *   ACQUIRING --acquire OK--> HELD --renew finds another token / no key--> ACQUIRING
 *       ^  |                   |  \--renew error (Redis down)--> ACQUIRING
 *       +--+ not free or error: retry in uniform(T/2, T)
 *
 * One request in flight at a time (`busy`); the timer only starts the next step. A reply
 * that arrives after app_lock_free finds the record orphaned (l->gone) and frees it.
 */
#include "app/app_lock.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

/* Acquire, or extend when we are still the owner (a reply lost to a reconnect). */
static const char LUA_ACQUIRE[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end "
    "return 0";
/* Compare-and-expire. */
static const char LUA_RENEW[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                "return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0";
/* Compare-and-delete. */
static const char LUA_RELEASE[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                  "return redis.call('DEL', KEYS[1]) end return 0";

struct app_lock {
    app_t *app;
    app_redis_t *r;
    uv_timer_t timer;
    char name[64];
    buf_t key;
    char token[33]; /* hex of 16 random bytes, like a uuid4 hex */
    char ttl[16];   /* T as text */
    uint32_t ttl_s;
    uint64_t period_ms;
    uint64_t next_work_ms; /* loop time of the next work while held */
    app_lock_work_cb work;
    void *arg;
    bool held;
    bool busy;
    bool gone; /* freed by the app; the reply in flight frees the record */
    bool closed;
};

static void step(app_lock_t *l);

static uint64_t renew_ms(const app_lock_t *l)
{
    uint64_t half = (uint64_t)l->ttl_s * 500u;
    return half < 500 ? 500 : half;
}

static uint64_t retry_ms(const app_lock_t *l)
{
    uint64_t t = (uint64_t)l->ttl_s * 1000u;
    uint32_t rnd = 0;
    RAND_bytes((unsigned char *)&rnd, sizeof rnd);
    return t / 2 + (t / 2 ? rnd % (t / 2 + 1) : 0);
}

static void on_timer(uv_timer_t *t)
{
    step(t->data);
}

static void on_closed(uv_handle_t *h)
{
    app_lock_t *l = h->data;
    l->closed = true;
    if (!l->busy) {
        buf_dispose(&l->key);
        free(l);
    }
}

static void schedule(app_lock_t *l, uint64_t ms)
{
    if (!l->gone)
        uv_timer_start(&l->timer, on_timer, ms, 0);
}

static void lost(app_lock_t *l, const char *why)
{
    if (l->held)
        LOG(LOG_INFO, "%s: this node no longer holds the lock (%s)", l->name, why);
    l->held = false;
}

static void on_reply(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    app_lock_t *l = arg;
    l->busy = false;
    if (l->gone) {
        if (l->closed) {
            buf_dispose(&l->key);
            free(l);
        }
        return;
    }
    bool ok = status == 0 && sioc_redis_reply_type(rep) == SIOC_REDIS_INTEGER &&
              sioc_redis_reply_int(rep) == 1;
    uint64_t now = uv_now(app_loop(l->app));
    if (ok && !l->held) {
        l->held = true;
        l->next_work_ms = now;
        LOG(LOG_INFO, "%s: this node holds the lock", l->name);
    } else if (!ok) {
        lost(l, status != 0 ? sioc_redis_strerror(status) : "taken by another node");
    }
    if (!l->held) {
        schedule(l, retry_ms(l));
        return;
    }
    if (now >= l->next_work_ms) {
        l->next_work_ms = now + l->period_ms;
        l->work(l->app, l->arg);
    }
    uint64_t wait = renew_ms(l);
    uint64_t to_work = l->next_work_ms > now ? l->next_work_ms - now : 0;
    schedule(l, to_work < wait ? to_work : wait);
}

static void step(app_lock_t *l)
{
    if (l->busy || l->gone)
        return;
    sioc_str_t argv[6] = {app_redis_str("EVAL"),   app_redis_str(l->held ? LUA_RENEW : LUA_ACQUIRE),
                          app_redis_str("1"),      app_redis_str_buf(&l->key),
                          app_redis_str(l->token), app_redis_str(l->ttl)};
    if (app_redis_cmd(l->r, on_reply, l, 6, argv) != 0) {
        lost(l, "redis unavailable");
        schedule(l, retry_ms(l));
        return;
    }
    l->busy = true;
}

app_lock_t *app_lock_new(app_t *app, app_redis_t *r, const char *name, uint32_t ttl_s,
                         uint64_t period_ms, app_lock_work_cb work, void *arg)
{
    app_lock_t *l = xcalloc(1, sizeof *l);
    l->app = app;
    l->r = r;
    snprintf(l->name, sizeof l->name, "%s", name);
    buf_init(&l->key);
    app_redis_key(r, &l->key, name);
    unsigned char rnd[16] = {0};
    RAND_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(l->token + 2 * i, 3, "%02x", rnd[i]);
    l->ttl_s = ttl_s ? ttl_s : 60;
    snprintf(l->ttl, sizeof l->ttl, "%u", l->ttl_s);
    l->period_ms = period_ms;
    l->work = work;
    l->arg = arg;
    uv_timer_init(app_loop(app), &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, on_timer, 0, 0);
    return l;
}

bool app_lock_is_held(const app_lock_t *l)
{
    return l && l->held;
}

void app_lock_free(app_lock_t *l)
{
    if (!l)
        return;
    if (l->held) {
        sioc_str_t argv[5] = {app_redis_str("EVAL"), app_redis_str(LUA_RELEASE), app_redis_str("1"),
                              app_redis_str_buf(&l->key), app_redis_str(l->token)};
        app_redis_cmd(l->r, NULL, NULL, 5, argv);
        l->held = false;
    }
    l->gone = true;
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, on_closed);
}
