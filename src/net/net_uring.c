/*
 * net_uring: batched non-blocking sends and reads through io_uring's raw system calls.
 * See net_uring.h for why; this file only knows the ring layout (io_uring(7)).
 */
#include "net/net_uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"

/* Kernels before 5.17 lack IORING_FEAT_CQE_SKIP; they are also the ones whose send
 * path may not honour MSG_DONTWAIT inside the ring, so they are not used at all. */
#define NEEDED_FEATURES (IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | \
                         IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_CQE_SKIP)

struct net_uring {
    int fd;
    unsigned depth;               /* operations per submission */
    unsigned queued;              /* operations queued since the last submit */
    void *ring;                   /* the SQ and CQ rings (one mapping) */
    size_t ring_len;
    struct io_uring_sqe *sqes;    /* the SQE array (its own mapping) */
    size_t sqes_len;
    unsigned *sq_head, *sq_tail, sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_cqe *cqes;
    uint64_t *tags;               /* the caller's tag of each slot; user_data is the slot */
    uint8_t *open;                /* slot queued and its result not yet reported */
    unsigned first;               /* SQ tail at the start of the batch */
};

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

static void *at(void *base, unsigned off)
{
    return (char *)base + off;
}

net_uring_t *net_uring_new(unsigned depth)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    int fd = sys_setup(depth, &p);
    if (fd < 0)
        return NULL;
    if ((p.features & NEEDED_FEATURES) != NEEDED_FEATURES || p.sq_entries < depth) {
        close(fd);
        errno = ENOSYS;
        return NULL;
    }
    net_uring_t *u = xcalloc(1, sizeof *u);
    u->fd = fd;
    u->depth = depth;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    u->ring_len = sq_len > cq_len ? sq_len : cq_len;
    u->ring = mmap(NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                   IORING_OFF_SQ_RING);
    u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    u->sqes = u->ring == MAP_FAILED ? MAP_FAILED
                                    : mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (u->ring == MAP_FAILED || u->sqes == MAP_FAILED) {
        int e = errno;
        if (u->ring != MAP_FAILED)
            munmap(u->ring, u->ring_len);
        close(fd);
        free(u);
        errno = e;
        return NULL;
    }
    u->sq_head = at(u->ring, p.sq_off.head);
    u->sq_tail = at(u->ring, p.sq_off.tail);
    u->sq_mask = *(unsigned *)at(u->ring, p.sq_off.ring_mask);
    u->sq_array = at(u->ring, p.sq_off.array);
    u->cq_head = at(u->ring, p.cq_off.head);
    u->cq_tail = at(u->ring, p.cq_off.tail);
    u->cq_mask = *(unsigned *)at(u->ring, p.cq_off.ring_mask);
    u->cqes = at(u->ring, p.cq_off.cqes);
    u->tags = xcalloc(p.sq_entries, sizeof *u->tags);
    u->open = xcalloc(p.sq_entries, 1);
    return u;
}

void net_uring_free(net_uring_t *u)
{
    if (!u)
        return;
    munmap(u->sqes, u->sqes_len);
    munmap(u->ring, u->ring_len);
    close(u->fd);
    free(u->tags);
    free(u->open);
    free(u);
}

unsigned net_uring_space(const net_uring_t *u)
{
    return u->depth - u->queued;
}

/* The next free SQE, cleared and bound to `tag`; NULL when the batch is full. */
static struct io_uring_sqe *next_sqe(net_uring_t *u, uint8_t opcode, int fd, uint64_t tag)
{
    if (u->queued == u->depth)
        return NULL;
    unsigned tail = *u->sq_tail + u->queued; /* only this thread moves the SQ tail */
    unsigned i = tail & u->sq_mask;
    struct io_uring_sqe *sqe = &u->sqes[i];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = opcode;
    sqe->fd = fd;
    sqe->user_data = i;
    u->tags[i] = tag;
    u->open[i] = 1;
    u->sq_array[i] = i;
    u->queued++;
    return sqe;
}

bool net_uring_sendmsg(net_uring_t *u, int fd, const struct msghdr *mh, uint64_t tag)
{
    struct io_uring_sqe *sqe = next_sqe(u, IORING_OP_SENDMSG, fd, tag);
    if (!sqe)
        return false;
    sqe->addr = (uint64_t)(uintptr_t)mh;
    sqe->len = 1;
    sqe->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    return true;
}

bool net_uring_recv(net_uring_t *u, int fd, void *buf, uint32_t len, uint64_t tag)
{
    struct io_uring_sqe *sqe = next_sqe(u, IORING_OP_RECV, fd, tag);
    if (!sqe)
        return false;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = len;
    sqe->msg_flags = MSG_DONTWAIT;
    return true;
}

/* Hands every completion to `done`; returns how many there were. */
static unsigned reap(net_uring_t *u, net_uring_done_fn done, void *arg)
{
    unsigned head = *u->cq_head;
    unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    for (; head != tail; head++, n++) {
        const struct io_uring_cqe *cqe = &u->cqes[head & u->cq_mask];
        unsigned i = (unsigned)cqe->user_data & u->sq_mask;
        int res = cqe->res;
        __atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
        u->open[i] = 0;
        done(arg, u->tags[i], res);
    }
    return n;
}

int net_uring_submit(net_uring_t *u, net_uring_done_fn done, void *arg)
{
    unsigned n = u->queued;
    if (n == 0)
        return 0;
    unsigned first = *u->sq_tail;
    __atomic_store_n(u->sq_tail, first + n, __ATOMIC_RELEASE);
    u->queued = 0;
    /* Every operation is MSG_DONTWAIT, so each completes during the call; waiting for
     * all n costs nothing and guarantees that none still uses the caller's memory. */
    int err = 0;
    unsigned got = 0;
    unsigned submit = n;
    while (got < n) {
        int r = sys_enter(u->fd, submit, n - got, IORING_ENTER_GETEVENTS);
        if (r < 0 && errno != EINTR) {
            err = -errno;
            break;
        }
        submit = first + n - *u->sq_head; /* what the kernel has not taken yet */
        got += reap(u, done, arg);
    }
    if (err) {
        /* The ring failed: a send it never took is reported -ECANCELED (nothing went
         * out; send it another way), one it took but did not report -EIO (how much went
         * out is unknown, so that connection cannot go on). */
        unsigned taken = *u->sq_head;
        for (unsigned t = first; t != first + n; t++) {
            unsigned i = t & u->sq_mask;
            if (!u->open[i])
                continue;
            u->open[i] = 0;
            bool was_taken = (int)(t - taken) < 0;
            done(arg, u->tags[i], was_taken ? -EIO : -ECANCELED);
        }
        __atomic_store_n(u->sq_tail, taken, __ATOMIC_RELEASE);
    }
    return err;
}
