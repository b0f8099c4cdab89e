/*
 * app_sse: Server-Sent Events parsing and chat-chunk extraction. See app_sse.h for the
 * rules; this file explains only the choices that are not obvious from them.
 *
 * The line loop, per feed:
 *
 *   input: |..rest of a cut line..\n|data: {...}\r\n|\r\n|data: {..(cut)
 *          ^ appended to _line      ^ parsed in place ^ dispatch ^ copied to _line
 *
 * A line that the feed holds whole is handed to process_line as a slice of the input; a
 * line cut at the end of the feed goes to _line and is completed by the next feed. Field
 * values that must survive the feed (data, event type, id) are copied into their own
 * buffers by process_line, so _line can be cleared as soon as its line is processed.
 */
#include "app/app_sse.h"

#include <string.h>

#include "base/json.h"
#include "base/utf8.h"

static const uint8_t bom[3] = {0xEF, 0xBB, 0xBF};

const char *app_sse_strerror(int code)
{
    switch (code) {
    case APP_SSE_ELINE:
        return "sse: line too long";
    case APP_SSE_EDATA:
        return "sse: event data too large";
    case APP_SSE_ENOMEM:
        return "sse: out of memory";
    default:
        return "sse: unknown error";
    }
}

void app_sse_init(app_sse_t *p, size_t max_line, size_t max_data)
{
    memset(p, 0, sizeof *p);
    p->_max_line = max_line ? max_line : APP_SSE_DEFAULT_MAX;
    p->_max_data = max_data ? max_data : APP_SSE_DEFAULT_MAX;
}

void app_sse_dispose(app_sse_t *p)
{
    if (!p)
        return;
    buf_dispose(&p->_line);
    buf_dispose(&p->_data);
    buf_dispose(&p->_type);
    buf_dispose(&p->_id);
}

void app_sse_reset(app_sse_t *p)
{
    buf_clear(&p->_line);
    buf_clear(&p->_data);
    buf_clear(&p->_type);
    buf_clear(&p->_id);
    p->_err = 0;
    p->_bom = 0;
    p->_skip_lf = false;
    p->_dispatched = false;
}

/* Appends with a try_ allocation: every size here is already capped by the caller. */
static int append(buf_t *b, const uint8_t *src, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = buf_try_reserve(b, n);
    if (!dst)
        return APP_SSE_ENOMEM;
    memcpy(dst, src, n);
    buf_commit(b, n);
    return 0;
}

/* The empty line: an event with data is ready; without data nothing happens but the type
 * resets (WHATWG "dispatch the event", steps 1-3). */
static int dispatch(app_sse_t *p, app_sse_event_t *ev)
{
    if (p->_data.len == 0) {
        buf_clear(&p->_type);
        return APP_SSE_MORE;
    }
    p->_data.len--; /* the LF that the last data line appended */
    ev->data = buf_slice(&p->_data);
    ev->type = buf_slice(&p->_type);
    ev->id = buf_slice(&p->_id);
    p->_dispatched = true;
    return APP_SSE_EVENT;
}

/* One complete line (without its terminator). Copies what must outlive the line. */
static int process_line(app_sse_t *p, slice_t line, app_sse_event_t *ev)
{
    if (line.len == 0)
        return dispatch(p, ev);
    if (line.ptr[0] == ':')
        return APP_SSE_MORE;
    long colon = slice_index(line, ':');
    slice_t field = colon < 0 ? line : slice_make(line.ptr, (size_t)colon);
    slice_t value = colon < 0 ? slice_make(line.ptr + line.len, 0) : slice_tail(line, colon + 1);
    if (value.len && value.ptr[0] == ' ')
        value = slice_tail(value, 1);

    if (slice_eq_cstr(field, "data")) {
        if (p->_data.len + value.len + 1 > p->_max_data)
            return APP_SSE_EDATA;
        int rc = append(&p->_data, value.ptr, value.len);
        return rc ? rc : append(&p->_data, (const uint8_t *)"\n", 1);
    }
    if (slice_eq_cstr(field, "event")) {
        buf_clear(&p->_type);
        return append(&p->_type, value.ptr, value.len);
    }
    if (slice_eq_cstr(field, "id") && slice_index(value, 0) < 0) {
        buf_clear(&p->_id);
        return append(&p->_id, value.ptr, value.len);
    }
    return APP_SSE_MORE; /* retry, unknown fields */
}

/* Matches the UTF-8 BOM at the start of the stream, possibly across feeds. Returns how
 * many input bytes it took. On a mismatch the bytes matched so far were text after all:
 * they start the first line. */
static size_t skip_bom(app_sse_t *p, slice_t in, int *rc)
{
    size_t i = 0;
    while (p->_bom < 3 && i < in.len) {
        if (in.ptr[i] != bom[p->_bom]) {
            *rc = append(&p->_line, bom, p->_bom);
            p->_bom = 4;
            return i;
        }
        p->_bom++;
        i++;
    }
    if (p->_bom == 3)
        p->_bom = 4;
    return i;
}

/* Index of the first CR or LF at or after `i`, or in.len. */
static size_t find_eol(slice_t in, size_t i)
{
    for (; i < in.len; i++) {
        if (in.ptr[i] == '\n' || in.ptr[i] == '\r')
            return i;
    }
    return in.len;
}

/* Fails the parser for good: every later feed returns the same code. */
static int fail(app_sse_t *p, int rc)
{
    p->_err = rc;
    return rc;
}

int app_sse_feed(app_sse_t *p, slice_t in, size_t *consumed, app_sse_event_t *ev)
{
    if (p->_err)
        return p->_err;
    if (p->_dispatched) {
        buf_clear(&p->_data);
        buf_clear(&p->_type);
        p->_dispatched = false;
    }
    int rc = 0;
    size_t i = 0;
    if (p->_bom < 4) {
        i = skip_bom(p, in, &rc);
        if (rc)
            return fail(p, rc);
    }
    while (i < in.len) {
        if (p->_skip_lf) {
            p->_skip_lf = false;
            if (in.ptr[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = find_eol(in, i);
        if (p->_line.len + (j - i) > p->_max_line)
            return fail(p, APP_SSE_ELINE);
        if (j == in.len) { /* cut line: keep it for the next feed */
            rc = append(&p->_line, in.ptr + i, j - i);
            if (rc)
                return fail(p, rc);
            break;
        }
        slice_t line = slice_make(in.ptr + i, j - i);
        if (p->_line.len) {
            rc = append(&p->_line, line.ptr, line.len);
            if (rc)
                return fail(p, rc);
            line = buf_slice(&p->_line);
        }
        p->_skip_lf = in.ptr[j] == '\r';
        i = j + 1;
        rc = process_line(p, line, ev);
        buf_clear(&p->_line);
        if (rc < 0)
            return fail(p, rc);
        if (rc == APP_SSE_EVENT) {
            *consumed = i;
            return APP_SSE_EVENT;
        }
    }
    *consumed = in.len;
    return APP_SSE_MORE;
}

/* ------------------------------------------------------------------ chat chunks */

/* A string member, or an empty slice for null and every other type. */
static slice_t string_or_empty(const json_value_t *v)
{
    return v->type == JSON_STRING ? v->raw : slice_make(NULL, 0);
}

/* delta (streamed) or message (non-streamed): content, reasoning, role. */
static int parse_delta(slice_t obj, app_sse_chunk_t *out, const char **err)
{
    json_iter_t it;
    json_value_t k, v;
    slice_t reasoning_alt = slice_make(NULL, 0);
    int rc;
    if (json_object_begin(&it, obj, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("content")))
            out->content = string_or_empty(&v);
        else if (json_string_eq(k.raw, SLICE_LIT("reasoning_content")))
            out->reasoning = string_or_empty(&v);
        else if (json_string_eq(k.raw, SLICE_LIT("reasoning")))
            reasoning_alt = string_or_empty(&v);
        else if (json_string_eq(k.raw, SLICE_LIT("role")))
            out->role = string_or_empty(&v);
    }
    if (!out->reasoning.len)
        out->reasoning = reasoning_alt;
    return rc;
}

/* One element of `choices`: returns 1 when it is choice 0 (and was read), 0 when it is
 * another index, -1 on malformed input. */
static int parse_choice(slice_t obj, app_sse_chunk_t *out, const char **err)
{
    json_iter_t it;
    json_value_t k, v;
    json_value_t delta = {JSON_INVALID, {NULL, 0}};
    slice_t finish = slice_make(NULL, 0);
    int64_t index = 0;
    int rc;
    if (json_object_begin(&it, obj, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("index")))
            index = v.type == JSON_NUMBER && json_number_to_i64(v.raw, &index) == 0 ? index : -1;
        else if (json_string_eq(k.raw, SLICE_LIT("delta")) ||
                 json_string_eq(k.raw, SLICE_LIT("message")))
            delta = v;
        else if (json_string_eq(k.raw, SLICE_LIT("finish_reason")))
            finish = string_or_empty(&v);
    }
    if (rc < 0)
        return -1;
    if (index != 0)
        return 0;
    out->has_choice = true;
    out->finish_reason = finish;
    if (delta.type == JSON_OBJECT && parse_delta(delta.raw, out, err) < 0)
        return -1;
    return 1;
}

static int parse_choices(slice_t arr, app_sse_chunk_t *out, const char **err)
{
    json_iter_t it;
    json_value_t v;
    int rc;
    if (json_array_begin(&it, arr, err) < 0)
        return -1;
    while ((rc = json_array_next(&it, &v, err)) == 1) {
        if (v.type != JSON_OBJECT)
            continue;
        int got = parse_choice(v.raw, out, err);
        if (got != 0)
            return got < 0 ? -1 : 0;
    }
    return rc;
}

static int parse_usage(slice_t obj, app_sse_usage_t *u, const char **err)
{
    json_iter_t it;
    json_value_t k, v;
    int rc;
    u->raw = obj;
    if (json_object_begin(&it, obj, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        int64_t *dst = NULL;
        if (json_string_eq(k.raw, SLICE_LIT("prompt_tokens")))
            dst = &u->prompt_tokens;
        else if (json_string_eq(k.raw, SLICE_LIT("completion_tokens")))
            dst = &u->completion_tokens;
        else if (json_string_eq(k.raw, SLICE_LIT("total_tokens")))
            dst = &u->total_tokens;
        /* a count that is not a whole number of at least 0 is as good as absent */
        if (dst && (v.type != JSON_NUMBER || json_number_to_i64(v.raw, dst) < 0 || *dst < 0))
            *dst = -1;
    }
    return rc;
}

/* `error`: a string, or an object whose `message` is a string (OpenAI, Ollama), or
 * anything else (kept raw for the caller). */
static int parse_error(const json_value_t *v, app_sse_chunk_t *out, const char **err)
{
    out->has_error = true;
    out->error_raw = v->raw;
    if (v->type == JSON_STRING) {
        out->error_message = v->raw;
        return 0;
    }
    if (v->type != JSON_OBJECT)
        return 0;
    json_iter_t it;
    json_value_t k, m;
    int rc;
    if (json_object_begin(&it, v->raw, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &m, err)) == 1) {
        if (json_string_eq(k.raw, SLICE_LIT("message")))
            out->error_message = string_or_empty(&m);
    }
    return rc;
}

/* Dispatches one top-level member of the chunk object. */
static int parse_member(const json_value_t *k, const json_value_t *v, app_sse_chunk_t *out,
                        const char **err)
{
    if (json_string_eq(k->raw, SLICE_LIT("choices")) && v->type == JSON_ARRAY)
        return parse_choices(v->raw, out, err);
    if (json_string_eq(k->raw, SLICE_LIT("usage")) && v->type == JSON_OBJECT) {
        out->has_usage = true;
        out->usage.prompt_tokens = out->usage.completion_tokens = out->usage.total_tokens = -1;
        return parse_usage(v->raw, &out->usage, err);
    }
    if (json_string_eq(k->raw, SLICE_LIT("error")) && v->type != JSON_NULL)
        return parse_error(v, out, err);
    return 0;
}

static slice_t trim(slice_t s)
{
    size_t a = json_skip_ws(s, 0), b = s.len;
    while (b > a && (s.ptr[b - 1] == ' ' || s.ptr[b - 1] == '\t' || s.ptr[b - 1] == '\n' ||
                     s.ptr[b - 1] == '\r'))
        b--;
    return slice_make(s.ptr + a, b - a);
}

int app_sse_chunk_parse(slice_t data, app_sse_chunk_t *out, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    memset(out, 0, sizeof *out);
    out->usage.prompt_tokens = out->usage.completion_tokens = out->usage.total_tokens = -1;
    slice_t s = trim(data);
    if (slice_eq_cstr(s, "[DONE]")) {
        out->done = true;
        return 0;
    }
    json_value_t root;
    if (json_validate(s, &root, err) < 0)
        return -1;
    if (root.type != JSON_OBJECT) {
        *err = "chunk: not a JSON object";
        return -1;
    }
    json_iter_t it;
    json_value_t k, v;
    int rc;
    if (json_object_begin(&it, root.raw, err) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        if (parse_member(&k, &v, out, err) < 0)
            return -1;
    }
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ error messages */

void app_sse_append_message(buf_t *out, slice_t text)
{
    size_t n =
        text.len > APP_SSE_MESSAGE_CAP ? utf8_boundary(text.ptr, APP_SSE_MESSAGE_CAP) : text.len;
    buf_append(out, text.ptr, n);
}

void app_sse_append_json_message(buf_t *out, slice_t raw)
{
    buf_t tmp = BUF_INIT;
    if (json_string_unescape_buf(raw, &tmp) == 0)
        app_sse_append_message(out, buf_slice(&tmp));
    buf_dispose(&tmp);
}

/* The string value of member `key` (the last one, as JSON.parse keeps), else empty. */
static slice_t string_member(slice_t obj, const char *key, json_value_t *any)
{
    json_iter_t it;
    json_value_t k, v;
    slice_t found = slice_make(NULL, 0);
    any->type = JSON_INVALID;
    if (json_object_begin(&it, obj, NULL) < 0)
        return found;
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (!json_string_eq(k.raw, slice_from_cstr(key)))
            continue;
        *any = v;
        found = string_or_empty(&v);
    }
    return found;
}

void app_sse_error_message(slice_t body, long status, buf_t *out)
{
    buf_clear(out);
    slice_t s = trim(body);
    json_value_t root, err;
    if (json_validate(s, &root, NULL) == 0 && root.type == JSON_OBJECT) {
        slice_t msg = string_member(root.raw, "error", &err);
        if (!msg.len && err.type == JSON_OBJECT)
            msg = string_member(err.raw, "message", &err);
        if (!msg.len)
            msg = string_member(root.raw, "detail", &err);
        if (!msg.len)
            msg = string_member(root.raw, "message", &err);
        app_sse_append_json_message(out, msg);
    }
    if (out->len == 0 && s.len && utf8_is_valid(s.ptr, s.len))
        app_sse_append_message(out, s);
    if (out->len == 0) {
        buf_append_cstr(out, "HTTP ");
        buf_append_u64(out, (uint64_t)(status > 0 ? status : 0));
    }
}
