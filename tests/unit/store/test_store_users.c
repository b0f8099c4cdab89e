/*
 * Unit tests for src/store/store_users: users, auth rows, last_active_at, groups.
 * See store_test_util.h for the databases these run on and why the sources are
 * #included.
 */
#include "store_test_util.h"

TestSuite(store_users, .init = t_setup, .fini = t_teardown, .timeout = 30);

Test(store_users, create_writes_user_and_auth_like_open_webui)
{
    store_t *s = t_open(NULL);
    int64_t before = store__now_s();
    res_t r = {0};
    store_new_user_t u = {.email = "Alice@Example.COM",
                          .name = "Alice",
                          .role = "admin",
                          .password_hash = "$2b$12$k/FEBWeZ/LKFIB/ekNvQPuN2CcTDydiQf.rRfwE5Ui"
                                           "1O6si.IxT.6"};
    store_user_create(s, &u, cb_user, &r);
    int64_t after = store__now_s();
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_eq(strlen(r.id), 36, "UUIDv4 id");
    cr_assert_eq(r.id[14], '4');
    cr_assert_str_eq(r.email, "alice@example.com", "stored lower-cased");
    cr_assert_str_eq(r.name, "Alice");
    cr_assert_str_eq(r.role, "admin");
    cr_assert(r.time >= before && r.time <= after, "last_active_at in epoch seconds");
    char *pw = SCALAR(s, "SELECT password FROM auth WHERE id = $1", r.id);
    cr_assert_str_eq(pw, u.password_hash);
    free(pw);
    char *email = SCALAR(s, "SELECT email FROM auth WHERE id = $1", r.id);
    cr_assert_str_eq(email, "alice@example.com");
    free(email);
    cr_assert_eq(
        t_scalar_int(SCALAR(s, "SELECT COUNT(*) FROM auth WHERE id = $1 AND active = TRUE", r.id)),
        1);
    char *img = SCALAR(s, "SELECT profile_image_url FROM \"user\" WHERE id = $1", r.id);
    cr_assert_str_eq(img, "/user.png", "Open WebUI's default picture");
    free(img);
    int64_t created =
        t_scalar_int(SCALAR(s, "SELECT created_at FROM \"user\" WHERE id = $1", r.id));
    cr_assert(created >= before && created <= after);
    res_reset(&r);
    store_close(s, NULL, NULL);
}

Test(store_users, create_refuses_duplicates_and_bad_input)
{
    store_t *s = t_open(NULL);
    free(t_user(s, "bob@x.org", "Bob", "user"));
    res_t r = {0};
    static const struct {
        store_new_user_t u;
        int want;
    } rows[] = {
        {{.email = "BOB@X.org", .name = "Bob2", .role = "user", .password_hash = "h"},
         STORE_EEXIST},
        {{.email = "c@x.org", .name = "C", .role = "root", .password_hash = "h"}, STORE_EINVAL},
        {{.email = "c@x.org", .name = "", .role = "user", .password_hash = "h"}, STORE_EINVAL},
        {{.email = "", .name = "C", .role = "user", .password_hash = "h"}, STORE_EINVAL},
        {{.email = "c@x.org", .name = "C", .role = "user", .password_hash = NULL}, STORE_EINVAL},
        {{.email = "c@x.org", .name = "C", .role = "pending", .password_hash = "h"}, STORE_OK},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        store_user_create(s, &rows[i].u, cb_user, &r);
        cr_expect_eq(r.calls, 1);
        cr_expect_eq(r.status, rows[i].want, "row %zu: %s", i, store_strerror(r.status));
        res_reset(&r);
    }
    store_user_create(s, NULL, cb_user, &r);
    cr_assert_eq(r.status, STORE_EINVAL);
    res_reset(&r);
    cr_assert_eq(t_scalar_int(SCALAR(s, "SELECT COUNT(*) FROM \"user\"", NULL)), 2);
    cr_assert_eq(t_scalar_int(SCALAR(s, "SELECT COUNT(*) FROM auth", NULL)), 2,
                 "a refused user leaves no auth row");
    store_close(s, NULL, NULL);
}

Test(store_users, lookup_by_id_and_email)
{
    store_t *s = t_open(NULL);
    char *id = t_user(s, "Carol@Example.org", "Carol", "user");
    res_t r = {0};
    store_user_get(s, id, cb_user, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_str_eq(r.name, "Carol");
    res_reset(&r);
    store_user_get_by_email(s, "CAROL@example.ORG", cb_user, &r);
    cr_assert_eq(r.status, STORE_OK, "case-insensitive");
    cr_assert_str_eq(r.id, id);
    res_reset(&r);
    store_user_get(s, "no-such-id", cb_user, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    store_user_get_by_email(s, "nobody@example.org", cb_user, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    /* two rows with the same email in another case (Open WebUI databases may have them):
     * the oldest wins, as get_user_by_email orders by created_at */
    const char *dup[] = {"older", "carol@EXAMPLE.org"};
    SQL(s,
        "INSERT INTO \"user\" (id, email, role, name, profile_image_url, created_at)"
        " VALUES ($1, $2, 'user', 'Old Carol', '', 5)",
        dup[0], dup[1]);
    store_user_get_by_email(s, "carol@example.org", cb_user, &r);
    cr_assert_str_eq(r.id, "older");
    res_reset(&r);
    free(id);
    store_close(s, NULL, NULL);
}

Test(store_users, session_json_is_the_session_pool_entry)
{
    store_t *s = t_open(NULL);
    const char *a[] = {"u-sess", "{\"ui\":{\"x\":1}}", "{\"primary_admin\":true}"};
    SQL(s,
        "INSERT INTO \"user\" (id, email, username, role, name, profile_image_url, bio,"
        " gender, timezone, status_expires_at, settings, info, last_active_at, updated_at,"
        " created_at) VALUES ($1, 'e@x', 'handle', 'admin', 'Eve', 'data:secret', 'b', 'g',"
        " 'UTC', 77, $2, $3, 10, 20, 30)",
        a[0], a[1], a[2]);
    res_t r = {0};
    store_user_get(s, "u-sess", cb_user, &r);
    cr_assert_eq(r.status, STORE_OK);
    /* UserModel order, excluded fields absent, JSON columns as JSON, ints as numbers */
    cr_assert_str_eq(r.session,
                     "{\"id\":\"u-sess\",\"email\":\"e@x\",\"username\":\"handle\",\"role\":"
                     "\"admin\",\"name\":\"Eve\",\"timezone\":\"UTC\",\"presence_state\":null,"
                     "\"status_emoji\":null,\"status_message\":null,\"status_expires_at\":77,"
                     "\"info\":{\"primary_admin\":true},\"settings\":{\"ui\":{\"x\":1}},"
                     "\"oauth\":null,\"scim\":null,\"last_active_at\":10,\"updated_at\":20,"
                     "\"created_at\":30}");
    res_reset(&r);
    /* settings without "ui" dump with pydantic's default ui={} first */
    const char *b[] = {"u-s2", "{\"theme\":\"dark\"}"};
    SQL(s,
        "INSERT INTO \"user\" (id, email, role, name, profile_image_url, settings)"
        " VALUES ($1, 'f@x', 'user', 'F', '', $2)",
        b[0], b[1]);
    store_user_get(s, "u-s2", cb_user, &r);
    char *settings = t_json_at(r.session, "settings");
    cr_assert_str_eq(settings, "{\"ui\":{},\"theme\":\"dark\"}");
    free(settings);
    res_reset(&r);
    store_close(s, NULL, NULL);
}

Test(store_users, touch_sets_last_active_at_in_seconds)
{
    store_t *s = t_open(NULL);
    char *id = t_user(s, "d@x.org", "D", "user");
    SQL(s, "UPDATE \"user\" SET last_active_at = 1 WHERE id = $1", id);
    res_t r = {0};
    int64_t before = store__now_s();
    store_user_touch(s, id, cb_flag, &r);
    int64_t after = store__now_s();
    cr_assert_eq(r.status, STORE_OK);
    cr_assert(r.flag);
    int64_t t = t_scalar_int(SCALAR(s, "SELECT last_active_at FROM \"user\" WHERE id = $1", id));
    cr_assert(t >= before && t <= after, "%lld not in [%lld, %lld]", (long long)t,
              (long long)before, (long long)after);
    res_reset(&r);
    store_user_touch(s, "ghost", cb_flag, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_not(r.flag);
    res_reset(&r);
    free(id);
    store_close(s, NULL, NULL);
}

Test(store_users, active_count_counts_since)
{
    store_t *s = t_open(NULL);
    static const char *const rows[][2] = {{"a", "100"}, {"b", "180"}, {"c", "181"}, {"d", NULL}};
    for (size_t i = 0; i < 4; i++) {
        char email[16];
        snprintf(email, sizeof email, "%s@x", rows[i][0]);
        SQL(s,
            "INSERT INTO \"user\" (id, email, role, name, profile_image_url, last_active_at)"
            " VALUES ($1, $2, 'user', 'n', '', $3)",
            rows[i][0], email, rows[i][1]);
    }
    res_t r = {0};
    store_users_active_count(s, 180, cb_count, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_eq(r.count, 2);
    store_users_active_count(s, 0, cb_count, &r);
    cr_assert_eq(r.count, 3, "NULL last_active_at never counts");
    store_close(s, NULL, NULL);
}

Test(store_users, groups_of_a_user)
{
    store_t *s = t_open(NULL);
    const char *g[] = {"g1", "{\"features\":{\"channels\":true}}", "g2", "g3"};
    SQL(s, "INSERT INTO \"group\" (id, name, permissions, updated_at) VALUES ($1, 'One', $2, 1)",
        g[0], g[1]);
    SQL(s, "INSERT INTO \"group\" (id, name, updated_at) VALUES ($1, 'Two', 2)", g[2]);
    SQL(s, "INSERT INTO \"group\" (id, name, updated_at) VALUES ($1, 'Three', 3)", g[3]);
    SQL(s, "INSERT INTO \"group\" (id, name, updated_at) VALUES ($1, 'Gone', 9)", "gone");
    char *u = t_user(s, "g@x.org", "G", "user");
    const char *m1[] = {"m1", "g1", u}, *m2[] = {"m2", "g2", u}, *m3[] = {"m3", "gone", u};
    const char *sql = "INSERT INTO group_member (id, group_id, user_id) VALUES ($1, $2, $3)";
    t_sql(s, sql, 3, m1);
    t_sql(s, sql, 3, m2);
    t_sql(s, sql, 3, m3);
    /* a deleted group: PostgreSQL cascades the membership away; SQLite (Open WebUI never
     * turns foreign keys on) keeps an orphan row, which must not count either */
    SQL(s, "DELETE FROM \"group\" WHERE id = $1", "gone");
    res_t r = {0};
    store_user_groups(s, u, cb_groups, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_str_eq(r.list, "g2=null,g1={\"features\":{\"channels\":true}}",
                     "newest first, permissions raw");
    store_user_groups(s, "nobody", cb_groups, &r);
    cr_assert_str_eq(r.list, "");
    free(u);
    store_close(s, NULL, NULL);
}
