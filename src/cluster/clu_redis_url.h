/*
 * clu_redis_url: Redis connection settings from URLs and Open WebUI's environment
 * (cluster layer, pure).
 *
 * Accepted forms, with redis-py's meaning (what Open WebUI hands its URLs to):
 *   redis://[[user]:password@]host[:port][/db][?db=N]   host may be [IPv6]; default
 *                                                       localhost:6379, db 0
 *   unix://[[user]:password@]/path/to/socket[?db=N]     (also redis+unix://)
 *   redis+sentinel://[[user]:password@]h1[:p1],h2[:p2]/db/service
 *                                                       python-socketio's sentinel form;
 *                                                       default port 26379, service
 *                                                       mymaster
 * User and password are percent-decoded (redis-py unquotes them). `rediss://` (TLS) is
 * refused: Debian's hiredis 0.14.1 has no TLS. Unknown query parameters are ignored.
 *
 * Open WebUI's Sentinel settings (openwebui-protocol.md §1.2, utils/redis.py
 * get_sentinels_from_env / parse_redis_service_url): WEBSOCKET_SENTINEL_HOSTS is a
 * comma list of hosts, all on WEBSOCKET_SENTINEL_PORT (default 26379); the master's
 * service name is the HOST of WEBSOCKET_REDIS_URL (lower-cased, as urlparse reports it;
 * `mymaster` when empty), and user, password and db come from that URL too.
 * clu_redis_url_set_sentinels applies exactly that to a parsed URL.
 *
 * Ownership: the struct holds copies (fixed arrays; no heap). Threading: pure.
 */
#ifndef SIOC_CLU_REDIS_URL_H
#define SIOC_CLU_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest host name (or unix socket path) kept, NUL included. */
#define CLU_REDIS_HOST_MAX 256
/** Most sentinels kept. */
#define CLU_REDIS_MAX_SENTINELS 8
/** Default ports. */
#define CLU_REDIS_DEFAULT_PORT 6379
#define CLU_REDIS_DEFAULT_SENTINEL_PORT 26379

/** A host and port. */
typedef struct clu_redis_addr {
    char host[CLU_REDIS_HOST_MAX]; /* name or IP literal, no brackets */
    uint16_t port;
    bool defaulted; /* the URL named no host: "localhost" assumed */
} clu_redis_addr_t;

/** Parsed connection settings. */
typedef struct clu_redis_url {
    bool unix_socket;      /* connect to the socket at addr.host */
    clu_redis_addr_t addr; /* the server (unused when sentinels are set) */
    char user[128];        /* ACL user ("" = the default user) */
    char password[256];    /* "" = no AUTH */
    unsigned db;           /* SELECT after connecting when non-zero */
    size_t n_sentinels;    /* > 0: find the master through these */
    clu_redis_addr_t sentinels[CLU_REDIS_MAX_SENTINELS];
    char service[128]; /* the master's name at the sentinels */
} clu_redis_url_t;

/**
 * Parses `url` (NUL-terminated) into `out`. Returns 0, or -1 with `*err` set to a static
 * reason (unknown scheme, TLS, bad port or db, a field too long, too many sentinels).
 */
int clu_redis_url_parse(const char *url, clu_redis_url_t *out, const char **err);

/**
 * Applies Open WebUI's WEBSOCKET_SENTINEL_HOSTS / WEBSOCKET_SENTINEL_PORT to `u` (parsed
 * from WEBSOCKET_REDIS_URL): `hosts` is the comma list (surrounding blanks of each entry
 * are trimmed; empty entries skipped), `port` the port text (NULL or "" -> 26379); the
 * service name becomes `u`'s host ("mymaster" when the URL had none). An empty `hosts`
 * leaves `u` unchanged. Returns 0, or -1 with `*err`.
 */
int clu_redis_url_set_sentinels(clu_redis_url_t *u, const char *hosts, const char *port,
                                const char **err);

#endif
