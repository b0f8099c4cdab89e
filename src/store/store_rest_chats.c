/*
 * store_rest_chats: chat creation and reads for the REST routes and the final write of a
 * streamed answer (Open WebUI models/chats.py insert_new_chat, get_chat_by_id,
 * upsert_message_to_chat_by_id_and_message_id). See store_rest.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"
#include "store/store_rest.h"
#include "store/store_rest_private.h"

/* ChatResponse's fields in model order. */
static const store_colspec_t chat_cols[] = {
    {"id", STORE_COL_TEXT},       {"user_id", STORE_COL_TEXT},   {"title", STORE_COL_TEXT},
    {"chat", STORE_COL_JSON},     {"updated_at", STORE_COL_INT}, {"created_at", STORE_COL_INT},
    {"share_id", STORE_COL_TEXT}, {"archived", STORE_COL_BOOL},  {"pinned", STORE_COL_BOOL},
    {"meta", STORE_COL_JSON},     {"folder_id", STORE_COL_TEXT},
};

static int chat_json(store_db_t *db, store_req_t *r, const char *id)
{
    store_param_t p[] = {SP_TEXT(id)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT * FROM chat WHERE id = $1", p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        cJSON *c = store__row_object(rows, chat_cols, sizeof chat_cols / sizeof chat_cols[0], true);
        r->json = store__json_print(c);
        cJSON_Delete(c);
    }
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    return STORE_OK;
}

/* s[0] user, s[1] chat object */
static int op_create(store_db_t *db, store_req_t *r)
{
    cJSON *chat = store__json_parse_object(r->s[1]);
    if (!chat)
        return STORE_EINVAL;
    const cJSON *t = store__json_get(chat, "title");
    char *title = store__dup(cJSON_IsString(t) && *t->valuestring ? t->valuestring : "New Chat");
    char id[37];
    store__uuid4(id);
    store__json_set(chat, "id", cJSON_CreateString(id));
    char *text = store__json_print(chat);
    cJSON_Delete(chat);
    int64_t now = store__now_s();
    store_param_t p[] = {SP_TEXT(id), SP_TEXT(r->s[0]), SP_TEXT(title), SP_TEXT(text), SP_INT(now)};
    int status = STORE_OK;
    if (store__db_exec(db,
                       "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at,"
                       " archived, pinned, meta) VALUES ($1, $2, $3, $4, $5, $5, FALSE, FALSE,"
                       " '{}')",
                       p, 5, NULL) != 0)
        status = store__db_error(r, db);
    free(title);
    free(text);
    return status == STORE_OK ? chat_json(db, r, id) : status;
}

void store_rest_chat_create(store_t *s, const char *user_id, const char *chat_json_text,
                            store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_chat_create", op_create, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, user_id, true);
    store__req_str(r, 1, chat_json_text, true);
    store__req_submit(s, r);
}

static int op_get(store_db_t *db, store_req_t *r)
{
    return chat_json(db, r, r->s[0]);
}

void store_rest_chat_get(store_t *s, const char *chat_id, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_chat_get", op_get, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, chat_id, true);
    store__req_submit(s, r);
}

/* s[0] chat, s[1] user, s[2] chat patch */
static int update_locked(store_db_t *db, store_req_t *r, cJSON *patch)
{
    store_param_t k[] = {SP_TEXT(r->s[0]), SP_TEXT(r->s[1])};
    store_rows_t *rows = NULL;
    const char *sql =
        store__db_sql(db, "SELECT chat FROM chat WHERE id = $1 AND user_id = $2",
                      "SELECT chat FROM chat WHERE id = $1 AND user_id = $2 FOR UPDATE");
    if (store__db_query(db, sql, k, 2, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    cJSON *chat = rc == 1 ? store__json_parse_object(store__rows_text(rows, 0)) : NULL;
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    if (!chat)
        chat = cJSON_CreateObject();
    store__json_merge(chat, patch);
    const cJSON *t = store__json_get(chat, "title");
    char *text = store__json_print(chat);
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(text),
                         SP_TEXT(cJSON_IsString(t) ? t->valuestring : NULL),
                         SP_INT(store__now_s())};
    rc = store__db_exec(db,
                        "UPDATE chat SET chat = $2, title = COALESCE($3, title), updated_at = $4"
                        " WHERE id = $1",
                        p, 4, NULL);
    free(text);
    cJSON_Delete(chat);
    return rc == 0 ? chat_json(db, r, r->s[0]) : store__db_error(r, db);
}

static int op_update(store_db_t *db, store_req_t *r)
{
    cJSON *patch = store__json_parse_object(r->s[2]);
    if (!patch)
        return STORE_EINVAL;
    if (store__db_begin(db, true) != 0) {
        cJSON_Delete(patch);
        return store__db_error(r, db);
    }
    int status = update_locked(db, r, patch);
    cJSON_Delete(patch);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status != STORE_OK)
        store__db_rollback(db);
    return status;
}

void store_rest_chat_update(store_t *s, const char *chat_id, const char *user_id,
                            const char *chat_json_text, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_chat_update", op_update, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, chat_id, true);
    store__req_str(r, 1, user_id, true);
    store__req_str(r, 2, chat_json_text, true);
    store__req_submit(s, r);
}

static int op_list(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_INT(r->n), SP_INT(r->count)};
    store_rows_t *rows = NULL;
    if (store__db_query(db,
                        "SELECT id, title, updated_at, created_at FROM chat WHERE user_id = $1"
                        " AND (archived IS NULL OR archived = FALSE)"
                        " ORDER BY updated_at DESC, id LIMIT $2 OFFSET $3",
                        p, 3, &rows) != 0)
        return store__db_error(r, db);
    static const store_colspec_t cols[] = {{"id", STORE_COL_TEXT},
                                           {"title", STORE_COL_TEXT},
                                           {"updated_at", STORE_COL_INT},
                                           {"created_at", STORE_COL_INT}};
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = store__rows_next(rows)) == 1)
        cJSON_AddItemToArray(arr, store__row_object(rows, cols, 4, true));
    store__rows_free(rows);
    if (rc == 0)
        r->json = store__json_print(arr);
    cJSON_Delete(arr);
    return rc < 0 ? store__db_error(r, db) : STORE_OK;
}

void store_rest_chats_list(store_t *s, const char *user_id, int64_t skip, int64_t limit,
                           store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_chats_list", op_list, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, user_id, true);
    r->count = skip < 0 ? 0 : skip;
    r->n = limit <= 0 ? 50 : limit;
    store__req_submit(s, r);
}

/* After the upsert (its own transaction): the default title, then the resulting title.
 * s[0] chat, s[3] title. */
static int set_title(store_db_t *db, store_req_t *r)
{
    store_param_t k[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    const char *sql = store__db_sql(db, "SELECT title, chat FROM chat WHERE id = $1",
                                    "SELECT title, chat FROM chat WHERE id = $1 FOR UPDATE");
    if (store__db_query(db, sql, k, 1, &rows) != 0)
        goto fail;
    int rc = store__rows_next(rows);
    const char *cur = rc == 1 ? store__rows_text(rows, 0) : NULL;
    bool replace = rc == 1 && r->s[3] && (!cur || !*cur || strcmp(cur, "New Chat") == 0);
    char *title = store__dup(replace ? r->s[3] : cur ? cur : "");
    cJSON *chat = replace ? store__json_parse_object(store__rows_text(rows, 1)) : NULL;
    store__rows_free(rows);
    if (rc != 1) {
        free(title);
        store__db_rollback(db);
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    }
    if (replace) {
        if (!chat)
            chat = cJSON_CreateObject();
        store__json_set(chat, "title", cJSON_CreateString(title));
        char *text = store__json_print(chat);
        store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(title), SP_TEXT(text)};
        rc = store__db_exec(db, "UPDATE chat SET title = $2, chat = $3 WHERE id = $1", p, 3, NULL);
        free(text);
        cJSON_Delete(chat);
        if (rc != 0) {
            free(title);
            goto fail;
        }
    }
    cJSON *t = cJSON_CreateString(title);
    free(title);
    free(r->json);
    r->json = store__json_print(t);
    cJSON_Delete(t);
    if (store__db_commit(db) != 0)
        goto fail;
    return STORE_OK;
fail:
    store__db_rollback(db);
    return store__db_error(r, db);
}

static int op_finish(store_db_t *db, store_req_t *r)
{
    int status = store__op_chat_message_upsert(db, r);
    return status == STORE_OK ? set_title(db, r) : status;
}

void store_rest_chat_finish(store_t *s, const char *chat_id, const char *message_id,
                            const char *fields_json, const char *title, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_chat_finish", op_finish, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, chat_id, true);
    store__req_str(r, 1, message_id, true);
    store__req_str(r, 2, fields_json, true);
    store__req_str(r, 3, title, false);
    store__req_submit(s, r);
}
