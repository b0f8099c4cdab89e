/* Unit tests for eio_cors: the expressjs/cors header rules (spec §1.10). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "eio/eio_cors.h"

static char out[1024];

static const char *headers(const char *cfg, bool cred, const char *origin)
{
    eio_cors_t c;
    buf_t b = BUF_INIT;
    eio_cors_init(&c, cfg, cred);
    eio_cors_headers(&c, origin != NULL, slice_from_cstr(origin), &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.len ? (char *)buf_data(&b) : "");
    buf_dispose(&b);
    eio_cors_dispose(&c);
    return out;
}

static const char *preflight(const char *cfg, bool cred, const char *origin, const char *acrh)
{
    eio_cors_t c;
    buf_t b = BUF_INIT;
    eio_cors_init(&c, cfg, cred);
    eio_cors_preflight_headers(&c, origin != NULL, slice_from_cstr(origin), acrh != NULL,
                               slice_from_cstr(acrh), &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.len ? (char *)buf_data(&b) : "");
    buf_dispose(&b);
    eio_cors_dispose(&c);
    return out;
}

Test(eio_cors, off_by_default)
{
    cr_assert_str_eq(headers(NULL, false, "http://a"), "");
    cr_assert_str_eq(headers("", true, "http://a"), "");
    cr_assert_str_eq(preflight(NULL, false, "http://a", "x"), "");
}

Test(eio_cors, any_origin)
{
    cr_assert_str_eq(headers("*", false, "http://a"), "Access-Control-Allow-Origin: *\r\n");
    cr_assert_str_eq(headers("*", false, NULL), "Access-Control-Allow-Origin: *\r\n");
}

Test(eio_cors, any_origin_with_credentials_reflects)
{
    cr_assert_str_eq(headers("*", true, "http://a.com"),
                     "Access-Control-Allow-Origin: http://a.com\r\nVary: Origin\r\n"
                     "Access-Control-Allow-Credentials: true\r\n");
}

Test(eio_cors, fixed_origin)
{
    const char *want = "Access-Control-Allow-Origin: http://example.com\r\nVary: Origin\r\n";
    cr_assert_str_eq(headers("http://example.com", false, "http://other"), want);
    cr_assert_str_eq(headers(" http://example.com ", false, NULL), want);
}

Test(eio_cors, list_reflects_allowed_only)
{
    const char *cfg = "http://a.com, http://b.com";
    cr_assert_str_eq(headers(cfg, false, "http://b.com"),
                     "Access-Control-Allow-Origin: http://b.com\r\nVary: Origin\r\n");
    cr_assert_str_eq(headers(cfg, false, "http://c.com"), "Vary: Origin\r\n");
    cr_assert_str_eq(headers(cfg, false, NULL), "Vary: Origin\r\n");
    cr_assert_str_eq(headers(cfg, true, "http://a.com"),
                     "Access-Control-Allow-Origin: http://a.com\r\nVary: Origin\r\n"
                     "Access-Control-Allow-Credentials: true\r\n");
}

Test(eio_cors, preflight_lines)
{
    cr_assert_str_eq(preflight("*", false, "http://a", "content-type,x-y"),
                     "Access-Control-Allow-Origin: *\r\n"
                     "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
                     "Access-Control-Allow-Headers: content-type,x-y\r\n"
                     "Vary: Access-Control-Request-Headers\r\n");
    cr_assert_str_eq(preflight("http://example.com", true, "http://example.com", NULL),
                     "Access-Control-Allow-Origin: http://example.com\r\n"
                     "Access-Control-Allow-Credentials: true\r\n"
                     "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
                     "Vary: Origin, Access-Control-Request-Headers\r\n");
}
