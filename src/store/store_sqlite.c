/*
 * store_sqlite: the SQLite driver of store_db. One sqlite3 handle per pool connection,
 * opened with SQLITE_OPEN_NOMUTEX because the pool already guarantees one thread per
 * handle. Statements are prepared per call; the queries are few and small next to the
 * work each does.
 *
 * A cursor owns its statement and steps lazily: store__rows_next is sqlite3_step.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/store_db.h"

typedef struct sqlite_db {
    store_db_t base; /* must be first */
    sqlite3 *h;      /* the connection */
} sqlite_db_t;

typedef struct sqlite_rows {
    store_rows_t base;  /* must be first */
    sqlite3_stmt *stmt; /* owned */
} sqlite_rows_t;

static void sq_set_err(store_db_t *db, sqlite3 *h, const char *what)
{
    snprintf(db->err, sizeof db->err, "sqlite: %s: %s", what, h ? sqlite3_errmsg(h) : "?");
}

/* Prepares `sql` and binds $1..$n by name; parameters the text does not mention are
 * skipped, so one parameter list can serve several query variants. */
static sqlite3_stmt *prepare(sqlite_db_t *d, const char *sql, const store_param_t *p, int n)
{
    sqlite3_stmt *st = NULL;
    if (n > STORE_MAX_PARAMS) {
        snprintf(d->base.err, sizeof d->base.err, "sqlite: too many parameters");
        return NULL;
    }
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_set_err(&d->base, d->h, "prepare");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            continue;
        int rc;
        if (p[i].type == STORE_P_TEXT && p[i].s)
            rc = sqlite3_bind_text(st, idx, p[i].s, -1, SQLITE_STATIC);
        else if (p[i].type == STORE_P_INT || p[i].type == STORE_P_BOOL)
            rc = sqlite3_bind_int64(st, idx, p[i].i);
        else
            rc = sqlite3_bind_null(st, idx);
        if (rc != SQLITE_OK) {
            sq_set_err(&d->base, d->h, "bind");
            sqlite3_finalize(st);
            return NULL;
        }
    }
    return st;
}

static int sq_exec(store_db_t *db, const char *sql, const store_param_t *p, int n, int64_t *changes)
{
    sqlite_db_t *d = (sqlite_db_t *)db;
    sqlite3_stmt *st = prepare(d, sql, p, n);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sq_set_err(db, d->h, "step");
        return -1;
    }
    if (changes)
        *changes = sqlite3_changes(d->h);
    return 0;
}

static int sq_query(store_db_t *db, const char *sql, const store_param_t *p, int n,
                    store_rows_t **out)
{
    sqlite_db_t *d = (sqlite_db_t *)db;
    sqlite3_stmt *st = prepare(d, sql, p, n);
    if (!st)
        return -1;
    sqlite_rows_t *r = xcalloc(1, sizeof *r);
    r->base.db = db;
    r->stmt = st;
    *out = &r->base;
    return 0;
}

static int sq_next(store_rows_t *rows)
{
    sqlite_rows_t *r = (sqlite_rows_t *)rows;
    int rc = sqlite3_step(r->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sq_set_err(rows->db, ((sqlite_db_t *)rows->db)->h, "step");
    return -1;
}

static int sq_ncols(store_rows_t *rows)
{
    return sqlite3_column_count(((sqlite_rows_t *)rows)->stmt);
}

static const char *sq_name(store_rows_t *rows, int col)
{
    return sqlite3_column_name(((sqlite_rows_t *)rows)->stmt, col);
}

static const char *sq_text(store_rows_t *rows, int col)
{
    sqlite3_stmt *st = ((sqlite_rows_t *)rows)->stmt;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    return (const char *)sqlite3_column_text(st, col);
}

static int64_t sq_int(store_rows_t *rows, int col)
{
    return sqlite3_column_int64(((sqlite_rows_t *)rows)->stmt, col);
}

static bool sq_bool(store_rows_t *rows, int col)
{
    return sqlite3_column_int64(((sqlite_rows_t *)rows)->stmt, col) != 0;
}

static void sq_rows_free(store_rows_t *rows)
{
    sqlite_rows_t *r = (sqlite_rows_t *)rows;
    sqlite3_finalize(r->stmt);
    free(r);
}

static int sq_ensure(store_db_t *db)
{
    (void)db; /* a local file does not drop */
    return 0;
}

static void sq_close(store_db_t *db)
{
    sqlite_db_t *d = (sqlite_db_t *)db;
    sqlite3_close_v2(d->h);
    free(d);
}

static const store_db_ops_t sqlite_ops = {
    .exec = sq_exec,
    .query = sq_query,
    .next = sq_next,
    .ncols = sq_ncols,
    .name = sq_name,
    .text = sq_text,
    .integer = sq_int,
    .boolean = sq_bool,
    .rows_free = sq_rows_free,
    .ensure = sq_ensure,
    .close = sq_close,
};

int store__sqlite_open(const char *path, unsigned busy_ms, store_db_t **out, char *err,
                       size_t errlen)
{
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", path,
                 h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close_v2(h);
        return -1;
    }
    sqlite3_busy_timeout(h, (int)busy_ms);
    sqlite3_extended_result_codes(h, 1);
    /* WAL lets readers run beside the one writer; NORMAL syncs at checkpoints only,
     * which WAL keeps crash-safe (a power cut may lose the last commits, never corrupt). */
    static const char *const pragmas[] = {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"};
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        char *msg = NULL;
        if (sqlite3_exec(h, pragmas[i], NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "sqlite: %s on %s: %s", pragmas[i], path, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_close_v2(h);
            return -1;
        }
    }
    sqlite_db_t *d = xcalloc(1, sizeof *d);
    d->base.ops = &sqlite_ops;
    d->base.kind = STORE_SQLITE;
    d->h = h;
    *out = &d->base;
    return 0;
}
