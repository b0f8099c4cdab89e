/*
 * store_rest_users: sign-in lookup and the user count for sign-up (Open WebUI
 * models/auths.py Auths.authenticate_user, models/users.py Users.has_users), plus the
 * access-grant helpers the other store_rest_*.c files share. See store_rest.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_json.h"
#include "store/store_private.h"
#include "store/store_rest.h"
#include "store/store_rest_private.h"

/* The active auth row for the email in r->s[0]: its user id into r->s[1], its hash into
 * r->json; then the user row through the ordinary lookup. */
static int op_user_auth(store_db_t *db, store_req_t *r)
{
    store_param_t p[] = {SP_TEXT(r->s[0])};
    store_rows_t *rows = NULL;
    if (store__db_query(db,
                        "SELECT a.id, a.password FROM auth a JOIN \"user\" u ON u.id = a.id"
                        " WHERE lower(a.email) = lower($1) AND a.active = TRUE"
                        " ORDER BY u.created_at ASC, u.id ASC LIMIT 1",
                        p, 1, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1) {
        r->s[1] = store__dup(store__rows_text(rows, 0));
        r->json = store__dup(store__rows_text(rows, 1));
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    if (rc == 0 || !r->s[1])
        return STORE_ENOTFOUND;
    /* store__op_user_get reads the id from s[0] */
    char *email = r->s[0];
    r->s[0] = r->s[1];
    r->s[1] = email;
    return store__op_user_get(db, r);
}

static void done_auth(store_req_t *r)
{
    /* the union has no member of this type: the pointer went in through void (*)(void) */
    store_auth_cb cb = (store_auth_cb)(void (*)(void))r->cb.status;
    if (cb)
        cb(r->status, r->status == STORE_OK ? &r->user : NULL,
           r->status == STORE_OK ? r->json : NULL, r->arg);
}

void store_rest_user_auth(store_t *s, const char *email, store_auth_cb cb, void *arg)
{
    store_cb_t c = {.status = (store_status_cb)(void (*)(void))cb};
    store_req_t *r = store__req_new(s, "rest_user_auth", op_user_auth, done_auth, c, arg);
    store__req_str(r, 0, email, true);
    store__req_submit(s, r);
}

static int op_user_count(store_db_t *db, store_req_t *r)
{
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT COUNT(*) FROM \"user\"", NULL, 0, &rows) != 0)
        return store__db_error(r, db);
    int rc = store__rows_next(rows);
    if (rc == 1)
        r->count = store__rows_int(rows, 0);
    store__rows_free(rows);
    return rc < 0 ? store__db_error(r, db) : STORE_OK;
}

static void done_count(store_req_t *r)
{
    if (r->cb.count)
        r->cb.count(r->status, r->status == STORE_OK ? r->count : 0, r->arg);
}

void store_rest_user_count(store_t *s, store_count_cb cb, void *arg)
{
    store_req_t *r = store__req_new(s, "rest_user_count", op_user_count, done_count,
                                    (store_cb_t){.count = cb}, arg);
    store__req_submit(s, r);
}

/* ------------------------------------------------------------------ shared helpers */

void store__rest_done_json(store_req_t *r)
{
    if (r->cb.json)
        r->cb.json(r->status, r->status == STORE_OK ? r->json : NULL, r->arg);
}

static bool grant_valid(const cJSON *g)
{
    const cJSON *pt = store__json_get(g, "principal_type");
    const cJSON *pid = store__json_get(g, "principal_id");
    const cJSON *perm = store__json_get(g, "permission");
    if (!cJSON_IsString(pt) || !cJSON_IsString(pid) || !cJSON_IsString(perm) || !*pid->valuestring)
        return false;
    bool type_ok = strcmp(pt->valuestring, "user") == 0 || strcmp(pt->valuestring, "group") == 0;
    bool perm_ok =
        strcmp(perm->valuestring, "read") == 0 || strcmp(perm->valuestring, "write") == 0;
    return type_ok && perm_ok;
}

bool store__rest_grants_valid(const char *grants_json)
{
    if (!grants_json)
        return true;
    cJSON *a = store__json_parse(grants_json);
    bool ok = cJSON_IsArray(a);
    for (cJSON *g = ok ? a->child : NULL; g && ok; g = g->next)
        ok = grant_valid(g);
    cJSON_Delete(a);
    return ok;
}

int store__rest_grants_replace(store_db_t *db, store_req_t *r, const char *rtype, const char *id,
                               const char *grants_json)
{
    store_param_t k[] = {SP_TEXT(rtype), SP_TEXT(id)};
    if (store__db_exec(db, "DELETE FROM access_grant WHERE resource_type = $1 AND resource_id = $2",
                       k, 2, NULL) != 0)
        return store__db_error(r, db);
    cJSON *a = store__json_parse(grants_json);
    int status = STORE_OK;
    for (cJSON *g = cJSON_IsArray(a) ? a->child : NULL; g && status == STORE_OK; g = g->next) {
        char gid[37];
        store__uuid4(gid);
        store_param_t p[] = {SP_TEXT(gid),
                             SP_TEXT(rtype),
                             SP_TEXT(id),
                             SP_TEXT(store__json_get(g, "principal_type")->valuestring),
                             SP_TEXT(store__json_get(g, "principal_id")->valuestring),
                             SP_TEXT(store__json_get(g, "permission")->valuestring),
                             SP_INT(store__now_s())};
        if (store__db_exec(db,
                           "INSERT INTO access_grant (id, resource_type, resource_id,"
                           " principal_type, principal_id, permission, created_at)"
                           " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                           p, 7, NULL) != 0)
            status = store__db_error(r, db);
    }
    cJSON_Delete(a);
    return status;
}

static const store_colspec_t grant_cols[] = {
    {"id", STORE_COL_TEXT},           {"resource_type", STORE_COL_TEXT},
    {"resource_id", STORE_COL_TEXT},  {"principal_type", STORE_COL_TEXT},
    {"principal_id", STORE_COL_TEXT}, {"permission", STORE_COL_TEXT},
    {"created_at", STORE_COL_INT},
};

int store__rest_grants_json(store_db_t *db, store_req_t *r, const char *rtype, const char *id,
                            cJSON **out)
{
    store_param_t k[] = {SP_TEXT(rtype), SP_TEXT(id)};
    store_rows_t *rows = NULL;
    *out = NULL;
    if (store__db_query(db,
                        "SELECT * FROM access_grant WHERE resource_type = $1 AND resource_id = $2"
                        " ORDER BY created_at, id",
                        k, 2, &rows) != 0)
        return store__db_error(r, db);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = store__rows_next(rows)) == 1)
        cJSON_AddItemToArray(
            arr,
            store__row_object(rows, grant_cols, sizeof grant_cols / sizeof grant_cols[0], true));
    store__rows_free(rows);
    if (rc < 0) {
        cJSON_Delete(arr);
        return store__db_error(r, db);
    }
    *out = arr;
    return STORE_OK;
}
