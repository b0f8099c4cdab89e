/*
 * app_config: the `sioc` program's settings from Open WebUI's environment variables and
 * from command-line flags (app layer).
 *
 * Every setting has an environment variable (Open WebUI's name where one exists,
 * openwebui-protocol.md §1.2, with its default and its parsing rules: booleans are
 * `.lower() == "true"`, an integer that does not parse falls back to the default) and a
 * flag (`--port 8080` or `--port=8080`). A flag wins over the variable. A bad flag value
 * is an error (the user typed it); a bad variable value is logged and defaulted, as Open
 * WebUI does. `sioc --help` prints the table (app_config_print_help).
 *
 * Ownership: the strings in app_config_t point into the argv and envp arrays given to
 * app_config_load (they must outlive the config: main's argv and environ do) or into the
 * config's own `_store` array. Nothing is heap-allocated; there is nothing to free.
 * Threading: none; call at start-up. No I/O except app_config_resolve_secret.
 */
#ifndef SIOC_APP_CONFIG_H
#define SIOC_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Longest value stored inside the config itself (the secret read from a key file). */
#define APP_CONFIG_STORE 256

/** Every setting, after parsing. */
typedef struct app_config {
    /* server */
    const char *host;              /* HOST / --host, default "127.0.0.1" */
    int port;                      /* PORT / --port, default 8080 (0 = any free port) */
    const char *data_dir;          /* DATA_DIR / --data-dir, default "./data" */
    const char *web_root;          /* SIOC_WEB_ROOT / --web-root, NULL = no static files */
    const char *database_url;      /* DATABASE_URL; NULL = SQLite <data_dir>/webui.db */
    bool enable_websocket;         /* ENABLE_WEBSOCKET_SUPPORT, default true: websocket only;
                                      false: polling only */
    uint32_t ping_interval_s;      /* WEBSOCKET_SERVER_PING_INTERVAL, default 25 */
    uint32_t ping_timeout_s;       /* WEBSOCKET_SERVER_PING_TIMEOUT, default 20 */
    const char *cors_allow_origin; /* CORS_ALLOW_ORIGIN, default "*" (';'-separated list) */
    size_t max_payload;            /* SIOC_MAX_PAYLOAD, default 1000000 (maxPayload) */
    bool ws_deflate;               /* SIOC_WS_DEFLATE, default true (permessage-deflate) */
    /* authentication */
    const char *secret_key;     /* WEBUI_SECRET_KEY, else WEBUI_JWT_SECRET_KEY, else the
                                   key file (app_config_resolve_secret) */
    const char *jwt_expires_in; /* JWT_EXPIRES_IN text, default "4w" */
    int64_t jwt_expires_us;     /* parsed; meaningless when jwt_never_expires */
    bool jwt_never_expires;     /* "-1", "0" or a zero sum */
    /* handlers */
    uint32_t heartbeat_interval_s;   /* WEBSOCKET_HEARTBEAT_INTERVAL, 0 = unset (client: 30) */
    uint32_t session_pool_timeout_s; /* max(4 * heartbeat interval, 120) */
    uint32_t event_call_timeout_s;   /* WEBSOCKET_EVENT_CALLER_TIMEOUT, 0 = wait forever */
    bool public_active_users;        /* ENABLE_PUBLIC_ACTIVE_USERS_COUNT, default true */
    bool default_channels_perm;      /* USER_PERMISSIONS_FEATURES_CHANNELS, default true: the
                                        features.channels permission of users whose groups
                                        grant nothing */
    uint32_t typing_interval_ms;     /* SIOC_TYPING_INTERVAL_MS, default 250: a socket's
                                        typing broadcasts closer than this are dropped */
    const char *emit_api_key;        /* SIOC_EMIT_API_KEY: the backend key of the emit/call
                                        endpoints; NULL = those endpoints answer 403 */
    /* logging */
    int log_level;         /* GLOBAL_LOG_LEVEL as a LOG_* level, default INFO */
    bool server_logging;   /* WEBSOCKET_SERVER_LOGGING, default false */
    bool engineio_logging; /* WEBSOCKET_SERVER_ENGINEIO_LOGGING, default = above */
    /* pipeline settings (kept for the chat pipeline; no socket-protocol effect) */
    bool realtime_chat_save;          /* ENABLE_REALTIME_CHAT_SAVE, default false */
    uint32_t stream_delta_chunk_size; /* CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE, default 1 */
    /* multi-node (Redis, openwebui-protocol.md §1.2, §5, §9): parsed and kept */
    const char *websocket_manager;            /* WEBSOCKET_MANAGER, "" (only "redis" switches) */
    const char *websocket_redis_format;       /* WEBSOCKET_REDIS_FORMAT, "python-socketio"
                                                 (Open WebUI's own manager) or "socketio"
                                                 (@socket.io/redis-adapter) */
    const char *websocket_redis_url;          /* WEBSOCKET_REDIS_URL, default REDIS_URL */
    const char *redis_url;                    /* REDIS_URL, "" */
    bool websocket_redis_cluster;             /* WEBSOCKET_REDIS_CLUSTER, default REDIS_CLUSTER */
    bool redis_cluster;                       /* REDIS_CLUSTER, false */
    const char *websocket_sentinel_hosts;     /* WEBSOCKET_SENTINEL_HOSTS, "" */
    uint32_t websocket_sentinel_port;         /* WEBSOCKET_SENTINEL_PORT, 26379 */
    uint32_t websocket_redis_lock_timeout_s;  /* WEBSOCKET_REDIS_LOCK_TIMEOUT, 60 */
    const char *websocket_redis_options;      /* WEBSOCKET_REDIS_OPTIONS (JSON), "" */
    bool websocket_redis_room_channels;       /* WEBSOCKET_REDIS_ROOM_CHANNELS, true */
    const char *redis_key_prefix;             /* REDIS_KEY_PREFIX, "open-webui" */
    const char *redis_sentinel_hosts;         /* REDIS_SENTINEL_HOSTS, "" */
    uint32_t redis_sentinel_port;             /* REDIS_SENTINEL_PORT, 26379 */
    uint32_t redis_sentinel_max_retry_count;  /* REDIS_SENTINEL_MAX_RETRY_COUNT, 2 */
    const char *redis_socket_connect_timeout; /* REDIS_SOCKET_CONNECT_TIMEOUT (s), unset */
    bool redis_socket_keepalive;              /* REDIS_SOCKET_KEEPALIVE, false */
    const char *redis_health_check_interval;  /* REDIS_HEALTH_CHECK_INTERVAL (s), unset */
    const char *redis_reconnect_delay;        /* REDIS_RECONNECT_DELAY (ms), unset */
    const char *redis_socket_timeout;         /* REDIS_SOCKET_TIMEOUT (s), unset */

    /* REST (app_rest_*.c, issue 6) */
    bool enable_signup;             /* ENABLE_SIGNUP, default true */
    const char *default_user_role;  /* DEFAULT_USER_ROLE, default "pending" */

    char _store[APP_CONFIG_STORE]; /* storage for a secret read from the key file */
} app_config_t;

/**
 * Fills `cfg` from the defaults, then the environment `envp` (NULL-terminated
 * "NAME=value" strings, e.g. `environ`; NULL = none), then the flags in argv[0..argc).
 * argv holds only flags and their values (the caller has removed the program name and
 * the subcommand). Returns 0; 1 when `--help` was given (nothing else is checked);
 * -1 with a one-line reason in `err` for an unknown flag, a missing or bad flag value,
 * or an unparsable JWT_EXPIRES_IN. Warnings for bad environment values are logged.
 */
int app_config_load(app_config_t *cfg, int argc, char **argv, char **envp, char *err,
                    size_t errlen);

/**
 * When no secret key is configured, reads `<data_dir>/.webui_secret_key`, creating it with
 * a random key the first time (Open WebUI's start script does the same with a file of that
 * name), so the server and the admin commands agree on the key. Returns 0, or -1 with a
 * reason in `err` (the file cannot be read or created). I/O; call at start-up.
 */
int app_config_resolve_secret(app_config_t *cfg, char *err, size_t errlen);

/** Prints the flags, their variables and defaults (for `sioc --help`). */
void app_config_print_help(FILE *out);

/**
 * Open WebUI's boolean parsing: true iff `text` lower-cased equals "true". NULL gives
 * `dflt`.
 */
bool app_config_parse_bool(const char *text, bool dflt);

/**
 * Python int() on a setting: surrounding whitespace allowed, an optional sign, digits
 * (underscores between digits as Python allows are refused here). Returns 0 and `*out`,
 * or -1.
 */
int app_config_parse_int(const char *text, long long *out);

#endif
