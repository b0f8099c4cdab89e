/*
 * app_usage: USAGE_POOL, the models each socket is generating with (app layer).
 *
 * Open WebUI keeps `USAGE_POOL[model_id] = {sid: {"updated_at": epoch_s}}`: a socket that
 * streams a chat emits `usage` {"model"} every second, a sweep every 3 s drops entries
 * older than 3 s and models left without entries, the disconnect handler drops the
 * socket's entries, and `GET /api/usage` lists the model ids (openwebui-protocol.md §3.1,
 * §3.9, §4, §5.3).
 *
 * Layout: one app_usage_model_t per model id, in insertion order (Python dict order), with
 * an intrusive list of entries; every entry is also linked from its socket's own list
 * (app_usage_link_t, the head of which the socket record keeps), so touch and drop cost
 * the socket's few entries, not the pool's size. Model ids and the number of models are
 * capped (a client chooses them).
 *
 * Ownership: the pool owns models and entries; a socket's list head is the caller's
 * storage, emptied by app_usage_drop. Threading: loop thread only.
 */
#ifndef SIOC_APP_USAGE_H
#define SIOC_APP_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Longest model id kept (bytes); longer ones are refused. */
#define APP_USAGE_MODEL_MAX 256
/** Most distinct models the pool holds at once; usage for more is refused. */
#define APP_USAGE_MODELS_MAX 4096

typedef struct app_usage app_usage_t;
typedef struct app_usage_link app_usage_link_t; /* one (model, socket) entry */

/** Creates an empty pool. */
app_usage_t *app_usage_new(void);
/** Frees the pool and every entry; socket list heads must not be used afterwards.
 *  NULL-safe. */
void app_usage_free(app_usage_t *u);

/**
 * Records that the socket whose list head is `*sock` uses `model` (`len` bytes) at
 * `now_s`: updates its entry or adds one. Returns 0, or -1 when the model id is empty or
 * too long or the pool is full.
 */
int app_usage_touch(app_usage_t *u, app_usage_link_t **sock, const char *model, size_t len,
                    int64_t now_s);

/** Removes every entry of the socket and empties `*sock`; models left empty go. */
void app_usage_drop(app_usage_t *u, app_usage_link_t **sock);

/** Removes entries with now_s - updated_at > timeout_s and empty models. Returns how many
 *  entries went. */
size_t app_usage_sweep(app_usage_t *u, int64_t now_s, int64_t timeout_s);

/** Number of models in the pool. */
size_t app_usage_models(const app_usage_t *u);

/** Appends the model ids as a JSON array of strings, in insertion order. */
void app_usage_append_json(const app_usage_t *u, buf_t *out);

/** The next entry of a socket's list (from its head), or NULL. */
const app_usage_link_t *app_usage_link_next(const app_usage_link_t *e);
/** The entry's model id (borrowed from the pool). */
slice_t app_usage_link_model(const app_usage_link_t *e);
/** The entry's updated_at, epoch seconds. */
int64_t app_usage_link_updated(const app_usage_link_t *e);

/** Number of entries (socket, model) of `model`, 0 if absent. For tests and stats. */
size_t app_usage_count(const app_usage_t *u, const char *model);

#endif
