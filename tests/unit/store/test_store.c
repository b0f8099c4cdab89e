/*
 * Unit tests for src/store/store: opening (URLs, schema creation, attaching to an existing
 * Open WebUI database) and the asynchronous machinery on a real uv loop (thread pool,
 * exactly-once callbacks, concurrency, closing while requests are in flight).
 * See store_test_util.h for the databases these run on (SQLite, or PostgreSQL when
 * SIOC_TEST_PG_URL is set) and for why the sources are #included.
 */
#include "store_test_util.h"

TestSuite(store, .init = t_setup, .fini = t_teardown, .timeout = 30);

static const char *const tables[] = {"user",    "auth",           "group",       "group_member",
                                     "channel", "channel_member", "message",     "note",
                                     "chat",    "chat_message",   "access_grant"};

Test(store, fresh_database_gets_open_webui_tables)
{
    store_t *s = t_open(NULL);
    cr_assert(s->caps.created);
    cr_assert(s->caps.chat_message && s->caps.chat_last_read_at && s->caps.message_is_pinned);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        bool yes = false;
        cr_assert_eq(table_exists(s->conns[0], tables[i], &yes), 0);
        cr_expect(yes, "table %s missing", tables[i]);
    }
    /* a few column names and constraints Open WebUI relies on */
    static const char *const cols[][2] = {{"user", "last_active_at"},
                                          {"user", "scim"},
                                          {"channel_member", "is_active"},
                                          {"channel_member", "last_read_at"},
                                          {"note", "data"},
                                          {"chat", "last_read_at"},
                                          {"access_grant", "principal_id"},
                                          {"message", "reply_to_id"},
                                          {"chat_message", "status_history"},
                                          {"group", "permissions"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        bool yes = false;
        cr_assert_eq(column_exists(s->conns[0], cols[i][0], cols[i][1], &yes), 0);
        cr_expect(yes, "column %s.%s missing", cols[i][0], cols[i][1]);
    }
    const char *dup[] = {"u1", "a@x", "u1b", "a@x"};
    SQL(s,
        "INSERT INTO \"user\" (id, email, role, name, profile_image_url) VALUES ($1, $2,"
        " 'user', 'n', '')",
        dup[0], dup[1]);
    store_param_t p[] = {SP_TEXT(dup[2]), SP_TEXT(dup[3])};
    cr_assert_neq(store__db_exec(s->conns[0],
                                 "INSERT INTO \"user\" (id, email, role, name, profile_image_url)"
                                 " VALUES ($1, $2, 'user', 'n', '')",
                                 p, 2, NULL),
                  0, "uq_user_email must hold");
    store_close(s, NULL, NULL);
}

Test(store, backend_follows_database_url_and_sqlite_runs_wal)
{
    store_t *s = t_open(NULL);
    if (t_pg()) {
        cr_assert_eq(store_backend(s), STORE_POSTGRES);
        store_close(s, NULL, NULL);
        return;
    }
    cr_assert_eq(store_backend(s), STORE_SQLITE);
    char *mode = SCALAR(s, "PRAGMA journal_mode", NULL);
    cr_assert_str_eq(mode, "wal");
    free(mode);
    cr_assert_eq(t_scalar_int(SCALAR(s, "PRAGMA synchronous", NULL)), 1, "NORMAL is 1");
    store_close(s, NULL, NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/webui.db", T.dir);
    cr_assert_eq(access(path, F_OK), 0, "<data-dir>/webui.db");
}

Test(store, reopening_keeps_data_and_does_not_recreate)
{
    store_t *s = t_open(NULL);
    char *id = t_user(s, "keep@x.org", "Keep", "user");
    store_close(s, NULL, NULL);
    s = t_open(NULL);
    cr_assert_not(s->caps.created);
    res_t r = {0};
    store_user_get(s, id, cb_user, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_str_eq(r.email, "keep@x.org");
    res_reset(&r);
    free(id);
    store_close(s, NULL, NULL);
}

/* An Open WebUI 0.8-era database: no chat_message table, no chat.last_read_at. */
static const char *const owui_08[] = {
    "CREATE TABLE \"user\" (id VARCHAR PRIMARY KEY, name VARCHAR, email VARCHAR, role VARCHAR,"
    " profile_image_url TEXT, last_active_at BIGINT, updated_at BIGINT, created_at BIGINT,"
    " api_key VARCHAR, settings JSON, info JSON, oauth_sub TEXT)",
    "CREATE TABLE auth (id VARCHAR PRIMARY KEY, email VARCHAR, password TEXT, active BOOLEAN)",
    "CREATE TABLE \"group\" (id TEXT PRIMARY KEY, user_id TEXT, name TEXT, description TEXT,"
    " data JSON, meta JSON, permissions JSON, created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE group_member (id TEXT PRIMARY KEY, group_id TEXT, user_id TEXT,"
    " created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE channel (id TEXT PRIMARY KEY, user_id TEXT, type TEXT, name TEXT,"
    " description TEXT, data JSON, meta JSON, created_at BIGINT, updated_at BIGINT,"
    " archived_at BIGINT, deleted_at BIGINT)",
    "CREATE TABLE channel_member (id TEXT PRIMARY KEY, channel_id TEXT, user_id TEXT,"
    " is_active BOOLEAN, last_read_at BIGINT, created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE message (id TEXT PRIMARY KEY, user_id TEXT, channel_id TEXT,"
    " reply_to_id TEXT, parent_id TEXT, content TEXT, data JSON, meta JSON,"
    " created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE note (id TEXT PRIMARY KEY, user_id TEXT, title TEXT, data JSON, meta JSON,"
    " created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE chat (id VARCHAR PRIMARY KEY, user_id VARCHAR, title TEXT, chat JSON,"
    " created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE access_grant (id TEXT PRIMARY KEY, resource_type TEXT, resource_id TEXT,"
    " principal_type TEXT, principal_id TEXT, permission TEXT, created_at BIGINT)",
};

/* Creates tables with a plain connection before the store ever opens the database. */
static void precreate(const char *const *ddl_list, size_t n)
{
    store_db_t *db = NULL;
    char err[256];
    if (t_pg()) {
        cr_assert_eq(store__pg_open(T.url, &db, err, sizeof err), 0, "%s", err);
    } else {
        char path[300];
        snprintf(path, sizeof path, "%s/webui.db", T.dir);
        cr_assert_eq(store__sqlite_open(path, 1000, &db, err, sizeof err), 0, "%s", err);
    }
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(store__db_exec(db, ddl_list[i], NULL, 0, NULL), 0, "%s", db->err);
    db->ops->close(db);
}

Test(store, attaches_to_open_webui_schema_without_altering_it)
{
    precreate(owui_08, sizeof owui_08 / sizeof owui_08[0]);
    store_t *s = t_open(NULL);
    cr_assert_not(s->caps.created);
    cr_assert_not(s->caps.chat_message);
    cr_assert_not(s->caps.chat_last_read_at);
    cr_assert_not(s->caps.message_is_pinned);
    bool yes = true;
    cr_assert_eq(table_exists(s->conns[0], "chat_message", &yes), 0);
    cr_assert_not(yes, "an Open WebUI database must not get new tables");
    /* queries work on the older columns: user lookup, message insert without is_pinned */
    const char *u[] = {"u-old", "Old@Example.org"};
    SQL(s,
        "INSERT INTO \"user\" (id, name, email, role, profile_image_url, last_active_at,"
        " updated_at, created_at) VALUES ($1, 'Old', $2, 'user', '/user.png', 1, 1, 1)",
        u[0], u[1]);
    res_t r = {0};
    store_user_get_by_email(s, "old@example.org", cb_user, &r);
    cr_assert_eq(r.status, STORE_OK);
    char *username = t_json_at(r.session, "username");
    cr_assert_str_eq(username, "null", "absent columns dump as null");
    free(username);
    res_reset(&r);
    store_new_message_t m = {.channel_id = "c", .user_id = "u-old", .content = "hi"};
    store_message_insert(s, &m, cb_json, &r);
    cr_assert_eq(r.status, STORE_OK, "%s", store_strerror(r.status));
    char *pinned = t_json_at(r.json, "is_pinned");
    cr_assert_str_eq(pinned, "false");
    free(pinned);
    res_reset(&r);
    store_chat_mark_read(s, "chat", "u-old", cb_flag, &r);
    cr_assert_eq(r.status, STORE_ENOTSUP);
    res_reset(&r);
    store_close(s, NULL, NULL);
}

Test(store, refuses_open_webui_schema_older_than_access_grants)
{
    precreate(owui_08, 3); /* user, auth, group only */
    store_config_t cfg = t_config();
    store_t *s = NULL;
    char err[256] = "";
    cr_assert_eq(store_open(&cfg, NULL, &s, err, sizeof err), -1);
    cr_assert_null(s);
    cr_assert(strstr(err, "missing tables") && strstr(err, "access_grant"), "%s", err);
}

Test(store, sqlite_database_url_forms)
{
    char err[256], url[400];
    store_t *s = NULL;
    /* sqlite:////abs (four slashes: absolute path) */
    snprintf(url, sizeof url, "sqlite:///%s/abs.db?check_same_thread=false", T.dir);
    store_config_t cfg = {.database_url = url};
    cr_assert_eq(store_open(&cfg, NULL, &s, err, sizeof err), 0, "%s", err);
    store_close(s, NULL, NULL);
    snprintf(url, sizeof url, "%s/abs.db", T.dir);
    cr_assert_eq(access(url, F_OK), 0, "query string dropped, file at the absolute path");
    /* sqlite:///rel (three slashes: relative to the working directory) */
    char cwd[300];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(T.dir), 0);
    cfg.database_url = "sqlite+pysqlite:///rel.db";
    cr_assert_eq(store_open(&cfg, NULL, &s, err, sizeof err), 0, "%s", err);
    store_close(s, NULL, NULL);
    cr_assert_eq(access("rel.db", F_OK), 0);
    cr_assert_eq(chdir(cwd), 0);
    static const char *const bad[] = {"mysql://x/y", "sqlite+sqlcipher:///x.db", "sqlite://",
                                      "postgresqlx://h/db", "nonsense"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.database_url = bad[i];
        err[0] = '\0';
        cr_expect_eq(store_open(&cfg, NULL, &s, err, sizeof err), -1, "%s", bad[i]);
        cr_expect_neq(err[0], '\0');
    }
    /* data_dir is created (with parents) when missing */
    char nested[300];
    snprintf(nested, sizeof nested, "%s/a/b/data", T.dir);
    store_config_t c2 = {.data_dir = nested};
    cr_assert_eq(store_open(&c2, NULL, &s, err, sizeof err), 0, "%s", err);
    store_close(s, NULL, NULL);
    snprintf(nested, sizeof nested, "%s/a/b/data/webui.db", T.dir);
    cr_assert_eq(access(nested, F_OK), 0);
}

Test(store, postgres_url_forms_reach_libpq)
{
    char target[512], err[256];
    store_backend_t kind;
    char *t = NULL;
    static const char *const in[][2] = {
        {"postgres://u:p@h:5/db", "postgresql://u:p@h:5/db"},
        {"postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=disable"},
        {"postgresql+psycopg2://u@h/db", "postgresql://u@h/db"},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        store_config_t cfg = {.database_url = in[i][0]};
        cr_assert_eq(parse_url(&cfg, &kind, &t, err, sizeof err), 0, "%s", in[i][0]);
        cr_assert_eq(kind, STORE_POSTGRES);
        snprintf(target, sizeof target, "%s", t);
        free(t);
        cr_expect_str_eq(target, in[i][1]);
    }
    /* an unreachable server is a clean open error, not a crash */
    store_config_t cfg = {.database_url = "postgresql://nobody@127.0.0.1:1/none"};
    store_t *s = NULL;
    cr_assert_eq(store_open(&cfg, NULL, &s, err, sizeof err), -1);
    cr_assert(strstr(err, "postgres"), "%s", err);
}

/* ------------------------------------------------------------------ async machinery */

typedef struct actx {
    uv_loop_t loop;
    store_t *s;
    int issued;          /* requests issued */
    int called;          /* callbacks run */
    int ok;              /* callbacks with STORE_OK */
    int canceled;        /* callbacks with STORE_ECANCELED */
    int closed;          /* close callbacks run */
    int called_at_close; /* `called` when the close callback ran */
    bool in_request;     /* true while a store_* call is on the stack */
    int inline_calls;    /* callbacks that ran inside their store_* call */
    uv_thread_t loop_thread;
} actx_t;

static actx_t A;

static void on_any_flag(int status, bool flag, void *arg)
{
    (void)flag;
    actx_t *a = arg;
    cr_assert(uv_thread_equal(&a->loop_thread, &(uv_thread_t){uv_thread_self()}),
              "callbacks run on the loop thread");
    a->called++;
    if (A.in_request)
        a->inline_calls++;
    if (status == STORE_OK)
        a->ok++;
    if (status == STORE_ECANCELED)
        a->canceled++;
}

static void on_closed(void *arg)
{
    actx_t *a = arg;
    a->closed++;
    a->called_at_close = a->called;
}

static void count_handles(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static void loop_finish(uv_loop_t *loop)
{
    int open_handles = 0;
    uv_walk(loop, count_handles, &open_handles);
    cr_assert_eq(open_handles, 0, "handles left open");
    cr_assert_eq(uv_loop_close(loop), 0);
}

Test(store, async_callbacks_run_once_on_the_loop_never_inline)
{
    memset(&A, 0, sizeof A);
    cr_assert_eq(uv_loop_init(&A.loop), 0);
    A.loop_thread = uv_thread_self();
    A.s = t_open(&A.loop);
    cr_assert_eq(A.s->pool_size, 4);
    char *uid = NULL;
    {
        /* seed through a synchronous store on the same database */
        store_t *sync = t_open(NULL);
        uid = t_user(sync, "async@x.org", "Async", "user");
        store_close(sync, NULL, NULL);
    }
    for (int i = 0; i < 40; i++) {
        A.in_request = true;
        store_user_touch(A.s, i % 2 ? uid : "missing", on_any_flag, &A);
        /* argument errors are reported through the callback too, never inline */
        store_user_touch(A.s, NULL, on_any_flag, &A);
        A.in_request = false;
        A.issued += 2;
    }
    cr_assert_eq(A.called, 0, "nothing calls back before the loop runs");
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(A.called, A.issued);
    cr_assert_eq(A.inline_calls, 0);
    cr_assert_eq(A.ok, 40, "the 40 touches succeed, the 40 NULL ids fail");
    store_close(A.s, on_closed, &A);
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(A.closed, 1);
    loop_finish(&A.loop);
    free(uid);
}

Test(store, close_drains_issued_requests_and_cancels_later_ones)
{
    memset(&A, 0, sizeof A);
    cr_assert_eq(uv_loop_init(&A.loop), 0);
    A.loop_thread = uv_thread_self();
    A.s = t_open(&A.loop);
    for (int i = 0; i < 20; i++)
        store_user_touch(A.s, "nobody", on_any_flag, &A);
    store_close(A.s, on_closed, &A);
    /* issued after store_close: canceled, still called back exactly once */
    for (int i = 0; i < 5; i++)
        store_user_touch(A.s, "nobody", on_any_flag, &A);
    store_close(A.s, on_closed, &A); /* a second close is ignored */
    cr_assert_eq(A.closed, 0);
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(A.called, 25);
    cr_assert_eq(A.ok, 20, "requests issued before the close ran normally");
    cr_assert_eq(A.canceled, 5);
    cr_assert_eq(A.closed, 1);
    cr_assert_eq(A.called_at_close, 25, "the close callback comes after every request");
    loop_finish(&A.loop);
}

static void close_from_callback(int status, bool flag, void *arg)
{
    on_any_flag(status, flag, arg);
    actx_t *a = arg;
    if (a->called == 1)
        store_close(a->s, on_closed, a);
}

Test(store, close_inside_a_callback)
{
    memset(&A, 0, sizeof A);
    cr_assert_eq(uv_loop_init(&A.loop), 0);
    A.loop_thread = uv_thread_self();
    A.s = t_open(&A.loop);
    for (int i = 0; i < 10; i++)
        store_user_touch(A.s, "nobody", close_from_callback, &A);
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(A.called, 10);
    cr_assert_eq(A.closed, 1);
    cr_assert_eq(A.called_at_close, 10);
    loop_finish(&A.loop);
}

/* Many concurrent read-modify-writes of one chat document from the thread pool: each
 * appends its own marker; none may be lost (the write transaction serializes them). */
typedef struct conc {
    int done;
    int ok;
} conc_t;

static void on_append(int status, bool flag, void *arg)
{
    conc_t *c = arg;
    c->done++;
    if (status == STORE_OK && flag)
        c->ok++;
}

Test(store, concurrent_appends_to_one_chat_are_serialized)
{
    memset(&A, 0, sizeof A);
    cr_assert_eq(uv_loop_init(&A.loop), 0);
    A.loop_thread = uv_thread_self();
    store_t *sync = t_open(NULL);
    SQL(sync,
        "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at)"
        " VALUES ($1, 'u', 't', $2, 1, 1)",
        "c1",
        "{\"history\":{\"messages\":{\"m\":{\"id\":\"m\",\"role\":\"assistant\","
        "\"content\":\"\"}},\"currentId\":\"m\"}}");
    store_close(sync, NULL, NULL);
    A.s = t_open(&A.loop);
    conc_t c = {0};
    enum { N = 60 };
    for (int i = 0; i < N; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"content\":\"<%d>\"}", i);
        store_chat_event(A.s, "c1", "m", STORE_CHAT_MESSAGE, data, on_append, &c);
    }
    uv_run(&A.loop, UV_RUN_DEFAULT);
    cr_assert_eq(c.done, N);
    cr_assert_eq(c.ok, N);
    store_close(A.s, on_closed, &A);
    uv_run(&A.loop, UV_RUN_DEFAULT);
    loop_finish(&A.loop);
    sync = t_open(NULL);
    char *chat = SCALAR(sync, "SELECT chat FROM chat WHERE id = $1", "c1");
    char *content = t_json_at(chat, "history.messages.m.content");
    for (int i = 0; i < N; i++) {
        char mark[16];
        snprintf(mark, sizeof mark, "<%d>", i);
        cr_expect(strstr(content, mark), "append %d lost", i);
    }
    free(chat);
    free(content);
    store_close(sync, NULL, NULL);
}

Test(store, sync_mode_calls_back_before_returning)
{
    store_t *s = t_open(NULL);
    res_t r = {0};
    store_user_get(s, "nope", cb_user, &r);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    store_user_get(s, "", cb_user, &r);
    cr_assert_eq(r.status, STORE_EINVAL, "empty id");
    res_reset(&r);
    memset(&A, 0, sizeof A);
    store_close(s, on_closed, &A);
    cr_assert_eq(A.closed, 1, "closed before store_close returns");
}

Test(store, strerror_names_every_status)
{
    for (int st = STORE_OK; st >= STORE_ENOTSUP; st--)
        cr_expect_str_neq(store_strerror(st), "unknown error", "%d", st);
    cr_expect_str_eq(store_strerror(42), "unknown error");
    cr_expect_eq(store_chat_event_from_name("citation"), STORE_CHAT_SOURCE);
    cr_expect_eq(store_chat_event_from_name("chat:completion"), 0);
}
