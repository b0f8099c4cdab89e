/*
 * net_uring: many non-blocking sends (or reads) in one system call, through io_uring
 * (net layer).
 *
 * Why: a broadcast to N sockets is N sendmsg(2) calls, and on a virtualised host each
 * system call entry costs as much as the send itself. An io_uring submission carries a
 * whole batch; every send is issued inline with MSG_DONTWAIT, so it either takes bytes
 * or fails with EAGAIN at once, exactly like the plain call, and nothing is left
 * running in the kernel once net_uring_submit returns.
 *
 * Only the raw system calls are used (no liburing). net_uring_new returns NULL where
 * io_uring is missing, disabled (sysctl, seccomp) or older than the kernel features
 * relied on; the caller then keeps to sendmsg(2). Threading: one loop thread.
 */
#ifndef SIOC_NET_URING_H
#define SIOC_NET_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct net_uring net_uring_t;

/** A ring for up to `depth` sends per submission, or NULL (errno set) when io_uring
 *  cannot be used here. */
net_uring_t *net_uring_new(unsigned depth);
void net_uring_free(net_uring_t *u);

/** Sends this ring takes before net_uring_submit must run. */
unsigned net_uring_space(const net_uring_t *u);

/** Queues sendmsg(fd, mh, MSG_NOSIGNAL | MSG_DONTWAIT); `mh` and what it points at must
 *  stay valid until net_uring_submit returns. False when the ring is full. */
bool net_uring_sendmsg(net_uring_t *u, int fd, const struct msghdr *mh, uint64_t tag);

/** Queues recv(fd, buf, len, MSG_DONTWAIT), reported like a send: bytes read, 0 at
 *  EOF, or -errno (-EAGAIN when nothing was there). Used by bench/loadgen to read many
 *  sockets per system call. False when the ring is full. */
bool net_uring_recv(net_uring_t *u, int fd, void *buf, uint32_t len, uint64_t tag);

/** Called once per queued send with its tag and result: bytes sent, or -errno. */
typedef void (*net_uring_done_fn)(void *arg, uint64_t tag, int result);

/** Issues every queued send and reports each result through `done` before returning.
 *  Returns 0, or -errno when the ring itself failed (then `done` got -ECANCELED for
 *  every send that was not issued, and the caller should stop using the ring). */
int net_uring_submit(net_uring_t *u, net_uring_done_fn done, void *arg);

#endif
