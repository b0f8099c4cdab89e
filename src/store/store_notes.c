/*
 * store_notes: note reads, the note access rule and the debounced Yjs save (Open WebUI
 * models/notes.py, socket/main.py join-note / ydoc handlers). Worker-side operations;
 * see store.h for the semantics of each.
 *
 * Access (spec §8.3, §8.5): admin, owner, or an access_grant row with exactly the asked
 * permission; a write grant does not imply read.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"

int store__op_note_get(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db,
                        "SELECT id, user_id, title, data, meta, created_at, updated_at"
                        " FROM note WHERE id = $1",
                        p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        r->note.id = store__dup(store__rows_text(rows, 0));
        r->note.user_id = store__dup(store__rows_text(rows, 1));
        r->note.title = store__dup(store__rows_text(rows, 2));
        r->note.data_json = store__dup(store__rows_text(rows, 3));
        r->note.meta_json = store__dup(store__rows_text(rows, 4));
        r->note.created_at = store__rows_int(rows, 5);
        r->note.updated_at = store__rows_int(rows, 6);
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    return rc == 1 ? STORE_OK : STORE_ENOTFOUND;
}

/* $1 note, $2 user, $3 permission. */
static const char note_owner_grant_sql[] = "SELECT n.user_id, EXISTS (" STORE_SQL_GRANT(
    "'note'", "n.id", "$3", "$2") ")"
                                  " FROM note n WHERE n.id = $1";

static const char note_owner_grant_lock_sql[] = "SELECT n.user_id, EXISTS (" STORE_SQL_GRANT(
    "'note'", "n.id", "$3", "$2") ")"
                                  " FROM note n WHERE n.id = $1 FOR UPDATE OF n";

/*
 * Whether `user` has `perm` on note `note_id`: STORE_OK with *allowed, or
 * STORE_ENOTFOUND. `lock` takes the row lock (PostgreSQL) for a following write.
 */
static int note_allowed(store_db_t *db, store_req_t *r, const char *note_id, const char *user,
                        bool is_admin, const char *perm, bool lock, bool *allowed)
{
    store_param_t p[] = {SP_TEXT(note_id), SP_TEXT(user ? user : ""), SP_TEXT(perm)};
    const char *sql = lock ? store__db_sql(db, note_owner_grant_sql, note_owner_grant_lock_sql)
                           : note_owner_grant_sql;
    store_rows_t *rows = NULL;
    if (store__db_query(db, sql, p, 3, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        const char *owner = store__rows_text(rows, 0);
        *allowed =
            is_admin || (user && owner && strcmp(owner, user) == 0) || store__rows_bool(rows, 1);
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    return rc == 1 ? STORE_OK : STORE_ENOTFOUND;
}

int store__op_note_access(store_db_t *db, store_req_t *r)
{
    const char *perm = r->kind == STORE_WRITE ? "write" : "read";
    return note_allowed(db, r, r->s[0], r->s[1], r->b, perm, false, &r->flag);
}

/* {**stored, **patch}; a stored value that is NULL or not an object counts as {}. */
static char *merge_data(const char *stored, const cJSON *patch)
{
    cJSON *data = store__json_parse_object(stored);
    if (!data)
        data = cJSON_CreateObject();
    store__json_merge(data, patch);
    char *out = store__json_print(data);
    cJSON_Delete(data);
    return out;
}

/* Reads the stored data under the transaction's lock and writes the merge back.
 * Returns a store_status_t. */
static int write_merged(store_db_t *db, store_req_t *r, const cJSON *patch)
{
    store_param_t k[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    const char *sql = store__db_sql(db, "SELECT data FROM note WHERE id = $1",
                                    "SELECT data FROM note WHERE id = $1 FOR UPDATE");
    if (store__db_query(db, sql, k, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    char *merged = rc == 1 ? merge_data(store__rows_text(rows, 0), patch) : NULL;
    store__rows_free(rows);
    if (rc != 1)
        return rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND;
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(merged), SP_INT(store__now_ns())};
    rc = store__db_exec(db, "UPDATE note SET data = $2, updated_at = $3 WHERE id = $1", p, 3, NULL);
    free(merged);
    return rc == 0 ? STORE_OK : store__db_error(r, db);
}

int store__op_note_update_data(store_db_t *db, store_req_t *r)
{
    cJSON *patch = store__json_parse_object(r->s[1]);
    if (!patch)
        return STORE_EINVAL;
    int status = STORE_OK;
    if (store__db_begin(db, true) != 0) {
        cJSON_Delete(patch);
        return store__db_error(r, db);
    }
    if (r->s[2]) {
        bool allowed = false;
        status = note_allowed(db, r, r->s[0], r->s[2], r->b, "write", true, &allowed);
        if (status == STORE_OK && !allowed)
            status = STORE_EACCES;
    }
    if (status == STORE_OK)
        status = write_merged(db, r, patch);
    cJSON_Delete(patch);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status != STORE_OK)
        store__db_rollback(db);
    return status;
}
