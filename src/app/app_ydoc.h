/*
 * app_ydoc: the Yjs collaborative-notes handlers of Open WebUI's real-time layer (app
 * layer).
 *
 * What: the `ydoc:document:join|state|update|leave` and `ydoc:awareness:update` events of
 * the namespace "/", the cleanup at disconnect, and the debounced save of a note's
 * `data.content` (openwebui-protocol.md §3.8, §3.9, §4, §5.5, §5.6, §8.3, newest
 * behaviour). The document store is in memory (app_ydoc_store.h): one merged Yjs update
 * per document, compacted with the C merge of src/yjs, cleared when the last editor
 * leaves, as Open WebUI's YdocManager does without Redis. With WEBSOCKET_MANAGER=redis
 * the documents are shared in Redis under Open WebUI's keys (app_ydoc_redis.h): every
 * join fetches the stored updates of all nodes into this node's copy, every accepted
 * update is appended there too, and leaves/disconnects maintain the users sets; when
 * Redis is down the node serves its own copy.
 *
 * Behaviour worth knowing (details at each handler in the .c):
 *   - join checks READ access for `note:<id>` documents (admin, owner, read grant) and, in
 *     the same go, WRITE access, which is cached for the socket's updates and re-checked in
 *     the background at most every APP_YDOC_RECHECK_MS; the save itself re-checks write
 *     access in its own transaction;
 *   - events a socket sends for a document while its join is still being checked are
 *     queued (bounded) and handled after the join, in arrival order, so the awareness
 *     update the editor sends in the same tick as its join is not lost (spec §6.7);
 *   - updates arrive as JSON int arrays or binary attachments; both are validated as Yjs
 *     v1 updates, stored, and relayed as int arrays (the [latest] JSON-only packets);
 *   - the save of the last update that carried a `data` object runs 500 ms after it
 *     (one save per note, re-armed by each such update, [latest] semantics: updates
 *     without `data` neither cancel nor delay it).
 *
 * Ownership: the module belongs to the app (app_ydoc_register .. app_ydoc_free). Its
 * per-socket state hangs in the app's ydoc slot (app_socket_ydoc_slot) from the first
 * ydoc event to app_ydoc_on_disconnect.
 *
 * Threading: the loop thread only, like everything in the app.
 */
#ifndef SIOC_APP_YDOC_H
#define SIOC_APP_YDOC_H

#include "app/app.h"
#include "sioc.h"

/** Debounce of the note save after the last update that carried `data` (spec §3.8). */
#define APP_YDOC_SAVE_DELAY_MS 500

/** How old a socket's cached write permission may get before an update re-checks it. */
#define APP_YDOC_RECHECK_MS 30000

typedef struct app_ydoc app_ydoc_t;

/**
 * Creates the Yjs module and registers its handlers on app_nsp(app). Call once after the
 * store is open and before the server listens. Returns NULL on failure (logged).
 */
app_ydoc_t *app_ydoc_register(app_t *app);

/**
 * The socket `s` is disconnecting: called from the app's disconnect handler, before the
 * app frees the socket's record. Removes the socket from every document (a document with
 * nobody left is cleared), cancels its joins in progress, and empties its ydoc slot. No
 * emits (spec §3.9). Safe for sockets that never touched a document. NULL-safe `y`.
 */
void app_ydoc_on_disconnect(app_ydoc_t *y, sioc_socket_t *s);

/**
 * Redis (WEBSOCKET_MANAGER=redis) is reachable again: writes this node's documents back
 * (each document's merged state as one update, and its local members into the users and
 * reverse-index sets), so a Redis that restarted empty holds them again. NULL-safe; a
 * no-op without Redis.
 */
void app_ydoc_resync(app_ydoc_t *y);

/**
 * Shutdown: starts every pending debounced save now and calls `done(arg)` once every save
 * has completed (its store callback ran, whatever its status). Calls `done` before
 * returning when nothing is pending. From then on a new save is written at once instead of
 * being debounced. Call once, after sioc_server_stop and before store_close.
 */
void app_ydoc_flush_all(app_ydoc_t *y, void (*done)(void *arg), void *arg);

/**
 * Frees the module: every document, every socket's ydoc state (a socket still connected
 * keeps a stale slot pointer, which the app never reads), the pending saves that have not
 * started (call app_ydoc_flush_all first so there are none) and the timer (uv_close: the
 * loop must run once more afterwards). Store requests still in flight complete harmlessly
 * later. The handlers stay registered with the module as their argument: call this only
 * once the server is stopped, so that no ydoc event can arrive any more. NULL-safe.
 */
void app_ydoc_free(app_ydoc_t *y);

#endif
