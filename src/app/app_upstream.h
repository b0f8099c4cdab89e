/*
 * app_upstream: the streaming client of OpenAI-compatible chat APIs (app layer).
 *
 * What it does. Open WebUI's "OpenAI connections": a list of base URLs with one API key
 * each (OPENAI_API_BASE_URL(S), OPENAI_API_KEY(S); Ollama's `/v1`, vLLM, llama.cpp and
 * friends speak the same API). The client lists models from every connection at once
 * (GET {url}/models, merged), and streams chat completions (POST {url}/chat/completions
 * with "stream": true) as Server-Sent Events, handing each piece of text to the caller as
 * it arrives: the caller forwards deltas, never the whole growing answer (the O(N^2)
 * emit growth of Open WebUI #23733, openwebui-protocol.md §10, cannot arise from here).
 *
 * How. libcurl's multi-socket API on the caller's libuv loop: curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket) and when to wake
 * it (CURLMOPT_TIMERFUNCTION -> one uv_timer_t), and we call curl_multi_socket_action
 * from those handles. Name resolution uses curl's threaded resolver. Nothing blocks the
 * loop. Connections are reused across requests (curl's connection cache). curl honours
 * the usual proxy variables (https_proxy, no_proxy...), as Open WebUI's aiohttp sessions
 * do (trust_env=True).
 *
 * Requests. app_upstream_chat_start returns a handle (app_upstream_req_t) whose
 * callbacks, from a const table shared by all requests, run on the loop thread:
 *   on_delta*    a piece of the answer (decoded UTF-8), in order, as it arrives;
 *   on_reasoning* a piece of reasoning text (servers that stream reasoning_content);
 *   then EXACTLY ONE of
 *   on_done      the answer is complete: finish_reason and usage when the upstream sent
 *                them;
 *   on_error     it failed: a code below, the HTTP status, and a message (the upstream's
 *                own message for HTTP errors and for errors inside the stream).
 * That terminal callback runs exactly once for every request that was started (STYLE
 * rule 17): also on app_upstream_cancel (on_error with APP_UPSTREAM_ECANCELLED), on a
 * timeout and when the client is freed (APP_UPSTREAM_ESHUTDOWN). No callback ever runs
 * inside app_upstream_chat_start, app_upstream_list_models or app_upstream_cancel: they
 * only queue work that the loop picks up. The handle is freed when the terminal callback
 * returns, and must not be used after that.
 *
 * Timeouts and caps. connect_timeout_ms bounds connecting (curl's connect timeout);
 * idle_timeout_ms fails a chat request after that long without a single byte from the
 * upstream, counted from the start (so it also bounds the wait for the first byte: a
 * stalled model or network; SSE comment keep-alives count as bytes); a model
 * list has a total deadline (models_timeout_ms). A response longer than
 * max_response_bytes is cut off with APP_UPSTREAM_ETOOBIG, and one SSE line/event longer
 * than max_line_bytes with APP_UPSTREAM_EPROTO.
 *
 * Built-in models (app_echo_model) stream through the same handle and callbacks, via the
 * layer-internal hooks at the end of this header.
 *
 * Loop liveness. While a request or a model list is in flight the client keeps the loop
 * alive; idle (even with cached keep-alive connections) it does not.
 *
 * Ownership: the client copies its configuration. Slices given to the callbacks are
 * borrowed for the call only. Strings passed in are borrowed for the call (the request
 * body is built before the call returns).
 * Threading: one client belongs to one loop and its thread. app_upstream_new initialises
 * libcurl (curl_global_init, reference-counted by curl): create the first client on the
 * main thread before other threads use libcurl.
 * Files: app_upstream.c (requests, streaming, the libuv/libcurl glue), app_upstream_models.c
 * (model lists, routing), app_upstream_env.c (environment), app_upstream_private.h.
 * Spec: OpenAI API reference (Chat Completions "create" with stream, the chat completion
 * chunk object, GET /models, error objects); Open WebUI routers/openai.py and config.py
 * (variables, key/URL pairing, model merging); openwebui-protocol.md §7.4, §10.
 */
#ifndef SIOC_APP_UPSTREAM_H
#define SIOC_APP_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "app/app_sse.h"
#include "base/buf.h"
#include "base/slice.h"

typedef struct app_upstream app_upstream_t;         /* the client (opaque) */
typedef struct app_upstream_req app_upstream_req_t; /* one streaming completion (opaque) */

/** Error codes given to on_error / the models callback, or stored by the start calls. */
typedef enum app_upstream_error {
    APP_UPSTREAM_ECANCELLED = -31001,  /* app_upstream_cancel */
    APP_UPSTREAM_ESHUTDOWN = -31002,   /* app_upstream_free while in flight */
    APP_UPSTREAM_ETIMEDOUT = -31003,   /* connect, idle or model-list timeout */
    APP_UPSTREAM_ECONNECT = -31004,    /* resolving, connecting or TLS failed */
    APP_UPSTREAM_EHTTP = -31005,       /* a non-2xx answer (message: the upstream's) */
    APP_UPSTREAM_EUPSTREAM = -31006,   /* an `error` sent inside a 200 stream */
    APP_UPSTREAM_EBROKEN = -31007,     /* the stream broke off before the answer ended */
    APP_UPSTREAM_ETOOBIG = -31008,     /* the response passed max_response_bytes */
    APP_UPSTREAM_EPROTO = -31009,      /* unreadable response (SSE line cap, bad JSON) */
    APP_UPSTREAM_EINVAL = -31010,      /* start: bad arguments */
    APP_UPSTREAM_ENOMODEL = -31011,    /* start: no connection is known to serve the model */
    APP_UPSTREAM_ENOUPSTREAM = -31012, /* start: no such connection (none configured) */
} app_upstream_error_t;

/** A static one-line description of an app_upstream_error_t code. */
const char *app_upstream_strerror(int code);

/* ------------------------------------------------------------------ configuration */

/** Most connections a configuration holds. */
#define APP_UPSTREAM_MAX_CONNS 32
/** Open WebUI's default base URL. */
#define APP_UPSTREAM_OPENAI_URL "https://api.openai.com/v1"

/** One connection: a base URL (no trailing slash) and its API key ("" for none). */
typedef struct app_upstream_conn {
    const char *url;
    const char *key;
} app_upstream_conn_t;

/** The environment variables that configure the connections (NULL = unset). */
typedef struct app_upstream_env_vars {
    const char *enable_openai_api; /* ENABLE_OPENAI_API (default "True") */
    const char *base_url;          /* OPENAI_API_BASE_URL */
    const char *base_urls;         /* OPENAI_API_BASE_URLS, ';'-separated */
    const char *key;               /* OPENAI_API_KEY */
    const char *keys;              /* OPENAI_API_KEYS, ';'-separated, paired by index */
} app_upstream_env_vars_t;

/** Connections parsed from the environment. Strings live in `_mem`. */
typedef struct app_upstream_env {
    size_t n;
    app_upstream_conn_t conns[APP_UPSTREAM_MAX_CONNS];
    char *_mem; /* owns every url/key string */
} app_upstream_env_t;

/** Reads the five variables with getenv (pointers into the environment, borrowed). */
app_upstream_env_vars_t app_upstream_env_vars_get(void);

/**
 * Turns the variables into connections, with Open WebUI's rules (config.py,
 * routers/openai.py): OPENAI_API_BASE_URLS wins over OPENAI_API_BASE_URL, which defaults
 * to APP_UPSTREAM_OPENAI_URL; entries are split on ';' and trimmed, an empty entry means
 * APP_UPSTREAM_OPENAI_URL, trailing slashes are dropped; OPENAI_API_KEYS wins over
 * OPENAI_API_KEY; keys pair with URLs by index, extra keys are dropped and missing ones
 * are "". ENABLE_OPENAI_API other than "true" (any case) gives no connection.
 * One deliberate difference: when none of the four URL/key variables is set at all, sioc
 * configures no connection (Open WebUI would configure api.openai.com without a key, which
 * only ever answers 401); the app then offers the built-in echo model alone.
 * Returns 0, or APP_UPSTREAM_EINVAL with more than APP_UPSTREAM_MAX_CONNS URLs (`out` is
 * then empty). `out` must be released with app_upstream_env_dispose either way.
 */
int app_upstream_env_parse(const app_upstream_env_vars_t *vars, app_upstream_env_t *out);

/** Frees what app_upstream_env_parse allocated. NULL-safe. */
void app_upstream_env_dispose(app_upstream_env_t *env);

/** Client settings. Zero fields take the defaults named here. */
typedef struct app_upstream_config {
    const app_upstream_conn_t *conns; /* copied; may be NULL when n_conns is 0 */
    size_t n_conns;                   /* at most APP_UPSTREAM_MAX_CONNS */
    uint32_t connect_timeout_ms;      /* 10 000 */
    uint32_t idle_timeout_ms;         /* 300 000 (no byte for that long; Open WebUI has no
                                         such timeout: its AIOHTTP_CLIENT_TIMEOUT is a
                                         total deadline, unset by default) */
    uint32_t models_timeout_ms;       /* 10 000 (AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST) */
    size_t max_response_bytes;        /* 16 MiB per response */
    size_t max_line_bytes;            /* 1 MiB per SSE line / event */
} app_upstream_config_t;

/**
 * Creates a client on `loop` (borrowed; must outlive the client's close). Returns NULL
 * when libcurl cannot be initialised or the configuration is invalid (too many
 * connections, a NULL url).
 */
app_upstream_t *app_upstream_new(uv_loop_t *loop, const app_upstream_config_t *cfg);

/**
 * Fails everything in flight, then closes the client: every live request gets its
 * terminal callback now (on_error with APP_UPSTREAM_ECANCELLED if it was cancelled,
 * APP_UPSTREAM_ESHUTDOWN otherwise), every pending model list its callback with
 * APP_UPSTREAM_ESHUTDOWN, all inside this call. The loop must run afterwards: the memory
 * is released once the libuv handles have closed. Must not be called from inside one of
 * the client's callbacks (aborts). Starting requests from those shutdown callbacks fails
 * with APP_UPSTREAM_ESHUTDOWN. NULL-safe.
 */
void app_upstream_free(app_upstream_t *up);

/** Number of configured connections. */
size_t app_upstream_conn_count(const app_upstream_t *up);

/** The base URL of connection `idx` (borrowed from the client), or NULL. */
const char *app_upstream_conn_url(const app_upstream_t *up, size_t idx);

/* ------------------------------------------------------------------ models */

/** One model of a merged list. Slices are borrowed for the callback. */
typedef struct app_upstream_model {
    slice_t id;     /* the decoded model id ("id", or "name" when there is no id) */
    size_t url_idx; /* the connection that serves it (Open WebUI's urlIdx) */
    slice_t raw;    /* the model object exactly as that connection sent it (JSON) */
} app_upstream_model_t;

/** How one connection's GET /models went. */
typedef struct app_upstream_conn_result {
    int status;      /* 0, or an app_upstream_error_t code */
    int http_status; /* 0 when there was no HTTP answer */
    slice_t message; /* why it failed (the upstream's message when it gave one) */
    size_t n_models; /* models it listed before merging */
} app_upstream_conn_result_t;

/** A merged model list, in connection order; duplicate ids keep the first connection's
 *  entry; on api.openai.com the non-chat models (babbage, dall-e, davinci, embedding,
 *  tts, whisper) are dropped, as Open WebUI does. */
typedef struct app_upstream_models {
    const app_upstream_model_t *models;
    size_t n;
    const app_upstream_conn_result_t *conns; /* one per connection, by index */
    size_t n_conns;
} app_upstream_models_t;

/**
 * Called once per app_upstream_list_models: status 0 with the merged list (connections
 * that failed contribute nothing and say why in res->conns), or APP_UPSTREAM_ESHUTDOWN
 * (res then lists nothing). `res` and every slice in it are valid during the call only.
 */
typedef void (*app_upstream_models_cb)(app_upstream_t *up, int status,
                                       const app_upstream_models_t *res, void *arg);

/**
 * Lists the models of every connection at once and merges them. The merged list also
 * becomes the client's routing table (model id -> connection) for
 * app_upstream_chat_start. Returns 0 (cb will run once, from the loop, never inside this
 * call), or APP_UPSTREAM_ESHUTDOWN when the client is closing (cb will not run).
 */
int app_upstream_list_models(app_upstream_t *up, app_upstream_models_cb cb, void *arg);

/* ------------------------------------------------------------------ chat completions */

/** Token counts of the answer (the OpenAI `usage` object). */
typedef app_sse_usage_t app_upstream_usage_t;

/**
 * The callbacks of a request: one const table, shared by all requests of a kind. All run
 * on the loop thread; slices are borrowed for the call. Inside any of them the caller may
 * cancel this or another request and start new ones, but must not free the client.
 */
typedef struct app_upstream_cbs {
    /** A piece of the answer text (decoded UTF-8, never empty). NULL: ignored. */
    void (*on_delta)(app_upstream_req_t *req, slice_t text);
    /** A piece of reasoning text (delta.reasoning_content / reasoning). NULL: ignored. */
    void (*on_reasoning)(app_upstream_req_t *req, slice_t text);
    /**
     * Terminal: the answer is complete. `finish_reason` is decoded ("stop", "length",
     * "tool_calls", ...), empty when the upstream gave none; `usage` is NULL unless the
     * upstream sent a usage object. The handle is freed when this returns.
     */
    void (*on_done)(app_upstream_req_t *req, slice_t finish_reason,
                    const app_upstream_usage_t *usage);
    /**
     * Terminal: the request failed with `code` (app_upstream_error_t). `http_status` is the
     * upstream's HTTP status (0 when there was none); `message` is UTF-8 text: the
     * upstream's own message for APP_UPSTREAM_EHTTP and APP_UPSTREAM_EUPSTREAM (OpenAI's
     * error.message, a plain `error` string, a `detail`, else the start of the body),
     * otherwise a description (curl's, or app_upstream_strerror). Deltas delivered before
     * stay valid: a partial answer is the caller's to keep or drop. The handle is freed
     * when this returns.
     */
    void (*on_error)(app_upstream_req_t *req, int code, int http_status, slice_t message);
} app_upstream_cbs_t;

/** Options of one chat request. A zeroed struct (or NULL) means: route by model. */
typedef struct app_upstream_chat_opts {
    bool use_url_idx; /* send to connection url_idx instead of routing by model */
    size_t url_idx;
    slice_t params;     /* optional raw JSON object whose members join the request body
                           (temperature, max_tokens, ...); model, messages, stream and
                           stream_options in it are ignored */
    bool include_usage; /* add "stream_options":{"include_usage":true} */
} app_upstream_chat_opts_t;

/**
 * Starts a streaming chat completion of `model` (UTF-8 id) over `messages` (a raw JSON
 * array of OpenAI messages, sent as is). The connection is opts->url_idx, or the one that
 * listed `model` in the last model list, or the only connection when there is exactly
 * one. Returns the handle (callbacks will follow from the loop), or NULL with `*err` set
 * (when err is non-NULL) and no callback ever: APP_UPSTREAM_EINVAL (messages not an array,
 * params not an object, empty model, NULL cbs or missing on_done/on_error),
 * APP_UPSTREAM_ENOUPSTREAM (no such connection), APP_UPSTREAM_ENOMODEL (several
 * connections and none listed the model), APP_UPSTREAM_ESHUTDOWN (client closing).
 * `cbs` is borrowed until the terminal callback returns; `user` is the caller's.
 */
app_upstream_req_t *app_upstream_chat_start(app_upstream_t *up, slice_t model, slice_t messages,
                                            const app_upstream_chat_opts_t *opts,
                                            const app_upstream_cbs_t *cbs, void *user, int *err);

/**
 * Stops a request: no delta is delivered after this call, the transfer is aborted, and
 * on_error(APP_UPSTREAM_ECANCELLED) follows from the loop (never inside this call).
 * Cancelling twice, or from inside the request's own terminal callback, does nothing.
 */
void app_upstream_cancel(app_upstream_req_t *req);

/** The `user` pointer given at start. */
void *app_upstream_req_get_user(const app_upstream_req_t *req);
/** Replaces the `user` pointer. */
void app_upstream_req_set_user(app_upstream_req_t *req, void *user);
/** The connection a request went to (SIZE_MAX for built-in models). */
size_t app_upstream_req_url_idx(const app_upstream_req_t *req);

/* ------------------------------------------------------------------ layer-internal
 * For other src/app modules that stream through the same handle and callbacks (the
 * built-in echo model): they supply a backend and produce deltas; this module owns the
 * handle, cancellation, shutdown and the exactly-once terminal callback. */

/** How a built-in backend is driven. Both hooks run on the loop, never inside a user
 *  callback of the request. */
typedef struct app_upstream__backend {
    /** Stop producing (timers); no callbacks. Runs once, right before the terminal one. */
    void (*stop)(app_upstream_req_t *req);
    /** Release the backend's resources after the terminal callback; must end, now or
     *  later (after a uv_close), with app_upstream__req_released(req). */
    void (*release)(app_upstream_req_t *req);
} app_upstream__backend_t;

/** Creates a running request with `ext_size` bytes of zeroed backend state
 *  (app_upstream__req_ext). NULL with `*err` as for app_upstream_chat_start. */
app_upstream_req_t *app_upstream__req_new(app_upstream_t *up, const app_upstream__backend_t *be,
                                          size_t ext_size, const app_upstream_cbs_t *cbs,
                                          void *user, int *err);
/** The backend state area (max_align_t aligned). */
void *app_upstream__req_ext(app_upstream_req_t *req);
/** The loop of the request's client. */
uv_loop_t *app_upstream__req_loop(app_upstream_req_t *req);
/** Delivers a delta. Returns false when the request no longer runs (cancelled): the
 *  backend must then stop producing and wait for its stop hook. */
bool app_upstream__req_delta(app_upstream_req_t *req, slice_t text);
/** Ends a running request with on_done (ignored when it was cancelled meanwhile). */
void app_upstream__req_done(app_upstream_req_t *req, slice_t finish_reason,
                            const app_upstream_usage_t *usage);
/** The backend has released everything: frees the handle. */
void app_upstream__req_released(app_upstream_req_t *req);

#endif
