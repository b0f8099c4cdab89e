/*
 * store_db: the backend-independent helpers of the driver interface (transactions,
 * column lookup). The drivers themselves are store_sqlite.c and store_pg.c.
 */
#include "store/store_db.h"

#include <string.h>

int store__rows_col(store_rows_t *r, const char *name)
{
    int n = store__rows_ncols(r);
    for (int i = 0; i < n; i++) {
        const char *c = store__rows_name(r, i);
        if (c && strcmp(c, name) == 0)
            return i;
    }
    return -1;
}

int store__db_begin(store_db_t *db, bool write)
{
    const char *sql = db->kind == STORE_SQLITE && write ? "BEGIN IMMEDIATE" : "BEGIN";
    return store__db_exec(db, sql, NULL, 0, NULL);
}

int store__db_commit(store_db_t *db)
{
    return store__db_exec(db, "COMMIT", NULL, 0, NULL);
}

void store__db_rollback(store_db_t *db)
{
    char keep[sizeof db->err];
    memcpy(keep, db->err, sizeof keep); /* report the error that caused the rollback */
    (void)store__db_exec(db, "ROLLBACK", NULL, 0, NULL);
    memcpy(db->err, keep, sizeof keep);
}
