/*
 * clu_redis: asynchronous Redis client over hiredis 0.14.1. See the header.
 *
 * A client owns up to four "links", each one logical connection that is re-established
 * whenever it fails:
 *
 *   CMD      commands and PUBLISH (always wanted)
 *   SUB      SUBSCRIBE / PSUBSCRIBE (wanted once something is subscribed)
 *   SENTQ    a short-lived sentinel connection asking for the master (when needed)
 *   SENTSUB  a sentinel connection subscribed to +switch-master (Sentinel mode)
 *
 * Link states (one watchdog timer drives every deadline):
 *
 *   IDLE/WAIT --start--> RESOLVING --> CONNECTING --handshake replies--> READY
 *       ^                    |              |                              |
 *       +------ fail: backoff (WAIT) -------+------------------------------+
 *
 * A hiredis context is never freed from inside its own connect/disconnect callbacks
 * (0.14.1 keeps using it afterwards); from inside a reply callback redisAsyncFree only
 * marks it and hiredis frees it when the callback returns. Every pending reply callback
 * then runs with a NULL reply: commands carry the status that NULL stands for, and
 * handshake and subscription callbacks recognise a stale context because the link no
 * longer points at it.
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

static void tick(clu_redis_t *r);

/* ------------------------------------------------------------------ small helpers */

const char *clu_redis_strerror(int status)
{
    switch (status) {
    case 0:
        return "ok";
#define CLU_REDIS_CASE(name, value, text)                                                          \
    case name:                                                                                     \
        return text;
        CLU_REDIS_ERRORS(CLU_REDIS_CASE)
#undef CLU_REDIS_CASE
    default:
        return uv_strerror(status);
    }
}

uint64_t clu_redis__now_ms(const clu_redis_t *r)
{
    return uv_now(r->loop);
}

static void on_timer(uv_timer_t *t)
{
    tick(t->data);
}

/* Runs the watchdog on the next loop turn (never inside the current call stack). */
void clu_redis__kick(clu_redis_t *r)
{
    if (!r->timer_closing)
        uv_timer_start(&r->timer, on_timer, 0, 0);
}

void clu_redis__emit(clu_redis_t *r, clu_redis_event_t ev)
{
    if (r->cbs && r->cbs->on_event)
        r->cbs->on_event(r, ev);
}

/* Exponential backoff with jitter: a delay in [base/2, base], base doubling per attempt. */
uint64_t clu_redis__backoff(clu_redis_t *r, unsigned attempts)
{
    uint64_t base = r->backoff_min;
    for (unsigned i = 1; i < attempts && base < r->backoff_max; i++)
        base *= 2;
    if (base > r->backoff_max)
        base = r->backoff_max;
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return base / 2 + r->rng % (base / 2 + 1);
}

static void list_push(reqlist_t *l, req_t *q)
{
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->n++;
    l->bytes += q->len;
}

static void list_remove(reqlist_t *l, req_t *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        l->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        l->tail = q->prev;
    l->n--;
    l->bytes -= q->len;
}

/* Runs the callback once (unless it ran already) and frees the request. */
static void req_complete(req_t *q, int status, const redisReply *rep)
{
    if (!q->done && q->cb)
        q->cb(q->r, status, (const clu_redis_reply_t *)rep, q->arg);
    if (q->cmd)
        redisFreeCommand(q->cmd);
    free(q);
}

void clu_redis__fail_queue(clu_redis_t *r, int status)
{
    req_t *q;
    while ((q = r->queue.head)) {
        list_remove(&r->queue, q);
        req_complete(q, status, NULL);
    }
}

/* Queued commands whose time is up (deadlines grow along the queue). */
static void expire_queue(clu_redis_t *r, uint64_t t)
{
    req_t *q;
    while ((q = r->queue.head) && t >= q->deadline) {
        list_remove(&r->queue, q);
        req_complete(q, CLU_REDIS_E_TIMEOUT, NULL);
    }
}

bool clu_redis__is_master_link(const link_t *l)
{
    return l->role == ROLE_CMD || l->role == ROLE_SUB;
}

void clu_redis__request_query(clu_redis_t *r)
{
    if (r->sentinel_mode) {
        r->need_query = true;
        clu_redis__kick(r);
    }
}

/* ------------------------------------------------------------------ subscriptions */

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Sends (P)SUBSCRIBE / (P)UNSUBSCRIBE for `n` names in one command. */
static void send_sub_cmd(link_t *l, const char *verb, const sub_t *const *names, size_t n,
                         bool counts)
{
    const char *argv[SUB_CHUNK + 1];
    size_t lens[SUB_CHUNK + 1];
    argv[0] = verb;
    lens[0] = strlen(verb);
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = names[i]->name;
        lens[i + 1] = names[i]->len;
    }
    if (redisAsyncCommandArgv(l->ac, on_sub_reply, l, (int)n + 1, argv, lens) != REDIS_OK)
        return;
    if (!counts)
        return;
    if (l->sub_acks == 0)
        l->deadline = clu_redis__now_ms(l->r) + l->r->command_timeout;
    l->sub_acks += n;
}

/* Re-issues every remembered subscription on a fresh subscriber connection. */
static void resubscribe(link_t *l)
{
    clu_redis_t *r = l->r;
    for (int pattern = 0; pattern < 2; pattern++) {
        const sub_t *chunk[SUB_CHUNK];
        size_t n = 0;
        for (size_t i = 0; i < r->nsubs; i++) {
            if (r->subs[i].pattern != (bool)pattern)
                continue;
            chunk[n++] = &r->subs[i];
            if (n == SUB_CHUNK) {
                send_sub_cmd(l, pattern ? "PSUBSCRIBE" : "SUBSCRIBE", chunk, n, true);
                n = 0;
            }
        }
        if (n)
            send_sub_cmd(l, pattern ? "PSUBSCRIBE" : "SUBSCRIBE", chunk, n, true);
    }
    if (l->sub_acks == 0)
        clu_redis__emit(r, CLU_REDIS_EV_SUB_READY);
}

/* "+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>" */
static void on_switch_master(clu_redis_t *r, slice_t payload)
{
    char buf[600], *tok[5], *save = NULL;
    int n = 0;
    if (payload.len >= sizeof buf)
        return;
    memcpy(buf, payload.ptr, payload.len);
    buf[payload.len] = '\0';
    for (char *t = strtok_r(buf, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    if (n < 5 || strcmp(tok[0], r->url.service) != 0)
        return;
    long port = strtol(tok[4], NULL, 10);
    if (port > 0 && port < 65536)
        clu_redis__set_master(r, tok[3], (uint16_t)port, "+switch-master");
}

static slice_t elem_slice(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? slice_make(e->str, e->len) : slice_make(NULL, 0);
}

/* Every message and (un)subscribe confirmation of a subscribed link. */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    link_t *l = privdata;
    clu_redis_t *r = l->r;
    redisReply *rep = reply;
    if (!rep || l->ac != ac || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    bool pmessage = strcmp(kind, "pmessage") == 0 && rep->elements >= 4;
    if (pmessage || strcmp(kind, "message") == 0) {
        slice_t pattern = pmessage ? elem_slice(rep->element[1]) : slice_make(NULL, 0);
        slice_t channel = elem_slice(rep->element[pmessage ? 2 : 1]);
        slice_t payload = elem_slice(rep->element[pmessage ? 3 : 2]);
        if (l->role == ROLE_SENTSUB)
            on_switch_master(r, payload);
        else if (r->cbs && r->cbs->on_message && !r->closing)
            r->cbs->on_message(r, pattern, channel, payload);
        return;
    }
    if ((strcmp(kind, "subscribe") == 0 || strcmp(kind, "psubscribe") == 0) && l->sub_acks) {
        if (--l->sub_acks == 0) {
            l->deadline = 0;
            if (l->role == ROLE_SUB)
                clu_redis__emit(r, CLU_REDIS_EV_SUB_READY);
        }
    }
}

/* ------------------------------------------------------------------ commands */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    req_t *q = privdata;
    redisReply *rep = reply;
    (void)ac;
    list_remove(&q->r->links[ROLE_CMD].inflight, q);
    int status = !rep ? q->fail_status : rep->type == REDIS_REPLY_ERROR ? CLU_REDIS_E_REPLY : 0;
    req_complete(q, status, rep);
}

/* Hands a formatted command to hiredis on the ready CMD link. */
static int send_req(link_t *l, req_t *q, const char *cmd, size_t len)
{
    if (redisAsyncFormattedCommand(l->ac, on_reply, q, cmd, len) != REDIS_OK)
        return -1;
    q->fail_status = CLU_REDIS_E_DISCONNECTED;
    q->len = 0;
    list_push(&l->inflight, q);
    return 0;
}

/* Sends what waited for the connection, oldest first: the expired ones are failed
 * before the link counts as ready, so their callbacks cannot overtake the others. */
static void flush_queue(link_t *l)
{
    req_t *q;
    while ((q = l->r->queue.head)) {
        list_remove(&l->r->queue, q);
        size_t len = q->len;
        char *cmd = q->cmd;
        q->cmd = NULL;
        if (send_req(l, q, cmd, len) < 0) {
            q->cmd = cmd;
            req_complete(q, CLU_REDIS_E_DISCONNECTED, NULL);
            continue;
        }
        redisFreeCommand(cmd);
    }
}

static void on_sentinel_addr(redisAsyncContext *ac, void *reply, void *privdata);

/* The handshake is complete: the link is usable. */
static void link_ready(link_t *l, uint64_t t)
{
    clu_redis_t *r = l->r;
    if (l->role == ROLE_CMD)
        expire_queue(r, t);
    if (l->logged_down)
        LOG(LOG_INFO, "redis(%s): %s connection to %s is up", r->name,
            clu_redis__role_names[l->role], l->target);
    l->state = L_READY;
    l->deadline = 0;
    l->attempts = 0;
    l->outage = false;
    l->logged_down = false;
    switch (l->role) {
    case ROLE_CMD:
        flush_queue(l);
        clu_redis__emit(r, CLU_REDIS_EV_READY);
        break;
    case ROLE_SUB:
        resubscribe(l);
        break;
    case ROLE_SENTQ:
        l->deadline = t + r->command_timeout;
        redisAsyncCommand(l->ac, on_sentinel_addr, l, "SENTINEL get-master-addr-by-name %s",
                          r->url.service);
        break;
    default: {
        sub_t sw = {(char *)"+switch-master", 14, false};
        const sub_t *one = &sw;
        send_sub_cmd(l, "SUBSCRIBE", &one, 1, true);
        if (r->master_known)
            clu_redis__request_query(r); /* a switch may have happened while we were not watching */
        break;
    }
    }
}

void clu_redis__set_master(clu_redis_t *r, const char *host, uint16_t port, const char *how)
{
    bool same = r->master_known && strcmp(host, r->master_host) == 0 && port == r->master_port;
    r->master_known = true;
    clu_redis__kick(r);
    if (same)
        return;
    snprintf(r->master_host, sizeof r->master_host, "%s", host);
    r->master_port = port;
    r->epoch++;
    LOG(LOG_INFO, "redis(%s): master '%s' is at %s:%u (%s)", r->name, r->url.service, host, port,
        how);
    for (int i = ROLE_CMD; i <= ROLE_SUB; i++) {
        link_t *l = &r->links[i];
        if (l->state != L_IDLE && l->state != L_WAIT)
            clu_redis__link_restart(l);
        l->deadline = 0;
        l->attempts = 0;
    }
    clu_redis__emit(r, CLU_REDIS_EV_MASTER);
}

static void on_sentinel_addr(redisAsyncContext *ac, void *reply, void *privdata)
{
    link_t *l = privdata;
    redisReply *rep = reply;
    char host[CLU_REDIS_HOST_MAX];
    if (!rep || l->ac != ac || l->state != L_READY)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof host) {
        clu_redis__link_fail(l, CLU_REDIS_E_REPLY, "sentinel does not know the master");
        return;
    }
    long port = strtol(rep->element[1]->str, NULL, 10);
    if (port <= 0 || port > 65535) {
        clu_redis__link_fail(l, CLU_REDIS_E_REPLY, "sentinel gave a bad port");
        return;
    }
    snprintf(host, sizeof host, "%s", rep->element[0]->str);
    clu_redis__link_finish(l);
    l->r->need_query = false;
    clu_redis__set_master(l->r, host, (uint16_t)port, "sentinel");
}

/* ------------------------------------------------------------------ the watchdog */

static void link_tick(link_t *l, uint64_t t)
{
    switch (l->state) {
    case L_IDLE:
    case L_WAIT:
        if (clu_redis__link_wanted(l) && t >= l->deadline)
            clu_redis__link_start(l, t);
        return;
    case L_RESOLVING:
        if (t >= l->deadline)
            clu_redis__link_fail(l, CLU_REDIS_E_TIMEOUT, "name resolution timed out");
        return;
    case L_CONNECTING:
        if (l->hs_n && l->hs_i == l->hs_n)
            link_ready(l, t);
        else if (t >= l->deadline)
            clu_redis__link_fail(l, CLU_REDIS_E_TIMEOUT, "connect timed out");
        return;
    case L_READY:
        break;
    }
    req_t *q = l->inflight.head;
    if (q && !q->done && t >= q->deadline) {
        /* replies come in order: the connection is stuck behind this command */
        q->done = true;
        if (q->cb)
            q->cb(q->r, CLU_REDIS_E_TIMEOUT, NULL, q->arg);
        clu_redis__link_fail(l, CLU_REDIS_E_TIMEOUT, "command timed out");
        return;
    }
    if (l->deadline && t >= l->deadline)
        clu_redis__link_fail(l, CLU_REDIS_E_TIMEOUT,
                             l->role == ROLE_SENTQ ? "no answer" : "no subscribe confirmation");
}

/* The earliest moment the watchdog has something to do, or UINT64_MAX. */
static uint64_t next_due(const clu_redis_t *r)
{
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < ROLE_COUNT; i++) {
        const link_t *l = &r->links[i];
        uint64_t d = UINT64_MAX;
        if (l->state == L_IDLE || l->state == L_WAIT)
            d = clu_redis__link_wanted(l) ? l->deadline : UINT64_MAX;
        else if (l->state != L_READY || l->deadline)
            d = l->deadline;
        if (l->state == L_CONNECTING && l->hs_n && l->hs_i == l->hs_n)
            d = 0;
        const req_t *q = l->inflight.head;
        if (q && !q->done && q->deadline < d)
            d = q->deadline;
        if (d < due)
            due = d;
    }
    if (r->queue.head && r->queue.head->deadline < due)
        due = r->queue.head->deadline;
    return due;
}

static void on_timer_closed(uv_handle_t *h)
{
    clu_redis_t *r = h->data;
    if (r->on_closed)
        r->on_closed(r);
    free(r);
}

/* Teardown, from the watchdog: every callback still owed runs with CLU_REDIS_E_CLOSED. */
static void finish_close(clu_redis_t *r)
{
    r->timer_closing = true;
    uv_timer_stop(&r->timer);
    clu_redis__fail_queue(r, CLU_REDIS_E_CLOSED);
    for (int i = 0; i < ROLE_COUNT; i++) {
        clu_redis__link_drop(&r->links[i], CLU_REDIS_E_CLOSED);
        r->links[i].state = L_IDLE;
    }
    for (size_t i = 0; i < r->nsubs; i++)
        free(r->subs[i].name);
    free(r->subs);
    r->subs = NULL;
    r->nsubs = 0;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void tick(clu_redis_t *r)
{
    if (r->timer_closing)
        return;
    if (r->closing) {
        finish_close(r);
        return;
    }
    uint64_t t = clu_redis__now_ms(r);
    for (int i = 0; i < ROLE_COUNT && !r->closing; i++)
        link_tick(&r->links[i], t);
    expire_queue(r, t);
    if (r->closing) {
        clu_redis__kick(r);
        return;
    }
    uint64_t due = next_due(r);
    if (due == UINT64_MAX)
        uv_timer_stop(&r->timer);
    else
        uv_timer_start(&r->timer, on_timer, due > t ? due - t : 0, 0);
}

/* ------------------------------------------------------------------ public API */

clu_redis_t *clu_redis_new(uv_loop_t *loop, const clu_redis_config_t *cfg)
{
    if (!cfg || !cfg->url) {
        LOG(LOG_ERROR, "redis: no URL configured");
        return NULL;
    }
    clu_redis_t *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->url = *cfg->url;
    r->cbs = cfg->cbs;
    r->user = cfg->user;
    snprintf(r->name, sizeof r->name, "%s", cfg->name ? cfg->name : "redis");
    snprintf(r->sentinel_password, sizeof r->sentinel_password, "%s",
             cfg->sentinel_password ? cfg->sentinel_password : "");
    r->connect_timeout = DEF(cfg->connect_timeout_ms, 2000);
    r->command_timeout = DEF(cfg->command_timeout_ms, 5000);
    r->backoff_min = DEF(cfg->backoff_min_ms, 50);
    r->backoff_max = DEF(cfg->backoff_max_ms, 1000);
    if (r->backoff_max < r->backoff_min)
        r->backoff_max = r->backoff_min;
    r->max_queue = DEF(cfg->max_queue, 1024);
    r->max_queue_bytes = DEF(cfg->max_queue_bytes, (size_t)8 << 20);
    r->max_unsent = DEF(cfg->max_unsent_bytes, (size_t)64 << 20);
    r->max_message = DEF(cfg->max_message, (size_t)16 << 20);
    r->sentinel_mode = r->url.n_sentinels > 0;
    r->need_query = r->sentinel_mode;
    r->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)r) | 1;
    for (int i = 0; i < ROLE_COUNT; i++) {
        r->links[i].r = r;
        r->links[i].role = (role_t)i;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    clu_redis__kick(r);
    return r;
}

void clu_redis_close(clu_redis_t *r, clu_redis_close_cb on_closed)
{
    if (r->closing)
        return;
    r->closing = true;
    r->on_closed = on_closed;
    clu_redis__kick(r);
}

void *clu_redis_get_user(const clu_redis_t *r)
{
    return r->user;
}

void clu_redis_set_user(clu_redis_t *r, void *user)
{
    r->user = user;
}

bool clu_redis_is_ready(const clu_redis_t *r)
{
    return !r->closing && r->links[ROLE_CMD].state == L_READY;
}

int clu_redis_server(const clu_redis_t *r, char *host, size_t cap, uint16_t *port)
{
    if (r->sentinel_mode && !r->master_known)
        return -1;
    snprintf(host, cap, "%s", r->sentinel_mode ? r->master_host : r->url.addr.host);
    *port = r->sentinel_mode ? r->master_port : r->url.unix_socket ? 0 : r->url.addr.port;
    return 0;
}

/* True when the formatted command's name is one that would switch the command
 * connection into pub/sub or monitor mode. */
static bool is_mode_command(const char *cmd, size_t len)
{
    static const char *const names[] = {"subscribe", "psubscribe", "unsubscribe", "punsubscribe",
                                        "monitor",   "ssubscribe", "sunsubscribe"};
    const char *d = memchr(cmd, '$', len);
    if (!d)
        return false;
    const char *nl = memchr(d, '\n', len - (size_t)(d - cmd));
    long n = strtol(d + 1, NULL, 10);
    if (!nl || n <= 0 || (size_t)(nl + 1 - cmd) + (size_t)n > len)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i]) == (size_t)n && strncasecmp(nl + 1, names[i], (size_t)n) == 0)
            return true;
    }
    return false;
}

/*
 * Takes ownership of a formatted command: sends it when the CMD link is ready, queues it
 * while a connection is being made, or refuses it (freeing it) with the status.
 */
static int submit(clu_redis_t *r, char *cmd, int len, clu_redis_reply_cb cb, void *arg)
{
    link_t *l = &r->links[ROLE_CMD];
    int rc = 0;
    if (len < 0)
        return UV_ENOMEM;
    if (r->closing)
        rc = CLU_REDIS_E_CLOSED;
    else if ((size_t)len > r->max_message + 65536)
        rc = CLU_REDIS_E_TOO_BIG;
    else if (is_mode_command(cmd, (size_t)len))
        rc = CLU_REDIS_E_ARG;
    else if (l->state == L_READY && sdslen(l->ac->c.obuf) + (size_t)len > r->max_unsent)
        rc = CLU_REDIS_E_QUEUE_FULL;
    if (rc) {
        redisFreeCommand(cmd);
        return rc;
    }
    req_t *q = xcalloc(1, sizeof *q);
    q->r = r;
    q->cb = cb;
    q->arg = arg;
    q->deadline = clu_redis__now_ms(r) + r->command_timeout;
    if (l->state == L_READY && send_req(l, q, cmd, (size_t)len) == 0) {
        redisFreeCommand(cmd);
        if (l->inflight.n == 1)
            clu_redis__kick(
                r); /* otherwise an older command's deadline already arms the watchdog */
        return 0;
    }
    if (l->outage)
        rc = CLU_REDIS_E_DOWN;
    else if (r->queue.n >= r->max_queue || r->queue.bytes + (size_t)len > r->max_queue_bytes)
        rc = CLU_REDIS_E_QUEUE_FULL;
    if (rc) {
        free(q);
        redisFreeCommand(cmd);
        return rc;
    }
    q->cmd = cmd;
    q->len = (size_t)len;
    list_push(&r->queue, q);
    if (r->queue.n == 1)
        clu_redis__kick(r);
    return 0;
}

int clu_redis_command(clu_redis_t *r, clu_redis_reply_cb cb, void *arg, int argc,
                      const slice_t *argv)
{
    const char *av[16], **pv = av;
    size_t lv[16], *pl = lv;
    char *cmd = NULL;
    if (argc <= 0)
        return CLU_REDIS_E_ARG;
    if (argc > 16) {
        pv = xmalloc((size_t)argc * sizeof *pv);
        pl = xmalloc((size_t)argc * sizeof *pl);
    }
    for (int i = 0; i < argc; i++) {
        pv[i] = argv[i].len ? (const char *)argv[i].ptr : "";
        pl[i] = argv[i].len;
    }
    int len = redisFormatCommandArgv(&cmd, argc, pv, pl);
    if (pv != av) {
        free(pv);
        free(pl);
    }
    return submit(r, cmd, len, cb, arg);
}

int clu_redis_commandf(clu_redis_t *r, clu_redis_reply_cb cb, void *arg, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return CLU_REDIS_E_ARG;
    return submit(r, cmd, len, cb, arg);
}

int clu_redis_publish(clu_redis_t *r, slice_t channel, slice_t payload, clu_redis_reply_cb cb,
                      void *arg)
{
    if (payload.len > r->max_message)
        return r->closing ? CLU_REDIS_E_CLOSED : CLU_REDIS_E_TOO_BIG;
    slice_t argv[3] = {SLICE_LIT("PUBLISH"), channel, payload};
    return clu_redis_command(r, cb, arg, 3, argv);
}

static int sub_find(const clu_redis_t *r, slice_t name, bool pattern)
{
    for (size_t i = 0; i < r->nsubs; i++) {
        if (r->subs[i].pattern == pattern && r->subs[i].len == name.len &&
            memcmp(r->subs[i].name, name.ptr, name.len) == 0)
            return (int)i;
    }
    return -1;
}

static int subscribe(clu_redis_t *r, slice_t name, bool pattern)
{
    if (r->closing)
        return CLU_REDIS_E_CLOSED;
    if (name.len == 0)
        return CLU_REDIS_E_ARG;
    if (sub_find(r, name, pattern) >= 0)
        return 0;
    if (r->nsubs == r->subs_cap) {
        r->subs_cap = r->subs_cap ? 2 * r->subs_cap : 8;
        r->subs = xrealloc(r->subs, r->subs_cap * sizeof *r->subs);
    }
    sub_t *s = &r->subs[r->nsubs++];
    s->name = xstrndup((const char *)name.ptr, name.len);
    s->len = name.len;
    s->pattern = pattern;
    link_t *l = &r->links[ROLE_SUB];
    const sub_t *one = s;
    if (l->state == L_READY)
        send_sub_cmd(l, pattern ? "PSUBSCRIBE" : "SUBSCRIBE", &one, 1, true);
    clu_redis__kick(r);
    return 0;
}

static int unsubscribe(clu_redis_t *r, slice_t name, bool pattern)
{
    int i = sub_find(r, name, pattern);
    if (i < 0)
        return CLU_REDIS_E_ARG;
    link_t *l = &r->links[ROLE_SUB];
    sub_t s = r->subs[i];
    const sub_t *one = &s;
    if (l->state == L_READY)
        send_sub_cmd(l, pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", &one, 1, false);
    free(s.name);
    r->subs[i] = r->subs[--r->nsubs];
    return 0;
}

int clu_redis_subscribe(clu_redis_t *r, slice_t channel)
{
    return subscribe(r, channel, false);
}

int clu_redis_psubscribe(clu_redis_t *r, slice_t pattern)
{
    return subscribe(r, pattern, true);
}

int clu_redis_unsubscribe(clu_redis_t *r, slice_t channel)
{
    return unsubscribe(r, channel, false);
}

int clu_redis_punsubscribe(clu_redis_t *r, slice_t pattern)
{
    return unsubscribe(r, pattern, true);
}

/* ------------------------------------------------------------------ replies */

static const redisReply *rr(const clu_redis_reply_t *rep)
{
    return (const redisReply *)rep;
}

clu_redis_reply_type_t clu_redis_reply_type(const clu_redis_reply_t *rep)
{
    return (clu_redis_reply_type_t)rr(rep)->type;
}

slice_t clu_redis_reply_str(const clu_redis_reply_t *rep)
{
    const redisReply *x = rr(rep);
    bool text = x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS ||
                x->type == REDIS_REPLY_ERROR;
    return text ? slice_make(x->str, x->len) : slice_make(NULL, 0);
}

long long clu_redis_reply_int(const clu_redis_reply_t *rep)
{
    return rr(rep)->type == REDIS_REPLY_INTEGER ? rr(rep)->integer : 0;
}

size_t clu_redis_reply_len(const clu_redis_reply_t *rep)
{
    return rr(rep)->type == REDIS_REPLY_ARRAY ? rr(rep)->elements : 0;
}

const clu_redis_reply_t *clu_redis_reply_at(const clu_redis_reply_t *rep, size_t i)
{
    const redisReply *x = rr(rep);
    if (x->type != REDIS_REPLY_ARRAY || i >= x->elements)
        return NULL;
    return (const clu_redis_reply_t *)x->element[i];
}
