/*
 * app_task_mirror: the task registry's Redis mirror. See app_task_mirror.h.
 *
 * State: this node's tasks (a list, written to Redis as they come and go) and a copy of
 * the whole <P>:tasks hash (every node's), refreshed by one HGETALL a second; a task of
 * the copy that is not in this node's list runs elsewhere. A reply that arrives after
 * app_task_mirror_free finds the record orphaned (`gone`) and frees it.
 */
#include "app/app_task_mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"

#define REFRESH_MS 1000

/* Lists the item's tasks, publishes a stop for each and deletes their entries.
 * KEYS[1] <P>:tasks, KEYS[2] <P>:tasks:item:<item>, KEYS[3] the commands channel. */
static const char LUA_STOP_ITEM[] =
    "local ids = redis.call('SMEMBERS', KEYS[2]) "
    "for _, id in ipairs(ids) do "
    "redis.call('PUBLISH', KEYS[3], '{\"action\":\"stop\",\"task_id\":' .. cjson.encode(id) .. "
    "'}') "
    "redis.call('HDEL', KEYS[1], id) end "
    "redis.call('DEL', KEYS[2]) return #ids";

typedef struct entry {
    struct entry *next;
    char task_id[40];
    char item_id[]; /* NUL-terminated */
} entry_t;

struct app_task_mirror {
    app_t *app;
    app_redis_t *r;
    app_tasks_t *tasks;
    uv_timer_t timer;
    buf_t hash_key;  /* <P>:tasks */
    buf_t item_key;  /* scratch: <P>:tasks:item:<item> */
    buf_t channel;   /* <P>:tasks:commands */
    entry_t *local;  /* this node's tasks */
    entry_t *remote; /* the last copy of <P>:tasks */
    bool busy, gone, closed;
    uint64_t log_n;
};

static entry_t *entry_new(const char *task_id, const char *item_id, size_t item_len)
{
    entry_t *e = xcalloc(1, sizeof *e + item_len + 1);
    snprintf(e->task_id, sizeof e->task_id, "%s", task_id);
    memcpy(e->item_id, item_id, item_len);
    return e;
}

static void list_free(entry_t **head)
{
    while (*head) {
        entry_t *e = *head;
        *head = e->next;
        free(e);
    }
}

static bool is_local(const app_task_mirror_t *m, const char *task_id)
{
    for (const entry_t *e = m->local; e; e = e->next)
        if (strcmp(e->task_id, task_id) == 0)
            return true;
    return false;
}

static void item_key(app_task_mirror_t *m, const char *item_id)
{
    app_redis_key(m->r, &m->item_key, "tasks:item:");
    buf_append_cstr(&m->item_key, item_id);
}

static void write_entry(app_task_mirror_t *m, const char *task_id, const char *item_id, bool add)
{
    item_key(m, item_id);
    sioc_str_t h[4] = {app_redis_str(add ? "HSET" : "HDEL"), app_redis_str_buf(&m->hash_key),
                       app_redis_str(task_id), app_redis_str(item_id)};
    sioc_str_t s[3] = {app_redis_str(add ? "SADD" : "SREM"), app_redis_str_buf(&m->item_key),
                       app_redis_str(task_id)};
    app_redis_cmd(m->r, NULL, NULL, add ? 4 : 3, h);
    app_redis_cmd(m->r, NULL, NULL, 3, s);
}

/* ---- the app_tasks hook ------------------------------------------------------------ */

static void on_added(void *arg, const char *task_id, const char *item_id)
{
    app_task_mirror_t *m = arg;
    entry_t *e = entry_new(task_id, item_id, strlen(item_id));
    e->next = m->local;
    m->local = e;
    write_entry(m, task_id, item_id, true);
}

static void on_removed(void *arg, const char *task_id, const char *item_id)
{
    app_task_mirror_t *m = arg;
    for (entry_t **pp = &m->local; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->task_id, task_id) == 0) {
            entry_t *e = *pp;
            *pp = e->next;
            free(e);
            break;
        }
    }
    write_entry(m, task_id, item_id, false);
}

static void on_list_remote(void *arg, const char *item_id, buf_t *out)
{
    app_task_mirror_t *m = arg;
    for (const entry_t *e = m->remote; e; e = e->next) {
        if (strcmp(e->item_id, item_id) != 0 || is_local(m, e->task_id))
            continue;
        buf_append_byte(out, ',');
        json_append_string(out, slice_from_cstr(e->task_id));
    }
}

static void on_stop_item(void *arg, const char *item_id)
{
    app_task_mirror_t *m = arg;
    item_key(m, item_id);
    sioc_str_t argv[6] = {app_redis_str("EVAL"),
                          app_redis_str(LUA_STOP_ITEM),
                          app_redis_str("3"),
                          app_redis_str_buf(&m->hash_key),
                          app_redis_str_buf(&m->item_key),
                          app_redis_str_buf(&m->channel)};
    if (app_redis_cmd(m->r, NULL, NULL, 6, argv) != 0)
        LOG_RATELIMITED(LOG_WARN, m->log_n, 100,
                        "tasks: the stop of %s cannot reach other nodes "
                        "(redis unavailable)",
                        item_id);
}

static const app_tasks_mirror_t HOOK = {on_added, on_removed, on_list_remote, on_stop_item};

/* ---- stop commands ----------------------------------------------------------------- */

static void on_command(app_t *app, sioc_str_t channel, sioc_str_t payload, void *arg)
{
    (void)app, (void)channel;
    app_task_mirror_t *m = arg;
    slice_t p = slice_make(payload.ptr, payload.len);
    char action[16], task_id[64];
    if (app_json_get_str(p, "action", action, sizeof action) <= 0 || strcmp(action, "stop") != 0 ||
        app_json_get_str(p, "task_id", task_id, sizeof task_id) <= 0)
        return; /* not a stop, or not ours to read */
    if (app_tasks_stop(m->tasks, task_id))
        LOG(LOG_INFO, "tasks: task %s stopped by a command from the cluster", task_id);
}

/* ---- the copy of <P>:tasks --------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void finish(app_task_mirror_t *m)
{
    buf_dispose(&m->hash_key);
    buf_dispose(&m->item_key);
    buf_dispose(&m->channel);
    list_free(&m->local);
    list_free(&m->remote);
    free(m);
}

static void on_hash(sioc_redis_t *c, int status, const sioc_redis_reply_t *rep, void *arg)
{
    (void)c;
    app_task_mirror_t *m = arg;
    m->busy = false;
    if (m->gone) {
        if (m->closed)
            finish(m);
        return;
    }
    if (status == 0 && sioc_redis_reply_type(rep) == SIOC_REDIS_ARRAY) {
        list_free(&m->remote);
        size_t n = sioc_redis_reply_len(rep);
        for (size_t i = 0; i + 1 < n; i += 2) {
            sioc_str_t id = sioc_redis_reply_str(sioc_redis_reply_at(rep, i));
            sioc_str_t item = sioc_redis_reply_str(sioc_redis_reply_at(rep, i + 1));
            char tid[40];
            if (id.len == 0 || id.len >= sizeof tid)
                continue;
            memcpy(tid, id.ptr, id.len);
            tid[id.len] = '\0';
            entry_t *e = entry_new(tid, item.ptr, item.len);
            e->next = m->remote;
            m->remote = e;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    app_task_mirror_t *m = t->data;
    if (m->busy || m->gone)
        return;
    sioc_str_t argv[2] = {app_redis_str("HGETALL"), app_redis_str_buf(&m->hash_key)};
    if (app_redis_cmd(m->r, on_hash, m, 2, argv) == 0)
        m->busy = true;
}

static void on_closed(uv_handle_t *h)
{
    app_task_mirror_t *m = h->data;
    m->closed = true;
    if (!m->busy)
        finish(m);
}

/* ---- public ------------------------------------------------------------------------ */

app_task_mirror_t *app_task_mirror_new(app_t *app, app_redis_t *r, app_tasks_t *tasks)
{
    if (!app_redis_ws(r) || !tasks)
        return NULL;
    app_task_mirror_t *m = xcalloc(1, sizeof *m);
    m->app = app;
    m->r = r;
    m->tasks = tasks;
    buf_init(&m->hash_key);
    buf_init(&m->item_key);
    buf_init(&m->channel);
    app_redis_key(r, &m->hash_key, "tasks");
    app_redis_key(r, &m->channel, "tasks:commands");
    buf_append_byte(&m->channel, '\0'); /* used as a C string too */
    m->channel.len--;
    if (app_redis_subscribe(r, (const char *)buf_data(&m->channel), on_command, m) != 0)
        LOG(LOG_WARN, "tasks: cannot subscribe to the stop commands");
    uv_timer_init(app_loop(app), &m->timer);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_timer, 0, REFRESH_MS);
    app_tasks_set_mirror(tasks, &HOOK, m);
    return m;
}

void app_task_mirror_resync(app_task_mirror_t *m)
{
    for (const entry_t *e = m ? m->local : NULL; e; e = e->next)
        write_entry(m, e->task_id, e->item_id, true);
}

void app_task_mirror_free(app_task_mirror_t *m)
{
    if (!m)
        return;
    app_tasks_set_mirror(m->tasks, NULL, NULL);
    for (const entry_t *e = m->local; e; e = e->next)
        write_entry(m, e->task_id, e->item_id, false);
    app_redis_unsubscribe(m->r, (const char *)buf_data(&m->channel));
    m->gone = true;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_closed);
}
