/*
 * app_ydoc_redis: the Yjs documents in Redis with Open WebUI's YdocManager layout (app
 * layer; openwebui-protocol.md §5.1, §5.5), for WEBSOCKET_MANAGER=redis.
 *
 * Keys (P = REDIS_KEY_PREFIX, <norm> = the document id with every ':' turned into '_'):
 *   P:ydoc:documents:<norm>:updates       LIST of JSON int arrays, one Yjs v1 update each
 *   P:ydoc:documents:<norm>:users         SET of the sids in the document (all nodes)
 *   P:ydoc:documents:session:<sid>:documents   SET of the <norm> ids a sid joined
 * The handlers (app_ydoc.c) keep their in-memory store as this node's cache and call:
 *   - join: SADD users + reverse index and LRANGE the updates in one script; the caller
 *     merges them into its copy, so a joiner on any node gets every node's edits;
 *   - append: RPUSH; at 500 elements (COMPACTION_THRESHOLD) the oldest half is merged with
 *     the C merge into one update and swapped in by a script that first checks the list
 *     still starts with what was merged (Open WebUI's DEL + RPUSH can lose an update
 *     another node appends meanwhile; this cannot);
 *   - leave / leave_all: SREM from users and the reverse index; the last user out of a
 *     document deletes its updates and users (clear_document), atomically.
 * When Redis is down the calls fail at once and the handlers serve from their own copy.
 *
 * Ownership: the Yjs module owns this (new .. free). Inputs are borrowed for the call;
 * updates handed to a callback are valid during it only. Threading: loop thread only.
 */
#ifndef SIOC_APP_YDOC_REDIS_H
#define SIOC_APP_YDOC_REDIS_H

#include <stddef.h>

#include "app/app_redis.h"
#include "app/app_ydoc_store.h"
#include "base/slice.h"

/** Compaction threshold of an update list (YdocManager's COMPACTION_THRESHOLD). */
#define APP_YDOC_REDIS_COMPACT_AT 500

typedef struct app_ydoc_redis app_ydoc_redis_t;

/** Creates the store on `r`'s websocket Redis; NULL when there is none (not Redis mode). */
app_ydoc_redis_t *app_ydoc_redis_new(app_redis_t *r);

/** Frees the store (replies still in flight complete harmlessly). NULL-safe. */
void app_ydoc_redis_free(app_ydoc_redis_t *yr);

/**
 * The stored updates: `status` 0 with `n` decoded updates (elements that are not int
 * arrays are skipped), or a SIOC_REDIS_E* code with none. Runs exactly once.
 */
typedef void (*app_ydoc_redis_updates_cb)(int status, const slice_t *updates, size_t n, void *arg);

/**
 * `sid` joins document `doc_id` (normalized "note:<id>" form): adds it to the users and
 * reverse-index sets and fetches the updates. Returns 0 (`cb` will run) or an error
 * (Redis down; `cb` never runs).
 */
int app_ydoc_redis_join(app_ydoc_redis_t *yr, const char *doc_id, const char *sid,
                        app_ydoc_redis_updates_cb cb, void *arg);

/** Fetches the stored updates of `doc_id` (LRANGE). Returns 0 (`cb` will run) or an
 *  error (`cb` never runs). */
int app_ydoc_redis_fetch(app_ydoc_redis_t *yr, const char *doc_id, app_ydoc_redis_updates_cb cb,
                         void *arg);

/** Adds `sid` to the users and reverse-index sets of `doc_id` (no fetch): the write-back
 *  of this node's members after Redis returned. */
void app_ydoc_redis_add_user(app_ydoc_redis_t *yr, const char *doc_id, const char *sid);

/** Writes every document of `st` (this node's copy) back: its merged state as one
 *  update and its members into the users and reverse-index sets. */
void app_ydoc_redis_resync(app_ydoc_redis_t *yr, app_ydoc_store_t *st);

/** Appends one update (validated by the caller); compacts the list at the threshold. */
void app_ydoc_redis_append(app_ydoc_redis_t *yr, const char *doc_id, slice_t update);

/** `sid` leaves `doc_id`; the document is cleared when nobody is left. */
void app_ydoc_redis_leave(app_ydoc_redis_t *yr, const char *doc_id, const char *sid);

/** `sid` leaves every document of its reverse index, which is then deleted. */
void app_ydoc_redis_leave_all(app_ydoc_redis_t *yr, const char *sid);

/** Compactions that replaced the head of a list (for tests and stats). */
size_t app_ydoc_redis_compactions(const app_ydoc_redis_t *yr);

#endif
