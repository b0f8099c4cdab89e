/*
 * Shared fixtures for the src/store unit tests (included by each tests/unit/store/test_*.c).
 *
 * src/store is compiled into the test binaries by #include because the Makefile builds it
 * only into build/sioc; the binaries need -lsqlite3 -lpq -lcjson at link time.
 *
 * Every test gets a fresh database: a SQLite file in its own temporary directory, or,
 * when SIOC_TEST_PG_URL is set (tests/pg/start.sh prints one), a fresh PostgreSQL schema
 * selected through the connection's search_path. The same assertions run on both.
 *
 * Helpers run requests on a synchronous-mode store (callbacks run inline), and reach
 * the store's own connection for seeding fixtures with SQL.
 */
#ifndef SIOC_TEST_STORE_UTIL_H
#define SIOC_TEST_STORE_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* src/store is built only into build/sioc: include the module under test. */
#include "../../../src/store/store.c"
#include "../../../src/store/store_channels.c"
#include "../../../src/store/store_chats.c"
#include "../../../src/store/store_db.c"
#include "../../../src/store/store_json.c"
#include "../../../src/store/store_notes.c"
#include "../../../src/store/store_pg.c"
#include "../../../src/store/store_schema.c"
#include "../../../src/store/store_sqlite.c"
#include "../../../src/store/store_users.c"

typedef struct tdb {
    char dir[256];      /* SQLite: the temporary data directory */
    char url[1024];     /* the DATABASE_URL given to store_open ("" for SQLite) */
    char schema[64];    /* PostgreSQL: the per-test schema */
    const char *pg_url; /* SIOC_TEST_PG_URL or NULL */
} tdb_t;

static tdb_t T; /* this test's database (each Criterion test is its own process) */

static inline bool t_pg(void)
{
    return T.pg_url != NULL;
}

/* Runs one statement on a direct libpq connection to the test cluster. */
static inline void t_pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(T.pg_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "SIOC_TEST_PG_URL: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Criterion .init: a fresh database for this test. */
static inline void t_setup(void)
{
    memset(&T, 0, sizeof T);
    T.pg_url = getenv("SIOC_TEST_PG_URL");
    if (T.pg_url && !*T.pg_url)
        T.pg_url = NULL;
    /* a scratch directory exists in both modes (SQLite URL tests use it on PostgreSQL) */
    snprintf(T.dir, sizeof T.dir, "/tmp/sioc-store-test.XXXXXX");
    cr_assert_not_null(mkdtemp(T.dir));
    if (!t_pg())
        return;
    unsigned char rnd[6];
    RAND_bytes(rnd, sizeof rnd);
    snprintf(T.schema, sizeof T.schema, "sioc_t_%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", T.schema);
    t_pg_admin(sql);
    snprintf(T.url, sizeof T.url, "%s%coptions=-csearch_path%%3D%s", T.pg_url,
             strchr(T.pg_url, '?') ? '&' : '?', T.schema);
}

/* Criterion .fini: removes the database. */
static inline void t_teardown(void)
{
    if (t_pg()) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", T.schema);
        t_pg_admin(sql);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", T.dir);
}

static inline store_config_t t_config(void)
{
    store_config_t cfg = {0};
    if (t_pg())
        cfg.database_url = T.url;
    else
        cfg.data_dir = T.dir;
    return cfg;
}

/* Opens this test's database; `loop` NULL for synchronous mode. */
static inline store_t *t_open(uv_loop_t *loop)
{
    store_config_t cfg = t_config();
    store_t *s = NULL;
    char err[256] = "";
    cr_assert_eq(store_open(&cfg, loop, &s, err, sizeof err), 0, "store_open: %s", err);
    return s;
}

/* Runs SQL with text parameters (NULL entries bind NULL) on the store's connection. */
static inline void t_sql(store_t *s, const char *sql, int n, const char *const *args)
{
    store_param_t p[STORE_MAX_PARAMS];
    if (!strchr(sql, '$'))
        n = 0; /* SQL(s, "...", NULL): no parameters */
    for (int i = 0; i < n; i++)
        p[i] = SP_TEXT(args[i]);
    cr_assert_eq(store__db_exec(s->conns[0], sql, p, n, NULL), 0, "%s: %s", sql, s->conns[0]->err);
}

#define SQL(s, sql, ...)                                                                           \
    t_sql((s), (sql), (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)),          \
          (const char *const[]){__VA_ARGS__})

/* The first column of the first row of a query with text parameters, as an owned string
 * (NULL for SQL NULL or no row). */
static inline char *t_scalar(store_t *s, const char *sql, int n, const char *const *args)
{
    store_param_t p[STORE_MAX_PARAMS];
    if (!strchr(sql, '$'))
        n = 0; /* SCALAR(s, "...", NULL): no parameters */
    for (int i = 0; i < n; i++)
        p[i] = SP_TEXT(args[i]);
    store_rows_t *r = NULL;
    cr_assert_eq(store__db_query(s->conns[0], sql, p, n, &r), 0, "%s: %s", sql, s->conns[0]->err);
    char *out = NULL;
    if (store__rows_next(r) == 1)
        out = store__dup(store__rows_text(r, 0));
    store__rows_free(r);
    return out;
}

#define SCALAR(s, sql, ...)                                                                        \
    t_scalar((s), (sql), (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)),       \
             (const char *const[]){__VA_ARGS__})

static inline int64_t t_scalar_int(char *text)
{
    int64_t v = text ? strtoll(text, NULL, 10) : -1;
    free(text);
    return v;
}

/* ------------------------------------------------------------------ result capture */

typedef struct res {
    int calls;       /* how many times the callback ran */
    int status;      /* last status */
    bool flag;       /* store_flag_cb */
    int64_t count;   /* store_count_cb */
    char *json;      /* store_json_cb (copied) */
    char *id;        /* store_user_cb: id; store_note_cb: note id */
    char *email;     /* store_user_cb */
    char *name;      /* store_user_cb */
    char *role;      /* store_user_cb */
    char *session;   /* store_user_cb: session_json */
    int64_t time;    /* store_user_cb: last_active_at; store_note_cb: updated_at */
    char *owner;     /* store_note_cb: user_id */
    char *data;      /* store_note_cb: data_json */
    char list[2048]; /* store_ids_cb / store_groups_cb: "a,b,c" */
} res_t;

static inline void res_reset(res_t *r)
{
    free(r->json);
    free(r->id);
    free(r->email);
    free(r->name);
    free(r->role);
    free(r->session);
    free(r->owner);
    free(r->data);
    memset(r, 0, sizeof *r);
}

static inline void cb_status(int status, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
}

static inline void cb_flag(int status, bool flag, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    r->flag = flag;
}

static inline void cb_count(int status, int64_t count, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    r->count = count;
}

static inline void cb_json(int status, const char *json, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    free(r->json);
    r->json = json ? strdup(json) : NULL;
}

static inline void cb_user(int status, const store_user_t *u, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    if (!u)
        return;
    r->id = store__dup(u->id);
    r->email = store__dup(u->email);
    r->name = store__dup(u->name);
    r->role = store__dup(u->role);
    r->session = store__dup(u->session_json);
    r->time = u->last_active_at;
}

static inline void cb_note(int status, const store_note_t *n, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    if (!n)
        return;
    r->id = store__dup(n->id);
    r->owner = store__dup(n->user_id);
    r->data = store__dup(n->data_json);
    r->time = n->updated_at;
}

static inline void cb_ids(int status, const store_ids_t *ids, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    r->list[0] = '\0';
    for (size_t i = 0; ids && i < ids->n; i++)
        snprintf(r->list + strlen(r->list), sizeof r->list - strlen(r->list), "%s%s", i ? "," : "",
                 ids->v[i]);
}

static inline void cb_groups(int status, const store_groups_t *g, void *arg)
{
    res_t *r = arg;
    r->calls++;
    r->status = status;
    r->list[0] = '\0';
    for (size_t i = 0; g && i < g->n; i++)
        snprintf(r->list + strlen(r->list), sizeof r->list - strlen(r->list), "%s%s=%s",
                 i ? "," : "", g->v[i].id,
                 g->v[i].permissions_json ? g->v[i].permissions_json : "null");
}

/* Creates a user through the store and returns its id (owned). */
static inline char *t_user(store_t *s, const char *email, const char *name, const char *role)
{
    res_t r = {0};
    store_new_user_t u = {.email = email,
                          .name = name,
                          .role = role,
                          .password_hash = "$2b$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQki"
                                           "YyEKPDWYoU."};
    store_user_create(s, &u, cb_user, &r);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.status, STORE_OK, "create %s: %s", email, store_strerror(r.status));
    char *id = r.id;
    r.id = NULL;
    res_reset(&r);
    return id;
}

/* Extracts a JSON member as compact text via cJSON, for assertions (owned). */
static inline char *t_json_at(const char *json, const char *path)
{
    cJSON *root = cJSON_Parse(json);
    cr_assert_not_null(root, "not JSON: %s", json);
    cJSON *v = root;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
        v = store__json_get(v, tok);
    char *out = v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON_Delete(root);
    return out;
}

/* The integer after `"key":` in JSON text, read from the digits themselves (cJSON would
 * round a nanosecond timestamp to a double). -1 when absent. */
static inline int64_t t_json_digits(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

#endif
