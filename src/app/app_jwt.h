/*
 * app_jwt: HS256 JSON Web Tokens as Open WebUI issues and checks them (app layer).
 *
 * Open WebUI's socket layer authenticates with `decode_token` (utils/auth.py): PyJWT's
 * `jwt.decode(token, WEBUI_SECRET_KEY, algorithms=["HS256"])`, any exception meaning "no
 * user". This module is that check written on OpenSSL and cJSON, with PyJWT 2.13's claim
 * rules (the version Open WebUI 0.10 pins), and the matching signer for `sioc token`.
 *
 * What app_jwt_verify accepts, in order (anything else is refused, never a crash):
 *   - at most APP_JWT_MAX_TOKEN bytes, exactly three non-empty-signature segments
 *     `header.payload.signature`, each unpadded base64url with canonical trailing bits;
 *   - a header that is a JSON object whose "alg" is exactly "HS256" (`none`, `HS512`,
 *     `RS256`, `hs256`, a missing or non-string alg are refused: the algorithm is pinned,
 *     never taken from the token); no "crit" and no "b64" other than true (we implement
 *     no JWS extension; "kid" and "typ" are ignored, as PyJWT's decode ignores them);
 *   - an HMAC-SHA256 over `header.payload` (the bytes as sent) equal, in constant time
 *     (CRYPTO_memcmp), to the 32-byte signature; an empty key verifies nothing;
 *   - a payload that is a JSON object. Both JSON texts must be UTF-8 without raw control
 *     characters other than tab/CR/LF, with nothing after the value;
 *   - PyJWT's registered-claim checks: `exp`, `nbf`, `iat` are converted like Python's
 *     int() (numbers truncate toward zero, booleans are 0/1, decimal strings parse; null,
 *     arrays, objects, NaN and infinities refuse); refused when int(exp) <= now,
 *     int(nbf) > now or int(iat) > now. A token without `exp` never expires (Open WebUI
 *     omits it when JWT_EXPIRES_IN is -1). A truthy `aud` refuses (no audience is
 *     configured); `sub` and `jti`, when present, must be strings;
 *   - Open WebUI's own check: an "id" claim that is a string of 1..APP_JWT_MAX_ID bytes.
 *     A "jti" longer than APP_JWT_MAX_ID is refused too, so revocation by jti (which the
 *     app looks up in Redis) can never be skipped by an oversized value.
 * Duplicate JSON keys resolve to the last occurrence, as Python's json module does.
 *
 * Ownership: every input is borrowed for the call; results are copied into the caller's
 * app_jwt_claims_t or output buffer. No allocation outlives a call.
 * Threading: no state; every function is reentrant and may run on any thread.
 * Spec: RFC 7515 (JWS compact form), RFC 7519 §4.1 (registered claims), RFC 4648 §5
 * (base64url); openwebui-protocol.md §1.2 (WEBUI_SECRET_KEY, JWT_EXPIRES_IN), §2.1.
 */
#ifndef SIOC_APP_JWT_H
#define SIOC_APP_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest token app_jwt_verify looks at; longer input is APP_JWT_EMALFORMED. */
#define APP_JWT_MAX_TOKEN 8192
/** Longest "id" (and "jti") claim accepted, in bytes. Open WebUI ids are 36-byte UUIDs. */
#define APP_JWT_MAX_ID 255

/** Results of app_jwt_verify / app_jwt_sign. Every failure means "anonymous". */
typedef enum app_jwt_status {
    APP_JWT_OK = 0,
    APP_JWT_EMALFORMED = -1, /* not a JWS compact token, bad base64url, bad JSON */
    APP_JWT_EALG = -2,       /* header alg is not exactly HS256, or an unsupported param */
    APP_JWT_ESIGNATURE = -3, /* signature does not match the key */
    APP_JWT_EEXPIRED = -4,   /* int(exp) <= now */
    APP_JWT_ECLAIM = -5,     /* bad exp/nbf/iat/aud/sub/jti, nbf or iat in the future */
    APP_JWT_ENOID = -6,      /* no usable "id" claim */
    APP_JWT_EKEY = -7,       /* empty key */
    APP_JWT_ESPACE = -8,     /* app_jwt_sign: output buffer too small */
} app_jwt_status_t;

/** The claims the socket layer needs, copied out of a verified token. */
typedef struct app_jwt_claims {
    char id[APP_JWT_MAX_ID + 1];  /* the user id ("id" claim), NUL-terminated */
    bool has_exp;                 /* false: the token never expires */
    int64_t exp;                  /* int(exp), saturated to int64 */
    bool has_iat;                 /* false: no "iat" (revocation treats it as oldest) */
    int64_t iat;                  /* int(iat), saturated to int64 */
    char jti[APP_JWT_MAX_ID + 1]; /* "jti" claim, "" when absent (a longer one refuses) */
} app_jwt_claims_t;

/**
 * Verifies `token` (`len` bytes, need not be NUL-terminated) with the HS256 `key` at time
 * `now` (seconds since the epoch, with fraction: PyJWT compares against a float clock).
 * Returns APP_JWT_OK and fills `*out` (may be NULL) or a negative app_jwt_status_t; on
 * failure `*out` is zeroed. Never allocates more than a bounded amount (the token cap).
 */
int app_jwt_verify(const void *key, size_t key_len, const char *token, size_t len, double now,
                   app_jwt_claims_t *out);

/**
 * Signs Open WebUI's session token `{"id":id,"exp":exp,"jti":jti,"iat":iat}` with header
 * `{"alg":"HS256","typ":"JWT"}` (PyJWT's encoding: sorted header keys, compact JSON).
 * `exp` is omitted when `has_exp` is false; `jti` is a fresh random UUIDv4 when `jti` is
 * NULL. Writes the NUL-terminated token to `out` (`cap` bytes). Returns its length, or
 * APP_JWT_EKEY (empty key), APP_JWT_ENOID (empty or too long id), APP_JWT_ESPACE.
 */
int app_jwt_sign(const void *key, size_t key_len, const char *id, bool has_exp, int64_t exp,
                 int64_t iat, const char *jti, char *out, size_t cap);

/**
 * Parses a JWT_EXPIRES_IN value the way Open WebUI's parse_duration does: "-1" and "0"
 * mean "no expiry" (`*never` = true); otherwise every `<number><unit>` pair found, unit
 * one of ms, s, m, h, d, w, number optionally negative with a fraction, is summed into
 * `*us` (microseconds, as timedelta keeps them; a zero sum also means no expiry, as
 * Python's falsy timedelta does). The token's exp is then floor((now_us + *us) / 1e6),
 * what PyJWT's timegm(utctimetuple()) makes of `now + delta`. Returns 0, or -1 when no
 * pair is found ("4x", "10", ""), as Python raises ValueError.
 */
int app_jwt_parse_expires(const char *text, int64_t *us, bool *never);

/** A short English description of an app_jwt_status_t, for logs. */
const char *app_jwt_strerror(int status);

#endif
