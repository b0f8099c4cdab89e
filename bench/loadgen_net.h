/*
 * loadgen_net: socket set-up for bench/loadgen.c (bench, not the library).
 *
 * Resolving the server once at start-up (a blocking lookup, before the loop runs),
 * client sockets bound to a chosen loopback source address, the plain-socket connect,
 * send and close, and the fd budget. Spreading
 * clients over 127.0.0.1..127.0.0.K passes the ~28k ephemeral ports of one source
 * address: with IP_BIND_ADDRESS_NO_PORT the bind reserves no port, so the kernel picks
 * one per (source, destination) pair at connect time. Functions are static: this header
 * is included by exactly one program. One thread.
 */
#ifndef SIOC_BENCH_LOADGEN_NET_H
#define SIOC_BENCH_LOADGEN_NET_H

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/**
 * Resolves `host`:`port` into `dst` (the first address getaddrinfo gives) and writes the
 * Host header value into `hdr`. Returns 0, or -1 after printing why.
 */
static int lg_resolve(const char *host, int port, struct sockaddr_storage *dst, char *hdr,
                      size_t hdr_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    int r = getaddrinfo(host, service, &hints, &res);
    if (r != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", host, gai_strerror(r));
        return -1;
    }
    memcpy(dst, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    bool v6 = dst->ss_family == AF_INET6 && strchr(host, ':') != NULL;
    snprintf(hdr, hdr_len, v6 ? "[%s]:%d" : "%s:%d", host, port);
    return 0;
}

/**
 * A non-blocking IPv4 TCP socket bound to 127.0.0.(1 + idx % sources), port left to
 * connect. Returns the fd, or a negative errno (EMFILE when out of fds).
 */
static int lg_bound_socket(uint32_t sources, uint32_t idx)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7F000001u + idx % sources);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/**
 * A non-blocking TCP socket to `dst` with its connect started: bound to a source address like
 * lg_bound_socket when `sources` > 1 and `dst` is IPv4. On loopback the connection is
 * usually established when connect returns. Returns the fd, or a negative errno (the
 * socket is closed then).
 */
static int lg_raw_connect(const struct sockaddr_storage *dst, uint32_t sources, uint32_t idx)
{
    int fd;
    if (sources > 1 && dst->ss_family == AF_INET) {
        fd = lg_bound_socket(sources, idx);
    } else {
        fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fd = fd < 0 ? -errno : fd;
    }
    if (fd < 0)
        return fd;
    socklen_t len = dst->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in);
    if (connect(fd, (const struct sockaddr *)dst, len) < 0 && errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/**
 * Writes all of p[0..n) to a plain socket. Returns 0; -EAGAIN when nothing could be
 * written (still connecting, or a full buffer); -EMSGSIZE after a short write (never
 * for the small packets of a handshake on an empty socket); another negative errno.
 */
static int lg_raw_send(int fd, const void *p, size_t n)
{
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r == (ssize_t)n)
        return 0;
    if (r < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return -EMSGSIZE;
}

/** Writes what a plain socket takes of p[0..n): the byte count (0 when it is full), or
 *  a negative errno. */
static ssize_t lg_raw_send_some(int fd, const void *p, size_t n)
{
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

/** Closes a plain socket; `reset` sends RST instead of FIN (SO_LINGER 0). */
static void lg_raw_close(int fd, bool reset)
{
    if (reset) {
        struct linger lo = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lo, sizeof(lo));
    }
    close(fd);
}

/**
 * Raises the soft fd limit to the hard one and returns how many sockets this process may
 * open (the limit less a few for stdio, the loop and signals).
 */
static uint64_t lg_fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    uint64_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    return fds > 64 ? fds - 32 : 32;
}

#endif
