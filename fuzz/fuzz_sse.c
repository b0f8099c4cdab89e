/*
 * Fuzz target for src/app/app_sse: the Server-Sent Events parser, the chat-chunk extractor
 * and the error-message reader (src/app is not in the fuzz library, so the module is
 * #included).
 *
 * Input: byte 0 seeds the feed sizes, the rest is the stream.
 * Checks, beyond "no crash / no sanitizer report":
 *   - differential: the stream fed whole and fed in pseudo-random pieces (1..64 bytes)
 *     gives the same events (type, id, data) and the same final status;
 *   - every feed consumes at most what it was given, and an event's data never exceeds
 *     the data cap, nor a line the line cap;
 *   - each event's data through app_sse_chunk_parse: slices it hands out lie inside the
 *     data, raw strings decode, usage numbers are -1 or non-negative when parsed;
 *   - app_sse_error_message always produces non-empty, capped, valid UTF-8 text when the
 *     body is valid UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/app/app_sse.c"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_LINE 300
#define MAX_DATA 900

static bool inside(slice_t part, slice_t whole)
{
    return part.len == 0 || (part.ptr >= whole.ptr && part.ptr + part.len <= whole.ptr + whole.len);
}

static void check_string(slice_t raw, slice_t whole)
{
    CHECK(inside(raw, whole));
    if (!raw.len)
        return;
    buf_t out = BUF_INIT;
    CHECK(json_string_unescape_buf(raw, &out) == 0);
    CHECK(out.len <= raw.len - 2);
    buf_dispose(&out);
}

static void check_chunk(slice_t data)
{
    app_sse_chunk_t ch;
    const char *err = NULL;
    if (app_sse_chunk_parse(data, &ch, &err) < 0) {
        CHECK(err != NULL);
        return;
    }
    if (ch.done)
        return;
    check_string(ch.content, data);
    check_string(ch.reasoning, data);
    check_string(ch.role, data);
    check_string(ch.finish_reason, data);
    check_string(ch.error_message, data);
    CHECK(inside(ch.error_raw, data));
    CHECK(inside(ch.usage.raw, data));
    CHECK(ch.usage.prompt_tokens >= -1 && ch.usage.total_tokens >= -1);
    CHECK(!ch.has_error || ch.error_raw.len > 0);
}

static void log_event(buf_t *log, const app_sse_event_t *ev)
{
    CHECK(ev->data.len < MAX_DATA);
    CHECK(ev->type.len <= MAX_LINE && ev->id.len <= MAX_LINE);
    buf_append_u64(log, ev->type.len);
    buf_append_slice(log, ev->type);
    buf_append_u64(log, ev->id.len);
    buf_append_slice(log, ev->id);
    buf_append_u64(log, ev->data.len);
    buf_append_slice(log, ev->data);
}

/* Feeds `in` in pieces of the sizes drawn from `seed` (0: whole). Returns the status. */
static int run(slice_t in, unsigned seed, buf_t *log, bool inspect)
{
    app_sse_t p;
    app_sse_init(&p, MAX_LINE, MAX_DATA);
    int rc = 0;
    size_t off = 0;
    while (off < in.len && rc >= 0) {
        size_t piece = in.len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t want = 1 + (seed >> 16) % 64;
            piece = want < piece ? want : piece;
        }
        slice_t part = slice_make(in.ptr + off, piece);
        while (part.len) {
            size_t used = 0;
            app_sse_event_t ev;
            rc = app_sse_feed(&p, part, &used, &ev);
            if (rc < 0)
                break;
            CHECK(used <= part.len);
            part = slice_tail(part, used);
            if (rc == APP_SSE_MORE) {
                CHECK(part.len == 0);
                break;
            }
            log_event(log, &ev);
            if (inspect)
                check_chunk(ev.data);
        }
        off += piece;
    }
    app_sse_dispose(&p);
    return rc < 0 ? rc : 0;
}

static void check_error_message(slice_t body)
{
    buf_t out = BUF_INIT;
    app_sse_error_message(body, 400, &out);
    CHECK(out.len > 0 && out.len <= APP_SSE_MESSAGE_CAP);
    if (utf8_is_valid(body.ptr, body.len))
        CHECK(utf8_is_valid(buf_data(&out), out.len));
    buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0] | 1u;
    slice_t in = slice_make(data + 1, size - 1);
    buf_t whole = BUF_INIT, pieces = BUF_INIT;
    int rc_whole = run(in, 0, &whole, true);
    int rc_pieces = run(in, seed, &pieces, false);
    CHECK(rc_whole == rc_pieces);
    CHECK(slice_eq(buf_slice(&whole), buf_slice(&pieces)));
    buf_dispose(&whole);
    buf_dispose(&pieces);
    check_chunk(in);
    check_error_message(in);
    return 0;
}
