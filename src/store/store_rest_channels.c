/*
 * store_rest_channels: the channel list with unread counts, channel creation, one
 * channel's access, and message pages (Open WebUI routers/channels.py, models/channels.py,
 * models/messages.py). See store_rest.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"
#include "store/store_rest.h"
#include "store/store_rest_private.h"

/* ChannelModel's fields in model order (access_grants added separately). */
static const store_colspec_t channel_cols[] = {
    {"id", STORE_COL_TEXT},          {"user_id", STORE_COL_TEXT},
    {"type", STORE_COL_TEXT},        {"name", STORE_COL_TEXT},
    {"description", STORE_COL_TEXT}, {"is_private", STORE_COL_BOOL},
    {"data", STORE_COL_JSON},        {"meta", STORE_COL_JSON},
    {"created_at", STORE_COL_INT},   {"updated_at", STORE_COL_INT},
    {"updated_by", STORE_COL_TEXT},  {"archived_at", STORE_COL_INT},
    {"archived_by", STORE_COL_TEXT}, {"deleted_at", STORE_COL_INT},
    {"deleted_by", STORE_COL_TEXT},
};
#define N_CHANNEL_COLS (sizeof channel_cols / sizeof channel_cols[0])

/* The read-grant test for channel c and the user in $1. */
#define READ_GRANT STORE_SQL_GRANT("'channel'", "c.id", "'read'", "$1")

/* $1 user. The access rule of store_channels_of_user, with the counts. */
static const char list_sql[] =
    "SELECT c.*,"
    " (SELECT COUNT(*) FROM message m WHERE m.channel_id = c.id AND m.parent_id IS NULL"
    " AND (m.user_id IS NULL OR m.user_id <> $1) AND m.created_at > COALESCE((SELECT"
    " MAX(cm.last_read_at) FROM channel_member cm WHERE cm.channel_id = c.id AND cm.user_id = $1),"
    " 0)) AS sioc_unread,"
    " (SELECT MAX(m.created_at) FROM message m WHERE m.channel_id = c.id) AS sioc_last"
    " FROM channel c WHERE c.deleted_at IS NULL AND c.archived_at IS NULL AND ("
    " (c.type IN ('group', 'dm') AND EXISTS (SELECT 1 FROM channel_member m WHERE"
    " m.channel_id = c.id AND m.user_id = $1 AND m.is_active = TRUE))"
    " OR ((c.type IS NULL OR c.type NOT IN ('group', 'dm'))"
    " AND (c.user_id = $1 OR EXISTS (" READ_GRANT "))))"
    " ORDER BY c.updated_at DESC, c.id";

static int op_list(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, list_sql, p, 1, &rows) != 0)
        return store__db_error(r, db);
    cJSON *arr = cJSON_CreateArray();
    cJSON *items[512];
    size_t n = 0;
    int rc = 0;
    /* grants are read after the cursor is closed: one statement at a time per connection */
    while (n < 512 && (rc = store__rows_next(rows)) == 1) {
        cJSON *ch = store__row_object(rows, channel_cols, N_CHANNEL_COLS, true);
        cJSON_AddNumberToObject(
            ch, "unread_count",
            (double)store__rows_int(rows, store__rows_col(rows, "sioc_unread")));
        int lc = store__rows_col(rows, "sioc_last");
        if (store__rows_text(rows, lc))
            cJSON_AddItemToObject(ch, "last_message_at",
                                  cJSON_CreateNumber((double)store__rows_int(rows, lc)));
        else
            cJSON_AddNullToObject(ch, "last_message_at");
        items[n++] = ch;
    }
    store__rows_free(rows);
    int status = rc < 0 ? store__db_error(r, db) : STORE_OK;
    for (size_t i = 0; i < n; i++) {
        cJSON *grants = NULL;
        if (status == STORE_OK)
            status = store__rest_grants_json(db, r, "channel",
                                             store__json_get(items[i], "id")->valuestring, &grants);
        if (grants)
            cJSON_AddItemToObject(items[i], "access_grants", grants);
        cJSON_AddItemToArray(arr, items[i]);
    }
    if (status == STORE_OK)
        r->json = store__json_print(arr);
    cJSON_Delete(arr);
    return status;
}

void store_rest_channels_list(store_t *s, const char *user_id, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_channels_list", op_list, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, user_id, true);
    store__req_submit(s, r);
}

/* Reads channel s[id] back into r->json (after the writes of a create). */
static int channel_json(store_db_t *db, store_req_t *r, const char *id)
{
    store_param_t p[] = {SP_TEXT(id)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT * FROM channel WHERE id = $1", p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    cJSON *ch = rc == 1 ? store__row_object(rows, channel_cols, N_CHANNEL_COLS, true) : NULL;
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    cJSON *grants = NULL;
    int status = store__rest_grants_json(db, r, "channel", id, &grants);
    if (status == STORE_OK) {
        cJSON_AddItemToObject(ch, "access_grants", grants);
        r->json = store__json_print(ch);
    }
    cJSON_Delete(ch);
    return status;
}

/* s[0] user, s[1] name, s[2] description, s[3] type, s[4] data, s[5] meta, s[6] grants */
static int op_create(store_db_t *db, store_req_t *r)
{
    if (!store__rest_grants_valid(r->s[6]))
        return STORE_EINVAL;
    char id[37], mid[37];
    store__uuid4(id);
    int64_t now = store__now_ns();
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    store_param_t p[] = {SP_TEXT(id),      SP_TEXT(r->s[0]), SP_TEXT(r->s[3]), SP_TEXT(r->s[1]),
                         SP_TEXT(r->s[2]), SP_TEXT(r->s[4]), SP_TEXT(r->s[5]), SP_INT(now)};
    if (store__db_exec(db,
                       "INSERT INTO channel (id, user_id, type, name, description, is_private,"
                       " data, meta, created_at, updated_at)"
                       " VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $8, $8)",
                       p, 8, NULL) != 0)
        goto fail;
    bool member_only = r->s[3] && (strcmp(r->s[3], "group") == 0 || strcmp(r->s[3], "dm") == 0);
    store__uuid4(mid);
    store_param_t m[] = {SP_TEXT(mid), SP_TEXT(id), SP_TEXT(r->s[0]), SP_INT(now)};
    if (member_only && store__db_exec(db,
                                      "INSERT INTO channel_member (id, channel_id, user_id, role,"
                                      " status, is_active, joined_at, created_at, updated_at)"
                                      " VALUES ($1, $2, $3, 'manager', 'joined', TRUE, $4, $4, $4)",
                                      m, 4, NULL) != 0)
        goto fail;
    int status = store__rest_grants_replace(db, r, "channel", id, r->s[6]);
    if (status == STORE_OK)
        status = channel_json(db, r, id);
    if (status == STORE_OK && store__db_commit(db) != 0)
        goto fail;
    if (status != STORE_OK)
        store__db_rollback(db);
    return status;
fail:
    store__db_rollback(db);
    return store__db_error(r, db);
}

void store_rest_channel_create(store_t *s, const store_rest_channel_t *c, store_json_cb cb,
                               void *arg)
{
    store_req_t *r = store__req_new(s, "rest_channel_create", op_create, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, c->user_id, true);
    store__req_str(r, 1, c->name, true);
    store__req_str(r, 2, c->description, false);
    store__req_str(r, 3, c->type, false);
    store__req_str(r, 4, c->data_json, false);
    store__req_str(r, 5, c->meta_json, false);
    store__req_str(r, 6, c->grants_json, false);
    store__req_submit(s, r);
}

/* $1 user, $2 channel. */
static const char access_sql[] =
    "SELECT c.*,"
    " EXISTS (SELECT 1 FROM channel_member m WHERE m.channel_id = c.id AND m.user_id = $1"
    " AND m.is_active = TRUE) AS sioc_member,"
    " EXISTS (" READ_GRANT ") AS sioc_read,"
    " EXISTS (" STORE_SQL_GRANT(
        "'channel'", "c.id", "'write'",
        "$1") ") AS sioc_write"
              " FROM channel c WHERE c.id = $2 AND c.deleted_at IS NULL AND c.archived_at IS NULL";

/* s[0] channel, s[1] user, b is_admin */
static int op_access(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[1]), SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, access_sql, p, 2, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    cJSON *out = NULL;
    if (rc == 1) {
        cJSON *ch = store__row_object(rows, channel_cols, N_CHANNEL_COLS, true);
        const cJSON *type = store__json_get(ch, "type");
        const cJSON *owner = store__json_get(ch, "user_id");
        bool member_only = cJSON_IsString(type) && (strcmp(type->valuestring, "group") == 0 ||
                                                    strcmp(type->valuestring, "dm") == 0);
        bool member = store__rows_bool(rows, store__rows_col(rows, "sioc_member"));
        bool is_owner = cJSON_IsString(owner) && strcmp(owner->valuestring, r->s[1]) == 0;
        bool full = member_only ? member : (r->b || is_owner);
        bool read =
            full || (!member_only && store__rows_bool(rows, store__rows_col(rows, "sioc_read")));
        bool write =
            full || (!member_only && store__rows_bool(rows, store__rows_col(rows, "sioc_write")));
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "channel", ch);
        cJSON_AddBoolToObject(out, "read", read);
        cJSON_AddBoolToObject(out, "write", write);
    }
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    r->json = store__json_print(out);
    cJSON_Delete(out);
    return STORE_OK;
}

void store_rest_channel_access(store_t *s, const char *channel_id, const char *user_id,
                               bool is_admin, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_channel_access", op_access, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, channel_id, true);
    store__req_str(r, 1, user_id, true);
    r->b = is_admin;
    store__req_submit(s, r);
}

/* MessageModel's fields in model order. */
static const store_colspec_t message_cols[] = {
    {"id", STORE_COL_TEXT},          {"user_id", STORE_COL_TEXT},   {"channel_id", STORE_COL_TEXT},
    {"reply_to_id", STORE_COL_TEXT}, {"parent_id", STORE_COL_TEXT}, {"is_pinned", STORE_COL_BOOL},
    {"pinned_by", STORE_COL_TEXT},   {"pinned_at", STORE_COL_INT},  {"content", STORE_COL_TEXT},
    {"data", STORE_COL_JSON},        {"meta", STORE_COL_JSON},      {"created_at", STORE_COL_INT},
    {"updated_at", STORE_COL_INT},
};

/* $1 channel, $2 limit, $3 skip */
static const char messages_sql[] =
    "SELECT m.*, u.id AS sioc_uid, u.name AS sioc_uname, u.role AS sioc_urole,"
    " u.profile_image_url AS sioc_uimg,"
    " (SELECT COUNT(*) FROM message x WHERE x.parent_id = m.id) AS sioc_replies"
    " FROM message m LEFT JOIN \"user\" u ON u.id = m.user_id"
    " WHERE m.channel_id = $1 AND m.parent_id IS NULL"
    " ORDER BY m.created_at DESC, m.id DESC LIMIT $2 OFFSET $3";

static cJSON *message_user(store_rows_t *rows)
{
    int c = store__rows_col(rows, "sioc_uid");
    if (!store__rows_text(rows, c))
        return cJSON_CreateNull();
    cJSON *u = cJSON_CreateObject();
    const char *keys[] = {"id", "name", "role", "profile_image_url"};
    const char *cols[] = {"sioc_uid", "sioc_uname", "sioc_urole", "sioc_uimg"};
    for (int i = 0; i < 4; i++) {
        const char *v = store__rows_text(rows, store__rows_col(rows, cols[i]));
        cJSON_AddItemToObject(u, keys[i], v ? cJSON_CreateString(v) : cJSON_CreateNull());
    }
    return u;
}

static int op_messages(store_db_t *db, store_req_t *r)
{
    int64_t skip = r->count, limit = r->n;
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_INT(limit), SP_INT(skip)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, messages_sql, p, 3, &rows) != 0)
        return store__db_error(r, db);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = store__rows_next(rows)) == 1) {
        cJSON *m = store__row_object(rows, message_cols,
                                     sizeof message_cols / sizeof message_cols[0], true);
        if (cJSON_IsNull(store__json_get(m, "is_pinned")))
            store__json_set(m, "is_pinned", cJSON_CreateFalse());
        cJSON_AddNumberToObject(
            m, "reply_count", (double)store__rows_int(rows, store__rows_col(rows, "sioc_replies")));
        cJSON_AddItemToObject(m, "reactions", cJSON_CreateArray());
        cJSON_AddItemToObject(m, "user", message_user(rows));
        cJSON_AddItemToArray(arr, m);
    }
    store__rows_free(rows);
    if (rc < 0) {
        cJSON_Delete(arr);
        return store__db_error(r, db);
    }
    r->json = store__json_print(arr);
    cJSON_Delete(arr);
    return STORE_OK;
}

void store_rest_channel_messages(store_t *s, const char *channel_id, int64_t skip, int64_t limit,
                                 store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_channel_messages", op_messages, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, channel_id, true);
    r->count = skip < 0 ? 0 : skip;
    r->n = limit <= 0 ? 50 : limit;
    store__req_submit(s, r);
}
