/*
 * clu_redis_link: the connections of the Redis client (cluster layer) — hiredis' event
 * hooks on uv_poll_t (STYLE rule 23), name resolution with uv_getaddrinfo, connect with
 * TCP keepalive, the AUTH/SELECT/ROLE/PING handshake, and failure with backoff. The
 * state machine is described at the top of clu_redis.c; the structures are in
 * clu_redis_private.h.
 */
#include "cluster/clu_redis.h"
#include "cluster/clu_redis_private.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"

/* ------------------------------------------------------------------ event hooks */

static void ev_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Poll errors are handed to hiredis as readiness, so it meets the error in read/write
 * and tears down; if it does not, the link is failed here (0.14.1 dropped them). */
static void ev_poll(uv_poll_t *h, int status, int events)
{
    evhook_t *e = h->data;
    if (status < 0)
        events = e->events;
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
    if (status < 0 && e->ac && e->link)
        clu_redis__link_fail(e->link, status, uv_strerror(status));
}

static void ev_update(evhook_t *e)
{
    if (e->events)
        uv_poll_start(&e->poll, e->events, ev_poll);
    else
        uv_poll_stop(&e->poll);
}

static void ev_add_read(void *p)
{
    evhook_t *e = p;
    e->events |= UV_READABLE;
    ev_update(e);
}

static void ev_del_read(void *p)
{
    evhook_t *e = p;
    e->events &= ~UV_READABLE;
    ev_update(e);
}

static void ev_add_write(void *p)
{
    evhook_t *e = p;
    e->events |= UV_WRITABLE;
    ev_update(e);
}

static void ev_del_write(void *p)
{
    evhook_t *e = p;
    e->events &= ~UV_WRITABLE;
    ev_update(e);
}

static void ev_cleanup(void *p)
{
    evhook_t *e = p;
    e->ac = NULL;
    if (e->link && e->link->ev == e)
        e->link->ev = NULL;
    e->link = NULL;
    uv_close((uv_handle_t *)&e->poll, ev_closed);
}

/* ------------------------------------------------------------------ links */

/* Lets go of the link's context (freeing it unless hiredis is doing so) and lookup.
 * Commands still in flight will be called back with `status`. */
void clu_redis__link_drop(link_t *l, int status)
{
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    if (l->ev) {
        l->ev->link = NULL;
        l->ev = NULL;
    }
    if (l->gai) {
        l->gai->link = NULL;
        uv_cancel((uv_req_t *)&l->gai->req);
        l->gai = NULL;
    }
    for (req_t *q = l->inflight.head; q; q = q->next)
        q->fail_status = status;
    l->sub_acks = 0;
    if (ac)
        redisAsyncFree(ac);
}

void clu_redis__link_fail(link_t *l, int status, const char *why)
{
    clu_redis_t *r = l->r;
    lstate_t was = l->state;
    clu_redis__link_drop(l, status == CLU_REDIS_E_TIMEOUT ? CLU_REDIS_E_DISCONNECTED : status);
    l->state = L_IDLE;
    if (r->closing)
        return;
    if (was == L_READY) {
        l->attempts = 0;
        LOG(LOG_WARN, "redis(%s): %s connection to %s lost (%s); reconnecting", r->name,
            clu_redis__role_names[l->role], l->target, why);
        l->logged_down = true;
        if (l->role == ROLE_CMD)
            clu_redis__emit(r, CLU_REDIS_EV_DOWN);
        else if (l->role == ROLE_SUB)
            clu_redis__emit(r, CLU_REDIS_EV_SUB_DOWN);
    } else if (!l->outage) {
        l->outage = true;
        if (!l->logged_down)
            LOG(LOG_WARN, "redis(%s): %s connection to %s failed (%s); retrying", r->name,
                clu_redis__role_names[l->role], l->target, why);
        l->logged_down = true;
        if (l->role == ROLE_CMD)
            clu_redis__fail_queue(r, CLU_REDIS_E_DOWN);
    }
    l->attempts++;
    if (l->role >= ROLE_SENTQ)
        l->sentinel = (l->sentinel + 1) % (unsigned)r->url.n_sentinels;
    if (clu_redis__is_master_link(l) && l->epoch == r->epoch)
        clu_redis__request_query(r);
    l->state = L_WAIT;
    l->deadline = clu_redis__now_ms(r) + clu_redis__backoff(r, l->attempts);
    clu_redis__kick(r);
}

/* Ends a link that did its job (SENTQ), without counting it as a failure. */
void clu_redis__link_finish(link_t *l)
{
    clu_redis__link_drop(l, CLU_REDIS_E_DISCONNECTED);
    l->state = L_IDLE;
    l->deadline = 0;
    l->attempts = 0;
    l->outage = false;
}

/* Drops a link to reconnect at once (the master moved). */
void clu_redis__link_restart(link_t *l)
{
    clu_redis_t *r = l->r;
    bool was_ready = l->state == L_READY;
    clu_redis__link_drop(l, CLU_REDIS_E_DISCONNECTED);
    l->state = L_WAIT;
    l->deadline = 0;
    l->attempts = 0;
    if (was_ready && l->role == ROLE_CMD)
        clu_redis__emit(r, CLU_REDIS_EV_DOWN);
    else if (was_ready && l->role == ROLE_SUB)
        clu_redis__emit(r, CLU_REDIS_EV_SUB_DOWN);
}

bool clu_redis__link_wanted(const link_t *l)
{
    const clu_redis_t *r = l->r;
    switch (l->role) {
    case ROLE_CMD:
        return !r->sentinel_mode || r->master_known;
    case ROLE_SUB:
        return r->nsubs > 0 && (!r->sentinel_mode || r->master_known);
    case ROLE_SENTQ:
        return r->need_query;
    default:
        return r->sentinel_mode;
    }
}

/* The replies of AUTH / SELECT / ROLE / PING: any error fails the attempt. */
static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    static const char *const steps[] = {"AUTH", "SELECT", "ROLE", "PING"};
    link_t *l = privdata;
    redisReply *rep = reply;
    char why[160];
    if (!rep || l->ac != ac || l->state != L_CONNECTING || l->hs_i >= l->hs_n)
        return;
    uint8_t step = l->hs[l->hs_i++];
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof why, "%s: %.120s", steps[step], rep->str);
        clu_redis__link_fail(l, CLU_REDIS_E_REPLY, why);
        return;
    }
    if (step == HS_ROLE && !(rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                             rep->element[0]->type == REDIS_REPLY_STRING &&
                             strcmp(rep->element[0]->str, "master") == 0)) {
        clu_redis__link_fail(l, CLU_REDIS_E_REPLY, "ROLE: not a master");
        return;
    }
    if (l->hs_i == l->hs_n)
        clu_redis__kick(l->r); /* READY is entered from the watchdog, outside hiredis' callback */
}

static void send_handshake(link_t *l)
{
    clu_redis_t *r = l->r;
    bool sentinel = l->role >= ROLE_SENTQ;
    const char *pw = sentinel ? r->sentinel_password : r->url.password;
    l->hs_n = l->hs_i = 0;
    if (*pw && !sentinel && r->url.user[0])
        redisAsyncCommand(l->ac, on_handshake, l, "AUTH %s %s", r->url.user, pw);
    else if (*pw)
        redisAsyncCommand(l->ac, on_handshake, l, "AUTH %s", pw);
    if (*pw)
        l->hs[l->hs_n++] = HS_AUTH;
    if (l->role == ROLE_CMD && r->url.db) {
        redisAsyncCommand(l->ac, on_handshake, l, "SELECT %u", r->url.db);
        l->hs[l->hs_n++] = HS_SELECT;
    }
    if (!sentinel && r->sentinel_mode) {
        redisAsyncCommand(l->ac, on_handshake, l, "ROLE");
        l->hs[l->hs_n++] = HS_ROLE;
    }
    redisAsyncCommand(l->ac, on_handshake, l, "PING");
    l->hs[l->hs_n++] = HS_PING;
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    link_t *l = ac->data;
    if (status == REDIS_OK || !l || l->ac != ac)
        return;
    l->ac = NULL; /* hiredis frees it after this callback */
    clu_redis__link_fail(l, CLU_REDIS_E_DOWN, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    link_t *l = ac->data;
    (void)status;
    if (!l || l->ac != ac)
        return;
    l->ac = NULL; /* being freed by hiredis */
    clu_redis__link_fail(l, CLU_REDIS_E_DISCONNECTED, ac->c.errstr[0] ? ac->c.errstr : "closed");
}

/* TCP keepalive (15 s idle, 5 s interval, 3 probes): a silently dead peer is noticed
 * even on the subscriber connection, which never sends. Set here rather than with
 * redisEnableKeepAlive, whose failure would poison the context's error state. */
static void keepalive(int fd)
{
    int on = 1, idle = 15, intvl = 5, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static void link_connect(link_t *l, const char *host, uint16_t port, bool unix_sock)
{
    clu_redis_t *r = l->r;
    redisAsyncContext *ac = unix_sock ? redisAsyncConnectUnix(host) : redisAsyncConnect(host, port);
    char why[160];
    if (!ac) {
        clu_redis__link_fail(l, UV_ENOMEM, "out of memory");
        return;
    }
    if (ac->err) {
        snprintf(why, sizeof why, "%.150s", ac->errstr);
        redisAsyncFree(ac);
        clu_redis__link_fail(l, CLU_REDIS_E_DOWN, why);
        return;
    }
    evhook_t *e = xcalloc(1, sizeof *e);
    int rc = uv_poll_init(r->loop, &e->poll, ac->c.fd);
    if (rc < 0) {
        free(e);
        redisAsyncFree(ac);
        clu_redis__link_fail(l, rc, uv_strerror(rc));
        return;
    }
    e->poll.data = e;
    e->ac = ac;
    e->link = l;
    ac->data = l;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (!unix_sock)
        keepalive(ac->c.fd);
    l->ac = ac;
    l->ev = e;
    l->state = L_CONNECTING;
    send_handshake(l);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gai_t *g = req->data;
    link_t *l = g->link;
    char ip[64] = "";
    uint16_t port = g->port;
    if (status == 0 && res && res->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    else if (status == 0 && res)
        uv_ip4_name((const struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    if (res)
        uv_freeaddrinfo(res);
    free(g);
    if (!l)
        return; /* orphaned: the link gave up or the client closed */
    l->gai = NULL;
    if (status < 0 || !ip[0]) {
        clu_redis__link_fail(l, status < 0 ? status : UV_EAI_NONAME,
                             uv_strerror(status < 0 ? status : UV_EAI_NONAME));
        return;
    }
    link_connect(l, ip, port, false);
}

static bool is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return uv_inet_pton(AF_INET, host, tmp) == 0 || uv_inet_pton(AF_INET6, host, tmp) == 0;
}

/* Starts an attempt: resolve the host when it is a name, then connect. */
void clu_redis__link_start(link_t *l, uint64_t t)
{
    clu_redis_t *r = l->r;
    const char *host;
    uint16_t port;
    bool unix_sock = false;
    if (l->role >= ROLE_SENTQ) {
        host = r->url.sentinels[l->sentinel].host;
        port = r->url.sentinels[l->sentinel].port;
    } else if (r->sentinel_mode) {
        host = r->master_host;
        port = r->master_port;
    } else {
        host = r->url.addr.host;
        port = r->url.addr.port;
        unix_sock = r->url.unix_socket;
    }
    l->epoch = r->epoch;
    l->deadline = t + r->connect_timeout;
    snprintf(l->target, sizeof l->target, unix_sock ? "%s" : "%s:%u", host, port);
    if (unix_sock || is_ip_literal(host)) {
        link_connect(l, host, port, unix_sock);
        return;
    }
    gai_t *g = xcalloc(1, sizeof *g);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    g->req.data = g;
    g->link = l;
    g->port = port;
    int rc = uv_getaddrinfo(r->loop, &g->req, on_resolved, host, NULL, &hints);
    if (rc < 0) {
        free(g);
        clu_redis__link_fail(l, rc, uv_strerror(rc));
        return;
    }
    l->gai = g;
    l->state = L_RESOLVING;
}
