/*
 * app_direct: the per-request event registry and its catch-all. See app_direct.h.
 *
 * A list: a node has a handful of direct-connection requests at a time. Each event
 * compares its name with the registered ones; a name that does not have the
 * `a:b:c` shape is rejected before the walk. With Redis, one channel carries every
 * relayed event of the cluster; each node keeps the ones it has registered.
 */
#include "app/app_direct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "app/app_redis.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"

struct app_direct_req {
    app_direct_req_t *next, **pprev;
    app_direct_t *d;
    app_direct_event_cb cb;
    void *arg;
    size_t user_len; /* the user id is name[0..user_len) */
    size_t len;
    char name[]; /* user_id:session_id:request_id */
};

struct app_direct {
    app_t *app;
    app_redis_t *redis; /* the relay, NULL without Redis */
    buf_t channel;      /* <prefix>:direct:events, NUL-terminated */
    app_direct_req_t *head;
    size_t n;
    uint64_t log_n;
};

static bool has_request_shape(sioc_str_t name)
{
    const char *c1 = memchr(name.ptr, ':', name.len);
    if (!c1 || c1 == name.ptr)
        return false;
    size_t rest = name.len - (size_t)(c1 + 1 - name.ptr);
    const char *c2 = memchr(c1 + 1, ':', rest);
    return c2 && c2 > c1 + 1 && c2 + 1 < name.ptr + name.len;
}

static app_direct_req_t *find(const app_direct_t *d, sioc_str_t name)
{
    for (app_direct_req_t *r = d->head; r; r = r->next)
        if (r->len == name.len && memcmp(r->name, name.ptr, name.len) == 0)
            return r;
    return NULL;
}

/* True when the socket's user is the one the name starts with (`user_len` bytes). */
static bool is_users(const app_user_t *u, sioc_str_t name, size_t user_len)
{
    return u && strlen(u->id) == user_len && memcmp(u->id, name.ptr, user_len) == 0;
}

/* Publishes an event of a request registered elsewhere: {"event","data"}. */
static bool relay(app_direct_t *d, sioc_str_t name, sioc_str_t data)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"event\":");
    json_append_string(&b, slice_make(name.ptr, name.len));
    buf_append_cstr(&b, ",\"data\":");
    if (data.len)
        buf_append(&b, data.ptr, data.len);
    else
        buf_append_cstr(&b, "null");
    buf_append_byte(&b, '}');
    int rc = app_redis_publish(d->redis, (const char *)buf_data(&d->channel),
                               (sioc_str_t){(const char *)buf_data(&b), b.len});
    buf_dispose(&b);
    return rc == 0;
}

static void on_any(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *args, int64_t ack,
                   void *arg)
{
    app_direct_t *d = arg;
    if (!has_request_shape(name))
        return;
    app_direct_req_t *r = find(d, name);
    const app_user_t *u = app_socket_user(s);
    size_t user_len = (size_t)((const char *)memchr(name.ptr, ':', name.len) - name.ptr);
    if (!is_users(u, name, r ? r->user_len : user_len)) {
        if (r)
            LOG_RATELIMITED(LOG_WARN, d->log_n, 100,
                            "direct: an event for another user's request from %s dropped",
                            sioc_socket_id(s));
        return;
    }
    if (!r && !(d->redis && relay(d, name, sioc_args_at(args, 0))))
        return; /* no such request here, and no other node to ask */
    if (ack >= 0)
        sioc_socket_ack(s, ack, sioc_json(NULL));
    if (r)
        r->cb(r, s, sioc_args_at(args, 0), r->arg);
}

/* A relayed event: delivered when its request is registered on this node. */
static void on_relayed(app_t *app, sioc_str_t channel, sioc_str_t payload, void *arg)
{
    (void)app, (void)channel;
    app_direct_t *d = arg;
    slice_t p = slice_make(payload.ptr, payload.len);
    json_value_t ev, data;
    char name[1024];
    long n;
    if (!app_json_get(p, "event", &ev) || (n = app_json_str(ev, name, sizeof name)) <= 0 ||
        !app_json_get(p, "data", &data))
        return;
    app_direct_req_t *r = find(d, (sioc_str_t){name, (size_t)n});
    if (r)
        r->cb(r, NULL, (sioc_str_t){(const char *)data.raw.ptr, data.raw.len}, r->arg);
}

app_direct_t *app_direct_new(app_t *app)
{
    app_direct_t *d = xcalloc(1, sizeof *d);
    d->app = app;
    buf_init(&d->channel);
    sioc_on_any(app_nsp(app), on_any, d);
    app_redis_t *r = app_redis_of(app);
    if (app_redis_ws(r)) {
        app_redis_key(r, &d->channel, "direct:events");
        buf_append_byte(&d->channel, '\0');
        if (app_redis_subscribe(r, (const char *)buf_data(&d->channel), on_relayed, d) == 0)
            d->redis = r;
        else
            LOG(LOG_WARN, "direct: cannot subscribe to the relay channel; local requests only");
    }
    return d;
}

void app_direct_free(app_direct_t *d)
{
    if (!d)
        return;
    while (d->head)
        app_direct_unregister(d->head);
    if (d->redis)
        app_redis_unsubscribe(d->redis, (const char *)buf_data(&d->channel));
    buf_dispose(&d->channel);
    free(d);
}

app_direct_req_t *app_direct_register(app_direct_t *d, const char *user_id, const char *session_id,
                                      const char *request_id, app_direct_event_cb cb, void *arg)
{
    if (!d || !cb || !user_id || !*user_id || !session_id || !*session_id || !request_id ||
        !*request_id || strchr(user_id, ':') || d->n >= APP_DIRECT_MAX)
        return NULL;
    size_t len = strlen(user_id) + strlen(session_id) + strlen(request_id) + 2;
    app_direct_req_t *r = xcalloc(1, sizeof *r + len + 1);
    snprintf(r->name, len + 1, "%s:%s:%s", user_id, session_id, request_id);
    r->len = len;
    r->user_len = strlen(user_id);
    if (find(d, (sioc_str_t){r->name, len})) {
        free(r);
        return NULL;
    }
    r->d = d;
    r->cb = cb;
    r->arg = arg;
    r->next = d->head;
    if (d->head)
        d->head->pprev = &r->next;
    r->pprev = &d->head;
    d->head = r;
    d->n++;
    return r;
}

void app_direct_unregister(app_direct_req_t *r)
{
    if (!r)
        return;
    *r->pprev = r->next;
    if (r->next)
        r->next->pprev = r->pprev;
    r->d->n--;
    free(r);
}

const char *app_direct_name(const app_direct_req_t *r)
{
    return r->name;
}

size_t app_direct_count(const app_direct_t *d)
{
    return d ? d->n : 0;
}
