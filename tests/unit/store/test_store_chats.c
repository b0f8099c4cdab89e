/*
 * Unit tests for src/store/store_chats: chat.last_read_at (owner only, seconds), the
 * message upsert into chat.chat.history (spec §8.4, with inferred fields and the
 * chat_message mirror) and the six persisted emitter event types (spec §7.1). See
 * store_test_util.h for the databases these run on and why the sources are #included.
 */
#include "store_test_util.h"

TestSuite(store_chats, .init = t_setup, .fini = t_teardown, .timeout = 30);

static const char base_chat[] =
    "{\"title\":\"T\",\"history\":{\"currentId\":\"u1\",\"messages\":{"
    "\"u1\":{\"id\":\"u1\",\"parentId\":null,\"childrenIds\":[\"a1\"],\"role\":\"user\","
    "\"content\":\"question\",\"timestamp\":100},"
    "\"a0\":{\"id\":\"a0\",\"parentId\":null,\"childrenIds\":[],\"role\":\"assistant\","
    "\"content\":\"earlier\",\"timestamp\":90,\"embeds\":[\"e-old\"],\"files\":[{\"id\":\"f-old\"}]"
    ","
    "\"sources\":[{\"n\":0}]},"
    "\"empty\":{}}}}";

static void seed(store_t *s)
{
    SQL(s,
        "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, archived)"
        " VALUES ($1, 'owner', 'T', $2, 1, 1, FALSE)",
        "c1", base_chat);
    SQL(s,
        "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at)"
        " VALUES ($1, 'owner', 'N', NULL, 1, 1)",
        "cnull");
}

/* The stored chat document, as text (owned). */
static char *chat_doc(store_t *s, const char *id)
{
    return SCALAR(s, "SELECT chat FROM chat WHERE id = $1", id);
}

static char *at(store_t *s, const char *chat, const char *path)
{
    char *doc = chat_doc(s, chat);
    char *v = t_json_at(doc, path);
    free(doc);
    return v;
}

#define EXPECT_AT(s, chat, path, want)                                                             \
    do {                                                                                           \
        char *got_ = at((s), (chat), (path));                                                      \
        cr_expect(got_ &&strcmp(got_, (want)) == 0, "%s: got %s, want %s", (path),                 \
                  got_ ? got_ : "(absent)", (want));                                               \
        free(got_);                                                                                \
    } while (0)

static int64_t updated_at(store_t *s, const char *chat)
{
    return t_scalar_int(SCALAR(s, "SELECT updated_at FROM chat WHERE id = $1", chat));
}

Test(store_chats, mark_read_is_owner_only_in_seconds)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    int64_t before = store__now_s();
    store_chat_mark_read(s, "c1", "owner", cb_flag, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert(r.flag);
    int64_t t = t_scalar_int(SCALAR(s, "SELECT last_read_at FROM chat WHERE id = $1", "c1"));
    cr_assert(t >= before && t <= store__now_s(), "seconds, not ns: %lld", (long long)t);
    res_reset(&r);
    SQL(s, "UPDATE chat SET last_read_at = 5 WHERE id = $1", "c1");
    store_chat_mark_read(s, "c1", "intruder", cb_flag, &r);
    cr_assert_eq(r.status, STORE_OK);
    cr_assert_not(r.flag);
    cr_assert_eq(t_scalar_int(SCALAR(s, "SELECT last_read_at FROM chat WHERE id = $1", "c1")), 5);
    store_chat_mark_read(s, "nochat", "owner", cb_flag, &r);
    cr_assert_not(r.flag);
    store_close(s, NULL, NULL);
}

Test(store_chats, upsert_creates_a_message_with_inferred_fields)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    int64_t before = store__now_s();
    /* a1 is listed in u1's childrenIds: parent u1, role assistant (reply to a user) */
    store_chat_message_upsert(s, "c1", "a1", "{\"content\":\"hi\",\"model\":\"llama\"}", cb_status,
                              &r);
    cr_assert_eq(r.status, STORE_OK, "%s", store_strerror(r.status));
    char *msg = at(s, "c1", "history.messages.a1");
    static const char want[] = "{\"content\":\"hi\",\"model\":\"llama\",\"id\":\"a1\",\"parentId\":"
                               "\"u1\",\"childrenIds\":[],\"role\":\"assistant\",\"timestamp\":";
    cr_expect(strncmp(msg, want, sizeof want - 1) == 0, "%s", msg);
    int64_t ts = t_json_digits(msg, "timestamp");
    cr_expect(ts >= before && ts <= store__now_s(), "timestamp in seconds");
    free(msg);
    EXPECT_AT(s, "c1", "history.currentId", "\"a1\"");
    EXPECT_AT(s, "c1", "history.messages.u1.childrenIds", "[\"a1\"]");
    cr_expect_geq(updated_at(s, "c1"), before, "chat.updated_at touched");
    EXPECT_AT(s, "c1", "title", "\"T\"");
    /* the chat_message mirror row */
    char *role = SCALAR(s, "SELECT role FROM chat_message WHERE id = $1", "c1-a1");
    char *parent = SCALAR(s, "SELECT parent_id FROM chat_message WHERE id = $1", "c1-a1");
    char *content = SCALAR(s, "SELECT content FROM chat_message WHERE id = $1", "c1-a1");
    char *model = SCALAR(s, "SELECT model_id FROM chat_message WHERE id = $1", "c1-a1");
    char *user = SCALAR(s, "SELECT user_id FROM chat_message WHERE id = $1", "c1-a1");
    cr_expect_str_eq(role, "assistant");
    cr_expect_str_eq(parent, "u1");
    cr_expect_str_eq(content, "\"hi\"", "JSON column holds the JSON string");
    cr_expect_str_eq(model, "llama");
    cr_expect_str_eq(user, "owner");
    free(role);
    free(parent);
    free(content);
    free(model);
    free(user);
    res_reset(&r);

    /* an explicit parentId links the new message into its parent; a reply to an
     * assistant message is the user's */
    store_chat_message_upsert(s, "c1", "u2", "{\"parentId\":\"a1\",\"content\":\"next\"}",
                              cb_status, &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_AT(s, "c1", "history.messages.a1.childrenIds", "[\"u2\"]");
    EXPECT_AT(s, "c1", "history.messages.u2.role", "\"user\"");
    EXPECT_AT(s, "c1", "history.currentId", "\"u2\"");
    /* role from the first output item that has one; timestamp kept when given */
    store_chat_message_upsert(s, "c1", "o1",
                              "{\"output\":[{\"type\":\"x\"},{\"role\":\"tool\"}],"
                              "\"timestamp\":42}",
                              cb_status, &r);
    EXPECT_AT(s, "c1", "history.messages.o1.role", "\"tool\"");
    EXPECT_AT(s, "c1", "history.messages.o1.timestamp", "42");
    EXPECT_AT(s, "c1", "history.messages.o1.parentId", "null");
    store_close(s, NULL, NULL);
}

Test(store_chats, upsert_merges_into_an_existing_message)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r = {0};
    store_chat_message_upsert(s, "c1", "u1", "{\"content\":\"edited\",\"done\":true}", cb_status,
                              &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_AT(s, "c1", "history.messages.u1",
              "{\"id\":\"u1\",\"parentId\":null,\"childrenIds\":[\"a1\"],\"role\":\"user\","
              "\"content\":\"edited\",\"timestamp\":100,\"done\":true}");
    EXPECT_AT(s, "c1", "history.currentId", "\"u1\"");
    /* a chat whose document is NULL gets a history */
    store_chat_message_upsert(s, "cnull", "m", "{\"content\":\"x\"}", cb_status, &r);
    cr_assert_eq(r.status, STORE_OK);
    EXPECT_AT(s, "cnull", "history.currentId", "\"m\"");
    EXPECT_AT(s, "cnull", "history.messages.m.role", "\"assistant\"");
    store_chat_message_upsert(s, "nochat", "m", "{}", cb_status, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    store_chat_message_upsert(s, "c1", "m", "\"text\"", cb_status, &r);
    cr_assert_eq(r.status, STORE_EINVAL);
    store_close(s, NULL, NULL);
}

static void event(store_t *s, res_t *r, const char *mid, store_chat_event_t type, const char *data)
{
    memset(r, 0, sizeof *r);
    store_chat_event(s, "c1", mid, type, data, cb_flag, r);
    cr_assert_eq(r->calls, 1);
}

Test(store_chats, status_appends_to_existing_messages_only)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r;
    event(s, &r, "u1", STORE_CHAT_STATUS, "{\"action\":\"web_search\",\"done\":false}");
    cr_assert(r.status == STORE_OK && r.flag);
    event(s, &r, "u1", STORE_CHAT_STATUS, "{\"action\":\"web_search\",\"done\":true}");
    EXPECT_AT(
        s, "c1", "history.messages.u1.statusHistory",
        "[{\"action\":\"web_search\",\"done\":false},{\"action\":\"web_search\",\"done\":true}]");
    EXPECT_AT(s, "c1", "history.currentId", "\"u1\"");
    char *mirror = SCALAR(s, "SELECT status_history FROM chat_message WHERE id = $1", "c1-u1");
    cr_expect(mirror && strstr(mirror, "\"done\":true"), "mirror: %s", mirror ? mirror : "");
    free(mirror);
    event(s, &r, "ghost", STORE_CHAT_STATUS, "{\"x\":1}");
    cr_assert(r.status == STORE_OK && !r.flag, "no message: nothing written");
    char *ghost = at(s, "c1", "history.messages.ghost");
    cr_assert_null(ghost);
    store_close(s, NULL, NULL);
}

Test(store_chats, message_appends_content_and_touches)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r;
    event(s, &r, "a0", STORE_CHAT_MESSAGE, "{\"content\":\" and more\"}");
    cr_assert(r.status == STORE_OK && r.flag);
    EXPECT_AT(s, "c1", "history.messages.a0.content", "\"earlier and more\"");
    EXPECT_AT(s, "c1", "history.currentId", "\"a0\"");
    cr_expect_gt(updated_at(s, "c1"), 1);
    /* Open WebUI appends only to a message that exists and is not empty */
    event(s, &r, "missing", STORE_CHAT_MESSAGE, "{\"content\":\"x\"}");
    cr_assert(r.status == STORE_OK && !r.flag);
    event(s, &r, "empty", STORE_CHAT_MESSAGE, "{\"content\":\"x\"}");
    cr_assert(r.status == STORE_OK && !r.flag);
    EXPECT_AT(s, "c1", "history.messages.empty", "{}");
    /* str + non-str raises in Python: nothing written */
    event(s, &r, "a0", STORE_CHAT_MESSAGE, "{\"content\":5}");
    cr_assert_not(r.flag);
    event(s, &r, "a0", STORE_CHAT_MESSAGE, "[]");
    cr_assert_eq(r.status, STORE_EINVAL, "data must be an object");
    store_close(s, NULL, NULL);
}

Test(store_chats, replace_sets_content_creating_the_message)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r;
    event(s, &r, "a0", STORE_CHAT_REPLACE, "{\"content\":\"fresh\"}");
    cr_assert(r.flag);
    EXPECT_AT(s, "c1", "history.messages.a0.content", "\"fresh\"");
    event(s, &r, "a1", STORE_CHAT_REPLACE, "{}");
    cr_assert(r.flag);
    EXPECT_AT(s, "c1", "history.messages.a1.content", "\"\"");
    EXPECT_AT(s, "c1", "history.messages.a1.parentId", "\"u1\"");
    store_close(s, NULL, NULL);
}

Test(store_chats, embeds_files_sources_do_not_touch_updated_at)
{
    store_t *s = t_open(NULL);
    seed(s);
    res_t r;
    event(s, &r, "a0", STORE_CHAT_EMBEDS, "{\"embeds\":[\"e1\",\"e2\"]}");
    cr_assert(r.flag);
    EXPECT_AT(s, "c1", "history.messages.a0.embeds", "[\"e1\",\"e2\",\"e-old\"]");
    event(s, &r, "a0", STORE_CHAT_EMBEDS, "{\"embeds\":[\"only\"],\"replace\":true}");
    EXPECT_AT(s, "c1", "history.messages.a0.embeds", "[\"only\"]");
    event(s, &r, "a0", STORE_CHAT_EMBEDS, "{\"embeds\":{\"not\":\"a list\"}}");
    cr_assert_not(r.flag);
    event(s, &r, "a0", STORE_CHAT_FILES, "{\"files\":[{\"id\":\"f-new\"}]}");
    EXPECT_AT(s, "c1", "history.messages.a0.files", "[{\"id\":\"f-new\"},{\"id\":\"f-old\"}]");
    event(s, &r, "a0", STORE_CHAT_FILES, "{\"files\":[],\"replace\":true}");
    EXPECT_AT(s, "c1", "history.messages.a0.files", "[{\"id\":\"f-new\"},{\"id\":\"f-old\"}]");
    event(s, &r, "a0", STORE_CHAT_SOURCE, "{\"source\":{\"name\":\"doc\"}}");
    cr_assert(r.flag);
    EXPECT_AT(s, "c1", "history.messages.a0.sources",
              "[{\"n\":0},{\"source\":{\"name\":\"doc\"}}]");
    event(s, &r, "a0", STORE_CHAT_SOURCE, "{\"type\":\"code_execution\",\"x\":1}");
    cr_assert_not(r.flag, "typed sources are socket-only");
    event(s, &r, "a0", STORE_CHAT_SOURCE, "{\"type\":null,\"y\":2}");
    cr_assert(r.flag);
    cr_assert_eq(updated_at(s, "c1"), 1, "embeds/files/sources leave updated_at");
    /* on a message that does not exist yet they create it */
    event(s, &r, "new", STORE_CHAT_FILES, "{\"files\":[1]}");
    cr_assert(r.flag);
    EXPECT_AT(s, "c1", "history.messages.new.files", "[1]");
    EXPECT_AT(s, "c1", "history.currentId", "\"new\"");
    memset(&r, 0, sizeof r);
    store_chat_event(s, "nochat", "m", STORE_CHAT_REPLACE, "{}", cb_flag, &r);
    cr_assert_eq(r.status, STORE_ENOTFOUND);
    store_chat_event(s, "c1", "m", 99, "{}", cb_flag, &r);
    cr_assert_eq(r.status, STORE_EINVAL);
    store_close(s, NULL, NULL);
}

Test(store_chats, unreadable_chat_document_is_not_overwritten)
{
    store_t *s = t_open(NULL);
    seed(s);
    SQL(s, "UPDATE chat SET chat = $1 WHERE id = $2", "[\"not\",\"an\",\"object\"]", "c1");
    res_t r;
    event(s, &r, "a0", STORE_CHAT_REPLACE, "{\"content\":\"x\"}");
    cr_assert_eq(r.status, STORE_EDB);
    char *doc = chat_doc(s, "c1");
    cr_assert_str_eq(doc, "[\"not\",\"an\",\"object\"]");
    free(doc);
    store_close(s, NULL, NULL);
}
