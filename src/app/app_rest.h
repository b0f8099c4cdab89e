/*
 * app_rest: the REST API a client of the `sioc` program needs, with Open WebUI's paths,
 * payloads and status codes (app layer; issue 6):
 *
 *   GET  /api/config                       front-end configuration (features...)
 *   GET  /api/models                       {"data": [...]}: the upstreams' models, or the
 *                                          built-in echo model when none is configured
 *   POST /api/chat/completions             start a generation (app_chat.c)
 *   GET  /api/tasks/chat/{chat_id}         {"task_ids": [...]}
 *   POST /api/tasks/chat/{chat_id}/stop    stop the chat's generations
 *   POST /api/v1/auths/signin | /signup    session responses (app_rest_auth.c)
 *   GET  /api/v1/auths/                    the current user
 *   GET  /api/v1/channels/                 channels the caller can read, with unread_count
 *   POST /api/v1/channels/create
 *   GET  /api/v1/channels/{id}             ChannelModel + write_access
 *   GET  /api/v1/channels/{id}/messages    ?skip=&limit=
 *   POST /api/v1/channels/{id}/messages/post
 *   GET  /api/v1/notes/   POST /api/v1/notes/create
 *   GET  /api/v1/notes/{id}   POST /api/v1/notes/{id}/update
 *   POST /api/v1/chats/new   GET /api/v1/chats/   GET|POST /api/v1/chats/{id}
 *
 * Every route but config, signin and signup needs a session JWT, as a Bearer token or
 * the `token` cookie (Open WebUI's get_current_user reads both). Errors are FastAPI's
 * {"detail": "..."} with Open WebUI's messages and statuses.
 *
 * Ownership: the module state belongs to the app (app_rest_new/free). Threading: loop
 * thread only.
 */
#ifndef SIOC_APP_REST_H
#define SIOC_APP_REST_H

#include <stdbool.h>

#include "app/app.h"

typedef struct app_rest app_rest_t;

/** Creates the REST state: the upstream client (OPENAI_API_BASE_URL(S)...), the task
 *  registry and the sign-in limiter. Never NULL (a bad upstream configuration is logged
 *  and leaves only the echo model). */
app_rest_t *app_rest_new(app_t *app);

/** At the start of the graceful stop: stops every generation (each writes what it has)
 *  and closes the upstream client. Idempotent. */
void app_rest_stop(app_rest_t *r);

/** Frees the state (after app_rest_stop and the loop drained). NULL-safe. */
void app_rest_free(app_rest_t *r);

/** The task registry of the running generations (for the cross-node hook of
 *  app_tasks_set_mirror and stop commands from other nodes); borrowed, lives as long as
 *  `r`. */
struct app_tasks *app_rest_tasks(app_rest_t *r);

/** Serves the request when its path is one of the routes above (answering now or
 *  later) and returns true; false leaves it to the caller. */
bool app_rest_dispatch(app_t *app, sioc_http_req_t *req);

#endif
