/*
 * store_chats: chat read markers and the chat emitter's persistence (Open WebUI
 * socket/main.py get_event_emitter, models/chats.py upsert_message_to_chat_by_id_and_
 * message_id and add_message_status_to_chat_by_id_and_message_id, models/chat_messages.py).
 * Worker-side operations; see store.h for the semantics of each.
 *
 * Every write is one transaction around a read-modify-write of the whole `chat.chat`
 * JSON document (locked with BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on
 * PostgreSQL), so concurrent events for one chat never lose each other's changes:
 *
 *   chat.chat = {"title":..., "history": {"currentId": mid,
 *                                         "messages": {mid: {id, parentId, childrenIds,
 *                                                            role, content, timestamp,
 *                                                            statusHistory, embeds,
 *                                                            files, sources, ...}}}}
 *
 * When the database has Open WebUI's chat_message table, every message written here is
 * mirrored into its row ("<chat_id>-<message_id>"), as Open WebUI dual-writes.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"

int store__op_chat_mark_read(store_db_t *db, store_req_t *r)
{
    if (!r->store->caps.chat_last_read_at)
        return STORE_ENOTSUP;
    store_param_t p[] = {SP_INT(store__now_s()), SP_TEXT(r->s[0]), SP_TEXT(r->s[1])};
    int64_t changed = 0;
    if (store__db_exec(db, "UPDATE chat SET last_read_at = $1 WHERE id = $2 AND user_id = $3", p, 3,
                       &changed) != 0)
        return store__db_error(r, db);
    r->flag = changed > 0;
    return STORE_OK;
}

/* ------------------------------------------------------------------ the chat document */

typedef struct chat_doc {
    cJSON *chat; /* the parsed chat.chat document (owned) */
    char *owner; /* chat.user_id (owned) */
} chat_doc_t;

static void chat_doc_dispose(chat_doc_t *d)
{
    cJSON_Delete(d->chat);
    free(d->owner);
}

/* Loads and locks chat `id`. A NULL document counts as {}; one cJSON cannot read is an
 * error rather than something to overwrite. Returns a store_status_t. */
static int chat_load(store_db_t *db, store_req_t *r, const char *id, chat_doc_t *d)
{
    store_param_t p[] = {SP_TEXT(id)};
    store_rows_t *rows = NULL;
    const char *sql = store__db_sql(db, "SELECT chat, user_id FROM chat WHERE id = $1",
                                    "SELECT chat, user_id FROM chat WHERE id = $1 FOR UPDATE");
    if (store__db_query(db, sql, p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    int status = rc < 0 ? store__db_error(r, db) : rc == 0 ? STORE_ENOTFOUND : STORE_OK;
    if (rc == 1) {
        const char *text = store__rows_text(rows, 0);
        d->chat = text ? store__json_parse_object(text) : cJSON_CreateObject();
        d->owner = store__dup(store__rows_text(rows, 1));
        if (!d->chat) {
            snprintf(db->err, sizeof db->err, "chat %s: stored JSON is not an object", id);
            status = store__db_error(r, db);
        }
    }
    store__rows_free(rows);
    return status;
}

/* Writes the document back; `touch` also sets updated_at (epoch seconds). */
static int chat_save(store_db_t *db, store_req_t *r, const char *id, const chat_doc_t *d,
                     bool touch)
{
    char *text = store__json_print(d->chat);
    store_param_t p[] = {SP_TEXT(id), SP_TEXT(text), SP_INT(store__now_s())};
    int rc = store__db_exec(db,
                            touch ? "UPDATE chat SET chat = $2, updated_at = $3 WHERE id = $1"
                                  : "UPDATE chat SET chat = $2 WHERE id = $1",
                            p, touch ? 3 : 2, NULL);
    free(text);
    return rc == 0 ? STORE_OK : store__db_error(r, db);
}

/* The object at obj[key], created (as {} or []) when missing or of another type. */
static cJSON *child_of(cJSON *obj, const char *key, bool array)
{
    cJSON *v = store__json_get(obj, key);
    if (array ? cJSON_IsArray(v) : cJSON_IsObject(v))
        return v;
    v = array ? cJSON_CreateArray() : cJSON_CreateObject();
    store__json_set(obj, key, v);
    return v;
}

static cJSON *messages_of(cJSON *chat)
{
    return child_of(child_of(chat, "history", false), "messages", false);
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = store__json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The message whose childrenIds lists `mid`, for a new message without parentId. */
static const char *parent_listing(const cJSON *messages, const char *mid)
{
    for (const cJSON *m = messages->child; m; m = m->next) {
        const cJSON *kids = store__json_get(m, "childrenIds");
        if (!cJSON_IsArray(kids))
            continue;
        for (const cJSON *k = kids->child; k; k = k->next)
            if (cJSON_IsString(k) && strcmp(k->valuestring, mid) == 0)
                return m->string;
    }
    return NULL;
}

/* Role of a new message: its own, else the first output item's, else the opposite of
 * its parent's (a reply to a user message is the assistant's), else "assistant". */
static const char *infer_role(const cJSON *payload, const cJSON *parent)
{
    const char *role = str_of(payload, "role");
    if (role && *role)
        return role;
    const cJSON *output = store__json_get(payload, "output");
    for (const cJSON *o = cJSON_IsArray(output) ? output->child : NULL; o; o = o->next) {
        role = str_of(o, "role");
        if (role && *role)
            return role;
    }
    const char *pr = parent ? str_of(parent, "role") : NULL;
    return pr && strcmp(pr, "assistant") == 0 ? "user" : "assistant";
}

/* Adds `mid` to the parent's childrenIds unless it is already there. */
static void link_child(cJSON *parent, const char *mid)
{
    cJSON *kids = child_of(parent, "childrenIds", true);
    for (const cJSON *k = kids->child; k; k = k->next)
        if (cJSON_IsString(k) && strcmp(k->valuestring, mid) == 0)
            return;
    cJSON_AddItemToArray(kids, cJSON_CreateString(mid));
}

/* A message that did not exist yet: the fields plus id, parentId, childrenIds, role and
 * timestamp (spec §8.4), linked into its parent. Takes `payload`. */
static cJSON *create_message(cJSON *messages, const char *mid, cJSON *payload, int64_t now)
{
    const char *pid = str_of(payload, "parentId");
    if (!pid)
        pid = parent_listing(messages, mid);
    cJSON *parent = pid ? store__json_get(messages, pid) : NULL;
    /* copies first: the assignments below free strings these point into */
    char *pid_copy = store__dup(pid);
    cJSON *role = cJSON_CreateString(infer_role(payload, cJSON_IsObject(parent) ? parent : NULL));
    /* Python's {**payload, "id", "parentId", "childrenIds", "role", "timestamp"}: keys
     * already present keep their place, new ones follow in this order */
    store__json_set(payload, "id", cJSON_CreateString(mid));
    store__json_set(payload, "parentId",
                    pid_copy ? cJSON_CreateString(pid_copy) : cJSON_CreateNull());
    if (!cJSON_IsArray(store__json_get(payload, "childrenIds")))
        store__json_set(payload, "childrenIds", cJSON_CreateArray());
    store__json_set(payload, "role", role);
    if (!store__json_truthy(store__json_get(payload, "timestamp")))
        store__json_set(payload, "timestamp", cJSON_CreateNumber((double)now));
    store__json_set(messages, mid, payload);
    if (cJSON_IsObject(parent))
        link_child(parent, mid);
    free(pid_copy);
    return payload;
}

/* messages[mid] = {**messages[mid], **fields} (or a new message); history.currentId =
 * mid. Returns the message. */
static cJSON *upsert_message(cJSON *chat, const char *mid, const cJSON *fields, int64_t now)
{
    cJSON *messages = messages_of(chat);
    cJSON *msg = store__json_get(messages, mid);
    if (cJSON_IsObject(msg))
        store__json_merge(msg, fields);
    else
        msg = create_message(messages, mid, cJSON_Duplicate(fields, true), now);
    store__json_set(child_of(chat, "history", false), "currentId", cJSON_CreateString(mid));
    return msg;
}

/* ------------------------------------------------------------------ chat_message mirror */

static char *json_or_null(const cJSON *v)
{
    return v ? store__json_print(v) : NULL;
}

/* Upserts the chat_message row of one message (ChatMessages.upsert_message). */
static int mirror_message(store_db_t *db, store_req_t *r, const char *chat_id, const char *owner,
                          const char *mid, const cJSON *m)
{
    if (!r->store->caps.chat_message)
        return STORE_OK;
    size_t idlen = strlen(chat_id) + strlen(mid) + 2;
    char *row_id = malloc(idlen);
    if (!row_id)
        return STORE_ENOMEM;
    snprintf(row_id, idlen, "%s-%s", chat_id, mid);
    const cJSON *usage = store__json_get(m, "usage");
    if (!usage)
        usage = store__json_get(store__json_get(m, "info"), "usage");
    const cJSON *ts = store__json_get(m, "timestamp");
    const cJSON *done = store__json_get(m, "done");
    const char *role = str_of(m, "role");
    char *j[9] = {json_or_null(store__json_get(m, "content")),
                  json_or_null(store__json_get(m, "output")),
                  json_or_null(store__json_get(m, "files")),
                  json_or_null(store__json_get(m, "sources")),
                  json_or_null(store__json_get(m, "embeds")),
                  json_or_null(store__json_get(m, "meta")),
                  json_or_null(store__json_get(m, "statusHistory")),
                  json_or_null(store__json_get(m, "error")),
                  json_or_null(usage)};
    int64_t now = store__now_s();
    store_param_t p[] = {
        SP_TEXT(row_id),
        SP_TEXT(chat_id),
        SP_TEXT(owner),
        SP_TEXT(role ? role : "user"),
        SP_TEXT(str_of(m, "parentId")),
        SP_TEXT(j[0]),
        SP_TEXT(j[1]),
        SP_TEXT(str_of(m, "model")),
        SP_TEXT(j[2]),
        SP_TEXT(j[3]),
        SP_TEXT(j[4]),
        SP_TEXT(j[5]),
        SP_BOOL(done ? store__json_truthy(done) : true),
        SP_TEXT(j[6]),
        SP_TEXT(j[7]),
        SP_TEXT(j[8]),
        SP_TEXT(str_of(m, "contextSummary")),
        SP_INT(cJSON_IsNumber(ts) ? (int64_t)ts->valuedouble : now),
        SP_INT(now),
    };
    int rc = store__db_exec(
        db,
        "INSERT INTO chat_message (id, chat_id, user_id, role, parent_id, content, output,"
        " model_id, files, sources, embeds, meta, done, status_history, error, usage,"
        " context_summary, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        " ON CONFLICT (id) DO UPDATE SET role = excluded.role, parent_id = excluded.parent_id,"
        " content = excluded.content, output = excluded.output, model_id = excluded.model_id,"
        " files = excluded.files, sources = excluded.sources, embeds = excluded.embeds,"
        " meta = excluded.meta, done = excluded.done, status_history = excluded.status_history,"
        " error = excluded.error, usage = excluded.usage,"
        " context_summary = excluded.context_summary, updated_at = excluded.updated_at",
        p, (int)(sizeof p / sizeof p[0]), NULL);
    for (int i = 0; i < 9; i++)
        free(j[i]);
    free(row_id);
    return rc == 0 ? STORE_OK : store__db_error(r, db);
}

/* ------------------------------------------------------------------ operations */

/* Loads chat r->s[0], runs `edit` on it, saves and mirrors message r->s[1], commits. The
 * edit returns the message to mirror (NULL: nothing changed, nothing written) and says
 * whether the chat's updated_at moves. */
typedef cJSON *(*chat_edit_fn)(store_req_t *r, cJSON *chat, const cJSON *data, bool *touch);

static int chat_transaction(store_db_t *db, store_req_t *r, const cJSON *data, chat_edit_fn edit)
{
    chat_doc_t d = {0};
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    int status = chat_load(db, r, r->s[0], &d);
    bool touch = true;
    cJSON *msg = status == STORE_OK ? edit(r, d.chat, data, &touch) : NULL;
    if (msg)
        status = chat_save(db, r, r->s[0], &d, touch);
    if (msg && status == STORE_OK)
        status = mirror_message(db, r, r->s[0], d.owner, r->s[1], msg);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status != STORE_OK)
        store__db_rollback(db);
    r->flag = status == STORE_OK && msg != NULL;
    chat_doc_dispose(&d);
    return status;
}

static cJSON *edit_upsert(store_req_t *r, cJSON *chat, const cJSON *fields, bool *touch)
{
    *touch = true;
    return upsert_message(chat, r->s[1], fields, store__now_s());
}

int store__op_chat_message_upsert(store_db_t *db, store_req_t *r)
{
    cJSON *fields = store__json_parse_object(r->s[2]);
    if (!fields)
        return STORE_EINVAL;
    int status = chat_transaction(db, r, fields, edit_upsert);
    cJSON_Delete(fields);
    return status;
}

/* Upserts {key: value} (takes `value`). */
static cJSON *upsert_one(store_req_t *r, cJSON *chat, const char *key, cJSON *value)
{
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddItemToObject(fields, key, value);
    cJSON *msg = upsert_message(chat, r->s[1], fields, store__now_s());
    cJSON_Delete(fields);
    return msg;
}

/* "status": append data to statusHistory of an existing message; currentId untouched. */
static cJSON *edit_status(store_req_t *r, cJSON *chat, const cJSON *data)
{
    cJSON *msg = store__json_get(messages_of(chat), r->s[1]);
    if (!cJSON_IsObject(msg))
        return NULL;
    cJSON_AddItemToArray(child_of(msg, "statusHistory", true), cJSON_Duplicate(data, true));
    return msg;
}

/* "message": content = stored content + data.content, only for an existing non-empty
 * message and string contents (Python's str + str). */
static cJSON *edit_append(store_req_t *r, cJSON *chat, const cJSON *data)
{
    cJSON *msg = store__json_get(messages_of(chat), r->s[1]);
    if (!cJSON_IsObject(msg) || !msg->child)
        return NULL;
    const cJSON *old = store__json_get(msg, "content");
    const cJSON *add = store__json_get(data, "content");
    if ((old && !cJSON_IsString(old)) || (add && !cJSON_IsString(add)))
        return NULL;
    const char *a = old ? old->valuestring : "", *b = add ? add->valuestring : "";
    size_t la = strlen(a), lb = strlen(b);
    char *joined = malloc(la + lb + 1);
    if (!joined)
        return NULL;
    memcpy(joined, a, la);
    memcpy(joined + la, b, lb + 1);
    cJSON *value = cJSON_CreateString(joined);
    free(joined);
    return upsert_one(r, chat, "content", value);
}

/* "embeds"/"files": data[key] + stored[key] (new first); data.replace (embeds only)
 * replaces instead. Both must be lists. */
static cJSON *edit_prepend(store_req_t *r, cJSON *chat, const cJSON *data, const char *key,
                           bool may_replace)
{
    const cJSON *fresh = store__json_get(data, key);
    if (fresh && !cJSON_IsArray(fresh))
        return NULL;
    cJSON *list = fresh ? cJSON_Duplicate(fresh, true) : cJSON_CreateArray();
    cJSON *msg = store__json_get(messages_of(chat), r->s[1]);
    const cJSON *stored = cJSON_IsObject(msg) ? store__json_get(msg, key) : NULL;
    bool replace = may_replace && store__json_truthy(store__json_get(data, "replace"));
    if (stored && !cJSON_IsArray(stored) && !replace) {
        cJSON_Delete(list);
        return NULL;
    }
    for (const cJSON *c = replace || !stored ? NULL : stored->child; c; c = c->next)
        cJSON_AddItemToArray(list, cJSON_Duplicate(c, true));
    return upsert_one(r, chat, key, list);
}

/* "source"/"citation": sources += [data] when data has no (non-null) "type". */
static cJSON *edit_source(store_req_t *r, cJSON *chat, const cJSON *data)
{
    const cJSON *type = store__json_get(data, "type");
    if (type && !cJSON_IsNull(type))
        return NULL;
    cJSON *msg = store__json_get(messages_of(chat), r->s[1]);
    const cJSON *stored = cJSON_IsObject(msg) ? store__json_get(msg, "sources") : NULL;
    if (stored && !cJSON_IsArray(stored))
        return NULL;
    cJSON *list = stored ? cJSON_Duplicate(stored, true) : cJSON_CreateArray();
    cJSON_AddItemToArray(list, cJSON_Duplicate(data, true));
    return upsert_one(r, chat, "sources", list);
}

/* The six short emitter types (spec §7.1). Embeds, files and sources leave updated_at
 * alone, as [latest] passes touch=False for them. */
static cJSON *edit_event(store_req_t *r, cJSON *chat, const cJSON *data, bool *touch)
{
    *touch = r->kind == STORE_CHAT_STATUS || r->kind == STORE_CHAT_MESSAGE ||
             r->kind == STORE_CHAT_REPLACE;
    switch (r->kind) {
    case STORE_CHAT_STATUS:
        return edit_status(r, chat, data);
    case STORE_CHAT_MESSAGE:
        return edit_append(r, chat, data);
    case STORE_CHAT_REPLACE: {
        const cJSON *c = store__json_get(data, "content");
        return upsert_one(r, chat, "content",
                          c ? cJSON_Duplicate(c, true) : cJSON_CreateString(""));
    }
    case STORE_CHAT_EMBEDS:
        return edit_prepend(r, chat, data, "embeds", true);
    case STORE_CHAT_FILES:
        return edit_prepend(r, chat, data, "files", false);
    case STORE_CHAT_SOURCE:
        return edit_source(r, chat, data);
    default:
        return NULL;
    }
}

int store__op_chat_event(store_db_t *db, store_req_t *r)
{
    cJSON *data = store__json_parse_object(r->s[2]);
    if (!data)
        return STORE_EINVAL;
    int status = chat_transaction(db, r, data, edit_event);
    cJSON_Delete(data);
    return status;
}
