/*
 * clu_redis: an asynchronous Redis client on the libuv loop, for the Redis adapter and the
 * shared pools (cluster layer).
 *
 * It wraps hiredis 0.14.1's async API (RESP2) behind its own event hooks (STYLE rule 23:
 * Debian's libuv adapter ignores poll errors and has no timer) and adds what 0.14.1
 * lacks, all driven by one uv_timer_t watchdog per client:
 *   - two server connections: one for commands and PUBLISH, one for SUBSCRIBE/PSUBSCRIBE
 *     (a subscribed connection cannot run commands), opened when first needed;
 *   - a connect timeout (TCP connect plus the AUTH/SELECT/PING handshake) and a
 *     per-command timeout; a command that times out fails with CLU_REDIS_E_TIMEOUT and,
 *     since RESP replies come in order and the connection is evidently stuck, the
 *     connection is dropped and re-established;
 *   - reconnection with exponential backoff and jitter; the subscriptions are remembered
 *     and re-issued on every new subscriber connection;
 *   - AUTH [user] password and SELECT db from the URL (clu_redis_url.h);
 *   - Sentinel: the master's address is asked from the configured sentinels in turn
 *     (SENTINEL get-master-addr-by-name), checked with ROLE, and followed through
 *     `+switch-master` on a subscribed sentinel connection; a master connection that
 *     fails makes the client ask again;
 *   - host names are resolved with uv_getaddrinfo (hiredis would block the loop in
 *     getaddrinfo); TCP keepalive is on.
 *
 * Outages. While the command connection is being re-established after a drop, commands
 * wait in a bounded queue (count and bytes) for up to the command timeout. Once a
 * connection attempt has failed, the client is in an outage: queued commands fail with
 * CLU_REDIS_E_DOWN and new ones fail at once with the same code, until a connection is
 * ready again. The outage is logged once when it starts and once when it ends, never per
 * command. While connected, unsent bytes are bounded too (CLU_REDIS_E_QUEUE_FULL), and a
 * PUBLISH payload above `max_message` is refused before anything is written
 * (CLU_REDIS_E_TOO_BIG), so an oversize event can never jam the connection.
 *
 * Callbacks run exactly once (STYLE rule 17). A submission that returns an error never
 * calls its callback; one that returns 0 always does: with the reply, or with an error
 * status (timeout, connection lost, outage, client closed) and a NULL reply, including
 * during clu_redis_close.
 *
 * Ownership: clu_redis_new copies the configuration (the callbacks table is borrowed and
 * must outlive the client). Arguments of the submission calls are copied before they
 * return. A reply passed to a callback is valid only during that callback. The client is
 * freed asynchronously by clu_redis_close; `on_closed` is its last callback.
 * Threading: the loop thread only. Every callback may call any function of this module,
 * including clu_redis_close (destruction is deferred to the watchdog, STYLE rule 15).
 * Spec: RESP2 (redis.io/docs/reference/protocol-spec); Redis Sentinel client guidelines
 * (redis.io/docs/reference/sentinel-clients); openwebui-protocol.md §1.2 (URL and
 * sentinel settings), redis-adapter-protocol.md §6 item 1 (two connections).
 */
#ifndef SIOC_CLU_REDIS_H
#define SIOC_CLU_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/slice.h"
#include "cluster/clu_redis_url.h"

/* Status codes: 0 or one of these (a range of its own, below libuv's UV_E* values). */
#define CLU_REDIS_ERRORS(X)                                                                        \
    X(CLU_REDIS_E_DOWN, -30001, "redis: unavailable (outage)")                                     \
    X(CLU_REDIS_E_TIMEOUT, -30002, "redis: command timed out")                                     \
    X(CLU_REDIS_E_DISCONNECTED, -30003, "redis: connection lost before the reply")                 \
    X(CLU_REDIS_E_CLOSED, -30004, "redis: client closed")                                          \
    X(CLU_REDIS_E_QUEUE_FULL, -30005, "redis: too much queued")                                    \
    X(CLU_REDIS_E_TOO_BIG, -30006, "redis: message larger than max_message")                       \
    X(CLU_REDIS_E_REPLY, -30007, "redis: error reply")                                             \
    X(CLU_REDIS_E_ARG, -30008, "redis: bad argument")

enum clu_redis_status {
#define CLU_REDIS_ENUM(name, value, text) name = value,
    CLU_REDIS_ERRORS(CLU_REDIS_ENUM)
#undef CLU_REDIS_ENUM
};

/** A static text for a status (ours, or a libuv one through uv_strerror). */
const char *clu_redis_strerror(int status);

typedef struct clu_redis clu_redis_t;

/** A reply (opaque; valid only during the callback it is passed to). */
typedef struct clu_redis_reply clu_redis_reply_t;

/** Reply types (RESP2). */
typedef enum clu_redis_reply_type {
    CLU_REDIS_REPLY_STRING = 1,
    CLU_REDIS_REPLY_ARRAY,
    CLU_REDIS_REPLY_INTEGER,
    CLU_REDIS_REPLY_NIL,
    CLU_REDIS_REPLY_STATUS,
    CLU_REDIS_REPLY_ERROR,
} clu_redis_reply_type_t;

/** The reply's type. */
clu_redis_reply_type_t clu_redis_reply_type(const clu_redis_reply_t *rep);
/** The bytes of a STRING, STATUS or ERROR reply (empty otherwise). */
slice_t clu_redis_reply_str(const clu_redis_reply_t *rep);
/** The value of an INTEGER reply (0 otherwise). */
long long clu_redis_reply_int(const clu_redis_reply_t *rep);
/** The number of elements of an ARRAY reply (0 otherwise). */
size_t clu_redis_reply_len(const clu_redis_reply_t *rep);
/** Element `i` of an ARRAY reply, or NULL when out of range. */
const clu_redis_reply_t *clu_redis_reply_at(const clu_redis_reply_t *rep, size_t i);

/**
 * A command's completion: `status` 0 with the reply; CLU_REDIS_E_REPLY with the error
 * reply (read its text with clu_redis_reply_str); or another error with `rep` NULL.
 */
typedef void (*clu_redis_reply_cb)(clu_redis_t *r, int status, const clu_redis_reply_t *rep,
                                   void *arg);

/** What the client reports through clu_redis_callbacks_t.on_event. */
typedef enum clu_redis_event {
    CLU_REDIS_EV_READY = 1, /* the command connection is (again) ready */
    CLU_REDIS_EV_DOWN,      /* the command connection was lost (once per drop) */
    CLU_REDIS_EV_SUB_READY, /* subscriber connected and every subscription confirmed */
    CLU_REDIS_EV_SUB_DOWN,  /* the subscriber connection was lost */
    CLU_REDIS_EV_MASTER,    /* Sentinel: the master's address was learnt or changed */
} clu_redis_event_t;

/** The client's callbacks (a const table the caller keeps alive; entries may be NULL). */
typedef struct clu_redis_callbacks {
    /**
     * A pub/sub message: `pattern` is empty for a SUBSCRIBE channel, the matching
     * pattern for a PSUBSCRIBE one. The slices are valid during the call only.
     */
    void (*on_message)(clu_redis_t *r, slice_t pattern, slice_t channel, slice_t payload);
    /** A state change (see clu_redis_event_t). */
    void (*on_event)(clu_redis_t *r, clu_redis_event_t ev);
} clu_redis_callbacks_t;

/** Configuration; zero fields take the defaults in brackets. */
typedef struct clu_redis_config {
    const clu_redis_url_t *url;       /* where (copied); required */
    const char *name;                 /* tag for log lines ["redis"] (copied, 31 chars) */
    const clu_redis_callbacks_t *cbs; /* borrowed; may be NULL */
    void *user;                       /* clu_redis_get_user */
    const char *sentinel_password;    /* AUTH for the sentinels [none] (copied) */
    uint32_t connect_timeout_ms;      /* TCP connect + handshake [2000] */
    uint32_t command_timeout_ms;      /* per command [5000] */
    uint32_t backoff_min_ms;          /* first reconnect delay [50] */
    uint32_t backoff_max_ms;          /* longest reconnect delay [1000] */
    uint32_t max_queue;               /* commands waiting for a connection [1024] */
    size_t max_queue_bytes;           /* their bytes [8 MiB] */
    size_t max_unsent_bytes;          /* bytes not yet written while connected [64 MiB] */
    size_t max_message;               /* PUBLISH payload bound [16 MiB] */
} clu_redis_config_t;

/**
 * Creates a client on `loop` and starts connecting the command connection at once (and
 * the sentinels first in Sentinel mode). Returns NULL (with a log line) when the
 * configuration is unusable. Never blocks.
 */
clu_redis_t *clu_redis_new(uv_loop_t *loop, const clu_redis_config_t *cfg);

/** Called once when a closed client has released everything; `r` is freed after it. */
typedef void (*clu_redis_close_cb)(clu_redis_t *r);

/**
 * Closes the client: pending and queued commands complete with CLU_REDIS_E_CLOSED (from
 * the watchdog, after this returns), connections are dropped, then `on_closed` (may be
 * NULL) runs and the memory is freed. Later submissions return CLU_REDIS_E_CLOSED.
 * Idempotent; safe inside any callback of the client.
 */
void clu_redis_close(clu_redis_t *r, clu_redis_close_cb on_closed);

/** The `user` pointer given in the configuration (or set later). */
void *clu_redis_get_user(const clu_redis_t *r);
/** Replaces the `user` pointer. */
void clu_redis_set_user(clu_redis_t *r, void *user);

/** True while the command connection is ready. */
bool clu_redis_is_ready(const clu_redis_t *r);

/**
 * Sends a command given as binary-safe arguments (argv[0] is the command name).
 * Returns 0 (the callback, which may be NULL, will run exactly once) or an error, with no
 * callback: CLU_REDIS_E_CLOSED, CLU_REDIS_E_DOWN (outage), CLU_REDIS_E_QUEUE_FULL,
 * CLU_REDIS_E_TOO_BIG (longer than max_message plus 64 KiB), CLU_REDIS_E_ARG (no
 * arguments, or a pub/sub mode command: use the subscribe functions).
 */
int clu_redis_command(clu_redis_t *r, clu_redis_reply_cb cb, void *arg, int argc,
                      const slice_t *argv);

/** Like clu_redis_command with hiredis' printf-like format (`%s` C string, `%b` pointer +
 *  size_t length, `%d`/`%lld` integers; each space-separated word is one argument). */
int clu_redis_commandf(clu_redis_t *r, clu_redis_reply_cb cb, void *arg, const char *fmt, ...);

/**
 * PUBLISH `payload` on `channel` through the command connection. Returns as
 * clu_redis_command; CLU_REDIS_E_TOO_BIG when the payload exceeds max_message (nothing is
 * written then). The reply, when it comes, is the number of receivers.
 */
int clu_redis_publish(clu_redis_t *r, slice_t channel, slice_t payload, clu_redis_reply_cb cb,
                      void *arg);

/**
 * Subscribes to `channel` (SUBSCRIBE) / `pattern` (PSUBSCRIBE). The subscription is
 * remembered and re-issued after every reconnection; messages arrive through
 * cbs->on_message. Subscribing twice is a no-op. Returns 0, CLU_REDIS_E_CLOSED or
 * CLU_REDIS_E_ARG (empty name).
 */
int clu_redis_subscribe(clu_redis_t *r, slice_t channel);
/** Like clu_redis_subscribe for a PSUBSCRIBE pattern. */
int clu_redis_psubscribe(clu_redis_t *r, slice_t pattern);

/** Forgets a subscription (and UNSUBSCRIBEs / PUNSUBSCRIBEs when connected). Returns 0,
 *  or CLU_REDIS_E_ARG when there was no such subscription. */
int clu_redis_unsubscribe(clu_redis_t *r, slice_t channel);
/** Like clu_redis_unsubscribe for a pattern. */
int clu_redis_punsubscribe(clu_redis_t *r, slice_t pattern);

/**
 * The address the master connections use (the URL's, or the one the sentinels gave):
 * copies the host into `host` (NUL-terminated, truncated to `cap`) and stores the port.
 * Returns 0, or -1 when not known yet (Sentinel mode before the first answer).
 */
int clu_redis_server(const clu_redis_t *r, char *host, size_t cap, uint16_t *port);

#endif
