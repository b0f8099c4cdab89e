/*
 * app_rest_notes: the note routes (Open WebUI routers/notes.py): list, create, get and
 * update (title, data, meta, access). Access per spec §8.3/§8.5: admin, owner, or a grant
 * with exactly the permission asked (read to get, write to update); only the owner or an
 * admin changes the grants. A successful update is announced to room note:{id} as
 * `note-events` with the NoteModel (spec §4), as routers/notes.py does.
 *
 * Grants default to none (a private note) when a create body has neither access_grants
 * nor access_control, as NoteForm.access_grants = None does in Open WebUI 0.8+; the
 * legacy `access_control: null` means public read (spec §8.5 conversion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_json.h"
#include "app/app_rest_private.h"
#include "base/alloc.h"
#include "store/store_rest.h"

#define TITLE_MAX 1024

void app_rest__notes_list(app_rest_call_t *c)
{
    if (app_rest__store_ready(c))
        store_rest_notes_list(app_store(c->app), c->user.id, app_rest__on_store_json, c);
}

/* The body's title (required or not), data, meta and grants. */
typedef struct note_form {
    char title[TITLE_MAX + 1];
    buf_t data, meta, grants;
    bool have_grants;
} note_form_t;

static bool read_form(app_rest_call_t *c, note_form_t *f, bool title_required)
{
    slice_t body;
    return app_rest__body_object(c, &body) &&
           app_rest__str(c, body, "title", f->title, sizeof f->title, title_required) &&
           app_rest__object(c, body, "data", &f->data) &&
           app_rest__object(c, body, "meta", &f->meta) &&
           app_rest__grants(c, body, &f->grants, &f->have_grants);
}

static void form_dispose(note_form_t *f)
{
    buf_dispose(&f->data);
    buf_dispose(&f->meta);
    buf_dispose(&f->grants);
    free(f);
}

static const char *text_or_null(const buf_t *b)
{
    return b->len ? (const char *)buf_data(b) : NULL;
}

void app_rest__note_create(app_rest_call_t *c)
{
    note_form_t *f = xcalloc(1, sizeof *f);
    if (read_form(c, f, true) && app_rest__store_ready(c))
        store_rest_note_create(app_store(c->app), c->user.id, f->title, text_or_null(&f->data),
                               text_or_null(&f->meta),
                               f->have_grants ? text_or_null(&f->grants) : NULL, app_rest__on_store_json, c);
    form_dispose(f);
}

static void on_note_access(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    json_value_t v, note;
    slice_t a = slice_from_cstr(json ? json : "");
    if (status != STORE_OK) {
        app_rest__store_error(c, status);
        return;
    }
    if (!app_json_get(a, "read", &v) || !app_json_truthy(v) || !app_json_get(a, "note", &note)) {
        app_rest__detail(c, 403, APP_REST_E_ACCESS);
        return;
    }
    app_rest__reply(c, 200, note.raw, NULL);
}

void app_rest__note_get(app_rest_call_t *c)
{
    if (app_rest__store_ready(c))
        store_rest_note_access(app_store(c->app), c->param, c->user.id, c->user.is_admin,
                               on_note_access, c);
}

static void on_updated(int status, const char *json, void *arg)
{
    app_rest_call_t *c = arg;
    if (status == STORE_OK && !c->app->stopping) {
        char room[16 + APP_ID_MAX];
        snprintf(room, sizeof room, "note:%s", c->param);
        sioc_emit_room(app_nsp(c->app), room, "note-events",
                       (sioc_data_t){json, strlen(json), NULL, 0});
    }
    app_rest__on_store_json(status, json, c);
}

void app_rest__note_update(app_rest_call_t *c)
{
    note_form_t *f = xcalloc(1, sizeof *f);
    if (read_form(c, f, false) && app_rest__store_ready(c)) {
        store_rest_note_update_t u = {
            .note_id = c->param,
            .user_id = c->user.id,
            .is_admin = c->user.is_admin,
            .title = f->title[0] ? f->title : NULL,
            .data_json = text_or_null(&f->data),
            .meta_json = text_or_null(&f->meta),
            .grants_json = f->have_grants ? text_or_null(&f->grants) : NULL,
        };
        store_rest_note_update(app_store(c->app), &u, on_updated, c);
    }
    form_dispose(f);
}
