/*
 * app_task_mirror: the task registry across nodes, in Redis with Open WebUI's layout
 * (app layer; openwebui-protocol.md §5.1, §5.6), for WEBSOCKET_MANAGER=redis.
 *
 * It is the app_tasks mirror hook (app_tasks_set_mirror):
 *   - a task added here: HSET <P>:tasks <task_id> <item_id>, SADD <P>:tasks:item:<item_id>;
 *     removed: HDEL and SREM;
 *   - a stop of an item asked here: one Lua script lists <P>:tasks:item:<item_id>, PUBLISHes
 *     {"action":"stop","task_id":<id>} on <P>:tasks:commands for each, and deletes their
 *     entries (Open WebUI's stop_item_tasks);
 *   - every node SUBSCRIBEs <P>:tasks:commands and stops the named task when it runs
 *     there (app_tasks_stop), whichever node or Python instance published the command;
 *   - the tasks other nodes run (GET /api/tasks/chat/{id}) come from a copy of <P>:tasks
 *     refreshed every second (the registry's list call is synchronous), so that list
 *     may be up to a second old.
 * This node's own entries are written back when Redis returns and deleted at free.
 * Open WebUI keeps the stop channel on the application Redis (REDIS_URL) and the entries
 * on the websocket one; both are the websocket Redis here (Open WebUI's stop only works
 * when the two are the same server anyway).
 *
 * Ownership: the app owns the mirror (new .. free); it borrows the registry and the
 * Redis connections, which must outlive it. Threading: loop thread only.
 */
#ifndef SIOC_APP_TASK_MIRROR_H
#define SIOC_APP_TASK_MIRROR_H

#include "app/app.h"
#include "app/app_redis.h"
#include "app/app_tasks.h"

typedef struct app_task_mirror app_task_mirror_t;

/** Installs the mirror on `tasks` when `r` has a websocket Redis; NULL otherwise. */
app_task_mirror_t *app_task_mirror_new(app_t *app, app_redis_t *r, app_tasks_t *tasks);

/** Writes this node's tasks back (after a reconnection). NULL-safe. */
void app_task_mirror_resync(app_task_mirror_t *m);

/** Deletes this node's entries from Redis, uninstalls the hook, stops the refresh timer
 *  and frees (the timer closes asynchronously: the loop must run). NULL-safe. */
void app_task_mirror_free(app_task_mirror_t *m);

#endif
