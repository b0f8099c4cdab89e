/*
 * store_pg: the PostgreSQL driver of store_db, on libpq in text mode. Parameters are
 * sent untyped, so the server infers each one's type from where it is used (a bigint
 * column, a json column, a boolean comparison), which keeps one SQL text for both
 * backends. A cursor holds the whole PGresult; the queries here return small results.
 *
 * A connection that drops (server restart, idle timeout) is reset before the next
 * request uses it (ensure); the request that hit the failure reports STORE_EDB.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/store_db.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h> /* Debian keeps it here without pkg-config's -I */
#endif

typedef struct pg_db {
    store_db_t base; /* must be first */
    PGconn *c;       /* the connection */
} pg_db_t;

typedef struct pg_rows {
    store_rows_t base; /* must be first */
    PGresult *res;     /* owned */
    int row;           /* current row, -1 before the first */
    int nrows;
} pg_rows_t;

/* libpq prints server NOTICEs ("relation already exists, skipping") to stderr by
 * default; the store has nothing to say about them. */
static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_set_err(store_db_t *db, const char *what, const char *msg)
{
    snprintf(db->err, sizeof db->err, "postgres: %s: %s", what, msg ? msg : "?");
    char *nl = strchr(db->err, '\n'); /* libpq messages end in newlines; keep one line */
    if (nl)
        *nl = '\0';
}

/* Runs a statement and returns the result when its status is one of the two successes. */
static PGresult *run(pg_db_t *d, const char *sql, const store_param_t *p, int n)
{
    if (n > STORE_MAX_PARAMS) {
        pg_set_err(&d->base, "query", "too many parameters");
        return NULL;
    }
    char nums[STORE_MAX_PARAMS][24];
    const char *values[STORE_MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        if (p[i].type == STORE_P_TEXT) {
            values[i] = p[i].s;
        } else if (p[i].type == STORE_P_INT) {
            snprintf(nums[i], sizeof nums[i], "%" PRId64, p[i].i);
            values[i] = nums[i];
        } else if (p[i].type == STORE_P_BOOL) {
            values[i] = p[i].i ? "true" : "false";
        } else {
            values[i] = NULL;
        }
    }
    PGresult *res = PQexecParams(d->c, sql, n, NULL, n ? values : NULL, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    pg_set_err(&d->base, "query", res ? PQresultErrorMessage(res) : PQerrorMessage(d->c));
    PQclear(res);
    return NULL;
}

static int pg_exec(store_db_t *db, const char *sql, const store_param_t *p, int n, int64_t *changes)
{
    PGresult *res = run((pg_db_t *)db, sql, p, n);
    if (!res)
        return -1;
    if (changes)
        *changes = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

static int pg_query(store_db_t *db, const char *sql, const store_param_t *p, int n,
                    store_rows_t **out)
{
    PGresult *res = run((pg_db_t *)db, sql, p, n);
    if (!res)
        return -1;
    pg_rows_t *r = xcalloc(1, sizeof *r);
    r->base.db = db;
    r->res = res;
    r->row = -1;
    r->nrows = PQntuples(res);
    *out = &r->base;
    return 0;
}

static int pg_next(store_rows_t *rows)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    if (r->row + 1 >= r->nrows)
        return 0;
    r->row++;
    return 1;
}

static int pg_ncols(store_rows_t *rows)
{
    return PQnfields(((pg_rows_t *)rows)->res);
}

static const char *pg_name(store_rows_t *rows, int col)
{
    return PQfname(((pg_rows_t *)rows)->res, col);
}

static const char *pg_text(store_rows_t *rows, int col)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    if (r->row < 0 || PQgetisnull(r->res, r->row, col))
        return NULL;
    return PQgetvalue(r->res, r->row, col);
}

static int64_t pg_int(store_rows_t *rows, int col)
{
    const char *t = pg_text(rows, col);
    return t ? strtoll(t, NULL, 10) : 0;
}

static bool pg_bool(store_rows_t *rows, int col)
{
    const char *t = pg_text(rows, col);
    return t && (t[0] == 't' || (t[0] >= '1' && t[0] <= '9'));
}

static void pg_rows_free(store_rows_t *rows)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    PQclear(r->res);
    free(r);
}

static int pg_ensure(store_db_t *db)
{
    pg_db_t *d = (pg_db_t *)db;
    if (PQstatus(d->c) == CONNECTION_OK)
        return 0;
    PQreset(d->c);
    if (PQstatus(d->c) == CONNECTION_OK)
        return 0;
    pg_set_err(db, "reconnect", PQerrorMessage(d->c));
    return -1;
}

static void pg_close(store_db_t *db)
{
    pg_db_t *d = (pg_db_t *)db;
    PQfinish(d->c);
    free(d);
}

static const store_db_ops_t pg_ops = {
    .exec = pg_exec,
    .query = pg_query,
    .next = pg_next,
    .ncols = pg_ncols,
    .name = pg_name,
    .text = pg_text,
    .integer = pg_int,
    .boolean = pg_bool,
    .rows_free = pg_rows_free,
    .ensure = pg_ensure,
    .close = pg_close,
};

int store__pg_open(const char *conninfo, store_db_t **out, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "postgres: cannot connect: %s",
                 c ? PQerrorMessage(c) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQfinish(c);
        return -1;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        snprintf(err, errlen, "postgres: cannot use UTF8 client encoding");
        PQfinish(c);
        return -1;
    }
    pg_db_t *d = xcalloc(1, sizeof *d);
    d->base.ops = &pg_ops;
    d->base.kind = STORE_POSTGRES;
    d->c = c;
    *out = &d->base;
    return 0;
}
