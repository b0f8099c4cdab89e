/*
 * sioc: the program. Open WebUI's real-time layer (`sioc` / `sioc serve`) and two admin
 * commands on the same database:
 *
 *   sioc [serve] [flags]
 *   sioc user add --email E --name N --role admin|user|pending --password P [flags]
 *   sioc token --email E [flags]
 *
 * `user add` prints the new user's id and nothing else on stdout; `token` prints a signed
 * session JWT (HS256, WEBUI_SECRET_KEY, JWT_EXPIRES_IN) for the user. Both run the store
 * in its synchronous mode (no loop) and exit non-zero with a one-line message on stderr on
 * any error. Serving prints "listening on HOST:PORT" once the port is bound (after the
 * signal handlers are in place) and exits 0 after a graceful stop on SIGTERM/SIGINT.
 * Every flag and its environment variable: `sioc --help` (src/app/app_config.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/app_config.h"
#include "app/app_jwt.h"
#include "app/app_password.h"
#include "base/log.h"
#include "store/store.h"

extern char **environ;

/* The values of the admin commands' own flags, removed from argv before the config
 * parser sees the rest. */
typedef struct cmd_args {
    const char *email;
    const char *name;
    const char *role;
    const char *password;
} cmd_args_t;

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "sioc: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

/* Moves --email/--name/--role/--password (and their values) out of argv into `c`;
 * compacts argv and returns the new count, or -1 on a missing value. */
static int take_cmd_flags(int argc, char **argv, cmd_args_t *c)
{
    static const char *const names[] = {"email", "name", "role", "password"};
    const char **slots[] = {&c->email, &c->name, &c->role, &c->password};
    int out = 0;
    for (int i = 0; i < argc; i++) {
        int hit = -1;
        const char *val = NULL;
        for (int k = 0; k < 4 && hit < 0; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(argv[i], "--", 2) != 0 || strncmp(argv[i] + 2, names[k], n) != 0)
                continue;
            if (argv[i][2 + n] == '=')
                val = argv[i] + 3 + n, hit = k;
            else if (argv[i][2 + n] == '\0')
                hit = k;
        }
        if (hit < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sioc: --%s needs a value\n", names[hit]);
                return -1;
            }
            val = argv[++i];
        }
        *slots[hit] = val;
    }
    return out;
}

static int load_config(app_config_t *cfg, int argc, char **argv)
{
    char err[512];
    int rc = app_config_load(cfg, argc, argv, environ, err, sizeof err);
    if (rc == 1) {
        app_config_print_help(stdout);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "sioc: %s\n", err);
        return -1;
    }
    log_set_level(cfg->log_level);
    return 0;
}

static store_t *open_sync_store(const app_config_t *cfg)
{
    store_config_t sc = {
        .database_url = cfg->database_url, .data_dir = cfg->data_dir, .connections = 1};
    char err[256] = "";
    store_t *st = NULL;
    if (store_open(&sc, NULL, &st, err, sizeof err) != 0) {
        fprintf(stderr, "sioc: database: %s\n", err);
        return NULL;
    }
    return st;
}

/* ---- sioc user add ----------------------------------------------------------------- */

typedef struct user_result {
    int status;
    char id[APP_JWT_MAX_ID + 1];
} user_result_t;

static void on_user_created(int status, const store_user_t *u, void *arg)
{
    user_result_t *r = arg;
    r->status = status;
    if (status == STORE_OK)
        snprintf(r->id, sizeof r->id, "%s", u->id);
}

static int cmd_user_add(int argc, char **argv)
{
    cmd_args_t c = {0};
    app_config_t cfg;
    argc = take_cmd_flags(argc, argv, &c);
    if (argc < 0)
        return 2;
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (!c.email || !c.name || !c.role || !c.password)
        return fail("user add needs --email, --name, --role and --password%s%s", "", "");
    if (!strchr(c.email, '@') || strchr(c.email, ' '))
        return fail("'%s' is not an email address%s", c.email, "");
    if (!*c.name)
        return fail("the name is empty%s%s", "", "");
    if (strcmp(c.role, "admin") && strcmp(c.role, "user") && strcmp(c.role, "pending"))
        return fail("role '%s' is not admin, user or pending%s", c.role, "");
    size_t pwlen = strlen(c.password);
    if (pwlen == 0 || pwlen > APP_PASSWORD_MAX)
        return fail("the password must be 1 to 72 bytes%s%s", "", "");
    char hash[APP_PASSWORD_HASH_SIZE];
    if (app_password_hash(c.password, pwlen, 0, hash, sizeof hash) != 0)
        return fail("cannot hash the password (libcrypt bcrypt)%s%s", "", "");
    store_t *st = open_sync_store(&cfg);
    if (!st)
        return 1;
    store_new_user_t nu = {.email = c.email, .name = c.name, .role = c.role, .password_hash = hash};
    user_result_t r = {.status = STORE_EDB};
    store_user_create(st, &nu, on_user_created, &r);
    store_close(st, NULL, NULL);
    if (r.status == STORE_EEXIST)
        return fail("a user with email %s already exists%s", c.email, "");
    if (r.status != STORE_OK)
        return fail("cannot create the user: %s%s", store_strerror(r.status), "");
    printf("%s\n", r.id);
    return 0;
}

/* ---- sioc token -------------------------------------------------------------------- */

static int cmd_token(int argc, char **argv)
{
    cmd_args_t c = {0};
    app_config_t cfg;
    argc = take_cmd_flags(argc, argv, &c);
    if (argc < 0)
        return 2;
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (!c.email)
        return fail("token needs --email%s%s", "", "");
    char err[512];
    if (app_config_resolve_secret(&cfg, err, sizeof err) != 0)
        return fail("%s%s", err, "");
    store_t *st = open_sync_store(&cfg);
    if (!st)
        return 1;
    user_result_t r = {.status = STORE_EDB};
    store_user_get_by_email(st, c.email, on_user_created, &r);
    store_close(st, NULL, NULL);
    if (r.status == STORE_ENOTFOUND)
        return fail("no user with email %s%s", c.email, "");
    if (r.status != STORE_OK)
        return fail("cannot read the user: %s%s", store_strerror(r.status), "");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t exp = (now_us + cfg.jwt_expires_us) / 1000000;
    char tok[1024];
    int n = app_jwt_sign(cfg.secret_key, strlen(cfg.secret_key), r.id, !cfg.jwt_never_expires, exp,
                         (int64_t)ts.tv_sec, NULL, tok, sizeof tok);
    if (n < 0)
        return fail("cannot sign: %s%s", app_jwt_strerror(n), "");
    printf("%s\n", tok);
    return 0;
}

/* ---- serve ------------------------------------------------------------------------- */

static int cmd_serve(int argc, char **argv)
{
    app_config_t cfg;
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    char err[512];
    if (app_config_resolve_secret(&cfg, err, sizeof err) != 0)
        return fail("%s%s", err, "");
    app_t *app = NULL;
    if (app_new(&cfg, &app, err, sizeof err) != 0)
        return fail("%s%s", err, "");
    int port = app_listen(app, err, sizeof err);
    if (port < 0) {
        app_free(app);
        return fail("%s%s", err, "");
    }
    printf("listening on %s:%d\n", cfg.host, port);
    fflush(stdout);
    LOG(LOG_INFO, "sioc: serving /ws/socket.io/ on %s:%d (%s, %s%s)", cfg.host, port,
        cfg.enable_websocket ? "websocket" : "polling",
        cfg.database_url ? "DATABASE_URL" : "SQLite",
        strcmp(cfg.websocket_manager, "redis") == 0 ? ", Redis" : "");
    rc = app_run(app);
    app_free(app);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_user_add(argc - 3, argv + 3);
    if (argc >= 2 && strcmp(argv[1], "user") == 0)
        return fail("unknown command 'user %s' (try: sioc user add)%s", argc > 2 ? argv[2] : "",
                    "");
    if (argc >= 2 && strcmp(argv[1], "token") == 0)
        return cmd_token(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (argc >= 2 && strncmp(argv[1], "-", 1) != 0)
        return fail("unknown command '%s' (see --help)%s", argv[1], "");
    return cmd_serve(argc - 1, argv + 1);
}
