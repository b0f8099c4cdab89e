/*
 * store_users: the user, auth and group queries (Open WebUI models/users.py, auths.py,
 * groups.py). Worker-side operations; see store.h for the semantics of each.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/store_json.h"
#include "store/store_private.h"

/* UserModel's fields in model order, minus those connect() excludes from SESSION_POOL
 * (profile_image_url, profile_banner_image_url, bio, gender, date_of_birth). */
static const store_colspec_t session_cols[] = {
    {"id", STORE_COL_TEXT},
    {"email", STORE_COL_TEXT},
    {"username", STORE_COL_TEXT},
    {"role", STORE_COL_TEXT},
    {"name", STORE_COL_TEXT},
    {"timezone", STORE_COL_TEXT},
    {"presence_state", STORE_COL_TEXT},
    {"status_emoji", STORE_COL_TEXT},
    {"status_message", STORE_COL_TEXT},
    {"status_expires_at", STORE_COL_INT},
    {"info", STORE_COL_JSON},
    {"settings", STORE_COL_JSON},
    {"oauth", STORE_COL_JSON},
    {"scim", STORE_COL_JSON},
    {"last_active_at", STORE_COL_INT},
    {"updated_at", STORE_COL_INT},
    {"created_at", STORE_COL_INT},
};

/* pydantic's UserSettings always dumps its declared field "ui" (default {}) first, then
 * the extra keys the stored object has. */
static void settings_like_pydantic(cJSON *session)
{
    cJSON *settings = store__json_get(session, "settings");
    if (!cJSON_IsObject(settings) || store__json_get(settings, "ui"))
        return;
    cJSON *fresh = cJSON_CreateObject();
    cJSON_AddItemToObject(fresh, "ui", cJSON_CreateObject());
    while (settings->child) {
        cJSON *c = cJSON_DetachItemViaPointer(settings, settings->child);
        cJSON_AddItemToArray(fresh, c); /* keeps c->string: appends as an object member */
    }
    store__json_set(session, "settings", fresh);
}

static char *col_dup(store_rows_t *r, const char *name)
{
    int c = store__rows_col(r, name);
    return c < 0 ? NULL : store__dup(store__rows_text(r, c));
}

static int64_t col_int(store_rows_t *r, const char *name)
{
    int c = store__rows_col(r, name);
    return c < 0 ? 0 : store__rows_int(r, c);
}

/* Fills r->user from the current row of a `SELECT * FROM "user"`. */
static void read_user(store_rows_t *rows, store_user_t *u)
{
    u->id = col_dup(rows, "id");
    u->email = col_dup(rows, "email");
    u->name = col_dup(rows, "name");
    u->role = col_dup(rows, "role");
    u->profile_image_url = col_dup(rows, "profile_image_url");
    u->last_active_at = col_int(rows, "last_active_at");
    u->created_at = col_int(rows, "created_at");
    u->updated_at = col_int(rows, "updated_at");
    cJSON *session =
        store__row_object(rows, session_cols, sizeof session_cols / sizeof session_cols[0], true);
    settings_like_pydantic(session);
    u->session_json = store__json_print(session);
    cJSON_Delete(session);
}

/* Runs a query that returns at most one user row. */
static int one_user(store_db_t *db, store_req_t *r, const char *sql, const store_param_t *p, int n)
{
    store_rows_t *rows = NULL;
    if (store__db_query(db, sql, p, n, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1)
        read_user(rows, &r->user);
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    return rc == 1 ? STORE_OK : STORE_ENOTFOUND;
}

int store__op_user_get(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    return one_user(db, r, "SELECT * FROM \"user\" WHERE id = $1", p, 1);
}

int store__op_user_get_by_email(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    return one_user(db, r,
                    "SELECT * FROM \"user\" WHERE lower(email) = lower($1)"
                    " ORDER BY created_at ASC, id ASC LIMIT 1",
                    p, 1);
}

int store__op_user_touch(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_INT(store__now_s()), SP_TEXT(r->s[0])};
    int64_t changed = 0;
    if (store__db_exec(db, "UPDATE \"user\" SET last_active_at = $1 WHERE id = $2", p, 2,
                       &changed) != 0)
        return store__db_error(r, db);
    r->flag = changed > 0;
    return STORE_OK;
}

static bool valid_role(const char *role)
{
    return strcmp(role, "admin") == 0 || strcmp(role, "user") == 0 || strcmp(role, "pending") == 0;
}

static void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Inserts the user and auth rows inside the caller's transaction. */
static int insert_user(store_db_t *db, store_req_t *r, const char *id)
{
    int64_t now = store__now_s();
    store_param_t u[] = {SP_TEXT(id),      SP_TEXT(r->s[0]), SP_TEXT(r->s[2]),
                         SP_TEXT(r->s[1]), SP_TEXT(r->s[4]), SP_INT(now)};
    if (store__db_exec(db,
                       "INSERT INTO \"user\" (id, email, role, name, profile_image_url,"
                       " last_active_at, created_at, updated_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $6, $6)",
                       u, 6, NULL) != 0)
        return -1;
    store_param_t a[] = {SP_TEXT(id), SP_TEXT(r->s[0]), SP_TEXT(r->s[3]), SP_BOOL(true)};
    return store__db_exec(db,
                          "INSERT INTO auth (id, email, password, active)"
                          " VALUES ($1, $2, $3, $4)",
                          a, 4, NULL);
}

int store__op_user_create(store_db_t *db, store_req_t *r)
{
    if (!valid_role(r->s[2]))
        return STORE_EINVAL;
    ascii_lower(r->s[0]);
    char id[37];
    store__uuid4(id);
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT 1 FROM \"user\" WHERE lower(email) = lower($1)", p, 1, &rows) !=
        0)
        goto fail;
    int taken = store__rows_next(rows);
    store__rows_free(rows);
    if (taken < 0)
        goto fail;
    if (taken == 1) {
        store__db_rollback(db);
        return STORE_EEXIST;
    }
    if (insert_user(db, r, id) != 0)
        goto fail;
    store_param_t q[] = {SP_TEXT(id)};
    int rc = one_user(db, r, "SELECT * FROM \"user\" WHERE id = $1", q, 1);
    if (rc != STORE_OK) {
        store__db_rollback(db);
        return rc;
    }
    if (store__db_commit(db) != 0)
        goto fail;
    return STORE_OK;
fail:
    store__db_rollback(db);
    return store__db_error(r, db);
}

int store__op_users_active_count(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_INT(r->n)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT COUNT(*) FROM \"user\" WHERE last_active_at >= $1", p, 1,
                        &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1)
        r->count = store__rows_int(rows, 0);
    store__rows_free(rows);
    return rc == 1 ? STORE_OK : store__db_error(r, db);
}

int store__op_user_groups(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db,
                        "SELECT g.id, g.name, g.permissions FROM \"group\" g"
                        " JOIN group_member m ON m.group_id = g.id WHERE m.user_id = $1"
                        " ORDER BY g.updated_at DESC, g.id",
                        p, 1, &rows) != 0)
        return store__db_error(r, db);
    size_t cap = 0;
    int rc;
    while ((rc = store__rows_next(rows)) == 1) {
        if (r->groups.n == cap) {
            cap = cap ? cap * 2 : 4;
            r->groups.v = xrealloc(r->groups.v, cap * sizeof *r->groups.v);
        }
        store_group_t *g = &r->groups.v[r->groups.n++];
        g->id = store__dup(store__rows_text(rows, 0));
        g->name = store__dup(store__rows_text(rows, 1));
        g->permissions_json = store__dup(store__rows_text(rows, 2));
    }
    store__rows_free(rows);
    return rc < 0 ? store__db_error(r, db) : STORE_OK;
}
