/*
 * store: Open WebUI's database, reached asynchronously (store layer).
 *
 * sioc reads and writes the same tables, with the same column names and units, as Open
 * WebUI (openwebui-protocol.md §8), so it can run on an existing Open WebUI database or
 * create a fresh one:
 *   - SQLite (the default): `<data-dir>/webui.db`, WAL journal, synchronous=NORMAL, a
 *     busy timeout; or DATABASE_URL=sqlite:///path (three slashes: relative path, four:
 *     absolute);
 *   - PostgreSQL: DATABASE_URL=postgresql://... (also postgres:// and
 *     postgresql+driver://, as Open WebUI accepts), through libpq.
 * On open, a database without a `user` table is new: every table the real-time layer
 * touches is created (user, auth, group, group_member, channel, channel_member, message,
 * note, chat, chat_message, access_grant). A database that has a `user` table belongs to
 * Open WebUI and is never altered: the tables the queries need must exist (Open WebUI
 * 0.8 or newer, with access_grant and group_member), and the optional ones (chat_message,
 * chat.last_read_at) are detected and used when present.
 *
 * Units, as Open WebUI writes them: user.last_active_at/created_at/updated_at and
 * chat.last_read_at/updated_at in epoch seconds; channel_member.last_read_at/updated_at,
 * note.updated_at and message.created_at/updated_at in epoch nanoseconds.
 *
 * Threading. Every query runs on libuv's thread pool (uv_queue_work) with one connection
 * from a small pool (a connection is never used by two threads at once); the callback
 * runs on the loop thread. Each store_* request calls its callback exactly once, never
 * before the request function returns, including when the store is closing (then with
 * STORE_ECANCELED). Requests complete in any order. All store_* functions must be called
 * on the loop thread. JSON is parsed and built with cJSON on the worker thread.
 *
 * Synchronous mode: a store opened with a NULL loop runs each request on the calling
 * thread and calls the callback before the request function returns. It is meant for the
 * admin commands (`sioc user add`, `sioc token`) and tests; never use it on a loop thread.
 *
 * Ownership. String arguments are copied: the caller may free them when the request
 * function returns. Results passed to a callback (store_user_t, JSON text, lists) are
 * owned by the store and valid only during the callback: copy what you keep. `arg` is
 * never touched.
 *
 * Errors: callbacks get STORE_OK or a negative store_status_t. Database failures are
 * logged (rate-limited) and reported as STORE_EDB; the caller only decides what to do.
 */
#ifndef SIOC_STORE_H
#define SIOC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct store store_t;

/** Status codes passed to callbacks (0 or negative). */
typedef enum store_status {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1, /* the row (user, note, chat, channel, message) does not exist */
    STORE_EACCES = -2,    /* an access check inside the request refused */
    STORE_EEXIST = -3,    /* a unique value is taken (user email) */
    STORE_EINVAL = -4,    /* bad argument: unknown role, malformed JSON, empty id */
    STORE_EDB = -5,       /* the database failed (logged) */
    STORE_ECANCELED = -6, /* issued after store_close: never ran */
    STORE_ENOMEM = -7,    /* could not copy an argument */
    STORE_ENOTSUP = -8,   /* the attached Open WebUI schema lacks what this needs */
} store_status_t;

/** Which database a store talks to. */
typedef enum store_backend { STORE_SQLITE = 1, STORE_POSTGRES = 2 } store_backend_t;

/** Open parameters; every field may be zero/NULL for its default. Borrowed by store_open. */
typedef struct store_config {
    const char *database_url; /* DATABASE_URL; NULL or "" selects SQLite in data_dir */
    const char *data_dir;     /* default "./data"; created if missing */
    unsigned connections;     /* pool size, default 4 */
    unsigned busy_timeout_ms; /* SQLite lock wait, default 5000 */
} store_config_t;

/** A permission in access_grant. A write grant does not imply read (spec §8.5). */
typedef enum store_perm { STORE_READ = 1, STORE_WRITE = 2 } store_perm_t;

/** A row of `user`. Strings are NULL when the column is NULL. */
typedef struct store_user {
    char *id;
    char *email;
    char *name;
    char *role; /* "admin", "user" or "pending" */
    char *profile_image_url;
    int64_t last_active_at; /* epoch seconds */
    int64_t created_at;     /* epoch seconds */
    int64_t updated_at;     /* epoch seconds */
    /* The user as Open WebUI keeps it in SESSION_POOL (spec §2.1): compact JSON of
     * UserModel's fields in model order minus profile_image_url, profile_banner_image_url,
     * bio, gender and date_of_birth; JSON columns as JSON, absent columns as null. The
     * caller adds "last_seen_at". */
    char *session_json;
} store_user_t;

/** A row of `note`. data_json/meta_json are the raw JSON texts or NULL. */
typedef struct store_note {
    char *id;
    char *user_id; /* the owner */
    char *title;
    char *data_json;
    char *meta_json;
    int64_t created_at; /* epoch nanoseconds */
    int64_t updated_at; /* epoch nanoseconds */
} store_note_t;

/** A list of ids (channel ids). */
typedef struct store_ids {
    size_t n;
    char **v;
} store_ids_t;

/** One group a user belongs to; permissions_json is the raw `group.permissions` or NULL. */
typedef struct store_group {
    char *id;
    char *name;
    char *permissions_json;
} store_group_t;

typedef struct store_groups {
    size_t n;
    store_group_t *v;
} store_groups_t;

/** A new user for store_user_create. All strings borrowed for the call. */
typedef struct store_new_user {
    const char *email;             /* stored lower-cased (ASCII), as Open WebUI signs up */
    const char *name;              /* non-empty */
    const char *role;              /* "admin", "user" or "pending" */
    const char *password_hash;     /* bcrypt string for auth.password (app_password_hash) */
    const char *profile_image_url; /* NULL: "/user.png", Open WebUI's default */
} store_new_user_t;

/** A new channel message for store_message_insert. All strings borrowed for the call. */
typedef struct store_new_message {
    const char *channel_id;
    const char *user_id;
    const char *content;     /* NULL: "" */
    const char *data_json;   /* a JSON object or NULL */
    const char *meta_json;   /* a JSON object or NULL */
    const char *reply_to_id; /* NULL for none */
    const char *parent_id;   /* thread parent, NULL for none */
} store_new_message_t;

/** Chat event types whose emitter writes the database (spec §7.1). */
typedef enum store_chat_event {
    STORE_CHAT_STATUS = 1, /* append data to statusHistory (message must exist) */
    STORE_CHAT_MESSAGE,    /* content = stored content + data.content (message must exist) */
    STORE_CHAT_REPLACE,    /* content = data.content */
    STORE_CHAT_EMBEDS,     /* embeds = data.embeds + stored (data.replace: just data.embeds) */
    STORE_CHAT_FILES,      /* files = data.files + stored */
    STORE_CHAT_SOURCE,     /* sources += [data] when data has no "type" ("source"/"citation") */
} store_chat_event_t;

typedef void (*store_status_cb)(int status, void *arg);
typedef void (*store_flag_cb)(int status, bool flag, void *arg);
typedef void (*store_count_cb)(int status, int64_t count, void *arg);
typedef void (*store_user_cb)(int status, const store_user_t *user, void *arg);
typedef void (*store_note_cb)(int status, const store_note_t *note, void *arg);
typedef void (*store_ids_cb)(int status, const store_ids_t *ids, void *arg);
typedef void (*store_groups_cb)(int status, const store_groups_t *groups, void *arg);
typedef void (*store_json_cb)(int status, const char *json, void *arg);
typedef void (*store_close_cb)(void *arg);

/**
 * Opens the database, creates the connections and, for a new database, the schema. Runs
 * synchronously: call it at start-up before the loop runs (or from the CLI). `loop` NULL
 * selects synchronous mode. Returns 0 and `*out`, or -1 with a one-line reason in `err`
 * (bad URL, cannot open, unsupported or too old schema).
 */
int store_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out, char *err, size_t errlen);

/**
 * Closes the store. Requests already issued still run and call back normally (a note
 * save issued before shutdown is not lost); requests issued after this call get
 * STORE_ECANCELED. When the last one has called back, the connections are closed (on the
 * thread pool) and `cb` runs on the loop thread; the store is freed before `cb` runs.
 * May be called from inside a store callback. Call once. In synchronous mode everything
 * happens before the call returns. `cb` may be NULL.
 */
void store_close(store_t *s, store_close_cb cb, void *arg);

/** The backend in use. */
store_backend_t store_backend(const store_t *s);

/** A short English description of a store_status_t. */
const char *store_strerror(int status);

/* ------------------------------------------------------------------ users (§2, §3.3) */

/** Looks a user up by id (Users.get_user_by_id). STORE_ENOTFOUND when absent. */
void store_user_get(store_t *s, const char *user_id, store_user_cb cb, void *arg);

/** Looks a user up by email, case-insensitively, oldest first (Users.get_user_by_email). */
void store_user_get_by_email(store_t *s, const char *email, store_user_cb cb, void *arg);

/** Sets user.last_active_at to now in epoch seconds (heartbeat). flag: the user existed. */
void store_user_touch(store_t *s, const char *user_id, store_flag_cb cb, void *arg);

/**
 * Creates a user and its auth row (id = new UUIDv4, active) in one transaction, as Open
 * WebUI's Auths.insert_new_auth does. Calls back with the new user, STORE_EEXIST when
 * the email is taken (case-insensitively), or STORE_EINVAL for an empty email/name/hash
 * or a role other than admin/user/pending.
 */
void store_user_create(store_t *s, const store_new_user_t *u, store_user_cb cb, void *arg);

/** Counts users with last_active_at >= `since` (epoch seconds), for GET /api/usage. */
void store_users_active_count(store_t *s, int64_t since, store_count_cb cb, void *arg);

/** The groups a user is a member of (group_member joined to group), newest first. */
void store_user_groups(store_t *s, const char *user_id, store_groups_cb cb, void *arg);

/* ---------------------------------------------------------- channels (§3.4, §3.6, §8.2) */

/**
 * The ids of the channels a user's sockets join (Channels.get_channels_by_user_id): group
 * and dm channels with an active channel_member row, plus every other channel the user
 * owns or can read through access_grant (user:*, user:<id>, group:<one of the user's
 * groups>); deleted and archived channels excluded. The features.channels permission
 * gate is the caller's.
 */
void store_channels_of_user(store_t *s, const char *user_id, store_ids_cb cb, void *arg);

/**
 * Whether a user may read one channel (Channels.get_channel_by_id_and_user_id): active
 * membership for group/dm channels, owner or read grant otherwise. STORE_ENOTFOUND when
 * the channel does not exist or is deleted or archived.
 */
void store_channel_can_read(store_t *s, const char *channel_id, const char *user_id,
                            store_flag_cb cb, void *arg);

/**
 * Sets channel_member.last_read_at and updated_at to now in nanoseconds for the user's
 * membership row (Channels.update_member_last_read_at). flag: a row existed (Open WebUI
 * does not insert one).
 */
void store_channel_mark_read(store_t *s, const char *channel_id, const char *user_id,
                             store_flag_cb cb, void *arg);

/** Inserts a channel message (Messages.insert_new_message, nanosecond timestamps) and
 *  calls back with the new row as MessageModel JSON. */
void store_message_insert(store_t *s, const store_new_message_t *m, store_json_cb cb, void *arg);

/**
 * Updates a channel message for the channel-mode emitter (§7.3): content replaced when
 * `content` is non-NULL, `meta_patch_json` (a JSON object, may be NULL) shallow-merged
 * into meta, updated_at = now (ns). Calls back with the row as MessageModel JSON, or
 * STORE_ENOTFOUND.
 */
void store_message_update(store_t *s, const char *message_id, const char *content,
                          const char *meta_patch_json, store_json_cb cb, void *arg);

/* ------------------------------------------------------------------ notes (§3.5, §3.8, §8.3) */

/** Reads a note. STORE_ENOTFOUND when absent. */
void store_note_get(store_t *s, const char *note_id, store_note_cb cb, void *arg);

/**
 * Whether `user_id` has `perm` on a note: admin (`is_admin`), the owner, or an
 * access_grant row with exactly that permission for user:*, user:<id> or one of the
 * user's groups. STORE_ENOTFOUND when the note does not exist.
 */
void store_note_access(store_t *s, const char *note_id, const char *user_id, bool is_admin,
                       store_perm_t perm, store_flag_cb cb, void *arg);

/**
 * The debounced Yjs save (Notes.update_note_by_id with data): note.data = {**note.data,
 * **data} (a NULL stored data counts as {}), note.updated_at = now (ns); title, meta and
 * grants untouched. `data_json` must be a JSON object. When `user_id` is non-NULL the
 * write permission is checked in the same transaction (admin, owner or write grant) and
 * STORE_EACCES returned without writing. STORE_ENOTFOUND when the note is gone.
 */
void store_note_update_data(store_t *s, const char *note_id, const char *data_json,
                            const char *user_id, bool is_admin, store_status_cb cb, void *arg);

/* ------------------------------------------------------------------ chats (§3.7, §7.1, §8.4) */

/**
 * Sets chat.last_read_at to now (epoch seconds) if `user_id` owns the chat
 * (Chats.update_chat_last_read_at_by_id). flag: written. STORE_ENOTSUP when the chat
 * table has no last_read_at column (Open WebUI before 0.10).
 */
void store_chat_mark_read(store_t *s, const char *chat_id, const char *user_id, store_flag_cb cb,
                          void *arg);

/**
 * [latest] Chats.update_chat_last_read_at_by_id with the unread bookkeeping of the
 * `events:chat` handler (spec §3.7): when `user_id` owns chat `chat_id`, sets
 * chat.last_read_at = `now_s` and answers the JSON object
 *   {"last_read_at": now_s, "was_unread": bool[, "folder_unread_counts": {id: n, ...}]}
 * where the chat was unread if its last_read_at was NULL or older than its updated_at, and
 * folder_unread_counts (present only then) maps every folder of the user (table `folder`,
 * chats linked by chat.folder_id) to its unread, non-archived chats after this read,
 * counts rolled up through parent folders (parent_id). STORE_ENOTFOUND when the chat does
 * not exist or is not the user's; STORE_ENOTSUP without chat.last_read_at. The JSON is
 * borrowed for the callback. (store_folders.c)
 */
void store_chat_read(store_t *s, const char *chat_id, const char *user_id, int64_t now_s,
                     store_json_cb cb, void *arg);

/**
 * Chats.upsert_message_to_chat_by_id_and_message_id: merges the JSON object `fields` into
 * chat.chat.history.messages[message_id] (creating the message with id, parentId,
 * childrenIds, role and timestamp inferred when missing, and linking it into its parent's
 * childrenIds), sets history.currentId = message_id, chat.updated_at = now (s), and
 * mirrors the message into chat_message when that table exists. STORE_ENOTFOUND when
 * the chat does not exist.
 */
void store_chat_message_upsert(store_t *s, const char *chat_id, const char *message_id,
                               const char *fields_json, store_status_cb cb, void *arg);

/**
 * Persists one chat emitter event of a type listed in store_chat_event_t, with its
 * `data_json` (a JSON object), in one transaction. flag: something was written (false
 * e.g. for "message" on a message that does not exist, or a source that has a "type").
 * STORE_ENOTFOUND when the chat does not exist.
 */
void store_chat_event(store_t *s, const char *chat_id, const char *message_id,
                      store_chat_event_t type, const char *data_json, store_flag_cb cb, void *arg);

/** Maps an emitter event type name ("status", "message", "replace", "embeds", "files",
 *  "source", "citation") to store_chat_event_t; 0 for names that do not persist. */
store_chat_event_t store_chat_event_from_name(const char *type);

/** Requests issued and not yet called back (the database queue depth, for stats). */
unsigned store_inflight(const store_t *s);

#endif
