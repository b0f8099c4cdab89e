/*
 * store_schema: creates Open WebUI's tables in a new database, or checks an existing
 * Open WebUI database, and records what optional parts it has (store_caps_t).
 *
 * The DDL mirrors Open WebUI's SQLAlchemy models (backend/open_webui/models/, 0.10
 * line) column by column: String -> VARCHAR, Text -> TEXT, BigInteger -> BIGINT,
 * Boolean -> BOOLEAN, JSON -> JSON, with the same NOT NULL and unique constraints. The
 * same text runs on SQLite and PostgreSQL. An existing Open WebUI database is never
 * altered (no CREATE, no ALTER): a table Open WebUI's own migrations will add later
 * would make them fail, so only a database without a `user` table gets tables.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_private.h"

static const char *const ddl[] = {
    "CREATE TABLE IF NOT EXISTS \"user\" ("
    " id VARCHAR NOT NULL PRIMARY KEY, email VARCHAR NOT NULL, username VARCHAR(50),"
    " role VARCHAR NOT NULL, name VARCHAR NOT NULL, profile_image_url TEXT NOT NULL,"
    " profile_banner_image_url TEXT, bio TEXT, gender TEXT, date_of_birth DATE,"
    " timezone VARCHAR, presence_state VARCHAR, status_emoji VARCHAR, status_message TEXT,"
    " status_expires_at BIGINT, info JSON, settings JSON, oauth JSON, scim JSON,"
    " last_active_at BIGINT, updated_at BIGINT, created_at BIGINT,"
    " CONSTRAINT uq_user_email UNIQUE (email))",
    "CREATE TABLE IF NOT EXISTS auth ("
    " id VARCHAR NOT NULL PRIMARY KEY, email VARCHAR, password TEXT, active BOOLEAN)",
    "CREATE TABLE IF NOT EXISTS \"group\" ("
    " id TEXT NOT NULL PRIMARY KEY, user_id TEXT, name TEXT, description TEXT, data JSON,"
    " meta JSON, permissions JSON, created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS group_member ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " group_id TEXT NOT NULL REFERENCES \"group\" (id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL REFERENCES \"user\" (id) ON DELETE CASCADE,"
    " created_at BIGINT, updated_at BIGINT,"
    " CONSTRAINT uq_group_member_group_user UNIQUE (group_id, user_id))",
    "CREATE TABLE IF NOT EXISTS channel ("
    " id TEXT NOT NULL PRIMARY KEY, user_id TEXT, type TEXT, name TEXT, description TEXT,"
    " is_private BOOLEAN, data JSON, meta JSON, created_at BIGINT, updated_at BIGINT,"
    " updated_by TEXT, archived_at BIGINT, archived_by TEXT, deleted_at BIGINT,"
    " deleted_by TEXT)",
    "CREATE TABLE IF NOT EXISTS channel_member ("
    " id TEXT NOT NULL PRIMARY KEY, channel_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " role TEXT, status TEXT, is_active BOOLEAN NOT NULL DEFAULT TRUE,"
    " is_channel_muted BOOLEAN NOT NULL DEFAULT FALSE,"
    " is_channel_pinned BOOLEAN NOT NULL DEFAULT FALSE, data JSON, meta JSON,"
    " invited_at BIGINT, invited_by TEXT, joined_at BIGINT, left_at BIGINT,"
    " last_read_at BIGINT, created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS message ("
    " id TEXT NOT NULL PRIMARY KEY, user_id TEXT, channel_id TEXT, reply_to_id TEXT,"
    " parent_id TEXT, is_pinned BOOLEAN NOT NULL DEFAULT FALSE, pinned_at BIGINT,"
    " pinned_by TEXT, content TEXT, data JSON, meta JSON, created_at BIGINT,"
    " updated_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS note ("
    " id TEXT NOT NULL PRIMARY KEY, user_id TEXT, title TEXT, data JSON, meta JSON,"
    " created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS chat ("
    " id VARCHAR NOT NULL PRIMARY KEY, user_id VARCHAR, title TEXT, chat JSON,"
    " created_at BIGINT, updated_at BIGINT, share_id TEXT UNIQUE, archived BOOLEAN,"
    " pinned BOOLEAN, meta JSON DEFAULT '{}', folder_id TEXT, tasks JSON, summary TEXT,"
    " last_read_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS folder ("
    " id TEXT NOT NULL PRIMARY KEY, parent_id TEXT, user_id TEXT NOT NULL, name TEXT NOT NULL,"
    " items JSON, meta JSON, data JSON, is_expanded BOOLEAN NOT NULL DEFAULT FALSE,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chat_message ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " chat_id TEXT NOT NULL REFERENCES chat (id) ON DELETE CASCADE, user_id TEXT,"
    " role TEXT NOT NULL, parent_id TEXT, content JSON, output JSON, model_id TEXT,"
    " files JSON, sources JSON, embeds JSON, meta JSON, done BOOLEAN, status_history JSON,"
    " error JSON, usage JSON, context_summary TEXT, created_at BIGINT, updated_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS access_grant ("
    " id TEXT NOT NULL PRIMARY KEY, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,"
    " principal_type TEXT NOT NULL, principal_id TEXT NOT NULL, permission TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " CONSTRAINT uq_access_grant_grant UNIQUE (resource_type, resource_id, principal_type,"
    " principal_id, permission))",
    /* Open WebUI's own index names where the model declares them */
    "CREATE INDEX IF NOT EXISTS folder_id_idx ON chat (folder_id)",
    "CREATE INDEX IF NOT EXISTS user_id_pinned_idx ON chat (user_id, pinned)",
    "CREATE INDEX IF NOT EXISTS user_id_archived_idx ON chat (user_id, archived)",
    "CREATE INDEX IF NOT EXISTS updated_at_user_id_idx ON chat (updated_at, user_id)",
    "CREATE INDEX IF NOT EXISTS folder_id_user_id_idx ON chat (folder_id, user_id)",
    "CREATE INDEX IF NOT EXISTS ix_chat_message_chat_id ON chat_message (chat_id)",
    "CREATE INDEX IF NOT EXISTS ix_chat_message_user_id ON chat_message (user_id)",
    "CREATE INDEX IF NOT EXISTS chat_message_chat_parent_idx ON chat_message (chat_id,"
    " parent_id)",
    /* lookups the real-time layer does on every join/typing/read marker */
    "CREATE INDEX IF NOT EXISTS sioc_channel_member_user ON channel_member (user_id,"
    " channel_id)",
    "CREATE INDEX IF NOT EXISTS sioc_group_member_user ON group_member (user_id)",
    "CREATE INDEX IF NOT EXISTS sioc_access_grant_resource ON access_grant (resource_type,"
    " resource_id, permission)",
};

/* Tables every query path needs in an attached Open WebUI database. */
static const char *const required[] = {"auth",    "group",          "group_member",
                                       "channel", "channel_member", "message",
                                       "note",    "chat",           "access_grant"};

static int table_exists(store_db_t *db, const char *table, bool *yes)
{
    const char *sql = store__db_sql(
        db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1",
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_name = $1");
    store_param_t p[] = {SP_TEXT(table)};
    store_rows_t *r = NULL;
    if (store__db_query(db, sql, p, 1, &r) != 0)
        return -1;
    int rc = store__rows_next(r);
    store__rows_free(r);
    *yes = rc == 1;
    return rc < 0 ? -1 : 0;
}

static int column_exists(store_db_t *db, const char *table, const char *column, bool *yes)
{
    const char *sql = store__db_sql(
        db, "SELECT 1 FROM pragma_table_info($1) WHERE name = $2",
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = $1 AND column_name = $2");
    store_param_t p[] = {SP_TEXT(table), SP_TEXT(column)};
    store_rows_t *r = NULL;
    if (store__db_query(db, sql, p, 2, &r) != 0)
        return -1;
    int rc = store__rows_next(r);
    store__rows_free(r);
    *yes = rc == 1;
    return rc < 0 ? -1 : 0;
}

static int create_all(store_db_t *db, char *err, size_t errlen)
{
    if (store__db_begin(db, true) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
        if (store__db_exec(db, ddl[i], NULL, 0, NULL) != 0)
            goto fail_tx;
    if (store__db_commit(db) != 0)
        goto fail_tx;
    return 0;
fail_tx:
    store__db_rollback(db);
fail:
    snprintf(err, errlen, "store: cannot create the schema: %s", db->err);
    return -1;
}

static int check_required(store_db_t *db, char *err, size_t errlen)
{
    char missing[256] = "";
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        bool yes = false;
        if (table_exists(db, required[i], &yes) != 0) {
            snprintf(err, errlen, "store: cannot read the catalog: %s", db->err);
            return -1;
        }
        if (!yes)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     required[i]);
    }
    if (missing[0] == '\0')
        return 0;
    snprintf(err, errlen,
             "store: this Open WebUI database is too old for sioc (needs 0.8 or newer); "
             "missing tables:%s",
             missing);
    return -1;
}

int store__schema_ensure(store_db_t *db, store_caps_t *caps, char *err, size_t errlen)
{
    bool have_user = false;
    memset(caps, 0, sizeof *caps);
    if (table_exists(db, "user", &have_user) != 0) {
        snprintf(err, errlen, "store: cannot read the catalog: %s", db->err);
        return -1;
    }
    if (!have_user) {
        if (create_all(db, err, errlen) != 0)
            return -1;
        caps->created = true;
    } else if (check_required(db, err, errlen) != 0) {
        return -1;
    }
    if (table_exists(db, "chat_message", &caps->chat_message) != 0 ||
        column_exists(db, "chat", "last_read_at", &caps->chat_last_read_at) != 0 ||
        column_exists(db, "message", "is_pinned", &caps->message_is_pinned) != 0) {
        snprintf(err, errlen, "store: cannot read the catalog: %s", db->err);
        return -1;
    }
    return 0;
}
