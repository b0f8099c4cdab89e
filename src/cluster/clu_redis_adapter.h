/*
 * clu_redis_adapter: the Redis adapter — Socket.IO rooms and broadcasts across processes
 * and machines joined through Redis pub/sub (cluster layer).
 *
 * One clu_cluster_t per server owns the Redis client (clu_redis.h) and the node's
 * identity; the adapter (sio_adapter_ops_t clu_redis_adapter_ops, one instance per
 * namespace, created with the cluster as its config pointer) keeps the local rooms in a
 * sio_rooms index exactly as clu_local does, delivers locally through sio_socket_deliver,
 * and forwards every non-LOCAL broadcast and socketsJoin/Leave/disconnectSockets to the
 * other nodes in the configured wire format:
 *   - "socketio": @socket.io/redis-adapter 8.x classic (clu_redis_sio.c): PSUBSCRIBE
 *     `<key>#<nsp>#*`, the request/response channels, server count by PUBSUB NUMSUB on
 *     the request channel; also accepts @socket.io/redis-emitter traffic.
 * Receiving nodes drop a broadcast for a room they have no member of from the channel
 * name alone, before decoding it (the filter that keeps non-member nodes cheap).
 *
 * Redis outages: local delivery never stops; publishes made while Redis is unavailable
 * are dropped and counted (the client logs the outage once); the client reconnects and
 * resubscribes by itself. An event whose encoding exceeds `max_message` is refused with
 * a log line and counted, and not delivered anywhere.
 *
 * Ownership: clu_cluster_new copies its configuration. The cluster must outlive the
 * namespaces' adapters (sio_server_free) and is freed by clu_cluster_free after
 * clu_cluster_stop, once its loop has run the Redis client's close to its end.
 * Threading: loop thread only.
 * Spec: redis-adapter-protocol.md §1 (classic adapter), §3 (emitter), §6 (checklist).
 */
#ifndef SIOC_CLU_REDIS_ADAPTER_H
#define SIOC_CLU_REDIS_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/net_loop.h"
#include "sio/sio_adapter.h"
#include "sioc.h"

typedef struct clu_cluster clu_cluster_t;

/** The wire formats. */
typedef enum clu_format_id { CLU_FORMAT_SOCKETIO = 0, CLU_FORMAT_PYTHON = 1 } clu_format_id_t;

/** Cluster settings (the sioc_config_t redis_* fields, checked). */
typedef struct clu_cluster_config {
    const char *url;            /* required */
    const char *sentinel_hosts; /* may be NULL */
    int sentinel_port;          /* 0 = 26379 */
    const char *format;         /* NULL = "socketio" */
    const char *channel;        /* NULL = the format's default */
    bool room_channels;         /* python-socketio per-room channels */
    size_t max_message;         /* 0 = 1 MiB */
} clu_cluster_config_t;

/** Reads a format name ("socketio", "python-socketio"); -1 when unknown. */
int clu_format_parse(const char *name);

/**
 * Creates the cluster node: parses the URL (with the sentinels), creates the Redis
 * client on `loop` and a random node id. Returns NULL with `*err` set on a bad setting.
 */
clu_cluster_t *clu_cluster_new(uv_loop_t *loop, net_loop_t *nl, const clu_cluster_config_t *cfg,
                               const char **err);

/** Stops the node: pending cluster requests complete with an error, the Redis client
 *  closes (asynchronously: run the loop). Idempotent. */
void clu_cluster_stop(clu_cluster_t *cl);

/** Frees the node (after clu_cluster_stop and the namespaces' adapters are gone). If the
 *  Redis client has not finished closing, the memory goes when it has. NULL-safe. */
void clu_cluster_free(clu_cluster_t *cl);

/** The statistics. */
void clu_cluster_stats(const clu_cluster_t *cl, sioc_cluster_stats_t *out);

/** The Redis adapter's operations (config pointer: the clu_cluster_t). */
extern const sio_adapter_ops_t clu_redis_adapter_ops;

/* ---- cluster-wide queries (the async half of include/sioc.h) -------------------- */

/** sioc_server_count on a namespace served by this adapter. */
int clu_cluster_server_count(sio_adapter_t *a, sioc_count_cb cb, void *arg);

/** sioc_fetch_sockets on a namespace served by this adapter. */
int clu_cluster_fetch_sockets(sio_adapter_t *a, const sio_bcast_t *o, sioc_fetch_cb cb, void *arg);

/** sioc_server_side_emit: `args` raw JSON list. Returns 0 or a SIOC_E* code. */
int clu_cluster_server_side_emit(sio_adapter_t *a, slice_t event, slice_t args);

/** sioc_on_server_side. */
void clu_cluster_on_server_side(sio_adapter_t *a, sioc_server_side_cb cb, void *arg);

/** sioc_server_side_ack. */
int clu_cluster_server_side_ack(sio_adapter_t *a, slice_t ack_id, slice_t arg_json);

#endif
