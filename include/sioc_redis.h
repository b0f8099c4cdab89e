/*
 * sioc_redis: an asynchronous Redis client on a sioc server's loop (public API, the thin
 * face of the library's internal client for programs built on sioc).
 *
 * What: binary-safe commands (argv + lengths) whose replies come back in a callback,
 * PUBLISH, SUBSCRIBE/PSUBSCRIBE with messages delivered through one callback, and a
 * state callback that reports when the command connection is up or down. The client
 * connects from a URL (redis://[[user]:password@]host[:port][/db], unix://path,
 * redis+sentinel://h1:p1,h2:p2/db/service) or, as Open WebUI does, from a URL whose host
 * names the Sentinel service plus a comma list of sentinel hosts and one port. It never
 * blocks the loop: connect and command timeouts, reconnection with backoff and jitter,
 * re-subscription after a reconnect and Sentinel failover are handled inside.
 *
 * Outages: while Redis is unreachable, commands fail at once with SIOC_REDIS_EDOWN (a
 * short bounded queue covers a reconnect in progress); nothing waits without bound. The
 * outage is logged once when it starts and once when it ends.
 *
 * Ownership: sioc_redis_new copies the options. Command arguments are copied before the
 * call returns. A reply is valid only during the callback it is passed to. The client is
 * freed asynchronously by sioc_redis_close (the loop must run afterwards for it to
 * finish); close it before freeing the server whose loop it uses.
 *
 * Callbacks: a command that returns 0 runs its callback exactly once, with the reply or
 * with an error status and a NULL reply (timeout, connection lost, outage, client
 * closed; also during sioc_redis_close). A command that returns an error never runs its
 * callback. Every callback may call any function here, sioc_redis_close included.
 *
 * Threading: the loop thread only, like the rest of sioc.
 * Spec: RESP2; Redis Sentinel client guidelines; openwebui-protocol.md §1.2 (settings).
 */
#ifndef SIOC_REDIS_H
#define SIOC_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes of this client (negative; 0 is success). */
enum {
    SIOC_REDIS_EDOWN = -30001,         /* Redis unavailable (outage) */
    SIOC_REDIS_ETIMEDOUT = -30002,     /* the command timed out */
    SIOC_REDIS_EDISCONNECTED = -30003, /* the connection was lost before the reply */
    SIOC_REDIS_ECLOSED = -30004,       /* the client is closed */
    SIOC_REDIS_EQUEUE = -30005,        /* too much queued */
    SIOC_REDIS_ETOOBIG = -30006,       /* larger than the configured bound */
    SIOC_REDIS_EREPLY = -30007,        /* Redis answered with an error reply */
    SIOC_REDIS_EARG = -30008           /* bad argument */
};

/** A static description of a SIOC_REDIS_E* code. */
const char *sioc_redis_strerror(int status);

typedef struct sioc_redis sioc_redis_t;             /* a client (opaque) */
typedef struct sioc_redis_reply sioc_redis_reply_t; /* a reply (opaque, borrowed) */

/** Reply types (RESP2). */
typedef enum sioc_redis_type {
    SIOC_REDIS_STRING = 1,
    SIOC_REDIS_ARRAY,
    SIOC_REDIS_INTEGER,
    SIOC_REDIS_NIL,
    SIOC_REDIS_STATUS,
    SIOC_REDIS_ERROR
} sioc_redis_type_t;

/** The reply's type. */
sioc_redis_type_t sioc_redis_reply_type(const sioc_redis_reply_t *rep);
/** The bytes of a STRING, STATUS or ERROR reply (empty otherwise); borrowed like `rep`. */
sioc_str_t sioc_redis_reply_str(const sioc_redis_reply_t *rep);
/** The value of an INTEGER reply (0 otherwise). */
long long sioc_redis_reply_int(const sioc_redis_reply_t *rep);
/** The number of elements of an ARRAY reply (0 otherwise). */
size_t sioc_redis_reply_len(const sioc_redis_reply_t *rep);
/** Element `i` of an ARRAY reply, or NULL when out of range; borrowed like `rep`. */
const sioc_redis_reply_t *sioc_redis_reply_at(const sioc_redis_reply_t *rep, size_t i);

/**
 * A command's completion: `status` 0 with the reply, SIOC_REDIS_EREPLY with the error
 * reply (its text through sioc_redis_reply_str), or another error with `rep` NULL.
 */
typedef void (*sioc_redis_reply_cb)(sioc_redis_t *r, int status, const sioc_redis_reply_t *rep,
                                    void *arg);

/** A pub/sub message: `pattern` is empty for a SUBSCRIBE channel. Borrowed for the call. */
typedef void (*sioc_redis_message_cb)(sioc_redis_t *r, sioc_str_t pattern, sioc_str_t channel,
                                      sioc_str_t payload, void *arg);

/** The command connection became ready (`up` true) or was lost (`up` false). */
typedef void (*sioc_redis_state_cb)(sioc_redis_t *r, bool up, void *arg);

/** Options; zero fields take the defaults in brackets. Borrowed for sioc_redis_new. */
typedef struct sioc_redis_options {
    const char *url;                  /* required (see the header comment) */
    const char *sentinel_hosts;       /* Open WebUI's comma list [none]: the URL's host is then
                                         the service name */
    int sentinel_port;                /* port of every sentinel host [26379] */
    const char *name;                 /* tag in log lines ["redis"] */
    uint32_t connect_timeout_ms;      /* TCP connect + handshake [2000] */
    uint32_t command_timeout_ms;      /* per command [5000] */
    size_t max_message;               /* PUBLISH payload bound [16 MiB] */
    sioc_redis_message_cb on_message; /* pub/sub messages [none] */
    sioc_redis_state_cb on_state;     /* connection state [none] */
    void *arg;                        /* passed to every callback of the client */
} sioc_redis_options_t;

/**
 * Creates a client on the loop of `srv` and starts connecting at once. Returns NULL with
 * a one-line reason in `err` when the options are unusable (bad URL, TLS asked for).
 */
sioc_redis_t *sioc_redis_new(sioc_server_t *srv, const sioc_redis_options_t *opt, char *err,
                             size_t errlen);

/**
 * Closes the client: pending commands complete with SIOC_REDIS_ECLOSED, connections are
 * dropped, and the memory is freed once the loop has run (asynchronously). NULL-safe;
 * safe inside any callback of the client.
 */
void sioc_redis_close(sioc_redis_t *r);

/** True while the command connection is ready. */
bool sioc_redis_is_ready(const sioc_redis_t *r);

/**
 * Sends a command given as `argc` binary-safe arguments (argv[0] is the command name).
 * Returns 0 (`cb`, which may be NULL, runs exactly once later) or an error without a
 * callback: SIOC_REDIS_ECLOSED, SIOC_REDIS_EDOWN, SIOC_REDIS_EQUEUE, SIOC_REDIS_ETOOBIG,
 * SIOC_REDIS_EARG (no arguments, or a pub/sub command: use the subscribe functions).
 */
int sioc_redis_command(sioc_redis_t *r, sioc_redis_reply_cb cb, void *arg, int argc,
                       const sioc_str_t *argv);

/** PUBLISH `payload` on `channel`; returns as sioc_redis_command (SIOC_REDIS_ETOOBIG past
 *  max_message, with nothing written). The reply is the number of receivers. */
int sioc_redis_publish(sioc_redis_t *r, sioc_str_t channel, sioc_str_t payload,
                       sioc_redis_reply_cb cb, void *arg);

/** SUBSCRIBE `channel` (kept across reconnections; messages go to on_message). Returns
 *  0, SIOC_REDIS_ECLOSED or SIOC_REDIS_EARG. Subscribing twice is a no-op. */
int sioc_redis_subscribe(sioc_redis_t *r, sioc_str_t channel);
/** PSUBSCRIBE `pattern`, like sioc_redis_subscribe. */
int sioc_redis_psubscribe(sioc_redis_t *r, sioc_str_t pattern);
/** Forgets a SUBSCRIBE. Returns 0 or SIOC_REDIS_EARG (no such subscription). */
int sioc_redis_unsubscribe(sioc_redis_t *r, sioc_str_t channel);

#ifdef __cplusplus
}
#endif

#endif
