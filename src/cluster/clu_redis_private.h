/*
 * clu_redis_private: the structures of the Redis client shared by its two halves
 * (cluster layer): clu_redis.c (requests, subscriptions, Sentinel discovery, the
 * watchdog, the public API) and clu_redis_link.c (connections: the hiredis event hooks,
 * name resolution, connect, handshake, failure and backoff). See clu_redis.h and the
 * comment at the top of clu_redis.c for the link state machine.
 *
 * Ownership: the client owns its links, requests and subscriptions. Threading: the loop
 * thread only.
 */
#ifndef SIOC_CLU_REDIS_PRIVATE_H
#define SIOC_CLU_REDIS_PRIVATE_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/clu_redis.h"

#define DEF(v, d) ((v) ? (v) : (d))
#define SUB_CHUNK 128

typedef enum role { ROLE_CMD, ROLE_SUB, ROLE_SENTQ, ROLE_SENTSUB, ROLE_COUNT } role_t;
typedef enum lstate { L_IDLE, L_WAIT, L_RESOLVING, L_CONNECTING, L_READY } lstate_t;
typedef enum hs_step { HS_AUTH, HS_SELECT, HS_ROLE, HS_PING } hs_step_t;

static const char *const clu_redis__role_names[ROLE_COUNT] = {"command", "subscriber", "sentinel",
                                                              "sentinel-watch"};

typedef struct req req_t;
typedef struct link link_t;

/* A FIFO of requests (the wait queue, or a link's in-flight commands). */
typedef struct reqlist {
    req_t *head, *tail;
    size_t n;     /* entries */
    size_t bytes; /* formatted bytes held (wait queue only) */
} reqlist_t;

/* One submitted command, from submission to its single callback. */
struct req {
    req_t *prev, *next; /* in r->queue or the CMD link's inflight list */
    clu_redis_t *r;
    clu_redis_reply_cb cb; /* may be NULL */
    void *arg;
    uint64_t deadline; /* ms (uv_now) */
    char *cmd;         /* formatted command while waiting in r->queue (hiredis') */
    size_t len;
    int fail_status; /* what a NULL reply means for it */
    bool done;       /* callback already ran (timed out): only the reply is awaited */
};

/* The event-library glue of one hiredis context (STYLE rule 23). Lives until the poll
 * handle's close callback, which may come after the link has moved on. */
typedef struct evhook {
    uv_poll_t poll;
    redisAsyncContext *ac; /* NULL once hiredis cleaned up */
    link_t *link;          /* NULL once the link let go of this context */
    int events;            /* UV_READABLE | UV_WRITABLE wanted by hiredis */
} evhook_t;

/* A pending name resolution; orphaned (link NULL) when the link gives up first. */
typedef struct gai {
    uv_getaddrinfo_t req;
    link_t *link;
    uint16_t port;
} gai_t;

struct link {
    clu_redis_t *r;
    role_t role;
    lstate_t state;
    redisAsyncContext *ac; /* current context, NULL when none */
    evhook_t *ev;          /* its hooks */
    gai_t *gai;            /* RESOLVING: the lookup */
    uint64_t deadline;     /* WAIT: retry at; CONNECTING: give up at; READY: acks/answer due */
    unsigned attempts;     /* failures in a row (backoff) */
    bool outage;           /* an attempt failed since the last READY: fail fast */
    bool logged_down;      /* the outage was logged: log the recovery */
    uint8_t hs[4];         /* handshake steps sent */
    int hs_n, hs_i;        /* how many, and the next reply expected */
    uint64_t epoch;        /* the master epoch the attempt was made for */
    unsigned sentinel;     /* sentinel links: index into url.sentinels */
    reqlist_t inflight;    /* CMD: commands handed to hiredis, oldest first */
    size_t sub_acks;       /* SUB/SENTSUB: subscribe confirmations still due */
    char target[CLU_REDIS_HOST_MAX + 8]; /* "host:port" of the attempt, for logs */
};

/* A remembered subscription. */
typedef struct sub {
    char *name;   /* channel or pattern (heap copy, NUL-terminated) */
    size_t len;   /* its length (binary-safe) */
    bool pattern; /* PSUBSCRIBE rather than SUBSCRIBE */
} sub_t;

struct clu_redis {
    uv_loop_t *loop;                      /* the loop everything runs on (borrowed) */
    uv_timer_t timer;                     /* the watchdog: every deadline and deferred step */
    clu_redis_url_t url;                  /* where to connect (copy) */
    const clu_redis_callbacks_t *cbs;     /* the owner's callbacks (borrowed, may be NULL) */
    void *user;                           /* clu_redis_get_user */
    char name[32];                        /* log tag */
    char sentinel_password[256];          /* AUTH for sentinels ("" = none) */
    uint32_t connect_timeout;             /* ms, connect + handshake */
    uint32_t command_timeout;             /* ms, per command and per subscribe confirmation */
    uint32_t backoff_min, backoff_max;    /* ms, reconnect delay range */
    uint32_t max_queue;                   /* commands in r->queue */
    size_t max_queue_bytes;               /* their bytes */
    size_t max_unsent;                    /* bytes in hiredis' output buffer */
    size_t max_message;                   /* PUBLISH payload bound */
    link_t links[ROLE_COUNT];             /* the connections, by role */
    reqlist_t queue;                      /* commands waiting for the CMD link */
    sub_t *subs;                          /* remembered subscriptions (heap array) */
    size_t nsubs, subs_cap;               /* used / allocated entries */
    bool sentinel_mode;                   /* the URL lists sentinels */
    bool master_known;                    /* Sentinel mode: master_host/port are valid */
    bool need_query;                      /* ask the sentinels (again) */
    char master_host[CLU_REDIS_HOST_MAX]; /* Sentinel mode: the master's address */
    uint16_t master_port;
    uint64_t epoch;               /* bumped when the master address changes */
    uint64_t rng;                 /* xorshift state for jitter */
    bool closing;                 /* clu_redis_close was called */
    bool timer_closing;           /* teardown ran: no more kicks */
    clu_redis_close_cb on_closed; /* the last callback */
};

/* ---- shared between clu_redis.c and clu_redis_link.c (clu_redis__ infix) --------- */

/** The loop's clock in ms. */
uint64_t clu_redis__now_ms(const clu_redis_t *r);
/** Schedules the watchdog to run next turn. */
void clu_redis__kick(clu_redis_t *r);
/** Reports a state change to the owner. */
void clu_redis__emit(clu_redis_t *r, clu_redis_event_t ev);
/** The reconnect delay after `attempts` failures (exponential, with jitter). */
uint64_t clu_redis__backoff(clu_redis_t *r, unsigned attempts);
/** Fails every queued command with `status`. */
void clu_redis__fail_queue(clu_redis_t *r, int status);
/** True for the links that talk to the master (CMD, SUB). */
bool clu_redis__is_master_link(const link_t *l);
/** Asks the sentinels for the master (again). */
void clu_redis__request_query(clu_redis_t *r);
/** Sentinel mode: records the master's address (`how` for the log). */
void clu_redis__set_master(clu_redis_t *r, const char *host, uint16_t port, const char *how);

/** Drops the link's context with `status` for its in-flight commands. */
void clu_redis__link_drop(link_t *l, int status);
/** A connection attempt or connection failed: log, drop, back off. */
void clu_redis__link_fail(link_t *l, int status, const char *why);
/** Drops the link for good (client closing). */
void clu_redis__link_finish(link_t *l);
/** Drops and re-establishes the link at once. */
void clu_redis__link_restart(link_t *l);
/** True when the link should be connected. */
bool clu_redis__link_wanted(const link_t *l);
/** Starts a connection attempt (resolve, connect, handshake). */
void clu_redis__link_start(link_t *l, uint64_t t);

#endif
