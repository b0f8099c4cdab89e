/*
 * app_echo_model: the built-in demo model "echo (built-in demo)" (app layer).
 *
 * With no model API configured, sioc still shows what streaming looks like: this model
 * answers with the text of the last user message, streamed back a token (a word with its
 * leading whitespace, long words cut at ~16 bytes on a character boundary) at a time on a
 * timer. It runs through the very same handle and callbacks as a real upstream
 * (app_upstream_req_t, app_upstream_cbs_t: on_delta per token, then on_done with
 * finish_reason "stop" and a usage object, or on_error), and app_upstream_cancel and
 * app_upstream_free treat it like any other request (on_error APP_UPSTREAM_ECANCELLED /
 * APP_UPSTREAM_ESHUTDOWN, exactly once). The model list shows it under the name
 * APP_ECHO_MODEL_NAME, so nobody mistakes it for a real model.
 *
 * The last user message is the last element of `messages` whose role is "user"; its
 * content is a string, or an array of parts whose {"type":"text","text":...} parts are
 * joined (OpenAI's multi-part content). No user text -> a short fixed reply.
 *
 * Ownership: the request copies the text it echoes (capped at max_bytes) before
 * app_echo_model_start returns. One uv_timer_t per running request.
 * Threading: the loop thread of the client.
 * Spec: the chat completion chunk semantics of app_upstream.h; openwebui-protocol.md §7.4.
 */
#ifndef SIOC_APP_ECHO_MODEL_H
#define SIOC_APP_ECHO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app_upstream.h"
#include "base/buf.h"
#include "base/slice.h"

/** The model id (what a client sends as "model"). */
#define APP_ECHO_MODEL_ID "sioc-echo"
/** The model name shown in model lists. */
#define APP_ECHO_MODEL_NAME "echo (built-in demo)"
/** Longest token, in bytes (a longer word is cut at a character boundary). */
#define APP_ECHO_MAX_TOKEN 16

/** Options of one echo request; zero fields take the defaults named here. */
typedef struct app_echo_opts {
    uint32_t interval_ms; /* between tokens: 40 */
    size_t max_bytes;     /* the echoed text is cut here (character boundary): 16 KiB */
} app_echo_opts_t;

/** True when `model` is APP_ECHO_MODEL_ID. */
bool app_echo_model_is(slice_t model);

/**
 * Appends the model's entry for a GET /models list, in OpenAI's shape:
 * {"id":APP_ECHO_MODEL_ID,"object":"model","created":0,"owned_by":"sioc",
 *  "name":APP_ECHO_MODEL_NAME}.
 */
void app_echo_model_append_info(buf_t *out);

/**
 * Starts echoing: the first token comes one interval after the call, from the loop, then
 * one per interval, then on_done("stop", usage) one interval after the last token. `up`
 * owns the request (cancel and shutdown as for app_upstream_chat_start). Returns the
 * handle, or NULL with `*err` (if non-NULL) and no callback: APP_UPSTREAM_EINVAL
 * (messages is not a JSON array, bad cbs), APP_UPSTREAM_ESHUTDOWN (client closing).
 * `messages` is borrowed for the call; `cbs` until the terminal callback returns.
 */
app_upstream_req_t *app_echo_model_start(app_upstream_t *up, slice_t messages,
                                         const app_echo_opts_t *opts, const app_upstream_cbs_t *cbs,
                                         void *user, int *err);

/**
 * Appends the text the model would echo for `messages` to `out`: the last user message's
 * text (string content, or its text parts joined). Returns 0, 1 when there is no user
 * text (nothing appended), or -1 when `messages` is not a JSON array.
 */
int app_echo_model_last_user_text(slice_t messages, buf_t *out);

/** The end offset of the token that starts at `off` in `text` (off < text.len): the run
 *  of whitespace there, then the word after it, at most APP_ECHO_MAX_TOKEN bytes cut at a
 *  UTF-8 character boundary (always at least one byte). */
size_t app_echo_model_token_end(slice_t text, size_t off);

#endif
