/* Real-loop loopback tests for src/http/http_static (STYLE rule 37): an http_server on
 * 127.0.0.1 port 0 serving a temporary web root, raw libuv clients in the same loop.
 * Covers content types, index.html, HEAD, 404/405/400, every traversal defence, a
 * 20 MiB file streamed with back-pressure, keep-alive after a streamed file, and a
 * client leaving mid-transfer or before the file was even opened (done() exactly once,
 * the file closed). Every test ends with no handle open and uv_loop_close == 0. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "net/net_timer.h"

enum { BIG_SIZE = 20 * 1024 * 1024 };

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    buf_t got;      /* everything received */
    bool connected;
    bool eof;
    bool closed;
    bool paused;    /* do not read (back-pressure tests) */
} client_t;

typedef struct world {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    int port;
    char root[64];      /* the temporary directory */
    char www[80];       /* the web root inside it */
    int sync_status;    /* what http_static_serve_cb returned for the last request */
    int requests;       /* on_request calls */
    int done_calls;     /* done() calls */
    int done_status;    /* the last done() status */
    net_conn_t *server_nc; /* the server side of the last request */
} world_t;

static world_t w;
static net_timer_t ticker;

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void on_done(int status, void *arg)
{
    world_t *wp = arg;
    wp->done_calls++;
    wp->done_status = status;
}

static void on_request(http_req_t *req, void *user)
{
    world_t *wp = user;
    wp->requests++;
    wp->server_nc = http_req_conn(req);
    wp->sync_status = http_static_serve_cb(req, wp->www, SLICE_LIT("X-S: 1\r\n"), on_done, wp);
}

static void tick(net_timer_t *t)
{
    net_timer_start(w.nl, t, 5, tick);
}

/* ---- the web root ------------------------------------------------------------------ */

static void write_file(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", w.root, rel);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(content, f);
    fclose(f);
}

static uint8_t big_byte(size_t i)
{
    return (uint8_t)((i * 7) ^ (i >> 13));
}

static void write_big(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/www/big.bin", w.root);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    static uint8_t block[65536];
    for (size_t off = 0; off < BIG_SIZE; off += sizeof block) {
        for (size_t i = 0; i < sizeof block; i++)
            block[i] = big_byte(off + i);
        cr_assert_eq(fwrite(block, 1, sizeof block, f), sizeof block);
    }
    fclose(f);
}

static void make_root(void)
{
    strcpy(w.root, "/tmp/sioc-static-XXXXXX");
    cr_assert_not_null(mkdtemp(w.root));
    char p[256];
    snprintf(w.www, sizeof w.www, "%s/www", w.root);
    mkdir(w.www, 0755);
    snprintf(p, sizeof p, "%s/www/sub", w.root);
    mkdir(p, 0755);
    write_file("www/index.html", "<h1>hi</h1>");
    write_file("www/app.js", "console.log(1)");
    write_file("www/style.CSS", "p{}");
    write_file("www/noext", "raw");
    write_file("www/sub/index.html", "sub");
    write_file("www/a b.txt", "space");
    write_file("www/empty.txt", "");
    write_file("secret.txt", "top secret");
    char target[256];
    snprintf(target, sizeof target, "%s/secret.txt", w.root);
    snprintf(p, sizeof p, "%s/www/link.txt", w.root);
    cr_assert_eq(symlink(target, p), 0);
    snprintf(target, sizeof target, "%s/www/app.js", w.root);
    snprintf(p, sizeof p, "%s/www/inside.js", w.root);
    cr_assert_eq(symlink(target, p), 0, "a symlink that stays inside the root");
    snprintf(p, sizeof p, "%s/www/fifo", w.root);
    cr_assert_eq(mkfifo(p, 0644), 0);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as every server program does: writes to a reset peer */
    memset(&w, 0, sizeof w);
    cr_assert_eq(uv_loop_init(&w.loop), 0);
    w.nl = net_loop_new(&w.loop, NULL);
    w.srv = http_server_new(w.nl, NULL, on_request, &w);
    cr_assert_eq(http_server_listen(w.srv, "127.0.0.1", 0), 0);
    w.port = http_server_port(w.srv);
    cr_assert_gt(w.port, 0);
    make_root();
    net_timer_init(&ticker);
    tick(&ticker);
}

static void teardown(void)
{
    net_timer_stop(&ticker);
    http_server_free(w.srv);
    net_loop_free(w.nl);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&w.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles still open at teardown", open);
    cr_assert_eq(uv_loop_close(&w.loop), 0, "a request (fs?) is still active");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w.root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(http_static, .init = setup, .fini = teardown, .timeout = 30);

/* Runs the loop until `cond` holds or `ms` pass. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t t0_ = uv_now(&w.loop);                                                            \
        while (!(cond) && uv_now(&w.loop) - t0_ < (ms))                                            \
            uv_run(&w.loop, UV_RUN_ONCE);                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

/* ---- the client -------------------------------------------------------------------- */

static void cli_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(s);
    b->len = s;
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client_t *c = s->data;
    if (n > 0)
        buf_append(&c->got, b->base, (size_t)n);
    else if (n < 0)
        c->eof = true;
    free(b->base);
}

static void cli_set_reading(client_t *c, bool on)
{
    c->paused = !on;
    if (on)
        uv_read_start((uv_stream_t *)&c->tcp, cli_alloc, cli_read);
    else
        uv_read_stop((uv_stream_t *)&c->tcp);
}

static void cli_on_connect(uv_connect_t *req, int status)
{
    client_t *c = req->data;
    cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
    c->connected = true;
    if (!c->paused)
        uv_read_start((uv_stream_t *)&c->tcp, cli_alloc, cli_read);
}

static void cli_connect(client_t *c)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", w.port, &a);
    uv_tcp_init(&w.loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    cr_assert_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, cli_on_connect), 0);
    RUN_UNTIL(c->connected, 2000);
}

static void cli_send(client_t *c, const char *s)
{
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
    cr_assert_eq(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)strlen(s));
}

static void cli_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    c->closed = true;
}

static void cli_close(client_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, cli_closed);
    RUN_UNTIL(c->closed, 2000);
    buf_dispose(&c->got);
}

static bool has(const client_t *c, const char *s)
{
    return memmem(buf_data(&c->got), c->got.len, s, strlen(s)) != NULL;
}

/* The body: what follows the first blank line. */
static slice_t body_of(const client_t *c)
{
    const uint8_t *d = buf_data(&c->got);
    const uint8_t *e = memmem(d, c->got.len, "\r\n\r\n", 4);
    cr_assert_not_null(e, "no header end in %zu bytes", c->got.len);
    return slice_make(e + 4, c->got.len - (size_t)(e + 4 - d));
}

/* One request with "Connection: close"; waits for the server's EOF and for the job
 * to finish. Returns the status from the status line; the answer stays in c->got. */
static int fetch(client_t *c, const char *method, const char *path)
{
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
             path);
    int done0 = w.done_calls;
    cli_connect(c);
    cli_send(c, req);
    RUN_UNTIL(c->eof, 5000);
    if (w.sync_status == 0)
        RUN_UNTIL(w.done_calls == done0 + 1, 2000);
    else
        cr_assert_eq(w.done_calls, done0, "done() runs only for answers under way");
    int status = 0;
    cr_assert_eq(sscanf((const char *)buf_data(&c->got), "HTTP/1.1 %d ", &status), 1);
    return status;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- tests ------------------------------------------------------------------------- */

Test(http_static, files_types_index_and_head)
{
    client_t c;
    cr_assert_eq(fetch(&c, "GET", "/"), 200);
    cr_assert_eq(w.sync_status, 0, "a file is answered from the loop later");
    cr_assert_eq(w.done_status, 200);
    cr_assert(has(&c, "Content-Type: text/html; charset=utf-8\r\n"));
    cr_assert(has(&c, "Content-Length: 11\r\n"));
    cr_assert(slice_eq_cstr(body_of(&c), "<h1>hi</h1>"));
    cr_assert(has(&c, "X-S: 1\r\n\r\n"));
    cli_close(&c);

    cr_assert_eq(fetch(&c, "GET", "/app.js?v=3"), 200);
    cr_assert(has(&c, "Content-Type: text/javascript; charset=utf-8\r\n"));
    cr_assert(slice_eq_cstr(body_of(&c), "console.log(1)"));
    cli_close(&c);

    cr_assert_eq(fetch(&c, "GET", "/style.CSS"), 200);
    cr_assert(has(&c, "Content-Type: text/css; charset=utf-8\r\n"));
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/noext"), 200);
    cr_assert(has(&c, "Content-Type: application/octet-stream\r\n"));
    cli_close(&c);

    cr_assert_eq(fetch(&c, "GET", "/sub/"), 200);
    cr_assert(slice_eq_cstr(body_of(&c), "sub"));
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/a%20b.txt"), 200);
    cr_assert(slice_eq_cstr(body_of(&c), "space"));
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/empty.txt"), 200);
    cr_assert(has(&c, "Content-Length: 0\r\n"));
    cr_assert_eq(body_of(&c).len, 0);
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/inside.js"), 200, "a symlink inside the root is fine");
    cr_assert(slice_eq_cstr(body_of(&c), "console.log(1)"));
    cli_close(&c);

    cr_assert_eq(fetch(&c, "HEAD", "/app.js"), 200);
    cr_assert(has(&c, "Content-Length: 14\r\n"));
    cr_assert_eq(body_of(&c).len, 0, "HEAD has no body");
    cli_close(&c);
    cr_assert_eq(w.done_calls, 9, "done() exactly once per file request");
}

Test(http_static, missing_directories_and_methods)
{
    client_t c;
    cr_assert_eq(fetch(&c, "GET", "/missing.html"), 404);
    cr_assert_eq(w.done_status, 404);
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/sub"), 404, "a directory is not a file");
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/fifo"), 404, "a FIFO is not a file (and does not hang)");
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/app.js/x"), 404);
    cli_close(&c);
    cr_assert_eq(fetch(&c, "POST", "/"), 405);
    cr_assert_eq(w.sync_status, 405, "answered at once");
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/bad%zzescape"), 400);
    cli_close(&c);
    cr_assert_eq(fetch(&c, "GET", "/trunc%2"), 400);
    cli_close(&c);
}

Test(http_static, traversal_is_refused)
{
    const char *bad[] = {
        "/../secret.txt",      "/sub/../../secret.txt", "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt", "/..%2fsecret.txt",     "/index.html%00.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
    };
    client_t c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(fetch(&c, "GET", bad[i]), 403, "%s", bad[i]);
        cr_assert_eq(w.sync_status, 403, "%s is refused from the URL alone", bad[i]);
        cr_assert_not(has(&c, "top secret"));
        cli_close(&c);
    }
    cr_assert_eq(fetch(&c, "GET", "/link.txt"), 403, "a symlink out of the root");
    cr_assert_eq(w.sync_status, 0, "found by the realpath check on the pool");
    cr_assert_eq(w.done_status, 403);
    cr_assert_not(has(&c, "top secret"));
    cli_close(&c);
}

Test(http_static, big_file_is_streamed_with_back_pressure)
{
    write_big();
    client_t c;
    cli_connect(&c);
    cli_send(&c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    RUN_UNTIL(c.got.len > 1024 * 1024, 5000);
    cli_set_reading(&c, false);
    /* The client reads nothing for a while: the kernel buffers fill up, then the job
     * must stop reading the file instead of queueing it in memory. */
    size_t max_queued = 0;
    uint64_t written = 0;
    uint64_t t0 = uv_now(&w.loop);
    while (uv_now(&w.loop) - t0 < 600) {
        uv_run(&w.loop, UV_RUN_ONCE);
        size_t q = w.server_nc ? net_conn_buffered(w.server_nc) : 0;
        max_queued = q > max_queued ? q : max_queued;
        if (uv_now(&w.loop) - t0 < 400)
            written = net_loop_stats(w.nl)->bytes_written;
    }
    cr_assert_lt(written, (uint64_t)BIG_SIZE, "the client's pause must stall the transfer");
    cr_assert_eq(net_loop_stats(w.nl)->bytes_written, written, "stalled: nothing more written");
    cr_assert_leq(max_queued, 192 * 1024, "queued %zu bytes: the file must not pile up",
                  max_queued);
    cr_assert_eq(w.done_calls, 0);
    cli_set_reading(&c, true);
    RUN_UNTIL(c.eof, 20000);
    RUN_UNTIL(w.done_calls == 1, 2000);
    cr_assert_eq(w.done_status, 200);
    cr_assert(has(&c, "Content-Length: 20971520\r\n"));
    cr_assert(has(&c, "Content-Type: application/octet-stream\r\n"));
    slice_t body = body_of(&c);
    cr_assert_eq(body.len, (size_t)BIG_SIZE);
    size_t bad = 0;
    for (size_t i = 0; i < body.len; i++)
        bad += body.ptr[i] != big_byte(i);
    cr_assert_eq(bad, 0, "%zu bytes differ", bad);
    cli_close(&c);
}

Test(http_static, keep_alive_goes_on_after_a_streamed_file)
{
    write_big();
    client_t c;
    cli_connect(&c);
    cli_send(&c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    RUN_UNTIL(c.eof, 20000);
    RUN_UNTIL(w.done_calls == 2, 2000);
    cr_assert_eq(w.requests, 2);
    const uint8_t *d = buf_data(&c.got);
    const uint8_t *second = memmem(d, c.got.len, "HTTP/1.1 200 OK\r\nContent-Type: text/javascript",
                                   46);
    cr_assert_not_null(second);
    cr_assert(memmem(second, c.got.len - (size_t)(second - d), "\r\n\r\nconsole.log(1)", 18));
    /* the second answer starts right after the 20 MiB body of the first */
    const uint8_t *e = memmem(d, c.got.len, "\r\n\r\n", 4);
    cr_assert_eq((size_t)(second - (e + 4)), (size_t)BIG_SIZE);
    cli_close(&c);
}

Test(http_static, client_leaving_mid_transfer_frees_everything)
{
    write_big();
    int fds0 = open_fds();
    client_t c;
    cli_connect(&c);
    cli_send(&c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(c.got.len > 512 * 1024, 5000);
    cr_assert_eq(w.done_calls, 0);
    cli_close(&c); /* unread data: the server gets a reset */
    RUN_UNTIL(w.done_calls == 1, 5000);
    cr_assert_lt(w.done_status, 0, "cut short: %d", w.done_status);
    for (int i = 0; i < 20; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    cr_assert_eq(w.done_calls, 1, "exactly once");
    cr_assert_eq(open_fds(), fds0, "the file and the socket are closed");
    cr_assert_eq(net_loop_stats(w.nl)->conns_open, 0);
    cr_assert_lt(net_loop_stats(w.nl)->bytes_written, (uint64_t)BIG_SIZE);
}

Test(http_static, client_leaving_before_the_file_opened)
{
    int fds0 = open_fds();
    for (int i = 0; i < 5; i++) {
        client_t c;
        cli_connect(&c);
        cli_send(&c, "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n");
        RUN_UNTIL(w.requests == i + 1, 2000); /* the job has started on the pool */
        cli_close(&c);
        RUN_UNTIL(w.done_calls == i + 1, 5000);
    }
    for (int i = 0; i < 20; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    cr_assert_eq(w.done_calls, 5);
    cr_assert_eq(open_fds(), fds0);
}

Test(http_static, server_shutdown_mid_transfer)
{
    write_big();
    client_t c;
    cli_connect(&c);
    cli_send(&c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(c.got.len > 256 * 1024, 5000);
    cli_set_reading(&c, false);
    http_server_free(w.srv); /* closes gracefully: the stream is cut, the job ends */
    w.srv = NULL;
    cli_set_reading(&c, true);
    RUN_UNTIL(w.done_calls == 1, 5000);
    cr_assert_lt(w.done_status, 0);
    RUN_UNTIL(c.eof, 5000);
    cr_assert_lt(body_of(&c).len, (size_t)BIG_SIZE, "a short body, then EOF");
    cli_close(&c);
}
