/*
 * app_rest_private: what the REST modules share (app layer, internal): the module state,
 * the per-request call object, the answer helpers and the route handlers of
 * app_rest_auth.c, app_rest_channels.c, app_rest_notes.c, app_rest_chats.c and
 * app_chat.c. See app_rest.h for the routes.
 *
 * A call lives from dispatch to its one answer:
 *
 *   app_rest_dispatch ── match, copy body/query/{id} ──> caller auth (JWT, user row)
 *        ──> handler ── (store / upstream, any number of async steps) ──> app_rest__reply
 *                                                   (answers if the client is still there,
 *                                                    then frees the call)
 *
 * If the client goes away first, `req` becomes NULL and the answer is dropped; the work
 * still finishes (a channel message is stored and announced all the same).
 *
 * Ownership: the call owns its copies; handlers own whatever they hang on `ext` and free
 * it before replying. Threading: loop thread only.
 */
#ifndef SIOC_APP_REST_PRIVATE_H
#define SIOC_APP_REST_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app_private.h"
#include "app/app_rest.h"
#include "app/app_tasks.h"
#include "app/app_upstream.h"
#include "base/json.h"

/* Open WebUI's ERROR_MESSAGES (constants.py) used by these routes. */
#define APP_REST_E_NOT_FOUND "We could not find what you're looking for :/"
#define APP_REST_E_ACCESS                                                                          \
    "You do not have permission to access this resource. Please contact your administrator for "   \
    "assistance."
#define APP_REST_E_INVALID_TOKEN                                                                   \
    "Your session has expired or the token is invalid. Please sign in again."
#define APP_REST_E_NOT_AUTH "Not authenticated"
#define APP_REST_E_INVALID_CRED                                                                    \
    "The email or password provided is incorrect. Please check for typos and try logging in "      \
    "again."
#define APP_REST_E_EMAIL_TAKEN                                                                     \
    "Uh-oh! This email is already registered. Sign in with your existing account or choose "       \
    "another email to start anew."
#define APP_REST_E_EMAIL_FORMAT "Invalid email format. Please use a valid email address."
#define APP_REST_E_RATE_LIMIT "Too many login attempts. Please try again later."
#define APP_REST_E_DEFAULT "Something went wrong :/ Please try again later."
#define APP_REST_E_MODEL "Model not found"

/** Signin attempts kept per email window (Open WebUI: 15 per 3 minutes per email). */
#define APP_REST_SIGNIN_SLOTS 256
#define APP_REST_SIGNIN_LIMIT 15
#define APP_REST_SIGNIN_WINDOW_S 180

typedef struct app_chat app_chat_t;

typedef struct signin_slot {
    uint64_t key;   /* hash of the lower-cased email, 0 = free */
    int64_t start;  /* window start, epoch seconds */
    unsigned count; /* attempts in the window */
} signin_slot_t;

/** The module state (app->rest). */
struct app_rest {
    app_t *app;
    app_upstream_t *up;    /* the OpenAI-compatible client (NULL after stop) */
    app_tasks_t *tasks;    /* running generations */
    app_chat_t *chat;      /* app_chat.c */
    bool stopped;          /* app_rest_stop ran */
    uint64_t started_ms;   /* when the module started (uptime in the stats) */
    bool enable_signup;    /* ENABLE_SIGNUP (default true) */
    char default_role[16]; /* DEFAULT_USER_ROLE (default "pending") */
    uint64_t log_count;
    signin_slot_t signin[APP_REST_SIGNIN_SLOTS];
};

/** How a route authenticates its caller. */
typedef enum app_rest_auth {
    APP_REST_NONE = 0, /* nobody is looked up */
    APP_REST_OPTIONAL, /* a valid token adds the user, anything else is anonymous */
    APP_REST_CURRENT,  /* get_current_user: any role, pending included */
    APP_REST_VERIFIED, /* get_verified_user: role user or admin */
} app_rest_auth_t;

/** The caller, copied from the user row. */
typedef struct app_rest_user {
    char id[APP_ID_MAX];
    char role[16];
    char name[256];
    char email[320];
    char *profile_image_url; /* owned (may be a long data: URL) */
    bool is_admin;
} app_rest_user_t;

typedef struct app_rest_call app_rest_call_t;
typedef void (*app_rest_handler_fn)(app_rest_call_t *c);

struct app_rest_call {
    app_t *app;
    app_rest_t *rest;
    sioc_http_req_t *req; /* NULL once the client went away */
    app_rest_handler_fn handler;
    app_rest_auth_t auth;
    bool authed;          /* `user` is set */
    app_rest_user_t user; /* the caller */
    char *body;           /* copy of the body (NUL-terminated), "" when none */
    size_t body_len;
    char *query;            /* copy of the query string (NUL-terminated) */
    char *token;            /* the caller's session token (NUL-terminated), NULL without */
    char param[APP_ID_MAX]; /* the {id} of the path, "" when the route has none */
    void *ext;              /* the handler's own state */
};

/** Answers `json` with `status` (and optional preformatted header lines), then frees the
 *  call. The call must not be used afterwards. */
void app_rest__reply(app_rest_call_t *c, int status, slice_t json, const char *extra_headers);
/** Answers the bytes in `b` (and disposes it) as content type `type`, then frees the
 *  call. */
void app_rest__reply_text(app_rest_call_t *c, int status, const char *type, buf_t *b);
/** Answers {"detail": detail} with `status`, then frees the call. */
void app_rest__detail(app_rest_call_t *c, int status, const char *detail);
/** Answers the JSON in `b` (and disposes it), then frees the call. */
void app_rest__reply_buf(app_rest_call_t *c, int status, buf_t *b);
/** Maps a store error to Open WebUI's answer: not found 404, access 403, bad input 400,
 *  else 500; then frees the call. */
void app_rest__store_error(app_rest_call_t *c, int status);

/** The body as a JSON object; otherwise answers 422 and returns false. */
bool app_rest__body_object(app_rest_call_t *c, slice_t *out);
/**
 * Reads string member `key` of `obj` into `out` (at most cap-1 bytes). Missing or null:
 * `out` = "" and true unless `required`. Otherwise (not a string, too long, NUL inside,
 * required and empty) answers 422 and returns false.
 */
bool app_rest__str(app_rest_call_t *c, slice_t obj, const char *key, char *out, size_t cap,
                   bool required);
/** An optional JSON-object member as raw text into `out` (NUL-terminated, cleared first):
 *  absent or null leaves `out` empty and returns true; another type answers 422. */
bool app_rest__object(app_rest_call_t *c, slice_t obj, const char *key, buf_t *out);
/**
 * The access grants of a create/update body, normalised to Open WebUI 0.8's array form
 * into `out` (NUL-terminated): "access_grants" (an array of {principal_type,
 * principal_id, permission}) or, when absent, the legacy "access_control" (null: public
 * read; {}: private; {"read"|"write": {"user_ids", "group_ids"}}). `*present` false when
 * the body has neither (the caller decides the default). Answers 422 and returns false on
 * a malformed value.
 */
bool app_rest__grants(app_rest_call_t *c, slice_t obj, buf_t *out, bool *present);
/** The integer query parameter `name`, or `dflt` when absent or not a number >= 0. */
int64_t app_rest__query_int(const app_rest_call_t *c, const char *name, int64_t dflt);
/** Appends the caller as Open WebUI's UserNameResponse {id, name, role,
 *  profile_image_url}. */
void app_rest__append_user(const app_rest_call_t *c, buf_t *b);
/** True when the store can take a call; else answers 503 (no store, or shutting down). */
bool app_rest__store_ready(app_rest_call_t *c);
/** A store callback (`arg` the call) that answers 200 with the store's JSON, or the
 *  store's error. */
void app_rest__on_store_json(int status, const char *json, void *arg);
/** The same fields without the braces, and `email` after `id` when asked (the session
 *  response carries them among its own). */
void app_rest__append_user_fields(const app_rest_call_t *c, buf_t *b, bool email);

/* ---- route handlers ---------------------------------------------------------------- */

void app_rest__signin(app_rest_call_t *c); /* app_rest_auth.c */
void app_rest__signup(app_rest_call_t *c);
void app_rest__auths_me(app_rest_call_t *c);
/** Copies a store user into the caller record (used by auth and signin). */
void app_rest__user_set(app_rest_user_t *dst, const store_user_t *u);

void app_rest__channels_list(app_rest_call_t *c); /* app_rest_channels.c */
void app_rest__channel_create(app_rest_call_t *c);
void app_rest__channel_get(app_rest_call_t *c);
void app_rest__channel_messages(app_rest_call_t *c);
void app_rest__channel_post(app_rest_call_t *c);

void app_rest__notes_list(app_rest_call_t *c); /* app_rest_notes.c */
void app_rest__note_create(app_rest_call_t *c);
void app_rest__note_get(app_rest_call_t *c);
void app_rest__note_update(app_rest_call_t *c);

void app_rest__chat_new(app_rest_call_t *c); /* app_rest_chats.c */
void app_rest__chat_get(app_rest_call_t *c);
void app_rest__chat_update(app_rest_call_t *c);
void app_rest__chats_list(app_rest_call_t *c);
void app_rest__config(app_rest_call_t *c);
void app_rest__models(app_rest_call_t *c);
void app_rest__tasks_list(app_rest_call_t *c);
void app_rest__tasks_stop(app_rest_call_t *c);

void app_rest__stats(app_rest_call_t *c); /* app_rest_stats.c */
void app_rest__metrics(app_rest_call_t *c);

#endif
