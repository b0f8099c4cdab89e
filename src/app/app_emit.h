/*
 * app_emit: server-side emitting for backends, Open WebUI's get_event_emitter and
 * get_event_call (app layer; openwebui-protocol.md §7.1-§7.3).
 *
 * - app_emit_chat_event: one `{"type","data"}` event of a chat run. It goes as `events`
 *   {"chat_id","message_id","data"} to room `user:{user_id}` (every tab of the user), and
 *   the six short types (status, message, replace, embeds, files, source/citation) are
 *   persisted into chat.chat.history.messages[message_id] through the store. Chat ids
 *   `local:`, `temporary:` and `channel:` are never persisted; `channel:<cid>` ids take
 *   the channel-mode emitter instead (§7.3): chat:completion content is written into the
 *   channel message row at most every 150 ms (always on done) and announced as
 *   events:channel `message:update` to `channel:<cid>`.
 * - app_event_call: an `events` EVENT with an ack to one session (the sid a browser sent
 *   as session_id), which must be connected and authenticated as `user_id`; the answer
 *   is the client's first ack argument.
 * The HTTP endpoints of app_http.c are thin wrappers over these.
 *
 * Ownership: every argument is borrowed for the call (copied when kept). Result JSON given
 * to a callback is borrowed for the callback. Callbacks run on the loop thread, exactly
 * once when the function returned 0, possibly before it returns (nothing to wait for).
 * Threading: loop thread only.
 */
#ifndef SIOC_APP_EMIT_H
#define SIOC_APP_EMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "base/slice.h"

/** Completion of app_emit_chat_event: `status` STORE_OK or a store error of the write;
 *  `persisted` true when something was written. */
typedef void (*app_emit_done_cb)(int status, bool persisted, void *arg);

/**
 * Emits one chat event and persists it per §7.1. `event` is the raw JSON object
 * {"type": T, "data": D, ...}, forwarded verbatim. `message_id` may be NULL (JSON null; no
 * persistence). `update_db` false: emit only. `internal` adds "internal": true and drops
 * `notification` events. Returns 0 (cb runs later; cb may be NULL) or -1 for bad
 * arguments (not an object, no string "type", empty ids).
 */
int app_emit_chat_event(app_t *app, const char *user_id, const char *chat_id,
                        const char *message_id, slice_t event, bool update_db, bool internal,
                        app_emit_done_cb cb, void *arg);

/** Result of app_event_call: the JSON text to hand back (the ack's first argument, `null`
 *  for an empty ack, or an {"error": ...} object). Borrowed for the call. */
typedef void (*app_call_cb)(slice_t result_json, void *arg);

/**
 * Sends `events` {"chat_id","message_id","data": event} with an ack request to socket
 * `session_id`, after checking that it is connected and belongs to `user_id`; otherwise
 * the result is {"error":"Client session disconnected."}. `timeout_ms` 0 waits forever;
 * on timeout the result is {"error":"Event call timed out. The browser tab may be
 * inactive or closed."}. Returns 0 (cb runs later) or -1 for bad arguments.
 */
int app_event_call(app_t *app, const char *user_id, const char *session_id, const char *chat_id,
                   const char *message_id, slice_t event, uint32_t timeout_ms, app_call_cb cb,
                   void *arg);

#endif
