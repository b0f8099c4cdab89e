/*
 * Fuzz target for src/app/app_jwt (compiled in by #include: src/app is not in libsioc.a;
 * links with -lcjson).
 *
 * The first input byte picks a mode:
 *   0  the rest is a token: app_jwt_verify must not crash, and on success the id is a
 *      non-empty C string of at most APP_JWT_MAX_ID bytes;
 *   1  the rest is [header length][header JSON][payload JSON]: the fuzzer's JSON is
 *      signed with the key, so the payload parser and the claim rules get exercised past
 *      the MAC; a correctly signed token must never come back APP_JWT_ESIGNATURE;
 *   2  the rest is an id: app_jwt_sign then app_jwt_verify must round-trip it whenever
 *      signing succeeds;
 *   3  the rest is a JWT_EXPIRES_IN value for app_jwt_parse_expires.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_jwt.c"

#define FUZZ_KEY "fuzz-key"
#define FUZZ_NOW 1700000000.5

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_claims_shape(int rc, const app_jwt_claims_t *c)
{
    if (rc != APP_JWT_OK) {
        CHECK(c->id[0] == '\0');
        return;
    }
    size_t n = strnlen(c->id, sizeof c->id);
    CHECK(n > 0 && n <= APP_JWT_MAX_ID);
    CHECK(strnlen(c->jti, sizeof c->jti) <= APP_JWT_MAX_ID);
    CHECK(!c->has_exp || (double)c->exp > FUZZ_NOW);
}

static void fuzz_verify(const uint8_t *d, size_t n)
{
    app_jwt_claims_t c;
    int rc = app_jwt_verify(FUZZ_KEY, strlen(FUZZ_KEY), (const char *)d, n, FUZZ_NOW, &c);
    check_claims_shape(rc, &c);
}

static void fuzz_signed_json(const uint8_t *d, size_t n)
{
    if (n < 1)
        return;
    size_t hl = d[0];
    if (hl > n - 1)
        hl = n - 1;
    const uint8_t *h = d + 1, *p = d + 1 + hl;
    size_t pl = n - 1 - hl;
    if (pl > 2000)
        return;
    static char tok[APP_JWT_MAX_TOKEN + 8];
    size_t o = b64url_encode(h, hl, tok);
    tok[o++] = '.';
    o += b64url_encode(p, pl, tok + o);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    CHECK(HMAC(EVP_sha256(), FUZZ_KEY, (int)strlen(FUZZ_KEY), (const unsigned char *)tok, o, mac,
               &ml));
    tok[o++] = '.';
    o += b64url_encode(mac, ml, tok + o);
    app_jwt_claims_t c;
    int rc = app_jwt_verify(FUZZ_KEY, strlen(FUZZ_KEY), tok, o, FUZZ_NOW, &c);
    CHECK(rc != APP_JWT_ESIGNATURE);
    check_claims_shape(rc, &c);
}

static void fuzz_sign(const uint8_t *d, size_t n)
{
    char id[APP_JWT_MAX_ID + 2];
    if (n > APP_JWT_MAX_ID + 1)
        n = APP_JWT_MAX_ID + 1;
    memcpy(id, d, n);
    id[n] = '\0';
    char tok[4096];
    int len = app_jwt_sign(FUZZ_KEY, strlen(FUZZ_KEY), id, true, 1700000100, 1700000000, NULL, tok,
                           sizeof tok);
    if (len < 0)
        return;
    CHECK((size_t)len == strlen(tok));
    app_jwt_claims_t c;
    int rc = app_jwt_verify(FUZZ_KEY, strlen(FUZZ_KEY), tok, (size_t)len, FUZZ_NOW, &c);
    /* an id with the \u0000 escape cannot be signed: sign refuses ids with a NUL byte
     * implicitly (C string), so every signed token must verify to the same id */
    CHECK(rc == APP_JWT_OK);
    CHECK(strcmp(c.id, id) == 0);
    CHECK(c.has_exp && c.exp == 1700000100 && c.has_iat && c.iat == 1700000000);
}

static void fuzz_expires(const uint8_t *d, size_t n)
{
    char text[256];
    if (n > sizeof text - 1)
        n = sizeof text - 1;
    memcpy(text, d, n);
    text[n] = '\0';
    int64_t us;
    bool never;
    int rc = app_jwt_parse_expires(text, &us, &never);
    CHECK(rc == 0 || rc == -1);
    CHECK(rc != 0 || never == (us == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_verify(data + 1, size - 1);
        break;
    case 1:
        fuzz_signed_json(data + 1, size - 1);
        break;
    case 2:
        fuzz_sign(data + 1, size - 1);
        break;
    default:
        fuzz_expires(data + 1, size - 1);
        break;
    }
    return 0;
}
