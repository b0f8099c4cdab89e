/*
 * net_listener: listening sockets (declared in net_conn.h). "localhost" binds
 * 127.0.0.1 and ::1 on one port; port 0 lets the kernel pick, and for "localhost" the
 * IPv6 socket then has to get the port the IPv4 one got, which is retried a few times
 * if another process holds it on ::1.
 */
#include "net/net_private.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

enum {
    LISTEN_BACKLOG = 1024,
    LOCALHOST_TRIES = 8, /* attempts to find a port free on both loopbacks */
};

struct net_listener {
    net_loop_t *nl;
    uv_tcp_t tcp[2];       /* one per address ("localhost" uses both) */
    int ntcp;              /* handles initialised */
    int open;              /* handles not yet closed */
    int port;              /* bound port */
    net_accept_cb cb;      /* NULL once closing */
    void *user;
    uint64_t log_counter;  /* rate limit of accept error lines */
};

static void on_connection(uv_stream_t *server, int status)
{
    net_listener_t *l = server->data;
    if (status < 0) {
        LOG_RATELIMITED(LOG_WARN, l->log_counter, 100, "listener :%d: accept error %s",
                        l->port, uv_strerror(status));
        return;
    }
    net_conn_t *c = net__conn_accept(l->nl, server);
    if (!c)
        return;
    if (l->cb)
        l->cb(l, c);
    net__conn_start(c); /* closes it if nobody took it */
}

static void on_listener_handle_closed(uv_handle_t *h)
{
    net_listener_t *l = h->data;
    if (--l->open == 0)
        free(l);
}

void net_listener_close(net_listener_t *l)
{
    if (!l)
        return;
    l->cb = NULL;
    for (int i = 0; i < l->ntcp; i++)
        uv_close((uv_handle_t *)&l->tcp[i], on_listener_handle_closed);
    if (l->ntcp == 0)
        free(l);
}

static int bind_one(net_listener_t *l, const struct sockaddr *addr, unsigned flags)
{
    uv_tcp_t *t = &l->tcp[l->ntcp];
    int r = uv_tcp_init(l->nl->uv, t);
    if (r < 0)
        return r;
    t->data = l;
    l->ntcp++;
    l->open++;
    r = uv_tcp_bind(t, addr, flags);
    if (r == 0)
        r = uv_listen((uv_stream_t *)t, LISTEN_BACKLOG, on_connection);
    if (r < 0)
        return r;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    r = uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return r;
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return UV_EINVAL;
}

static net_listener_t *listener_alloc(net_loop_t *nl, net_accept_cb cb, void *user)
{
    net_listener_t *l = xcalloc(1, sizeof *l);
    l->nl = nl;
    l->cb = cb;
    l->user = user;
    return l;
}

/* "localhost": 127.0.0.1 and ::1 on one port. With port 0 the v4 socket picks the
 * port and the v6 one must get the same; if that port is taken on ::1, try again. */
static int listen_localhost(net_loop_t *nl, int port, net_accept_cb cb, void *user,
                            net_listener_t **out)
{
    int r = UV_EADDRINUSE;
    for (int attempt = 0; attempt < LOCALHOST_TRIES; attempt++) {
        net_listener_t *l = listener_alloc(nl, cb, user);
        struct sockaddr_in a4;
        struct sockaddr_in6 a6;
        uv_ip4_addr("127.0.0.1", port, &a4);
        r = bind_one(l, (const struct sockaddr *)&a4, 0);
        if (r < 0) {
            net_listener_close(l);
            return r;
        }
        uv_ip6_addr("::1", l->port, &a6);
        r = bind_one(l, (const struct sockaddr *)&a6, UV_TCP_IPV6ONLY);
        if (r == 0 || (r != UV_EADDRINUSE && r != UV_EACCES)) {
            if (r < 0) { /* no IPv6 loopback here: serve IPv4 only */
                l->ntcp--;
                uv_close((uv_handle_t *)&l->tcp[1], on_listener_handle_closed);
            }
            *out = l;
            return 0;
        }
        net_listener_close(l);
        if (port != 0)
            return r;
    }
    return r;
}

int net_listener_new(net_loop_t *nl, const char *host, int port, net_accept_cb cb,
                     void *user, net_listener_t **out)
{
    if (!host || !*host)
        host = "127.0.0.1";
    if (port < 0 || port > 65535)
        return UV_EINVAL;
    if (strcmp(host, "localhost") == 0)
        return listen_localhost(nl, port, cb, user, out);
    struct sockaddr_storage ss;
    int r = parse_addr(host, port, &ss);
    if (r < 0)
        return r;
    net_listener_t *l = listener_alloc(nl, cb, user);
    r = bind_one(l, (const struct sockaddr *)&ss, 0);
    if (r < 0) {
        net_listener_close(l);
        return r;
    }
    *out = l;
    return 0;
}

int net_listener_port(const net_listener_t *l)
{
    return l->port;
}

void *net_listener_get_user(const net_listener_t *l)
{
    return l->user;
}
