/*
 * store_rest: the queries behind the REST routes of the `sioc` program (store layer):
 * sign-in and sign-up (Open WebUI routers/auths.py, models/auths.py), the channel list
 * with unread counts, channel creation and message pages (routers/channels.py,
 * models/channels.py, models/messages.py), notes (routers/notes.py, models/notes.py),
 * chats (models/chats.py) and the final write of a streamed chat answer.
 *
 * Results are JSON texts shaped like Open WebUI's pydantic model dumps (ChannelModel,
 * MessageModel, NoteModel with its access_grants, ChatResponse), built with cJSON on the
 * worker. Access grants travel in Open WebUI 0.8's form: an array of
 * {"principal_type": "user"|"group", "principal_id": <id or "*">, "permission":
 * "read"|"write"}; the caller validates them (the store refuses a malformed array with
 * STORE_EINVAL). Access rules are spec §8.2, §8.3, §8.5: admin, owner, or a grant with
 * exactly the asked permission.
 *
 * Ownership, threading and callbacks as in store.h: strings are copied, results live
 * during the callback only, every callback runs exactly once on the loop thread.
 * Files: store_rest_users.c, store_rest_channels.c, store_rest_notes.c, store_rest_chats.c
 * (the request machinery is store.c's, via store__req_*).
 */
#ifndef SIOC_STORE_REST_H
#define SIOC_STORE_REST_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* ------------------------------------------------------------------ users (auths.py) */

/** Result of store_rest_user_auth: the user (borrowed for the call) and its bcrypt hash
 *  (auth.password, borrowed; NULL when the auth row has none), or STORE_ENOTFOUND when no
 *  active auth row has that email. */
typedef void (*store_auth_cb)(int status, const store_user_t *u, const char *password_hash,
                              void *arg);

/** Looks up the user and the password hash of an active auth row by email,
 *  case-insensitively (Auths.authenticate_user's lookup). */
void store_rest_user_auth(store_t *s, const char *email, store_auth_cb cb, void *arg);

/** Counts the rows of `user` (Users.has_users / get_num_users). */
void store_rest_user_count(store_t *s, store_count_cb cb, void *arg);

/* ------------------------------------------------------------------ channels */

/** A new channel for store_rest_channel_create. All strings borrowed for the call. */
typedef struct store_rest_channel {
    const char *user_id;     /* the creator (owner) */
    const char *name;        /* non-empty */
    const char *description; /* NULL: none */
    const char *type;        /* NULL: a standard channel; "group" or "dm" */
    const char *data_json;   /* a JSON object or NULL */
    const char *meta_json;   /* a JSON object or NULL */
    const char *grants_json; /* a grants array or NULL (none: only the owner) */
} store_rest_channel_t;

/**
 * The channels `user_id` can read (the rule of store_channels_of_user), newest update
 * first, as a JSON array of ChannelModel objects each with "unread_count" (top-level
 * messages of others newer than the caller's channel_member.last_read_at; all of them
 * without a member row) and "last_message_at" (ns, null without messages). At most 512
 * channels (the most recently updated).
 */
void store_rest_channels_list(store_t *s, const char *user_id, store_json_cb cb, void *arg);

/** Creates a channel, its grants and, for group/dm channels, the creator's active
 *  membership; calls back with the ChannelModel JSON. */
void store_rest_channel_create(store_t *s, const store_rest_channel_t *c, store_json_cb cb,
                               void *arg);

/**
 * One channel and what `user_id` may do there: {"channel": ChannelModel, "read": bool,
 * "write": bool}. group/dm: an active membership gives both; otherwise admin, owner, or
 * a grant. STORE_ENOTFOUND when the channel does not exist or is deleted or archived.
 */
void store_rest_channel_access(store_t *s, const char *channel_id, const char *user_id,
                               bool is_admin, store_json_cb cb, void *arg);

/**
 * A page of a channel's top-level messages, newest first (Messages.get_messages_by_channel_id):
 * a JSON array of MessageModel objects each with "user" {id, name, role,
 * profile_image_url} (null for a deleted user), "reply_count" and "reactions" ([]).
 */
void store_rest_channel_messages(store_t *s, const char *channel_id, int64_t skip, int64_t limit,
                                 store_json_cb cb, void *arg);

/* ------------------------------------------------------------------ notes */

/** The notes `user_id` owns or may read through a grant, newest update first: a JSON
 *  array of NoteModel objects (with access_grants). */
void store_rest_notes_list(store_t *s, const char *user_id, store_json_cb cb, void *arg);

/** Creates a note owned by `user_id` (title non-empty; data/meta JSON objects or NULL;
 *  grants array or NULL) and calls back with its NoteModel JSON. */
void store_rest_note_create(store_t *s, const char *user_id, const char *title,
                            const char *data_json, const char *meta_json, const char *grants_json,
                            store_json_cb cb, void *arg);

/** One note and the caller's rights: {"note": NoteModel, "read": bool, "write": bool,
 *  "owner": bool}. STORE_ENOTFOUND when it does not exist. */
void store_rest_note_access(store_t *s, const char *note_id, const char *user_id, bool is_admin,
                            store_json_cb cb, void *arg);

/** A note update (Notes.update_note_by_id). All strings borrowed for the call. */
typedef struct store_rest_note_update {
    const char *note_id;
    const char *user_id; /* the caller: needs write (admin, owner or a write grant) */
    bool is_admin;
    const char *title;       /* NULL: unchanged */
    const char *data_json;   /* NULL, or an object shallow-merged into note.data */
    const char *meta_json;   /* NULL, or an object shallow-merged into note.meta */
    const char *grants_json; /* NULL: unchanged; else replaces the grants (owner/admin only:
                                for other writers it is ignored, as Open WebUI does) */
} store_rest_note_update_t;

/** Applies an update in one transaction and calls back with the new NoteModel JSON;
 *  STORE_EACCES without write access, STORE_ENOTFOUND when the note is gone. */
void store_rest_note_update(store_t *s, const store_rest_note_update_t *u, store_json_cb cb,
                            void *arg);

/* ------------------------------------------------------------------ chats */

/** Creates a chat owned by `user_id` from the client's `chat` object (Chats.insert_new_chat:
 *  title from chat.title, default "New Chat") and calls back with ChatResponse JSON. */
void store_rest_chat_create(store_t *s, const char *user_id, const char *chat_json,
                            store_json_cb cb, void *arg);

/** Reads a chat as ChatResponse JSON ({"id","user_id","title","chat",...}).
 *  STORE_ENOTFOUND when absent; the owner check is the caller's. */
void store_rest_chat_get(store_t *s, const char *chat_id, store_json_cb cb, void *arg);

/** Chats.update_chat_by_id for the owner: chat.chat = {**stored, **chat_json}, title from
 *  the merged chat's "title" (when a string), updated_at = now (s). Calls back with the
 *  ChatResponse JSON; STORE_ENOTFOUND when absent or owned by someone else. */
void store_rest_chat_update(store_t *s, const char *chat_id, const char *user_id,
                            const char *chat_json, store_json_cb cb, void *arg);

/** The caller's chats, newest update first (Chats.get_chat_title_id_list_by_user_id): a
 *  JSON array of {"id", "title", "updated_at", "created_at"}; `skip`/`limit` page it. */
void store_rest_chats_list(store_t *s, const char *user_id, int64_t skip, int64_t limit,
                           store_json_cb cb, void *arg);

/**
 * The final write of a streamed answer: upserts `fields_json` into
 * chat.history.messages[message_id] (as store_chat_message_upsert) and, when the chat's
 * title is empty or "New Chat" and `title` is non-NULL, sets chat.title and chat.chat.title
 * to it, all in one transaction. Calls back with the chat's resulting title as a JSON
 * string. STORE_ENOTFOUND when the chat does not exist.
 */
void store_rest_chat_finish(store_t *s, const char *chat_id, const char *message_id,
                            const char *fields_json, const char *title, store_json_cb cb,
                            void *arg);

#endif
