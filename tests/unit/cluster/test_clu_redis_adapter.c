/* Unit tests for the Redis adapter's parts that need no Redis server: the format names,
 * configuration errors, the local room semantics it shares with clu_local, and the
 * receive paths of both wire formats fed with golden messages directly (the filter that
 * drops room traffic for rooms without a local member, own-uid and other-namespace
 * messages ignored, remote socketsJoin/Leave and python-socketio enter/leave/close_room
 * applied, malformed input ignored). The Redis client points at a closed port, so every
 * publish is dropped and counted; nothing here waits for a network. The end-to-end
 * behaviour is in tests/integration/6x-cluster*.test.mjs. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/clu_cluster_private.h"
#include "cluster/clu_wire_sio.h"
#include "sio/sio_socket.h"

#define N 4

static uv_loop_t loop;
static net_loop_t *nl;
static clu_cluster_t *cl;
static struct sio_server fake_srv;
static struct sioc_nsp nsp;
static sioc_socket_t socks[N];
static sio_adapter_t *ad;
static const sio_adapter_ops_t *ops = &clu_redis_adapter_ops;
static char url[64];

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void start(const char *format)
{
    uv_loop_init(&loop);
    nl = net_loop_new(&loop, NULL);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", closed_port());
    clu_cluster_config_t cfg = {.url = url, .format = format, .room_channels = true};
    const char *err = NULL;
    cl = clu_cluster_new(&loop, nl, &cfg, &err);
    cr_assert_not_null(cl, "%s", err);
    memset(&fake_srv, 0, sizeof fake_srv);
    memset(&nsp, 0, sizeof nsp);
    nsp.srv = &fake_srv;
    nsp.name = "/";
    nsp.name_len = 1;
    ad = ops->create(&nsp, cl);
    for (int i = 0; i < N; i++) {
        sioc_socket_t *s = &socks[i];
        memset(s, 0, sizeof *s);
        sio_member_init(&s->member);
        s->state = SIO_SOCK_CONNECTED;
        s->refs = 1;
        snprintf(s->id, sizeof s->id, "sock%016d", i);
        slice_t own = slice_from_cstr(s->id);
        ops->add_all(ad, s, &own, 1);
    }
}

static void stop(void)
{
    for (int i = 0; i < N; i++)
        ops->del_all(ad, &socks[i]);
    clu_cluster_stop(cl);
    ops->destroy(ad);
    clu_cluster_free(cl);
    uv_run(&loop, UV_RUN_DEFAULT); /* the client finishes closing; the cluster goes too */
    net_loop_free(nl);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static void start_sio(void)
{
    start(NULL);
}

static void start_py(void)
{
    start("python-socketio");
}

TestSuite(clu_redis_adapter);

static void join(int i, const char *room)
{
    slice_t r = slice_from_cstr(room);
    ops->add_all(ad, &socks[i], &r, 1);
}

static size_t room_size(const char *room)
{
    return ops->room_size(ad, slice_from_cstr(room));
}

Test(clu_redis_adapter, format_names)
{
    cr_assert_eq(clu_format_parse(NULL), CLU_FORMAT_SOCKETIO);
    cr_assert_eq(clu_format_parse(""), CLU_FORMAT_SOCKETIO);
    cr_assert_eq(clu_format_parse("socketio"), CLU_FORMAT_SOCKETIO);
    cr_assert_eq(clu_format_parse("python-socketio"), CLU_FORMAT_PYTHON);
    cr_assert_eq(clu_format_parse("redis"), -1);
    cr_assert_eq(clu_format_parse("Socketio"), -1);
}

Test(clu_redis_adapter, bad_settings_are_refused_with_a_reason)
{
    uv_loop_t l;
    uv_loop_init(&l);
    const char *err = NULL;
    clu_cluster_config_t bad_fmt = {.url = "redis://127.0.0.1:1/0", .format = "pickle"};
    cr_assert_null(clu_cluster_new(&l, NULL, &bad_fmt, &err));
    cr_assert(err && strstr(err, "format"), "%s", err);
    clu_cluster_config_t tls = {.url = "rediss://127.0.0.1:1/0"};
    err = NULL;
    cr_assert_null(clu_cluster_new(&l, NULL, &tls, &err));
    cr_assert_not_null(err);
    clu_cluster_config_t port = {.url = "redis://127.0.0.1:99999/0"};
    err = NULL;
    cr_assert_null(clu_cluster_new(&l, NULL, &port, &err));
    cr_assert_not_null(err);
    cr_assert_eq(uv_loop_close(&l), 0);
    /* the public constructor refuses them too */
    sioc_config_t c = {.redis_url = "rediss://x"};
    cr_assert_null(sioc_server_new(NULL, &c));
    sioc_config_t f = {.redis_url = "redis://127.0.0.1:1", .redis_format = "nope"};
    cr_assert_null(sioc_server_new(NULL, &f));
}

Test(clu_redis_adapter, ids_and_channels, .init = start_sio, .fini = stop)
{
    cr_assert_eq(cl->uid_len, 6);
    char a[8], b[8];
    clu_cluster_new_id(cl, a, 6);
    clu_cluster_new_id(cl, b, 6);
    cr_assert_eq(strlen(a), 6);
    cr_assert_str_neq(a, b);
    for (int i = 0; i < 6; i++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", a[i]));
    cr_assert(slice_eq_cstr(buf_slice(&ad->pattern), "socket.io#/#*"));
    cr_assert(slice_eq_cstr(buf_slice(&ad->req_chan), "socket.io-request#/#"));
    cr_assert(slice_eq_cstr(buf_slice(&ad->resp_chan), "socket.io-response#/#"));
    cr_assert_eq(ops->server_count(ad), 1);
}

Test(clu_redis_adapter, python_ids_and_channels, .init = start_py, .fini = stop)
{
    cr_assert_eq(cl->uid_len, 32);
    for (int i = 0; i < 32; i++)
        cr_assert(strchr("0123456789abcdef", cl->uid[i]), "%s", cl->uid);
    cr_assert_eq(cl->uid[12], '4'); /* uuid4 */
    cr_assert(slice_eq_cstr(buf_slice(&ad->req_chan), "socketio"));
    cr_assert(slice_eq_cstr(buf_slice(&ad->pattern), "socketio#*"));
}

static void mark(void *arg, sioc_socket_t *s)
{
    unsigned *mask = arg;
    *mask |= 1u << (unsigned)(s - socks);
}

Test(clu_redis_adapter, local_rooms_like_the_local_adapter, .init = start_sio, .fini = stop)
{
    join(0, "a");
    join(1, "a");
    join(1, "vip");
    slice_t a = SLICE_LIT("a"), vip = SLICE_LIT("vip");
    sio_bcast_t o = {&a, 1, &vip, 1, SIO_BCAST_LOCAL};
    unsigned mask = 0;
    ops->sockets(ad, &o, mark, &mask);
    cr_assert_eq(mask, 0x1);
    /* socketsJoin with LOCAL: no publish, applied here */
    ops->add_sockets(ad, &o, &vip, 1);
    cr_assert_eq(room_size("vip"), 2);
    ops->del_sockets(ad, &(sio_bcast_t){NULL, 0, NULL, 0, SIO_BCAST_LOCAL}, &vip, 1);
    cr_assert_eq(room_size("vip"), 0);
    cr_assert_eq(cl->stats.published + cl->stats.dropped, 0);
    /* not LOCAL: applied here, and the publish (Redis is down) is dropped and counted */
    ops->add_sockets(ad, &(sio_bcast_t){&a, 1, NULL, 0, 0}, &vip, 1);
    cr_assert_eq(room_size("vip"), 2);
    cr_assert_eq(cl->stats.published, 0);
}

/* A broadcast message from node `uid` for `rooms` (none: everybody). */
static void bcast(buf_t *out, const char *uid, const char *nsp_name, const slice_t *rooms,
                  size_t n)
{
    clu_sio_event_t ev = {slice_from_cstr(nsp_name), SLICE_LIT("msg"), SLICE_LIT("1,\"x\""), NULL, 0};
    clu_sio_target_t t = {rooms, n, NULL, 0, CLU_SIO_FLAGS_NONE};
    const char *err = NULL;
    buf_clear(out);
    cr_assert_eq(clu_wire_sio_encode_broadcast(out, slice_from_cstr(uid), &ev, &t, &err), 0);
}

static void deliver_msg(const char *pattern, const char *channel, slice_t payload)
{
    cl->fmt->on_message(cl, slice_from_cstr(pattern), slice_from_cstr(channel), payload);
}

Test(clu_redis_adapter, room_traffic_without_members_is_dropped_unread, .init = start_sio,
     .fini = stop)
{
    buf_t m = BUF_INIT;
    join(2, "members");
    slice_t nobody = SLICE_LIT("nobody"), members = SLICE_LIT("members");
    bcast(&m, "other1", "/", &nobody, 1);
    deliver_msg("socket.io#/#*", "socket.io#/#nobody#", buf_slice(&m));
    cr_assert_eq(cl->stats.filtered, 1);
    cr_assert_eq(cl->stats.received, 0);
    /* the filter reads only the channel: even garbage for an empty room costs nothing */
    deliver_msg("socket.io#/#*", "socket.io#/#nobody#", SLICE_LIT("\xc1garbage"));
    cr_assert_eq(cl->stats.filtered, 2);
    bcast(&m, "other1", "/", &members, 1);
    deliver_msg("socket.io#/#*", "socket.io#/#members#", buf_slice(&m));
    cr_assert_eq(cl->stats.received, 1);
    /* everybody: on the namespace channel */
    bcast(&m, CLU_SIO_EMITTER_UID, "/", NULL, 0);
    deliver_msg("socket.io#/#*", "socket.io#/#", buf_slice(&m));
    cr_assert_eq(cl->stats.received, 2);
    /* our own echo and another namespace's packet are ignored */
    bcast(&m, cl->uid, "/", NULL, 0);
    deliver_msg("socket.io#/#*", "socket.io#/#", buf_slice(&m));
    bcast(&m, "other1", "/admin", NULL, 0);
    deliver_msg("socket.io#/#*", "socket.io#/#", buf_slice(&m));
    /* malformed bodies are ignored */
    deliver_msg("socket.io#/#*", "socket.io#/#", SLICE_LIT("\x93\xa1"));
    deliver_msg("socket.io#/#*", "socket.io#/#", SLICE_LIT(""));
    deliver_msg("socket.io#/#*", "socket.io#/admin#", buf_slice(&m));
    cr_assert_eq(cl->stats.received, 2);
    buf_dispose(&m);
}

Test(clu_redis_adapter, remote_join_leave_and_legacy_requests, .init = start_sio, .fini = stop)
{
    join(0, "src");
    join(3, "src");
    const char *join_req = "{\"uid\":\"other1\",\"type\":2,\"opts\":{\"rooms\":[\"src\"],"
                           "\"except\":[]},\"rooms\":[\"dst\",\"dst2\"]}";
    deliver_msg("", "socket.io-request#/#", slice_from_cstr(join_req));
    cr_assert_eq(room_size("dst"), 2);
    cr_assert_eq(room_size("dst2"), 2);
    /* emitter form: no uid; except honoured */
    char leave_req[256];
    snprintf(leave_req, sizeof leave_req,
             "{\"type\":3,\"opts\":{\"rooms\":[\"dst\"],\"except\":[\"%s\"]},\"rooms\":[\"dst\"]}",
             socks[0].id);
    deliver_msg("", "socket.io-request#/#", slice_from_cstr(leave_req));
    cr_assert_eq(room_size("dst"), 1);
    /* our own request is not applied twice (we applied it before publishing) */
    char own[256];
    snprintf(own, sizeof own,
             "{\"uid\":\"%s\",\"type\":3,\"opts\":{\"rooms\":[],\"except\":[]},\"rooms\":[\"dst2\"]}",
             cl->uid);
    deliver_msg("", "socket.io-request#/#", slice_from_cstr(own));
    cr_assert_eq(room_size("dst2"), 2);
    /* legacy per-socket join */
    char legacy[256];
    snprintf(legacy, sizeof legacy,
             "{\"uid\":\"other1\",\"requestId\":\"abc123\",\"type\":2,\"sid\":\"%s\",\"room\":\"l\"}",
             socks[1].id);
    deliver_msg("", "socket.io-request#/#", slice_from_cstr(legacy));
    cr_assert_eq(room_size("l"), 1);
    /* garbage and unknown types change nothing */
    deliver_msg("", "socket.io-request#/#", SLICE_LIT("{\"type\":2,\"opts\":5,\"rooms\":[\"z\"]}"));
    deliver_msg("", "socket.io-request#/#", SLICE_LIT("{\"type\":99}"));
    deliver_msg("", "socket.io-request#/#", SLICE_LIT("{\"uid\":"));
    deliver_msg("", "socket.io-request#/#", SLICE_LIT("\xde\x00\x01"));
    cr_assert_eq(room_size("z"), 0);
}

Test(clu_redis_adapter, python_messages, .init = start_py, .fini = stop)
{
    join(1, "chan");
    char msg[512];
    /* per-room channel: dropped unread without a member, delivered with one */
    deliver_msg("socketio#*", "socketio#/#empty", SLICE_LIT("not even json"));
    cr_assert_eq(cl->stats.filtered, 1);
    const char *emit = "{\"method\": \"emit\", \"event\": \"msg\", \"data\": [1], \"binary\": false, "
                       "\"namespace\": \"/\", \"room\": \"chan\", \"skip_sid\": null, "
                       "\"callback\": null, \"host_id\": \"0123456789abcdef0123456789abcdef\"}";
    deliver_msg("socketio#*", "socketio#/#chan", slice_from_cstr(emit));
    cr_assert_eq(cl->stats.received, 1);
    deliver_msg("", "socketio", slice_from_cstr(emit));
    cr_assert_eq(cl->stats.received, 2);
    /* enter_room / leave_room for a sid of ours; other sids are not ours to act on */
    snprintf(msg, sizeof msg,
             "{\"method\": \"enter_room\", \"sid\": \"%s\", \"room\": \"r\", \"namespace\": \"/\", "
             "\"host_id\": \"ffff\"}",
             socks[2].id);
    deliver_msg("", "socketio", slice_from_cstr(msg));
    cr_assert_eq(room_size("r"), 1);
    deliver_msg("", "socketio",
                SLICE_LIT("{\"method\": \"enter_room\", \"sid\": \"elsewhere\", \"room\": \"r\", "
                          "\"namespace\": \"/\", \"host_id\": \"ffff\"}"));
    cr_assert_eq(room_size("r"), 1);
    snprintf(msg, sizeof msg,
             "{\"method\": \"enter_room\", \"sid\": \"%s\", \"room\": \"r\", \"namespace\": \"/\", "
             "\"host_id\": \"ffff\"}",
             socks[3].id);
    deliver_msg("", "socketio", slice_from_cstr(msg));
    cr_assert_eq(room_size("r"), 2);
    snprintf(msg, sizeof msg,
             "{\"method\": \"leave_room\", \"sid\": \"%s\", \"room\": \"r\", \"namespace\": \"/\", "
             "\"host_id\": \"ffff\"}",
             socks[3].id);
    deliver_msg("", "socketio", slice_from_cstr(msg));
    cr_assert_eq(room_size("r"), 1);
    /* our own host_id is ignored */
    snprintf(msg, sizeof msg,
             "{\"method\": \"close_room\", \"room\": \"r\", \"namespace\": \"/\", \"host_id\": \"%s\"}",
             cl->uid);
    deliver_msg("", "socketio", slice_from_cstr(msg));
    cr_assert_eq(room_size("r"), 1);
    deliver_msg("", "socketio",
                SLICE_LIT("{\"method\": \"close_room\", \"room\": \"r\", \"namespace\": \"/\", "
                          "\"host_id\": \"ffff\"}"));
    cr_assert_eq(room_size("r"), 0);
    /* other namespaces, unknown methods, malformed JSON: ignored */
    deliver_msg("", "socketio",
                SLICE_LIT("{\"method\": \"close_room\", \"room\": \"chan\", \"namespace\": "
                          "\"/admin\", \"host_id\": \"ffff\"}"));
    deliver_msg("", "socketio", SLICE_LIT("{\"method\": \"reticulate\"}"));
    deliver_msg("", "socketio", SLICE_LIT("{\"method\": \"emit\", \"data\": [NaN]}"));
    deliver_msg("", "socketio", SLICE_LIT("\x80\x04pickle"));
    cr_assert_eq(room_size("chan"), 1);
    cr_assert_eq(cl->stats.received, 2);
}

/* ---- the public cluster queries on a single node -------------------------------- */

typedef struct answers {
    int count_status;
    size_t servers;
    int fetch_status;
    char sockets[256];
    size_t n;
    int calls;
} answers_t;

static void on_count(int status, size_t servers, void *arg)
{
    answers_t *a = arg;
    a->count_status = status;
    a->servers = servers;
    a->calls++;
}

static void on_fetch(int status, sioc_str_t sockets, size_t n, void *arg)
{
    answers_t *a = arg;
    a->fetch_status = status;
    snprintf(a->sockets, sizeof a->sockets, "%.*s", (int)sockets.len, sockets.ptr);
    a->n = n;
    a->calls++;
}

static void run_until(sioc_server_t *srv, const int *calls, int want)
{
    for (int i = 0; i < 2000 && *calls < want; i++)
        uv_run(sioc_server_loop(srv), UV_RUN_ONCE);
}

Test(clu_redis_adapter, single_node_queries_answer_later)
{
    sioc_server_t *srv = sioc_server_new(NULL, NULL);
    answers_t a = {.count_status = 99, .fetch_status = 99};
    sioc_nsp_t *root = sioc_of(srv, "/");
    cr_assert_eq(sioc_server_count(root, on_count, &a), 0);
    cr_assert_eq(sioc_fetch_sockets(root, NULL, on_fetch, &a), 0);
    cr_assert_eq(a.calls, 0, "never during the call");
    run_until(srv, &a.calls, 2);
    cr_assert_eq(a.count_status, 0);
    cr_assert_eq(a.servers, 1);
    cr_assert_eq(a.fetch_status, 0);
    cr_assert_str_eq(a.sockets, "[]");
    cr_assert_eq(a.n, 0);
    cr_assert_eq(sioc_server_side_emit(root, "e", sioc_json("1")), 0);
    cr_assert_eq(sioc_server_count(root, NULL, NULL), SIOC_EINVAL);
    sioc_cluster_stats_t st;
    sioc_cluster_stats(srv, &st);
    cr_assert_eq(st.published + st.dropped + st.received, 0);
    sioc_server_free(srv);
}

Test(clu_redis_adapter, redis_down_queries_fail_instead_of_hanging)
{
    char u[64];
    snprintf(u, sizeof u, "redis://127.0.0.1:%d", closed_port());
    sioc_config_t c = {.redis_url = u};
    sioc_server_t *srv = sioc_server_new(NULL, &c);
    cr_assert_not_null(srv);
    answers_t a = {.count_status = 99, .fetch_status = 99};
    sioc_nsp_t *root = sioc_of(srv, "/");
    cr_assert_eq(sioc_server_count(root, on_count, &a), 0);
    cr_assert_eq(sioc_fetch_sockets(root, NULL, on_fetch, &a), 0);
    cr_assert_eq(sioc_emit(root, NULL, "e", sioc_json("1")), 0, "local delivery goes on");
    run_until(srv, &a.calls, 2);
    cr_assert_eq(a.calls, 2);
    cr_assert_eq(a.count_status, SIOC_EUNAVAIL);
    cr_assert_eq(a.fetch_status, 0, "this node's sockets, the others unreachable");
    cr_assert_str_eq(a.sockets, "[]");
    sioc_cluster_stats_t st;
    sioc_cluster_stats(srv, &st);
    cr_assert_eq(st.published, 0);
    sioc_server_free(srv);
}
