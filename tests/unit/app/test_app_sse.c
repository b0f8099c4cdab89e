/*
 * Unit tests for src/app/app_sse: the Server-Sent Events parser (table tests, every
 * split point of a captured stream, caps, no allocation once warm), the chat-chunk
 * extractor and the error-message reader.
 *
 * src/app is built only into build/sioc, so the module is #included here.
 *
 * The captured stream is OpenAI's answer to POST /v1/chat/completions {"model":
 * "gpt-4o-mini", "messages":[{"role":"user","content":"hello"}], "stream":true,
 * "stream_options":{"include_usage":true}} (response chatcmpl-ADxFKtX6xIwdWRN42QvBj2u1RZpCK,
 * as recorded in the test fixtures of dotnet/extensions' OpenAI client; the usage detail
 * counts were edited there, which does not matter here).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../src/app/app_sse.c"

/* One timeout for every test of the suite (a per-test .timeout makes Criterion 2.4's
 * parallel runner leak 48 bytes, which LeakSanitizer reports in the asan build). */
TestSuite(app_sse, .timeout = 30);

#define CHUNK_HEAD                                                                                 \
    "{\"id\":\"chatcmpl-ADxFKtX6xIwdWRN42QvBj2u1RZpCK\",\"object\":\"chat.completion."             \
    "chunk\",\"created\":1727889370,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":"  \
    "\"fp_f85bea6784\",\"choices\":"
#define CONTENT(t)                                                                                 \
    "data: " CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"" t "\"},\"logprobs\""             \
    ":null,\"finish_reason\":null}],\"usage\":null}\n\n"

static const char captured[] =
    "data: " CHUNK_HEAD
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\""
    ":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" CONTENT("Hello")
        CONTENT("!") CONTENT(" How") CONTENT(" can") CONTENT(" I") CONTENT(" assist")
            CONTENT(" you") CONTENT(" today") CONTENT(
                "?") "data: " CHUNK_HEAD
                     "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                     "\"usage\":null}\n\n"
                     "data: " CHUNK_HEAD
                     "[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":9,\"total_tokens\""
                     ":17,\"prompt_tokens_details\":{\"cached_tokens\":5,\"audio_tokens\":123},"
                     "\"completion_tokens_"
                     "details\":{\"reasoning_tokens\":90,\"audio_tokens\":456}}}\n\n"
                     "data: [DONE]\n\n";

/* Runs `in` through the parser and appends each event as "T=<type>|I=<id>|D=<data>;". */
static int feed_all(app_sse_t *p, const uint8_t *in, size_t len, buf_t *out)
{
    size_t off = 0;
    while (off < len) {
        size_t used = 0;
        app_sse_event_t ev;
        int rc = app_sse_feed(p, slice_make(in + off, len - off), &used, &ev);
        if (rc < 0)
            return rc;
        cr_assert_leq(used, len - off);
        off += used;
        if (rc == APP_SSE_MORE)
            break;
        buf_append_cstr(out, "T=");
        buf_append_slice(out, ev.type);
        buf_append_cstr(out, "|I=");
        buf_append_slice(out, ev.id);
        buf_append_cstr(out, "|D=");
        buf_append_slice(out, ev.data);
        buf_append_byte(out, ';');
    }
    return 0;
}

/* Parses `in` whole, then split in two at every position, then byte by byte, and checks
 * every way gives `want`. */
static void check_all_splits(const char *name, const char *in, size_t len, const char *want)
{
    for (size_t cut = 0; cut <= len + 1; cut++) {
        app_sse_t p;
        buf_t got = BUF_INIT;
        app_sse_init(&p, 0, 0);
        if (cut <= len) {
            cr_assert_eq(feed_all(&p, (const uint8_t *)in, cut, &got), 0);
            cr_assert_eq(feed_all(&p, (const uint8_t *)in + cut, len - cut, &got), 0);
        } else { /* byte by byte */
            for (size_t i = 0; i < len; i++)
                cr_assert_eq(feed_all(&p, (const uint8_t *)in + i, 1, &got), 0);
        }
        buf_append_byte(&got, 0);
        cr_assert_str_eq((const char *)buf_data(&got), want, "%s: split at %zu of %zu", name, cut,
                         len);
        buf_dispose(&got);
        app_sse_dispose(&p);
    }
}

typedef struct sse_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    const char *want;
} sse_case_t;

static const sse_case_t cases[] = {
    {"plain", "data: a\n\n", 0, "T=|I=|D=a;"},
    {"no space after colon", "data:a\n\n", 0, "T=|I=|D=a;"},
    {"only one space dropped", "data:  a \n\n", 0, "T=|I=|D= a ;"},
    {"multi-line data", "data: a\ndata:\ndata: b\n\n", 0, "T=|I=|D=a\n\nb;"},
    {"CRLF", "data: a\r\ndata: b\r\n\r\n", 0, "T=|I=|D=a\nb;"},
    {"CR only", "data: a\rdata: b\r\r", 0, "T=|I=|D=a\nb;"},
    {"mixed ends", "data: a\r\n\rdata: b\n\r\n", 0, "T=|I=|D=a;T=|I=|D=b;"},
    {"comments ignored", ": ping\n\n:\ndata: x\n: mid\ndata: y\n\n", 0, "T=|I=|D=x\ny;"},
    {"bare data field", "data\n\n", 0, "T=|I=|D=;"},
    {"empty data value", "data:\n\n", 0, "T=|I=|D=;"},
    {"no data, no event", "event: x\nid: 1\n\n", 0, ""},
    {"type resets after dispatch", "event: e\ndata: 1\n\ndata: 2\n\n", 0, "T=e|I=|D=1;T=|I=|D=2;"},
    {"type resets on empty event", "event: e\n\ndata: 2\n\n", 0, "T=|I=|D=2;"},
    {"id persists", "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", 0,
     "T=|I=7|D=a;T=|I=7|D=b;T=|I=|D=c;"},
    {"id with NUL ignored", "id: 5\n\nid: a\0b\ndata: z\n\n", 24, "T=|I=5|D=z;"},
    {"retry and unknown fields", "retry: 10\nfoo: bar\nDATA: no\ndata: yes\n\n", 0, "T=|I=|D=yes;"},
    {"leading BOM dropped",
     "\xEF\xBB\xBF"
     "data: a\n\n",
     0, "T=|I=|D=a;"},
    {"second BOM is text",
     "\xEF\xBB\xBF\xEF\xBB\xBF"
     "data: a\n\n",
     0, ""},
    {"partial BOM is text",
     "\xEF\xBB"
     "data: a\n\ndata: b\n\n",
     0, "T=|I=|D=b;"},
    {"unfinished event dropped", "data: a\n\ndata: b\n", 0, "T=|I=|D=a;"},
    {"colon in value", "data: {\"a\":\"b:c\"}\n\n", 0, "T=|I=|D={\"a\":\"b:c\"};"},
    {"space before colon is part of name", "data : x\n\n", 0, ""},
    {"blank lines only", "\n\n\r\n\r", 0, ""},
};

Test(app_sse, table_every_split)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        check_all_splits(cases[i].name, cases[i].in, len, cases[i].want);
    }
}

/* The captured stream as events: split anywhere, the same 13 events come out. */
static void captured_events(const char *stream, size_t len, buf_t *want)
{
    app_sse_t p;
    app_sse_init(&p, 0, 0);
    cr_assert_eq(feed_all(&p, (const uint8_t *)stream, len, want), 0);
    app_sse_dispose(&p);
    buf_append_byte(want, 0);
}

Test(app_sse, captured_stream_every_split_point)
{
    buf_t want = BUF_INIT;
    captured_events(captured, sizeof captured - 1, &want);
    size_t n = 0;
    for (const char *s = (const char *)buf_data(&want); (s = strstr(s, "|D=")); s++)
        n++;
    cr_assert_eq(n, 13);
    check_all_splits("captured", captured, sizeof captured - 1, (const char *)buf_data(&want));

    /* the same stream with CRLF line ends gives the same events */
    buf_t crlf = BUF_INIT;
    for (size_t i = 0; i < sizeof captured - 1; i++) {
        if (captured[i] == '\n')
            buf_append_byte(&crlf, '\r');
        buf_append_byte(&crlf, (uint8_t)captured[i]);
    }
    check_all_splits("captured CRLF", (const char *)buf_data(&crlf), crlf.len,
                     (const char *)buf_data(&want));
    buf_dispose(&crlf);
    buf_dispose(&want);
}

/* The whole captured stream through parser + extractor: the answer, finish, usage, DONE. */
Test(app_sse, captured_stream_extracts_answer)
{
    app_sse_t p;
    app_sse_init(&p, 0, 0);
    buf_t text = BUF_INIT, finish = BUF_INIT;
    slice_t in = slice_make(captured, sizeof captured - 1);
    int events = 0, roles = 0, dones = 0, usages = 0;
    while (in.len) {
        size_t used;
        app_sse_event_t ev;
        int rc = app_sse_feed(&p, in, &used, &ev);
        cr_assert_geq(rc, 0);
        in = slice_tail(in, used);
        if (rc == APP_SSE_MORE)
            break;
        events++;
        app_sse_chunk_t ch;
        const char *err = NULL;
        cr_assert_eq(app_sse_chunk_parse(ev.data, &ch, &err), 0, "%s", err);
        dones += ch.done;
        roles += ch.role.len > 0;
        if (ch.content.len)
            cr_assert_eq(json_string_unescape_buf(ch.content, &text), 0);
        if (ch.finish_reason.len)
            cr_assert_eq(json_string_unescape_buf(ch.finish_reason, &finish), 0);
        if (ch.has_usage) {
            usages++;
            cr_assert_eq(ch.usage.prompt_tokens, 8);
            cr_assert_eq(ch.usage.completion_tokens, 9);
            cr_assert_eq(ch.usage.total_tokens, 17);
            cr_assert(ch.usage.raw.len > 10 && ch.usage.raw.ptr[0] == '{');
            cr_assert(!ch.has_choice, "the usage chunk has choices: []");
        }
    }
    cr_assert_eq(events, 13);
    cr_assert_eq(roles, 1);
    cr_assert_eq(dones, 1);
    cr_assert_eq(usages, 1);
    cr_assert(slice_eq_cstr(buf_slice(&text), "Hello! How can I assist you today?"));
    cr_assert(slice_eq_cstr(buf_slice(&finish), "stop"));
    buf_dispose(&text);
    buf_dispose(&finish);
    app_sse_dispose(&p);
}

Test(app_sse, line_cap_is_an_error_and_sticky)
{
    app_sse_t p;
    size_t used;
    app_sse_event_t ev;
    app_sse_init(&p, 16, 64);
    /* exactly 16 bytes of line is fine, across two feeds */
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: 0123"), &used, &ev), APP_SSE_MORE);
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("456789\n\n"), &used, &ev), APP_SSE_EVENT);
    cr_assert(slice_eq_cstr(ev.data, "0123456789"));
    /* 17 bytes: refused, in one feed or cut */
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("\ndata: 01234"), &used, &ev), APP_SSE_MORE);
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("567890\n\n"), &used, &ev), APP_SSE_ELINE);
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: x\n\n"), &used, &ev), APP_SSE_ELINE);
    cr_assert_str_eq(app_sse_strerror(APP_SSE_ELINE), "sse: line too long");
    app_sse_reset(&p);
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: x\n\n"), &used, &ev), APP_SSE_EVENT);
    cr_assert(slice_eq_cstr(ev.data, "x"));
    /* a line cut before its end is capped too, before it is complete */
    app_sse_reset(&p);
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: 0123456789AB"), &used, &ev), APP_SSE_ELINE);
    app_sse_dispose(&p);
}

Test(app_sse, data_cap_counts_the_whole_event)
{
    app_sse_t p;
    size_t used;
    app_sse_event_t ev;
    app_sse_init(&p, 64, 10);
    /* "abcd\nefgh\n" = 10 bytes: fits; one more line does not */
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: abcd\ndata: efgh\n\n"), &used, &ev),
                 APP_SSE_EVENT);
    cr_assert(slice_eq_cstr(ev.data, "abcd\nefgh"));
    cr_assert_eq(app_sse_feed(&p, SLICE_LIT("data: abcd\ndata: efgh\ndata:\n\n"), &used, &ev),
                 APP_SSE_EDATA);
    app_sse_dispose(&p);
}

Test(app_sse, no_allocation_once_warm)
{
    app_sse_t p;
    app_sse_init(&p, 0, 0);
    buf_t sink = BUF_INIT;
    buf_reserve(&sink, 1 << 16);
    /* warm up: the buffers grow to the biggest line/event */
    cr_assert_eq(feed_all(&p, (const uint8_t *)captured, 700, &sink), 0);
    cr_assert_eq(feed_all(&p, (const uint8_t *)captured + 700, sizeof captured - 701, &sink), 0);
    buf_clear(&sink);
    unsigned long before = alloc_count();
    for (int round = 0; round < 5; round++) {
        app_sse_reset(&p);
        for (size_t off = 0; off < sizeof captured - 1; off += 97) {
            size_t n = sizeof captured - 1 - off < 97 ? sizeof captured - 1 - off : 97;
            cr_assert_eq(feed_all(&p, (const uint8_t *)captured + off, n, &sink), 0);
        }
        buf_clear(&sink);
    }
    cr_assert_eq(alloc_count(), before, "the parser allocated once warm");
    buf_dispose(&sink);
    app_sse_dispose(&p);
}

/* ------------------------------------------------------------------ chat chunks */

static app_sse_chunk_t parse_ok(const char *data)
{
    app_sse_chunk_t ch;
    const char *err = NULL;
    cr_assert_eq(app_sse_chunk_parse(slice_from_cstr(data), &ch, &err), 0, "%s: %s", data, err);
    return ch;
}

static char *decode(slice_t raw)
{
    static char out[256];
    size_t n = 0;
    cr_assert_eq(json_string_unescape(raw, (uint8_t *)out, sizeof out - 1, &n), 0);
    out[n] = 0;
    return out;
}

Test(app_sse, chunk_done_and_whitespace)
{
    cr_assert(parse_ok("[DONE]").done);
    cr_assert(parse_ok(" [DONE]\n").done);
    cr_assert(!parse_ok("{}").done);
    app_sse_chunk_t ch;
    cr_assert_eq(app_sse_chunk_parse(SLICE_LIT("[DONE"), &ch, NULL), -1);
    const char *err = NULL;
    cr_assert_eq(app_sse_chunk_parse(SLICE_LIT("[1,2]"), &ch, &err), -1);
    cr_assert_str_eq(err, "chunk: not a JSON object");
    cr_assert_eq(app_sse_chunk_parse(SLICE_LIT("{\"choices\":[}"), &ch, &err), -1);
    cr_assert_eq(app_sse_chunk_parse(SLICE_LIT(""), &ch, &err), -1);
}

Test(app_sse, chunk_role_only_first_chunk)
{
    app_sse_chunk_t ch = parse_ok("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                  "\"content\":\"\",\"refusal\":null},\"finish_reason\":null}]}");
    cr_assert(ch.has_choice);
    cr_assert_str_eq(decode(ch.role), "assistant");
    cr_assert_eq(ch.content.len, 2, "content is the raw empty string \"\"");
    cr_assert_eq(ch.finish_reason.len, 0);
    cr_assert(!ch.has_usage && !ch.has_error && !ch.done);
    /* Ollama's first chunk: role and content together; content null elsewhere */
    ch = parse_ok(
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}");
    cr_assert_eq(ch.content.len, 0);
    cr_assert_eq(ch.content.ptr, NULL);
}

Test(app_sse, chunk_empty_delta_and_finish)
{
    app_sse_chunk_t ch =
        parse_ok("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}");
    cr_assert(ch.has_choice);
    cr_assert_eq(ch.content.len, 0);
    cr_assert_str_eq(decode(ch.finish_reason), "length");
    ch = parse_ok("{\"choices\":[]}");
    cr_assert(!ch.has_choice);
    ch = parse_ok("{\"choices\":null,\"usage\":null,\"error\":null}");
    cr_assert(!ch.has_choice && !ch.has_usage && !ch.has_error);
}

Test(app_sse, chunk_unicode_escapes)
{
    app_sse_chunk_t ch =
        parse_ok("{\"choices\":[{\"delta\":{\"content\":"
                 "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\\/ \xe2\x82\xac\"}}]}");
    cr_assert_str_eq(decode(ch.content), "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \n/ \xe2\x82\xac");
    /* a lone surrogate escape becomes U+FFFD, as Node writes it */
    ch = parse_ok("{\"choices\":[{\"delta\":{\"content\":\"\\ud83d!\"}}]}");
    cr_assert_str_eq(decode(ch.content), "\xef\xbf\xbd!");
}

Test(app_sse, chunk_choice_index_zero_wins)
{
    app_sse_chunk_t ch = parse_ok("{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}},"
                                  "{\"index\":0,\"delta\":{\"content\":\"A\"}}]}");
    cr_assert(ch.has_choice);
    cr_assert_str_eq(decode(ch.content), "A");
    ch = parse_ok("{\"choices\":[{\"index\":2,\"delta\":{\"content\":\"C\"}}]}");
    cr_assert(!ch.has_choice);
    cr_assert_eq(ch.content.len, 0);
}

Test(app_sse, chunk_reasoning_and_message)
{
    app_sse_chunk_t ch =
        parse_ok("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\",\"content\":null}}]}");
    cr_assert_str_eq(decode(ch.reasoning), "hmm");
    ch = parse_ok("{\"choices\":[{\"delta\":{\"reasoning\":\"ollama\"}}]}");
    cr_assert_str_eq(decode(ch.reasoning), "ollama");
    /* a whole non-streamed chat.completion */
    ch = parse_ok("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                  "\"assistant\",\"content\":\"Hi there\"},\"finish_reason\":\"stop\"}],\"usage\":"
                  "{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}");
    cr_assert_str_eq(decode(ch.content), "Hi there");
    cr_assert_str_eq(decode(ch.finish_reason), "stop");
    cr_assert(ch.has_usage);
    cr_assert_eq(ch.usage.total_tokens, 5);
}

Test(app_sse, chunk_usage_fields)
{
    app_sse_chunk_t ch = parse_ok("{\"choices\":[],\"usage\":{\"prompt_tokens\":4,"
                                  "\"total_tokens\":\"x\"}}");
    cr_assert(ch.has_usage);
    cr_assert_eq(ch.usage.prompt_tokens, 4);
    cr_assert_eq(ch.usage.completion_tokens, -1);
    cr_assert_eq(ch.usage.total_tokens, -1);
}

/* Found by fuzz_sse: a negative count is no count (it used to come through as is). */
Test(app_sse, chunk_usage_negative_counts_are_absent)
{
    app_sse_chunk_t ch = parse_ok("{\"choices\":[],\"usage\":{\"prompt_tokens\":-5,"
                                  "\"completion_tokens\":-0,\"total_tokens\":-9223372036854775808}}");
    cr_assert(ch.has_usage);
    cr_assert_eq(ch.usage.prompt_tokens, -1);
    cr_assert_eq(ch.usage.completion_tokens, 0);
    cr_assert_eq(ch.usage.total_tokens, -1);
}

Test(app_sse, chunk_errors)
{
    app_sse_chunk_t ch = parse_ok("{\"error\":{\"message\":\"Rate limit \\u2014 slow down\","
                                  "\"type\":\"rate_limit_error\",\"code\":429}}");
    cr_assert(ch.has_error);
    cr_assert_str_eq(decode(ch.error_message), "Rate limit \xe2\x80\x94 slow down");
    cr_assert_eq(ch.error_raw.ptr[0], '{');
    ch = parse_ok("{\"error\":\"model 'x' not found\"}");
    cr_assert(ch.has_error);
    cr_assert_str_eq(decode(ch.error_message), "model 'x' not found");
    ch = parse_ok("{\"error\":42}");
    cr_assert(ch.has_error);
    cr_assert_eq(ch.error_message.len, 0);
    cr_assert_eq(ch.error_raw.len, 2);
}

/* ------------------------------------------------------------------ error messages */

static void check_message(const char *body, long status, const char *want)
{
    buf_t out = BUF_INIT;
    buf_append_cstr(&out, "stale");
    app_sse_error_message(slice_from_cstr(body), status, &out);
    buf_append_byte(&out, 0);
    cr_assert_str_eq((const char *)buf_data(&out), want, "body %s", body);
    buf_dispose(&out);
}

Test(app_sse, error_message_shapes)
{
    check_message("{\"error\":{\"message\":\"Incorrect API key provided: sk-***x.\",\"type\":"
                  "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}",
                  401, "Incorrect API key provided: sk-***x.");
    check_message("{\"error\":\"model \\\"llama9\\\" not found, try pulling it first\"}", 404,
                  "model \"llama9\" not found, try pulling it first");
    check_message("{\"detail\":\"Not authenticated\"}", 403, "Not authenticated");
    check_message("{\"message\":\"upstream overloaded\"}", 503, "upstream overloaded");
    check_message("  Bad Gateway\r\n", 502, "Bad Gateway");
    check_message("{\"detail\":[{\"loc\":[\"body\"]}]}", 422,
                  "{\"detail\":[{\"loc\":[\"body\"]}]}");
    check_message("", 500, "HTTP 500");
    check_message("\xff\xfe", 500, "HTTP 500");
    check_message("{\"error\":{\"message\":null}}", 400, "{\"error\":{\"message\":null}}");
}

Test(app_sse, error_message_is_capped_on_a_character_boundary)
{
    buf_t body = BUF_INIT, out = BUF_INIT;
    buf_append_cstr(&body, "{\"error\":{\"message\":\"");
    for (int i = 0; i < 3000; i++)
        buf_append_cstr(&body, "\xc3\xa9"); /* é */
    buf_append_cstr(&body, "\"}}");
    app_sse_error_message(buf_slice(&body), 400, &out);
    cr_assert_leq(out.len, APP_SSE_MESSAGE_CAP);
    cr_assert_geq(out.len, APP_SSE_MESSAGE_CAP - 1);
    cr_assert(utf8_is_valid(buf_data(&out), out.len));
    buf_dispose(&body);
    buf_dispose(&out);
}
