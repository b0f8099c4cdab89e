/*
 * Unit tests for src/store/store_folders: store_chat_read, Open WebUI's [latest] read
 * marker with was_unread and the per-folder unread counts rolled up through parent
 * folders (spec §3.7). Runs on SQLite, and on PostgreSQL with SIOC_TEST_PG_URL (see
 * store_test_util.h).
 */
#include "store_test_util.h"

#include "../../../src/store/store_folders.c"

TestSuite(store_folders, .init = t_setup, .fini = t_teardown, .timeout = 30);

/* Folders of "owner": top <- mid <- leaf, and a separate "side"; one folder of "other". */
static void seed(store_t *s)
{
    static const char *const folders[][3] = {{"top", NULL, "owner"},
                                             {"mid", "top", "owner"},
                                             {"leaf", "mid", "owner"},
                                             {"side", NULL, "owner"},
                                             {"theirs", NULL, "other"}};
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++)
        SQL(s,
            "INSERT INTO folder (id, parent_id, user_id, name, created_at, updated_at)"
            " VALUES ($1, $2, $3, $1, 1, 1)",
            folders[i][0], folders[i][1], folders[i][2]);
    /* id, folder, updated_at, last_read_at (NULL = never read), archived */
    static const char *const chats[][5] = {
        {"c-leaf", "leaf", "100", NULL, "0"},  /* unread: never read */
        {"c-leaf2", "leaf", "100", "50", "0"}, /* unread: updated after the read */
        {"c-mid", "mid", "100", "200", "0"},   /* read */
        {"c-top", "top", "300", "200", "0"},   /* unread */
        {"c-arch", "top", "300", NULL, "1"},   /* archived: never counted */
        {"c-side", "side", "100", "100", "0"}, /* read (equal is read) */
        {"c-none", NULL, "100", NULL, "0"},    /* unread, no folder */
    };
    for (size_t i = 0; i < sizeof chats / sizeof chats[0]; i++)
        SQL(s,
            "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, last_read_at,"
            " archived, folder_id) VALUES ($1, 'owner', 'T', '{}', 1, CAST($3 AS BIGINT),"
            " CAST($4 AS BIGINT), CAST($5 AS INTEGER) = 1, $2)",
            chats[i][0], chats[i][1], chats[i][2], chats[i][3], chats[i][4]);
    SQL(s,
        "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, folder_id)"
        " VALUES ($1, 'other', 'T', '{}', 1, 100, 'theirs')",
        "c-other");
}

static char *get(const char *json, const char *path)
{
    return t_json_at(json, path);
}

#define EXPECT_JSON(json, path, want)                                                              \
    do {                                                                                           \
        char *got_ = get((json), (path));                                                          \
        cr_expect(got_ &&strcmp(got_, (want)) == 0, "%s: got %s, want %s in %s", (path),           \
                  got_ ? got_ : "(absent)", (want), (json));                                       \
        free(got_);                                                                                \
    } while (0)

Test(store_folders, an_unread_chat_reports_rolled_up_folder_counts)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    store_chat_read(s, "c-leaf", "owner", 1000, cb_json, &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_JSON(r.json, "last_read_at", "1000");
    EXPECT_JSON(r.json, "was_unread", "true");
    /* after this read: leaf has c-leaf2 (1); mid has none of its own + leaf = 1;
     * top has c-top (1) + mid 1 = 2; side 0; "theirs" is another user's */
    EXPECT_JSON(r.json, "folder_unread_counts.leaf", "1");
    EXPECT_JSON(r.json, "folder_unread_counts.mid", "1");
    EXPECT_JSON(r.json, "folder_unread_counts.top", "2");
    EXPECT_JSON(r.json, "folder_unread_counts.side", "0");
    char *theirs = get(r.json, "folder_unread_counts.theirs");
    cr_expect_null(theirs, "another user's folder leaked: %s", r.json);
    free(theirs);
    cr_assert_eq(t_scalar_int(SCALAR(s, "SELECT last_read_at FROM chat WHERE id = $1", "c-leaf")),
                 1000);
    res_reset(&r);

    /* reading it again: not unread any more, no counts */
    store_chat_read(s, "c-leaf", "owner", 1001, cb_json, &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_JSON(r.json, "was_unread", "false");
    char *counts = get(r.json, "folder_unread_counts");
    cr_expect_null(counts, "%s", r.json);
    free(counts);
    res_reset(&r);

    /* an unread chat in no folder still gets the whole map */
    store_chat_read(s, "c-none", "owner", 1002, cb_json, &r);
    EXPECT_JSON(r.json, "was_unread", "true");
    EXPECT_JSON(r.json, "folder_unread_counts.top", "2");
    res_reset(&r);
    store_close(s, NULL, NULL);
}

Test(store_folders, only_the_owner_and_cycles_end)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    store_chat_read(s, "c-leaf", "intruder", 1000, cb_json, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    cr_assert_eq(t_scalar_int(SCALAR(s, "SELECT last_read_at FROM chat WHERE id = $1", "c-leaf")),
                 -1);
    res_reset(&r);
    store_chat_read(s, "nochat", "owner", 1000, cb_json, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    res_reset(&r);
    /* a parent cycle in the data (a <-> b) cannot loop */
    SQL(s, "UPDATE folder SET parent_id = 'leaf' WHERE id = $1", "top");
    store_chat_read(s, "c-top", "owner", 1000, cb_json, &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_JSON(r.json, "was_unread", "true");
    res_reset(&r);
    store_close(s, NULL, NULL);
}
