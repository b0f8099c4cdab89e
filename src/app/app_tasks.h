/*
 * app_tasks: the registry of running background tasks (app layer), Open WebUI's
 * tasks.py: every chat generation is a task with a fresh UUID, registered under an item
 * id (the chat id), listed by `GET /api/tasks/chat/{chat_id}` and stopped by
 * `POST /api/tasks/chat/{chat_id}/stop` (openwebui-protocol.md §5.6, §7.4).
 *
 * One process keeps its own tasks here. Across nodes (issue 5), Open WebUI mirrors the
 * registry in Redis (HSET P:tasks, SADD P:tasks:item:<item>) and sends stops as
 * {"action":"stop","task_id"} on P:tasks:commands; the hook for that is
 * app_tasks_set_mirror: the mirror is told of every add and remove (to keep the Redis
 * copy), is asked for the ids of an item other nodes run (list), and is told of a stop
 * request for an item (to publish the commands). A node receiving such a command calls
 * app_tasks_stop(task_id) here, which stops it if it runs locally.
 *
 * Ownership: strings are copied. `stop` callbacks receive the `arg` given at add; the
 * registry never frees it. Threading: loop thread only.
 */
#ifndef SIOC_APP_TASKS_H
#define SIOC_APP_TASKS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

typedef struct app_tasks app_tasks_t;

/** Asks a task to stop. The task removes itself (app_tasks_remove) when it has ended,
 *  now or later; the callback must not remove other tasks. */
typedef void (*app_task_stop_cb)(void *arg);

/** The cross-node hook (all members may be NULL). Strings are borrowed for the call. */
typedef struct app_tasks_mirror {
    void (*added)(void *mirror, const char *task_id, const char *item_id);
    void (*removed)(void *mirror, const char *task_id, const char *item_id);
    /** Appends, as JSON strings each preceded by a comma, the ids of `item_id`'s tasks
     *  that run on other nodes. */
    void (*list_remote)(void *mirror, const char *item_id, buf_t *out);
    /** A stop of every task of `item_id` was asked here: publish it to the other nodes. */
    void (*stop_item)(void *mirror, const char *item_id);
} app_tasks_mirror_t;

/** Creates an empty registry. */
app_tasks_t *app_tasks_new(void);

/** Frees the registry (the tasks must have been stopped and removed). NULL-safe. */
void app_tasks_free(app_tasks_t *t);

/** Installs the cross-node hook (`ops` borrowed for the registry's life; NULL removes). */
void app_tasks_set_mirror(app_tasks_t *t, const app_tasks_mirror_t *ops, void *mirror);

/**
 * Registers a running task: writes a fresh UUIDv4 into `task_id_out` (37 bytes) and
 * keeps `item_id` and `user_id` with it. Returns 0, or -1 for empty ids.
 */
int app_tasks_add(app_tasks_t *t, const char *item_id, const char *user_id, app_task_stop_cb stop,
                  void *arg, char task_id_out[37]);

/** Removes a task (when it ended). Unknown ids are ignored. */
void app_tasks_remove(app_tasks_t *t, const char *task_id);

/** Appends the JSON array of the task ids of `item_id` (local ones, then the mirror's) to
 *  `out`. Returns the number of local tasks. */
size_t app_tasks_list_json(app_tasks_t *t, const char *item_id, buf_t *out);

/** Asks every local task of `item_id` to stop and tells the mirror. Returns the number of
 *  local tasks asked. */
size_t app_tasks_stop_item(app_tasks_t *t, const char *item_id);

/** Asks one task to stop (a stop command from another node). Returns true when it runs
 *  here. */
bool app_tasks_stop(app_tasks_t *t, const char *task_id);

/** True when `user_id` owns a local task of `item_id`. */
bool app_tasks_item_has_user(const app_tasks_t *t, const char *item_id, const char *user_id);

/** Asks every local task to stop (shutdown). */
void app_tasks_stop_all(app_tasks_t *t);

/** Number of local tasks. */
size_t app_tasks_count(const app_tasks_t *t);

#endif
