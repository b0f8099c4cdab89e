/*
 * net_conn: TCP listeners and connections with a bounded, queued output (net layer).
 *
 * A net_listener_t binds one host name (two sockets for "localhost": 127.0.0.1 and
 * ::1 on the same port) and hands every accepted socket to its accept callback as a
 * net_conn_t. The upper layer (http, later ws) drives the connection through one
 * const ops table shared by all its connections (STYLE rule 22) and may swap it for
 * another table, e.g. when HTTP becomes WebSocket.
 *
 * Input: bytes arrive through ops->on_read as one contiguous slice. The handler
 * returns how many bytes it consumed; the unconsumed tail is copied into the
 * connection's own lazily allocated buffer and is presented again, followed by the
 * new bytes, on the next read. When there is no tail, reads go straight into the
 * loop's shared read buffer and the connection holds no input memory at all:
 *
 *     read -> [loop buffer: ......data......]  on_read consumes N
 *                                  |<- tail ->|  copied to conn->in (rare, small)
 *     next read -> [conn->in: tail | new bytes] on_read again
 *
 * The slice passed to on_read is writable (the ws layer unmasks in place) and valid
 * only during the call. An owner that caps the messages it handles per read (STYLE
 * rule 26) returns early and calls net_conn_yield: reading pauses and the tail comes
 * back on the next loop turn, after the other connections' I/O.
 *
 * Output: net_conn_write copies bytes into pooled chunks of the queue;
 * net_conn_write_rcbuf queues a reference to a shared immutable frame (the broadcast
 * path: no copy, no allocation). Nothing is written immediately: the loop's prepare
 * hook flushes every connection with pending output once per loop turn with one
 * uv_try_write of all queued iovecs; only a short write arms uv_write. The queue is
 * bounded (net_loop_config.max_out_bytes, or net_conn_set_max_out): a write that
 * would pass the bound closes the connection as a slow consumer (rate-limited log
 * line, loop counter bumped) and returns UV_ENOBUFS.
 *
 * Closing: net_conn_close() with NET_CLOSE_GRACEFUL stops delivering input, writes
 * what is queued, sends FIN, waits briefly for the peer's EOF (so the peer reads our
 * last bytes instead of a reset) and closes; NET_CLOSE_NO_LINGER writes what is queued
 * and closes without waiting (the peer has nothing more to send); NET_CLOSE_ABORT drops
 * the queue and closes now. A peer EOF or a socket error closes the connection too. In every case
 * ops->on_close runs exactly once, always from the loop (libuv's close phase), never
 * synchronously inside net_conn_close or a write; after it returns the connection is
 * freed, so the upper layer frees or detaches its own state in on_close.
 *
 * Ownership: the net_loop owns every connection and listener; upper layers hold
 * borrowed pointers valid until on_close (connections) or net_listener_close
 * (listeners). Threading: loop thread only. Spec: none (TCP); STYLE rules 10, 11, 25.
 */
#ifndef SIOC_NET_CONN_H
#define SIOC_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rcbuf.h"
#include "base/slice.h"
#include "net/net_loop.h"

typedef struct net_conn net_conn_t;
typedef struct net_listener net_listener_t;

/** How net_conn_close ends a connection. */
enum net_close_mode {
    NET_CLOSE_GRACEFUL = 0, /**< flush queued output, FIN, short linger, close */
    NET_CLOSE_ABORT = 1,    /**< drop queued output and close now */
    /** Flush queued output, then close at once (FIN, no wait for the peer's EOF): for a
     *  peer that has said it sends nothing more, e.g. after a complete WebSocket closing
     *  handshake. Saves the shutdown, the linger and the EOF read. */
    NET_CLOSE_NO_LINGER = 2,
};

/**
 * What a connection's owner implements. One const table per kind of owner, shared by
 * all its connections. Every callback may call net_conn_close (and write, for
 * on_read/on_drain); the connection stays valid until on_close returns.
 */
typedef struct net_conn_ops {
    /**
     * New input. `data` is writable, contiguous, and starts with any tail left by the
     * previous call. Returns how many bytes were consumed (0..data.len); the rest is
     * kept and presented again. If the handler swaps the ops table (net_conn_set_ops)
     * during the call, the unconsumed rest goes to the new table's on_read right away.
     * Not called after net_conn_close.
     */
    size_t (*on_read)(net_conn_t *c, slice_t data);
    /** Optional (may be NULL): the output queue has just become empty after a flush. */
    void (*on_drain)(net_conn_t *c);
    /**
     * The connection is closed (exactly once). `status` is 0 after a local
     * net_conn_close, UV_EOF after the peer closed, UV_ENOBUFS for a slow consumer,
     * another negative uv error otherwise. The connection is freed after it returns.
     */
    void (*on_close)(net_conn_t *c, int status);
} net_conn_ops_t;

/**
 * A new connection was accepted. The callback must give it an owner with
 * net_conn_set_ops (reading starts after the callback returns) or close it.
 */
typedef void (*net_accept_cb)(net_listener_t *l, net_conn_t *c);

/* ---- listeners ------------------------------------------------------------------ */

/**
 * Binds and listens. `host` is an IPv4 or IPv6 literal ("127.0.0.1", "::1",
 * "0.0.0.0", "::") or "localhost" (both 127.0.0.1 and ::1 on one port; if ::1 is not
 * available only 127.0.0.1 is used). NULL means "127.0.0.1". `port` 0 picks a free
 * port (net_listener_port tells which). Returns 0 and sets *out, or a negative uv
 * error (UV_EADDRINUSE, UV_EINVAL for an unknown host, ...) and sets nothing.
 */
int net_listener_new(net_loop_t *nl, const char *host, int port, net_accept_cb cb,
                     void *user, net_listener_t **out);

/** The bound port (the real one when 0 was asked for). */
int net_listener_port(const net_listener_t *l);

/** The `user` pointer given to net_listener_new. */
void *net_listener_get_user(const net_listener_t *l);

/** Stops listening and frees the listener (after libuv's close phase). Connections
 *  already accepted are not affected. */
void net_listener_close(net_listener_t *l);

/* ---- connections ---------------------------------------------------------------- */

/**
 * Sets the owner of `c`: its ops table and user pointer. Called once from the accept
 * callback, and again to hand the connection to another layer (HTTP -> WebSocket).
 */
void net_conn_set_ops(net_conn_t *c, const net_conn_ops_t *ops, void *user);

/** The owner's user pointer (set by net_conn_set_ops). */
void *net_conn_get_user(const net_conn_t *c);

/** The net context the connection lives on. */
net_loop_t *net_conn_loop(const net_conn_t *c);

/** A process-unique id for log lines ("conn 42"). */
uint64_t net_conn_id(const net_conn_t *c);

/**
 * Queues a copy of `n` bytes at `p`. Returns 0, UV_ENOBUFS if the bound was passed
 * (the connection is now closing as a slow consumer), or UV_EPIPE if the connection
 * is closing/closed (nothing queued).
 */
int net_conn_write(net_conn_t *c, const void *p, size_t n);

/** Queues copies of `n` slices, back to back, as one write. Same returns. */
int net_conn_writev(net_conn_t *c, const slice_t *parts, size_t n);

/**
 * Queues a reference to the whole of `rc` (rcbuf_ref is taken; the caller keeps its
 * own reference). No copy, no allocation while the queue has room. Same returns; on
 * error no reference is kept.
 */
int net_conn_write_rcbuf(net_conn_t *c, rcbuf_t *rc);

/** Bytes queued and not yet accepted by the kernel. */
size_t net_conn_buffered(const net_conn_t *c);

/** Sets this connection's bound on queued output bytes (0 = the loop default). */
void net_conn_set_max_out(net_conn_t *c, size_t max_bytes);

/**
 * Stops (false) or resumes (true) reading from the socket, for back-pressure. While
 * stopped, a peer EOF goes unnoticed. On resume any kept tail is presented again to
 * on_read from the loop's prepare hook (never synchronously). While the connection
 * has yielded (net_conn_yield) the socket stays paused either way: `on` only decides
 * whether reading resumes after the yielded input was handed over.
 */
void net_conn_set_reading(net_conn_t *c, bool on);

/**
 * Presents the kept input tail again to on_read at the end of this loop turn (for a
 * handler that stopped consuming, e.g. HTTP while a request is parked, and can now
 * go on). A no-op when there is no tail, and while the connection has yielded (its
 * tail is presented on the next turn anyway).
 */
void net_conn_redeliver(net_conn_t *c);

/**
 * Bounds the work of one read event (STYLE rule 26). Called from on_read by an owner
 * that stopped decoding because it reached its cap of messages or requests per read
 * (it returns the bytes it consumed; the rest is kept as the tail, as usual). Reading
 * from the socket pauses; on the next loop turn, after the other connections' I/O of
 * this turn, the kept tail is presented to on_read again (from the loop's idle hook,
 * never synchronously), and reading resumes after a delivery that does not yield
 * again. Input order is preserved and nothing is dropped; a backlog of N messages is
 * served in N/cap turns; a peer's EOF is seen only after it (reading is paused). The
 * owner must have consumed something before yielding (a yield without progress would
 * spin). Input arriving at a memory connection meanwhile is appended to the tail. A
 * no-op when the connection is closing or has already yielded this turn.
 */
void net_conn_yield(net_conn_t *c);

/** True while the connection has yielded input waiting for its next turn. */
bool net_conn_is_yielded(const net_conn_t *c);

/**
 * Closes the connection (see the header comment). Idempotent: a second call may only
 * upgrade a close (graceful -> no linger -> abort). on_close runs later, exactly once.
 */
void net_conn_close(net_conn_t *c, enum net_close_mode mode);

/** True once net_conn_close was called or the peer went away. */
bool net_conn_is_closing(const net_conn_t *c);

/**
 * Writes the peer address as text ("127.0.0.1:5555" or "[::1]:5555") into `out`
 * (NUL-terminated, truncated to `cap`). Returns 0 or a negative uv error.
 */
int net_conn_remote_addr(const net_conn_t *c, char *out, size_t cap);

/* ---- in-memory connections (tests and fuzzers) ---------------------------------- */

/**
 * Creates a connection without a socket, for tests and fuzz targets. It behaves like
 * an accepted connection: give it an owner with net_conn_set_ops; input is injected
 * with net_conn_memory_feed; output is appended to `sink` (caller-owned, must outlive
 * the connection; NULL drops it) when the loop flushes; closing runs on_close from the
 * loop's deferred calls (run the loop, e.g. uv_run(UV_RUN_NOWAIT), to see it).
 */
net_conn_t *net_conn_new_memory(net_loop_t *nl, buf_t *sink);

/** Injects `n` bytes as if read from the socket (on_read runs before this returns).
 *  Ignored once the connection is closing. */
void net_conn_memory_feed(net_conn_t *c, const void *p, size_t n);

/** Injects the peer's EOF. It acts at once, like a socket's EOF seen while reading:
 *  input still kept (behind a parked request, or waiting after net_conn_yield) is
 *  dropped and the connection closes after its queued output. */
void net_conn_memory_eof(net_conn_t *c);

/**
 * Force-closes every open connection of the loop (NET_CLOSE_ABORT), e.g. at shutdown.
 * Their on_close callbacks run from the loop afterwards.
 */
void net_loop_close_all_conns(net_loop_t *nl);

#endif
