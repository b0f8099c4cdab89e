/* eio_cors: the expressjs/cors header rules, written into caller buffers. */
#include "eio/eio_cors.h"

#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

void eio_cors_init(eio_cors_t *c, const char *origins, bool credentials)
{
    memset(c, 0, sizeof *c);
    if (!origins || !*origins)
        return;
    c->enabled = true;
    c->credentials = credentials;
    size_t cap = 1;
    for (const char *p = origins; *p; p++)
        cap += *p == ',';
    c->origins = xcalloc(cap, sizeof *c->origins);
    const char *p = origins;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (b - a == 1 && *a == '*')
            c->any = true;
        else if (b > a)
            c->origins[c->n_origins++] = xstrndup(a, (size_t)(b - a));
        p = *end ? end + 1 : end;
    }
}

void eio_cors_dispose(eio_cors_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_origins; i++)
        free(c->origins[i]);
    free(c->origins);
    memset(c, 0, sizeof *c);
}

static bool origin_allowed(const eio_cors_t *c, slice_t origin)
{
    for (size_t i = 0; i < c->n_origins; i++) {
        if (slice_eq_cstr(origin, c->origins[i]))
            return true;
    }
    return false;
}

static void line(buf_t *out, const char *name, slice_t value)
{
    buf_append_cstr(out, name);
    buf_append_cstr(out, ": ");
    buf_append_slice(out, value);
    buf_append_cstr(out, "\r\n");
}

/* Writes Access-Control-Allow-Origin (when due) and returns whether "Vary: Origin" is
 * owed. */
static bool allow_origin(const eio_cors_t *c, bool has_origin, slice_t origin, buf_t *out)
{
    if (c->any && !c->credentials) {
        line(out, "Access-Control-Allow-Origin", SLICE_LIT("*"));
        return false;
    }
    if (c->any) {
        line(out, "Access-Control-Allow-Origin", has_origin ? origin : SLICE_LIT("*"));
        return true;
    }
    if (c->n_origins == 1) {
        line(out, "Access-Control-Allow-Origin", slice_from_cstr(c->origins[0]));
        return true;
    }
    if (has_origin && origin_allowed(c, origin))
        line(out, "Access-Control-Allow-Origin", origin);
    return true;
}

void eio_cors_headers(const eio_cors_t *c, bool has_origin, slice_t origin, buf_t *out)
{
    if (!c->enabled)
        return;
    bool vary = allow_origin(c, has_origin, origin, out);
    if (vary)
        line(out, "Vary", SLICE_LIT("Origin"));
    if (c->credentials)
        line(out, "Access-Control-Allow-Credentials", SLICE_LIT("true"));
}

void eio_cors_preflight_headers(const eio_cors_t *c, bool has_origin, slice_t origin,
                                bool has_req_headers, slice_t req_headers, buf_t *out)
{
    if (!c->enabled)
        return;
    bool vary = allow_origin(c, has_origin, origin, out);
    if (c->credentials)
        line(out, "Access-Control-Allow-Credentials", SLICE_LIT("true"));
    line(out, "Access-Control-Allow-Methods", SLICE_LIT("GET,HEAD,PUT,PATCH,POST,DELETE"));
    if (has_req_headers && req_headers.len)
        line(out, "Access-Control-Allow-Headers", req_headers);
    line(out, "Vary",
         vary ? SLICE_LIT("Origin, Access-Control-Request-Headers")
              : SLICE_LIT("Access-Control-Request-Headers"));
}
