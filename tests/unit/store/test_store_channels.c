/*
 * Unit tests for src/store/store_channels: the channel list a user's sockets join, the
 * per-channel read check (table-driven over the §8.2 rules), read markers in
 * nanoseconds, and channel messages. See store_test_util.h for the databases these run
 * on and why the sources are #included.
 */
#include "store_test_util.h"

TestSuite(store_channels, .init = t_setup, .fini = t_teardown, .timeout = 30);

/*
 * The fixture world:
 *   users   owner, member, inactive, grantee, grouped, ghost, nobody
 *   groups  g1 = {grouped}; ghost belongs to "gmissing", a group that does not exist
 *   channels (type, owner, rows):
 *     std_owned   NULL   owner   no grants
 *     std_public  ''     owner   user:* read
 *     std_user    'x'    owner   user:grantee read
 *     std_group   NULL   owner   group:g1 read
 *     std_write   NULL   owner   user:grantee write          (write is not read)
 *     std_wrongrt NULL   owner   note-type grant user:* read (wrong resource type)
 *     std_ghost   NULL   owner   group:gmissing read
 *     grp         group  owner   members: member (active), inactive (not); user:* read
 *     dm          dm     owner   members: member, owner (active)
 *     deleted     NULL   owner   user:* read, deleted_at set
 *     archived    group  owner   member active, archived_at set
 */
static void seed(store_t *s)
{
    static const char *const users[] = {"owner",   "member", "inactive", "grantee",
                                        "grouped", "ghost",  "nobody"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        char email[64];
        snprintf(email, sizeof email, "%s@x.org", users[i]);
        SQL(s,
            "INSERT INTO \"user\" (id, email, role, name, profile_image_url)"
            " VALUES ($1, $2, 'user', $1, '')",
            users[i], email);
    }
    SQL(s, "INSERT INTO \"group\" (id, name) VALUES ($1, 'G1')", "g1");
    SQL(s, "INSERT INTO group_member (id, group_id, user_id) VALUES ('gm1', $1, $2)", "g1",
        "grouped");
    if (!t_pg()) /* PostgreSQL's foreign key forbids the orphan; SQLite databases have them */
        SQL(s, "INSERT INTO group_member (id, group_id, user_id) VALUES ('gm2', $1, $2)",
            "gmissing", "ghost");
    static const char *const ch[][3] = {
        {"std_owned", NULL, NULL}, {"std_public", "", NULL},     {"std_user", "x", NULL},
        {"std_group", NULL, NULL}, {"std_write", NULL, NULL},    {"std_wrongrt", NULL, NULL},
        {"std_ghost", NULL, NULL}, {"grp", "group", NULL},       {"dm", "dm", NULL},
        {"deleted", NULL, "del"},  {"archived", "group", "arc"},
    };
    for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
        const char *del = ch[i][2] && strcmp(ch[i][2], "del") == 0 ? "5" : NULL;
        const char *arc = ch[i][2] && strcmp(ch[i][2], "arc") == 0 ? "6" : NULL;
        SQL(s,
            "INSERT INTO channel (id, type, user_id, name, deleted_at, archived_at)"
            " VALUES ($1, $2, 'owner', $1, $3, $4)",
            ch[i][0], ch[i][1], del, arc);
    }
    static const char *const gr[][5] = {
        {"a1", "std_public", "user", "*", "read"},
        {"a2", "std_user", "user", "grantee", "read"},
        {"a3", "std_group", "group", "g1", "read"},
        {"a4", "std_write", "user", "grantee", "write"},
        {"a6", "std_ghost", "group", "gmissing", "read"},
        {"a7", "grp", "user", "*", "read"},
        {"a8", "deleted", "user", "*", "read"},
    };
    for (size_t i = 0; i < sizeof gr / sizeof gr[0]; i++)
        SQL(s,
            "INSERT INTO access_grant (id, resource_type, resource_id, principal_type,"
            " principal_id, permission, created_at) VALUES ($1, 'channel', $2, $3, $4, $5, 1)",
            gr[i][0], gr[i][1], gr[i][2], gr[i][3], gr[i][4]);
    SQL(s,
        "INSERT INTO access_grant (id, resource_type, resource_id, principal_type,"
        " principal_id, permission, created_at) VALUES ('a5', 'note', $1, 'user', '*',"
        " 'read', 1)",
        "std_wrongrt");
    static const char *const mem[][4] = {
        {"cm1", "grp", "member", "true"},      {"cm2", "grp", "inactive", "false"},
        {"cm3", "dm", "member", "true"},       {"cm4", "dm", "owner", "true"},
        {"cm5", "archived", "member", "true"},
    };
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++) {
        store_param_t p[] = {SP_TEXT(mem[i][0]), SP_TEXT(mem[i][1]), SP_TEXT(mem[i][2]),
                             SP_BOOL(strcmp(mem[i][3], "true") == 0)};
        cr_assert_eq(store__db_exec(s->conns[0],
                                    "INSERT INTO channel_member (id, channel_id, user_id,"
                                    " is_active, last_read_at, updated_at)"
                                    " VALUES ($1, $2, $3, $4, 7, 7)",
                                    p, 4, NULL),
                     0, "%s", s->conns[0]->err);
    }
}

Test(store_channels, channels_of_user_follows_the_union_rule)
{
    store_t *s = t_open(NULL);
    seed(s);
    static const char *const want[][2] = {
        {"owner", "dm,std_ghost,std_group,std_owned,std_public,std_user,std_write,std_wrongrt"},
        {"member", "dm,grp,std_public"},
        {"inactive", "std_public"},
        {"grantee", "std_public,std_user"},
        {"grouped", "std_group,std_public"},
        {"ghost", "std_public"},
        {"nobody", "std_public"},
        {"not-a-user", "std_public"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        res_t r = {0};
        store_channels_of_user(s, want[i][0], cb_ids, &r);
        cr_expect_eq(r.status, STORE_OK);
        cr_expect_str_eq(r.list, want[i][1], "channels of %s", want[i][0]);
    }
    store_close(s, NULL, NULL);
}

Test(store_channels, can_read_is_table_driven)
{
    store_t *s = t_open(NULL);
    seed(s);
    static const struct {
        const char *channel, *user;
        int status;
        bool read;
    } rows[] = {
        {"std_owned", "owner", STORE_OK, true},
        {"std_owned", "member", STORE_OK, false},
        {"std_public", "nobody", STORE_OK, true},
        {"std_user", "grantee", STORE_OK, true},
        {"std_user", "nobody", STORE_OK, false},
        {"std_group", "grouped", STORE_OK, true},
        {"std_group", "member", STORE_OK, false},
        {"std_write", "grantee", STORE_OK, false},
        {"std_wrongrt", "nobody", STORE_OK, false},
        {"std_ghost", "ghost", STORE_OK, false},
        {"grp", "member", STORE_OK, true},
        {"grp", "inactive", STORE_OK, false},
        {"grp", "nobody", STORE_OK, false}, /* user:* ignored for group channels */
        {"grp", "owner", STORE_OK, false},  /* so is ownership without membership */
        {"dm", "owner", STORE_OK, true},
        {"dm", "grantee", STORE_OK, false},
        {"deleted", "owner", STORE_ENOTFOUND, false},
        {"archived", "member", STORE_ENOTFOUND, false},
        {"no-such-channel", "owner", STORE_ENOTFOUND, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        res_t r = {0};
        store_channel_can_read(s, rows[i].channel, rows[i].user, cb_flag, &r);
        cr_expect_eq(r.calls, 1);
        cr_expect_eq(r.status, rows[i].status, "%s/%s: %s", rows[i].channel, rows[i].user,
                     store_strerror(r.status));
        cr_expect_eq(r.flag, rows[i].read, "%s/%s", rows[i].channel, rows[i].user);
    }
    store_close(s, NULL, NULL);
}

Test(store_channels, mark_read_writes_nanoseconds_to_the_existing_row_only)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    int64_t before = store__now_ns();
    store_channel_mark_read(s, "dm", "member", cb_flag, &r);
    int64_t after = store__now_ns();
    cr_assert_eq(r.status, STORE_OK);
    cr_assert(r.flag);
    int64_t lr =
        t_scalar_int(SCALAR(s, "SELECT last_read_at FROM channel_member WHERE id = $1", "cm3"));
    int64_t up =
        t_scalar_int(SCALAR(s, "SELECT updated_at FROM channel_member WHERE id = $1", "cm3"));
    cr_assert(lr >= before && lr <= after, "last_read_at %lld is not now in ns", (long long)lr);
    cr_assert_eq(up, lr, "updated_at gets the same instant");
    cr_assert_eq(
        t_scalar_int(SCALAR(s, "SELECT last_read_at FROM channel_member WHERE id = $1", "cm4")), 7,
        "other members untouched");
    res_reset(&r);
    store_channel_mark_read(s, "dm", "nobody", cb_flag, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_not(r.flag, "no membership row");
    cr_assert_eq(
        t_scalar_int(SCALAR(s, "SELECT COUNT(*) FROM channel_member WHERE user_id = $1", "nobody")),
        0, "Open WebUI does not create one");
    store_close(s, NULL, NULL);
}

Test(store_channels, message_insert_and_update)
{
    store_t *s = t_open(NULL);
    res_t r = {0};
    int64_t before = store__now_ns();
    store_new_message_t m = {.channel_id = "c1",
                             .user_id = "u1",
                             .content = "hello",
                             .data_json = "{\"files\":[]}",
                             .meta_json = "{\"model_id\":\"m\"}",
                             .parent_id = "p0"};
    store_message_insert(s, &m, cb_json, &r);
    cr_assert_eq(r.status, STORE_OK, "%s", store_strerror(r.status));
    char *id = t_json_at(r.json, "id");
    cr_assert_eq(strlen(id), 38, "a quoted UUID: %s", id);
    int64_t c = t_json_digits(r.json, "created_at");
    cr_assert(c >= before && c <= store__now_ns(), "created_at %lld in ns, every digit",
              (long long)c);
    cr_assert_eq(t_json_digits(r.json, "updated_at"), c);
    /* MessageModel field order, JSON columns as objects */
    cJSON *o = cJSON_Parse(r.json);
    static const char *const order[] = {
        "id",        "user_id", "channel_id", "reply_to_id", "parent_id",  "is_pinned", "pinned_by",
        "pinned_at", "content", "data",       "meta",        "created_at", "updated_at"};
    size_t i = 0;
    for (cJSON *k = o->child; k; k = k->next, i++)
        cr_expect_str_eq(k->string, order[i]);
    cr_assert_eq(i, 13);
    cJSON_Delete(o);
    char *meta = t_json_at(r.json, "meta");
    cr_assert_str_eq(meta, "{\"model_id\":\"m\"}");
    free(meta);
    char *plain_id = strndup(id + 1, 36);
    res_reset(&r);

    /* the channel emitter: content replaced, meta.done merged, other meta kept */
    store_message_update(s, plain_id, "hello world", "{\"done\":true}", cb_json, &r);
    cr_assert_eq(r.status, STORE_OK);
    char *content = t_json_at(r.json, "content");
    cr_assert_str_eq(content, "\"hello world\"");
    meta = t_json_at(r.json, "meta");
    cr_assert_str_eq(meta, "{\"model_id\":\"m\",\"done\":true}");
    free(content);
    free(meta);
    res_reset(&r);
    store_message_update(s, plain_id, NULL, NULL, cb_json, &r);
    content = t_json_at(r.json, "content");
    cr_assert_str_eq(content, "\"hello world\"", "NULL content keeps it");
    free(content);
    res_reset(&r);

    store_message_update(s, "no-such", "x", NULL, cb_json, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    store_message_update(s, plain_id, "x", "[1]", cb_json, &r);
    cr_assert_eq(r.status, STORE_EINVAL, "meta patch must be an object");
    res_reset(&r);
    m.data_json = "{broken";
    store_message_insert(s, &m, cb_json, &r);
    cr_assert_eq(r.status, STORE_EINVAL);
    res_reset(&r);
    free(id);
    free(plain_id);
    store_close(s, NULL, NULL);
}
