/*
 * Socket.IO server behaviour through the public API (include/sioc.h), on a real loop
 * with raw WebSocket clients (rawws.h): middleware reject/accept (sync and async),
 * always_connect, emit with ack (answer, timeout, disconnect), broadcast with acks,
 * the catch-all handler, dynamic namespaces, socketsJoin/disconnectSockets, ids.
 * Expected wire bytes follow spec §2.2/§2.4/§2.5.
 */
#include "rawws.h"

#include <stdlib.h>

static rw_client_t clients[3];

/* What the callbacks saw, reset by every test's init. */
static struct {
    char auth[256];
    sioc_socket_t *saved;
    int acks;      /* per-response ack callbacks */
    int final;     /* final status of a broadcast with acks */
    int finals;    /* number of final callbacks */
    int disc_acks; /* ack callbacks with SIOC_EDISCONNECTED */
    sioc_reason_t reason;
    int disconnects;
} g;

static void reset(void)
{
    memset(&g, 0, sizeof g);
}

static void emit_auth(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)arg;
    sioc_data_t d = {auth.ptr, auth.len, NULL, 0};
    if (status == 0)
        sioc_socket_emit(s, "auth", d);
}

static void on_disconnect(sioc_socket_t *s, sioc_reason_t reason, void *arg)
{
    (void)s;
    (void)arg;
    g.reason = reason;
    g.disconnects++;
}

/* ---- middleware ------------------------------------------------------------------ */

static void mw_reject(sioc_socket_t *s, sioc_str_t auth, void *arg)
{
    (void)arg;
    snprintf(g.auth, sizeof g.auth, "%.*s", (int)auth.len, auth.ptr);
    sioc_socket_reject(s, "Not authorized", "{\"code\":42}");
}

static void init_reject(sioc_server_t *srv)
{
    reset();
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_use(root, mw_reject, NULL);
    sioc_on_connection(root, emit_auth, NULL);
}

Test(sio_server, middleware_reject_sends_connect_error, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_reject, clients, 1);
    rw_send(&clients[0], "40{\"token\":\"x\"}");
    rw_expect(&clients[0], "44{\"message\":\"Not authorized\",\"data\":{\"code\":42}}\n");
    cr_assert_str_eq(g.auth, "{\"token\":\"x\"}");
    cr_assert(!rw_logged(&clients[0], "40{"), "no CONNECT reply");
    cr_assert(!rw_logged(&clients[0], "42[\"auth\""), "no connection handler");
    /* the connection stays usable: the client may try again */
    rw_send(&clients[0], "40");
    rw_expect(&clients[0], "44{\"message\":\"Not authorized\",\"data\":{\"code\":42}}\n44{");
    cr_assert_str_eq(g.auth, "{}", "a CONNECT without auth gives {}");
    rw_stop();
}

static void mw_later(sioc_socket_t *s, sioc_str_t auth, void *arg)
{
    (void)auth;
    (void)arg;
    sioc_socket_ref(s);
    g.saved = s;
}

static void init_async(sioc_server_t *srv)
{
    reset();
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_use(root, mw_later, NULL);
    sioc_on_connection(root, emit_auth, NULL);
}

Test(sio_server, async_middleware_accept_keeps_auth, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_async, clients, 1);
    rw_send(&clients[0], "40{\"token\":\"late\"}");
    rw_spin(100);
    cr_assert_not_null(g.saved);
    cr_assert(!rw_logged(&clients[0], "40{"), "nothing before the decision");
    sioc_socket_accept(g.saved);
    sioc_socket_accept(g.saved); /* a second decision is ignored */
    cr_assert(sioc_socket_is_connected(g.saved));
    sioc_socket_unref(g.saved);
    rw_expect(&clients[0], "42[\"auth\",{\"token\":\"late\"}]\n");
    cr_assert(strstr(clients[0].log, "40{\"sid\":\"") < strstr(clients[0].log, "42[\"auth\""),
              "the CONNECT reply comes first");
    rw_stop();
}

Test(sio_server, async_middleware_after_client_left, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_async, clients, 1);
    rw_send(&clients[0], "40");
    rw_spin(50);
    cr_assert_not_null(g.saved);
    uv_close((uv_handle_t *)&clients[0].tcp, NULL);
    rw.n = 0; /* closed here already */
    rw_spin(100);
    cr_assert(!sioc_socket_is_connected(g.saved));
    sioc_socket_accept(g.saved); /* too late: nothing happens, nothing leaks */
    sioc_socket_unref(g.saved);
    rw_stop();
}

static void emit_status(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    char json[32];
    (void)auth;
    (void)arg;
    snprintf(json, sizeof json, "%d", status);
    sioc_socket_emit(s, "status", sioc_json(json));
}

static void init_always(sioc_server_t *srv)
{
    reset();
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_use(root, mw_reject, NULL);
    sioc_on_connection(root, emit_status, NULL);
}

Test(sio_server, always_connect_keeps_refused_sockets, .timeout = 20)
{
    sioc_config_t cfg = {.always_connect = true};
    rw_start(&cfg, init_always, clients, 1);
    rw_send(&clients[0], "40");
    rw_expect(&clients[0], "42[\"status\",-30004]\n");
    cr_assert(rw_logged(&clients[0], "40{\"sid\":\""), "CONNECT is answered first");
    cr_assert(!rw_logged(&clients[0], "44"), "no CONNECT_ERROR");
    rw_send(&clients[0], "42[\"anything\"]"); /* still in the namespace: no violation */
    rw_spin(50);
    cr_assert(!clients[0].closed);
    rw_stop();
}

/* ---- emit with ack ---------------------------------------------------------------- */

static void on_ack_result(sioc_socket_t *s, int status, const sioc_args_t *a, void *arg)
{
    (void)arg;
    if (status == SIOC_EDISCONNECTED) {
        g.disc_acks++;
        return;
    }
    if (status == SIOC_ETIMEDOUT) {
        sioc_socket_emit(s, "timeout", sioc_json(NULL));
        return;
    }
    sioc_socket_emit(s, "got", sioc_args_data(a));
}

static void ask_on_connect(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status;
    (void)auth;
    (void)arg;
    cr_assert_eq(sioc_socket_emit_ack(s, "ask", sioc_json("1"), 300, on_ack_result, NULL), 0);
}

static void init_ask(sioc_server_t *srv)
{
    reset();
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_on_connection(root, ask_on_connect, NULL);
    sioc_on_disconnect(root, on_disconnect, NULL);
}

Test(sio_server, emit_with_ack_answer_and_timeout, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_ask, clients, 2);
    rw_send(&clients[0], "40");
    rw_expect(&clients[0], "420[\"ask\",1]\n"); /* ids count per namespace from 0 */
    rw_send(&clients[1], "40");
    rw_expect(&clients[1], "421[\"ask\",1]\n");
    rw_send(&clients[0], "430[\"yes\",{\"n\":2}]");
    rw_expect(&clients[0], "42[\"got\",\"yes\",{\"n\":2}]\n");
    rw_send(&clients[0], "430[\"again\"]"); /* a second answer finds nothing */
    rw_expect(&clients[1], "42[\"timeout\"]\n");
    rw_spin(400);
    cr_assert(!rw_logged(&clients[0], "again"));
    cr_assert(!rw_logged(&clients[0], "timeout"), "answered acks do not time out");
    rw_stop();
}

Test(sio_server, emit_with_ack_fails_once_on_disconnect, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_ask, clients, 1);
    rw_send(&clients[0], "40");
    rw_expect(&clients[0], "420[\"ask\",1]\n");
    rw_send(&clients[0], "41");
    rw_spin(500);
    cr_assert_eq(g.disc_acks, 1);
    cr_assert_eq(g.disconnects, 1);
    cr_assert_eq(g.reason, SIOC_CLIENT_NAMESPACE_DISCONNECT);
    cr_assert(!clients[0].closed, "leaving a namespace keeps the connection");
    rw_stop();
}

/* ---- broadcast with acks ---------------------------------------------------------- */

static void on_vote(sioc_socket_t *s, int status, const sioc_args_t *a, void *arg)
{
    sioc_socket_t *asker = arg;
    (void)a;
    if (s) {
        cr_assert_eq(status, 0);
        g.acks++;
        return;
    }
    g.final = status;
    g.finals++;
    char json[64];
    snprintf(json, sizeof json, "%d,%d", g.acks, status);
    sioc_socket_emit(asker, "done", sioc_json(json));
    sioc_socket_unref(asker);
}

static void on_join(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_socket_join(s, room);
    sioc_socket_ack(s, ack, sioc_json(NULL));
}

static void on_poll(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    const char *rooms[] = {"voters"};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1};
    (void)ev;
    (void)a;
    (void)ack;
    (void)arg;
    sioc_socket_ref(s);
    cr_assert_eq(
        sioc_emit_ack(sioc_socket_nsp(s), &to, "vote", sioc_json("\"q\""), 400, on_vote, s), 0);
}

static void on_any(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char json[128];
    (void)a;
    (void)ack;
    (void)arg;
    snprintf(json, sizeof json, "\"%.*s\"", (int)ev.len, ev.ptr);
    sioc_socket_emit(s, "any", sioc_json(json));
}

static void on_known(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    (void)ev;
    (void)a;
    (void)arg;
    sioc_socket_ack(s, ack, sioc_json("\"k\""));
}

static void init_rooms(sioc_server_t *srv)
{
    reset();
    sioc_nsp_t *root = sioc_of(srv, "/");
    sioc_on(root, "join", on_join, NULL);
    sioc_on(root, "poll", on_poll, NULL);
    sioc_on(root, "known", on_known, NULL);
    sioc_on_any(root, on_any, NULL);
    sioc_on_disconnect(root, on_disconnect, NULL);
}

/* The ack id in the first `42<id>["vote"` a client received. */
static long vote_id(rw_client_t *c)
{
    const char *p = strstr(c->log, "[\"vote\"");
    cr_assert_not_null(p, "no vote in:\n%s", c->log);
    const char *q = p;
    while (q > c->log && q[-1] >= '0' && q[-1] <= '9')
        q--;
    return strtol(q + 2, NULL, 10); /* skip the "42" */
}

static void connect_and_join(int n)
{
    for (int i = 0; i < n; i++) {
        rw_send(&clients[i], "40");
        rw_expect(&clients[i], "40{\"sid\":\"");
        rw_send(&clients[i], "421[\"join\",\"voters\"]");
        rw_expect(&clients[i], "431[]\n");
    }
}

Test(sio_server, broadcast_with_acks_collects_every_answer, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_rooms, clients, 3);
    connect_and_join(3);
    rw_send(&clients[0], "42[\"poll\"]");
    char ans[64];
    for (int i = 0; i < 3; i++) {
        rw_expect(&clients[i], "[\"vote\",\"q\"]\n");
        snprintf(ans, sizeof ans, "43%ld[\"yes\"]", vote_id(&clients[i]));
        rw_send(&clients[i], ans);
    }
    rw_expect(&clients[0], "42[\"done\",3,0]\n");
    cr_assert_eq(vote_id(&clients[0]), vote_id(&clients[2]), "one id for all recipients");
    rw_spin(500);
    cr_assert_eq(g.finals, 1, "the final callback runs once");
    rw_stop();
}

Test(sio_server, broadcast_with_acks_times_out, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_rooms, clients, 3);
    connect_and_join(3);
    rw_send(&clients[0], "42[\"poll\"]");
    char ans[64];
    for (int i = 0; i < 2; i++) {
        rw_expect(&clients[i], "[\"vote\",\"q\"]\n");
        snprintf(ans, sizeof ans, "43%ld[\"yes\"]", vote_id(&clients[i]));
        rw_send(&clients[i], ans);
    }
    rw_expect(&clients[0], "42[\"done\",2,-30003]\n");
    cr_assert_eq(g.final, SIOC_ETIMEDOUT);
    rw_stop();
}

Test(sio_server, catch_all_gets_unregistered_events_only, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_rooms, clients, 1);
    connect_and_join(1);
    rw_send(&clients[0], "427[\"known\",1]");
    rw_send(&clients[0], "42[\"mystery\",{\"a\":[1]}]");
    rw_send(&clients[0], "42[\"caf\\u00e9\"]");
    rw_expect(&clients[0], "437[\"k\"]\n");
    rw_expect(&clients[0], "42[\"any\",\"mystery\"]\n");
    rw_expect(&clients[0], "42[\"any\",\"caf\xc3\xa9\"]\n"); /* the decoded name */
    cr_assert(!rw_logged(&clients[0], "\"any\",\"known\""));
    rw_stop();
}

/* ---- namespaces and server-side socket operations --------------------------------- */

static void hi_on_connect(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status;
    (void)auth;
    (void)arg;
    sioc_socket_emit(s, "hi", sioc_json(NULL));
}

static sioc_nsp_t *resolve(sioc_server_t *srv, const char *name, void *arg)
{
    (void)arg;
    if (strncmp(name, "/dyn-", 5) != 0)
        return NULL;
    sioc_nsp_t *nsp = sioc_of(srv, name);
    sioc_on_connection(nsp, hi_on_connect, NULL);
    return nsp;
}

static void init_dyn(sioc_server_t *srv)
{
    reset();
    sioc_server_on_namespace(srv, resolve, NULL);
}

Test(sio_server, dynamic_namespaces, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_dyn, clients, 1);
    rw_send(&clients[0], "40/dyn-7,");
    rw_expect(&clients[0], "40/dyn-7,{\"sid\":\"");
    rw_expect(&clients[0], "42/dyn-7,[\"hi\"]\n");
    rw_send(&clients[0], "40/other,");
    rw_expect(&clients[0], "44/other,{\"message\":\"Invalid namespace\"}\n");
    rw_send(&clients[0], "40/dyn-7,"); /* twice the same namespace: protocol violation */
    rw_spin(200);
    cr_assert(clients[0].closed, "the connection is closed");
    rw_stop();
}

/* The socket id from a client's CONNECT reply into `out` (21 bytes). */
static void socket_id(rw_client_t *c, char *out)
{
    const char *p = strstr(c->log, "40{\"sid\":\"");
    cr_assert_not_null(p);
    memcpy(out, p + 10, 20);
    out[20] = '\0';
}

Test(sio_server, sockets_join_and_disconnect_sockets, .timeout = 20)
{
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_rooms, clients, 3);
    connect_and_join(3);
    sioc_nsp_t *root = sioc_of(rw.srv, "/");
    char keep[21], eio_sid[21];
    socket_id(&clients[1], keep);
    const char *p = strstr(clients[1].log, "0{\"sid\":\"");
    memcpy(eio_sid, p + 9, 20);
    eio_sid[20] = '\0';
    cr_assert_str_neq(keep, eio_sid, "the socket id is not the Engine.IO sid");
    sioc_sockets_join(root, NULL, "everyone");
    cr_assert_eq(sioc_room_size(root, "everyone"), 3);
    const char *rooms[] = {"everyone"}, *except[] = {keep};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1, .except = except, .n_except = 1};
    sioc_sockets_disconnect(root, &to, false);
    cr_assert_eq(sioc_room_size(root, "everyone"), 1);
    cr_assert_eq(g.disconnects, 2);
    cr_assert_eq(g.reason, SIOC_SERVER_NAMESPACE_DISCONNECT);
    rw_expect(&clients[0], "\n41\n");
    rw_expect(&clients[2], "\n41\n");
    rw_spin(100);
    cr_assert(!rw_logged(&clients[1], "\n41\n"));
    cr_assert_eq(sioc_server_connections(rw.srv), 3, "namespace disconnects keep connections");
    rw_stop();
}

/* ---- connect timeout -------------------------------------------------------------- */

static void init_plain(sioc_server_t *srv)
{
    reset();
    sioc_on_connection(sioc_of(srv, "/"), emit_auth, NULL);
}

Test(sio_server, connect_timeout_closes_only_idle_connections, .timeout = 20)
{
    sioc_config_t cfg = {.connect_timeout_ms = 300};
    rw_start(&cfg, init_plain, clients, 3);
    rw_send(&clients[0], "40");
    rw_expect(&clients[0], "42[\"auth\",{}]\n");
    rw_spin(150);
    rw_send(&clients[2], "40"); /* joins late, but before its deadline */
    rw_expect(&clients[2], "42[\"auth\",{}]\n");
    rw_spin(400);
    cr_assert(!clients[0].closed);
    cr_assert(clients[1].closed, "no namespace joined within 300 ms: closed");
    cr_assert(!clients[2].closed);
    rw_send(&clients[0], "41"); /* zero namespaces after a join: stays open */
    rw_spin(400);
    cr_assert(!clients[0].closed);
    cr_assert_eq(sioc_server_connections(rw.srv), 2);
    rw_stop();
}

/* ---- the Engine.IO request filter and plain HTTP ---------------------------------- */

typedef struct http_probe {
    uv_tcp_t tcp;
    uv_connect_t creq;
    const char *request;
    char in[4096];
    size_t n;
    bool done;
} http_probe_t;

static void probe_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    http_probe_t *p = h->data;
    (void)hint;
    *buf = uv_buf_init(p->in + p->n, (unsigned)(sizeof p->in - 1 - p->n));
}

static void probe_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    http_probe_t *p = st->data;
    (void)buf;
    if (nread > 0) {
        p->n += (size_t)nread;
        p->in[p->n] = '\0';
    }
    if (nread < 0 || strstr(p->in, "\r\n\r\n"))
        p->done = p->done || nread < 0 || strchr(strstr(p->in, "\r\n\r\n") + 4, '}') != NULL;
}

static void probe_connected(uv_connect_t *req, int status)
{
    http_probe_t *p = req->data;
    cr_assert_eq(status, 0);
    uv_read_start((uv_stream_t *)&p->tcp, probe_alloc, probe_read);
    uv_buf_t b = uv_buf_init((char *)p->request, (unsigned)strlen(p->request));
    cr_assert_eq(uv_try_write((uv_stream_t *)&p->tcp, &b, 1), (int)b.len);
}

static bool probe_done(void *arg)
{
    return ((http_probe_t *)arg)->done;
}

/* Sends `request` on a fresh connection and returns the response (in p->in). */
static void http_probe(http_probe_t *p, const char *request)
{
    memset(p, 0, sizeof *p);
    p->request = request;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", sioc_server_port(rw.srv), &addr);
    uv_tcp_init(&rw.loop, &p->tcp);
    p->tcp.data = p;
    p->creq.data = p;
    cr_assert_eq(uv_tcp_connect(&p->creq, &p->tcp, (struct sockaddr *)&addr, probe_connected), 0);
    cr_assert(rw_run_until(probe_done, p, 5000), "no response to %s", request);
    uv_close((uv_handle_t *)&p->tcp, NULL);
    rw_spin(10);
}

static bool ws_guard(sioc_http_req_t *req, void *arg)
{
    sioc_str_t q = sioc_http_query(req);
    (void)arg;
    bool ws = memmem(q.ptr, q.len, "transport=websocket", 19) != NULL;
    if (!ws || sioc_http_header(req, "upgrade").ptr)
        return false;
    sioc_http_respond(req, 400, "application/json", NULL,
                      (sioc_str_t){"{\"detail\":\"Invalid WebSocket upgrade request\"}", 46});
    return true;
}

static void on_plain_http(sioc_http_req_t *req, void *arg)
{
    char body[128];
    (void)arg;
    sioc_str_t path = sioc_http_path(req);
    int n = snprintf(body, sizeof body, "{\"method\":\"%s\",\"path\":\"%.*s\"}",
                     sioc_http_method(req), (int)path.len, path.ptr);
    sioc_http_respond(req, 200, "application/json", "X-Test: 1\r\n", (sioc_str_t){body, (size_t)n});
}

static void init_filter(sioc_server_t *srv)
{
    reset();
    sioc_server_on_engine_request(srv, ws_guard, NULL);
    sioc_server_on_http(srv, on_plain_http, NULL);
}

Test(sio_server, engine_request_filter_and_plain_http, .timeout = 20)
{
    static http_probe_t p;
    sioc_config_t cfg = {0};
    rw_start(&cfg, init_filter, clients, 0);
    http_probe(&p, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(p.in, "HTTP/1.1 400", 12) == 0, "%s", p.in);
    cr_assert(strstr(p.in, "{\"detail\":\"Invalid WebSocket upgrade request\"}"), "%s", p.in);
    http_probe(&p, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(p.in, "HTTP/1.1 200", 12) == 0, "%s", p.in);
    cr_assert(strstr(p.in, "0{\"sid\":\""), "Engine.IO still answers: %s", p.in);
    http_probe(&p, "GET /api/v1/x?y=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(p.in, "HTTP/1.1 200", 12) == 0, "%s", p.in);
    cr_assert(strstr(p.in, "X-Test: 1\r\n"), "%s", p.in);
    cr_assert(strstr(p.in, "{\"method\":\"GET\",\"path\":\"/api/v1/x\"}"), "%s", p.in);
    rw_stop();
}
