/*
 * app_sse: a Server-Sent Events stream parser and the OpenAI `chat.completion.chunk`
 * extractor (app layer; pure codec: no I/O, no loop, no clock).
 *
 * The parser follows the WHATWG "event stream interpretation" rules:
 *   - a UTF-8 byte order mark at the very start of the stream is dropped;
 *   - lines end with CRLF, LF or a lone CR, and a CRLF split across two feeds is still
 *     one line end;
 *   - a line starting with ':' is a comment (servers send them as keep-alives);
 *   - `field:value` (one space after the colon is dropped) or a bare `field` (empty
 *     value); `data` appends value + LF to the event's data, `event` sets its type, `id`
 *     sets the last event id (ignored when the value holds a NUL), `retry` and unknown
 *     fields are ignored (this client never reconnects by itself);
 *   - an empty line dispatches the event when its data is non-empty, with the final LF
 *     removed; the type resets after each dispatch, the last event id persists;
 *   - at the end of the stream an event without its empty line is discarded (the caller
 *     just stops feeding).
 * Chunk boundaries may fall anywhere, including inside a CRLF or the BOM. Lines are
 * capped (max_line) and so is the data of one event (max_data): a longer line or event
 * is an error, sticky until app_sse_reset. Field names are case-sensitive.
 *
 * Allocation: a line that lies whole inside one feed is parsed in place; only a line cut
 * by a feed boundary is copied into the parser's line buffer. The event's data is copied
 * into a data buffer that is reused from event to event, so a stream allocates only while
 * its buffers grow to the largest line/event seen (every growth is capped first, then a
 * try_ allocation).
 *
 * The chunk extractor reads one event's data as OpenAI streams it for
 * POST /v1/chat/completions with "stream": true (also Ollama's /v1, vLLM, llama.cpp...):
 * `[DONE]`, or a JSON object whose choices[0].delta carries `content` (and `role`,
 * `reasoning_content`/`reasoning` on servers that stream reasoning), whose
 * choices[0].finish_reason ends the choice, whose top-level `usage` (stream_options.
 * include_usage, or some servers' last chunk) counts tokens, and whose top-level `error`
 * reports a failure inside a 200 stream. It also reads a whole non-streamed
 * `chat.completion` (choices[0].message instead of delta), so one code path serves both.
 * Nothing is decoded: the extractor hands out raw JSON slices into the data, and the
 * caller unescapes what it uses (json_string_unescape*).
 *
 * Ownership: app_sse_t owns its two buffers (app_sse_dispose frees them). Event slices
 * point into the parser or the fed input and are valid until the next app_sse_feed or
 * app_sse_dispose. Chunk slices borrow the data given to app_sse_chunk_parse.
 * Threading: one parser belongs to one thread; the extractor is reentrant.
 * Spec: WHATWG HTML "Server-sent events" §9.2.5-9.2.6 (parsing an event stream,
 * interpreting an event stream); OpenAI API reference "The chat completion chunk object";
 * openwebui-protocol.md §7.4 (what the pipeline does with the deltas).
 */
#ifndef SIOC_APP_SSE_H
#define SIOC_APP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Default cap on one line and on one event's data (1 MiB). */
#define APP_SSE_DEFAULT_MAX 1048576u

/** Results of app_sse_feed (>= 0) and its errors (< 0, sticky). */
typedef enum app_sse_status {
    APP_SSE_MORE = 0,       /* all input consumed, no complete event yet */
    APP_SSE_EVENT = 1,      /* an event is ready in *ev */
    APP_SSE_ELINE = -31101, /* a line longer than max_line */
    APP_SSE_EDATA = -31102, /* an event's data longer than max_data */
    APP_SSE_ENOMEM = -31103 /* a buffer could not grow */
} app_sse_status_t;

/** A static description of an app_sse_status_t error code ("sse: line too long"). */
const char *app_sse_strerror(int code);

/** One dispatched event. All slices are valid until the next app_sse_feed/dispose. */
typedef struct app_sse_event {
    slice_t type; /* the `event:` field; empty when the stream gave none ("message") */
    slice_t data; /* the data lines joined with LF, without the final LF */
    slice_t id;   /* the last event id seen so far in the stream (may be empty) */
} app_sse_event_t;

/** Parser state. Embeddable by value; fields are private. */
typedef struct app_sse {
    buf_t _line;      /* a line cut by a feed boundary, waiting for its end */
    buf_t _data;      /* the current event's data (reused across events) */
    buf_t _type;      /* the current event's type */
    buf_t _id;        /* the last event id (persists across events) */
    size_t _max_line; /* cap on one line */
    size_t _max_data; /* cap on one event's data */
    int _err;         /* sticky error, 0 when fine */
    uint8_t _bom;     /* BOM bytes matched so far (0..3), 4 once past the stream start */
    bool _skip_lf;    /* the previous line ended with CR: a leading LF belongs to it */
    bool _dispatched; /* the data/type buffers still hold the last event: clear first */
} app_sse_t;

/** Prepares a parser. `max_line`/`max_data` of 0 mean APP_SSE_DEFAULT_MAX. */
void app_sse_init(app_sse_t *p, size_t max_line, size_t max_data);

/** Frees the parser's buffers. NULL-safe; the parser may be re-initialised afterwards. */
void app_sse_dispose(app_sse_t *p);

/** Forgets all state (new stream), keeping the buffers' storage and the caps. */
void app_sse_reset(app_sse_t *p);

/**
 * Feeds bytes. Reads from `in` until an event completes or the input ends, and stores in
 * `*consumed` how many bytes it took. Returns APP_SSE_EVENT with `*ev` filled (call again
 * with the rest of the input: the remainder may hold more events), APP_SSE_MORE when all
 * of `in` was consumed without completing an event, or a negative app_sse_status_t error
 * (then `*consumed` is unspecified, and every later call returns the same error).
 * `in` is borrowed for the call only (whatever must survive is copied).
 */
int app_sse_feed(app_sse_t *p, slice_t in, size_t *consumed, app_sse_event_t *ev);

/** Token counts of an OpenAI `usage` object (-1 where the object lacks the field). */
typedef struct app_sse_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t total_tokens;
    slice_t raw; /* the whole usage object as sent (raw JSON), empty when none */
} app_sse_usage_t;

/**
 * What one chat chunk says. String members are raw JSON strings (with their quotes and
 * escapes) borrowed from the parsed data, or empty slices (ptr NULL, len 0) when absent
 * or null. Numbers are parsed.
 */
typedef struct app_sse_chunk {
    bool done;             /* the data was `[DONE]` (nothing else is set) */
    bool has_choice;       /* a choice with index 0 (or without index) was found */
    slice_t content;       /* choices[0].delta.content (or .message.content) */
    slice_t reasoning;     /* delta.reasoning_content, else delta.reasoning */
    slice_t role;          /* delta.role */
    slice_t finish_reason; /* choices[0].finish_reason */
    bool has_usage;        /* a top-level usage object was present (not null) */
    app_sse_usage_t usage; /* its counts */
    bool has_error;        /* a top-level `error` that is not null */
    slice_t error_message; /* error.message, or error itself when it is a string */
    slice_t error_raw;     /* the error value as sent (raw JSON) */
} app_sse_chunk_t;

/**
 * Reads one event's data as a chat chunk (or a whole non-streamed chat.completion).
 * Surrounding whitespace is ignored. Returns 0 with `*out` filled, or -1 with `*err` set
 * to a static reason when the data is neither `[DONE]` nor a JSON object (a malformed
 * member where a string/object is expected is an error too). `data` is borrowed and must
 * outlive the slices in `*out`.
 */
int app_sse_chunk_parse(slice_t data, app_sse_chunk_t *out, const char **err);

/** Longest message the helpers below append (bytes). */
#define APP_SSE_MESSAGE_CAP 2048u

/** Appends at most APP_SSE_MESSAGE_CAP bytes of the UTF-8 `text`, cut at a character
 *  boundary (for error messages shown to people). */
void app_sse_append_message(buf_t *out, slice_t text);

/** Appends the decoded value of the raw JSON string `raw` (validated, with quotes), capped
 *  like app_sse_append_message. Appends nothing when `raw` is not a string. */
void app_sse_append_json_message(buf_t *out, slice_t raw);

/**
 * The message of an error response body, into `out` (cleared first): OpenAI's
 * {"error":{"message":...}}, Ollama's {"error":"..."}, a FastAPI {"detail":"..."}, a
 * top-level {"message":"..."}, else the body itself when it is UTF-8 text, else
 * "HTTP <status>". Capped at APP_SSE_MESSAGE_CAP bytes. `body` is borrowed for the call.
 */
void app_sse_error_message(slice_t body, long status, buf_t *out);

#endif
