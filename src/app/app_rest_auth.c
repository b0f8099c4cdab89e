/*
 * app_rest_auth: sign-in, sign-up and the current user (Open WebUI routers/auths.py:
 * signin, signup, get_session_user). See app_rest.h.
 *
 * Passwords are bcrypt (app_password), hashed and checked on libuv's thread pool, never
 * on the loop. A sign-in for an unknown email runs the same bcrypt check against a fixed
 * dummy hash, so the answer takes as long as for a wrong password: the response never
 * says whether an email exists (Open WebUI answers both with 400 INVALID_CRED but returns
 * faster for unknown emails). Sign-in attempts are limited per email as Open WebUI's
 * signin_rate_limiter does (15 per 3 minutes, 429 after that), in a fixed table.
 *
 * Sign-up: the first user becomes admin and can always sign up; later users get
 * DEFAULT_USER_ROLE and need ENABLE_SIGNUP (403 otherwise). Open WebUI also switches
 * ENABLE_SIGNUP off in its persistent config once the first user exists, which an admin
 * turns back on in its settings; sioc has no such settings store, so ENABLE_SIGNUP
 * (default true) stays what the environment says.
 *
 * The session response is Open WebUI's: {token, token_type: "Bearer", expires_at, id,
 * email, name, role, profile_image_url, permissions}, and the token also goes into an
 * HttpOnly `token` cookie (SameSite=Lax), as create_session_response sets it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app_json.h"
#include "app/app_jwt.h"
#include "app/app_password.h"
#include "app/app_rest_private.h"
#include "base/alloc.h"
#include "base/log.h"
#include "store/store_rest.h"

/* A valid bcrypt hash (cost 12) of a password nobody has; checked against for unknown
 * emails so that they cost the same as a wrong password. */
static const char DUMMY_HASH[] = "$2b$12$C0J45hCV0dpyOM8uJj9KIOZoyzfgUjNwNDxoZgsKrKrw2IG6bL4SK";

#define EMAIL_MAX 254
#define NAME_MAX_LEN 255
#define PASSWORD_IN_MAX 1024 /* longer input is refused before any bcrypt work */

/* ---- session response -------------------------------------------------------------- */

static void append_session(app_rest_call_t *c, buf_t *b, const char *token, bool has_exp,
                           int64_t exp)
{
    const app_config_t *cfg = app_config(c->app);
    buf_append_cstr(b, "{\"token\":");
    json_append_string(b, slice_from_cstr(token));
    buf_append_cstr(b, ",\"token_type\":\"Bearer\",\"expires_at\":");
    if (has_exp)
        json_append_i64(b, exp);
    else
        json_append_null(b);
    buf_append_byte(b, ',');
    app_rest__append_user_fields(c, b, true);
    buf_append_cstr(b, ",\"permissions\":{\"features\":{\"channels\":");
    json_append_bool(b, c->user.is_admin || cfg->default_channels_perm);
    buf_append_cstr(b, ",\"notes\":true}}}");
}

/* Signs a fresh token for c->user and answers the session response with the cookie. */
static void reply_session(app_rest_call_t *c)
{
    const app_config_t *cfg = app_config(c->app);
    const char *key = cfg->secret_key;
    int64_t now = (int64_t)time(NULL);
    bool has_exp = !cfg->jwt_never_expires;
    int64_t exp = now + (has_exp ? cfg->jwt_expires_us / 1000000 : 0);
    char token[1024];
    if (app_jwt_sign(key, key ? strlen(key) : 0, c->user.id, has_exp, exp, now, NULL, token,
                     sizeof token) < 0) {
        app_rest__detail(c, 500, APP_REST_E_DEFAULT);
        return;
    }
    buf_t b = BUF_INIT;
    append_session(c, &b, token, has_exp, exp);
    char cookie[1200];
    if (has_exp)
        snprintf(cookie, sizeof cookie,
                 "Set-Cookie: token=%s; HttpOnly; Max-Age=%lld; Path=/; SameSite=Lax\r\n", token,
                 (long long)(exp - now));
    else
        snprintf(cookie, sizeof cookie, "Set-Cookie: token=%s; HttpOnly; Path=/; SameSite=Lax\r\n",
                 token);
    app_rest__reply(c, 200, buf_slice(&b), cookie);
    buf_dispose(&b);
}

/* ---- rate limit -------------------------------------------------------------------- */

static uint64_t email_key(const char *email)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = email; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* Counts an attempt; true when the email is over the limit. */
static bool signin_limited(app_rest_t *r, const char *email)
{
    uint64_t key = email_key(email);
    int64_t now = (int64_t)time(NULL);
    signin_slot_t *slot = NULL, *oldest = &r->signin[0];
    for (size_t i = 0; i < APP_REST_SIGNIN_SLOTS; i++) {
        signin_slot_t *s = &r->signin[i];
        if (s->key == key) {
            slot = s;
            break;
        }
        if (s->key == 0 || now - s->start >= APP_REST_SIGNIN_WINDOW_S || s->start < oldest->start)
            oldest = s;
    }
    if (!slot) {
        slot = oldest;
        *slot = (signin_slot_t){key, now, 0};
    }
    if (now - slot->start >= APP_REST_SIGNIN_WINDOW_S)
        *slot = (signin_slot_t){key, now, 0};
    return ++slot->count > APP_REST_SIGNIN_LIMIT;
}

/* ---- bcrypt on the thread pool ----------------------------------------------------- */

typedef struct pw_work {
    uv_work_t w;
    app_rest_call_t *c;
    char pw[PASSWORD_IN_MAX + 1];
    size_t pw_len;
    char hash[APP_PASSWORD_HASH_SIZE + 8]; /* signin: stored hash; signup: the new one */
    bool signup;
    bool known; /* signin: the email exists */
    bool ok;    /* verify matched / hash made */
} pw_work_t;

static void pw_run(uv_work_t *w)
{
    pw_work_t *p = w->data;
    if (p->signup)
        p->ok = app_password_hash(p->pw, p->pw_len, 0, p->hash, sizeof p->hash) == 0;
    else
        p->ok = app_password_verify(p->pw, p->pw_len, p->hash) && p->known;
}

static void on_created(int status, const store_user_t *u, void *arg);

static void pw_after(uv_work_t *w, int status)
{
    pw_work_t *p = w->data;
    app_rest_call_t *c = p->c;
    bool ok = status == 0 && p->ok;
    bool signup = p->signup;
    char hash[sizeof p->hash];
    memcpy(hash, p->hash, sizeof hash);
    memset(p->pw, 0, sizeof p->pw);
    free(p);
    if (!signup) {
        if (ok)
            reply_session(c);
        else
            app_rest__detail(c, 400, APP_REST_E_INVALID_CRED);
        return;
    }
    if (!ok) {
        app_rest__detail(c, 500, "Error creating user");
        return;
    }
    if (!app_rest__store_ready(c))
        return;
    store_new_user_t nu = {.email = c->user.email,
                           .name = c->user.name,
                           .role = c->user.role,
                           .password_hash = hash,
                           .profile_image_url = c->user.profile_image_url};
    store_user_create(app_store(c->app), &nu, on_created, c);
}

static void pw_queue(app_rest_call_t *c, pw_work_t *p)
{
    p->c = c;
    p->w.data = p;
    if (uv_queue_work(app_loop(c->app), &p->w, pw_run, pw_after) != 0) {
        free(p);
        app_rest__detail(c, 500, APP_REST_E_DEFAULT);
    }
}

/* ---- POST /api/v1/auths/signin ----------------------------------------------------- */

static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void on_auth_row(int status, const store_user_t *u, const char *hash, void *arg)
{
    pw_work_t *p = arg;
    app_rest_call_t *c = p->c;
    if (status != STORE_OK && status != STORE_ENOTFOUND) {
        memset(p->pw, 0, sizeof p->pw);
        free(p);
        app_rest__store_error(c, status);
        return;
    }
    p->known = status == STORE_OK && hash && strlen(hash) < sizeof p->hash;
    snprintf(p->hash, sizeof p->hash, "%s", p->known ? hash : DUMMY_HASH);
    if (p->known)
        app_rest__user_set(&c->user, u);
    pw_queue(c, p);
}

/* Reads email and password; answers and returns NULL when they are unusable. */
static pw_work_t *read_credentials(app_rest_call_t *c, slice_t body)
{
    char email[EMAIL_MAX + 1];
    json_value_t pv;
    if (!app_rest__str(c, body, "email", email, sizeof email, true))
        return NULL;
    if (!app_json_get(body, "password", &pv) || pv.type != JSON_STRING) {
        app_rest__detail(c, 422, "'password' must be a string");
        return NULL;
    }
    pw_work_t *p = xcalloc(1, sizeof *p);
    long n = app_json_str(pv, p->pw, sizeof p->pw);
    if (n < 0) {
        free(p);
        app_rest__detail(c, 400, "The password is too long");
        return NULL;
    }
    p->pw_len = (size_t)n;
    lower_ascii(email);
    snprintf(c->user.email, sizeof c->user.email, "%s", email);
    p->c = c;
    return p;
}

void app_rest__signin(app_rest_call_t *c)
{
    slice_t body;
    if (!app_rest__body_object(c, &body))
        return;
    pw_work_t *p = read_credentials(c, body);
    if (!p)
        return;
    if (signin_limited(c->rest, c->user.email)) {
        free(p);
        app_rest__detail(c, 429, APP_REST_E_RATE_LIMIT);
        return;
    }
    if (!app_rest__store_ready(c)) {
        free(p);
        return;
    }
    store_rest_user_auth(app_store(c->app), c->user.email, on_auth_row, p);
}

/* ---- POST /api/v1/auths/signup ----------------------------------------------------- */

/* A plausible address: local@domain.tld, no spaces or control bytes (Open WebUI's
 * validate_email_format is a similar regular expression). */
static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@'))
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const char *p = e; *p; p++)
        if ((uint8_t)*p <= ' ' || *p == '\x7f')
            return false;
    return true;
}

static void on_created(int status, const store_user_t *u, void *arg)
{
    app_rest_call_t *c = arg;
    if (status == STORE_EEXIST) {
        app_rest__detail(c, 400, APP_REST_E_EMAIL_TAKEN);
        return;
    }
    if (status != STORE_OK) {
        app_rest__store_error(c, status);
        return;
    }
    app_rest__user_set(&c->user, u);
    LOG(LOG_INFO, "auth: user %s signed up as %s", c->user.id, c->user.role);
    reply_session(c);
}

static void on_user_count(int status, int64_t count, void *arg)
{
    pw_work_t *p = arg;
    app_rest_call_t *c = p->c;
    if (status != STORE_OK) {
        free(p);
        app_rest__store_error(c, status);
        return;
    }
    if (count > 0 && !c->rest->enable_signup) {
        free(p);
        app_rest__detail(c, 403, APP_REST_E_ACCESS);
        return;
    }
    snprintf(c->user.role, sizeof c->user.role, "%s", count > 0 ? c->rest->default_role : "admin");
    p->signup = true;
    pw_queue(c, p);
}

void app_rest__signup(app_rest_call_t *c)
{
    slice_t body;
    char name[NAME_MAX_LEN + 1], image[2048];
    if (!app_rest__body_object(c, &body) ||
        !app_rest__str(c, body, "name", name, sizeof name, true) ||
        !app_rest__str(c, body, "profile_image_url", image, sizeof image, false))
        return;
    pw_work_t *p = read_credentials(c, body);
    if (!p)
        return;
    if (!email_ok(c->user.email)) {
        free(p);
        app_rest__detail(c, 400, APP_REST_E_EMAIL_FORMAT);
        return;
    }
    if (p->pw_len == 0 || p->pw_len > APP_PASSWORD_MAX || memchr(p->pw, 0, p->pw_len)) {
        free(p);
        app_rest__detail(c, 400, "The password must be 1 to 72 bytes long");
        return;
    }
    snprintf(c->user.name, sizeof c->user.name, "%s", name);
    c->user.profile_image_url =
        xstrndup(image[0] ? image : "/user.png", strlen(image[0] ? image : "/user.png"));
    if (!app_rest__store_ready(c)) {
        free(p);
        return;
    }
    store_rest_user_count(app_store(c->app), on_user_count, p);
}

/* ---- GET /api/v1/auths/ ------------------------------------------------------------ */

void app_rest__auths_me(app_rest_call_t *c)
{
    const char *token = c->token ? c->token : "";
    const char *key = app_config(c->app)->secret_key;
    app_jwt_claims_t claims = {0};
    app_jwt_verify(key, key ? strlen(key) : 0, token, strlen(token), (double)time(NULL), &claims);
    buf_t b = BUF_INIT;
    append_session(c, &b, token, claims.has_exp, claims.exp);
    app_rest__reply_buf(c, 200, &b);
}
