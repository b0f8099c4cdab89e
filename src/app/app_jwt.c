/*
 * app_jwt: HS256 verification and signing. The checks run cheapest and least trusting
 * first: shape and base64url, then the header and the pinned algorithm, then the MAC,
 * and only then is the payload JSON parsed, so an unsigned payload never reaches cJSON.
 *
 *   token ──split──> header64 . payload64 . sig64
 *            │            │                 └─ decode (32 bytes) ─┐
 *            │            └─ decode, JSON object, alg == HS256    │
 *            └─ HMAC-SHA256(key, "header64.payload64") ── CRYPTO_memcmp ─┘
 *                 └─ ok ─> decode payload64, JSON object, PyJWT claim rules, "id"
 */
#include "app/app_jwt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN 32 /* HMAC-SHA256 output */

/* PyJWT's header for HS256 is {"alg":"HS256","typ":"JWT"} (keys sorted, compact). */
static const char hs256_header64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/* ------------------------------------------------------------------ base64url */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * Strict unpadded base64url: only the URL alphabet, no '=', no length of 4n+1, and the
 * unused low bits of the last character must be zero, so every byte string has exactly
 * one accepted spelling (no signature malleability). Returns the decoded length or -1.
 */
static long b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t want = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (n % 4 == 1 || want > cap)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* ------------------------------------------------------------------ JSON text */

/* Length of the UTF-8 sequence at p (strict: no overlongs, surrogates or > U+10FFFF), or
 * 0 when the bytes are not valid UTF-8. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && p[1] < 0xA0)
        return 0; /* overlong 3-byte */
    if (c == 0xED && p[1] >= 0xA0)
        return 0; /* UTF-16 surrogate */
    if (c == 0xF0 && p[1] < 0x90)
        return 0; /* overlong 4-byte */
    if (c == 0xF4 && p[1] >= 0x90)
        return 0; /* above U+10FFFF */
    return len;
}

/*
 * Rejects what Python's json.loads would reject but cJSON lets through: invalid UTF-8 and
 * raw control characters other than the JSON whitespace tab, LF and CR. The escape
 * \u0000 is refused too: cJSON decodes it into a C string that ends early, so "id":
 * "a\u0000b" would read as "a" here while Python sees a different id.
 */
static bool json_text_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return false;
        if (c == '\\' && i + 1 < n) { /* an escape pair; the next byte is never data */
            if (p[i + 1] >= 0x80 ||
                (p[i + 1] == 'u' && i + 6 <= n && memcmp(p + i + 2, "0000", 4) == 0))
                return false;
            i += 2;
            continue;
        }
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

static bool json_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses exactly one JSON object filling the whole of p[0..n): leading and trailing
 * bytes may only be JSON whitespace (a leading UTF-8 BOM is allowed, as Python's
 * json.loads on bytes allows it). Returns the object (caller deletes) or NULL. */
static cJSON *parse_object(const uint8_t *p, size_t n)
{
    if (!json_text_ok(p, n))
        return NULL;
    size_t start = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        start = 3;
    while (start < n && json_ws(p[start]))
        start++;
    if (start == n || p[start] != '{')
        return NULL;
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts((const char *)p + start, n - start, &end, 0);
    if (!obj)
        return NULL;
    size_t used = end ? (size_t)(end - ((const char *)p + start)) + start : n;
    while (used < n && json_ws(p[used]))
        used++;
    if (used != n || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* The last member named `key` (Python dicts keep the last duplicate), or NULL. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0)
            found = c;
    return found;
}

/* ------------------------------------------------------------------ claims */

static int64_t saturate(double d)
{
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

static bool py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Python's int(str) for base 10: surrounding whitespace, an optional sign, digits with
 * single underscores between them. Saturates instead of growing without bound. */
static int py_int_str(const char *s, int64_t *out)
{
    while (py_space((unsigned char)*s))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    bool big = false;
    for (; (*s >= '0' && *s <= '9') || *s == '_'; s++) {
        if (*s == '_') {
            if (s[1] < '0' || s[1] > '9')
                return -1;
            continue;
        }
        if (v > (UINT64_MAX - 9) / 10)
            big = true;
        else
            v = v * 10 + (uint64_t)(*s - '0');
    }
    while (py_space((unsigned char)*s))
        s++;
    if (*s != '\0')
        return -1;
    if (big || v > (uint64_t)INT64_MAX)
        *out = neg ? INT64_MIN : INT64_MAX;
    else
        *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* Python's int(value) on a decoded JSON value, as PyJWT applies it to exp, nbf and iat. */
static int py_int(const cJSON *v, int64_t *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return -1;
        *out = saturate(trunc(v->valuedouble));
        return 0;
    }
    if (cJSON_IsString(v))
        return py_int_str(v->valuestring, out);
    return -1;
}

/* Python truthiness of a decoded JSON value. */
static bool py_truthy(const cJSON *v)
{
    if (cJSON_IsNull(v) || cJSON_IsFalse(v))
        return false;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return v->valuestring[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v->child != NULL;
    return true;
}

/* Copies a string claim of at most APP_JWT_MAX_ID bytes; -1 when it is not a string or
 * too long. */
static int copy_str(const cJSON *v, char *dst)
{
    if (!cJSON_IsString(v))
        return -1;
    size_t n = strlen(v->valuestring);
    if (n > APP_JWT_MAX_ID)
        return -1;
    memcpy(dst, v->valuestring, n + 1);
    return (int)n;
}

/* PyJWT 2.13 _validate_claims with no audience/issuer configured, then Open WebUI's
 * `'id' in payload`. */
static int check_claims(const cJSON *payload, double now, app_jwt_claims_t *c)
{
    const cJSON *v;
    if ((v = member(payload, "iat"))) {
        if (py_int(v, &c->iat) != 0 || (double)c->iat > now)
            return APP_JWT_ECLAIM;
        c->has_iat = true;
    }
    int64_t nbf;
    if ((v = member(payload, "nbf")) && (py_int(v, &nbf) != 0 || (double)nbf > now))
        return APP_JWT_ECLAIM;
    if ((v = member(payload, "exp"))) {
        if (py_int(v, &c->exp) != 0)
            return APP_JWT_ECLAIM;
        if ((double)c->exp <= now)
            return APP_JWT_EEXPIRED;
        c->has_exp = true;
    }
    if ((v = member(payload, "aud")) && py_truthy(v))
        return APP_JWT_ECLAIM;
    if ((v = member(payload, "sub")) && !cJSON_IsString(v))
        return APP_JWT_ECLAIM;
    if ((v = member(payload, "jti")) && copy_str(v, c->jti) < 0)
        return APP_JWT_ECLAIM;
    v = member(payload, "id");
    if (!v || copy_str(v, c->id) <= 0)
        return APP_JWT_ENOID;
    return APP_JWT_OK;
}

/* Header rules: a pinned alg and no JWS extensions. (PyJWT's decode never looks at
 * "kid" or "typ", so neither do we.) */
static int check_header(const cJSON *header)
{
    const cJSON *alg = member(header, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
        return APP_JWT_EALG;
    const cJSON *b64 = member(header, "b64");
    if (member(header, "crit") || (b64 && !cJSON_IsTrue(b64)))
        return APP_JWT_EALG;
    return APP_JWT_OK;
}

/* ------------------------------------------------------------------ verify */

typedef struct segments {
    const char *h, *p, *s; /* header, payload, signature segments */
    size_t hn, pn, sn;
} segments_t;

static int split(const char *t, size_t n, segments_t *seg)
{
    const char *d1 = memchr(t, '.', n);
    if (!d1)
        return -1;
    const char *d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - t));
    if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - t)))
        return -1;
    *seg = (segments_t){
        t, d1 + 1, d2 + 1, (size_t)(d1 - t), (size_t)(d2 - d1 - 1), n - (size_t)(d2 + 1 - t)};
    return seg->hn && seg->pn && seg->sn ? 0 : -1;
}

static bool signature_ok(const void *key, size_t key_len, const segments_t *seg)
{
    uint8_t sig[SIG_LEN + 3];
    if (b64url_decode(seg->s, seg->sn, sig, sizeof sig) != SIG_LEN)
        return false;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t signed_len = seg->hn + 1 + seg->pn;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)seg->h, signed_len, mac,
              &mac_len) ||
        mac_len != SIG_LEN)
        return false;
    return CRYPTO_memcmp(mac, sig, SIG_LEN) == 0;
}

/* Decodes one segment into the caller's scratch buffer and parses it as an object. */
static cJSON *segment_object(const char *s, size_t n, uint8_t *scratch, size_t cap)
{
    long len = b64url_decode(s, n, scratch, cap);
    return len <= 0 ? NULL : parse_object(scratch, (size_t)len);
}

int app_jwt_verify(const void *key, size_t key_len, const char *token, size_t len, double now,
                   app_jwt_claims_t *out)
{
    app_jwt_claims_t claims;
    memset(&claims, 0, sizeof claims);
    if (out)
        memset(out, 0, sizeof *out);
    if (!key || key_len == 0 || key_len > (size_t)INT32_MAX)
        return APP_JWT_EKEY;
    segments_t seg;
    if (!token || len == 0 || len > APP_JWT_MAX_TOKEN || split(token, len, &seg) != 0)
        return APP_JWT_EMALFORMED;

    uint8_t scratch[APP_JWT_MAX_TOKEN];
    cJSON *header = segment_object(seg.h, seg.hn, scratch, sizeof scratch);
    if (!header)
        return APP_JWT_EMALFORMED;
    int rc = check_header(header);
    cJSON_Delete(header);
    if (rc != APP_JWT_OK)
        return rc;
    if (!signature_ok(key, key_len, &seg))
        return APP_JWT_ESIGNATURE;

    cJSON *payload = segment_object(seg.p, seg.pn, scratch, sizeof scratch);
    if (!payload)
        return APP_JWT_EMALFORMED;
    rc = check_claims(payload, now, &claims);
    cJSON_Delete(payload);
    if (rc == APP_JWT_OK && out)
        *out = claims;
    return rc;
}

/* ------------------------------------------------------------------ sign */

/* One code point as Python's json.dumps writes it with ensure_ascii=True. */
static int py_escape(uint32_t cp, char *tmp, size_t cap)
{
    switch (cp) {
    case '"':
        return snprintf(tmp, cap, "\\\"");
    case '\\':
        return snprintf(tmp, cap, "\\\\");
    case '\n':
        return snprintf(tmp, cap, "\\n");
    case '\r':
        return snprintf(tmp, cap, "\\r");
    case '\t':
        return snprintf(tmp, cap, "\\t");
    case '\b':
        return snprintf(tmp, cap, "\\b");
    case '\f':
        return snprintf(tmp, cap, "\\f");
    default:
        break;
    }
    if (cp >= 0x20 && cp <= 0x7E) /* Python escapes DEL too */
        return snprintf(tmp, cap, "%c", (char)cp);
    if (cp < 0x10000)
        return snprintf(tmp, cap, "\\u%04x", (unsigned)cp);
    return snprintf(tmp, cap, "\\u%04x\\u%04x", 0xD800u + ((cp - 0x10000) >> 10),
                    0xDC00u + ((cp - 0x10000) & 0x3FF));
}

/* Appends `s` as a JSON string the way Python's json.dumps does by default
 * (ensure_ascii): non-ASCII as \uXXXX, astral code points as surrogate pairs. Returns
 * the new length or -1 when `s` is not valid UTF-8 or the output does not fit. */
static long py_json_string(const char *s, char *out, size_t o, size_t cap)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    char tmp[16];
    if (o + 1 >= cap)
        return -1;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0)
            return -1;
        uint32_t cp = len == 1   ? p[i]
                      : len == 2 ? ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu)
                      : len == 3
                          ? ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu)
                          : ((p[i] & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) |
                                ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
        i += len;
        int k = py_escape(cp, tmp, sizeof tmp);
        if (o + (size_t)k + 1 >= cap)
            return -1;
        memcpy(out + o, tmp, (size_t)k);
        o += (size_t)k;
    }
    if (o + 1 >= cap)
        return -1;
    out[o++] = '"';
    return (long)o;
}

static void uuid4(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort(); /* no CSPRNG: nothing safe to do */
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The payload JSON exactly as PyJWT writes Open WebUI's dict: insertion order id, exp,
 * jti, iat; separators "," and ":". */
static long payload_json(const char *id, bool has_exp, int64_t exp, int64_t iat, const char *jti,
                         char *out, size_t cap)
{
    long o = snprintf(out, cap, "{\"id\":");
    if ((o = py_json_string(id, out, (size_t)o, cap)) < 0)
        return -1;
    int k = has_exp ? snprintf(out + o, cap - (size_t)o, ",\"exp\":%lld", (long long)exp) : 0;
    if (k < 0 || (size_t)(o + k) + 8 >= cap)
        return -1;
    o += k;
    memcpy(out + o, ",\"jti\":", 7);
    if ((o = py_json_string(jti, out, (size_t)o + 7, cap)) < 0)
        return -1;
    k = snprintf(out + o, cap - (size_t)o, ",\"iat\":%lld}", (long long)iat);
    if (k < 0 || (size_t)(o + k) >= cap)
        return -1;
    return o + k;
}

int app_jwt_sign(const void *key, size_t key_len, const char *id, bool has_exp, int64_t exp,
                 int64_t iat, const char *jti, char *out, size_t cap)
{
    if (!key || key_len == 0 || key_len > (size_t)INT32_MAX)
        return APP_JWT_EKEY;
    if (!id || id[0] == '\0' || strlen(id) > APP_JWT_MAX_ID ||
        (jti && strlen(jti) > APP_JWT_MAX_ID))
        return APP_JWT_ENOID;
    char fresh[37];
    if (!jti) {
        uuid4(fresh);
        jti = fresh;
    }
    char json[2 * 6 * APP_JWT_MAX_ID + 128]; /* \\u00XX is the widest: 6 bytes per byte */
    long jn = payload_json(id, has_exp, exp, iat, jti, json, sizeof json);
    if (jn < 0)
        return APP_JWT_ENOID;

    size_t hn = sizeof hs256_header64 - 1;
    size_t pn = ((size_t)jn + 2) / 3 * 4;
    size_t need = hn + 1 + pn + 1 + 43 + 1;
    if (!out || cap < need)
        return APP_JWT_ESPACE;
    memcpy(out, hs256_header64, hn);
    out[hn] = '.';
    size_t n = hn + 1 + b64url_encode((const uint8_t *)json, (size_t)jn, out + hn + 1);

    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)out, n, mac, &mac_len))
        return APP_JWT_EKEY;
    out[n++] = '.';
    n += b64url_encode(mac, mac_len, out + n);
    return (int)n;
}

/* ------------------------------------------------------------------ JWT_EXPIRES_IN */

/* Matches `-?\d+(\.\d+)?(ms|s|m|h|d|w)` at t[*i]; on success adds the pair to *us, moves
 * *i past it and returns true. Greedy matching is enough: backtracking into the digits
 * can only leave a digit where the unit must be. */
static bool duration_pair(const char *t, size_t *i, double *us)
{
    static const struct {
        const char *unit;
        double us;
    } units[] = {{"ms", 1e3},  {"s", 1e6},     {"m", 6e7},
                 {"h", 3.6e9}, {"d", 8.64e10}, {"w", 6.048e11}};
    size_t j = *i;
    if (t[j] == '-')
        j++;
    size_t digits = j;
    while (t[j] >= '0' && t[j] <= '9')
        j++;
    if (j == digits)
        return false;
    if (t[j] == '.' && t[j + 1] >= '0' && t[j + 1] <= '9')
        for (j++; t[j] >= '0' && t[j] <= '9'; j++)
            ;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u].unit);
        if (strncmp(t + j, units[u].unit, ul) != 0)
            continue;
        *us += strtod(t + *i, NULL) * units[u].us;
        *i = j + ul;
        return true;
    }
    return false;
}

int app_jwt_parse_expires(const char *text, int64_t *us, bool *never)
{
    *us = 0;
    *never = false;
    if (!text)
        return -1;
    if (strcmp(text, "-1") == 0 || strcmp(text, "0") == 0) {
        *never = true;
        return 0;
    }
    double total = 0;
    bool any = false;
    for (size_t i = 0; text[i];) {
        if (duration_pair(text, &i, &total))
            any = true;
        else
            i++;
    }
    if (!any || !isfinite(total) || fabs(total) > 9e18)
        return -1;
    *us = (int64_t)llround(total);
    *never = *us == 0;
    return 0;
}

const char *app_jwt_strerror(int status)
{
    switch (status) {
    case APP_JWT_OK:
        return "ok";
    case APP_JWT_EMALFORMED:
        return "malformed token";
    case APP_JWT_EALG:
        return "algorithm not HS256";
    case APP_JWT_ESIGNATURE:
        return "bad signature";
    case APP_JWT_EEXPIRED:
        return "token expired";
    case APP_JWT_ECLAIM:
        return "invalid claim";
    case APP_JWT_ENOID:
        return "no id claim";
    case APP_JWT_EKEY:
        return "empty key";
    case APP_JWT_ESPACE:
        return "output buffer too small";
    default:
        return "unknown error";
    }
}
