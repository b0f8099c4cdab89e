/* Unit tests for src/http/http_server (the llhttp glue), driven through in-memory
 * connections on a real uv loop: requests split at every byte, pipelining behind a
 * parked request, the per-read cap on pipelined requests, limits (400/413/431),
 * keep-alive, HEAD, aborts, streamed answers. Static files: test_http_static.c. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rcbuf.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "net/net_loop.h"

#define MAX_REQ 8

typedef struct fixture {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    buf_t out;               /* what the server wrote */
    net_conn_t *nc;
    int nreq;                /* requests seen */
    buf_t seen[MAX_REQ];     /* "METHOD path|query|body" per request */
    bool park;               /* park requests instead of answering */
    http_req_t *parked[MAX_REQ];
    int nparked;
    int aborts;
    int headers_seen;        /* on_headers calls */
    bool headers_incomplete; /* on_headers saw a request whose body was still missing */
    bool refuse_early;       /* on_headers answers 400 */
    bool count_only;         /* answer "<path>" and append "<path>," to `order` */
    buf_t order;
    int drains;              /* drain callbacks seen */
} fixture_t;

static fixture_t fx;

static void on_request(http_req_t *req, void *user)
{
    fixture_t *f = user;
    if (f->count_only) {
        f->nreq++;
        buf_append_slice(&f->order, http_req_path(req));
        buf_append_byte(&f->order, ',');
        http_resp_send(req, 200, NULL, slice_make(NULL, 0), http_req_path(req));
        return;
    }
    cr_assert_lt(f->nreq, MAX_REQ);
    buf_t *b = &f->seen[f->nreq++];
    buf_append_slice(b, http_req_method(req));
    buf_append_byte(b, ' ');
    buf_append_slice(b, http_req_path(req));
    buf_append_byte(b, '|');
    buf_append_slice(b, http_req_query_string(req));
    buf_append_byte(b, '|');
    buf_append_slice(b, http_req_body(req));
    if (f->park) {
        f->parked[f->nparked++] = req;
        return;
    }
    http_resp_send(req, 200, "text/plain", SLICE_LIT("X-Test: 1\r\n"), SLICE_LIT("ok"));
}

static void on_abort(http_req_t *req, void *arg);

static void on_headers(http_req_t *req, void *user)
{
    fixture_t *f = user;
    f->headers_seen++;
    if (!http_req_is_complete(req))
        f->headers_incomplete = true;
    http_req_on_abort(req, on_abort, f);
    if (f->refuse_early)
        http_resp_send(req, 400, "text/plain", slice_make(NULL, 0), SLICE_LIT("no"));
}

static void on_abort(http_req_t *req, void *arg)
{
    (void)req;
    ((fixture_t *)arg)->aborts++;
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    cr_assert_eq(uv_loop_init(&fx.loop), 0);
    fx.nl = net_loop_new(&fx.loop, NULL);
    http_server_config_t cfg;
    http_server_config_init(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_headers = 10;
    cfg.max_body_bytes = 100;
    fx.srv = http_server_new(fx.nl, &cfg, on_request, &fx);
}

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void teardown(void)
{
    http_server_free(fx.srv);
    net_loop_free(fx.nl);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&fx.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles left open", open);
    cr_assert_eq(uv_loop_close(&fx.loop), 0);
    buf_dispose(&fx.out);
    buf_dispose(&fx.order);
    for (int i = 0; i < MAX_REQ; i++)
        buf_dispose(&fx.seen[i]);
}

static void pump(void)
{
    for (int i = 0; i < 4; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
}

static net_conn_t *connect_mem(void)
{
    fx.nc = net_conn_new_memory(fx.nl, &fx.out);
    http_server_adopt(fx.srv, fx.nc);
    return fx.nc;
}

static void feed(const char *s)
{
    net_conn_memory_feed(fx.nc, s, strlen(s));
}

static bool out_has(const char *s)
{
    return memmem(buf_data(&fx.out), fx.out.len, s, strlen(s)) != NULL;
}

static size_t open_conns(void)
{
    return (size_t)net_loop_stats(fx.nl)->conns_open;
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 10);

static const char get_req[] = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
                              "Host: x\r\nOrigin: http://a.example\r\n"
                              "Accept:  text/plain \r\n\r\n";

static void check_get_answered(void)
{
    cr_assert_eq(fx.nreq, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.seen[0]), "GET /socket.io/|EIO=4&transport=polling|"),
              "%.*s", (int)fx.seen[0].len, buf_data(&fx.seen[0]));
    cr_assert(out_has("HTTP/1.1 200 OK\r\n"));
    cr_assert(out_has("Content-Length: 2\r\n"));
    cr_assert(out_has("Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"));
    cr_assert(out_has("X-Test: 1\r\n\r\nok"));
}

Test(http, request_split_at_every_byte)
{
    size_t n = strlen(get_req);
    for (size_t cut = 0; cut <= n; cut++) {
        connect_mem();
        net_conn_memory_feed(fx.nc, get_req, cut);
        if (cut < n)
            cr_assert_eq(fx.nreq, 0, "dispatched early at cut %zu", cut);
        net_conn_memory_feed(fx.nc, get_req + cut, n - cut);
        pump();
        check_get_answered();
        net_conn_close(fx.nc, NET_CLOSE_ABORT);
        pump();
        fx.nreq = 0;
        buf_dispose(&fx.seen[0]);
        buf_clear(&fx.out);
    }
    cr_assert_eq(open_conns(), 0);
}

Test(http, request_byte_by_byte_and_headers)
{
    fx.park = true;
    connect_mem();
    for (const char *p = get_req; *p; p++)
        net_conn_memory_feed(fx.nc, p, 1);
    cr_assert_eq(fx.nparked, 1);
    http_req_t *req = fx.parked[0];
    slice_t v;
    cr_assert(http_req_header(req, "ORIGIN", &v) && slice_eq_cstr(v, "http://a.example"));
    cr_assert(http_req_header(req, "accept", &v) && slice_eq_cstr(v, "text/plain"));
    cr_assert_not(http_req_header(req, "cookie", &v));
    cr_assert_eq(http_req_header_count(req), 3);
    cr_assert(http_req_query(req, "transport", &v) && slice_eq_cstr(v, "polling"));
    cr_assert_not(http_req_query(req, "sid", &v));
    cr_assert_eq(http_req_method_id(req), HTTP_METHOD_GET);
    cr_assert(http_req_keep_alive(req));
    cr_assert(http_req_is_parked(req));
    cr_assert_eq(http_resp_send(req, 204, NULL, slice_make(NULL, 0), slice_make(NULL, 0)), 0);
    pump();
    cr_assert(out_has("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"));
}

Test(http, query_decoding)
{
    fx.park = true;
    connect_mem();
    feed("GET /p?sid=a%2Bb%20c&flag&t=1+2&bad=%zz HTTP/1.1\r\n\r\n");
    cr_assert_eq(fx.nparked, 1);
    http_req_t *req = fx.parked[0];
    uint8_t out[32];
    size_t len;
    slice_t v;
    cr_assert(http_req_query(req, "sid", &v) && slice_eq_cstr(v, "a%2Bb%20c"));
    cr_assert(http_req_query_decoded(req, "sid", out, sizeof out, &len));
    cr_assert(slice_eq_cstr(slice_make(out, len), "a+b c"));
    cr_assert(http_req_query_decoded(req, "t", out, sizeof out, &len));
    cr_assert(slice_eq_cstr(slice_make(out, len), "1 2"));
    cr_assert(http_req_query(req, "flag", &v) && v.len == 0);
    cr_assert_not(http_req_query_decoded(req, "bad", out, sizeof out, &len));
    cr_assert_not(http_req_query_decoded(req, "sid", out, 3, &len));
    http_resp_send(req, 200, NULL, slice_make(NULL, 0), SLICE_LIT("x"));
}

Test(http, pipelined_requests_wait_behind_a_parked_one)
{
    fx.park = true;
    connect_mem();
    feed("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
         "GET /c HTTP/1.1\r\n\r\n");
    pump();
    cr_assert_eq(fx.nreq, 1, "only the first request is dispatched");
    cr_assert_eq(fx.out.len, 0);
    http_resp_send(fx.parked[0], 200, NULL, slice_make(NULL, 0), SLICE_LIT("A"));
    cr_assert_eq(fx.nreq, 1, "the next request is not dispatched inside the answer");
    pump();
    cr_assert_eq(fx.nreq, 2);
    cr_assert(slice_eq_cstr(buf_slice(&fx.seen[1]), "POST /b||xyz"));
    fx.park = false;
    http_resp_send(fx.parked[1], 200, NULL, slice_make(NULL, 0), SLICE_LIT("B"));
    pump();
    cr_assert_eq(fx.nreq, 3);
    cr_assert(slice_eq_cstr(buf_slice(&fx.seen[2]), "GET /c||"));
    /* answers are in request order */
    const char *o = (const char *)buf_data(&fx.out);
    const char *a = memmem(o, fx.out.len, "\r\n\r\nA", 5);
    const char *b = memmem(o, fx.out.len, "\r\n\r\nB", 5);
    const char *c = memmem(o, fx.out.len, "\r\n\r\nok", 6);
    cr_assert(a && b && c && a < b && b < c);
    cr_assert_eq(open_conns(), 1);
}

Test(http, chunked_body_is_dechunked)
{
    connect_mem();
    feed("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    pump();
    cr_assert_eq(fx.nreq, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.seen[0]), "POST /x||abcde"));
}

static void expect_refused(const char *req, const char *status)
{
    connect_mem();
    feed(req);
    pump();
    cr_assert_eq(fx.nreq, 0, "a refused request is not dispatched");
    cr_assert(out_has(status), "want %s, got %.*s", status, (int)fx.out.len, buf_data(&fx.out));
    cr_assert(out_has("Connection: close\r\n"));
    cr_assert_eq(open_conns(), 0, "closed after the answer");
}

Test(http, garbage_is_400)
{
    expect_refused("garbage\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n");
}

Test(http, oversize_headers_are_431)
{
    char big[1200];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    big[sizeof big - 1] = '\0';
    expect_refused(big, "HTTP/1.1 431 ");
}

Test(http, too_many_headers_are_431)
{
    expect_refused("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\n"
                   "h: 1\r\ni: 1\r\nj: 1\r\nk: 1\r\n\r\n", "HTTP/1.1 431 ");
}

Test(http, oversize_body_is_413)
{
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413 ");
}

Test(http, oversize_chunked_body_is_413)
{
    char req[512] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n";
    size_t n = strlen(req);
    memset(req + n, 'x', 101);
    strcpy(req + n + 101, "\r\n0\r\n\r\n");
    expect_refused(req, "HTTP/1.1 413 ");
}

Test(http, close_and_http10_close_the_connection)
{
    connect_mem();
    feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    pump();
    cr_assert(out_has("Connection: close\r\n"));
    cr_assert_eq(open_conns(), 0);
    buf_clear(&fx.out);
    connect_mem();
    feed("GET / HTTP/1.0\r\n\r\n");
    pump();
    cr_assert(out_has("Connection: close\r\n"));
    cr_assert_eq(open_conns(), 0);
    buf_clear(&fx.out);
    connect_mem();
    feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    pump();
    cr_assert(out_has("Keep-Alive: timeout=5\r\n"));
    cr_assert_eq(open_conns(), 1);
}

Test(http, head_has_length_but_no_body)
{
    connect_mem();
    feed("HEAD / HTTP/1.1\r\n\r\n");
    pump();
    cr_assert(out_has("Content-Length: 2\r\n"));
    cr_assert_not(out_has("\r\n\r\nok"));
}

Test(http, abort_of_parked_request_runs_once)
{
    fx.park = true;
    connect_mem();
    feed("GET /poll HTTP/1.1\r\n\r\n");
    cr_assert_eq(fx.nparked, 1);
    http_req_on_abort(fx.parked[0], on_abort, &fx);
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(fx.aborts, 1);
    cr_assert_eq(open_conns(), 0);
    cr_assert_eq(fx.out.len, 0);
}

Test(http, answered_request_never_aborts)
{
    fx.park = true;
    connect_mem();
    feed("GET /poll HTTP/1.1\r\n\r\n");
    http_req_on_abort(fx.parked[0], on_abort, &fx);
    http_resp_send(fx.parked[0], 200, NULL, slice_make(NULL, 0), SLICE_LIT("x"));
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(fx.aborts, 0);
}

Test(http, server_free_aborts_parked_requests)
{
    fx.park = true;
    connect_mem();
    feed("GET /poll HTTP/1.1\r\n\r\n");
    http_req_on_abort(fx.parked[0], on_abort, &fx);
    http_server_free(fx.srv);
    fx.srv = NULL;
    cr_assert_eq(fx.aborts, 0, "not inside http_server_free");
    pump();
    cr_assert_eq(fx.aborts, 1);
}

Test(http, idle_keepalive_connection_is_closed)
{
    http_server_free(fx.srv);
    http_server_config_t cfg;
    http_server_config_init(&cfg);
    cfg.keepalive_timeout_ms = 100; /* closes 1.1 s later, like 5 s -> 6 s */
    fx.srv = http_server_new(fx.nl, &cfg, on_request, &fx);
    connect_mem();
    feed("GET / HTTP/1.1\r\n\r\n");
    pump();
    cr_assert_eq(open_conns(), 1);
    uint64_t t0 = uv_now(&fx.loop);
    while (open_conns() && uv_now(&fx.loop) - t0 < 3000)
        uv_run(&fx.loop, UV_RUN_ONCE);
    uint64_t dt = uv_now(&fx.loop) - t0;
    cr_assert_eq(open_conns(), 0);
    cr_assert(dt >= 1000 && dt < 2000, "closed after %llu ms", (unsigned long long)dt);
}

Test(http, status_reasons)
{
    cr_assert_str_eq(http_status_reason(404), "Not Found");
    cr_assert_str_eq(http_status_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_status_reason(799), "Unknown");
}

/* ---- on_headers ------------------------------------------------------------------ */

Test(http, on_headers_runs_before_the_body)
{
    http_server_on_headers(fx.srv, on_headers);
    connect_mem();
    feed("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
    cr_assert_eq(fx.headers_seen, 1);
    cr_assert(fx.headers_incomplete);
    cr_assert_eq(fx.nreq, 0);
    feed("cde");
    pump();
    cr_assert_eq(fx.nreq, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.seen[0]), "POST /p||abcde"));
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(fx.aborts, 0, "answered requests never abort");
}

Test(http, on_headers_can_refuse_early)
{
    http_server_on_headers(fx.srv, on_headers);
    fx.refuse_early = true;
    connect_mem();
    feed("POST /p HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc");
    pump();
    cr_assert_eq(fx.nreq, 0);
    cr_assert(out_has("HTTP/1.1 400 Bad Request\r\n"));
    cr_assert(out_has("Connection: close\r\n"));
    cr_assert(out_has("\r\n\r\nno"));
    cr_assert_eq(open_conns(), 0);
    cr_assert_eq(fx.aborts, 0);
}

Test(http, abort_mid_body_after_on_headers)
{
    http_server_on_headers(fx.srv, on_headers);
    connect_mem();
    feed("POST /p HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc");
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(fx.aborts, 1);
    cr_assert_eq(fx.nreq, 0);
}

Test(http, body_refused_413_after_on_headers_aborts)
{
    http_server_on_headers(fx.srv, on_headers);
    connect_mem();
    char req[512] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n";
    size_t n = strlen(req);
    memset(req + n, 'x', 101);
    strcpy(req + n + 101, "\r\n0\r\n\r\n");
    feed(req);
    pump();
    cr_assert(out_has("HTTP/1.1 413 "));
    cr_assert_eq(fx.aborts, 1);
}

/* ---- bounded work per read (STYLE rule 26) ------------------------------------- */

/* "GET /0 ...GET /<n-1>" pipelined back to back, and the order string expected. */
static void pipelined(buf_t *reqs, buf_t *want, int n)
{
    char line[64];
    for (int i = 0; i < n; i++) {
        int k = snprintf(line, sizeof line, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        buf_append(reqs, line, (size_t)k);
        k = snprintf(line, sizeof line, "/%d,", i);
        buf_append(want, line, (size_t)k);
    }
}

Test(http, pipelined_burst_is_served_16_requests_per_turn)
{
    fx.count_only = true;
    buf_t reqs = BUF_INIT, want = BUF_INIT;
    pipelined(&reqs, &want, 100);
    connect_mem();
    net_conn_memory_feed(fx.nc, buf_data(&reqs), reqs.len);
    cr_assert_eq(fx.nreq, 16, "one read dispatches at most 16 requests, got %d", fx.nreq);
    cr_assert(net_conn_is_yielded(fx.nc));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.nreq, 32, "the next share comes on the next loop turn");
    for (int i = 0; i < 20 && fx.nreq < 100; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.nreq, 100);
    cr_assert_not(net_conn_is_yielded(fx.nc));
    cr_assert(slice_eq(buf_slice(&fx.order), buf_slice(&want)), "requests out of order");
    /* the answers went out in request order too */
    const char *o = (const char *)buf_data(&fx.out);
    const char *prev = o;
    for (int i = 0; i < 100; i++) {
        char body[32];
        snprintf(body, sizeof body, "\r\n\r\n/%d", i);
        const char *at = memmem(prev, fx.out.len - (size_t)(prev - o), body, strlen(body));
        cr_assert_not_null(at, "answer %d missing or out of order", i);
        prev = at + 1;
    }
    cr_assert_geq(net_loop_stats(fx.nl)->reads_yielded, 6);
    cr_assert_eq(open_conns(), 1);
    buf_dispose(&reqs);
    buf_dispose(&want);
}

Test(http, input_arriving_after_a_yield_joins_the_backlog)
{
    fx.count_only = true;
    buf_t reqs = BUF_INIT, want = BUF_INIT;
    pipelined(&reqs, &want, 40);
    connect_mem();
    size_t half = reqs.len / 2;
    net_conn_memory_feed(fx.nc, buf_data(&reqs), half);
    cr_assert_eq(fx.nreq, 16);
    net_conn_memory_feed(fx.nc, buf_data(&reqs) + half, reqs.len - half);
    cr_assert_eq(fx.nreq, 16, "input arriving while yielded waits for its turn");
    for (int i = 0; i < 20 && fx.nreq < 40; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.nreq, 40);
    cr_assert(slice_eq(buf_slice(&fx.order), buf_slice(&want)));
    cr_assert_eq(open_conns(), 1);
    buf_dispose(&reqs);
    buf_dispose(&want);
}

Test(http, memory_eof_while_yielded_closes_at_once)
{
    fx.count_only = true;
    buf_t reqs = BUF_INIT, want = BUF_INIT;
    pipelined(&reqs, &want, 40);
    connect_mem();
    net_conn_memory_feed(fx.nc, buf_data(&reqs), reqs.len);
    cr_assert_eq(fx.nreq, 16);
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(open_conns(), 0, "closed within a few turns, backlog dropped");
    cr_assert_eq(fx.nreq, 16);
    cr_assert(out_has("\r\n\r\n/15"), "the answers given before the EOF still went out");
    buf_dispose(&reqs);
    buf_dispose(&want);
}

Test(http, configured_cap_and_close_while_yielded)
{
    http_server_free(fx.srv);
    http_server_config_t cfg;
    http_server_config_init(&cfg);
    cfg.max_requests_per_read = 3;
    fx.srv = http_server_new(fx.nl, &cfg, on_request, &fx);
    fx.count_only = true;
    buf_t reqs = BUF_INIT, want = BUF_INIT;
    pipelined(&reqs, &want, 10);
    connect_mem();
    net_conn_memory_feed(fx.nc, buf_data(&reqs), reqs.len);
    cr_assert_eq(fx.nreq, 3);
    net_conn_close(fx.nc, NET_CLOSE_ABORT); /* closed while on the yield list */
    pump();
    cr_assert_eq(fx.nreq, 3, "nothing is dispatched after the close");
    cr_assert_eq(open_conns(), 0);
    buf_dispose(&reqs);
    buf_dispose(&want);
}

/* ---- streamed answers -------------------------------------------------------------- */

static void on_drain_cb(http_req_t *req, void *arg)
{
    (void)req;
    ((fixture_t *)arg)->drains++;
}

Test(http, streamed_answer_keeps_alive_when_complete)
{
    fx.park = true;
    connect_mem();
    feed("GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
    cr_assert_eq(fx.nparked, 1);
    http_req_t *req = fx.parked[0];
    cr_assert_eq(http_resp_write(req, SLICE_LIT("x")), UV_EINVAL, "no stream begun");
    cr_assert_eq(http_resp_begin(req, 200, "text/plain", SLICE_LIT("X-B: 1\r\n"), 10), 0);
    cr_assert_eq(http_resp_begin(req, 200, NULL, slice_make(NULL, 0), 1), UV_EINVAL);
    cr_assert_eq(http_resp_send(req, 500, NULL, slice_make(NULL, 0), SLICE_LIT("x")),
                 UV_EINVAL, "no plain answer in the middle of a stream");
    cr_assert_eq(http_resp_write(req, SLICE_LIT("hello")), 0);
    rcbuf_t *rc = rcbuf_from(SLICE_LIT("world"));
    cr_assert_eq(http_resp_write_rcbuf(req, rc), 0);
    cr_assert_eq(rc->refs, 2, "queued by reference");
    cr_assert_gt(http_req_buffered(req), 0);
    cr_assert_eq(http_resp_write(req, SLICE_LIT("!")), UV_EINVAL, "more than announced");
    http_req_on_drain(req, on_drain_cb, &fx);
    pump();
    cr_assert_eq(fx.drains, 1);
    cr_assert_eq(rc->refs, 1);
    rcbuf_unref(rc);
    cr_assert_eq(fx.nreq, 1, "the next request waits for the end of the stream");
    cr_assert_eq(http_resp_end(req), 0);
    pump();
    cr_assert(out_has("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
                      "Connection: keep-alive\r\n"));
    cr_assert(out_has("X-B: 1\r\n\r\nhelloworld"));
    cr_assert_eq(fx.nreq, 2);
    cr_assert_eq(open_conns(), 1);
    http_resp_send(fx.parked[1], 200, NULL, slice_make(NULL, 0), SLICE_LIT("n"));
    pump();
    cr_assert_eq(fx.drains, 1, "no drain callback after the end");
}

Test(http, streamed_answer_cut_short_closes_the_connection)
{
    fx.park = true;
    connect_mem();
    feed("GET /big HTTP/1.1\r\n\r\n");
    http_req_t *req = fx.parked[0];
    http_req_on_abort(req, on_abort, &fx);
    cr_assert_eq(http_resp_begin(req, 200, NULL, slice_make(NULL, 0), 10), 0);
    cr_assert_eq(http_resp_write(req, SLICE_LIT("12345")), 0);
    cr_assert_eq(http_resp_end(req), 0);
    pump();
    cr_assert(out_has("Content-Length: 10\r\nConnection: keep-alive\r\n"));
    cr_assert(out_has("\r\n\r\n12345"));
    cr_assert_eq(open_conns(), 0, "a short body must not keep the connection");
    cr_assert_eq(fx.aborts, 0, "ended, not aborted");
}

Test(http, streamed_answer_aborts_once_when_the_client_leaves)
{
    fx.park = true;
    connect_mem();
    feed("GET /big HTTP/1.1\r\n\r\n");
    http_req_t *req = fx.parked[0];
    http_req_on_abort(req, on_abort, &fx);
    cr_assert_eq(http_resp_begin(req, 200, NULL, slice_make(NULL, 0), 1000), 0);
    cr_assert_eq(http_resp_write(req, SLICE_LIT("part")), 0);
    http_req_on_drain(req, on_drain_cb, &fx);
    net_conn_close(fx.nc, NET_CLOSE_ABORT);
    pump();
    cr_assert_eq(fx.aborts, 1);
    cr_assert_eq(fx.drains, 0, "no drain callback for a dead connection");
    cr_assert_eq(open_conns(), 0);
}

Test(http, streamed_head_announces_the_length_only)
{
    fx.park = true;
    connect_mem();
    feed("HEAD /big HTTP/1.1\r\n\r\n");
    http_req_t *req = fx.parked[0];
    cr_assert_eq(http_resp_begin(req, 200, "a/b", slice_make(NULL, 0), 123456), 0);
    cr_assert_eq(http_resp_write(req, SLICE_LIT("ignored")), 0);
    cr_assert_eq(http_resp_end(req), 0);
    pump();
    cr_assert(out_has("Content-Length: 123456\r\nConnection: keep-alive\r\n"));
    cr_assert_not(out_has("ignored"));
    cr_assert_eq(open_conns(), 1, "HEAD with the whole length announced keeps alive");
}
