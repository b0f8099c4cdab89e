/*
 * Unit tests for src/app/app_tasks (the task registry behind /api/tasks/chat/...): ids,
 * listing per item, stopping an item (re-entrantly: a stop that removes its own task, as
 * a generation cancelled synchronously does), stop by id (the cross-node command), the
 * mirror hook, and ownership. The module is #included: src/app is built only into
 * build/sioc.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../../src/app/app_tasks.c"

typedef struct probe {
    app_tasks_t *t;
    char id[37];
    int stops;
    bool remove_on_stop; /* the stop removes the task at once */
} probe_t;

static void on_stop(void *arg)
{
    probe_t *p = arg;
    p->stops++;
    if (p->remove_on_stop)
        app_tasks_remove(p->t, p->id);
}

static char *list(app_tasks_t *t, const char *item)
{
    static char out[1024];
    buf_t b = BUF_INIT;
    app_tasks_list_json(t, item, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)buf_data(&b));
    buf_dispose(&b);
    return out;
}

Test(app_tasks, add_list_remove)
{
    app_tasks_t *t = app_tasks_new();
    probe_t a = {t, "", 0, false}, b = {t, "", 0, false}, c = {t, "", 0, false};
    cr_assert_eq(app_tasks_add(t, "chat-1", "u1", on_stop, &a, a.id), 0);
    cr_assert_eq(app_tasks_add(t, "chat-1", "u1", on_stop, &b, b.id), 0);
    cr_assert_eq(app_tasks_add(t, "chat-2", "u2", on_stop, &c, c.id), 0);
    cr_assert_eq(strlen(a.id), 36);
    cr_assert_eq(a.id[14], '4', "a UUIDv4");
    cr_assert_neq(strcmp(a.id, b.id), 0);
    cr_assert_eq(app_tasks_count(t), 3);
    char want[256];
    snprintf(want, sizeof want, "[\"%s\",\"%s\"]", b.id, a.id);
    cr_assert_str_eq(list(t, "chat-1"), want);
    cr_assert_str_eq(list(t, "nothing"), "[]");
    cr_assert(app_tasks_item_has_user(t, "chat-1", "u1"));
    cr_assert_not(app_tasks_item_has_user(t, "chat-1", "u2"));
    app_tasks_remove(t, a.id);
    app_tasks_remove(t, a.id); /* unknown now: ignored */
    snprintf(want, sizeof want, "[\"%s\"]", b.id);
    cr_assert_str_eq(list(t, "chat-1"), want);
    cr_assert_eq(app_tasks_add(t, "", "u1", on_stop, &a, a.id), -1);
    cr_assert_eq(app_tasks_add(t, "x", NULL, on_stop, &a, a.id), -1);
    app_tasks_free(t);
}

Test(app_tasks, stop_item_is_reentrant_and_once)
{
    app_tasks_t *t = app_tasks_new();
    probe_t a = {t, "", 0, true}, b = {t, "", 0, false}, c = {t, "", 0, true};
    app_tasks_add(t, "chat", "u", on_stop, &a, a.id);
    app_tasks_add(t, "chat", "u", on_stop, &b, b.id);
    app_tasks_add(t, "other", "u", on_stop, &c, c.id);
    cr_assert_eq(app_tasks_stop_item(t, "chat"), 2);
    cr_assert_eq(a.stops, 1);
    cr_assert_eq(b.stops, 1);
    cr_assert_eq(c.stops, 0, "another item is untouched");
    cr_assert_eq(app_tasks_count(t), 2, "a removed itself, b ends later");
    cr_assert_eq(app_tasks_stop_item(t, "chat"), 0, "b was asked already: not twice");
    cr_assert_eq(b.stops, 1);
    cr_assert(app_tasks_stop(t, c.id), "stop by id (a command from another node)");
    cr_assert_eq(c.stops, 1);
    cr_assert_not(app_tasks_stop(t, "00000000-0000-4000-8000-000000000000"));
    app_tasks_remove(t, b.id);
    cr_assert_eq(app_tasks_count(t), 0);
    app_tasks_free(t);
}

typedef struct mirror_log {
    char text[1024];
} mirror_log_t;

static void m_added(void *m, const char *task, const char *item)
{
    mirror_log_t *l = m;
    (void)task;
    snprintf(l->text + strlen(l->text), sizeof l->text - strlen(l->text), "+%s ", item);
}

static void m_removed(void *m, const char *task, const char *item)
{
    mirror_log_t *l = m;
    (void)task;
    snprintf(l->text + strlen(l->text), sizeof l->text - strlen(l->text), "-%s ", item);
}

static void m_list(void *m, const char *item, buf_t *out)
{
    (void)m;
    if (strcmp(item, "chat") == 0)
        buf_append_cstr(out, ",\"remote-1\"");
}

static void m_stop(void *m, const char *item)
{
    mirror_log_t *l = m;
    snprintf(l->text + strlen(l->text), sizeof l->text - strlen(l->text), "!%s ", item);
}

Test(app_tasks, mirror_hook)
{
    static const app_tasks_mirror_t ops = {m_added, m_removed, m_list, m_stop};
    mirror_log_t log = {""};
    app_tasks_t *t = app_tasks_new();
    app_tasks_set_mirror(t, &ops, &log);
    cr_assert_str_eq(list(t, "chat"), "[\"remote-1\"]", "remote tasks only");
    probe_t a = {t, "", 0, true};
    app_tasks_add(t, "chat", "u", on_stop, &a, a.id);
    char want[128];
    snprintf(want, sizeof want, "[\"%s\",\"remote-1\"]", a.id);
    cr_assert_str_eq(list(t, "chat"), want);
    app_tasks_stop_item(t, "chat");
    cr_assert_str_eq(log.text, "+chat !chat -chat ");
    app_tasks_free(t);
}

Test(app_tasks, stop_all)
{
    app_tasks_t *t = app_tasks_new();
    probe_t p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = (probe_t){t, "", 0, i % 2 == 0};
        app_tasks_add(t, i < 3 ? "a" : "b", "u", on_stop, &p[i], p[i].id);
    }
    app_tasks_stop_all(t);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(p[i].stops, 1, "task %d", i);
    cr_assert_eq(app_tasks_count(t), 2);
    app_tasks_free(t); /* frees the two that never removed themselves */
}
