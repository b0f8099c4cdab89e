/*
 * store_folders: marking a chat read with Open WebUI's [latest] unread bookkeeping
 * (store layer; openwebui-protocol.md §3.7, §8.4). See store_chat_read in store.h.
 *
 * A chat is unread when its last_read_at is NULL or older than its updated_at (both
 * epoch seconds). The read marker, the unread test and the per-folder counts are done in
 * one write transaction, so the counts include this read. Folder counts roll up: a
 * folder's count is its own unread chats plus those of every folder below it (folder
 * parent_id links, followed at most STORE_FOLDER_DEPTH levels, so a cycle in the data
 * cannot loop). Archived chats do not count (they are not listed in folders).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/json.h"
#include "store/store_private.h"

/* Deepest parent chain followed. */
#define STORE_FOLDER_DEPTH 64

typedef struct folder {
    char *id;
    char *parent_id;
    int64_t own;   /* unread chats directly in it */
    int64_t total; /* rolled up */
} folder_t;

typedef struct folders {
    folder_t *v;
    size_t n, cap;
} folders_t;

static void folders_free(folders_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].id);
        free(f->v[i].parent_id);
    }
    free(f->v);
}

static folder_t *folder_find(folders_t *f, const char *id)
{
    for (size_t i = 0; id && i < f->n; i++)
        if (strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

/* The user's folders, then the unread counts per folder, rolled up. */
static int load_counts(store_db_t *db, store_req_t *r, const char *user_id, folders_t *f)
{
    store_param_t p[] = {SP_TEXT(user_id)};
    store_rows_t *rows = NULL;
    if (store__db_query(db, "SELECT id, parent_id FROM folder WHERE user_id = $1 ORDER BY id", p, 1,
                        &rows) != 0)
        return store__db_error(r, db);
    int rc;
    while ((rc = store__rows_next(rows)) == 1) {
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            f->v = xrealloc(f->v, f->cap * sizeof *f->v);
        }
        folder_t *x = &f->v[f->n++];
        x->id = store__dup(store__rows_text(rows, 0));
        x->parent_id = store__dup(store__rows_text(rows, 1));
        x->own = x->total = 0;
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    rows = NULL;
    if (store__db_query(db,
                        "SELECT folder_id, COUNT(*) FROM chat WHERE user_id = $1"
                        " AND folder_id IS NOT NULL AND COALESCE(archived, FALSE) = FALSE"
                        " AND (last_read_at IS NULL OR COALESCE(updated_at, 0) > last_read_at)"
                        " GROUP BY folder_id",
                        p, 1, &rows) != 0)
        return store__db_error(r, db);
    while ((rc = store__rows_next(rows)) == 1) {
        folder_t *x = folder_find(f, store__rows_text(rows, 0));
        if (x)
            x->own = store__rows_int(rows, 1);
    }
    store__rows_free(rows);
    if (rc < 0)
        return store__db_error(r, db);
    for (size_t i = 0; i < f->n; i++) {
        folder_t *x = &f->v[i];
        for (int depth = 0; x && depth < STORE_FOLDER_DEPTH; depth++) {
            x->total += f->v[i].own;
            x = folder_find(f, x->parent_id);
        }
    }
    return STORE_OK;
}

static char *result_json(int64_t at, bool was_unread, const folders_t *f)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"last_read_at\":");
    json_append_i64(&b, at);
    buf_append_cstr(&b, was_unread ? ",\"was_unread\":true" : ",\"was_unread\":false");
    if (was_unread) {
        buf_append_cstr(&b, ",\"folder_unread_counts\":{");
        for (size_t i = 0; i < f->n; i++) {
            if (i)
                buf_append_byte(&b, ',');
            json_append_string(&b, slice_from_cstr(f->v[i].id));
            buf_append_byte(&b, ':');
            json_append_i64(&b, f->v[i].total);
        }
        buf_append_byte(&b, '}');
    }
    buf_append_cstr(&b, "}");
    buf_append_byte(&b, '\0');
    size_t len;
    return (char *)buf_steal(&b, &len);
}

/* s[0] chat id, s[1] user id; r->n the time (epoch seconds). */
static int op_chat_read(store_db_t *db, store_req_t *r)
{
    if (!r->store->caps.chat_last_read_at)
        return STORE_ENOTSUP;
    store_param_t p[] = {SP_TEXT(r->s[0]), SP_TEXT(r->s[1])};
    store_rows_t *rows = NULL;
    folders_t f = {0};
    int status = STORE_OK;
    if (store__db_begin(db, true) != 0)
        return store__db_error(r, db);
    if (store__db_query(db,
                        "SELECT last_read_at IS NULL OR COALESCE(updated_at, 0) > last_read_at"
                        " FROM chat WHERE id = $1 AND user_id = $2",
                        p, 2, &rows) != 0) {
        status = store__db_error(r, db);
        goto out;
    }
    int rc = store__rows_next(rows);
    bool was_unread = rc == 1 && store__rows_bool(rows, 0);
    store__rows_free(rows);
    if (rc != 1) {
        status = rc < 0 ? store__db_error(r, db) : STORE_ENOTFOUND; /* or not the owner's */
        goto out;
    }
    store_param_t u[] = {SP_INT(r->n), SP_TEXT(r->s[0]), SP_TEXT(r->s[1])};
    if (store__db_exec(db, "UPDATE chat SET last_read_at = $1 WHERE id = $2 AND user_id = $3", u, 3,
                       NULL) != 0) {
        status = store__db_error(r, db);
        goto out;
    }
    if (was_unread)
        status = load_counts(db, r, r->s[1], &f);
    if (status == STORE_OK && store__db_commit(db) != 0)
        status = store__db_error(r, db);
    if (status == STORE_OK)
        r->json = result_json(r->n, was_unread, &f);
out:
    if (status != STORE_OK)
        store__db_rollback(db);
    folders_free(&f);
    return status;
}

static void done_read(store_req_t *r)
{
    if (r->cb.json)
        r->cb.json(r->status, r->status == STORE_OK ? r->json : NULL, r->arg);
}

void store_chat_read(store_t *s, const char *chat_id, const char *user_id, int64_t now_s,
                     store_json_cb cb, void *arg)
{
    store_req_t *r =
        store__req_new(s, "chat_read", op_chat_read, done_read, (store_cb_t){.json = cb}, arg);
    store__req_str(r, 0, chat_id, true);
    store__req_str(r, 1, user_id, true);
    r->n = now_s;
    store__req_submit(s, r);
}
