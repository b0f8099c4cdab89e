/*
 * Unit tests for src/app/app_config: defaults, Open WebUI's parsing of the environment
 * (booleans are .lower() == "true", bad integers fall back to the default), flags over
 * variables, derived settings, and the key file.
 *
 * src/app is built only into build/sioc, so the module is #included (and app_jwt.c for
 * the JWT_EXPIRES_IN parser it calls).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../src/app/app_config.c"
#include "../../../src/app/app_jwt.c"

static int load(app_config_t *c, char **env, int argc, char **argv, char *err)
{
    return app_config_load(c, argc, argv, env, err, 256);
}

Test(app_config, defaults)
{
    app_config_t c;
    char err[256];
    cr_assert_eq(load(&c, NULL, 0, NULL, err), 0, "%s", err);
    cr_assert_str_eq(c.host, "127.0.0.1");
    cr_assert_eq(c.port, 8080);
    cr_assert_str_eq(c.data_dir, "./data");
    cr_assert_null(c.web_root);
    cr_assert_null(c.database_url);
    cr_assert(c.enable_websocket);
    cr_assert_eq(c.ping_interval_s, 25);
    cr_assert_eq(c.ping_timeout_s, 20);
    cr_assert_str_eq(c.cors_allow_origin, "*");
    cr_assert_eq(c.max_payload, 1000000);
    cr_assert_null(c.secret_key);
    cr_assert_str_eq(c.jwt_expires_in, "4w");
    cr_assert_eq(c.jwt_expires_us, 28LL * 86400 * 1000000);
    cr_assert_not(c.jwt_never_expires);
    cr_assert_eq(c.heartbeat_interval_s, 0);
    cr_assert_eq(c.session_pool_timeout_s, 120);
    cr_assert_eq(c.event_call_timeout_s, 0);
    cr_assert(c.public_active_users);
    cr_assert_eq(c.log_level, LOG_INFO);
    cr_assert_str_eq(c.redis_key_prefix, "open-webui");
    cr_assert_eq(c.websocket_sentinel_port, 26379);
    cr_assert_eq(c.websocket_redis_lock_timeout_s, 60);
    cr_assert(c.websocket_redis_room_channels);
    cr_assert_str_eq(c.websocket_manager, "");
}

Test(app_config, environment_parsing_like_open_webui)
{
    char *env[] = {"ENABLE_WEBSOCKET_SUPPORT=False",
                   "WEBSOCKET_SERVER_PING_INTERVAL= 7 ",
                   "WEBSOCKET_SERVER_PING_TIMEOUT=abc",
                   "ENABLE_PUBLIC_ACTIVE_USERS_COUNT=yes",
                   "WEBUI_JWT_SECRET_KEY=fallback",
                   "JWT_EXPIRES_IN=-1",
                   "WEBSOCKET_HEARTBEAT_INTERVAL=60",
                   "GLOBAL_LOG_LEVEL=warning",
                   "REDIS_URL=redis://r:6379/0",
                   "CORS_ALLOW_ORIGIN=http://a;http://b",
                   "WEBSOCKET_EVENT_CALLER_TIMEOUT=soon",
                   "PORT=",
                   NULL};
    app_config_t c;
    char err[256];
    cr_assert_eq(load(&c, env, 0, NULL, err), 0, "%s", err);
    cr_assert_not(c.enable_websocket);
    cr_assert_eq(c.ping_interval_s, 7);
    cr_assert_eq(c.ping_timeout_s, 20, "a bad integer falls back to the default");
    cr_assert_not(c.public_active_users, "only 'true' is true");
    cr_assert_str_eq(c.secret_key, "fallback");
    cr_assert(c.jwt_never_expires);
    cr_assert_eq(c.heartbeat_interval_s, 60);
    cr_assert_eq(c.session_pool_timeout_s, 240);
    cr_assert_eq(c.log_level, LOG_WARN);
    cr_assert_str_eq(c.websocket_redis_url, "redis://r:6379/0", "falls back to REDIS_URL");
    cr_assert_str_eq(c.cors_allow_origin, "http://a;http://b");
    cr_assert_eq(c.event_call_timeout_s, 300, "a bad caller timeout means 300 s");
    cr_assert_eq(c.port, 8080, "an empty number is unset");
    char *env2[] = {"WEBSOCKET_EVENT_CALLER_TIMEOUT=", NULL};
    cr_assert_eq(load(&c, env2, 0, NULL, err), 0);
    cr_assert_eq(c.event_call_timeout_s, 0, "empty: wait forever");
    char *env3[] = {"WEBSOCKET_EVENT_CALLER_TIMEOUT=45", NULL};
    cr_assert_eq(load(&c, env3, 0, NULL, err), 0);
    cr_assert_eq(c.event_call_timeout_s, 45);
}

Test(app_config, flags_win_and_both_spellings_work)
{
    char *env[] = {"PORT=9000", "WEBUI_SECRET_KEY=envkey", "DATABASE_URL=", NULL};
    char *argv[] = {"--port",
                    "0",
                    "--webui-secret-key=flagkey",
                    "--enable-websocket-support",
                    "TRUE",
                    "--websocket-heartbeat-interval",
                    "1"};
    app_config_t c;
    char err[256];
    cr_assert_eq(load(&c, env, 7, argv, err), 0, "%s", err);
    cr_assert_eq(c.port, 0);
    cr_assert_str_eq(c.secret_key, "flagkey");
    cr_assert(c.enable_websocket);
    cr_assert_null(c.database_url, "an empty DATABASE_URL means the default");
    cr_assert_eq(c.heartbeat_interval_s, 5, "clamped to 5..90");
}

Test(app_config, bad_flags_are_errors)
{
    struct {
        int argc;
        char *argv[3];
        const char *want;
    } cases[] = {
        {1, {"--nope"}, "unknown flag"},
        {1, {"--port"}, "needs a value"},
        {2, {"--port", "70000"}, "bad value"},
        {2, {"--websocket-server-ping-interval", "0"}, "bad value"},
        {2, {"--global-log-level", "LOUD"}, "bad value"},
        {2, {"--jwt-expires-in", "soon"}, "JWT_EXPIRES_IN"},
        {2, {"--websocket-redis-format", "msgpack"}, "bad value"},
        {1, {"positional"}, "unexpected argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        app_config_t c;
        char err[256] = "";
        cr_assert_eq(load(&c, NULL, cases[i].argc, cases[i].argv, err), -1, "case %zu", i);
        cr_assert(strstr(err, cases[i].want), "case %zu: %s", i, err);
    }
    char *help[] = {"--port", "1", "--help"};
    app_config_t c;
    char err[256];
    cr_assert_eq(load(&c, NULL, 3, help, err), 1);
}

Test(app_config, websocket_redis_format)
{
    app_config_t c;
    char err[256] = "";
    /* default: python-socketio, the format of Open WebUI's own instances */
    cr_assert_eq(load(&c, NULL, 0, NULL, err), 0, "%s", err);
    cr_assert_str_eq(c.websocket_redis_format, "python-socketio");
    char *env[] = {"WEBSOCKET_REDIS_FORMAT=socketio", NULL};
    cr_assert_eq(load(&c, env, 0, NULL, err), 0, "%s", err);
    cr_assert_str_eq(c.websocket_redis_format, "socketio");
    char *bad_env[] = {"WEBSOCKET_REDIS_FORMAT=json", NULL};
    cr_assert_eq(load(&c, bad_env, 0, NULL, err), 0, "a bad variable is logged and defaulted");
    cr_assert_str_eq(c.websocket_redis_format, "python-socketio");
    char *flag[] = {"--websocket-redis-format=socketio"};
    cr_assert_eq(load(&c, env, 1, flag, err), 0, "%s", err);
    cr_assert_str_eq(c.websocket_redis_format, "socketio");
}

Test(app_config, parse_helpers)
{
    long long v;
    cr_assert_eq(app_config_parse_int(" -12 ", &v), 0);
    cr_assert_eq(v, -12);
    cr_assert_eq(app_config_parse_int("1.5", &v), -1);
    cr_assert_eq(app_config_parse_int("", &v), -1);
    cr_assert_eq(app_config_parse_int("99999999999999999999999", &v), -1);
    cr_assert(app_config_parse_bool("TrUe", false));
    cr_assert_not(app_config_parse_bool("1", true));
    cr_assert(app_config_parse_bool(NULL, true));
}

Test(app_config, key_file_is_created_once_and_reused)
{
    char dir[] = "/tmp/sioc-cfg-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/data", dir);
    char *argv[] = {"--data-dir", sub};
    app_config_t a, b;
    char err[256];
    cr_assert_eq(load(&a, NULL, 2, argv, err), 0);
    cr_assert_eq(app_config_resolve_secret(&a, err, sizeof err), 0, "%s", err);
    cr_assert_geq(strlen(a.secret_key), 16);
    cr_assert_eq(load(&b, NULL, 2, argv, err), 0);
    cr_assert_eq(app_config_resolve_secret(&b, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(a.secret_key, b.secret_key);
    char path[400];
    snprintf(path, sizeof path, "%s/.webui_secret_key", sub);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}
