/*
 * Unit tests for src/cluster/clu_redis_url: redis-py URL meanings and Open WebUI's
 * WEBSOCKET_SENTINEL_HOSTS / WEBSOCKET_SENTINEL_PORT handling (utils/redis.py:
 * get_sentinels_from_env, parse_redis_service_url, get_sentinel_url_from_env).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cluster/clu_redis_url.h"

Test(clu_redis_url, plain_host_port_db, .timeout = 5)
{
    clu_redis_url_t u;
    const char *err = NULL;
    cr_assert_eq(clu_redis_url_parse("redis://127.0.0.1:6380/3", &u, &err), 0, "%s", err);
    cr_assert_str_eq(u.addr.host, "127.0.0.1");
    cr_assert_eq(u.addr.port, 6380);
    cr_assert_eq(u.db, 3);
    cr_assert_str_eq(u.password, "");
    cr_assert_eq(u.n_sentinels, 0);
    cr_assert(!u.unix_socket);

    cr_assert_eq(clu_redis_url_parse("redis://", &u, &err), 0);
    cr_assert_str_eq(u.addr.host, "localhost");
    cr_assert(u.addr.defaulted);
    cr_assert_eq(u.addr.port, 6379);
    cr_assert_eq(u.db, 0);

    cr_assert_eq(clu_redis_url_parse("redis://Redis.Example:7000", &u, &err), 0);
    cr_assert_str_eq(u.addr.host, "redis.example", "hosts are lower-cased like urlparse");
    cr_assert_eq(clu_redis_url_parse("redis://[::1]:6390/0", &u, &err), 0);
    cr_assert_str_eq(u.addr.host, "::1");
    cr_assert_eq(u.addr.port, 6390);
    cr_assert_eq(clu_redis_url_parse("redis://h/?db=5", &u, &err), 0);
    cr_assert_eq(u.db, 5);
}

Test(clu_redis_url, credentials, .timeout = 5)
{
    clu_redis_url_t u;
    const char *err = NULL;
    cr_assert_eq(clu_redis_url_parse("redis://:s3cret@h:1/2", &u, &err), 0, "%s", err);
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_eq(clu_redis_url_parse("redis://alice:p%40ss%3Aw0rd@h", &u, &err), 0);
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.password, "p@ss:w0rd", "percent-decoded as redis-py does");
    cr_assert_str_eq(u.addr.host, "h");
    cr_assert_eq(clu_redis_url_parse("redis://bob@h", &u, &err), 0);
    cr_assert_str_eq(u.user, "bob");
    cr_assert_str_eq(u.password, "");
}

Test(clu_redis_url, unix_and_sentinel_forms, .timeout = 5)
{
    clu_redis_url_t u;
    const char *err = NULL;
    cr_assert_eq(clu_redis_url_parse("unix:///run/redis.sock?db=4", &u, &err), 0, "%s", err);
    cr_assert(u.unix_socket);
    cr_assert_str_eq(u.addr.host, "/run/redis.sock");
    cr_assert_eq(u.db, 4);
    cr_assert_eq(clu_redis_url_parse("unix://:pw@/tmp/r.sock", &u, &err), 0);
    cr_assert_str_eq(u.password, "pw");
    cr_assert_str_eq(u.addr.host, "/tmp/r.sock");

    /* what get_sentinel_url_from_env builds for python-socketio */
    cr_assert_eq(clu_redis_url_parse("redis+sentinel://u:p@s1:26379,s2:26380/2/mymaster", &u, &err),
                 0, "%s", err);
    cr_assert_eq(u.n_sentinels, 2);
    cr_assert_str_eq(u.sentinels[0].host, "s1");
    cr_assert_eq(u.sentinels[1].port, 26380);
    cr_assert_eq(u.db, 2);
    cr_assert_str_eq(u.service, "mymaster");
    cr_assert_str_eq(u.user, "u");
    cr_assert_str_eq(u.password, "p");
    cr_assert_eq(clu_redis_url_parse("redis+sentinel://s1", &u, &err), 0);
    cr_assert_eq(u.sentinels[0].port, 26379);
    cr_assert_str_eq(u.service, "mymaster");
}

Test(clu_redis_url, rejects, .timeout = 5)
{
    clu_redis_url_t u;
    const char *err = NULL;
    const char *bad[] = {
        "rediss://h",  "http://h",     "redis://h:0", "redis://h:65536",     "redis://h:x",
        "redis://h/x", "redis://[::1", "unix://",     "redis+sentinel:///0", "redis://h/1?db=z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        cr_assert_eq(clu_redis_url_parse(bad[i], &u, &err), -1, "%s accepted", bad[i]);
        cr_assert_not_null(err);
    }
    char longurl[600] = "redis://";
    memset(longurl + 8, 'a', 400);
    cr_assert_eq(clu_redis_url_parse(longurl, &u, &err), -1);
}

/* Open WebUI: WEBSOCKET_REDIS_URL=redis://:pw@mymaster:6379/1,
 * WEBSOCKET_SENTINEL_HOSTS=sa,sb, WEBSOCKET_SENTINEL_PORT=26400 */
Test(clu_redis_url, openwebui_sentinel_env, .timeout = 5)
{
    clu_redis_url_t u;
    const char *err = NULL;
    cr_assert_eq(clu_redis_url_parse("redis://:pw@MyMaster:6379/1", &u, &err), 0);
    cr_assert_eq(clu_redis_url_set_sentinels(&u, "sa, sb ,,", "26400", &err), 0, "%s", err);
    cr_assert_eq(u.n_sentinels, 2);
    cr_assert_str_eq(u.sentinels[0].host, "sa");
    cr_assert_str_eq(u.sentinels[1].host, "sb");
    cr_assert_eq(u.sentinels[0].port, 26400);
    cr_assert_str_eq(u.service, "mymaster", "the URL host, lower-cased as urlparse reports it");
    cr_assert_eq(u.db, 1);
    cr_assert_str_eq(u.password, "pw");
    /* default port, and a URL without a host -> mymaster */
    cr_assert_eq(clu_redis_url_parse("redis://", &u, &err), 0);
    cr_assert_eq(clu_redis_url_set_sentinels(&u, "10.0.0.1", NULL, &err), 0);
    cr_assert_eq(u.sentinels[0].port, 26379);
    cr_assert_str_eq(u.service, "mymaster");
    /* empty list: unchanged; bad port: error */
    cr_assert_eq(clu_redis_url_parse("redis://h", &u, &err), 0);
    cr_assert_eq(clu_redis_url_set_sentinels(&u, "", "1", &err), 0);
    cr_assert_eq(u.n_sentinels, 0);
    cr_assert_eq(clu_redis_url_set_sentinels(&u, "a", "port", &err), -1);
}
