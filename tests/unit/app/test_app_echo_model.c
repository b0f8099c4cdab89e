/*
 * Unit tests for src/app/app_echo_model: the built-in demo model, on a real uv loop,
 * through the same handle and callbacks as a real upstream (app_upstream). Every test ends
 * with no open handle (uv_walk) and uv_loop_close() == 0.
 *
 * src/app is built only into build/sioc, so the module's files are #included here.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../src/app/app_sse.c"
#include "../../../src/app/app_upstream.c"
#include "../../../src/app/app_upstream_env.c"
#include "../../../src/app/app_upstream_loop.c"
#include "../../../src/app/app_upstream_models.c"
#include "../../../src/app/app_echo_model.c"

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

static void teardown(void)
{
    int n = 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, walk_count, &n);
    cr_assert_eq(n, 0, "%d handles left open", n);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

TestSuite(app_echo_model, .init = setup, .fini = teardown, .timeout = 15);

typedef struct rec {
    char tokens[32][64]; /* each delta, in order */
    int deltas, dones, errors, code;
    char finish[16];
    char usage[128];
    int64_t total;
    int cancel_after;
    uint64_t start_ms, end_ms;
} rec_t;

static void on_delta(app_upstream_req_t *r, slice_t t)
{
    rec_t *rc = app_upstream_req_get_user(r);
    cr_assert_eq(rc->dones + rc->errors, 0, "delta after the end");
    cr_assert_lt(rc->deltas, 32);
    snprintf(rc->tokens[rc->deltas++], 64, "%.*s", (int)t.len, (const char *)t.ptr);
    if (rc->deltas == rc->cancel_after)
        app_upstream_cancel(r);
}

static void on_done(app_upstream_req_t *r, slice_t finish, const app_upstream_usage_t *u)
{
    rec_t *rc = app_upstream_req_get_user(r);
    rc->dones++;
    rc->end_ms = uv_hrtime() / 1000000u;
    snprintf(rc->finish, sizeof rc->finish, "%.*s", (int)finish.len, (const char *)finish.ptr);
    cr_assert(u);
    rc->total = u->total_tokens;
    snprintf(rc->usage, sizeof rc->usage, "%.*s", (int)u->raw.len, (const char *)u->raw.ptr);
}

static void on_error(app_upstream_req_t *r, int code, int http, slice_t msg)
{
    rec_t *rc = app_upstream_req_get_user(r);
    (void)msg;
    cr_assert_eq(http, 0);
    rc->errors++;
    rc->code = code;
}

static const app_upstream_cbs_t cbs = {
    .on_delta = on_delta, .on_done = on_done, .on_error = on_error};

static app_upstream_t *client(void)
{
    app_upstream_config_t cfg = {0}; /* no model API at all: the echo model still works */
    app_upstream_t *up = app_upstream_new(&loop, &cfg);
    cr_assert(up);
    return up;
}

static app_upstream_req_t *echo(app_upstream_t *up, const char *messages, uint32_t interval,
                                rec_t *rc)
{
    app_echo_opts_t o = {.interval_ms = interval};
    int err = 0;
    rc->start_ms = uv_hrtime() / 1000000u;
    app_upstream_req_t *r = app_echo_model_start(up, slice_from_cstr(messages), &o, &cbs, rc, &err);
    cr_assert(r, "start failed %d", err);
    cr_assert_eq(rc->deltas + rc->dones + rc->errors, 0, "no callback inside start");
    return r;
}

Test(app_echo_model, streams_the_last_user_message_token_by_token)
{
    app_upstream_t *up = client();
    rec_t rc = {0};
    app_upstream_req_t *r = echo(up,
                                 "[{\"role\":\"user\",\"content\":\"not this one\"},"
                                 "{\"role\":\"assistant\",\"content\":\"nor this\"},"
                                 "{\"role\":\"user\",\"content\":\"Hello  big\\nworld!\"},"
                                 "{\"role\":\"system\",\"content\":\"ignored\"}]",
                                 10, &rc);
    cr_assert_eq(app_upstream_req_url_idx(r), SIZE_MAX);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 0);
    cr_assert_eq(rc.dones, 1);
    cr_assert_eq(rc.deltas, 3);
    cr_assert_str_eq(rc.tokens[0], "Hello");
    cr_assert_str_eq(rc.tokens[1], "  big");
    cr_assert_str_eq(rc.tokens[2], "\nworld!");
    cr_assert_str_eq(rc.finish, "stop");
    cr_assert_eq(rc.total, 6);
    cr_assert_str_eq(rc.usage, "{\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}");
    /* three tokens and the end, one interval apart */
    cr_assert_geq(rc.end_ms - rc.start_ms, 35);
    app_upstream_free(up);
}

Test(app_echo_model, multipart_content_and_no_user_text)
{
    app_upstream_t *up = client();
    rec_t parts = {0}, none = {0};
    echo(up,
         "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:,\"}},"
         "{\"type\":\"text\",\"text\":\"here\"}]}]",
         1, &parts);
    echo(up, "[{\"role\":\"system\",\"content\":\"hi\"}]", 1, &none);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(parts.dones, 1);
    cr_assert_eq(parts.deltas, 2);
    cr_assert_str_eq(parts.tokens[0], "look");
    cr_assert_str_eq(parts.tokens[1], "\nhere");
    cr_assert_eq(none.dones, 1);
    char all[512] = {0};
    for (int i = 0; i < none.deltas; i++)
        strcat(all, none.tokens[i]);
    cr_assert_str_eq(all, NO_TEXT);
    app_upstream_free(up);
}

Test(app_echo_model, cancel_inside_a_delta_and_from_outside)
{
    app_upstream_t *up = client();
    rec_t in = {.cancel_after = 2}, out = {0};
    echo(up, "[{\"role\":\"user\",\"content\":\"a b c d e f g\"}]", 5, &in);
    app_upstream_req_t *r =
        echo(up, "[{\"role\":\"user\",\"content\":\"1 2 3 4 5 6 7\"}]", 5, &out);
    while (out.deltas < 3)
        uv_run(&loop, UV_RUN_ONCE);
    app_upstream_cancel(r);
    int seen = out.deltas;
    cr_assert_eq(out.errors, 0, "no callback inside cancel");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(in.errors, 1);
    cr_assert_eq(in.dones, 0);
    cr_assert_eq(in.code, APP_UPSTREAM_ECANCELLED);
    cr_assert_eq(in.deltas, 2, "nothing after cancel");
    cr_assert_eq(out.errors, 1);
    cr_assert_eq(out.code, APP_UPSTREAM_ECANCELLED);
    cr_assert_eq(out.deltas, seen, "nothing after cancel");
    app_upstream_free(up);
}

typedef struct later {
    uv_timer_t t;
    app_upstream_t *up;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_free_later(uv_timer_t *t)
{
    later_t *l = t->data;
    app_upstream_free(l->up);
    uv_close((uv_handle_t *)t, on_later_closed);
}

Test(app_echo_model, shutdown_ends_it_once)
{
    app_upstream_t *up = client();
    rec_t rc = {0};
    echo(up, "[{\"role\":\"user\",\"content\":\"a b c d e f g h i j k l m n o p\"}]", 20, &rc);
    later_t l = {.up = up};
    uv_timer_init(&loop, &l.t);
    l.t.data = &l;
    uv_timer_start(&l.t, on_free_later, 70, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.errors, 1);
    cr_assert_eq(rc.dones, 0);
    cr_assert_eq(rc.code, APP_UPSTREAM_ESHUTDOWN);
    cr_assert(rc.deltas >= 1 && rc.deltas < 16, "%d", rc.deltas);
}

Test(app_echo_model, bad_arguments)
{
    app_upstream_t *up = client();
    rec_t rc = {0};
    int err = 0;
    app_upstream_cbs_t half = {.on_delta = on_delta, .on_done = on_done};
    cr_assert_null(app_echo_model_start(up, SLICE_LIT("{}"), NULL, &cbs, &rc, &err));
    cr_assert_eq(err, APP_UPSTREAM_EINVAL);
    err = 0;
    cr_assert_null(app_echo_model_start(up, SLICE_LIT("[]"), NULL, &half, &rc, &err));
    cr_assert_eq(err, APP_UPSTREAM_EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.deltas + rc.dones + rc.errors, 0);
    app_upstream_free(up);
}

Test(app_echo_model, tokens_and_caps)
{
    /* whitespace goes with the word after it; long words are cut at a character boundary */
    slice_t t = SLICE_LIT("  hi\tthere");
    cr_assert_eq(app_echo_model_token_end(t, 0), 4);
    cr_assert_eq(app_echo_model_token_end(t, 4), 10);
    slice_t e =
        SLICE_LIT("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x");
    size_t end = app_echo_model_token_end(e, 0);
    cr_assert_eq(end, 16);
    cr_assert_eq(app_echo_model_token_end(e, 16), 19);
    slice_t sp = SLICE_LIT("   ");
    cr_assert_eq(app_echo_model_token_end(sp, 0), 3);

    buf_t out = BUF_INIT;
    cr_assert_eq(app_echo_model_last_user_text(SLICE_LIT("[1,{\"role\":\"user\"}]"), &out), 1);
    cr_assert_eq(app_echo_model_last_user_text(SLICE_LIT("[{\"role\":\"user\",\"content\":"
                                                         "\"caf\\u00e9\"}]"),
                                               &out),
                 0);
    cr_assert(slice_eq_cstr(buf_slice(&out), "caf\xc3\xa9"));
    cr_assert_eq(app_echo_model_last_user_text(SLICE_LIT("[oops"), &out), -1);
    buf_dispose(&out);

    cr_assert(app_echo_model_is(SLICE_LIT(APP_ECHO_MODEL_ID)));
    cr_assert(!app_echo_model_is(SLICE_LIT("gpt-4o")));
    buf_t info = BUF_INIT;
    app_echo_model_append_info(&info);
    json_value_t v, name;
    cr_assert_eq(json_validate(buf_slice(&info), &v, NULL), 0);
    cr_assert(find_member(v.raw, "name", &name));
    cr_assert(json_string_eq(name.raw, SLICE_LIT("echo (built-in demo)")));
    cr_assert(find_member(v.raw, "id", &name));
    cr_assert(json_string_eq(name.raw, SLICE_LIT(APP_ECHO_MODEL_ID)));
    buf_dispose(&info);
}

Test(app_echo_model, text_is_capped)
{
    app_upstream_t *up = client();
    rec_t rc = {0};
    app_echo_opts_t o = {.interval_ms = 1, .max_bytes = 13};
    int err = 0;
    cr_assert(app_echo_model_start(up,
                                   SLICE_LIT("[{\"role\":\"user\",\"content\":\"aaaa bbbb "
                                             "\xc3\xa9\xc3\xa9 dddd\"}]"),
                                   &o, &cbs, &rc, &err));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(rc.dones, 1);
    char all[64] = {0};
    for (int i = 0; i < rc.deltas; i++)
        strcat(all, rc.tokens[i]);
    /* 13 bytes would cut the second é: the cap lands on the character boundary */
    cr_assert_str_eq(all, "aaaa bbbb \xc3\xa9");
    app_upstream_free(up);
}
