/*
 * store_db: one database connection behind a small driver interface (store layer,
 * internal to src/store).
 *
 * The queries in src/store are written once, in the SQL that SQLite and PostgreSQL both
 * speak: identifiers "user" and "group" quoted, TRUE/FALSE, ON CONFLICT, parameters
 * written $1..$n (libpq's syntax; SQLite binds them as the named parameters "$1".."$n").
 * Where the two differ (row locks, catalog queries) a query picks its text with
 * store__db_sql(). Parameters are typed so each driver binds them natively.
 *
 * Ownership: a connection is owned by the store's pool; a rows cursor by its caller,
 * who frees it with store__rows_free before the next statement on that connection. Text
 * returned by store__rows_text is valid until the next store__rows_next or free.
 * Threading: a connection is used by one thread at a time (the pool guarantees it); no
 * global state (sqlite3 is opened with SQLITE_OPEN_NOMUTEX for that reason).
 */
#ifndef SIOC_STORE_DB_H
#define SIOC_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_db store_db_t;
typedef struct store_rows store_rows_t;

/** Parameter types. */
enum { STORE_P_NULL = 0, STORE_P_TEXT, STORE_P_INT, STORE_P_BOOL };

/** One query parameter. Text is borrowed for the call. */
typedef struct store_param {
    int type;
    const char *s; /* STORE_P_TEXT (NULL binds SQL NULL) */
    int64_t i;     /* STORE_P_INT, STORE_P_BOOL (0/1) */
} store_param_t;

#define SP_TEXT(x) ((store_param_t){STORE_P_TEXT, (x), 0})
#define SP_INT(x) ((store_param_t){STORE_P_INT, NULL, (int64_t)(x)})
#define SP_BOOL(x) ((store_param_t){STORE_P_BOOL, NULL, (x) ? 1 : 0})
#define SP_NULL ((store_param_t){STORE_P_NULL, NULL, 0})

/** Most parameters any query takes. */
#define STORE_MAX_PARAMS 20

/** Driver operations, implemented by store_sqlite.c and store_pg.c; see the
 *  store__db_* / store__rows_* wrappers below for what each does. */
typedef struct store_db_ops {
    int (*exec)(store_db_t *db, const char *sql, const store_param_t *p, int n, int64_t *changes);
    int (*query)(store_db_t *db, const char *sql, const store_param_t *p, int n,
                 store_rows_t **out);
    int (*next)(store_rows_t *r);
    int (*ncols)(store_rows_t *r);
    const char *(*name)(store_rows_t *r, int col);
    const char *(*text)(store_rows_t *r, int col);
    int64_t (*integer)(store_rows_t *r, int col);
    bool (*boolean)(store_rows_t *r, int col);
    void (*rows_free)(store_rows_t *r);
    int (*ensure)(store_db_t *db); /* reconnect a dropped connection; 0 when usable */
    void (*close)(store_db_t *db);
} store_db_ops_t;

/** The common head of every driver's connection object. */
struct store_db {
    const store_db_ops_t *ops;
    store_backend_t kind;
    char err[256]; /* the last error, one line */
};

/** The common head of every driver's cursor. */
struct store_rows {
    store_db_t *db;
};

/** Picks the query text for this connection's backend. */
static inline const char *store__db_sql(const store_db_t *db, const char *sqlite_sql,
                                        const char *pg_sql)
{
    return db->kind == STORE_POSTGRES ? pg_sql : sqlite_sql;
}

/** Runs a statement that returns no rows. Returns 0 (and the affected row count in
 *  `*changes` if non-NULL) or -1 with db->err set. */
static inline int store__db_exec(store_db_t *db, const char *sql, const store_param_t *p, int n,
                                 int64_t *changes)
{
    return db->ops->exec(db, sql, p, n, changes);
}

/** Runs a query; on 0 `*out` is a cursor positioned before the first row. -1 on error. */
static inline int store__db_query(store_db_t *db, const char *sql, const store_param_t *p, int n,
                                  store_rows_t **out)
{
    return db->ops->query(db, sql, p, n, out);
}

/** Advances: 1 on a row, 0 at the end, -1 on error (db->err set). */
static inline int store__rows_next(store_rows_t *r)
{
    return r->db->ops->next(r);
}

/** Number of columns of the result. */
static inline int store__rows_ncols(store_rows_t *r)
{
    return r->db->ops->ncols(r);
}

/** The column's name (valid while the cursor lives). */
static inline const char *store__rows_name(store_rows_t *r, int col)
{
    return r->db->ops->name(r, col);
}

/** The column as text, NULL for SQL NULL. Valid until the next next/free. */
static inline const char *store__rows_text(store_rows_t *r, int col)
{
    return r->db->ops->text(r, col);
}

/** The column as an integer (0 for NULL or non-numeric text). */
static inline int64_t store__rows_int(store_rows_t *r, int col)
{
    return r->db->ops->integer(r, col);
}

/** The column as a boolean: SQLite integers != 0, PostgreSQL 't'. */
static inline bool store__rows_bool(store_rows_t *r, int col)
{
    return r->db->ops->boolean(r, col);
}

/** Frees a cursor (NULL-safe). */
static inline void store__rows_free(store_rows_t *r)
{
    if (r)
        r->db->ops->rows_free(r);
}

/** Index of the column named `name`, or -1. */
int store__rows_col(store_rows_t *r, const char *name);

/** Starts a transaction. `write`: SQLite takes the write lock now (BEGIN IMMEDIATE) so
 *  a read-modify-write never fails to upgrade; PostgreSQL uses BEGIN and row locks. */
int store__db_begin(store_db_t *db, bool write);
int store__db_commit(store_db_t *db);
/** Rolls back, ignoring errors (used on failure paths). */
void store__db_rollback(store_db_t *db);

/** Opens a SQLite connection to `path` (WAL, synchronous=NORMAL, busy timeout). */
int store__sqlite_open(const char *path, unsigned busy_ms, store_db_t **out, char *err,
                       size_t errlen);
/** Opens a PostgreSQL connection with a libpq conninfo/URI. */
int store__pg_open(const char *conninfo, store_db_t **out, char *err, size_t errlen);

#endif
