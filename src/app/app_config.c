/*
 * app_config: settings from the environment and the flags. See app_config.h.
 *
 * One table lists every setting: its flag, its variable(s), its kind, where it lands in
 * app_config_t and its default. Loading collects one raw string per setting (default,
 * then environment, then flag) and converts each by kind; a few settings derived from
 * others (JWT expiry, session pool timeout, the engineio logging fallback) are computed
 * at the end.
 */
#include "app/app_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "app/app_jwt.h"
#include "base/base64.h"
#include "base/log.h"

typedef enum kind {
    K_STR,   /* const char *; "" stays "" unless the setting says NULL_EMPTY */
    K_BOOL,  /* Python .lower() == "true" */
    K_U32,   /* positive int; bad env -> default */
    K_U32Z,  /* non-negative int (0 allowed) */
    K_PORT,  /* 0..65535 */
    K_SIZE,  /* positive size_t */
    K_LEVEL, /* log level name */
    K_RFMT,  /* Redis adapter wire format: "python-socketio" or "socketio" */
} kind_t;

enum { F_NULL_EMPTY = 1 }; /* K_STR: an empty value means "unset" (NULL) */

typedef struct opt {
    const char *flag; /* without the leading "--" */
    const char *env;  /* primary variable, NULL = flag only */
    const char *env2; /* fallback variable read when `env` is unset */
    kind_t kind;
    unsigned flags;
    size_t off;       /* offsetof(app_config_t, field) */
    const char *dflt; /* default as text; NULL = unset */
    const char *help;
} opt_t;

#define OFF(f) offsetof(app_config_t, f)

static const opt_t opts[] = {
    {"host", "HOST", NULL, K_STR, 0, OFF(host), "127.0.0.1", "address to listen on"},
    {"port", "PORT", NULL, K_PORT, 0, OFF(port), "8080", "TCP port (0 = any free port)"},
    {"data-dir", "DATA_DIR", NULL, K_STR, 0, OFF(data_dir), "./data",
     "folder of webui.db and the secret key file"},
    {"web-root", "SIOC_WEB_ROOT", NULL, K_STR, F_NULL_EMPTY, OFF(web_root), NULL,
     "serve static files from this folder for other GET requests"},
    {"database-url", "DATABASE_URL", NULL, K_STR, F_NULL_EMPTY, OFF(database_url), NULL,
     "sqlite:///path or postgresql://...; default SQLite in the data dir"},
    {"enable-websocket-support", "ENABLE_WEBSOCKET_SUPPORT", NULL, K_BOOL, 0, OFF(enable_websocket),
     "true", "true: websocket transport only; false: polling only"},
    {"websocket-server-ping-interval", "WEBSOCKET_SERVER_PING_INTERVAL", NULL, K_U32, 0,
     OFF(ping_interval_s), "25", "Engine.IO ping interval, seconds"},
    {"websocket-server-ping-timeout", "WEBSOCKET_SERVER_PING_TIMEOUT", NULL, K_U32, 0,
     OFF(ping_timeout_s), "20", "Engine.IO ping timeout, seconds"},
    {"cors-allow-origin", "CORS_ALLOW_ORIGIN", NULL, K_STR, 0, OFF(cors_allow_origin), "*",
     "allowed origins, ';'-separated, or *"},
    {"max-payload", "SIOC_MAX_PAYLOAD", NULL, K_SIZE, 0, OFF(max_payload), "1000000",
     "largest message or POST body, bytes"},
    {"ws-deflate", "SIOC_WS_DEFLATE", NULL, K_BOOL, 0, OFF(ws_deflate), "true",
     "accept permessage-deflate on websockets"},
    {"webui-secret-key", "WEBUI_SECRET_KEY", "WEBUI_JWT_SECRET_KEY", K_STR, F_NULL_EMPTY,
     OFF(secret_key), NULL,
     "HS256 key of the session JWTs (default: <data-dir>/.webui_secret_key)"},
    {"jwt-expires-in", "JWT_EXPIRES_IN", NULL, K_STR, 0, OFF(jwt_expires_in), "4w",
     "lifetime of tokens made by `sioc token` (-1 = never)"},
    {"websocket-heartbeat-interval", "WEBSOCKET_HEARTBEAT_INTERVAL", NULL, K_U32Z, 0,
     OFF(heartbeat_interval_s), "0", "client heartbeat seconds (5..90; 0 = unset, 30)"},
    {"websocket-event-caller-timeout", "WEBSOCKET_EVENT_CALLER_TIMEOUT", NULL, K_U32Z, 0,
     OFF(event_call_timeout_s), "0", "event call ack timeout, seconds (0 = wait forever)"},
    {"enable-public-active-users-count", "ENABLE_PUBLIC_ACTIVE_USERS_COUNT", NULL, K_BOOL, 0,
     OFF(public_active_users), "true", "GET /api/usage for non-admins"},
    {"user-permissions-features-channels", "USER_PERMISSIONS_FEATURES_CHANNELS", NULL, K_BOOL, 0,
     OFF(default_channels_perm), "true", "features.channels for users no group grants it to"},
    {"typing-interval-ms", "SIOC_TYPING_INTERVAL_MS", NULL, K_U32Z, 0, OFF(typing_interval_ms),
     "250", "per-socket minimum gap between typing broadcasts"},
    {"emit-api-key", "SIOC_EMIT_API_KEY", NULL, K_STR, F_NULL_EMPTY, OFF(emit_api_key), NULL,
     "Bearer key of POST /api/v1/socket/* (unset: 403)"},
    {"global-log-level", "GLOBAL_LOG_LEVEL", NULL, K_LEVEL, 0, OFF(log_level), "INFO",
     "ERROR, WARNING, INFO, DEBUG"},
    {"websocket-server-logging", "WEBSOCKET_SERVER_LOGGING", NULL, K_BOOL, 0, OFF(server_logging),
     "false", "log Socket.IO events"},
    {"websocket-server-engineio-logging", "WEBSOCKET_SERVER_ENGINEIO_LOGGING", NULL, K_BOOL, 0,
     OFF(engineio_logging), NULL, "log Engine.IO traffic (default: the above)"},
    {"enable-realtime-chat-save", "ENABLE_REALTIME_CHAT_SAVE", NULL, K_BOOL, 0,
     OFF(realtime_chat_save), "false", "chat pipeline: save while streaming"},
    {"chat-response-stream-delta-chunk-size", "CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE", NULL, K_U32,
     0, OFF(stream_delta_chunk_size), "1", "chat pipeline: deltas per emit"},
    {"websocket-manager", "WEBSOCKET_MANAGER", NULL, K_STR, 0, OFF(websocket_manager), "",
     "\"redis\": pools, locks and Yjs documents shared in Redis (multi-node)"},
    {"websocket-redis-format", "WEBSOCKET_REDIS_FORMAT", NULL, K_RFMT, 0,
     OFF(websocket_redis_format), "python-socketio",
     "Redis wire format: python-socketio (beside Open WebUI) or socketio (Node adapter)"},
    {"websocket-redis-url", "WEBSOCKET_REDIS_URL", "REDIS_URL", K_STR, 0, OFF(websocket_redis_url),
     "", "Redis of the socket layer (default REDIS_URL)"},
    {"redis-url", "REDIS_URL", NULL, K_STR, 0, OFF(redis_url), "", "application Redis"},
    {"websocket-redis-cluster", "WEBSOCKET_REDIS_CLUSTER", "REDIS_CLUSTER", K_BOOL, 0,
     OFF(websocket_redis_cluster), "false", "Redis Cluster client for the pools"},
    {"redis-cluster", "REDIS_CLUSTER", NULL, K_BOOL, 0, OFF(redis_cluster), "false",
     "Redis Cluster client"},
    {"websocket-sentinel-hosts", "WEBSOCKET_SENTINEL_HOSTS", NULL, K_STR, 0,
     OFF(websocket_sentinel_hosts), "", "comma-separated sentinel hosts"},
    {"websocket-sentinel-port", "WEBSOCKET_SENTINEL_PORT", NULL, K_U32, 0,
     OFF(websocket_sentinel_port), "26379", "sentinel port"},
    {"websocket-redis-lock-timeout", "WEBSOCKET_REDIS_LOCK_TIMEOUT", NULL, K_U32, 0,
     OFF(websocket_redis_lock_timeout_s), "60", "cleanup lock TTL, seconds"},
    {"websocket-redis-options", "WEBSOCKET_REDIS_OPTIONS", NULL, K_STR, 0,
     OFF(websocket_redis_options), "", "JSON options of the Socket.IO Redis manager"},
    {"websocket-redis-room-channels", "WEBSOCKET_REDIS_ROOM_CHANNELS", NULL, K_BOOL, 0,
     OFF(websocket_redis_room_channels), "true", "per-room Redis channels"},
    {"redis-key-prefix", "REDIS_KEY_PREFIX", NULL, K_STR, 0, OFF(redis_key_prefix), "open-webui",
     "prefix of the Redis keys"},
    {"redis-sentinel-hosts", "REDIS_SENTINEL_HOSTS", NULL, K_STR, 0, OFF(redis_sentinel_hosts), "",
     "application Redis sentinels"},
    {"redis-sentinel-port", "REDIS_SENTINEL_PORT", NULL, K_U32, 0, OFF(redis_sentinel_port),
     "26379", "application sentinel port"},
    {"redis-sentinel-max-retry-count", "REDIS_SENTINEL_MAX_RETRY_COUNT", NULL, K_U32Z, 0,
     OFF(redis_sentinel_max_retry_count), "2", "sentinel retries"},
    {"redis-socket-connect-timeout", "REDIS_SOCKET_CONNECT_TIMEOUT", NULL, K_STR, F_NULL_EMPTY,
     OFF(redis_socket_connect_timeout), NULL, "seconds"},
    {"redis-socket-keepalive", "REDIS_SOCKET_KEEPALIVE", NULL, K_BOOL, 0,
     OFF(redis_socket_keepalive), "false", "TCP keepalive on Redis sockets"},
    {"redis-health-check-interval", "REDIS_HEALTH_CHECK_INTERVAL", NULL, K_STR, F_NULL_EMPTY,
     OFF(redis_health_check_interval), NULL, "seconds"},
    {"redis-reconnect-delay", "REDIS_RECONNECT_DELAY", NULL, K_STR, F_NULL_EMPTY,
     OFF(redis_reconnect_delay), NULL, "milliseconds"},
    {"redis-socket-timeout", "REDIS_SOCKET_TIMEOUT", NULL, K_STR, F_NULL_EMPTY,
     OFF(redis_socket_timeout), NULL, "seconds"},
    /* REST (app_rest_*.c, issue 6) */
    {"enable-signup", "ENABLE_SIGNUP", NULL, K_BOOL, 0, OFF(enable_signup), "true",
     "POST /api/v1/auths/signup for everyone (the first user can always sign up)"},
    {"default-user-role", "DEFAULT_USER_ROLE", NULL, K_STR, 0, OFF(default_user_role), "pending",
     "role of users who sign up after the first (pending, user or admin)"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

/* The value of NAME in envp, or NULL. */
static const char *env_get(char **envp, const char *name)
{
    if (!envp || !name)
        return NULL;
    size_t n = strlen(name);
    for (char **e = envp; *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

bool app_config_parse_bool(const char *text, bool dflt)
{
    if (!text)
        return dflt;
    return strcasecmp(text, "true") == 0;
}

int app_config_parse_int(const char *text, long long *out)
{
    if (!text)
        return -1;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    const char *start = p;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p))
        p++;
    const char *end = p;
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    errno = 0;
    char tmp[32];
    size_t n = (size_t)(end - start);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    long long v = strtoll(tmp, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

/* Converts `text` by the option's kind into the config field. -1 when it does not parse. */
static int convert(app_config_t *cfg, const opt_t *o, const char *text)
{
    char *field = (char *)cfg + o->off;
    long long v = 0;
    switch (o->kind) {
    case K_STR:
        *(const char **)field = (text && !*text && (o->flags & F_NULL_EMPTY)) ? NULL : text;
        return 0;
    case K_BOOL:
        *(bool *)field = app_config_parse_bool(text, false);
        return 0;
    case K_RFMT:
        if (strcmp(text, "python-socketio") != 0 && strcmp(text, "socketio") != 0)
            return -1;
        *(const char **)field = text;
        return 0;
    case K_LEVEL: {
        int lvl = (text && !*text) ? LOG_INFO : log_level_parse(text);
        if (lvl < 0)
            return -1;
        *(int *)field = lvl;
        return 0;
    }
    default:
        break;
    }
    if (app_config_parse_int(text, &v) != 0)
        return -1;
    switch (o->kind) {
    case K_U32:
        if (v <= 0 || v > UINT32_MAX)
            return -1;
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    case K_U32Z:
        if (v < 0 || v > UINT32_MAX)
            return -1;
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    case K_PORT:
        if (v < 0 || v > 65535)
            return -1;
        *(int *)field = (int)v;
        return 0;
    case K_SIZE:
        if (v <= 0)
            return -1;
        *(size_t *)field = (size_t)v;
        return 0;
    default:
        return -1;
    }
}

static const opt_t *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* The flag values, by option index: argv strings (or pointers after '='). */
static int collect_flags(int argc, char **argv, const char **vals, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = find_flag(name, len);
        if (!o) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)len, name);
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag --%s needs a value", o->flag);
                return -1;
            }
            val = argv[++i];
        }
        vals[o - opts] = val;
    }
    return 0;
}

/* Settings computed from others once everything is parsed. */
static int derive(app_config_t *cfg, bool eio_log_set, char *err, size_t errlen)
{
    if (!eio_log_set)
        cfg->engineio_logging = cfg->server_logging;
    uint32_t hb = cfg->heartbeat_interval_s;
    if (hb != 0 && hb < 5)
        hb = 5;
    if (hb > 90)
        hb = 90;
    cfg->heartbeat_interval_s = hb;
    cfg->session_pool_timeout_s = hb * 4 > 120 ? hb * 4 : 120;
    if (app_jwt_parse_expires(cfg->jwt_expires_in, &cfg->jwt_expires_us, &cfg->jwt_never_expires) !=
        0) {
        snprintf(err, errlen, "JWT_EXPIRES_IN '%s' is not a duration (e.g. 4w, 12h, -1)",
                 cfg->jwt_expires_in);
        return -1;
    }
    return 0;
}

int app_config_load(app_config_t *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    const char *flag_vals[N_OPTS] = {0};
    int rc = collect_flags(argc, argv, flag_vals, err, errlen);
    if (rc != 0)
        return rc;
    bool eio_log_set = false;
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &opts[i];
        if (o->dflt && convert(cfg, o, o->dflt) != 0) {
            snprintf(err, errlen, "internal: bad default of --%s", o->flag);
            return -1;
        }
        const char *ev = env_get(envp, o->env);
        if (!ev)
            ev = env_get(envp, o->env2);
        bool numeric = o->kind != K_STR && o->kind != K_BOOL && o->kind != K_LEVEL &&
                       o->kind != K_RFMT;
        if (ev && !*ev && numeric)
            ev = NULL; /* "" is "unset" (WEBSOCKET_EVENT_CALLER_TIMEOUT: wait forever) */
        if (ev && convert(cfg, o, ev) != 0) {
            /* Open WebUI: an unparsable caller timeout means 300 s, others their default */
            bool caller = o->off == OFF(event_call_timeout_s);
            LOG(LOG_WARN, "config: %s='%s' is not valid, using %s", o->env, ev,
                caller    ? "300"
                : o->dflt ? o->dflt
                          : "the default");
            if (caller)
                cfg->event_call_timeout_s = 300;
            else if (o->dflt)
                convert(cfg, o, o->dflt);
        }
        if (flag_vals[i] && convert(cfg, o, flag_vals[i]) != 0) {
            snprintf(err, errlen, "bad value '%s' for --%s", flag_vals[i], o->flag);
            return -1;
        }
        if (o->off == OFF(engineio_logging) && (ev || flag_vals[i]))
            eio_log_set = true;
    }
    return derive(cfg, eio_log_set, err, errlen);
}

/* Reads the key file into cfg->_store; 0 = read, 1 = absent, -1 = error. */
static int read_key_file(app_config_t *cfg, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    ssize_t n = read(fd, cfg->_store, sizeof cfg->_store - 1);
    close(fd);
    if (n < 0)
        return -1;
    while (n > 0 &&
           (cfg->_store[n - 1] == '\n' || cfg->_store[n - 1] == '\r' || cfg->_store[n - 1] == ' '))
        n--;
    cfg->_store[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* Creates the key file with 12 random bytes in base64 (as Open WebUI's start.sh). */
static int write_key_file(app_config_t *cfg, const char *path)
{
    unsigned char raw[12];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    size_t n = base64_encode(raw, sizeof raw, cfg->_store, 0);
    cfg->_store[n] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? read_key_file(cfg, path) : -1;
    bool ok = write(fd, cfg->_store, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
    if (close(fd) != 0)
        ok = false;
    return ok ? 0 : -1;
}

int app_config_resolve_secret(app_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->secret_key && *cfg->secret_key)
        return 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.webui_secret_key", cfg->data_dir) >= (int)sizeof path) {
        snprintf(err, errlen, "data dir path too long");
        return -1;
    }
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    int rc = read_key_file(cfg, path);
    if (rc == 1)
        rc = write_key_file(cfg, path);
    if (rc != 0) {
        snprintf(err, errlen, "no WEBUI_SECRET_KEY and cannot use %s: %s", path,
                 errno ? strerror(errno) : "empty file");
        return -1;
    }
    cfg->secret_key = cfg->_store;
    return 0;
}

void app_config_print_help(FILE *out)
{
    fprintf(out, "usage: sioc [serve] [flags]       serve Open WebUI's real-time layer\n"
                 "       sioc user add --email E --name N --role admin|user|pending --password P\n"
                 "                                   create a user, print its id\n"
                 "       sioc token --email E        print a signed session JWT for a user\n"
                 "\nflags (each also read from the environment variable shown; a flag wins):\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &opts[i];
        char left[80];
        snprintf(left, sizeof left, "--%s", o->flag);
        fprintf(out, "  %-40s %s", left, o->help);
        if (o->dflt && *o->dflt)
            fprintf(out, " [%s]", o->dflt);
        fprintf(out, "\n  %-40s env %s%s%s\n", "", o->env ? o->env : "-", o->env2 ? ", else " : "",
                o->env2 ? o->env2 : "");
    }
}
