/*
 * Tests for src/cluster/clu_redis against REAL redis-server processes (Debian's 7.0.x),
 * started by the tests on free loopback ports (`--save "" --appendonly no`, working
 * directory in a temporary folder, killed with the test: PR_SET_PDEATHSIG).
 *
 * Covered: commands and replies, pub/sub (SUBSCRIBE and PSUBSCRIBE), error replies,
 * SELECT and AUTH (password and ACL user) from the URL, name resolution, unix sockets,
 * the command timeout (DEBUG SLEEP), the connect timeout (a listener that never
 * answers), the PUBLISH size bound, the wait queue bound, outage fail-fast, killing the
 * server mid-traffic and restarting it on the same port (every callback exactly once,
 * reconnection, resubscription), close from inside a callback, and Sentinel discovery
 * and failover with a master, a replica and three sentinels.
 *
 * Every test runs a real uv loop and ends with no handle open and uv_loop_close == 0
 * (STYLE rule 37).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/clu_redis.h"

/* ------------------------------------------------------------------ processes */

typedef struct proc {
    pid_t pid;
    int port;
} proc_t;

static char g_dir[64];
static pid_t g_pids[16]; /* every server started, killed at teardown whatever happened */
static int g_npids;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts `redis-server <conf or nothing> --port P ... extra...`. */
static pid_t spawn(const char *conf, int port, const char *const *extra)
{
    const char *argv[40];
    char portbuf[16];
    int n = 0;
    snprintf(portbuf, sizeof portbuf, "%d", port);
    argv[n++] = "redis-server";
    if (conf)
        argv[n++] = conf;
    const char *base[] = {"--port",       portbuf, "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no",    "--dir",  g_dir,       NULL};
    for (int i = 0; base[i]; i++)
        argv[n++] = base[i];
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    if (g_npids < 16)
        g_pids[g_npids++] = pid;
    return pid;
}

/* Blocking probe (test code, outside the loop): the server answers PING (or NOAUTH). */
static bool answers(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static void wait_answers(int port)
{
    for (int i = 0; i < 200; i++) {
        if (answers(port))
            return;
        usleep(25000);
    }
    cr_assert_fail("redis-server on port %d did not start", port);
}

static proc_t start_redis(const char *const *extra)
{
    proc_t p = {0, free_port()};
    p.pid = spawn(NULL, p.port, extra);
    wait_answers(p.port);
    return p;
}

static void stop(proc_t *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    for (int i = 0; i < g_npids; i++) /* reaped: never signal that pid again */
        if (g_pids[i] == p->pid)
            g_pids[i] = 0;
    p->pid = 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------------------ the loop */

typedef struct world {
    uv_loop_t loop;
    clu_redis_t *r;
    int ready, down, sub_ready, sub_down, master, closed;
    char last_channel[128], last_pattern[128], last_payload[256];
    int messages;
} world_t;

static world_t w;

static void on_message(clu_redis_t *r, slice_t pattern, slice_t channel, slice_t payload)
{
    (void)r;
    snprintf(w.last_pattern, sizeof w.last_pattern, "%.*s", (int)pattern.len,
             (const char *)pattern.ptr);
    snprintf(w.last_channel, sizeof w.last_channel, "%.*s", (int)channel.len,
             (const char *)channel.ptr);
    snprintf(w.last_payload, sizeof w.last_payload, "%.*s", (int)payload.len,
             (const char *)payload.ptr);
    w.messages++;
}

static void on_event(clu_redis_t *r, clu_redis_event_t ev)
{
    (void)r;
    switch (ev) {
    case CLU_REDIS_EV_READY:
        w.ready++;
        break;
    case CLU_REDIS_EV_DOWN:
        w.down++;
        break;
    case CLU_REDIS_EV_SUB_READY:
        w.sub_ready++;
        break;
    case CLU_REDIS_EV_SUB_DOWN:
        w.sub_down++;
        break;
    case CLU_REDIS_EV_MASTER:
        w.master++;
        break;
    }
}

static const clu_redis_callbacks_t cbs = {on_message, on_event};

static void setup(void)
{
    memset(&w, 0, sizeof w);
    g_npids = 0;
    snprintf(g_dir, sizeof g_dir, "/tmp/sioc-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    cr_assert_eq(uv_loop_init(&w.loop), 0);
}

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void teardown(void)
{
    for (int i = 0; i < g_npids; i++) {
        if (g_pids[i] <= 0)
            continue;
        kill(g_pids[i], SIGKILL);
        waitpid(g_pids[i], NULL, 0);
    }
    g_npids = 0;
    if (w.r)
        clu_redis_close(w.r, NULL); /* a failed test left it open */
    uv_run(&w.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&w.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles still open at teardown", open);
    cr_assert_eq(uv_loop_close(&w.loop), 0);
    rm_dir(g_dir);
}

static void noop_timer(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *counter >= target or `ms` pass. */
static bool run_until(const int *counter, int target, int ms)
{
    uv_timer_t t;
    uv_timer_init(&w.loop, &t);
    uv_timer_start(&t, noop_timer, 5, 5);
    uint64_t end = uv_hrtime() / 1000000 + (uint64_t)ms;
    while (*counter < target && uv_hrtime() / 1000000 < end)
        uv_run(&w.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&w.loop, UV_RUN_NOWAIT);
    return *counter >= target;
}

static void run_for(int ms)
{
    int never = 0;
    run_until(&never, 1, ms);
}

static void on_closed(clu_redis_t *r)
{
    (void)r;
    w.closed++;
}

static void close_client(void)
{
    clu_redis_close(w.r, on_closed);
    cr_assert(run_until(&w.closed, 1, 3000), "close never completed");
    w.r = NULL;
}

static clu_redis_t *client(const char *url, clu_redis_config_t cfg)
{
    static clu_redis_url_t u;
    const char *err = NULL;
    cr_assert_eq(clu_redis_url_parse(url, &u, &err), 0, "%s: %s", url, err);
    cfg.url = &u;
    cfg.cbs = &cbs;
    cfg.name = "test";
    return clu_redis_new(&w.loop, &cfg);
}

/* A recorded reply: status, type and text, for assertions after the loop ran. */
typedef struct rec {
    int calls;
    int status;
    int type;
    long long integer;
    char text[256];
    size_t textlen;
    size_t len;
} rec_t;

static void on_rec(clu_redis_t *r, int status, const clu_redis_reply_t *rep, void *arg)
{
    rec_t *x = arg;
    (void)r;
    x->calls++;
    x->status = status;
    x->type = rep ? (int)clu_redis_reply_type(rep) : 0;
    if (rep) {
        slice_t s = clu_redis_reply_str(rep);
        x->textlen = s.len < sizeof x->text ? s.len : sizeof x->text - 1;
        if (x->textlen)
            memcpy(x->text, s.ptr, x->textlen);
        x->text[x->textlen] = '\0';
        x->integer = clu_redis_reply_int(rep);
        x->len = clu_redis_reply_len(rep);
    }
}

/* A blocking helper connection for checking the server's side. */
static redisReply *side(int port, const char *pw, const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    cr_assert(c && !c->err);
    if (pw)
        freeReplyObject(redisCommand(c, "AUTH %s", pw));
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

/* ------------------------------------------------------------------ tests */

TestSuite(clu_redis, .init = setup, .fini = teardown, .timeout = 30);

Test(clu_redis, commands_replies_and_pubsub)
{
    proc_t s = start_redis(NULL);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){0});
    cr_assert(run_until(&w.ready, 1, 3000));
    cr_assert(clu_redis_is_ready(w.r));

    rec_t set = {0}, get = {0}, incr = {0}, bad = {0}, arr = {0};
    slice_t argv[] = {SLICE_LIT("SET"), SLICE_LIT("k"), SLICE_LIT("v\0x")};
    cr_assert_eq(clu_redis_command(w.r, on_rec, &set, 3, argv), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &get, "GET %s", "k"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &incr, "INCRBY n %d", 41), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &bad, "INCR k"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &arr, "MGET k nope n"), 0);
    cr_assert(run_until(&arr.calls, 1, 3000));
    cr_assert(set.calls == 1 && set.status == 0 && set.type == CLU_REDIS_REPLY_STATUS);
    cr_assert_str_eq(set.text, "OK");
    cr_assert(get.status == 0 && get.type == CLU_REDIS_REPLY_STRING && get.len == 0);
    cr_assert(get.textlen == 3 && memcmp(get.text, "v\0x", 3) == 0, "binary-safe value");
    cr_assert(incr.type == CLU_REDIS_REPLY_INTEGER && incr.integer == 41);
    cr_assert_eq(bad.status, CLU_REDIS_E_REPLY);
    cr_assert_eq(bad.type, CLU_REDIS_REPLY_ERROR);
    cr_assert(strstr(bad.text, "not an integer"), "%s", bad.text);
    cr_assert(arr.type == CLU_REDIS_REPLY_ARRAY && arr.len == 3);

    /* mode-changing commands must go through the subscribe API */
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &arr, "SUBSCRIBE x"), CLU_REDIS_E_ARG);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &arr, "monitor"), CLU_REDIS_E_ARG);
    cr_assert_eq(clu_redis_command(w.r, on_rec, &arr, 0, NULL), CLU_REDIS_E_ARG);

    cr_assert_eq(clu_redis_subscribe(w.r, SLICE_LIT("chan")), 0);
    cr_assert_eq(clu_redis_psubscribe(w.r, SLICE_LIT("pat.*")), 0);
    cr_assert_eq(clu_redis_subscribe(w.r, SLICE_LIT("chan")), 0, "twice is a no-op");
    cr_assert(run_until(&w.sub_ready, 1, 3000));
    rec_t pub = {0};
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("chan"), SLICE_LIT("hello"), on_rec, &pub), 0);
    cr_assert(run_until(&w.messages, 1, 3000));
    cr_assert_str_eq(w.last_channel, "chan");
    cr_assert_str_eq(w.last_pattern, "");
    cr_assert_str_eq(w.last_payload, "hello");
    cr_assert(run_until(&pub.calls, 1, 3000));
    cr_assert_eq(pub.integer, 1, "one subscriber received it");
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("pat.x"), SLICE_LIT("p"), NULL, NULL), 0);
    cr_assert(run_until(&w.messages, 2, 3000));
    cr_assert_str_eq(w.last_pattern, "pat.*");
    cr_assert_str_eq(w.last_channel, "pat.x");

    cr_assert_eq(clu_redis_unsubscribe(w.r, SLICE_LIT("chan")), 0);
    cr_assert_eq(clu_redis_unsubscribe(w.r, SLICE_LIT("chan")), CLU_REDIS_E_ARG);
    /* the UNSUBSCRIBE travels on the other connection: wait until the server applied it */
    for (int i = 0; i < 100; i++) {
        redisReply *n = side(s.port, NULL, "PUBSUB NUMSUB chan");
        long long subs = n && n->elements == 2 ? n->element[1]->integer : -1;
        freeReplyObject(n);
        if (subs == 0)
            break;
        run_for(20);
    }
    rec_t pub2 = {0};
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("chan"), SLICE_LIT("gone"), on_rec, &pub2), 0);
    cr_assert(run_until(&pub2.calls, 1, 3000));
    cr_assert_eq(pub2.integer, 0, "unsubscribed");
    char host[64];
    uint16_t port;
    cr_assert_eq(clu_redis_server(w.r, host, sizeof host, &port), 0);
    cr_assert(strcmp(host, "127.0.0.1") == 0 && port == s.port);
    close_client();
    cr_assert_eq(w.down, 0);
    stop(&s);
}

Test(clu_redis, select_auth_user_and_name_resolution)
{
    const char *extra[] = {"--requirepass", "secret", "--user", "alice", "on",
                           ">alicepw",      "~*",     "&*",     "+@all", NULL};
    proc_t s = start_redis(extra);
    char url[128];
    snprintf(url, sizeof url, "redis://:secret@localhost:%d/3", s.port);
    w.r = client(url, (clu_redis_config_t){0});
    rec_t set = {0};
    /* submitted before the connection is ready: waits in the queue */
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &set, "SET dbkey in3"), 0);
    cr_assert(run_until(&set.calls, 1, 3000));
    cr_assert_eq(set.status, 0, "%s", clu_redis_strerror(set.status));
    redisReply *r3 = side(s.port, "secret", "SELECT 3");
    freeReplyObject(r3);
    redisContext *c = redisConnect("127.0.0.1", s.port);
    freeReplyObject(redisCommand(c, "AUTH secret"));
    freeReplyObject(redisCommand(c, "SELECT 3"));
    redisReply *got = redisCommand(c, "GET dbkey");
    cr_assert(got && got->type == REDIS_REPLY_STRING && strcmp(got->str, "in3") == 0);
    freeReplyObject(got);
    freeReplyObject(redisCommand(c, "SELECT 0"));
    got = redisCommand(c, "GET dbkey");
    cr_assert(got && got->type == REDIS_REPLY_NIL, "SELECT 3 was used, not db 0");
    freeReplyObject(got);
    redisFree(c);
    close_client();

    snprintf(url, sizeof url, "redis://alice:alicepw@127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){0});
    rec_t who = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &who, "ACL WHOAMI"), 0);
    cr_assert(run_until(&who.calls, 1, 3000));
    cr_assert_str_eq(who.text, "alice");
    close_client();

    /* a wrong password: never ready, queued work fails with DOWN, then fail-fast */
    w.ready = 0;
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){.backoff_min_ms = 20, .backoff_max_ms = 40});
    rec_t q = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q, "PING"), 0);
    cr_assert(run_until(&q.calls, 1, 3000));
    cr_assert_eq(q.status, CLU_REDIS_E_DOWN);
    run_for(300);
    cr_assert_eq(w.ready, 0);
    cr_assert_eq(q.calls, 1);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q, "PING"), CLU_REDIS_E_DOWN);
    close_client();
    stop(&s);
}

Test(clu_redis, unix_socket)
{
    char sock[128], url[160];
    snprintf(sock, sizeof sock, "%s/redis.sock", g_dir);
    const char *extra[] = {"--unixsocket", sock, NULL};
    proc_t s = start_redis(extra);
    snprintf(url, sizeof url, "unix://%s", sock);
    w.r = client(url, (clu_redis_config_t){0});
    rec_t pong = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &pong, "PING"), 0);
    cr_assert(run_until(&pong.calls, 1, 3000));
    cr_assert_str_eq(pong.text, "PONG");
    close_client();
    stop(&s);
}

Test(clu_redis, command_timeout_reconnects)
{
    const char *extra[] = {"--enable-debug-command", "yes", NULL};
    proc_t s = start_redis(extra);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){.command_timeout_ms = 300, .backoff_min_ms = 20});
    cr_assert(run_until(&w.ready, 1, 3000));
    rec_t slow = {0}, behind = {0}, after = {0};
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &slow, "DEBUG SLEEP 1.5"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &behind, "PING"), 0);
    cr_assert(run_until(&slow.calls, 1, 3000));
    uint64_t took = (uv_hrtime() - t0) / 1000000;
    cr_assert_eq(slow.status, CLU_REDIS_E_TIMEOUT);
    cr_assert(took >= 250 && took < 1200, "timed out after %llu ms", (unsigned long long)took);
    cr_assert(run_until(&behind.calls, 1, 1000));
    cr_assert_eq(behind.status, CLU_REDIS_E_DISCONNECTED, "%s", clu_redis_strerror(behind.status));
    cr_assert_eq(w.down, 1);
    /* the server is busy for a while; the client keeps trying and comes back */
    cr_assert(run_until(&w.ready, 2, 8000), "never reconnected");
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &after, "PING"), 0);
    cr_assert(run_until(&after.calls, 1, 3000));
    cr_assert_eq(after.status, 0);
    run_for(100);
    cr_assert_eq(slow.calls, 1);
    cr_assert_eq(behind.calls, 1);
    close_client();
    stop(&s);
}

/* A listener that accepts and never answers: the handshake times out. */
static uv_tcp_t silent[32];
static int nsilent;

static void on_silent_conn(uv_stream_t *srv, int status)
{
    if (status < 0 || nsilent == 32)
        return;
    uv_tcp_t *c = &silent[nsilent++];
    uv_tcp_init(srv->loop, c);
    cr_assert_eq(uv_accept(srv, (uv_stream_t *)c), 0);
}

Test(clu_redis, connect_timeout_and_fail_fast)
{
    static uv_tcp_t srv; /* closed by the loop after the test body returns */
    struct sockaddr_in a;
    nsilent = 0;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&w.loop, &srv);
    srv.data = NULL;
    cr_assert_eq(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&srv, 16, on_silent_conn), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&srv, (struct sockaddr *)&a, &len);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    w.r = client(url, (clu_redis_config_t){.connect_timeout_ms = 200,
                                           .backoff_min_ms = 50,
                                           .backoff_max_ms = 100,
                                           .max_queue = 2});
    rec_t q1 = {0}, q2 = {0}, q3 = {0};
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q1, "PING"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q2, "PING"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q3, "PING"), CLU_REDIS_E_QUEUE_FULL);
    cr_assert(run_until(&q2.calls, 1, 3000));
    uint64_t took = (uv_hrtime() - t0) / 1000000;
    cr_assert(took >= 150 && took < 1000, "failed after %llu ms", (unsigned long long)took);
    cr_assert(q1.status == CLU_REDIS_E_DOWN && q2.status == CLU_REDIS_E_DOWN);
    cr_assert_eq(q3.calls, 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &q3, "PING"), CLU_REDIS_E_DOWN, "fail fast");
    run_for(400); /* a few more attempts, each timing out */
    cr_assert_eq(w.ready, 0);
    cr_assert_eq(q1.calls + q2.calls, 2);
    close_client();
    cr_assert_gt(nsilent, 1, "it kept retrying");
    for (int i = 0; i < nsilent; i++)
        uv_close((uv_handle_t *)&silent[i], NULL);
    uv_close((uv_handle_t *)&srv, NULL);
}

Test(clu_redis, publish_size_bound)
{
    proc_t s = start_redis(NULL);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){.max_message = 1000});
    cr_assert_eq(clu_redis_subscribe(w.r, SLICE_LIT("big")), 0);
    cr_assert(run_until(&w.sub_ready, 1, 3000));
    static char payload[4000];
    memset(payload, 'x', sizeof payload);
    rec_t ok = {0};
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("big"), slice_make(payload, 1001), on_rec, &ok),
                 CLU_REDIS_E_TOO_BIG);
    /* other commands may be up to max_message + 64 KiB */
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &ok, "SET k %b", payload, (size_t)sizeof payload),
                 0);
    cr_assert(run_until(&ok.calls, 1, 3000));
    cr_assert_eq(ok.status, 0);
    ok.calls = 0;
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("big"), slice_make(payload, 1000), on_rec, &ok),
                 0);
    cr_assert(run_until(&w.messages, 1, 3000));
    cr_assert(run_until(&ok.calls, 1, 3000));
    cr_assert_eq(ok.integer, 1, "the connection still works after the refusal");
    cr_assert_eq(strlen(w.last_payload), sizeof w.last_payload - 1);
    close_client();

    /* unsent bytes are bounded while connected: a burst within one loop turn fills the
     * output buffer, the rest is refused at once, and what was accepted completes */
    w.r = client(url, (clu_redis_config_t){.max_unsent_bytes = 4000});
    cr_assert(run_until(&w.ready, 2, 3000));
    static rec_t many[10];
    memset(many, 0, sizeof many);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        int rc = clu_redis_publish(w.r, SLICE_LIT("big"), slice_make(payload, 900), on_rec,
                                   &many[i]);
        cr_assert(rc == 0 || rc == CLU_REDIS_E_QUEUE_FULL, "%s", clu_redis_strerror(rc));
        accepted += rc == 0;
        refused += rc != 0;
    }
    cr_assert(accepted >= 3 && refused >= 3, "accepted %d refused %d", accepted, refused);
    cr_assert(run_until(&many[accepted - 1].calls, 1, 3000));
    for (int i = 0; i < 10; i++)
        cr_assert_eq(many[i].calls, i < accepted ? 1 : 0);
    close_client();
    stop(&s);
}

/* Every callback of a burst exactly once across a server kill, then reconnection and
 * resubscription after a restart on the same port. */
static int burst_calls[400];
static int burst_ok, burst_err, burst_total;

static void on_burst(clu_redis_t *r, int status, const clu_redis_reply_t *rep, void *arg)
{
    (void)r;
    (void)rep;
    burst_calls[(intptr_t)arg]++;
    burst_total++;
    if (status == 0)
        burst_ok++;
    else
        burst_err++;
}

static proc_t g_killme;

static void kill_now(uv_timer_t *t)
{
    stop(&g_killme);
    uv_close((uv_handle_t *)t, NULL);
}

Test(clu_redis, kill_and_restart_mid_traffic)
{
    const char *extra[] = {"--enable-debug-command", "yes", NULL};
    proc_t s = start_redis(extra);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){.backoff_min_ms = 20, .backoff_max_ms = 200});
    cr_assert_eq(clu_redis_subscribe(w.r, SLICE_LIT("news")), 0);
    cr_assert_eq(clu_redis_psubscribe(w.r, SLICE_LIT("new?")), 0);
    cr_assert(run_until(&w.ready, 1, 3000));
    cr_assert(run_until(&w.sub_ready, 1, 3000));
    memset(burst_calls, 0, sizeof burst_calls);
    burst_ok = burst_err = burst_total = 0;
    /* the server sleeps while the burst is pending, and is killed meanwhile */
    cr_assert_eq(clu_redis_commandf(w.r, on_burst, (void *)(intptr_t)0, "DEBUG SLEEP 0.3"), 0);
    for (intptr_t i = 1; i < 400; i++)
        cr_assert_eq(clu_redis_commandf(w.r, on_burst, (void *)i, "INCR counter"), 0);
    g_killme = s;
    uv_timer_t killer;
    uv_timer_init(&w.loop, &killer);
    uv_timer_start(&killer, kill_now, 100, 0);
    cr_assert(run_until(&burst_total, 400, 5000), "only %d callbacks", burst_total);
    run_for(200);
    for (int i = 0; i < 400; i++)
        cr_assert_eq(burst_calls[i], 1, "callback %d ran %d times", i, burst_calls[i]);
    cr_assert(burst_err > 0, "the kill failed the pending commands");
    cr_assert(run_until(&w.down, 1, 1000));
    cr_assert(run_until(&w.sub_down, 1, 1000));
    /* outage: fail fast once an attempt failed */
    run_for(300);
    rec_t during = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &during, "PING"), CLU_REDIS_E_DOWN);

    /* restart on the same port */
    s.pid = spawn(NULL, s.port, extra);
    wait_answers(s.port);
    uint64_t t0 = uv_hrtime();
    cr_assert(run_until(&w.ready, 2, 5000), "never reconnected");
    cr_assert(run_until(&w.sub_ready, 2, 5000), "never resubscribed");
    uint64_t took = (uv_hrtime() - t0) / 1000000;
    cr_assert(took < 1500, "reconnection took %llu ms", (unsigned long long)took);
    rec_t pub = {0};
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("news"), SLICE_LIT("back"), on_rec, &pub), 0);
    cr_assert(run_until(&w.messages, 2, 3000), "SUBSCRIBE and PSUBSCRIBE both restored");
    cr_assert_str_eq(w.last_payload, "back");
    cr_assert(run_until(&pub.calls, 1, 3000));
    cr_assert_eq(pub.integer, 2);
    cr_assert_eq(w.down, 1, "the outage is reported once");
    close_client();
    stop(&s);
}

/* Closing from inside a reply callback fails the rest with CLOSED, exactly once. */
static rec_t close_recs[3];

static void on_close_in_cb(clu_redis_t *r, int status, const clu_redis_reply_t *rep, void *arg)
{
    on_rec(r, status, rep, arg);
    clu_redis_close(r, on_closed);
    clu_redis_close(r, on_closed);
    rec_t late = {0};
    cr_assert_eq(clu_redis_commandf(r, on_rec, &late, "PING"), CLU_REDIS_E_CLOSED);
}

Test(clu_redis, close_inside_callback)
{
    proc_t s = start_redis(NULL);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
    w.r = client(url, (clu_redis_config_t){0});
    cr_assert(run_until(&w.ready, 1, 3000));
    memset(close_recs, 0, sizeof close_recs);
    cr_assert_eq(clu_redis_commandf(w.r, on_close_in_cb, &close_recs[0], "PING"), 0);
    /* BLPOP blocks this connection server-side, so the PING behind it stays unanswered */
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &close_recs[1], "BLPOP nothing 2"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &close_recs[2], "PING"), 0);
    cr_assert(run_until(&w.closed, 1, 3000));
    w.r = NULL;
    cr_assert_eq(close_recs[0].calls, 1);
    cr_assert_eq(close_recs[0].status, 0);
    cr_assert_eq(close_recs[1].calls, 1);
    cr_assert_eq(close_recs[2].calls, 1);
    cr_assert_eq(close_recs[1].status, CLU_REDIS_E_CLOSED);
    cr_assert_eq(close_recs[2].status, CLU_REDIS_E_CLOSED);
    cr_assert_eq(w.closed, 1);
    stop(&s);
}

/* ------------------------------------------------------------------ Sentinel */

static proc_t start_sentinel(int master_port)
{
    proc_t p = {0, free_port()};
    char conf[128];
    snprintf(conf, sizeof conf, "%s/sentinel-%d.conf", g_dir, p.port);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "sentinel monitor mymaster 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
            "sentinel failover-timeout mymaster 3000\n"
            "sentinel parallel-syncs mymaster 1\n",
            master_port);
    fclose(f);
    const char *extra[] = {"--sentinel", NULL};
    p.pid = spawn(conf, p.port, extra);
    wait_answers(p.port);
    return p;
}

static long long sentinel_count(int port, const char *what)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    long long n = -1;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "SENTINEL %s mymaster", what);
        if (r && r->type == REDIS_REPLY_ARRAY)
            n = (long long)r->elements;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return n;
}

Test(clu_redis, sentinel_discovery_and_failover, .timeout = 60)
{
    proc_t master = start_redis(NULL);
    char mport[16];
    snprintf(mport, sizeof mport, "%d", master.port);
    const char *rep_extra[] = {"--replicaof", "127.0.0.1", mport, NULL};
    proc_t replica = start_redis(rep_extra);
    proc_t sent[3];
    for (int i = 0; i < 3; i++)
        sent[i] = start_sentinel(master.port);
    /* wait until the replica is in sync and every sentinel knows the two others and the
     * replica */
    bool settled = false;
    for (int i = 0; i < 300 && !settled; i++) {
        redisReply *info = side(replica.port, NULL, "INFO replication");
        settled = info && info->type == REDIS_REPLY_STRING &&
                  strstr(info->str, "master_link_status:up") != NULL;
        freeReplyObject(info);
        for (int k = 0; k < 3; k++)
            settled = settled && sentinel_count(sent[k].port, "sentinels") == 2 &&
                      sentinel_count(sent[k].port, "replicas") == 1;
        if (!settled)
            usleep(50000);
    }
    cr_assert(settled, "sentinels did not discover each other");

    /* the first configured sentinel is dead: the client must move on to the next */
    int dead = free_port();
    char hosts[128];
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", dead,
             sent[0].port, sent[1].port, sent[2].port);
    char url[200];
    snprintf(url, sizeof url, "redis+sentinel://%s/0/mymaster", hosts);
    w.r = client(url, (clu_redis_config_t){
                          .backoff_min_ms = 50, .backoff_max_ms = 300, .connect_timeout_ms = 500});
    cr_assert_eq(clu_redis_subscribe(w.r, SLICE_LIT("fo")), 0);
    cr_assert(run_until(&w.ready, 1, 5000));
    cr_assert(run_until(&w.sub_ready, 1, 5000));
    cr_assert_eq(w.master, 1);
    char host[64];
    uint16_t port = 0;
    cr_assert_eq(clu_redis_server(w.r, host, sizeof host, &port), 0);
    cr_assert_eq(port, master.port);
    rec_t set = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &set, "SET before failover"), 0);
    cr_assert(run_until(&set.calls, 1, 3000));
    cr_assert_eq(set.status, 0);
    rec_t synced = {0}; /* replication is asynchronous: let the replica ack the write */
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &synced, "WAIT 1 3000"), 0);
    cr_assert(run_until(&synced.calls, 1, 5000));
    cr_assert_eq(synced.integer, 1);

    /* kill the master: the sentinels promote the replica, the client follows */
    stop(&master);
    cr_assert(run_until(&w.master, 2, 30000), "no +switch-master followed");
    cr_assert_eq(clu_redis_server(w.r, host, sizeof host, &port), 0);
    cr_assert_eq(port, replica.port);
    cr_assert(run_until(&w.ready, 2, 10000));
    cr_assert(run_until(&w.sub_ready, 2, 10000));
    rec_t set2 = {0}, get = {0}, pub = {0};
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &set2, "SET after failover"), 0);
    cr_assert_eq(clu_redis_commandf(w.r, on_rec, &get, "GET before"), 0);
    cr_assert(run_until(&get.calls, 1, 3000));
    cr_assert_eq(set2.status, 0, "writes go to the new master: %s", set2.text);
    cr_assert_str_eq(get.text, "failover", "the replica had the data");
    cr_assert_eq(clu_redis_publish(w.r, SLICE_LIT("fo"), SLICE_LIT("again"), on_rec, &pub), 0);
    cr_assert(run_until(&w.messages, 1, 3000), "subscription did not follow the master");
    cr_assert_str_eq(w.last_payload, "again");
    close_client();
    for (int i = 0; i < 3; i++)
        stop(&sent[i]);
    stop(&replica);
}
