/*
 * Unit tests for src/app/app_usage (USAGE_POOL) and src/app/app_json (payload lookups).
 * The modules are #included: src/app is built only into build/sioc.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../../src/app/app_json.c"
#include "../../../src/app/app_usage.c"

static char *ids(app_usage_t *u)
{
    static char out[512];
    buf_t b = BUF_INIT;
    app_usage_append_json(u, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)buf_data(&b));
    buf_dispose(&b);
    return out;
}

Test(app_usage, touch_sweep_drop)
{
    app_usage_t *u = app_usage_new();
    app_usage_link_t *s1 = NULL, *s2 = NULL;
    cr_assert_eq(app_usage_touch(u, &s1, "m1", 2, 100), 0);
    cr_assert_eq(app_usage_touch(u, &s1, "m2", 2, 100), 0);
    cr_assert_eq(app_usage_touch(u, &s2, "m1", 2, 101), 0);
    cr_assert_eq(app_usage_touch(u, &s1, "m1", 2, 102), 0, "an update, not a second entry");
    cr_assert_str_eq(ids(u), "[\"m1\",\"m2\"]", "insertion order");
    cr_assert_eq(app_usage_count(u, "m1"), 2);
    /* at 104: m2 (100) is 4 s old and goes; m1 entries are 3 s (s2) and 2 s (s1) old */
    cr_assert_eq(app_usage_sweep(u, 104, 3), 1);
    cr_assert_str_eq(ids(u), "[\"m1\"]");
    cr_assert_eq(app_usage_sweep(u, 105, 3), 1, "s2's entry (101) expires");
    cr_assert_eq(app_usage_count(u, "m1"), 1);
    cr_assert_null(s2, "the swept entry left its socket list");
    app_usage_drop(u, &s1);
    cr_assert_null(s1);
    cr_assert_eq(app_usage_models(u), 0);
    cr_assert_str_eq(ids(u), "[]");
    /* the socket lists stay usable after sweeps */
    cr_assert_eq(app_usage_touch(u, &s2, "m3", 2, 200), 0);
    cr_assert_eq(app_usage_touch(u, &s2, "m4", 2, 210), 0);
    cr_assert_eq(app_usage_sweep(u, 205, 3), 1);
    cr_assert_str_eq(ids(u), "[\"m4\"]");
    app_usage_drop(u, &s2);
    cr_assert_eq(app_usage_models(u), 0);
    app_usage_free(u);
}

Test(app_usage, limits)
{
    app_usage_t *u = app_usage_new();
    app_usage_link_t *s = NULL;
    char big[APP_USAGE_MODEL_MAX + 2];
    memset(big, 'x', sizeof big);
    cr_assert_eq(app_usage_touch(u, &s, big, 0, 1), -1);
    cr_assert_eq(app_usage_touch(u, &s, big, APP_USAGE_MODEL_MAX + 1, 1), -1);
    cr_assert_eq(app_usage_touch(u, &s, big, APP_USAGE_MODEL_MAX, 1), 0);
    char name[16];
    for (int i = 1; i < APP_USAGE_MODELS_MAX; i++) {
        int n = snprintf(name, sizeof name, "m%d", i);
        cr_assert_eq(app_usage_touch(u, &s, name, (size_t)n, 1), 0);
    }
    cr_assert_eq(app_usage_touch(u, &s, "one-more", 8, 1), -1, "the pool is full");
    cr_assert_eq(app_usage_touch(u, &s, "m7", 2, 2), 0, "known models still update");
    app_usage_free(u); /* frees entries still linked from `s` */
}

Test(app_json, get_and_decode)
{
    slice_t o = SLICE_LIT("{\"a\":1,\"auth\":{\"token\":\"t\\u0041\"},\"a\":\"last\",\"n\":null}");
    char buf[32];
    cr_assert_eq(app_json_get_str(o, "a", buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "last", "the last duplicate wins");
    json_value_t v;
    cr_assert(app_json_get(o, "auth", &v));
    cr_assert_eq(app_json_get_str(v.raw, "token", buf, sizeof buf), 2);
    cr_assert_str_eq(buf, "tA");
    cr_assert_eq(app_json_get_str(o, "n", buf, sizeof buf), -1);
    cr_assert_eq(app_json_get_str(o, "missing", buf, sizeof buf), -1);
    cr_assert_eq(app_json_get_str(SLICE_LIT("{\"a\":\"toolong\"}"), "a", buf, 4), -1);
    cr_assert_eq(app_json_get_str(SLICE_LIT("{\"a\":\"x\\u0000y\"}"), "a", buf, sizeof buf), -1);
    cr_assert_not(app_json_get(SLICE_LIT("[1]"), "a", &v));
    cr_assert_not(app_json_get(SLICE_LIT("{\"a\":1,"), "a", &v), "malformed");
}

Test(app_json, truthiness)
{
    const char *falsy[] = {"null", "false", "0", "0.0", "\"\"", "[]", "{}", "[ ]", "{ }"};
    const char *truthy[] = {"true", "1", "-0.5", "\"x\"", "[0]", "{\"a\":0}"};
    for (size_t i = 0; i < sizeof falsy / sizeof falsy[0]; i++) {
        json_value_t v;
        cr_assert_eq(json_validate(slice_from_cstr(falsy[i]), &v, NULL), 0);
        cr_assert_not(app_json_truthy(v), "%s", falsy[i]);
    }
    for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        json_value_t v;
        cr_assert_eq(json_validate(slice_from_cstr(truthy[i]), &v, NULL), 0);
        cr_assert(app_json_truthy(v), "%s", truthy[i]);
    }
}

Test(app_usage, a_sockets_entries_can_be_walked)
{
    app_usage_t *u = app_usage_new();
    app_usage_link_t *s = NULL, *other = NULL;
    cr_assert_eq(app_usage_touch(u, &s, "alpha", 5, 100), 0);
    cr_assert_eq(app_usage_touch(u, &s, "beta", 4, 101), 0);
    cr_assert_eq(app_usage_touch(u, &other, "alpha", 5, 102), 0);
    cr_assert_eq(app_usage_touch(u, &s, "alpha", 5, 103), 0);
    char seen[64] = "";
    int64_t sum = 0;
    for (const app_usage_link_t *e = s; e; e = app_usage_link_next(e)) {
        slice_t m = app_usage_link_model(e);
        size_t n = strlen(seen);
        snprintf(seen + n, sizeof seen - n, "%.*s;", (int)m.len, (const char *)m.ptr);
        sum += app_usage_link_updated(e);
    }
    cr_assert_str_eq(seen, "beta;alpha;", "newest entry first");
    cr_assert_eq(sum, 101 + 103, "each entry's own updated_at");
    cr_assert_null(app_usage_link_next(NULL));
    app_usage_drop(u, &s);
    app_usage_drop(u, &other);
    app_usage_free(u);
}
