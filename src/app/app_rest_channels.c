/*
 * app_rest_channels: the channel routes (Open WebUI routers/channels.py): the list with
 * unread counts, creation, a page of messages, and posting a message, which is stored in
 * `message` and announced as events:channel {"type": "message"} to room channel:{id}
 * with Open WebUI's payload (spec §4):
 *   {"channel_id", "message_id", "data": {"type": "message", "data": {<MessageModel>,
 *    "user": <UserNameResponse>, "temp_id"}}, "user": <UserNameResponse>,
 *    "channel": <ChannelModel>}
 *
 * Access (spec §8.2, Open WebUI 0.8+): group/dm channels need an active membership;
 * standard channels need ownership, admin, or a grant: read to list and read messages,
 * write to post. Non-admins need the features.channels permission
 * (USER_PERMISSIONS_FEATURES_CHANNELS; group permissions are not consulted here).
 * Standard channels are created by admins only (get_admin_user: 401 ACCESS_PROHIBITED);
 * group and dm channels by any user with the channels feature. Channel names are stored
 * lower-cased, as Open WebUI does. A created channel's room is joined by the creator's
 * local sockets so they receive its messages without a new join-channels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "app/app_rest_private.h"
#include "base/alloc.h"
#include "store/store_rest.h"

#define CHANNEL_NAME_MAX 128
#define DESCRIPTION_MAX 4096
#define MESSAGES_LIMIT_MAX 200

static bool channels_allowed(app_rest_call_t *c)
{
    if (c->user.is_admin || app_config(c->app)->default_channels_perm)
        return true;
    app_rest__detail(c, 403, APP_REST_E_ACCESS);
    return false;
}

/* ---- GET /api/v1/channels/ --------------------------------------------------------- */

void app_rest__channels_list(app_rest_call_t *c)
{
    if (!channels_allowed(c) || !app_rest__store_ready(c))
        return;
    store_rest_channels_list(app_store(c->app), c->user.id, app_rest__on_store_json, c);
}

/* ---- POST /api/v1/channels/create -------------------------------------------------- */

typedef struct join_room {
    const char *room;
} join_room_t;

static void visit_join(sioc_socket_t *s, void *arg)
{
    join_room_t *j = arg;
    sioc_socket_join(s, j->room);
}

static void on_created(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    char id[APP_ID_MAX];
    if (status == STORE_OK && app_json_get_str(slice_from_cstr(json), "id", id, sizeof id) > 0 &&
        !c->app->stopping) {
        char room[16 + APP_ID_MAX], user_room[16 + APP_ID_MAX];
        snprintf(room, sizeof room, "channel:%s", id);
        snprintf(user_room, sizeof user_room, "user:%s", c->user.id);
        const char *rooms[1] = {user_room};
        sioc_to_t to = {.rooms = rooms, .n_rooms = 1};
        join_room_t j = {room};
        sioc_sockets_each(app_nsp(c->app), &to, visit_join, &j);
    }
    app_rest__on_store_json(status, json, arg);
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

void app_rest__channel_create(app_rest_call_t *c)
{
    slice_t body;
    char name[CHANNEL_NAME_MAX + 1], type[16];
    char *desc = xmalloc(DESCRIPTION_MAX + 1);
    buf_t data = BUF_INIT, meta = BUF_INIT, grants = BUF_INIT;
    bool have_grants = false;
    bool ok = app_rest__body_object(c, &body) &&
              app_rest__str(c, body, "name", name, sizeof name, true) &&
              app_rest__str(c, body, "description", desc, DESCRIPTION_MAX + 1, false) &&
              app_rest__str(c, body, "type", type, sizeof type, false) &&
              app_rest__object(c, body, "data", &data) &&
              app_rest__object(c, body, "meta", &meta) &&
              app_rest__grants(c, body, &grants, &have_grants);
    if (ok && type[0] && strcmp(type, "group") != 0 && strcmp(type, "dm") != 0) {
        app_rest__detail(c, 422, "'type' must be null, \"group\" or \"dm\"");
        ok = false;
    }
    if (ok && !type[0] && !c->user.is_admin) {
        app_rest__detail(c, 401, APP_REST_E_ACCESS);
        ok = false;
    }
    if (ok && channels_allowed(c) && app_rest__store_ready(c)) {
        lower_ascii(name);
        store_rest_channel_t ch = {
            .user_id = c->user.id,
            .name = name,
            .description = desc[0] ? desc : NULL,
            .type = type[0] ? type : NULL,
            .data_json = data.len ? (const char *)buf_data(&data) : NULL,
            .meta_json = meta.len ? (const char *)buf_data(&meta) : NULL,
            .grants_json = have_grants ? (const char *)buf_data(&grants) : NULL,
        };
        store_rest_channel_create(app_store(c->app), &ch, on_created, c);
    }
    free(desc);
    buf_dispose(&data);
    buf_dispose(&meta);
    buf_dispose(&grants);
}

/* ---- the access step shared by messages and post ----------------------------------- */

typedef void (*channel_next_fn)(app_rest_call_t *c, slice_t access_json);

typedef struct access_step {
    app_rest_call_t *c;
    channel_next_fn next;
    bool need_write;
} access_step_t;

static void on_access(int status, const char *json, void *arg)
{
    access_step_t *st = arg;
    app_rest_call_t *c = st->c;
    channel_next_fn next = st->next;
    bool need_write = st->need_write;
    free(st);
    if (status != STORE_OK) {
        app_rest__store_error(c, status);
        return;
    }
    json_value_t v;
    slice_t a = slice_from_cstr(json);
    if (!app_json_get(a, need_write ? "write" : "read", &v) || !app_json_truthy(v)) {
        app_rest__detail(c, 403, APP_REST_E_ACCESS);
        return;
    }
    next(c, a);
}

static void with_access(app_rest_call_t *c, bool need_write, channel_next_fn next)
{
    if (!channels_allowed(c) || !app_rest__store_ready(c))
        return;
    access_step_t *st = xmalloc(sizeof *st);
    *st = (access_step_t){c, next, need_write};
    store_rest_channel_access(app_store(c->app), c->param, c->user.id, c->user.is_admin, on_access,
                              st);
}

/* ---- GET /api/v1/channels/{id} ----------------------------------------------------- */

/* The ChannelModel plus Open WebUI's "write_access" flag (ChannelResponse). */
static void channel_detail(app_rest_call_t *c, slice_t access)
{
    json_value_t ch, w;
    app_json_get(access, "channel", &ch);
    bool write = app_json_get(access, "write", &w) && app_json_truthy(w);
    buf_t b = BUF_INIT;
    buf_append(&b, ch.raw.ptr, ch.raw.len - 1); /* without the closing brace */
    buf_append_cstr(&b, ",\"write_access\":");
    json_append_bool(&b, write);
    buf_append_byte(&b, '}');
    app_rest__reply_buf(c, 200, &b);
}

void app_rest__channel_get(app_rest_call_t *c)
{
    with_access(c, false, channel_detail);
}

/* ---- GET /api/v1/channels/{id}/messages -------------------------------------------- */

static void list_messages(app_rest_call_t *c, slice_t access)
{
    (void)access;
    int64_t skip = app_rest__query_int(c, "skip", 0);
    int64_t limit = app_rest__query_int(c, "limit", 50);
    if (limit <= 0 || limit > MESSAGES_LIMIT_MAX)
        limit = limit <= 0 ? 50 : MESSAGES_LIMIT_MAX;
    store_rest_channel_messages(app_store(c->app), c->param, skip, limit, app_rest__on_store_json, c);
}

void app_rest__channel_messages(app_rest_call_t *c)
{
    with_access(c, false, list_messages);
}

/* ---- POST /api/v1/channels/{id}/messages/post -------------------------------------- */

typedef struct post_op {
    app_rest_call_t *c;
    char *channel_json; /* the ChannelModel, for the event */
    char temp_id[APP_ID_MAX];
} post_op_t;

static void emit_message(post_op_t *op, const char *msg_json)
{
    app_rest_call_t *c = op->c;
    char mid[APP_ID_MAX];
    slice_t m = slice_from_cstr(msg_json);
    if (app_json_get_str(m, "id", mid, sizeof mid) <= 0 || m.len < 2 || c->app->stopping)
        return;
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"channel_id\":");
    json_append_string(&b, slice_from_cstr(c->param));
    buf_append_cstr(&b, ",\"message_id\":");
    json_append_string(&b, slice_from_cstr(mid));
    buf_append_cstr(&b, ",\"data\":{\"type\":\"message\",\"data\":");
    buf_append(&b, m.ptr, m.len - 1); /* the object without its closing brace */
    buf_append_cstr(&b, ",\"user\":");
    app_rest__append_user(c, &b);
    buf_append_cstr(&b, ",\"temp_id\":");
    if (op->temp_id[0])
        json_append_string(&b, slice_from_cstr(op->temp_id));
    else
        json_append_null(&b);
    buf_append_cstr(&b, "}},\"user\":");
    app_rest__append_user(c, &b);
    buf_append_cstr(&b, ",\"channel\":");
    buf_append_cstr(&b, op->channel_json);
    buf_append_byte(&b, '}');
    char room[16 + APP_ID_MAX];
    snprintf(room, sizeof room, "channel:%s", c->param);
    sioc_emit_room(app_nsp(c->app), room, "events:channel",
                   (sioc_data_t){(const char *)buf_data(&b), b.len, NULL, 0});
    buf_dispose(&b);
}

static void on_posted(int status, const char *json, void *arg)
{
    post_op_t *op = arg;
    app_rest_call_t *c = op->c;
    if (status == STORE_OK)
        emit_message(op, json);
    free(op->channel_json);
    free(op);
    app_rest__on_store_json(status, json, c);
}

static void post_message(app_rest_call_t *c, slice_t access)
{
    slice_t body;
    json_value_t content, ch;
    char parent[APP_ID_MAX], reply_to[APP_ID_MAX];
    buf_t data = BUF_INIT, meta = BUF_INIT, text = BUF_INIT;
    post_op_t *op = xcalloc(1, sizeof *op);
    op->c = c;
    bool ok = app_rest__body_object(c, &body) &&
              app_rest__str(c, body, "parent_id", parent, sizeof parent, false) &&
              app_rest__str(c, body, "reply_to_id", reply_to, sizeof reply_to, false) &&
              app_rest__str(c, body, "temp_id", op->temp_id, sizeof op->temp_id, false) &&
              app_rest__object(c, body, "data", &data) && app_rest__object(c, body, "meta", &meta);
    if (ok && (!app_json_get(body, "content", &content) || content.type != JSON_STRING ||
               json_string_unescape_buf(content.raw, &text) != 0 ||
               (text.len && memchr(buf_data(&text), 0, text.len)))) {
        app_rest__detail(c, 422, "'content' must be a string");
        ok = false;
    }
    if (ok) {
        buf_append_byte(&text, '\0');
        app_json_get(access, "channel", &ch);
        op->channel_json = xstrndup((const char *)ch.raw.ptr, ch.raw.len);
        store_new_message_t m = {
            .channel_id = c->param,
            .user_id = c->user.id,
            .content = (const char *)buf_data(&text),
            .data_json = data.len ? (const char *)buf_data(&data) : NULL,
            .meta_json = meta.len ? (const char *)buf_data(&meta) : NULL,
            .reply_to_id = reply_to[0] ? reply_to : NULL,
            .parent_id = parent[0] ? parent : NULL,
        };
        store_message_insert(app_store(c->app), &m, on_posted, op);
    } else {
        free(op);
    }
    buf_dispose(&data);
    buf_dispose(&meta);
    buf_dispose(&text);
}

void app_rest__channel_post(app_rest_call_t *c)
{
    with_access(c, true, post_message);
}
