/*
 * app_ydoc_store: the in-memory state of the Yjs collaboration handlers (app layer, no
 * I/O): documents with their stored updates and their editors, and the pending debounced
 * note saves.
 *
 * Documents (openwebui-protocol.md §5.5, YdocManager without Redis). A document is known
 * by its normalized id ("note:<id>" or any free-form id) and exists while at least one
 * peer (a socket) is a member: the last one out clears it, history and all, as Open WebUI
 * does. Its updates are kept as ONE merged Yjs v1 update plus a short tail of updates
 * appended since the last merge:
 *
 *     merged  [ one update = Y.mergeUpdates(everything before) ]
 *     pending [ u1 | u2 | ... | uk ]   k <= APP_YDOC_MAX_PENDING, bytes < max(merged, 64K)
 *
 * The tail is merged in when it reaches either bound, or when the state is needed (a
 * join or a state request), so memory is the document's size plus a bounded tail and the
 * merge work per appended byte is amortized O(1) (each merge at least doubles the bytes
 * it absorbs, or absorbs 64 updates). Duplicate updates (every editor echoes each remote
 * update back, spec §6.7) merge to nothing new. An empty document's state is `00 00`,
 * the `[0,0]` the editor's seeding rule looks for (spec §3.8, §6.6).
 *
 * Members: one per (document, peer), in join order per document (the order of the
 * `sessions` list) and listed per peer (for the disconnect cleanup). A member carries the
 * handlers' cache of the peer's write permission on the document.
 *
 * Saves (spec §3.8 step 5, §5.6): at most one per document id. A save holds the latest
 * `data` JSON and who sent it, and a deadline; scheduling again replaces the data and
 * pushes the deadline back (debounce). Armed saves sit in a FIFO ordered by deadline
 * (every delay is the same, so re-arming moves a save to the tail). A save being written
 * stays known (and may be re-armed meanwhile) until the caller reports the write done, so
 * two writes of one note never run at once. Saves outlive their document: the last editor
 * closing the tab does not lose the edit.
 *
 * Ownership: the store owns documents, members and saves; peers are embedded by the
 * caller (app_ydoc_peer_t) and must leave every document (app_ydoc_store_leave_all)
 * before they are freed. Strings and slices handed out borrow the store and stay valid
 * until the next call that modifies the same object. Inputs are borrowed for the call.
 *
 * Threading: none; one owner thread.
 *
 * Spec: openwebui-protocol.md §3.8, §5.5, §5.6; yjs-update-format.md §3.4 (merge).
 */
#ifndef SIOC_APP_YDOC_STORE_H
#define SIOC_APP_YDOC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "yjs/yjs_codec.h"

/** Updates appended to a document before they are merged into its state. */
#define APP_YDOC_MAX_PENDING 64

/** The tail is merged once its bytes reach max(merged size, this). */
#define APP_YDOC_MIN_COMPACT_BYTES ((size_t)64 << 10)

/** A document's stored bytes (merged + tail) may not exceed this: updates past it are
 *  refused (the state a joiner receives is 4 JSON bytes per byte). */
#define APP_YDOC_MAX_DOC_BYTES ((size_t)16 << 20)

/** Longest document id kept (bytes); longer ids are refused by the handlers. */
#define APP_YDOC_MAX_ID 512

/** Room for a Socket.IO sid (20 characters) plus the NUL. */
#define APP_YDOC_SID_SIZE 32

/** Room for a user id (Open WebUI's are 36-character UUIDs) plus the NUL. */
#define APP_YDOC_USER_ID_SIZE 64

/** Status codes (0 or negative). */
enum {
    APP_YDOC_OK = 0,
    APP_YDOC_EINVAL = -1, /* not a valid Yjs v1 update (the yjs error says why) */
    APP_YDOC_EFULL = -2,  /* the document would exceed APP_YDOC_MAX_DOC_BYTES */
    APP_YDOC_ENOMEM = -3, /* an allocation for peer-sized data failed */
};

typedef struct app_ydoc_store app_ydoc_store_t;
typedef struct app_ydoc_doc app_ydoc_doc_t;
typedef struct app_ydoc_member app_ydoc_member_t;
typedef struct app_ydoc_save app_ydoc_save_t;

/**
 * One editor (a socket), embedded in the caller's per-socket state. Set `sid` before the
 * first join; `members` is the store's (the documents joined, newest first) and must be
 * NULL initially.
 */
typedef struct app_ydoc_peer {
    char sid[APP_YDOC_SID_SIZE]; /* NUL-terminated socket id */
    app_ydoc_member_t *members;  /* private to the store */
} app_ydoc_peer_t;

/** The handlers' cache of a member's write permission (note documents). */
typedef struct app_ydoc_access {
    bool can_write;                      /* last known answer */
    bool checking;                       /* a re-check is in flight */
    uint64_t checked_ms;                 /* loop time of the last answer */
    char user_id[APP_YDOC_USER_ID_SIZE]; /* the user it was given for */
} app_ydoc_access_t;

/** Creates an empty store. Never NULL (aborts on OOM). */
app_ydoc_store_t *app_ydoc_store_new(void);

/** Frees the store, its documents, members and saves. Peers still joined are detached
 *  (their `members` becomes NULL). NULL-safe. */
void app_ydoc_store_free(app_ydoc_store_t *st);

/** Number of documents in memory. */
size_t app_ydoc_store_docs(const app_ydoc_store_t *st);

/* ------------------------------------------------------------------ documents */

/** The document `id`, or NULL when nobody has it open. */
app_ydoc_doc_t *app_ydoc_store_find(const app_ydoc_store_t *st, slice_t id);

/**
 * Makes `peer` a member of document `id` (created empty when new; a pending save of the
 * same id is attached to it). Returns the member, the existing one when `peer` already
 * is one (then `*added` is false). `id` must be 1..APP_YDOC_MAX_ID bytes.
 */
app_ydoc_member_t *app_ydoc_store_join(app_ydoc_store_t *st, slice_t id, app_ydoc_peer_t *peer,
                                       bool *added);

/** The member of `peer` in document `id`, or NULL. */
app_ydoc_member_t *app_ydoc_peer_find(const app_ydoc_peer_t *peer, slice_t id);

/**
 * Removes a member. When it was the document's last one the document is cleared (freed,
 * with its updates) and true is returned; `m` and, then, its document are invalid after.
 */
bool app_ydoc_store_leave(app_ydoc_store_t *st, app_ydoc_member_t *m);

/** Removes `peer` from every document (disconnect). Returns how many it left. */
size_t app_ydoc_store_leave_all(app_ydoc_store_t *st, app_ydoc_peer_t *peer);

/** The member's document. */
app_ydoc_doc_t *app_ydoc_member_doc(const app_ydoc_member_t *m);

/** The member's write-permission cache (zeroed at join). */
app_ydoc_access_t *app_ydoc_member_access(app_ydoc_member_t *m);

/** The document id, NUL-terminated. */
const char *app_ydoc_doc_id(const app_ydoc_doc_t *d);

/** The document's Socket.IO room, "doc_<id>", NUL-terminated. */
const char *app_ydoc_doc_room(const app_ydoc_doc_t *d);

/** Number of members. */
size_t app_ydoc_doc_members(const app_ydoc_doc_t *d);

/** Iterates the documents: the first one (`prev` NULL) or the one after `prev`, in no
 *  particular order; NULL at the end. The store must not change during the walk. */
app_ydoc_doc_t *app_ydoc_store_next_doc(const app_ydoc_store_t *st, const app_ydoc_doc_t *prev);

/** Iterates a document's members in join order (`prev` NULL for the first). */
const app_ydoc_member_t *app_ydoc_doc_next_member(const app_ydoc_doc_t *d,
                                                  const app_ydoc_member_t *prev);

/** The sid of a member's peer. */
const char *app_ydoc_member_sid(const app_ydoc_member_t *m);

/** Appends the members' sids as a JSON array of strings, in join order. */
void app_ydoc_doc_sessions_json(const app_ydoc_doc_t *d, buf_t *out);

/** True once an update was stored (Open WebUI's `document_exists`). */
bool app_ydoc_doc_has_updates(const app_ydoc_doc_t *d);

/** Bytes stored for the document (merged state plus the tail). */
size_t app_ydoc_doc_bytes(const app_ydoc_doc_t *d);

/**
 * Stores one update (Open WebUI's `append_to_updates`). The update is validated as a
 * Yjs v1 update first (APP_YDOC_EINVAL with `err` filled when it is not), must keep the
 * document within APP_YDOC_MAX_DOC_BYTES (APP_YDOC_EFULL), and may trigger a merge of the
 * tail. On error nothing is stored.
 */
int app_ydoc_doc_append(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t update, yjs_error_t *err);

/**
 * The document's full state as one Yjs v1 update (the tail merged in first): `00 00` when
 * nothing is stored. `*out` borrows the document until its next append or its clearing.
 * Returns APP_YDOC_OK, or APP_YDOC_ENOMEM when the merge could not allocate (the document
 * is unchanged).
 */
int app_ydoc_doc_state(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t *out);

/* ------------------------------------------------------------------ saves */

/** What a save writes: borrowed from the save until it is scheduled again or done. */
typedef struct app_ydoc_save_job {
    const char *doc_id;    /* "note:<id>..." */
    const char *note_id;   /* the note's id */
    const char *data_json; /* the JSON object to merge into note.data */
    const char *user_id;   /* who sent it (the write permission is checked for them) */
    bool is_admin;         /* their role was admin */
} app_ydoc_save_job_t;

/**
 * Arms the save of document `d` (of note `note_id`) with `data_json` (a JSON object) from
 * `user_id`, due at `now_ms + delay_ms`; an armed save of the same document gets the new
 * data and deadline. Returns APP_YDOC_OK, or APP_YDOC_ENOMEM (then the save is dropped).
 */
int app_ydoc_save_schedule(app_ydoc_store_t *st, app_ydoc_doc_t *d, slice_t note_id,
                           slice_t data_json, const char *user_id, bool is_admin, uint64_t now_ms,
                           uint64_t delay_ms);

/**
 * The earliest deadline among armed saves that are not being written, or -1 when there is
 * none (nothing for the timer to wait for).
 */
int64_t app_ydoc_save_next_due(const app_ydoc_store_t *st);

/**
 * Takes the next armed save due at or before `now_ms` (any armed save when `all`), skipping
 * saves being written. The save is disarmed and marked as being written; `job` describes
 * the write (valid until the save is scheduled again or reported done). Returns the save,
 * or NULL when none is due.
 */
app_ydoc_save_t *app_ydoc_save_take(app_ydoc_store_t *st, uint64_t now_ms, bool all,
                                    app_ydoc_save_job_t *job);

/**
 * Reports that the write of `sv` finished. The save is freed unless it was armed again
 * meanwhile (then it waits for its deadline; see app_ydoc_save_next_due).
 */
void app_ydoc_save_done(app_ydoc_store_t *st, app_ydoc_save_t *sv);

/** Saves that are armed or being written. */
size_t app_ydoc_save_count(const app_ydoc_store_t *st);

/** Saves being written. */
size_t app_ydoc_save_writing(const app_ydoc_store_t *st);

#endif
