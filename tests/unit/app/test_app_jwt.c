/*
 * Unit tests for src/app/app_jwt.
 *
 * The module is compiled into this test by #include (src/app is not part of libsioc.a;
 * see the note at the include). Needs -lcjson at link time.
 *
 * The token literals below were generated at test-writing time with Debian's python3-jwt
 * (PyJWT 2.6.0, /usr/bin/python3), key "t0p-s3cr3t-test", with PyJWT's clock frozen at
 * NOW = 1700000000; the comment on each says what jwt.decode(tok, key, ["HS256"]) did.
 * Where PyJWT 2.6 and 2.13 (Open WebUI's pin) differ, the test follows 2.13 and says so.
 */
#include <criterion/criterion.h>
#include <string.h>

/* src/app is built only into build/sioc; include the module under test. */
#include "../../../src/app/app_jwt.c"

#define KEY "t0p-s3cr3t-test"
#define NOW 1700000000.0

static int verify(const char *tok, app_jwt_claims_t *c)
{
    return app_jwt_verify(KEY, strlen(KEY), tok, strlen(tok), NOW, c);
}

/* jwt.encode({"id":..., "exp":4102444800, "jti":..., "iat":1699999000}) -> decodes OK */
static const char tok_valid[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IjhmM2I0YzJlLTFkN2EtNGU1OS05YjZjLTJhMWYwZTlk"
    "OGM3YiIsImV4cCI6NDEwMjQ0NDgwMCwianRpIjoiMGI3YzlkMWUtMmYzYS00YjVjLThkNmUtN2Y4MDkxYTJiM2M0Ii"
    "wiaWF0IjoxNjk5OTk5MDAwfQ.0l-sqkLC0HpsLLlYLKh-d-46IpOKPpXUKt_F4wzXh68";
/* {"id":"u-noexp","jti":"j1","iat":1699999000}: JWT_EXPIRES_IN=-1 style, no exp -> OK */
static const char tok_noexp[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUtbm9leHAiLCJqdGkiOiJqMSIsImlhdCI6MTY5OTk5"
    "OTAwMH0.W2i8xqxX-qtH8YyVG3kOzUcjc11KWUYGKLcnDlwtcLw";

Test(app_jwt, valid_token_yields_claims, .timeout = 5)
{
    app_jwt_claims_t c;
    cr_assert_eq(verify(tok_valid, &c), APP_JWT_OK);
    cr_assert_str_eq(c.id, "8f3b4c2e-1d7a-4e59-9b6c-2a1f0e9d8c7b");
    cr_assert(c.has_exp);
    cr_assert_eq(c.exp, 4102444800LL);
    cr_assert(c.has_iat);
    cr_assert_eq(c.iat, 1699999000LL);
    cr_assert_str_eq(c.jti, "0b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4");
}

Test(app_jwt, token_without_exp_never_expires, .timeout = 5)
{
    app_jwt_claims_t c;
    cr_assert_eq(verify(tok_noexp, &c), APP_JWT_OK);
    cr_assert_str_eq(c.id, "u-noexp");
    cr_assert_not(c.has_exp);
    /* far in the future it still verifies */
    cr_assert_eq(app_jwt_verify(KEY, strlen(KEY), tok_noexp, strlen(tok_noexp), 9e12, &c),
                 APP_JWT_OK);
}

typedef struct vec {
    const char *name;
    const char *tok;
    int want;
} vec_t;

/* Refused by PyJWT (or by Open WebUI's `'id' in payload` / user lookup) in every row. */
static const vec_t refused[] = {
    /* ExpiredSignatureError */
    {"expired",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjoxNjAwMDAwMDAwfQ.50-Vn1Hjtyuoi"
     "4pJbbFDw73qei4bLUw8D9UotFWFfac",
     APP_JWT_EEXPIRED},
    /* exp == now is expired (exp <= now) */
    {"exp_now",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjoxNzAwMDAwMDAwfQ.AAY8lwz2X4DEb"
     "wDfKJdqFSbLmZwFgv7m9JGLiGjPJT0",
     APP_JWT_EEXPIRED},
    /* exp: true is int(True) == 1 -> expired */
    {"exp_true",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjp0cnVlfQ.MZQ_JQFKMyS5RcHVVjdpBx"
     "2ZpNH0TFviocts2tsBLwA",
     APP_JWT_EEXPIRED},
    /* exp: null -> int(None) raises TypeError */
    {"exp_null",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjpudWxsfQ.1ufIL5ZdrvOZ1s6g-aACQ"
     "BMHMa2fC47cb7or8vqFMgc",
     APP_JWT_ECLAIM},
    /* exp: "soon" -> DecodeError */
    {"exp_text",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjoic29vbiJ9.2aKT1esF2nDB31D5QyX"
     "8OWqR3s3XklvwFAccQhEZYbI",
     APP_JWT_ECLAIM},
    /* InvalidAlgorithmError: signed with HS512 and the same key */
    {"hs512",
     "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.X8HE0hIHe_JAFO8GJfOga_EWnF1V37Yn6GSF"
     "3GQ1u_SSyMgVjY6jHxTAlWosYlAYnfbBVbb5mKckcfmzkGsI7g",
     APP_JWT_EALG},
    /* alg "none" carrying a (valid HS256) signature: the alg is pinned */
    {"alg_none",
     "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpZCI6InUxIn0.L5ctb90-GNnZlwW0zfgC04rqtRD4T-ZYCGH4S"
     "HFPHE0",
     APP_JWT_EALG},
    /* alg "none" with the empty signature an attacker would send */
    {"alg_none_unsigned", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpZCI6InUxIn0.",
     APP_JWT_EMALFORMED},
    {"no_alg", "eyJ0eXAiOiJKV1QifQ.eyJpZCI6InUxIn0.2vJIYpZQB02ry6jDcQmB8XS_kEDbtomy7g8ZNjwitzQ",
     APP_JWT_EALG},
    {"rs256",
     "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.w3QLzNGbZAoqrC1ylAnPUvaWZFuzxHuHNFsn"
     "3pNbKNQ",
     APP_JWT_EALG},
    {"alg_lowercase",
     "eyJhbGciOiJoczI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.ifv3cnbfeRXbuawrf9fmQPhyJEm5-88YK4gq"
     "H5RCfhc",
     APP_JWT_EALG},
    /* InvalidSignatureError: another key */
    {"wrong_key",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.j_Ci-CE8XJmJZD8AluDOB5SwIFuclPKZIrI-"
     "ezmd6jQ",
     APP_JWT_ESIGNATURE},
    /* valid token's header and signature over another payload */
    {"tampered",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUtbm9leHAiLCJqdGkiOiJqMSIsImlhdCI6MTY5OTk5"
     "OTAwMH0.0l-sqkLC0HpsLLlYLKh-d-46IpOKPpXUKt_F4wzXh68",
     APP_JWT_ESIGNATURE},
    /* PyJWT accepts {"sub":"u1",...}; Open WebUI requires 'id' in payload */
    {"no_id",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsImV4cCI6NDEwMjQ0NDgwMH0.XlsyBCqn1n8pZ"
     "QxWoxGu29tPwn38oYEYLfdPh8E1-I4",
     APP_JWT_ENOID},
    /* {"id":42}: PyJWT accepts; no user has the integer id 42 */
    {"id_number",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6NDJ9._ls0TkqO3hozFqSg6tShHLlGvjiK2iErZtqB5FPr"
     "z9U",
     APP_JWT_ENOID},
    /* InvalidAudienceError: "aud":"x" and no audience configured */
    {"aud",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiYXVkIjoieCJ9.89tOHIp7JZOh6GGEzmOu1Bf"
     "Al17uTEEgYfpA20wJSZk",
     APP_JWT_ECLAIM},
    /* ImmatureSignatureError: nbf = now + 100 */
    {"nbf_future",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwibmJmIjoxNzAwMDAwMTAwfQ.OhAaJ0NL1A8YT"
     "jnErRTCRPOO-DB0XwGQNCDJxcXullQ",
     APP_JWT_ECLAIM},
    /* ImmatureSignatureError: iat = now + 100 */
    {"iat_future",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiaWF0IjoxNzAwMDAwMTAwfQ.Yh6ltYpqUWNbt"
     "k-RfJI47WLqeArtWifgk6T5L0fZZ7M",
     APP_JWT_ECLAIM},
    /* DecodeError: header is a JSON array */
    {"header_array", "WyJIUzI1NiJd.eyJpZCI6InUxIn0.vs5OlZTyUEcYmnHnwuxcd6Hz0x0OvjdV4NQTyAh1cic",
     APP_JWT_EMALFORMED},
    /* DecodeError: payload is a JSON array */
    {"payload_array",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WyJ1MSJd.4X2zX_pgXcMVNyJDzSNKS51iSRICVfLR_jcwqXTaAmM",
     APP_JWT_EMALFORMED},
    /* DecodeError: '{"id":"u1"} x' (extra data after the object) */
    {"payload_trailing",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0geA.UQOjpolOFByRT-0DrVCKiEHETj-kQTVLS"
     "8UmUYNGsOI",
     APP_JWT_EMALFORMED},
};

Test(app_jwt, pyjwt_refusals_are_refused, .timeout = 5)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        app_jwt_claims_t c;
        memset(&c, 0x5a, sizeof c);
        int rc = verify(refused[i].tok, &c);
        cr_expect_eq(rc, refused[i].want, "%s: got %d (%s), want %d", refused[i].name, rc,
                     app_jwt_strerror(rc), refused[i].want);
        cr_expect_eq(c.id[0], '\0', "%s: claims must be zeroed on failure", refused[i].name);
    }
}

/* Accepted by PyJWT, with the id Open WebUI would look up. */
static const struct {
    const char *name;
    const char *tok;
    const char *id;
} accepted[] = {
    /* exp: "4102444800" -> int("4102444800") */
    {"exp_string",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjoiNDEwMjQ0NDgwMCJ9.rFNl5lZgcVY"
     "Jbnm-jIAodLKGi8dqNt2FuFouTBCaqAY",
     "u1"},
    /* exp: 4102444800.7 -> int() truncates */
    {"exp_float",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjo0MTAyNDQ0ODAwLjd9.8QPXk10Zl_s"
     "mlHwqMbZZ-ejGKe_g9vPrydAOpT6naOI",
     "u1"},
    /* exp = now + 1 */
    {"exp_next_second",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiZXhwIjoxNzAwMDAwMDAxfQ.FhsIzHEGZLQ3A"
     "MgzNd3ZTwA2CkFXrjiBItWDEFfFqcs",
     "u1"},
    /* "aud":"" is falsy: no audience check */
    {"aud_empty",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIiwiYXVkIjoiIn0.iFAPS0Wb2a-QT_g9g5RjG0Fu"
     "WZA7TED8mY736Ngm2Do",
     "u1"},
    /* {"id":"first","id":"second"}: json.loads keeps the last duplicate */
    {"duplicate_id",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6ImZpcnN0IiwiaWQiOiJzZWNvbmQifQ.yKRrmQgOnOhEn"
     "03hxWLKKXM8z8SDo7pt5gp21WVP2SI",
     "second"},
    /* ' {"id":"u1"}\n': JSON whitespace around the object */
    {"payload_whitespace",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.IHsiaWQiOiJ1MSJ9Cg.LpurZQBTofwrf223SBsUd7RhnOBOjXxjr"
     "gy0Fc_yE8Q",
     "u1"},
    /* \u escapes incl. a surrogate pair decode to UTF-8 */
    {"unicode_id",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzXHUwMGU5ci1cdTI2MDMtXHVkODNkXHVkZTAwIn0."
     "YN0hGoRW9Z7K-rrppa4K1RkHDMQfU4nhGbGC_U1ri6k",
     "us\xc3\xa9r-\xe2\x98\x83-\xf0\x9f\x98\x80"},
    /* header {"alg":"HS256","kid":7}: decode ignores kid */
    {"kid_number",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6N30.eyJpZCI6InUxIn0.VbOHcWHTkj-K2HVntf_3Ry3r3tqIdCDhotjWUqlWV"
     "9w",
     "u1"},
};

Test(app_jwt, pyjwt_acceptances_are_accepted, .timeout = 5)
{
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        app_jwt_claims_t c;
        int rc = verify(accepted[i].tok, &c);
        cr_expect_eq(rc, APP_JWT_OK, "%s: got %d (%s)", accepted[i].name, rc, app_jwt_strerror(rc));
        cr_expect_str_eq(c.id, accepted[i].id, "%s", accepted[i].name);
    }
}

Test(app_jwt, exp_boundary_uses_fractional_clock, .timeout = 5)
{
    /* exp = 1700000001: valid at 1700000000.999, expired at exactly 1700000001.0 */
    const char *tok = accepted[2].tok;
    cr_assert_eq(app_jwt_verify(KEY, strlen(KEY), tok, strlen(tok), 1700000000.999, NULL),
                 APP_JWT_OK);
    cr_assert_eq(app_jwt_verify(KEY, strlen(KEY), tok, strlen(tok), 1700000001.0, NULL),
                 APP_JWT_EEXPIRED);
}

/* Builds a token signed with KEY from raw header and payload JSON, for claim rules the
 * Debian PyJWT (2.6) cannot produce vectors for. */
static void make_token(const char *header, const char *payload, char *out, size_t cap)
{
    char h[512], p[2048];
    b64url_encode((const uint8_t *)header, strlen(header), h);
    b64url_encode((const uint8_t *)payload, strlen(payload), p);
    int n = snprintf(out, cap, "%s.%s", h, p);
    uint8_t mac[32];
    unsigned ml = 0;
    HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (const unsigned char *)out, (size_t)n, mac, &ml);
    out[n++] = '.';
    b64url_encode(mac, ml, out + n);
}

#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

Test(app_jwt, pyjwt_213_claim_rules, .timeout = 5)
{
    static const struct {
        const char *header, *payload;
        int want;
    } rows[] = {
        /* PyJWT >= 2.10 _validate_sub / _validate_jti: must be strings (2.6 ignores) */
        {HDR, "{\"id\":\"u1\",\"sub\":5}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"jti\":[]}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"sub\":\"s\",\"jti\":\"j\"}", APP_JWT_OK},
        /* PyJWT 2.13 coerces iat with int(): a numeric string is fine (2.6 raised) */
        {HDR, "{\"id\":\"u1\",\"iat\":\" 1699999999 \"}", APP_JWT_OK},
        {HDR, "{\"id\":\"u1\",\"iat\":\"1_699_999_999\"}", APP_JWT_OK},
        {HDR, "{\"id\":\"u1\",\"iat\":\"1__6\"}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"iat\":\"1.5\"}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"exp\":1e400}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"exp\":{}}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"u1\",\"exp\":\"99999999999999999999999\"}", APP_JWT_OK},
        {HDR, "{\"id\":\"u1\",\"nbf\":false,\"aud\":[]}", APP_JWT_OK},
        {HDR, "{\"id\":\"u1\",\"aud\":[\"x\"]}", APP_JWT_ECLAIM},
        {HDR, "{\"id\":\"\"}", APP_JWT_ENOID},
        /* the escape \u0000 would cut a C string short: refused outright */
        {HDR, "{\"id\":\"admin\\u0000x\"}", APP_JWT_EMALFORMED},
        /* JWS extensions (RFC 7515 crit, RFC 7797 b64) are not implemented */
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{\"id\":\"u1\"}", APP_JWT_EALG},
        {"{\"alg\":\"HS256\",\"b64\":false}", "{\"id\":\"u1\"}", APP_JWT_EALG},
        {"{\"alg\":\"HS256\",\"b64\":true}", "{\"id\":\"u1\"}", APP_JWT_OK},
        /* duplicate alg: the last one counts, as in a Python dict */
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"id\":\"u1\"}", APP_JWT_EALG},
        {"{\"alg\":\"none\",\"alg\":\"HS256\"}", "{\"id\":\"u1\"}", APP_JWT_OK},
        /* raw control character / invalid UTF-8 inside the JSON text */
        {HDR, "{\"id\":\"u\x01\"}", APP_JWT_EMALFORMED},
        {HDR, "{\"id\":\"u\xc0\xaf\"}", APP_JWT_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char tok[4096];
        make_token(rows[i].header, rows[i].payload, tok, sizeof tok);
        int rc = verify(tok, NULL);
        cr_expect_eq(rc, rows[i].want, "row %zu (%s): got %d (%s), want %d", i, rows[i].payload, rc,
                     app_jwt_strerror(rc), rows[i].want);
    }
}

Test(app_jwt, long_jti_and_id_refused, .timeout = 5)
{
    char payload[1024], tok[4096];
    char big[APP_JWT_MAX_ID + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(payload, sizeof payload, "{\"id\":\"u1\",\"jti\":\"%s\"}", big);
    make_token(HDR, payload, tok, sizeof tok);
    cr_assert_eq(verify(tok, NULL), APP_JWT_ECLAIM);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", big);
    make_token(HDR, payload, tok, sizeof tok);
    cr_assert_eq(verify(tok, NULL), APP_JWT_ENOID);
    big[APP_JWT_MAX_ID] = '\0'; /* exactly the cap */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", big);
    make_token(HDR, payload, tok, sizeof tok);
    app_jwt_claims_t c;
    cr_assert_eq(verify(tok, &c), APP_JWT_OK);
    cr_assert_eq(strlen(c.id), APP_JWT_MAX_ID);
}

Test(app_jwt, malformed_shapes_refused, .timeout = 5)
{
    static const char *bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        /* padding, standard-alphabet characters, 4n+1 length */
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0=.j_Ci-CE8XJmJZD8AluDOB5SwIFuclPKZIrI-"
        "ezmd6jQ",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.j/Ci+CE8XJmJZD8AluDOB5SwIFuclPKZIrI-"
        "ezmd6jQ",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InUxIn0.j_Ci-CE8XJmJZD8AluDOB5SwIFuclPKZIrI-"
        "ezmd6jQA",
        "e.eyJpZCI6InUxIn0.j_Ci",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 .eyJpZCI6InUxIn0.j_Ci",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(bad[i], NULL);
        cr_expect(rc == APP_JWT_EMALFORMED || rc == APP_JWT_ESIGNATURE, "%zu: %d", i, rc);
        cr_expect_neq(rc, APP_JWT_OK);
    }
    /* a signature whose last character has non-zero unused bits is a second spelling of
     * the same bytes: refused ('8' -> '9' keeps the decoded bytes of the valid token) */
    char tok[sizeof tok_valid];
    memcpy(tok, tok_valid, sizeof tok_valid);
    cr_assert_eq(tok[sizeof tok_valid - 2], '8');
    tok[sizeof tok_valid - 2] = '9';
    cr_assert_eq(verify(tok, NULL), APP_JWT_ESIGNATURE);
    /* over the length cap */
    static char huge[APP_JWT_MAX_TOKEN + 2];
    memset(huge, 'a', sizeof huge - 1);
    huge[10] = '.';
    huge[20] = '.';
    cr_assert_eq(app_jwt_verify(KEY, 3, huge, sizeof huge - 1, NOW, NULL), APP_JWT_EMALFORMED);
    /* empty key verifies nothing (PyJWT 2.13 rejects empty HMAC keys) */
    cr_assert_eq(app_jwt_verify("", 0, tok_valid, strlen(tok_valid), NOW, NULL), APP_JWT_EKEY);
}

Test(app_jwt, sign_matches_pyjwt_bytes, .timeout = 5)
{
    char out[1024];
    int n =
        app_jwt_sign(KEY, strlen(KEY), "8f3b4c2e-1d7a-4e59-9b6c-2a1f0e9d8c7b", true, 4102444800LL,
                     1699999000LL, "0b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4", out, sizeof out);
    cr_assert_eq(n, (int)strlen(tok_valid));
    cr_assert_str_eq(out, tok_valid);
    n = app_jwt_sign(KEY, strlen(KEY), "u-noexp", false, 0, 1699999000LL, "j1", out, sizeof out);
    cr_assert_str_eq(out, tok_noexp);
    /* jwt.encode({"id":"us\u00e9r-\u2603-\U0001F600","jti":"j","iat":1}) (ensure_ascii) */
    app_jwt_sign(KEY, strlen(KEY), "us\xc3\xa9r-\xe2\x98\x83-\xf0\x9f\x98\x80", false, 0, 1, "j",
                 out, sizeof out);
    cr_assert_str_eq(out, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzXHUwMGU5ci1cdTI2MDMt"
                          "XHVkODNkXHVkZTAwIiwianRpIjoiaiIsImlhdCI6MX0.1cvJi1T4UjdMxjRgiLv5R4ojTR"
                          "lJH57V1cbJRTp53as");
    /* jwt.encode({"id":"a\"b\\c\n\x7f","exp":-5,"jti":"x","iat":0}): escapes incl. DEL */
    app_jwt_sign(KEY, strlen(KEY), "a\"b\\c\n\x7f", true, -5, 0, "x", out, sizeof out);
    cr_assert_str_eq(out, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6ImFcImJcXGNcblx1MDA3ZiIs"
                          "ImV4cCI6LTUsImp0aSI6IngiLCJpYXQiOjB9.HP2Isy13bnaZgvGlKHMXo71Grw_bXxzGp"
                          "HvqOR7vfso");
}

Test(app_jwt, sign_then_verify_with_fresh_jti, .timeout = 5)
{
    char a[1024], b[1024];
    cr_assert_gt(
        app_jwt_sign(KEY, strlen(KEY), "user-1", true, 1700000600, 1700000000, NULL, a, sizeof a),
        0);
    cr_assert_gt(
        app_jwt_sign(KEY, strlen(KEY), "user-1", true, 1700000600, 1700000000, NULL, b, sizeof b),
        0);
    cr_assert_str_neq(a, b, "each token gets its own random jti");
    app_jwt_claims_t c;
    cr_assert_eq(app_jwt_verify(KEY, strlen(KEY), a, strlen(a), 1700000001.0, &c), APP_JWT_OK);
    cr_assert_str_eq(c.id, "user-1");
    cr_assert_eq(strlen(c.jti), 36);
    cr_assert_eq(c.jti[14], '4', "UUID version 4");
    cr_assert(strchr("89ab", c.jti[19]) != NULL, "RFC 4122 variant");
    cr_assert_eq(app_jwt_verify(KEY, strlen(KEY), a, strlen(a), 1700000600.0, &c),
                 APP_JWT_EEXPIRED);
    /* errors */
    cr_assert_eq(app_jwt_sign("", 0, "u", false, 0, 0, NULL, a, sizeof a), APP_JWT_EKEY);
    cr_assert_eq(app_jwt_sign(KEY, 3, "", false, 0, 0, NULL, a, sizeof a), APP_JWT_ENOID);
    cr_assert_eq(app_jwt_sign(KEY, 3, "u", false, 0, 0, NULL, a, 40), APP_JWT_ESPACE);
    cr_assert_eq(app_jwt_sign(KEY, 3, "bad\xff", false, 0, 0, NULL, a, sizeof a), APP_JWT_ENOID);
}

Test(app_jwt, parse_expires_like_open_webui, .timeout = 5)
{
    /* expectations from Open WebUI's parse_duration run under /usr/bin/python3 */
    static const struct {
        const char *text;
        int rc;
        bool never;
        int64_t us;
    } rows[] = {
        {"4w", 0, false, 2419200000000LL},
        {"1h30m", 0, false, 5400000000LL},
        {"-1", 0, true, 0},
        {"0", 0, true, 0},
        {"2.5h", 0, false, 9000000000LL},
        {"500ms", 0, false, 500000LL},
        {"10", -1, false, 0},
        {"abc", -1, false, 0},
        {"1d-2h", 0, false, 79200000000LL},
        {"5min", 0, false, 300000000LL},
        {"0s", 0, true, 0},
        {"-5m", 0, false, -300000000LL},
        {"1.5.5h", 0, false, 19800000000LL},
        {"x3sy", 0, false, 3000000LL},
        {"7d ", 0, false, 604800000000LL},
        {"", -1, false, 0},
        {"0.0001ms", 0, true, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t us = 42;
        bool never = false;
        int rc = app_jwt_parse_expires(rows[i].text, &us, &never);
        cr_expect_eq(rc, rows[i].rc, "'%s': rc %d", rows[i].text, rc);
        if (rc != 0)
            continue;
        cr_expect_eq(never, rows[i].never, "'%s': never %d", rows[i].text, never);
        if (!rows[i].never)
            cr_expect_eq(us, rows[i].us, "'%s': %lld us", rows[i].text, (long long)us);
    }
}
