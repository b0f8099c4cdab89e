/* net_uring against real sockets: a batch of sends to several socket pairs reports each
 * result under its own tag, as sendmsg(2) would have: all bytes, a short count or
 * -EAGAIN on a full socket, -EPIPE on a closed peer, -EBADF on a bad fd. Where the
 * system has io_uring switched off, the test checks the refusal that makes the net
 * layer fall back to sendmsg(2) instead. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net/net_uring.h"

enum { NSEND = 6 };

typedef struct result {
    int n;                 /* results seen */
    int res[NSEND + 1];    /* by tag */
    int seen[NSEND + 1];   /* times each tag was reported */
} result_t;

static void on_done(void *arg, uint64_t tag, int res)
{
    result_t *r = arg;
    cr_assert_lt(tag, (uint64_t)NSEND + 1, "unknown tag %llu", (unsigned long long)tag);
    r->res[tag] = res;
    r->seen[tag]++;
    r->n++;
}

/* Whether the system refuses io_uring outright (sysctl or seccomp), in which case
 * net_uring_new must return NULL rather than a ring that cannot submit. */
static bool uring_switched_off(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    if (v == 2)
        return true;
    long r = syscall(__NR_io_uring_setup, 0, NULL); /* EINVAL/EFAULT when it exists */
    return r < 0 && (errno == ENOSYS || errno == EPERM);
}

/* A ring, or NULL where this system cannot give one: io_uring switched off, or a
 * kernel without the features net_uring relies on (ENOSYS). Any other failure fails. */
static net_uring_t *ring_or_refusal(unsigned depth)
{
    net_uring_t *u = net_uring_new(depth);
    if (!u) {
        int e = errno;
        cr_assert(e == ENOSYS || uring_switched_off(),
                  "net_uring_new failed (%s) although io_uring is on", strerror(e));
        cr_log_warn("io_uring unavailable here (%s): only the refusal was checked", strerror(e));
    }
    return u;
}

static void pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int sz = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
}

static void fill(int fd)
{
    char junk[4096] = {0};
    while (send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
        ;
}

Test(net_uring, batch_reports_every_send_under_its_tag)
{
    net_uring_t *u = ring_or_refusal(8);
    if (!u)
        return;
    int ok1[2], ok2[2], full[2], gone[2];
    pair(ok1);
    pair(ok2);
    pair(full);
    pair(gone);
    fill(full[0]);
    close(gone[1]);

    char a[] = "hello ", b[] = "world";
    struct iovec two[2] = {{a, 6}, {b, 5}};
    struct msghdr m_two = {.msg_iov = two, .msg_iovlen = 2};
    char c[] = "second socket";
    struct iovec one = {c, sizeof c - 1};
    struct msghdr m_one = {.msg_iov = &one, .msg_iovlen = 1};
    static char big[1 << 20];
    struct iovec bigv = {big, sizeof big};
    struct msghdr m_big = {.msg_iov = &bigv, .msg_iovlen = 1};

    cr_assert(net_uring_sendmsg(u, ok1[0], &m_two, 1));
    cr_assert(net_uring_sendmsg(u, ok2[0], &m_one, 2));
    cr_assert(net_uring_sendmsg(u, full[0], &m_one, 3));
    cr_assert(net_uring_sendmsg(u, gone[0], &m_one, 4));
    cr_assert(net_uring_sendmsg(u, -1, &m_one, 5));
    cr_assert(net_uring_sendmsg(u, ok2[0], &m_big, 6)); /* more than the socket takes */
    cr_assert_eq(net_uring_space(u), 2);

    result_t r = {0};
    cr_assert_eq(net_uring_submit(u, on_done, &r), 0);
    cr_assert_eq(r.n, NSEND, "every send reported once before submit returns");
    for (int t = 1; t <= NSEND; t++)
        cr_assert_eq(r.seen[t], 1, "tag %d reported %d times", t, r.seen[t]);
    cr_assert_eq(r.res[1], 11);
    cr_assert_eq(r.res[2], (int)sizeof c - 1);
    cr_assert_eq(r.res[3], -EAGAIN, "a full socket fails at once: %d", r.res[3]);
    cr_assert_eq(r.res[4], -EPIPE, "closed peer: %d", r.res[4]);
    cr_assert_eq(r.res[5], -EBADF);
    cr_assert(r.res[6] > 0 && r.res[6] < (int)sizeof big, "short count %d", r.res[6]);
    cr_assert_eq(net_uring_space(u), 8);

    char got[64];
    cr_assert_eq(read(ok1[1], got, sizeof got), 11);
    cr_assert_eq(memcmp(got, "hello world", 11), 0);
    cr_assert_eq(read(ok2[1], got, sizeof c - 1), (ssize_t)sizeof c - 1);
    cr_assert_eq(memcmp(got, c, sizeof c - 1), 0, "the sends reach one socket in order");

    int *fds[] = {ok1, ok2, full, gone};
    for (int i = 0; i < 4; i++) {
        close(fds[i][0]);
        if (fds[i] != gone)
            close(fds[i][1]);
    }
    net_uring_free(u);
}

Test(net_uring, full_ring_refuses_and_empty_submit_is_a_no_op)
{
    net_uring_t *u = ring_or_refusal(2);
    if (!u)
        return;
    int sv[2];
    pair(sv);
    char x = 'x';
    struct iovec v = {&x, 1};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    result_t r = {0};
    cr_assert_eq(net_uring_submit(u, on_done, &r), 0);
    cr_assert_eq(r.n, 0);
    for (int round = 0; round < 100; round++) { /* the rings wrap many times */
        cr_assert(net_uring_sendmsg(u, sv[0], &m, 1));
        cr_assert(net_uring_sendmsg(u, sv[0], &m, 2));
        cr_assert_not(net_uring_sendmsg(u, sv[0], &m, 3), "a third send does not fit");
        cr_assert_eq(net_uring_submit(u, on_done, &r), 0);
        char got[4];
        cr_assert_eq(read(sv[1], got, sizeof got), 2);
    }
    cr_assert_eq(r.n, 200);
    cr_assert_eq(r.res[1], 1);
    cr_assert_eq(r.res[2], 1);
    close(sv[0]);
    close(sv[1]);
    net_uring_free(u);
}

Test(net_uring, batch_of_reads)
{
    net_uring_t *u = ring_or_refusal(4);
    if (!u)
        return;
    int data[2], empty[2], eof[2];
    pair(data);
    pair(empty);
    pair(eof);
    cr_assert_eq(write(data[0], "abcdef", 6), 6);
    close(eof[0]);
    char b1[4], b2[16], b3[16];
    cr_assert(net_uring_recv(u, data[1], b1, sizeof b1, 1));
    cr_assert(net_uring_recv(u, empty[1], b2, sizeof b2, 2));
    cr_assert(net_uring_recv(u, eof[1], b3, sizeof b3, 3));
    result_t r = {0};
    cr_assert_eq(net_uring_submit(u, on_done, &r), 0);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.res[1], 4, "a read takes what fits");
    cr_assert_eq(memcmp(b1, "abcd", 4), 0);
    cr_assert_eq(r.res[2], -EAGAIN, "nothing there: at once, not later");
    cr_assert_eq(r.res[3], 0, "EOF");
    cr_assert(net_uring_recv(u, data[1], b2, sizeof b2, 1));
    cr_assert_eq(net_uring_submit(u, on_done, &r), 0);
    cr_assert_eq(r.res[1], 2);
    cr_assert_eq(memcmp(b2, "ef", 2), 0, "the rest follows in order");
    close(data[0]);
    close(data[1]);
    close(empty[0]);
    close(empty[1]);
    close(eof[1]);
    net_uring_free(u);
}

Test(net_uring, free_of_null_is_a_no_op)
{
    net_uring_free(NULL);
}
