/*
 * app_tasks: the task registry. See app_tasks.h.
 *
 * A singly linked list: a node runs a handful of generations at a time, and every
 * operation is per request, never per token.
 *
 * Stopping is re-entrant: a task's stop callback may remove that task at once (a
 * generation whose upstream answers the cancel synchronously), so iteration first marks
 * the tasks to stop and then restarts from the head for each one.
 */
#include "app/app_tasks.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"

typedef struct task {
    struct task *next;
    char id[37];
    char *item_id;
    char *user_id;
    app_task_stop_cb stop;
    void *arg;
    bool stop_asked; /* stop already called: never twice */
    bool marked;     /* selected by the running stop loop */
} task_t;

struct app_tasks {
    task_t *head;
    size_t n;
    const app_tasks_mirror_t *mirror_ops;
    void *mirror;
};

app_tasks_t *app_tasks_new(void)
{
    return xcalloc(1, sizeof(app_tasks_t));
}

static void task_free(task_t *k)
{
    free(k->item_id);
    free(k->user_id);
    free(k);
}

void app_tasks_free(app_tasks_t *t)
{
    if (!t)
        return;
    while (t->head) {
        task_t *k = t->head;
        t->head = k->next;
        task_free(k);
    }
    free(t);
}

void app_tasks_set_mirror(app_tasks_t *t, const app_tasks_mirror_t *ops, void *mirror)
{
    t->mirror_ops = ops;
    t->mirror = mirror;
}

static void uuid4(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort(); /* no CSPRNG: task ids could collide */
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int app_tasks_add(app_tasks_t *t, const char *item_id, const char *user_id, app_task_stop_cb stop,
                  void *arg, char task_id_out[37])
{
    if (!item_id || !*item_id || !user_id || !*user_id)
        return -1;
    task_t *k = xcalloc(1, sizeof *k);
    uuid4(k->id);
    k->item_id = xstrndup(item_id, strlen(item_id));
    k->user_id = xstrndup(user_id, strlen(user_id));
    k->stop = stop;
    k->arg = arg;
    k->next = t->head;
    t->head = k;
    t->n++;
    memcpy(task_id_out, k->id, 37);
    if (t->mirror_ops && t->mirror_ops->added)
        t->mirror_ops->added(t->mirror, k->id, k->item_id);
    return 0;
}

void app_tasks_remove(app_tasks_t *t, const char *task_id)
{
    for (task_t **pp = &t->head; *pp; pp = &(*pp)->next) {
        task_t *k = *pp;
        if (strcmp(k->id, task_id) != 0)
            continue;
        *pp = k->next;
        t->n--;
        if (t->mirror_ops && t->mirror_ops->removed)
            t->mirror_ops->removed(t->mirror, k->id, k->item_id);
        task_free(k);
        return;
    }
}

size_t app_tasks_list_json(app_tasks_t *t, const char *item_id, buf_t *out)
{
    size_t n = 0;
    buf_append_byte(out, '[');
    for (task_t *k = t->head; k; k = k->next) {
        if (strcmp(k->item_id, item_id) != 0)
            continue;
        if (n++)
            buf_append_byte(out, ',');
        json_append_string(out, slice_from_cstr(k->id));
    }
    if (t->mirror_ops && t->mirror_ops->list_remote) {
        size_t mark = out->len;
        t->mirror_ops->list_remote(t->mirror, item_id, out);
        /* the mirror writes ",\"id\"" items: drop the leading comma of an empty list */
        if (n == 0 && out->len > mark && buf_data(out)[mark] == ',')
            memmove(buf_data(out) + mark, buf_data(out) + mark + 1, out->len - mark - 1),
                out->len--;
    }
    buf_append_byte(out, ']');
    return n;
}

/* Calls stop on every marked task, one at a time, from the head each time: a stop may
 * remove its own task (and only that one). */
static size_t stop_marked(app_tasks_t *t)
{
    size_t n = 0;
    for (;;) {
        task_t *k = t->head;
        while (k && !k->marked)
            k = k->next;
        if (!k)
            return n;
        k->marked = false;
        k->stop_asked = true;
        n++;
        if (k->stop)
            k->stop(k->arg);
    }
}

size_t app_tasks_stop_item(app_tasks_t *t, const char *item_id)
{
    for (task_t *k = t->head; k; k = k->next)
        k->marked = !k->stop_asked && strcmp(k->item_id, item_id) == 0;
    if (t->mirror_ops && t->mirror_ops->stop_item)
        t->mirror_ops->stop_item(t->mirror, item_id);
    return stop_marked(t);
}

bool app_tasks_stop(app_tasks_t *t, const char *task_id)
{
    bool found = false;
    for (task_t *k = t->head; k; k = k->next) {
        k->marked = !k->stop_asked && strcmp(k->id, task_id) == 0;
        found = found || strcmp(k->id, task_id) == 0;
    }
    stop_marked(t);
    return found;
}

bool app_tasks_item_has_user(const app_tasks_t *t, const char *item_id, const char *user_id)
{
    for (const task_t *k = t->head; k; k = k->next)
        if (strcmp(k->item_id, item_id) == 0 && strcmp(k->user_id, user_id) == 0)
            return true;
    return false;
}

void app_tasks_stop_all(app_tasks_t *t)
{
    for (task_t *k = t->head; k; k = k->next)
        k->marked = !k->stop_asked;
    stop_marked(t);
}

size_t app_tasks_count(const app_tasks_t *t)
{
    return t->n;
}
