/*
 * store_channels: channel membership and access (Open WebUI models/channels.py,
 * access_grants.py has_permission_filter) and channel messages (models/messages.py).
 * Worker-side operations; see store.h for the semantics of each.
 *
 * Access (spec §8.2): group and dm channels are reachable through an active
 * channel_member row only; every other channel (type NULL, '' or anything else) through
 * ownership or a read grant for user:*, user:<id> or a group the user belongs to.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/store_json.h"
#include "store/store_private.h"

/* The read-grant test for channel c and the user in $1. */
#define CHANNEL_READ_GRANT STORE_SQL_GRANT("'channel'", "c.id", "'read'", "$1")

static const char channels_of_user_sql[] =
    "SELECT c.id FROM channel c JOIN channel_member m ON m.channel_id = c.id"
    " WHERE c.deleted_at IS NULL AND c.archived_at IS NULL AND c.type IN ('group', 'dm')"
    " AND m.user_id = $1 AND m.is_active = TRUE"
    " UNION"
    " SELECT c.id FROM channel c"
    " WHERE c.deleted_at IS NULL AND c.archived_at IS NULL"
    " AND (c.type IS NULL OR c.type NOT IN ('group', 'dm'))"
    " AND (c.user_id = $1 OR EXISTS (" CHANNEL_READ_GRANT "))"
    " ORDER BY 1";

int store__op_channels_of_user(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, channels_of_user_sql, p, 1, &rows) != 0)
        return store__db_error(r, db);
    size_t cap = 0;
    int rc;
    while ((rc = store__rows_next(rows)) == 1) {
        if (r->ids.n == cap) {
            cap = cap ? cap * 2 : 8;
            r->ids.v = xrealloc(r->ids.v, cap * sizeof *r->ids.v);
        }
        r->ids.v[r->ids.n++] = store__dup(store__rows_text(rows, 0));
    }
    store__rows_free(rows);
    return rc < 0 ? store__db_error(r, db) : STORE_OK;
}

/* $1 user, $2 channel. */
static const char channel_access_sql[] =
    "SELECT c.type, c.user_id,"
    " EXISTS (SELECT 1 FROM channel_member m WHERE m.channel_id = c.id AND m.user_id = $1"
    " AND m.is_active = TRUE),"
    " EXISTS (" CHANNEL_READ_GRANT ")"
    " FROM channel c WHERE c.id = $2 AND c.deleted_at IS NULL AND c.archived_at IS NULL";

int store__op_channel_can_read(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[1]), SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, channel_access_sql, p, 2, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        const char *type = store__rows_text(rows, 0);
        const char *owner = store__rows_text(rows, 1);
        bool member_only = type && (strcmp(type, "group") == 0 || strcmp(type, "dm") == 0);
        if (member_only)
            r->flag = store__rows_bool(rows, 2);
        else
            r->flag = (owner && strcmp(owner, r->s[1]) == 0) || store__rows_bool(rows, 3);
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    return rc == 1 ? STORE_OK : STORE_ENOTFOUND;
}

int store__op_channel_mark_read(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_INT(store__now_ns()), SP_TEXT(r->s[0]), SP_TEXT(r->s[1])};
    int64_t changed = 0;
    if (store__db_exec(db,
                       "UPDATE channel_member SET last_read_at = $1, updated_at = $1"
                       " WHERE channel_id = $2 AND user_id = $3",
                       p, 3, &changed) != 0)
        return store__db_error(r, db);
    r->flag = changed > 0;
    return STORE_OK;
}

/* MessageModel's fields in model order. */
static const store_colspec_t message_cols[] = {
    {"id", STORE_COL_TEXT},          {"user_id", STORE_COL_TEXT},   {"channel_id", STORE_COL_TEXT},
    {"reply_to_id", STORE_COL_TEXT}, {"parent_id", STORE_COL_TEXT}, {"is_pinned", STORE_COL_BOOL},
    {"pinned_by", STORE_COL_TEXT},   {"pinned_at", STORE_COL_INT},  {"content", STORE_COL_TEXT},
    {"data", STORE_COL_JSON},        {"meta", STORE_COL_JSON},      {"created_at", STORE_COL_INT},
    {"updated_at", STORE_COL_INT},
};

/* Reads message `id` back as MessageModel JSON into r->json. */
static int message_json(store_db_t *db, store_req_t *r, const char *id)
{
    store_param_t p[] = {SP_TEXT(id)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT * FROM message WHERE id = $1", p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        cJSON *m = store__row_object(rows, message_cols,
                                     sizeof message_cols / sizeof message_cols[0], true);
        if (cJSON_IsNull(store__json_get(m, "is_pinned")))
            store__json_set(m, "is_pinned", cJSON_CreateFalse()); /* model default */
        r->json = store__json_print(m);
        cJSON_Delete(m);
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    return rc == 1 ? STORE_OK : STORE_ENOTFOUND;
}

/* NULL or a JSON object. */
static bool optional_object(const char *text)
{
    if (!text)
        return true;
    cJSON *v = store__json_parse_object(text);
    cJSON_Delete(v);
    return v != NULL;
}

int store__op_message_insert(store_db_t *db, store_req_t *r)
{
    if (!optional_object(r->s[3]) || !optional_object(r->s[4]))
        return STORE_EINVAL;
    char id[37];
    store__uuid4(id);
    int64_t ts = store__now_ns();
    store_param_t p[] = {SP_TEXT(id),      SP_TEXT(r->s[1]), SP_TEXT(r->s[0]),
                         SP_TEXT(r->s[5]), SP_TEXT(r->s[6]), SP_TEXT(r->s[2]),
                         SP_TEXT(r->s[3]), SP_TEXT(r->s[4]), SP_INT(ts)};
    const char *sql =
        r->store->caps.message_is_pinned
            ? "INSERT INTO message (id, user_id, channel_id, reply_to_id, parent_id, is_pinned,"
              " content, data, meta, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $8, $9, $9)"
            : "INSERT INTO message (id, user_id, channel_id, reply_to_id, parent_id, content,"
              " data, meta, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
    if (store__db_exec(db, sql, p, 9, NULL) != 0)
        return store__db_error(r, db);
    return message_json(db, r, id);
}

/* Merges the meta patch (r->s[2]) into the stored meta text; returns the new text
 * (malloc'd) or NULL when there is no patch. */
static char *merged_meta(const char *stored, const char *patch_text, int *status)
{
    *status = STORE_OK;
    if (!patch_text)
        return NULL;
    cJSON *patch = store__json_parse_object(patch_text);
    if (!patch) {
        *status = STORE_EINVAL;
        return NULL;
    }
    cJSON *meta = store__json_parse_object(stored);
    if (!meta)
        meta = cJSON_CreateObject();
    store__json_merge(meta, patch);
    char *out = store__json_print(meta);
    cJSON_Delete(meta);
    cJSON_Delete(patch);
    return out;
}

int store__op_message_update(store_db_t *db, store_req_t *r)
{
    char *meta = NULL;
    int status = STORE_OK;
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    store_param_t k[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db,
                        store__db_sql(db, "SELECT meta FROM message WHERE id = $1",
                                      "SELECT meta FROM message WHERE id = $1 FOR UPDATE"),
                        k, 1, &rows) != 0)
        goto fail;
    int rc = store__rows_next(rows);
    if (rc == 1)
        meta = merged_meta(store__rows_text(rows, 0), r->s[2], &status);
    store__rows_free(rows);
    if (rc < 0)
        goto fail;
    if (rc == 0 || status != STORE_OK) {
        store__db_rollback(db);
        free(meta);
        return rc == 0 ? STORE_ENOTFOUND : status;
    }
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(r->s[1]), SP_TEXT(meta),
                         SP_INT(store__now_ns())};
    if (store__db_exec(db,
                       "UPDATE message SET content = COALESCE($2, content),"
                       " meta = COALESCE($3, meta), updated_at = $4 WHERE id = $1",
                       p, 4, NULL) != 0)
        goto fail;
    free(meta);
    meta = NULL;
    status = message_json(db, r, r->s[0]);
    if (status != STORE_OK) {
        store__db_rollback(db);
        return status;
    }
    if (store__db_commit(db) != 0)
        goto fail;
    return STORE_OK;
fail:
    free(meta);
    store__db_rollback(db);
    return store__db_error(r, db);
}
