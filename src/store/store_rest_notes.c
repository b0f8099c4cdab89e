/*
 * store_rest_notes: note list, creation, access and update (Open WebUI routers/notes.py,
 * models/notes.py). See store_rest.h. Access (spec §8.3, §8.5): admin, owner, or a grant
 * with exactly the asked permission; a write grant does not imply read.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"
#include "store/store_rest.h"
#include "store/store_rest_private.h"

/* NoteModel's fields in model order (access_grants added after data/meta). */
static const store_colspec_t note_cols[] = {
    {"id", STORE_COL_TEXT},        {"user_id", STORE_COL_TEXT}, {"title", STORE_COL_TEXT},
    {"data", STORE_COL_JSON},      {"meta", STORE_COL_JSON},    {"created_at", STORE_COL_INT},
    {"updated_at", STORE_COL_INT},
};
#define N_NOTE_COLS (sizeof note_cols / sizeof note_cols[0])

/* Note `id` as NoteModel (new object in *out). */
static int note_object(store_db_t *db, store_req_t *r, const char *id, cJSON **out)
{
    store_param_t p[] = {SP_TEXT(id)};
    store_rows_t *rows = NULL;
    *out = NULL;
    if (store__db_query(db, "SELECT * FROM note WHERE id = $1", p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    cJSON *n = rc == 1 ? store__row_object(rows, note_cols, N_NOTE_COLS, true) : NULL;
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    cJSON *grants = NULL;
    int status = store__rest_grants_json(db, r, "note", id, &grants);
    if (status != STORE_OK) {
        cJSON_Delete(n);
        return status;
    }
    cJSON_AddItemToObject(n, "access_grants", grants);
    *out = n;
    return STORE_OK;
}

static int note_json(store_db_t *db, store_req_t *r, const char *id)
{
    cJSON *n = NULL;
    int status = note_object(db, r, id, &n);
    if (status == STORE_OK)
        r->json = store__json_print(n);
    cJSON_Delete(n);
    return status;
}

/* $1 user */
static const char list_sql[] =
    "SELECT n.id FROM note n WHERE n.user_id = $1 OR EXISTS (" STORE_SQL_GRANT(
        "'note'", "n.id", "'read'", "$1") ") ORDER BY n.updated_at DESC, n.id LIMIT 1000";

static int op_list(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, list_sql, p, 1, &rows) != 0)
        return store__db_error(r, db);
    char **ids = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = store__rows_next(rows)) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(ids, cap * sizeof *ids);
            if (!grown)
                abort();
            ids = grown;
        }
        ids[n++] = store__dup(store__rows_text(rows, 0));
    }
    store__rows_free(rows);
    int status = rc < 0 ? store__db_error(r, db) : STORE_OK;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *note = NULL;
        if (status == STORE_OK)
            status = note_object(db, r, ids[i], &note);
        if (note)
            cJSON_AddItemToArray(arr, note);
        free(ids[i]);
    }
    free(ids);
    if (status == STORE_OK)
        r->json = store__json_print(arr);
    cJSON_Delete(arr);
    return status;
}

void store_rest_notes_list(store_t *s, const char *user_id, store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_notes_list", op_list, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, user_id, true);
    store__req_submit(s, r);
}

/* s[0] user, s[1] title, s[2] data, s[3] meta, s[4] grants */
static int op_create(store_db_t *db, store_req_t *r)
{
    if (!store__rest_grants_valid(r->s[4]))
        return STORE_EINVAL;
    char id[37];
    store__uuid4(id);
    int64_t now = store__now_ns();
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    store_param_t p[] = {SP_TEXT(id),      SP_TEXT(r->s[0]), SP_TEXT(r->s[1]),
                         SP_TEXT(r->s[2]), SP_TEXT(r->s[3]), SP_INT(now)};
    if (store__db_exec(db,
                       "INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $6)",
                       p, 6, NULL) != 0) {
        store__db_rollback(db);
        return store__db_error(r, db);
    }
    int status = store__rest_grants_replace(db, r, "note", id, r->s[4]);
    if (status == STORE_OK)
        status = note_json(db, r, id);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status != STORE_OK)
        store__db_rollback(db);
    return status;
}

void store_rest_note_create(store_t *s, const char *user_id, const char *title,
                            const char *data_json, const char *meta_json, const char *grants_json,
                            store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_note_create", op_create, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, user_id, true);
    store__req_str(r, 1, title, true);
    store__req_str(r, 2, data_json, false);
    store__req_str(r, 3, meta_json, false);
    store__req_str(r, 4, grants_json, false);
    store__req_submit(s, r);
}

/* $1 note, $2 user */
static const char rights_sql[] = "SELECT n.user_id, EXISTS (" STORE_SQL_GRANT(
    "'note'", "n.id", "'read'",
    "$2") "),"
          " EXISTS (" STORE_SQL_GRANT("'note'", "n.id", "'write'",
                                      "$2") ") FROM note n WHERE n.id = $1";

typedef struct rights {
    bool owner, read, write;
} rights_t;

static int note_rights(store_db_t *db, store_req_t *r, const char *note, const char *user,
                       bool admin, rights_t *out)
{
    store_param_t p[] = {SP_TEXT(note), SP_TEXT(user)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, rights_sql, p, 2, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        const char *owner = store__rows_text(rows, 0);
        out->owner = owner && strcmp(owner, user) == 0;
        out->read = admin || out->owner || store__rows_bool(rows, 1);
        out->write = admin || out->owner || store__rows_bool(rows, 2);
    }
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    return STORE_OK;
}

/* s[0] note, s[1] user, b admin */
static int op_access(store_db_t *db, store_req_t *r)
{
    rights_t rt = {0};
    int status = note_rights(db, r, r->s[0], r->s[1], r->b, &rt);
    cJSON *note = NULL;
    if (status == STORE_OK)
        status = note_object(db, r, r->s[0], &note);
    if (status != STORE_OK)
        return status;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "note", note);
    cJSON_AddBoolToObject(out, "read", rt.read);
    cJSON_AddBoolToObject(out, "write", rt.write);
    cJSON_AddBoolToObject(out, "owner", rt.owner);
    r->json = store__json_print(out);
    cJSON_Delete(out);
    return STORE_OK;
}

void store_rest_note_access(store_t *s, const char *note_id, const char *user_id, bool is_admin,
                            store_json_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_note_access", op_access, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, note_id, true);
    store__req_str(r, 1, user_id, true);
    r->b = is_admin;
    store__req_submit(s, r);
}

/* {**stored, **patch} of a JSON column; NULL patch: the stored text unchanged (copied). */
static char *merged(const char *stored, const char *patch_text)
{
    if (!patch_text)
        return store__dup(stored);
    cJSON *patch = store__json_parse_object(patch_text);
    cJSON *obj = store__json_parse_object(stored);
    if (!obj)
        obj = cJSON_CreateObject();
    if (patch)
        store__json_merge(obj, patch);
    char *out = store__json_print(obj);
    cJSON_Delete(obj);
    cJSON_Delete(patch);
    return out;
}

/* s[0] note, s[1] user, s[2] title, s[3] data, s[4] meta, s[5] grants, b admin */
static int update_locked(store_db_t *db, store_req_t *r)
{
    rights_t rt = {0};
    int status = note_rights(db, r, r->s[0], r->s[1], r->b, &rt);
    if (status != STORE_OK)
        return status;
    if (!rt.write)
        return STORE_EACCES;
    store_param_t k[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    const char *sql = store__db_sql(db, "SELECT data, meta FROM note WHERE id = $1",
                                    "SELECT data, meta FROM note WHERE id = $1 FOR UPDATE");
    if (store__db_query(db, sql, k, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    char *data = rc == 1 ? merged(store__rows_text(rows, 0), r->s[3]) : NULL;
    char *meta = rc == 1 ? merged(store__rows_text(rows, 1), r->s[4]) : NULL;
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(r->s[2]), SP_TEXT(data), SP_TEXT(meta),
                         SP_INT(store__now_ns())};
    rc = store__db_exec(db,
                        "UPDATE note SET title = COALESCE($2, title), data = $3, meta = $4,"
                        " updated_at = $5 WHERE id = $1",
                        p, 5, NULL);
    free(data);
    free(meta);
    if (rc != 0)
        return store__db_error(r, db);
    if (r->s[5] && (rt.owner || r->b))
        status = store__rest_grants_replace(db, r, "note", r->s[0], r->s[5]);
    return status == STORE_OK ? note_json(db, r, r->s[0]) : status;
}

static int op_update(store_db_t *db, store_req_t *r)
{
    if (!store__rest_grants_valid(r->s[5]))
        return STORE_EINVAL;
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    int status = update_locked(db, r);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status != STORE_OK)
        store__db_rollback(db);
    return status;
}

void store_rest_note_update(store_t *s, const store_rest_note_update_t *u, store_json_cb cb,
                            void *arg)
{
    store_req_t *r = store__req_new(s, "rest_note_update", op_update, store__rest_done_json,
                                    (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, u->note_id, true);
    store__req_str(r, 1, u->user_id, true);
    store__req_str(r, 2, u->title, false);
    store__req_str(r, 3, u->data_json, false);
    store__req_str(r, 4, u->meta_json, false);
    store__req_str(r, 5, u->grants_json, false);
    r->b = u->is_admin;
    store__req_submit(s, r);
}
