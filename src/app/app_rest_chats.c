/*
 * app_rest_chats: the chat rows the front end needs around a generation (Open WebUI
 * routers/chats.py: POST /api/v1/chats/new, GET /api/v1/chats/{id}), the task routes
 * (main.py: GET /api/tasks/chat/{chat_id}, POST /api/tasks/chat/{chat_id}/stop), the
 * model list (GET /api/models) and the front-end configuration (GET /api/config).
 *
 * Chats: a chat that does not exist or belongs to someone else is 401 NOT_FOUND for
 * GET and update (Open WebUI's get_chat_by_id / update_chat_by_id answer 401 there); the
 * list is Open WebUI's GET /api/v1/chats/ ({id, title, updated_at, created_at}, 60 per
 * `page`, everything up to 1000 without one); tasks of a chat the caller does
 * not own are listed as none and stopping them is 404, as main.py does. Chat ids of
 * `local:` chats have no row: their tasks are the caller's own ones.
 *
 * /api/config is honest about what this server is: name "sioc" and its version, the
 * features it implements (auth, sign-up, websocket, channels, notes) and nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_chat.h"
#include "app/app_echo_model.h"
#include "app/app_json.h"
#include "app/app_rest_private.h"
#include "base/alloc.h"
#include "base/log.h"
#include "store/store_rest.h"

#ifndef SIOC_VERSION_STRING
#define SIOC_VERSION_STRING "0.1.0"
#endif

/* ---- chats ------------------------------------------------------------------------- */

/* The request's `chat` object as a string for the store, or NULL once the call is
 * answered (bad body, or no store). */
static char *chat_body(app_rest_call_t *c)
{
    slice_t body;
    json_value_t chat;
    if (!app_rest__body_object(c, &body))
        return NULL;
    if (!app_json_get(body, "chat", &chat) || chat.type != JSON_OBJECT) {
        app_rest__detail(c, 422, "'chat' must be an object");
        return NULL;
    }
    if (!app_rest__store_ready(c))
        return NULL;
    return xstrndup((const char *)chat.raw.ptr, chat.raw.len);
}

void app_rest__chat_new(app_rest_call_t *c)
{
    char *text = chat_body(c);
    if (!text)
        return;
    store_rest_chat_create(app_store(c->app), c->user.id, text, app_rest__on_store_json, c);
    free(text);
}

static bool owns(const app_rest_call_t *c, const char *chat_json)
{
    char owner[APP_ID_MAX];
    return app_json_get_str(slice_from_cstr(chat_json), "user_id", owner, sizeof owner) > 0 &&
           strcmp(owner, c->user.id) == 0;
}

static void on_chat(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    if (status == STORE_ENOTFOUND || (status == STORE_OK && !owns(c, json))) {
        app_rest__detail(c, 401, APP_REST_E_NOT_FOUND);
        return;
    }
    if (status != STORE_OK) {
        app_rest__store_error(c, status);
        return;
    }
    app_rest__reply(c, 200, slice_from_cstr(json), NULL);
}

void app_rest__chat_get(app_rest_call_t *c)
{
    if (app_rest__store_ready(c))
        store_rest_chat_get(app_store(c->app), c->param, on_chat, c);
}

void app_rest__chat_update(app_rest_call_t *c)
{
    char *text = chat_body(c);
    if (!text)
        return;
    store_rest_chat_update(app_store(c->app), c->param, c->user.id, text, on_chat, c);
    free(text);
}

void app_rest__chats_list(app_rest_call_t *c)
{
    int64_t page = app_rest__query_int(c, "page", 0);
    int64_t skip = page > 0 && page < 1000000 ? (page - 1) * 60 : 0;
    if (app_rest__store_ready(c))
        store_rest_chats_list(app_store(c->app), c->user.id, skip, page > 0 ? 60 : 1000,
                              app_rest__on_store_json, c);
}

/* ---- tasks ------------------------------------------------------------------------- */

static void tasks_answer(app_rest_call_t *c, bool stop, bool owner)
{
    app_tasks_t *t = c->rest->tasks;
    if (!stop) {
        buf_t b = BUF_INIT;
        buf_append_cstr(&b, "{\"task_ids\":");
        if (owner)
            app_tasks_list_json(t, c->param, &b);
        else
            buf_append_cstr(&b, "[]");
        buf_append_byte(&b, '}');
        app_rest__reply_buf(c, 200, &b);
        return;
    }
    if (!owner) {
        app_rest__detail(c, 404, APP_REST_E_NOT_FOUND);
        return;
    }
    size_t n = app_tasks_stop_item(t, c->param);
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"status\":true,\"message\":");
    char msg[APP_ID_MAX + 64];
    snprintf(msg, sizeof msg, n ? "All tasks for item %s stopped." : "No tasks found for item %s.",
             c->param);
    json_append_string(&b, slice_from_cstr(msg));
    buf_append_byte(&b, '}');
    LOG(LOG_INFO, "chat: stop of chat %s asked by user %s: %zu task(s)", c->param, c->user.id, n);
    app_rest__reply_buf(c, 200, &b);
}

static void on_task_chat(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    bool stop = c->ext != NULL;
    if (status != STORE_OK && status != STORE_ENOTFOUND) {
        app_rest__store_error(c, status);
        return;
    }
    tasks_answer(c, stop, status == STORE_OK && owns(c, json));
}

static void tasks_route(app_rest_call_t *c, bool stop)
{
    c->ext = stop ? (void *)c : NULL;
    if (strncmp(c->param, "local:", 6) == 0) {
        tasks_answer(c, stop, app_tasks_item_has_user(c->rest->tasks, c->param, c->user.id));
        return;
    }
    if (app_rest__store_ready(c))
        store_rest_chat_get(app_store(c->app), c->param, on_task_chat, c);
}

void app_rest__tasks_list(app_rest_call_t *c)
{
    tasks_route(c, false);
}

void app_rest__tasks_stop(app_rest_call_t *c)
{
    tasks_route(c, true);
}

/* ---- GET /api/models --------------------------------------------------------------- */

/* One model in Open WebUI's /api/models shape: the upstream object plus name, urlIdx,
 * owned_by "openai" and the raw object under "openai". */
static void append_model(buf_t *b, const app_upstream_model_t *m)
{
    buf_append_cstr(b, "{\"id\":");
    json_append_string(b, m->id);
    buf_append_cstr(b, ",\"name\":");
    json_value_t name;
    if (app_json_get(m->raw, "name", &name) && name.type == JSON_STRING)
        buf_append_slice(b, name.raw);
    else
        json_append_string(b, m->id);
    buf_append_cstr(b, ",\"object\":\"model\",\"created\":");
    json_value_t created;
    if (app_json_get(m->raw, "created", &created) && created.type == JSON_NUMBER)
        buf_append_slice(b, created.raw);
    else
        buf_append_cstr(b, "0");
    buf_append_cstr(b, ",\"owned_by\":\"openai\",\"connection_type\":\"external\",\"urlIdx\":");
    json_append_u64(b, m->url_idx);
    buf_append_cstr(b, ",\"openai\":");
    buf_append_slice(b, m->raw);
    buf_append_cstr(b, ",\"tags\":[]}");
}

static void on_models(app_upstream_t *up, int status, const app_upstream_models_t *res, void *arg)
{
    (void)up;
    app_rest_call_t *c = arg;
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"data\":[");
    for (size_t i = 0; status == 0 && i < res->n; i++) {
        if (i)
            buf_append_byte(&b, ',');
        append_model(&b, &res->models[i]);
    }
    buf_append_cstr(&b, "]}");
    for (size_t i = 0; status == 0 && i < res->n_conns; i++)
        if (res->conns[i].status != 0)
            LOG_RATELIMITED(LOG_WARN, c->rest->log_count, 20, "models: connection %zu: %.*s", i,
                            (int)res->conns[i].message.len,
                            (const char *)res->conns[i].message.ptr);
    app_rest__reply_buf(c, 200, &b);
}

void app_rest__models(app_rest_call_t *c)
{
    app_upstream_t *up = c->rest->up;
    if (up && app_upstream_conn_count(up) > 0) {
        if (app_upstream_list_models(up, on_models, c) != 0)
            app_rest__detail(c, 503, "The server is shutting down");
        return;
    }
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"data\":[");
    app_echo_model_append_info(&b);
    buf_append_cstr(&b, "]}");
    app_rest__reply_buf(c, 200, &b);
}

/* ---- GET /api/config --------------------------------------------------------------- */

void app_rest__config(app_rest_call_t *c)
{
    const app_config_t *cfg = app_config(c->app);
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"status\":true,\"name\":\"sioc\",\"version\":");
    json_append_string(&b, slice_from_cstr(SIOC_VERSION_STRING));
    buf_append_cstr(&b, ",\"default_locale\":\"\",\"oauth\":{\"providers\":{}},\"features\":{"
                        "\"auth\":true,\"auth_trusted_header\":false,"
                        "\"enable_signup_password_confirmation\":false,\"enable_ldap\":false,"
                        "\"enable_api_keys\":false,\"enable_signup\":");
    json_append_bool(&b, c->rest->enable_signup);
    buf_append_cstr(&b, ",\"enable_login_form\":true,\"enable_websocket\":");
    json_append_bool(&b, cfg->enable_websocket);
    buf_append_cstr(&b, ",\"enable_version_update_check\":false");
    if (cfg->heartbeat_interval_s) {
        buf_append_cstr(&b, ",\"websocket_heartbeat_interval\":");
        json_append_u64(&b, cfg->heartbeat_interval_s);
    }
    if (c->authed) {
        buf_append_cstr(&b, ",\"enable_channels\":true,\"enable_notes\":true,"
                            "\"enable_direct_connections\":false,\"enable_web_search\":false,"
                            "\"enable_image_generation\":false,\"enable_code_execution\":false}");
        buf_append_cstr(&b, ",\"default_models\":\"\",\"default_prompt_suggestions\":[]");
    } else {
        buf_append_byte(&b, '}');
    }
    buf_append_byte(&b, '}');
    app_rest__reply_buf(c, 200, &b);
}
