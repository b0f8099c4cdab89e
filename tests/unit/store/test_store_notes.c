/*
 * Unit tests for src/store/store_notes: note reads, the access rule (table-driven: admin,
 * owner, grants with exact permissions, write not implying read) and the debounced save's
 * shallow merge with a nanosecond updated_at. See store_test_util.h for the databases
 * these run on and why the sources are #included.
 */
#include "store_test_util.h"

TestSuite(store_notes, .init = t_setup, .fini = t_teardown, .timeout = 30);

static void grant(store_t *s, const char *id, const char *note, const char *ptype, const char *pid,
                  const char *perm)
{
    SQL(s,
        "INSERT INTO access_grant (id, resource_type, resource_id, principal_type,"
        " principal_id, permission, created_at) VALUES ($1, 'note', $2, $3, $4, $5, 1)",
        id, note, ptype, pid, perm);
}

/*
 * n1 (owner): user:reader read, user:writer write, group:g1 read
 * n2 (owner): user:* read          n3 (owner): user:* write
 * n4 (owner): a *channel* grant user:* read with the same id (wrong resource type)
 * g1 = {grouped}
 */
static void seed(store_t *s)
{
    static const char *const notes[] = {"n1", "n2", "n3", "n4"};
    for (size_t i = 0; i < 4; i++)
        SQL(s,
            "INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at)"
            " VALUES ($1, 'owner', 'T', $2, '{\"v\":1}', 1, 2)",
            notes[i], "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}");
    SQL(s, "INSERT INTO \"group\" (id, name) VALUES ($1, 'G')", "g1");
    SQL(s,
        "INSERT INTO \"user\" (id, email, role, name, profile_image_url)"
        " VALUES ($1, 'gr@x', 'user', 'gr', '')",
        "grouped");
    SQL(s, "INSERT INTO group_member (id, group_id, user_id) VALUES ('m', $1, $2)", "g1",
        "grouped");
    grant(s, "a1", "n1", "user", "reader", "read");
    grant(s, "a2", "n1", "user", "writer", "write");
    grant(s, "a3", "n1", "group", "g1", "read");
    grant(s, "a4", "n2", "user", "*", "read");
    grant(s, "a5", "n3", "user", "*", "write");
    SQL(s,
        "INSERT INTO access_grant (id, resource_type, resource_id, principal_type,"
        " principal_id, permission, created_at) VALUES ('a6', 'channel', $1, 'user', '*',"
        " 'read', 1)",
        "n4");
}

Test(store_notes, get_returns_the_row)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    store_note_get(s, "n1", cb_note, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_str_eq(r.id, "n1");
    cr_assert_str_eq(r.owner, "owner");
    cr_assert_str_eq(r.data, "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}");
    cr_assert_eq(r.time, 2);
    res_reset(&r);
    store_note_get(s, "nope", cb_note, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    store_close(s, NULL, NULL);
}

Test(store_notes, access_is_table_driven)
{
    store_t *s = t_open(NULL);
    seed(s);
    static const struct {
        const char *note, *user;
        bool admin;
        store_perm_t perm;
        int status;
        bool allowed;
    } rows[] = {
        {"n1", "owner", false, STORE_READ, STORE_OK, true},
        {"n1", "owner", false, STORE_WRITE, STORE_OK, true},
        {"n1", "reader", false, STORE_READ, STORE_OK, true},
        {"n1", "reader", false, STORE_WRITE, STORE_OK, false},
        {"n1", "writer", false, STORE_WRITE, STORE_OK, true},
        {"n1", "writer", false, STORE_READ, STORE_OK, false}, /* write does not imply read */
        {"n1", "grouped", false, STORE_READ, STORE_OK, true},
        {"n1", "grouped", false, STORE_WRITE, STORE_OK, false},
        {"n1", "stranger", false, STORE_READ, STORE_OK, false},
        {"n1", "stranger", true, STORE_WRITE, STORE_OK, true}, /* admin */
        {"n2", "stranger", false, STORE_READ, STORE_OK, true},
        {"n2", "stranger", false, STORE_WRITE, STORE_OK, false},
        {"n3", "stranger", false, STORE_WRITE, STORE_OK, true},
        {"n3", "stranger", false, STORE_READ, STORE_OK, false},
        {"n4", "stranger", false, STORE_READ, STORE_OK, false},
        {"gone", "owner", false, STORE_READ, STORE_ENOTFOUND, false},
        {"gone", "owner", true, STORE_READ, STORE_ENOTFOUND, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        res_t r = {0};
        store_note_access(s, rows[i].note, rows[i].user, rows[i].admin, rows[i].perm, cb_flag, &r);
        cr_expect_eq(r.calls, 1);
        cr_expect_eq(r.status, rows[i].status, "row %zu: %s", i, store_strerror(r.status));
        cr_expect_eq(r.flag, rows[i].allowed, "row %zu (%s %s %s)", i, rows[i].note, rows[i].user,
                     rows[i].perm == STORE_READ ? "read" : "write");
    }
    res_t r = {0};
    store_note_access(s, "n1", "owner", false, 7, cb_flag, &r);
    cr_assert_eq(r.status, STORE_EINVAL, "unknown permission");
    store_close(s, NULL, NULL);
}

Test(store_notes, save_merges_data_shallowly_and_stamps_ns)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    int64_t before = store__now_ns();
    store_note_update_data(s, "n1",
                           "{\"content\":{\"md\":\"new\",\"html\":\"<p>new</p>\",\"json\":null}}",
                           NULL, false, cb_status, &r);
    int64_t after = store__now_ns();
    cr_assert_eq(r.status, STORE_OK, "%s", store_strerror(r.status));
    char *data = SCALAR(s, "SELECT data FROM note WHERE id = $1", "n1");
    /* content replaced wholesale (no deep merge), other keys kept in place */
    cr_assert_str_eq(data, "{\"content\":{\"md\":\"new\",\"html\":\"<p>new</p>\",\"json\":null},"
                           "\"files\":[\"f1\"]}");
    free(data);
    int64_t up = t_scalar_int(SCALAR(s, "SELECT updated_at FROM note WHERE id = $1", "n1"));
    cr_assert(up >= before && up <= after, "updated_at %lld in ns", (long long)up);
    char *meta = SCALAR(s, "SELECT meta FROM note WHERE id = $1", "n1");
    cr_assert_str_eq(meta, "{\"v\":1}", "meta untouched");
    free(meta);
    char *title = SCALAR(s, "SELECT title FROM note WHERE id = $1", "n1");
    cr_assert_str_eq(title, "T");
    free(title);
    store_close(s, NULL, NULL);
}

Test(store_notes, save_checks_write_access_when_asked)
{
    store_t *s = t_open(NULL);
    seed(s);
    static const struct {
        const char *user;
        bool admin;
        int status;
    } rows[] = {
        {"reader", false, STORE_EACCES}, /* read grant only */
        {"grouped", false, STORE_EACCES}, {"writer", false, STORE_OK},
        {"owner", false, STORE_OK},       {"stranger", true, STORE_OK},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"content\":\"by %s\"}", rows[i].user);
        res_t r = {0};
        store_note_update_data(s, "n1", data, rows[i].user, rows[i].admin, cb_status, &r);
        cr_expect_eq(r.status, rows[i].status, "%s: %s", rows[i].user, store_strerror(r.status));
        char *stored = SCALAR(s, "SELECT data FROM note WHERE id = $1", "n1");
        char *content = t_json_at(stored, "content");
        free(stored);
        if (rows[i].status == STORE_EACCES)
            cr_expect(strstr(content, rows[i].user) == NULL, "refused save must not write");
        else
            cr_expect(strstr(content, rows[i].user) != NULL, "%s", content);
        free(content);
    }
    store_close(s, NULL, NULL);
}

Test(store_notes, save_edge_cases)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    store_note_update_data(s, "gone", "{\"content\":1}", NULL, false, cb_status, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    store_note_update_data(s, "n1", "[1,2]", NULL, false, cb_status, &r);
    cr_assert_eq(r.status, STORE_EINVAL, "data must be an object");
    store_note_update_data(s, "n1", "{oops", NULL, false, cb_status, &r);
    cr_assert_eq(r.status, STORE_EINVAL);
    /* a NULL stored data counts as {} (Open WebUI would raise on {**None}) */
    SQL(s, "UPDATE note SET data = NULL WHERE id = $1", "n2");
    store_note_update_data(s, "n2", "{\"content\":{\"md\":\"x\"}}", NULL, false, cb_status, &r);
    cr_assert_eq(r.status, STORE_OK);
    char *data = SCALAR(s, "SELECT data FROM note WHERE id = $1", "n2");
    cr_assert_str_eq(data, "{\"content\":{\"md\":\"x\"}}");
    free(data);
    /* duplicate keys in the patch: the last one wins, like a Python dict */
    store_note_update_data(s, "n2", "{\"content\":1,\"content\":2}", NULL, false, cb_status, &r);
    data = SCALAR(s, "SELECT data FROM note WHERE id = $1", "n2");
    cr_assert_str_eq(data, "{\"content\":2}");
    free(data);
    store_close(s, NULL, NULL);
}
