/*
 * app_chat: `POST /api/chat/completions`, Open WebUI's chat pipeline reduced to what the
 * real-time layer shows (app layer; openwebui-protocol.md §7.1, §7.4, §10).
 *
 * The request is Open WebUI's: {"model", "messages", "chat_id", "id" (the assistant
 * message id), "session_id", "stream", "params"}. With chat_id, id and session_id (Open
 * WebUI's process_chat_payload has an event emitter then) the generation runs as a
 * background task and the HTTP answer comes at once: {"status": true, "task_id",
 * "task_ids": [task_id], "chat_id"} (0.6's task_id and 0.10's task_ids both present); the
 * answer then streams to room user:{user_id} as `events`:
 *   chat:active {"active": true}, status {"action":"generation","description","done":false}
 *   chat:completion {"choices":[{"index":0,"delta":{"content": <new text>}}]}
 *       one per CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE deltas (params.stream_delta_chunk_size
 *       overrides): deltas only, never the growing answer (the O(N^2) of §10 / #23733);
 *   at the end, once the final DB write is committed:
 *       chat:completion {"done": true, "content": <full>, "output": [...], "title", "usage"?}
 *       chat:title <title>, chat:active {"active": false};
 *   on an upstream failure or timeout: chat:message:error {"error": {"content"}} then
 *       chat:tasks:cancel and chat:active false;
 *   on stop (task route or shutdown): chat:tasks:cancel and chat:active false.
 * Without those ids (no emitter) the answer is the whole chat.completion object once the
 * model has finished (sioc's HTTP layer answers whole bodies, so no SSE passthrough).
 *
 * Persistence (§7.1, §8.4), for saved chats (not local:/temporary:/channel:): the
 * assistant message is upserted at the start, then its content at most once a second
 * while streaming (one write in flight at a time, never one per token), and a final write
 * holds the whole message: content, done, model, usage or error; an untitled chat
 * ("New Chat") gets a title from the user's message.
 *
 * Ownership: the module owns every generation; the upstream client and the task registry
 * are the REST state's. Threading: loop thread only.
 */
#ifndef SIOC_APP_CHAT_H
#define SIOC_APP_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "app/app_rest_private.h"

/** Per-generation counters (what the log line at the end of each generation shows). */
typedef struct app_chat_stats {
    uint64_t deltas; /* pieces of text received from the model */
    uint64_t emits;  /* chat:completion delta events sent */
    uint64_t writes; /* database writes issued */
} app_chat_stats_t;

/** Creates the generation table. */
app_chat_t *app_chat_new(app_rest_t *rest);
/** Frees it (every generation must have ended: store callbacks drained). NULL-safe. */
void app_chat_free(app_chat_t *ch);
/** Number of generations alive (running or finishing their last write). */
size_t app_chat_live(const app_chat_t *ch);
/** Totals over every generation that ended. */
app_chat_stats_t app_chat_totals(const app_chat_t *ch);

/** The route handler of POST /api/chat/completions. */
void app_chat_completions(app_rest_call_t *c);

/** The default chat title for a user message: its first line, trimmed, cut at about 50
 *  bytes on a word (or UTF-8) boundary. Writes a NUL-terminated string into `out`. */
void app_chat_title_from(slice_t text, char *out, size_t cap);

#endif
