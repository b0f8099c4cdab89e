/*
 * Unit tests for src/app/app_upstream (+ _models, _env): the streaming OpenAI-compatible
 * client against tests/integration/lib/fake-openai.mjs, started by each test on a free
 * loopback port (node must be on PATH; run from the repository root, as tests/run does).
 *
 * Every test runs a real uv loop and ends with no open handle (uv_walk) and
 * uv_loop_close() == 0 (STYLE rule 37). Callbacks record what they saw; the assertions
 * check the exactly-once terminal callback, the order and content of deltas, and what the
 * fake received (GET /_fake/requests, /_fake/stats, with a blocking curl: test code only).
 *
 * src/app is built only into build/sioc, so the module's files are #included here.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../src/app/app_sse.c"
#include "../../../src/app/app_upstream.c"
#include "../../../src/app/app_upstream_env.c"
#include "../../../src/app/app_upstream_loop.c"
#include "../../../src/app/app_upstream_models.c"

extern char **environ;

#define FAKE_SCRIPT "tests/integration/lib/fake-openai.mjs"

/* ------------------------------------------------------------------ the fake upstream */

typedef struct fake {
    pid_t pid;
    int stdin_fd;  /* closing it makes the fake exit */
    char url[128]; /* http://127.0.0.1:PORT/v1 */
    char root[128];
} fake_t;

static void fake_start(fake_t *f, const char *key, const char *models)
{
    int in[2], out[2];
    cr_assert_eq(access(FAKE_SCRIPT, R_OK), 0, "run from the repository root");
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    const char *argv[12] = {"node", FAKE_SCRIPT, "--port", "0", "--delay-ms", "20"};
    int n = 6;
    if (key) {
        argv[n++] = "--key";
        argv[n++] = key;
    }
    if (models) {
        argv[n++] = "--models";
        argv[n++] = models;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    cr_assert_eq(posix_spawnp(&f->pid, "node", &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    f->stdin_fd = in[1];
    char line[256] = {0};
    size_t len = 0;
    while (len < sizeof line - 1 && !strchr(line, '\n')) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 15000), 0, "the fake did not start");
        ssize_t r = read(out[0], line + len, sizeof line - 1 - len);
        cr_assert_gt(r, 0, "the fake exited");
        len += (size_t)r;
    }
    close(out[0]);
    char *u = strstr(line, "\"url\":\"");
    cr_assert(u);
    u += 7;
    char *end = strchr(u, '"');
    cr_assert(end && end - u < (long)sizeof f->url);
    memcpy(f->url, u, (size_t)(end - u));
    f->url[end - u] = 0;
    strcpy(f->root, f->url);
    f->root[strlen(f->root) - 3] = 0; /* drop "/v1" */
}

static void fake_stop(fake_t *f)
{
    int status;
    close(f->stdin_fd);
    kill(f->pid, SIGTERM);
    waitpid(f->pid, &status, 0);
}

static size_t on_get_body(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

/* A blocking GET of root + path (test code, outside any loop). */
static void fake_get(const fake_t *f, const char *path, buf_t *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", f->root, path);
    buf_clear(out);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_get_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    cr_assert_eq(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
    buf_append_byte(out, 0);
}

static bool fake_has(const fake_t *f, const char *path, const char *needle)
{
    buf_t b = BUF_INIT;
    fake_get(f, path, &b);
    bool yes = strstr((const char *)buf_data(&b), needle) != NULL;
    buf_dispose(&b);
    return yes;
}

/* Condition polling (never a fixed sleep): waits up to 5 s for `needle` in `path`. */
static void fake_wait_for(const fake_t *f, const char *path, const char *needle)
{
    for (int i = 0; i < 250; i++) {
        if (fake_has(f, path, needle))
            return;
        usleep(20000);
    }
    cr_assert_fail("%s never showed %s", path, needle);
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* ------------------------------------------------------------------ the loop */

static uv_loop_t loop;

static void walk_count(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
}

/* Runs the loop dry, then requires that nothing is left open (STYLE rule 37). */
static void teardown(void)
{
    int n = 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, walk_count, &n);
    cr_assert_eq(n, 0, "%d handles left open", n);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

TestSuite(app_upstream, .init = setup, .fini = teardown, .timeout = 30);

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* ------------------------------------------------------------------ recording callbacks */

typedef struct rec {
    buf_t text, reasoning;
    int deltas, dones, errors;
    int code, http;
    char msg[1024];
    char finish[32];
    bool has_usage;
    app_upstream_usage_t usage; /* raw copied into usage_raw */
    char usage_raw[256];
    uint64_t started_ms, first_delta_ms, end_ms;
    int cancel_after; /* cancel from inside this delta (1-based), 0: never */
    app_upstream_t *up;
    struct rec *chain;        /* started from inside the first delta, if set */
    unsigned long allocs[16]; /* alloc_count() at each delta */
    const char *chain_model;
} rec_t;

static void on_delta(app_upstream_req_t *r, slice_t t);

static void on_reasoning(app_upstream_req_t *r, slice_t t)
{
    rec_t *rc = app_upstream_req_get_user(r);
    cr_assert_eq(rc->dones + rc->errors, 0, "reasoning after the end");
    buf_append_slice(&rc->reasoning, t);
}

static void on_done(app_upstream_req_t *r, slice_t finish, const app_upstream_usage_t *u)
{
    rec_t *rc = app_upstream_req_get_user(r);
    rc->dones++;
    rc->end_ms = now_ms();
    snprintf(rc->finish, sizeof rc->finish, "%.*s", (int)finish.len, (const char *)finish.ptr);
    rc->has_usage = u != NULL;
    if (u) {
        rc->usage = *u;
        snprintf(rc->usage_raw, sizeof rc->usage_raw, "%.*s", (int)u->raw.len,
                 (const char *)u->raw.ptr);
    }
    app_upstream_cancel(r); /* inside the terminal callback: does nothing */
}

static void on_error(app_upstream_req_t *r, int code, int http, slice_t msg)
{
    rec_t *rc = app_upstream_req_get_user(r);
    rc->errors++;
    rc->end_ms = now_ms();
    rc->code = code;
    rc->http = http;
    snprintf(rc->msg, sizeof rc->msg, "%.*s", (int)msg.len, (const char *)msg.ptr);
}

static const app_upstream_cbs_t cbs = {
    .on_delta = on_delta, .on_reasoning = on_reasoning, .on_done = on_done, .on_error = on_error};

static app_upstream_req_t *start(app_upstream_t *up, rec_t *rc, const char *model,
                                 const char *messages, const app_upstream_chat_opts_t *o);

static void on_delta(app_upstream_req_t *r, slice_t t)
{
    rec_t *rc = app_upstream_req_get_user(r);
    cr_assert_eq(rc->dones + rc->errors, 0, "delta after the end");
    cr_assert_gt(t.len, 0);
    if (rc->deltas < 16)
        rc->allocs[rc->deltas] = alloc_count();
    if (rc->deltas++ == 0)
        rc->first_delta_ms = now_ms();
    buf_append_slice(&rc->text, t);
    if (rc->cancel_after == rc->deltas) {
        app_upstream_cancel(r);
        app_upstream_cancel(r); /* twice: nothing more */
    }
    if (rc->chain && rc->deltas == 1)
        cr_assert(start(rc->up, rc->chain, rc->chain_model,
                        "[{\"role\":\"user\",\"content\":"
                        "\"chained from a delta\"}]",
                        NULL));
}

static app_upstream_req_t *start(app_upstream_t *up, rec_t *rc, const char *model,
                                 const char *messages, const app_upstream_chat_opts_t *o)
{
    int err = 0;
    rc->up = up;
    rc->started_ms = now_ms();
    app_upstream_req_t *r = app_upstream_chat_start(up, slice_from_cstr(model),
                                                    slice_from_cstr(messages), o, &cbs, rc, &err);
    cr_assert(r, "start failed: %d", err);
    return r;
}

/* [{"role":"system",...},{"role":"user","content":<text>}] */
static const char *user_says(const char *text)
{
    static char out[4][512];
    static int k;
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\","
                        "\"content\":");
    json_append_string(&b, slice_from_cstr(text));
    buf_append_cstr(&b, "}]");
    char *o = out[k++ % 4];
    snprintf(o, sizeof out[0], "%.*s", (int)b.len, (const char *)buf_data(&b));
    buf_dispose(&b);
    return o;
}

static app_upstream_t *client(const app_upstream_conn_t *conns, size_t n, uint32_t idle_ms)
{
    app_upstream_config_t cfg = {.conns = conns,
                                 .n_conns = n,
                                 .idle_timeout_ms = idle_ms,
                                 .connect_timeout_ms = 3000,
                                 .models_timeout_ms = 3000};
    app_upstream_t *up = app_upstream_new(&loop, &cfg);
    cr_assert(up);
    return up;
}

static void rec_dispose(rec_t *rc)
{
    buf_dispose(&rc->text);
    buf_dispose(&rc->reasoning);
}

static bool text_is(const rec_t *rc, const char *s)
{
    return slice_eq_cstr(buf_slice(&rc->text), s);
}

/* One request against one fake; returns after the loop ran dry and the client is freed. */
static void one(const char *fake_key, const char *client_key, const char *model, const char *text,
                const app_upstream_chat_opts_t *o, uint32_t idle, rec_t *rc)
{
    fake_t f;
    fake_start(&f, fake_key, NULL);
    app_upstream_conn_t c = {f.url, client_key};
    app_upstream_t *up = client(&c, 1, idle);
    start(up, rc, model, user_says(text), o);
    uv_run(&loop, UV_RUN_DEFAULT);
    app_upstream_free(up);
    fake_stop(&f);
    cr_assert_eq(rc->dones + rc->errors, 1, "exactly one terminal callback");
}

/* ------------------------------------------------------------------ streaming */

Test(app_upstream, stream_ok_deltas_arrive_as_they_come)
{
    fake_t f;
    fake_start(&f, "sk-test", NULL);
    app_upstream_conn_t c = {f.url, "sk-test"};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t rc = {0};
    app_upstream_chat_opts_t o = {
        .include_usage = true,
        .params = SLICE_LIT("{\"temperature\":0.5,\"model\":\"evil\",\"stream\":false,"
                            "\"fake_delay_ms\":40}")};
    app_upstream_req_t *r = start(up, &rc, "gpt-fake", user_says("Hello streaming world"), &o);
    cr_assert_eq(app_upstream_req_url_idx(r), 0);
    cr_assert_eq(rc.deltas + rc.dones + rc.errors, 0, "no callback inside start");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 0, "error %d: %s", rc.code, rc.msg);
    cr_assert_eq(rc.dones, 1);
    cr_assert_eq(rc.deltas, 3, "one delta per token, never the growing text");
    cr_assert(text_is(&rc, "Hello streaming world"));
    cr_assert_str_eq(rc.finish, "stop");
    cr_assert(rc.has_usage);
    cr_assert_eq(rc.usage.prompt_tokens, 3);
    cr_assert_eq(rc.usage.completion_tokens, 3);
    cr_assert_eq(rc.usage.total_tokens, 6);
    cr_assert_str_eq(rc.usage_raw,
                     "{\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}");
    /* deltas were handed over while the stream went on (3 more chunks at 40 ms each) */
    cr_assert_geq(rc.end_ms - rc.first_delta_ms, 80, "deltas were buffered");
    buf_t b = BUF_INIT;
    fake_get(&f, "/_fake/requests", &b);
    const char *req = (const char *)buf_data(&b);
    cr_assert(strstr(req, "\"auth\":\"Bearer sk-test\""), "%s", req);
    cr_assert(strstr(req, "\"model\":\"gpt-fake\""), "%s", req);
    cr_assert(strstr(req, "\"stream\":true"), "%s", req);
    cr_assert(strstr(req, "\"stream_options\":{\"include_usage\":true}"), "%s", req);
    cr_assert(strstr(req, "\"temperature\":0.5"), "%s", req);
    cr_assert(!strstr(req, "evil") && !strstr(req, "\"stream\":false"), "%s", req);
    cr_assert(strstr(req, "{\"role\":\"system\",\"content\":\"be brief\"}"), "%s", req);
    buf_dispose(&b);
    app_upstream_free(up);
    fake_stop(&f);
    rec_dispose(&rc);
}

Test(app_upstream, no_allocation_per_delta_once_warm)
{
    rec_t rc = {0};
    one(NULL, NULL, "gpt-fake", "aaaa bbbb cccc dddd eeee ffff gggg", NULL, 0, &rc);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert_eq(rc.deltas, 7);
    /* from the second delta on, parsing and decoding reuse their buffers */
    cr_assert_eq(rc.allocs[6], rc.allocs[1], "%lu allocations while streaming",
                 rc.allocs[6] - rc.allocs[1]);
    rec_dispose(&rc);
}

Test(app_upstream, unicode_escapes_decode)
{
    rec_t rc = {0};
    const char *text = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"quoted\" \xe2\x82\xac";
    one(NULL, NULL, "fake-ascii", text, NULL, 0, &rc);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert(text_is(&rc, text));
    rec_dispose(&rc);
}

Test(app_upstream, crlf_stream)
{
    rec_t rc = {0};
    one(NULL, NULL, "fake-crlf", "line ends differ", NULL, 0, &rc);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert(text_is(&rc, "line ends differ"));
    rec_dispose(&rc);
}

Test(app_upstream, fail_midstream_is_one_error)
{
    rec_t rc = {0};
    one(NULL, NULL, "fake-fail-midstream", "ignored", NULL, 0, &rc);
    cr_assert_eq(rc.errors, 1);
    cr_assert_eq(rc.code, APP_UPSTREAM_EBROKEN, "%d %s", rc.code, rc.msg);
    cr_assert_eq(rc.http, 200);
    cr_assert_eq(rc.deltas, 3);
    cr_assert(text_is(&rc, "part0 part1 part2 "));
    cr_assert_gt(strlen(rc.msg), 0);
    rec_dispose(&rc);
}

Test(app_upstream, http_401_wrong_or_missing_key)
{
    rec_t wrong = {0}, none = {0};
    one("sk-test", "sk-wrong-key-1234", "gpt-fake", "hi", NULL, 0, &wrong);
    cr_assert_eq(wrong.code, APP_UPSTREAM_EHTTP);
    cr_assert_eq(wrong.http, 401);
    cr_assert(strstr(wrong.msg, "Incorrect API key provided: sk-***1234."), "%s", wrong.msg);
    cr_assert_eq(wrong.deltas, 0);
    one("sk-test", NULL, "gpt-fake", "hi", NULL, 0, &none);
    cr_assert_eq(none.code, APP_UPSTREAM_EHTTP);
    cr_assert_eq(none.http, 401);
    cr_assert(strstr(none.msg, "You didn't provide an API key"), "%s", none.msg);
}

Test(app_upstream, http_500_and_404_carry_the_upstream_message)
{
    rec_t e500 = {0}, e404 = {0};
    one(NULL, NULL, "fake-http-500", "hi", NULL, 0, &e500);
    cr_assert_eq(e500.code, APP_UPSTREAM_EHTTP);
    cr_assert_eq(e500.http, 500);
    cr_assert_str_eq(e500.msg, "fake upstream error 500");
    one(NULL, NULL, "no-such-model", "hi", NULL, 0, &e404);
    cr_assert_eq(e404.code, APP_UPSTREAM_EHTTP);
    cr_assert_eq(e404.http, 404);
    cr_assert_str_eq(e404.msg, "The model `no-such-model` does not exist or you do not have "
                               "access to it.");
}

Test(app_upstream, error_event_inside_the_stream)
{
    rec_t rc = {0};
    one(NULL, NULL, "fake-error-event", "one two three four", NULL, 0, &rc);
    cr_assert_eq(rc.code, APP_UPSTREAM_EUPSTREAM);
    cr_assert_str_eq(rc.msg, "The model crashed while streaming");
    cr_assert_eq(rc.deltas, 2);
    cr_assert(text_is(&rc, "one two"));
    rec_dispose(&rc);
}

Test(app_upstream, non_streamed_json_answer)
{
    rec_t rc = {0};
    one(NULL, NULL, "fake-json", "all at once", NULL, 0, &rc);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert_eq(rc.deltas, 1);
    cr_assert(text_is(&rc, "all at once"));
    cr_assert_str_eq(rc.finish, "stop");
    cr_assert(rc.has_usage);
    cr_assert_eq(rc.usage.total_tokens, 6);
    rec_dispose(&rc);
}

Test(app_upstream, end_without_done_after_finish_is_done)
{
    rec_t ok = {0}, broken = {0};
    one(NULL, NULL, "fake-no-done", "no done marker", NULL, 0, &ok);
    cr_assert_eq(ok.dones, 1, "%s", ok.msg);
    cr_assert_str_eq(ok.finish, "stop");
    cr_assert(text_is(&ok, "no done marker"));
    one(NULL, NULL, "fake-truncated", "cut short", NULL, 0, &broken);
    cr_assert_eq(broken.code, APP_UPSTREAM_EBROKEN);
    cr_assert(text_is(&broken, "cut short"));
    rec_dispose(&ok);
    rec_dispose(&broken);
}

Test(app_upstream, reasoning_is_separate)
{
    rec_t rc = {0};
    one(NULL, NULL, "fake-reasoning", "the answer", NULL, 0, &rc);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert(slice_eq_cstr(buf_slice(&rc.reasoning), "Thinking about it"));
    cr_assert(text_is(&rc, "the answer"));
    rec_dispose(&rc);
}

Test(app_upstream, response_cap)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_config_t cfg = {.conns = &c, .n_conns = 1, .max_response_bytes = 1 << 20};
    app_upstream_t *up = app_upstream_new(&loop, &cfg);
    rec_t rc = {0};
    start(up, &rc, "fake-big", user_says("x"), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 1);
    cr_assert(rc.code == APP_UPSTREAM_ETOOBIG || rc.code == APP_UPSTREAM_EPROTO, "%d", rc.code);
    cr_assert_eq(rc.deltas, 0);
    app_upstream_free(up);
    fake_stop(&f);
}

/* ------------------------------------------------------------------ timeouts */

Test(app_upstream, stall_hits_the_idle_timeout)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 800);
    rec_t body = {0}, headers = {0};
    cr_assert(fake_has(&f, "/_fake/stats", "started"), "warm the fake up first");
    start(up, &body, "fake-stall", user_says("x"), NULL);
    start(up, &headers, "fake-stall-headers", user_says("x"), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(body.errors, 1);
    cr_assert_eq(body.code, APP_UPSTREAM_ETIMEDOUT);
    cr_assert_eq(body.http, 200);
    cr_assert_geq(body.end_ms - body.started_ms, 790);
    cr_assert_eq(headers.code, APP_UPSTREAM_ETIMEDOUT);
    cr_assert_eq(headers.http, 0);
    cr_assert_geq(headers.end_ms - headers.started_ms, 790);
    /* the fake saw the stalled stream go away */
    fake_wait_for(&f, "/_fake/stats", "\"aborted\":1");
    app_upstream_free(up);
    fake_stop(&f);
}

Test(app_upstream, keepalive_comments_count_as_traffic)
{
    rec_t rc = {0};
    app_upstream_chat_opts_t o = {.params = SLICE_LIT("{\"fake_delay_ms\":150}")};
    one(NULL, NULL, "fake-keepalive", "still here", &o, 600, &rc);
    cr_assert_eq(rc.dones, 1, "%d %s", rc.code, rc.msg);
    cr_assert(text_is(&rc, "still here"));
    cr_assert_geq(rc.end_ms - rc.started_ms, 750, "the stream outlived the idle timeout");
    rec_dispose(&rc);
}

Test(app_upstream, connection_refused)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", closed_port());
    app_upstream_conn_t c = {url, "k"};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t rc = {0};
    start(up, &rc, "gpt-fake", user_says("x"), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 1);
    cr_assert_eq(rc.code, APP_UPSTREAM_ECONNECT, "%d %s", rc.code, rc.msg);
    cr_assert_eq(rc.http, 0);
    app_upstream_free(up);
}

/* ------------------------------------------------------------------ cancel, shutdown */

Test(app_upstream, cancel_inside_a_delta)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t rc = {.cancel_after = 2};
    start(up, &rc, "gpt-fake", user_says("a b c d e f g h"), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 1);
    cr_assert_eq(rc.dones, 0);
    cr_assert_eq(rc.code, APP_UPSTREAM_ECANCELLED);
    cr_assert_str_eq(rc.msg, "cancelled");
    cr_assert_eq(rc.deltas, 2, "no delta after cancel");
    fake_wait_for(&f, "/_fake/stats", "\"aborted\":1");
    app_upstream_free(up);
    fake_stop(&f);
    rec_dispose(&rc);
}

Test(app_upstream, cancel_from_outside_and_before_start)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t mid = {0}, early = {0};
    app_upstream_req_t *m = start(up, &mid, "gpt-fake", user_says("a b c d e f g h i j"), NULL);
    app_upstream_req_t *r = start(up, &early, "gpt-fake", user_says("never sent"), NULL);
    app_upstream_cancel(r);
    cr_assert_eq(early.errors, 0, "no callback inside cancel");
    while (mid.deltas < 2)
        uv_run(&loop, UV_RUN_ONCE);
    app_upstream_cancel(m); /* from outside any callback, mid-stream */
    int seen = mid.deltas;
    cr_assert_eq(mid.errors, 0, "no callback inside cancel");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(early.errors, 1);
    cr_assert_eq(early.code, APP_UPSTREAM_ECANCELLED);
    cr_assert_eq(early.deltas, 0);
    cr_assert_eq(mid.errors, 1);
    cr_assert_eq(mid.code, APP_UPSTREAM_ECANCELLED);
    cr_assert_eq(mid.deltas, seen, "no delta after cancel");
    cr_assert(!fake_has(&f, "/_fake/requests", "never sent"), "a cancelled start was sent");
    fake_wait_for(&f, "/_fake/stats", "\"aborted\":1");
    app_upstream_free(up);
    fake_stop(&f);
    rec_dispose(&mid);
}

typedef struct later {
    uv_timer_t t;
    app_upstream_t *up;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    (void)h;
}

typedef struct models_rec {
    int calls, status;
    size_t n;
    char ids[512];
    size_t idx[16];
    app_upstream_conn_result_t conns[4];
    char msgs[4][256];
    char raw0[256];
} models_rec_t;

static void on_models(app_upstream_t *up, int status, const app_upstream_models_t *res, void *arg)
{
    models_rec_t *m = arg;
    (void)up;
    m->calls++;
    m->status = status;
    m->n = res->n;
    for (size_t i = 0; i < res->n && i < 16; i++) {
        size_t l = strlen(m->ids);
        snprintf(m->ids + l, sizeof m->ids - l, "%.*s,", (int)res->models[i].id.len,
                 (const char *)res->models[i].id.ptr);
        m->idx[i] = res->models[i].url_idx;
    }
    if (res->n)
        snprintf(m->raw0, sizeof m->raw0, "%.*s", (int)res->models[0].raw.len,
                 (const char *)res->models[0].raw.ptr);
    for (size_t i = 0; i < res->n_conns && i < 4; i++) {
        m->conns[i] = res->conns[i];
        snprintf(m->msgs[i], sizeof m->msgs[i], "%.*s", (int)res->conns[i].message.len,
                 (const char *)res->conns[i].message.ptr);
    }
}

static void on_free_later(uv_timer_t *t)
{
    later_t *l = t->data;
    app_upstream_free(l->up);
    uv_close((uv_handle_t *)t, on_later_closed);
}

Test(app_upstream, shutdown_fails_everything_in_flight_once)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t a = {0}, b = {0};
    models_rec_t m = {0};
    start(up, &a, "fake-stall", user_says("x"), NULL);
    start(up, &b, "fake-stall-headers", user_says("y"), NULL);
    later_t l = {.up = up};
    uv_timer_init(&loop, &l.t);
    l.t.data = &l;
    uv_timer_start(&l.t, on_free_later, 150, 0);
    cr_assert_eq(app_upstream_list_models(up, on_models, &m), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(m.calls, 1);
    cr_assert_eq(a.errors, 1);
    cr_assert_eq(a.code, APP_UPSTREAM_ESHUTDOWN);
    cr_assert_eq(b.errors, 1);
    cr_assert_eq(b.code, APP_UPSTREAM_ESHUTDOWN);
    cr_assert_eq(a.dones + b.dones, 0);
    fake_stop(&f);
}

/* ------------------------------------------------------------------ concurrency */

Test(app_upstream, two_streams_at_once_on_one_loop)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t a = {0}, b = {0};
    app_upstream_chat_opts_t o = {.params = SLICE_LIT("{\"fake_delay_ms\":30}")};
    start(up, &a, "gpt-fake", user_says("one two three four five"), &o);
    start(up, &b, "gpt-fake", user_says("alpha beta gamma delta epsilon"), &o);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(a.dones, 1, "%s", a.msg);
    cr_assert_eq(b.dones, 1, "%s", b.msg);
    cr_assert(text_is(&a, "one two three four five"));
    cr_assert(text_is(&b, "alpha beta gamma delta epsilon"));
    cr_assert_lt(b.first_delta_ms, a.end_ms, "the streams interleave");
    cr_assert_lt(a.first_delta_ms, b.end_ms, "the streams interleave");
    app_upstream_free(up);
    fake_stop(&f);
    rec_dispose(&a);
    rec_dispose(&b);
}

Test(app_upstream, start_from_inside_callbacks)
{
    fake_t f;
    fake_start(&f, NULL, NULL);
    app_upstream_conn_t c = {f.url, NULL};
    app_upstream_t *up = client(&c, 1, 0);
    rec_t second = {0};
    rec_t first = {.chain = &second, .chain_model = "gpt-fake"};
    start(up, &first, "gpt-fake", user_says("first stream"), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(first.dones, 1, "%s", first.msg);
    cr_assert_eq(second.dones, 1, "%s", second.msg);
    cr_assert(text_is(&second, "chained from a delta"));
    app_upstream_free(up);
    fake_stop(&f);
    rec_dispose(&first);
    rec_dispose(&second);
}

/* ------------------------------------------------------------------ models */

Test(app_upstream, models_from_two_upstreams_merge_and_route)
{
    fake_t fa, fb;
    fake_start(&fa, "ka", "gpt-a,shared");
    fake_start(&fb, "kb", "gpt-b,shared");
    app_upstream_conn_t c[2] = {{fa.url, "ka"}, {fb.url, "kb"}};
    app_upstream_t *up = client(c, 2, 0);
    models_rec_t m = {0};
    rec_t before = {0};
    int err = 0;
    cr_assert_null(app_upstream_chat_start(up, SLICE_LIT("gpt-b"), SLICE_LIT("[]"), NULL, &cbs,
                                           &before, &err));
    cr_assert_eq(err, APP_UPSTREAM_ENOMODEL, "two connections, no list yet");
    cr_assert_eq(app_upstream_list_models(up, on_models, &m), 0);
    cr_assert_eq(m.calls, 0, "no callback inside list_models");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(m.calls, 1);
    cr_assert_eq(m.status, 0);
    cr_assert_str_eq(m.ids, "gpt-a,shared,gpt-b,");
    cr_assert_eq(m.idx[0], 0);
    cr_assert_eq(m.idx[1], 0, "the first connection keeps a shared id");
    cr_assert_eq(m.idx[2], 1);
    cr_assert_eq(m.conns[0].status, 0);
    cr_assert_eq(m.conns[1].status, 0);
    cr_assert_eq(m.conns[0].n_models, 2);
    cr_assert_eq(m.conns[1].n_models, 2);
    cr_assert_eq(m.conns[0].http_status, 200);
    cr_assert(strstr(m.raw0, "\"owned_by\":\"fake\""), "%s", m.raw0);

    /* the list routes: gpt-b goes to the second connection, with its key */
    rec_t rc = {0};
    app_upstream_req_t *r = start(up, &rc, "gpt-b", user_says("routed"), NULL);
    cr_assert_eq(app_upstream_req_url_idx(r), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.dones, 1, "%s", rc.msg);
    cr_assert(fake_has(&fb, "/_fake/requests", "\"auth\":\"Bearer kb\""));
    cr_assert(!fake_has(&fa, "/_fake/requests", "routed"));
    err = 0;
    cr_assert_null(app_upstream_chat_start(up, SLICE_LIT("gpt-c"), SLICE_LIT("[]"), NULL, &cbs,
                                           &before, &err));
    cr_assert_eq(err, APP_UPSTREAM_ENOMODEL);
    app_upstream_free(up);
    fake_stop(&fa);
    fake_stop(&fb);
    rec_dispose(&rc);
}

Test(app_upstream, models_with_a_connection_down_or_refusing)
{
    fake_t fa;
    fake_start(&fa, "ka", "gpt-a");
    char down[64];
    snprintf(down, sizeof down, "http://127.0.0.1:%d/v1", closed_port());
    app_upstream_conn_t c[3] = {{down, NULL}, {fa.url, "wrong"}, {fa.url, "ka"}};
    app_upstream_t *up = client(c, 3, 0);
    models_rec_t m = {0};
    cr_assert_eq(app_upstream_list_models(up, on_models, &m), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(m.calls, 1);
    cr_assert_eq(m.status, 0);
    cr_assert_str_eq(m.ids, "gpt-a,");
    cr_assert_eq(m.idx[0], 2);
    cr_assert_eq(m.conns[0].status, APP_UPSTREAM_ECONNECT);
    cr_assert_gt(strlen(m.msgs[0]), 0);
    cr_assert_eq(m.conns[1].status, APP_UPSTREAM_EHTTP);
    cr_assert_eq(m.conns[1].http_status, 401);
    cr_assert(strstr(m.msgs[1], "Incorrect API key provided"), "%s", m.msgs[1]);
    cr_assert_eq(m.conns[2].status, 0);
    app_upstream_free(up);
    fake_stop(&fa);
}

Test(app_upstream, models_with_no_connection)
{
    app_upstream_t *up = client(NULL, 0, 0);
    models_rec_t m = {0};
    cr_assert_eq(app_upstream_list_models(up, on_models, &m), 0);
    cr_assert_eq(m.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(m.calls, 1);
    cr_assert_eq(m.status, 0);
    cr_assert_eq(m.n, 0);
    app_upstream_free(up);
}

/* ------------------------------------------------------------------ argument errors */

Test(app_upstream, start_errors_never_call_back)
{
    app_upstream_conn_t c[2] = {{"http://127.0.0.1:1/v1", NULL}, {"http://127.0.0.1:2/v1", NULL}};
    app_upstream_t *one_up = client(c, 1, 0), *two = client(c, 2, 0), *none = client(NULL, 0, 0);
    rec_t rc = {0};
    int err = 0;
    app_upstream_cbs_t half = {.on_delta = on_delta, .on_error = on_error};
    app_upstream_chat_opts_t bad_params = {.params = SLICE_LIT("[1]")};
    app_upstream_chat_opts_t bad_idx = {.use_url_idx = true, .url_idx = 5};
#define EXPECT(call, code)                                                                         \
    do {                                                                                           \
        err = 0;                                                                                   \
        cr_assert_null(call);                                                                      \
        cr_assert_eq(err, code, "%s", #call);                                                      \
    } while (0)
    EXPECT(app_upstream_chat_start(one_up, SLICE_LIT("m"), SLICE_LIT("{}"), NULL, &cbs, &rc, &err),
           APP_UPSTREAM_EINVAL);
    EXPECT(app_upstream_chat_start(one_up, SLICE_LIT("m"), SLICE_LIT("[1,"), NULL, &cbs, &rc, &err),
           APP_UPSTREAM_EINVAL);
    EXPECT(app_upstream_chat_start(one_up, SLICE_LIT(""), SLICE_LIT("[]"), NULL, &cbs, &rc, &err),
           APP_UPSTREAM_EINVAL);
    EXPECT(app_upstream_chat_start(one_up, SLICE_LIT("m"), SLICE_LIT("[]"), &bad_params, &cbs, &rc,
                                   &err),
           APP_UPSTREAM_EINVAL);
    EXPECT(app_upstream_chat_start(one_up, SLICE_LIT("m"), SLICE_LIT("[]"), NULL, &half, &rc, &err),
           APP_UPSTREAM_EINVAL);
    EXPECT(
        app_upstream_chat_start(one_up, SLICE_LIT("m"), SLICE_LIT("[]"), &bad_idx, &cbs, &rc, &err),
        APP_UPSTREAM_ENOUPSTREAM);
    EXPECT(app_upstream_chat_start(two, SLICE_LIT("m"), SLICE_LIT("[]"), NULL, &cbs, &rc, &err),
           APP_UPSTREAM_ENOMODEL);
    EXPECT(app_upstream_chat_start(none, SLICE_LIT("m"), SLICE_LIT("[]"), NULL, &cbs, &rc, &err),
           APP_UPSTREAM_ENOUPSTREAM);
#undef EXPECT
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.deltas + rc.dones + rc.errors, 0);
    app_upstream_free(one_up);
    app_upstream_free(two);
    app_upstream_free(none);
    /* a config the client refuses */
    app_upstream_conn_t nourl = {NULL, NULL};
    app_upstream_config_t cfg = {.conns = &nourl, .n_conns = 1};
    cr_assert_null(app_upstream_new(&loop, &cfg));
    cfg.n_conns = APP_UPSTREAM_MAX_CONNS + 1;
    cr_assert_null(app_upstream_new(&loop, &cfg));
    cr_assert_str_eq(app_upstream_strerror(APP_UPSTREAM_ECANCELLED), "cancelled");
}

/* ------------------------------------------------------------------ environment */

static void env_case(app_upstream_env_vars_t v, int want_rc, const char *want)
{
    app_upstream_env_t e;
    char got[1024] = {0};
    cr_assert_eq(app_upstream_env_parse(&v, &e), want_rc);
    for (size_t i = 0; i < e.n; i++) {
        size_t l = strlen(got);
        snprintf(got + l, sizeof got - l, "%s|%s;", e.conns[i].url, e.conns[i].key);
    }
    cr_assert_str_eq(got, want);
    app_upstream_env_dispose(&e);
}

Test(app_upstream, env_follows_open_webui)
{
    const char *oai = APP_UPSTREAM_OPENAI_URL;
    char want[512];
    /* nothing set: no connection (sioc's documented difference) */
    env_case((app_upstream_env_vars_t){0}, 0, "");
    /* a key alone: api.openai.com with it */
    snprintf(want, sizeof want, "%s|sk-1;", oai);
    env_case((app_upstream_env_vars_t){.key = "sk-1"}, 0, want);
    /* one URL (Ollama), trailing slash dropped, no key */
    env_case((app_upstream_env_vars_t){.base_url = "http://localhost:11434/v1/"}, 0,
             "http://localhost:11434/v1|;");
    /* URLS wins over URL; KEYS over KEY; pairing by index; spaces trimmed */
    env_case((app_upstream_env_vars_t){.base_url = "http://ignored",
                                       .base_urls = "http://a/v1; http://b/v1",
                                       .key = "ignored",
                                       .keys = "ka ;kb"},
             0, "http://a/v1|ka;http://b/v1|kb;");
    /* fewer keys than URLs: the rest get ""; more keys: extra dropped */
    env_case((app_upstream_env_vars_t){.base_urls = "http://a;http://b;http://c", .keys = "ka"}, 0,
             "http://a|ka;http://b|;http://c|;");
    env_case((app_upstream_env_vars_t){.base_urls = "http://a", .keys = "ka;kb;kc"}, 0,
             "http://a|ka;");
    /* an empty entry is the OpenAI default */
    snprintf(want, sizeof want, "http://a|;%s|k2;", oai);
    env_case((app_upstream_env_vars_t){.base_urls = "http://a/;", .keys = ";k2"}, 0, want);
    /* KEY applies to the single default URL when only it is set, empty KEYS falls back */
    env_case((app_upstream_env_vars_t){.base_url = "http://x", .keys = "", .key = "k"}, 0,
             "http://x|k;");
    /* ENABLE_OPENAI_API */
    env_case((app_upstream_env_vars_t){.enable_openai_api = "false", .base_url = "http://x"}, 0,
             "");
    env_case((app_upstream_env_vars_t){.enable_openai_api = "", .base_url = "http://x"}, 0, "");
    env_case((app_upstream_env_vars_t){.enable_openai_api = "TRUE", .base_url = "http://x"}, 0,
             "http://x|;");
    /* too many */
    char many[40 * 12] = {0};
    for (int i = 0; i < APP_UPSTREAM_MAX_CONNS + 1; i++)
        strcat(many, "http://h;");
    many[strlen(many) - 1] = 0;
    env_case((app_upstream_env_vars_t){.base_urls = many}, APP_UPSTREAM_EINVAL, "");
    /* getenv */
    setenv("OPENAI_API_BASE_URLS", "http://env-a;http://env-b", 1);
    setenv("OPENAI_API_KEYS", "e1;e2", 1);
    unsetenv("ENABLE_OPENAI_API");
    env_case(app_upstream_env_vars_get(), 0, "http://env-a|e1;http://env-b|e2;");
}
