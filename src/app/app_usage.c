/*
 * app_usage: the usage pool. See app_usage.h.
 */
#include "app/app_usage.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"

typedef struct app_usage_model app_usage_model_t;

struct app_usage_link {
    app_usage_model_t *model;
    app_usage_link_t *mprev, *mnext; /* the model's entries */
    app_usage_link_t *snext;         /* the socket's entries */
    app_usage_link_t **spp;          /* the pointer to this entry in the socket's list */
    int64_t updated_at;              /* epoch seconds */
};

struct app_usage_model {
    app_usage_model_t *prev, *next; /* insertion order */
    app_usage_link_t *head;         /* entries */
    size_t n;                       /* entries count */
    size_t len;
    char id[]; /* NUL-terminated */
};

struct app_usage {
    app_usage_model_t *first, *last;
    size_t n_models;
};

app_usage_t *app_usage_new(void)
{
    return xcalloc(1, sizeof(app_usage_t));
}

static void model_remove(app_usage_t *u, app_usage_model_t *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        u->first = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        u->last = m->prev;
    u->n_models--;
    free(m);
}

static app_usage_model_t *model_find(const app_usage_t *u, const char *id, size_t len)
{
    for (app_usage_model_t *m = u->first; m; m = m->next)
        if (m->len == len && memcmp(m->id, id, len) == 0)
            return m;
    return NULL;
}

/* Unlinks an entry from its model (not from its socket list); frees an emptied model. */
static void entry_unlink_model(app_usage_t *u, app_usage_link_t *e)
{
    app_usage_model_t *m = e->model;
    if (e->mprev)
        e->mprev->mnext = e->mnext;
    else
        m->head = e->mnext;
    if (e->mnext)
        e->mnext->mprev = e->mprev;
    if (--m->n == 0)
        model_remove(u, m);
}

void app_usage_free(app_usage_t *u)
{
    if (!u)
        return;
    app_usage_model_t *m = u->first;
    while (m) {
        app_usage_model_t *next = m->next;
        app_usage_link_t *e = m->head;
        while (e) {
            app_usage_link_t *en = e->mnext;
            free(e);
            e = en;
        }
        free(m);
        m = next;
    }
    free(u);
}

int app_usage_touch(app_usage_t *u, app_usage_link_t **sock, const char *model, size_t len,
                    int64_t now_s)
{
    if (len == 0 || len > APP_USAGE_MODEL_MAX)
        return -1;
    for (app_usage_link_t *e = *sock; e; e = e->snext) {
        if (e->model->len == len && memcmp(e->model->id, model, len) == 0) {
            e->updated_at = now_s;
            return 0;
        }
    }
    app_usage_model_t *m = model_find(u, model, len);
    if (!m) {
        if (u->n_models >= APP_USAGE_MODELS_MAX)
            return -1;
        m = xcalloc(1, sizeof *m + len + 1);
        memcpy(m->id, model, len);
        m->len = len;
        m->prev = u->last;
        if (u->last)
            u->last->next = m;
        else
            u->first = m;
        u->last = m;
        u->n_models++;
    }
    app_usage_link_t *e = xcalloc(1, sizeof *e);
    e->model = m;
    e->updated_at = now_s;
    e->mnext = m->head;
    if (m->head)
        m->head->mprev = e;
    m->head = e;
    m->n++;
    e->snext = *sock;
    if (*sock)
        (*sock)->spp = &e->snext;
    e->spp = sock;
    *sock = e;
    return 0;
}

void app_usage_drop(app_usage_t *u, app_usage_link_t **sock)
{
    app_usage_link_t *e = *sock;
    while (e) {
        app_usage_link_t *next = e->snext;
        entry_unlink_model(u, e);
        free(e);
        e = next;
    }
    *sock = NULL;
}

/* Removes an entry from its socket's list and its model, and frees it. */
static void entry_remove(app_usage_t *u, app_usage_link_t *e)
{
    *e->spp = e->snext;
    if (e->snext)
        e->snext->spp = e->spp;
    entry_unlink_model(u, e);
    free(e);
}

size_t app_usage_sweep(app_usage_t *u, int64_t now_s, int64_t timeout_s)
{
    size_t gone = 0;
    app_usage_model_t *m = u->first;
    while (m) {
        app_usage_model_t *next_model = m->next; /* m goes with its last entry */
        app_usage_link_t *e = m->head;
        while (e) {
            app_usage_link_t *next = e->mnext;
            if (now_s - e->updated_at > timeout_s) {
                entry_remove(u, e);
                gone++;
            }
            e = next;
        }
        m = next_model;
    }
    return gone;
}

size_t app_usage_models(const app_usage_t *u)
{
    return u->n_models;
}

void app_usage_append_json(const app_usage_t *u, buf_t *out)
{
    buf_append_byte(out, '[');
    for (app_usage_model_t *m = u->first; m; m = m->next) {
        if (m != u->first)
            buf_append_byte(out, ',');
        json_append_string(out, slice_make(m->id, m->len));
    }
    buf_append_byte(out, ']');
}

size_t app_usage_count(const app_usage_t *u, const char *model)
{
    app_usage_model_t *m = model_find(u, model, strlen(model));
    return m ? m->n : 0;
}

const app_usage_link_t *app_usage_link_next(const app_usage_link_t *e)
{
    return e ? e->snext : NULL;
}

slice_t app_usage_link_model(const app_usage_link_t *e)
{
    return slice_make(e->model->id, e->model->len);
}

int64_t app_usage_link_updated(const app_usage_link_t *e)
{
    return e->updated_at;
}
