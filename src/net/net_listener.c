/*
 * net_listener: listening sockets (declared in net_conn.h). "localhost" binds
 * 127.0.0.1 and ::1 on one port; port 0 lets the kernel pick, and for "localhost" the
 * IPv6 socket then has to get the port the IPv4 one got, which is retried a few times
 * if another process holds it on ::1.
 *
 * Accepts per turn are bounded (STYLE rule 26). libuv accepts in a loop until the
 * backlog is empty, calling on_connection for each; once a listener has accepted
 * max_accepts connections in the current loop turn, on_connection returns without
 * uv_accept. libuv then keeps that one socket pending and stops watching the listener,
 * and the rest of the backlog stays in the kernel:
 *
 *   poll: accept x max_accepts, then leave one pending --> listener watcher stopped
 *   next turn, prepare hook (net_loop_defer): uv_accept the pending one (restarts
 *   the watcher) --> poll: the next share, with every other socket's I/O around it
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
    uint64_t turn;         /* the loop turn `accepted` counts for */
    unsigned accepted;     /* connections accepted in that turn */
    bool pending[2];       /* tcp[i] holds a connection left for the next turn */
    enum net__nodelay nodelay[2]; /* does tcp[i] pass TCP_NODELAY on to accepted sockets */
    bool closed;           /* net_listener_close was called */
    net_defer_t resume;    /* accepts the pending connections next turn */
};

static void accept_one(net_listener_t *l, uv_stream_t *server)
{
    l->accepted++;
    int i = server == (uv_stream_t *)&l->tcp[1];
    net_conn_t *c = net__conn_accept(l->nl, server, &l->nodelay[i]);
    if (!c)
        return;
    if (l->cb)
        l->cb(l, c);
    net__conn_start(c); /* closes it if nobody took it */
}

static void maybe_free(net_listener_t *l)
{
    if (l->closed && l->open == 0 && !net_defer_is_pending(&l->resume))
        free(l);
}

/* Next turn: take the connections left pending (this restarts libuv's watcher). */
static void on_resume(net_defer_t *d)
{
    net_listener_t *l = NET_CONTAINER_OF(d, net_listener_t, resume);
    if (l->closed) {
        maybe_free(l);
        return;
    }
    l->turn = l->nl->turn;
    l->accepted = 0;
    for (int i = 0; i < l->ntcp; i++) {
        if (!l->pending[i])
            continue;
        l->pending[i] = false;
        accept_one(l, (uv_stream_t *)&l->tcp[i]);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    net_listener_t *l = server->data;
    if (status < 0) {
        LOG_RATELIMITED(LOG_WARN, l->log_counter, 100, "listener :%d: accept error %s",
                        l->port, uv_strerror(status));
        return;
    }
    if (l->turn != l->nl->turn) {
        l->turn = l->nl->turn;
        l->accepted = 0;
    }
    if (l->accepted >= l->nl->cfg.max_accepts) {
        /* Not accepted: libuv keeps it and stops polling this socket until we do. */
        l->pending[server == (uv_stream_t *)&l->tcp[1]] = true;
        l->nl->stats.accepts_deferred++;
        net_loop_defer(l->nl, &l->resume, on_resume);
        return;
    }
    accept_one(l, server);
}

static void on_listener_handle_closed(uv_handle_t *h)
{
    net_listener_t *l = h->data;
    l->open--;
    maybe_free(l);
}

void net_listener_close(net_listener_t *l)
{
    if (!l)
        return;
    l->cb = NULL;
    l->closed = true;
    for (int i = 0; i < l->ntcp; i++)
        uv_close((uv_handle_t *)&l->tcp[i], on_listener_handle_closed);
    maybe_free(l);
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
    if (r == 0) /* inherited by accepted sockets (see net__conn_accept) */
        r = uv_tcp_nodelay(t, 1);
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
