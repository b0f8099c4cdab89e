/*
 * app_echo_model: the built-in demo model. The request handle, cancellation, shutdown and
 * the exactly-once terminal callback belong to app_upstream; this file only produces the
 * tokens, from one timer per request:
 *
 *   start ── timer every interval ──> on_tick: next token -> on_delta
 *                                     ...
 *                                     on_tick after the last token: on_done("stop")
 *   stop hook: timer stopped; release hook: uv_close(timer) -> text freed -> released
 */
#include "app/app_echo_model.h"

#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/utf8.h"

#define DEF_INTERVAL_MS 40u
#define DEF_MAX_BYTES (16u << 10)
#define NO_TEXT "There is nothing to echo yet: send a message and this demo model streams it back."

/* The backend state of one echo request (its ext area). */
typedef struct echo {
    uv_timer_t timer;   /* the token clock; timer.data = the request */
    buf_t text;         /* what is echoed */
    size_t off;         /* next token starts here */
    int64_t n_tokens;   /* tokens in text */
    char usage_raw[96]; /* the usage object, as JSON */
} echo_t;

bool app_echo_model_is(slice_t model)
{
    return slice_eq_cstr(model, APP_ECHO_MODEL_ID);
}

void app_echo_model_append_info(buf_t *out)
{
    buf_append_cstr(out, "{\"id\":");
    json_append_string(out, slice_from_cstr(APP_ECHO_MODEL_ID));
    buf_append_cstr(out, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"sioc\",\"name\":");
    json_append_string(out, slice_from_cstr(APP_ECHO_MODEL_NAME));
    buf_append_byte(out, '}');
}

/* The value of member `key` (the last one), or type JSON_INVALID. */
static json_value_t member(slice_t obj, const char *key)
{
    json_iter_t it;
    json_value_t k, v, found = {JSON_INVALID, {NULL, 0}};
    if (json_object_begin(&it, obj, NULL) < 0)
        return found;
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (json_string_eq(k.raw, slice_from_cstr(key)))
            found = v;
    }
    return found;
}

static bool is_user_message(slice_t obj)
{
    json_value_t role = member(obj, "role");
    return role.type == JSON_STRING && json_string_eq(role.raw, SLICE_LIT("user"));
}

/* Appends the text parts of a multi-part content array, joined with newlines. */
static void append_parts(slice_t arr, buf_t *out)
{
    json_iter_t it;
    json_value_t part;
    bool first = true;
    if (json_array_begin(&it, arr, NULL) < 0)
        return;
    while (json_array_next(&it, &part, NULL) == 1) {
        if (part.type != JSON_OBJECT)
            continue;
        json_value_t type = member(part.raw, "type"), text = member(part.raw, "text");
        if (type.type != JSON_STRING || !json_string_eq(type.raw, SLICE_LIT("text")) ||
            text.type != JSON_STRING)
            continue;
        if (!first)
            buf_append_byte(out, '\n');
        json_string_unescape_buf(text.raw, out);
        first = false;
    }
}

int app_echo_model_last_user_text(slice_t messages, buf_t *out)
{
    json_iter_t it;
    json_value_t msg, last = {JSON_INVALID, {NULL, 0}};
    int rc;
    if (json_array_begin(&it, messages, NULL) < 0)
        return -1;
    while ((rc = json_array_next(&it, &msg, NULL)) == 1) {
        if (msg.type == JSON_OBJECT && is_user_message(msg.raw))
            last = msg;
    }
    if (rc < 0)
        return -1;
    if (last.type != JSON_OBJECT)
        return 1;
    size_t before = out->len;
    json_value_t content = member(last.raw, "content");
    if (content.type == JSON_STRING)
        json_string_unescape_buf(content.raw, out);
    else if (content.type == JSON_ARRAY)
        append_parts(content.raw, out);
    return out->len > before ? 0 : 1;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t app_echo_model_token_end(slice_t text, size_t off)
{
    size_t i = off;
    while (i < text.len && is_space(text.ptr[i]))
        i++;
    while (i < text.len && !is_space(text.ptr[i]))
        i++;
    size_t n = i - off;
    if (n > APP_ECHO_MAX_TOKEN)
        n = utf8_boundary(text.ptr + off, APP_ECHO_MAX_TOKEN);
    return off + (n ? n : 1);
}

static void on_tick(uv_timer_t *t)
{
    app_upstream_req_t *r = t->data;
    echo_t *e = app_upstream__req_ext(r);
    slice_t text = buf_slice(&e->text);
    if (e->off >= text.len) {
        app_upstream_usage_t u = {.prompt_tokens = e->n_tokens,
                                  .completion_tokens = e->n_tokens,
                                  .total_tokens = 2 * e->n_tokens,
                                  .raw = slice_from_cstr(e->usage_raw)};
        app_upstream__req_done(r, SLICE_LIT("stop"), &u);
        return;
    }
    size_t end = app_echo_model_token_end(text, e->off);
    slice_t token = slice_make(text.ptr + e->off, end - e->off);
    e->off = end;
    app_upstream__req_delta(r, token); /* false (cancelled): app_upstream stops us soon */
}

static void echo_stop(app_upstream_req_t *r)
{
    echo_t *e = app_upstream__req_ext(r);
    uv_timer_stop(&e->timer);
}

static void on_echo_closed(uv_handle_t *h)
{
    app_upstream_req_t *r = h->data;
    echo_t *e = app_upstream__req_ext(r);
    buf_dispose(&e->text);
    app_upstream__req_released(r);
}

static void echo_release(app_upstream_req_t *r)
{
    echo_t *e = app_upstream__req_ext(r);
    uv_close((uv_handle_t *)&e->timer, on_echo_closed);
}

static const app_upstream__backend_t echo_backend = {.stop = echo_stop, .release = echo_release};

app_upstream_req_t *app_echo_model_start(app_upstream_t *up, slice_t messages,
                                         const app_echo_opts_t *opts, const app_upstream_cbs_t *cbs,
                                         void *user, int *err)
{
    json_value_t v;
    if (json_validate(messages, &v, NULL) < 0 || v.type != JSON_ARRAY) {
        if (err)
            *err = APP_UPSTREAM_EINVAL;
        return NULL;
    }
    app_upstream_req_t *r =
        app_upstream__req_new(up, &echo_backend, sizeof(echo_t), cbs, user, err);
    if (!r)
        return NULL;
    echo_t *e = app_upstream__req_ext(r);
    uint32_t interval = opts && opts->interval_ms ? opts->interval_ms : DEF_INTERVAL_MS;
    size_t max = opts && opts->max_bytes ? opts->max_bytes : DEF_MAX_BYTES;
    if (app_echo_model_last_user_text(v.raw, &e->text) != 0)
        buf_append_cstr(&e->text, NO_TEXT);
    if (e->text.len > max)
        e->text.len = utf8_boundary(buf_data(&e->text), max);
    slice_t text = buf_slice(&e->text);
    for (size_t off = 0; off < text.len; off = app_echo_model_token_end(text, off))
        e->n_tokens++;
    snprintf(e->usage_raw, sizeof e->usage_raw,
             "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld}",
             (long long)e->n_tokens, (long long)e->n_tokens, 2 * (long long)e->n_tokens);
    uv_timer_init(app_upstream__req_loop(r), &e->timer);
    e->timer.data = r;
    uv_timer_start(&e->timer, on_tick, interval, interval);
    return r;
}
