/*
 * clu_redis_url: URL and Open WebUI sentinel settings parsing. See the header.
 */
#include "cluster/clu_redis_url.h"

#include <ctype.h>
#include <string.h>

#include "base/slice.h"

static int fail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -1;
}

static bool starts(slice_t s, const char *prefix)
{
    return slice_starts_with(s, slice_from_cstr(prefix));
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies `s` percent-decoded (when `decode`) into dst[cap], NUL-terminated. */
static int copy_field(char *dst, size_t cap, slice_t s, bool decode, const char **err)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (decode && c == '%' && i + 2 < s.len && hexval(s.ptr[i + 1]) >= 0 &&
            hexval(s.ptr[i + 2]) >= 0) {
            c = (uint8_t)(hexval(s.ptr[i + 1]) * 16 + hexval(s.ptr[i + 2]));
            i += 2;
        }
        if (c == 0 || n + 1 >= cap)
            return fail(err, "redis url: field too long or contains NUL");
        dst[n++] = (char)c;
    }
    dst[n] = '\0';
    return 0;
}

static int parse_port(slice_t s, uint16_t *port, const char **err)
{
    uint64_t v;
    if (!slice_to_u64(s, 65535, &v) || v == 0)
        return fail(err, "redis url: bad port");
    *port = (uint16_t)v;
    return 0;
}

/* `host[:port]`, host possibly `[v6]`; the host is lower-cased as urlparse does. */
static int parse_hostport(slice_t s, clu_redis_addr_t *a, uint16_t def_port, const char **err)
{
    slice_t host = s, port = {NULL, 0};
    if (s.len && s.ptr[0] == '[') {
        long close = slice_index(s, ']');
        if (close < 0)
            return fail(err, "redis url: unclosed [ in host");
        host = slice_make(s.ptr + 1, (size_t)close - 1);
        slice_t rest = slice_tail(s, (size_t)close + 1);
        if (rest.len && rest.ptr[0] != ':')
            return fail(err, "redis url: junk after ]");
        port = slice_tail(rest, 1);
    } else {
        long colon = slice_index(s, ':');
        if (colon >= 0) {
            host = slice_make(s.ptr, (size_t)colon);
            port = slice_tail(s, (size_t)colon + 1);
        }
    }
    a->port = def_port;
    if (port.len && parse_port(port, &a->port, err) < 0)
        return -1;
    a->defaulted = host.len == 0;
    if (host.len == 0)
        host = SLICE_LIT("localhost");
    if (copy_field(a->host, sizeof a->host, host, false, err) < 0)
        return -1;
    for (char *p = a->host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* `[user]:password@` -> user, password (percent-decoded). */
static int parse_userinfo(slice_t s, clu_redis_url_t *u, const char **err)
{
    long colon = slice_index(s, ':');
    slice_t user = colon < 0 ? s : slice_make(s.ptr, (size_t)colon);
    slice_t pass = colon < 0 ? (slice_t){NULL, 0} : slice_tail(s, (size_t)colon + 1);
    if (copy_field(u->user, sizeof u->user, user, true, err) < 0)
        return -1;
    return copy_field(u->password, sizeof u->password, pass, true, err);
}

static int parse_db(slice_t s, unsigned *db, const char **err)
{
    uint64_t v;
    if (s.len == 0)
        return 0;
    if (!slice_to_u64(s, 1u << 20, &v))
        return fail(err, "redis url: bad db number");
    *db = (unsigned)v;
    return 0;
}

/* `?a=b&db=N`: only db is read. */
static int parse_query(slice_t q, unsigned *db, const char **err)
{
    while (q.len) {
        long amp = slice_index(q, '&');
        slice_t kv = amp < 0 ? q : slice_make(q.ptr, (size_t)amp);
        q = amp < 0 ? (slice_t){q.ptr + q.len, 0} : slice_tail(q, (size_t)amp + 1);
        if (starts(kv, "db=") && parse_db(slice_tail(kv, 3), db, err) < 0)
            return -1;
    }
    return 0;
}

/* redis+sentinel://hosts/db/service */
static int parse_sentinel_tail(slice_t hosts, slice_t path, clu_redis_url_t *u, const char **err)
{
    while (hosts.len) {
        long comma = slice_index(hosts, ',');
        slice_t one = comma < 0 ? hosts : slice_make(hosts.ptr, (size_t)comma);
        hosts =
            comma < 0 ? (slice_t){hosts.ptr + hosts.len, 0} : slice_tail(hosts, (size_t)comma + 1);
        if (one.len == 0)
            continue;
        if (u->n_sentinels == CLU_REDIS_MAX_SENTINELS)
            return fail(err, "redis url: too many sentinels");
        if (parse_hostport(one, &u->sentinels[u->n_sentinels++], CLU_REDIS_DEFAULT_SENTINEL_PORT,
                           err) < 0)
            return -1;
    }
    if (u->n_sentinels == 0)
        return fail(err, "redis url: no sentinel host");
    /* path: /db/service */
    slice_t p = slice_tail(path, 1);
    long slash = slice_index(p, '/');
    slice_t db = slash < 0 ? p : slice_make(p.ptr, (size_t)slash);
    slice_t service = slash < 0 ? (slice_t){NULL, 0} : slice_tail(p, (size_t)slash + 1);
    if (parse_db(db, &u->db, err) < 0)
        return -1;
    if (service.len == 0)
        service = SLICE_LIT("mymaster");
    return copy_field(u->service, sizeof u->service, service, false, err);
}

int clu_redis_url_parse(const char *url, clu_redis_url_t *out, const char **err)
{
    slice_t s = slice_from_cstr(url);
    memset(out, 0, sizeof *out);
    bool unix_sock = false, sentinel = false;
    if (starts(s, "redis://")) {
        s = slice_tail(s, 8);
    } else if (starts(s, "unix://") || starts(s, "redis+unix://")) {
        s = slice_tail(s, starts(s, "unix://") ? 7 : 13);
        unix_sock = true;
    } else if (starts(s, "redis+sentinel://")) {
        s = slice_tail(s, 17);
        sentinel = true;
    } else if (starts(s, "rediss://")) {
        return fail(err, "redis url: TLS (rediss://) is not supported by this build");
    } else {
        return fail(err, "redis url: unknown scheme (want redis://, unix:// or redis+sentinel://)");
    }
    long q = slice_index(s, '?');
    slice_t query = q < 0 ? (slice_t){NULL, 0} : slice_tail(s, (size_t)q + 1);
    if (q >= 0)
        s = slice_make(s.ptr, (size_t)q);
    long slash = slice_index(s, '/');
    slice_t authority = slash < 0 ? s : slice_make(s.ptr, (size_t)slash);
    slice_t path = slash < 0 ? (slice_t){NULL, 0} : slice_tail(s, (size_t)slash);
    /* the userinfo ends at the LAST '@' of the authority (passwords may contain '@'
     * only percent-encoded, but be lenient as urlparse is) */
    const uint8_t *at = NULL;
    for (size_t i = 0; i < authority.len; i++)
        if (authority.ptr[i] == '@')
            at = authority.ptr + i;
    if (at) {
        if (parse_userinfo(slice_make(authority.ptr, (size_t)(at - authority.ptr)), out, err) < 0)
            return -1;
        authority = slice_tail(authority, (size_t)(at - authority.ptr) + 1);
    }
    if (sentinel)
        return parse_sentinel_tail(authority, path, out, err);
    if (unix_sock) {
        out->unix_socket = true;
        if (path.len == 0)
            return fail(err, "redis url: unix socket path missing");
        if (copy_field(out->addr.host, sizeof out->addr.host, path, false, err) < 0)
            return -1;
        return parse_query(query, &out->db, err);
    }
    if (parse_hostport(authority, &out->addr, CLU_REDIS_DEFAULT_PORT, err) < 0)
        return -1;
    if (parse_db(slice_tail(path, 1), &out->db, err) < 0)
        return -1;
    return parse_query(query, &out->db, err);
}

int clu_redis_url_set_sentinels(clu_redis_url_t *u, const char *hosts, const char *port,
                                const char **err)
{
    uint16_t p = CLU_REDIS_DEFAULT_SENTINEL_PORT;
    slice_t list = slice_from_cstr(hosts);
    size_t n = 0;
    clu_redis_addr_t tmp[CLU_REDIS_MAX_SENTINELS];
    if (port && *port && parse_port(slice_from_cstr(port), &p, err) < 0)
        return -1;
    while (list.len) {
        long comma = slice_index(list, ',');
        slice_t one = comma < 0 ? list : slice_make(list.ptr, (size_t)comma);
        list = comma < 0 ? (slice_t){list.ptr + list.len, 0} : slice_tail(list, (size_t)comma + 1);
        while (one.len && isspace(one.ptr[0]))
            one = slice_tail(one, 1);
        while (one.len && isspace(one.ptr[one.len - 1]))
            one.len--;
        if (one.len == 0)
            continue;
        if (n == CLU_REDIS_MAX_SENTINELS)
            return fail(err, "redis sentinels: too many hosts");
        if (copy_field(tmp[n].host, sizeof tmp[n].host, one, false, err) < 0)
            return -1;
        tmp[n++].port = p;
    }
    if (n == 0)
        return 0;
    /* urlparse(...).hostname or 'mymaster' */
    const char *service = u->unix_socket || u->addr.defaulted ? "mymaster" : u->addr.host;
    if (copy_field(u->service, sizeof u->service, slice_from_cstr(service), false, err) < 0)
        return -1;
    memcpy(u->sentinels, tmp, n * sizeof tmp[0]);
    u->n_sentinels = n;
    return 0;
}
