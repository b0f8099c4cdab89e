/*
 * sioc_redis: the public Redis client, a thin layer over clu_redis (cluster layer). See
 * include/sioc_redis.h.
 *
 * The public client is a small record around a clu_redis_t: it keeps the caller's
 * callbacks and argument, and each command carries a two-pointer context that maps the
 * internal callback onto the public one (function pointer types differ, so no cast).
 * Replies are the internal ones seen through an opaque public type.
 */
#include "sioc_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cluster/clu_redis.h"
#include "cluster/clu_redis_url.h"

_Static_assert((int)SIOC_REDIS_EDOWN == (int)CLU_REDIS_E_DOWN, "status codes match");
_Static_assert((int)SIOC_REDIS_EARG == (int)CLU_REDIS_E_ARG, "status codes match");
_Static_assert((int)SIOC_REDIS_EREPLY == (int)CLU_REDIS_E_REPLY, "status codes match");
_Static_assert((int)SIOC_REDIS_ERROR == (int)CLU_REDIS_REPLY_ERROR, "reply types match");

struct sioc_redis {
    clu_redis_t *c;
    sioc_redis_message_cb on_message;
    sioc_redis_state_cb on_state;
    void *arg;
};

typedef struct cmd_ctx {
    sioc_redis_reply_cb cb;
    void *arg;
} cmd_ctx_t;

static const clu_redis_reply_t *in(const sioc_redis_reply_t *rep)
{
    return (const clu_redis_reply_t *)rep;
}

static sioc_str_t str_of(slice_t s)
{
    sioc_str_t r = {(const char *)s.ptr, s.len};
    return r;
}

static slice_t slice_of(sioc_str_t s)
{
    return slice_make(s.ptr, s.len);
}

const char *sioc_redis_strerror(int status)
{
    return clu_redis_strerror(status);
}

sioc_redis_type_t sioc_redis_reply_type(const sioc_redis_reply_t *rep)
{
    return (sioc_redis_type_t)clu_redis_reply_type(in(rep));
}

sioc_str_t sioc_redis_reply_str(const sioc_redis_reply_t *rep)
{
    return str_of(clu_redis_reply_str(in(rep)));
}

long long sioc_redis_reply_int(const sioc_redis_reply_t *rep)
{
    return clu_redis_reply_int(in(rep));
}

size_t sioc_redis_reply_len(const sioc_redis_reply_t *rep)
{
    return clu_redis_reply_len(in(rep));
}

const sioc_redis_reply_t *sioc_redis_reply_at(const sioc_redis_reply_t *rep, size_t i)
{
    return (const sioc_redis_reply_t *)clu_redis_reply_at(in(rep), i);
}

static void on_message(clu_redis_t *c, slice_t pattern, slice_t channel, slice_t payload)
{
    sioc_redis_t *r = clu_redis_get_user(c);
    if (r && r->on_message)
        r->on_message(r, str_of(pattern), str_of(channel), str_of(payload), r->arg);
}

static void on_event(clu_redis_t *c, clu_redis_event_t ev)
{
    sioc_redis_t *r = clu_redis_get_user(c);
    if (!r || !r->on_state)
        return;
    if (ev == CLU_REDIS_EV_READY)
        r->on_state(r, true, r->arg);
    else if (ev == CLU_REDIS_EV_DOWN)
        r->on_state(r, false, r->arg);
}

static const clu_redis_callbacks_t CBS = {on_message, on_event};

sioc_redis_t *sioc_redis_new(sioc_server_t *srv, const sioc_redis_options_t *opt, char *err,
                             size_t errlen)
{
    clu_redis_url_t url;
    const char *why = NULL;
    if (!srv || !opt || !opt->url || !*opt->url) {
        snprintf(err, errlen, "redis: no URL");
        return NULL;
    }
    if (clu_redis_url_parse(opt->url, &url, &why) != 0) {
        snprintf(err, errlen, "redis: bad URL: %s", why);
        return NULL;
    }
    if (opt->sentinel_hosts && *opt->sentinel_hosts) {
        char port[16];
        snprintf(port, sizeof port, "%d", opt->sentinel_port > 0 ? opt->sentinel_port : 26379);
        if (clu_redis_url_set_sentinels(&url, opt->sentinel_hosts, port, &why) != 0) {
            snprintf(err, errlen, "redis: bad sentinel hosts: %s", why);
            return NULL;
        }
    }
    sioc_redis_t *r = xcalloc(1, sizeof *r);
    r->on_message = opt->on_message;
    r->on_state = opt->on_state;
    r->arg = opt->arg;
    clu_redis_config_t cc = {
        .url = &url,
        .name = opt->name,
        .cbs = &CBS,
        .user = r,
        .connect_timeout_ms = opt->connect_timeout_ms,
        .command_timeout_ms = opt->command_timeout_ms,
        .max_message = opt->max_message,
    };
    r->c = clu_redis_new(sioc_server_loop(srv), &cc);
    if (!r->c) {
        snprintf(err, errlen, "redis: unusable configuration");
        free(r);
        return NULL;
    }
    return r;
}

static void on_closed(clu_redis_t *c)
{
    free(clu_redis_get_user(c));
}

void sioc_redis_close(sioc_redis_t *r)
{
    if (!r || !r->c)
        return;
    clu_redis_t *c = r->c;
    r->c = NULL;
    r->on_message = NULL;
    r->on_state = NULL;
    clu_redis_close(c, on_closed);
}

bool sioc_redis_is_ready(const sioc_redis_t *r)
{
    return r && r->c && clu_redis_is_ready(r->c);
}

static void on_reply(clu_redis_t *c, int status, const clu_redis_reply_t *rep, void *arg)
{
    cmd_ctx_t ctx = *(cmd_ctx_t *)arg;
    free(arg);
    sioc_redis_t *r = clu_redis_get_user(c);
    if (ctx.cb)
        ctx.cb(r, status, (const sioc_redis_reply_t *)rep, ctx.arg);
}

/* Argument lists longer than this are copied into a heap array. */
#define ARGV_STACK 16

int sioc_redis_command(sioc_redis_t *r, sioc_redis_reply_cb cb, void *arg, int argc,
                       const sioc_str_t *argv)
{
    if (!r || !r->c)
        return SIOC_REDIS_ECLOSED;
    if (argc <= 0 || !argv)
        return SIOC_REDIS_EARG;
    slice_t stack[ARGV_STACK];
    slice_t *v = argc <= ARGV_STACK ? stack : xmalloc((size_t)argc * sizeof *v);
    for (int i = 0; i < argc; i++)
        v[i] = slice_of(argv[i]);
    cmd_ctx_t *ctx = xmalloc(sizeof *ctx);
    *ctx = (cmd_ctx_t){cb, arg};
    int rc = clu_redis_command(r->c, on_reply, ctx, argc, v);
    if (rc != 0)
        free(ctx);
    if (v != stack)
        free(v);
    return rc;
}

int sioc_redis_publish(sioc_redis_t *r, sioc_str_t channel, sioc_str_t payload,
                       sioc_redis_reply_cb cb, void *arg)
{
    if (!r || !r->c)
        return SIOC_REDIS_ECLOSED;
    cmd_ctx_t *ctx = xmalloc(sizeof *ctx);
    *ctx = (cmd_ctx_t){cb, arg};
    int rc = clu_redis_publish(r->c, slice_of(channel), slice_of(payload), on_reply, ctx);
    if (rc != 0)
        free(ctx);
    return rc;
}

int sioc_redis_subscribe(sioc_redis_t *r, sioc_str_t channel)
{
    return r && r->c ? clu_redis_subscribe(r->c, slice_of(channel)) : SIOC_REDIS_ECLOSED;
}

int sioc_redis_psubscribe(sioc_redis_t *r, sioc_str_t pattern)
{
    return r && r->c ? clu_redis_psubscribe(r->c, slice_of(pattern)) : SIOC_REDIS_ECLOSED;
}

int sioc_redis_unsubscribe(sioc_redis_t *r, sioc_str_t channel)
{
    return r && r->c ? clu_redis_unsubscribe(r->c, slice_of(channel)) : SIOC_REDIS_ECLOSED;
}
