/*
 * Unit tests for src/app/app_ydoc: the ydoc:* handlers on a real sioc server and a real
 * store (SQLite in a temporary directory, or PostgreSQL with SIOC_TEST_PG_URL), driven by
 * raw WebSocket clients on one loop (tests/unit/sio/rawws.h), with the app's context
 * replaced by a small stand-in below: a client authenticates by sending
 * {"user":"<id>"} (optionally "admin":true) in its CONNECT packet.
 *
 * The Yjs updates are real ones from yjs 13.6.33 (see test_app_ydoc_store.c): client 1
 * typing "hello" into Y.Text "t", one update per character.
 *
 * src/app and src/store are built only into build/sioc, so their sources are #included.
 */
#define _GNU_SOURCE
#include "../store/store_test_util.h"
#include "../sio/rawws.h"

#include "../../../src/app/app_ydoc.c"
#include "../../../src/app/app_ydoc_store.c"
#include "../../../src/app/app_ydoc_wire.c"
#include "../../../src/app/app_ydoc_redis.c"
#include "../../../src/app/app_redis.c"
#include "yjs/yjs_text.h"

/* ------------------------------------------------------------------ the app stand-in */

struct app {
    sioc_nsp_t *nsp;
    store_t *store;
    uv_loop_t *loop;
    app_ydoc_t *y;
};

typedef struct rec {
    app_user_t user;
    bool authed;
    char id[64];
    void *slot;
} rec_t;

static struct app A;

/* The fixture's own teardown is replaced by stop_all (the store and the module need an
 * orderly shutdown). */
static void (*const unused_rw_stop)(void) __attribute__((unused)) = rw_stop;

sioc_nsp_t *app_nsp(app_t *app)
{
    return app->nsp;
}

store_t *app_store(app_t *app)
{
    return app->store;
}

uv_loop_t *app_loop(app_t *app)
{
    return app->loop;
}

/* No Redis here: the module keeps its documents in memory (app_ydoc_redis is NULL). */
app_redis_t *app_redis_of(app_t *app)
{
    (void)app;
    return NULL;
}

sioc_server_t *app_server(app_t *app)
{
    (void)app;
    return NULL;
}

const app_config_t *app_config(const app_t *app)
{
    (void)app;
    return NULL;
}

const app_user_t *app_socket_user(const sioc_socket_t *s)
{
    rec_t *r = sioc_socket_get_user(s);
    return r && r->authed && sioc_socket_is_connected(s) ? &r->user : NULL;
}

void **app_socket_ydoc_slot(sioc_socket_t *s)
{
    rec_t *r = sioc_socket_get_user(s);
    return r ? &r->slot : NULL;
}

/* CONNECT auth {"user":"u1","admin":true} authenticates as u1 (an admin). */
static void on_connection(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status;
    (void)arg;
    rec_t *r = calloc(1, sizeof *r);
    json_iter_t it;
    json_value_t k, v;
    const char *err;
    if (json_object_begin(&it, slice_make(auth.ptr, auth.len), &err) == 0) {
        while (json_object_next(&it, &k, &v, &err) == 1) {
            size_t n = 0;
            if (json_string_eq(k.raw, SLICE_LIT("user")) && v.type == JSON_STRING &&
                json_string_unescape(v.raw, (uint8_t *)r->id, sizeof r->id - 1, &n) == 0) {
                r->id[n] = '\0';
                r->authed = true;
            }
            if (json_string_eq(k.raw, SLICE_LIT("admin")))
                r->user.is_admin = v.type == JSON_TRUE;
        }
    }
    r->user.id = r->id;
    r->user.name = r->id;
    r->user.role = r->user.is_admin ? "admin" : "user";
    sioc_socket_set_user(s, r);
}

static void on_disconnect(sioc_socket_t *s, sioc_reason_t reason, void *arg)
{
    (void)reason;
    (void)arg;
    rec_t *r = sioc_socket_get_user(s);
    if (A.y) { /* like the app: no call once the module is freed */
        app_ydoc_on_disconnect(A.y, s);
        cr_assert_null(r->slot, "app_ydoc_on_disconnect empties the slot");
    }
    free(r);
    sioc_socket_set_user(s, NULL);
}

static void init_server(sioc_server_t *srv)
{
    A.nsp = sioc_of(srv, "/");
    A.loop = sioc_server_loop(srv);
    sioc_on_connection(A.nsp, on_connection, NULL);
    sioc_on_disconnect(A.nsp, on_disconnect, NULL);
    A.store = t_open(A.loop);
    /* notes: n1 owned by "owner"; reader has a read grant, writer a write grant only,
     * rw both; n2 is readable by everyone (user:* read) */
    SQL(A.store,
        "INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at)"
        " VALUES ($1, 'owner', 'T', $2, NULL, 1, 1)",
        "n1", "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}");
    SQL(A.store,
        "INSERT INTO note (id, user_id, title, data, meta, created_at, updated_at)"
        " VALUES ($1, 'owner', 'T', NULL, NULL, 1, 1)",
        "n2");
    static const char *const grants[][4] = {{"g1", "n1", "reader", "read"},
                                            {"g2", "n1", "writer", "write"},
                                            {"g3", "n1", "rw", "read"},
                                            {"g4", "n1", "rw", "write"},
                                            {"g5", "n2", "*", "read"}};
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++)
        SQL(A.store,
            "INSERT INTO access_grant (id, resource_type, resource_id, principal_type,"
            " principal_id, permission, created_at) VALUES ($1, 'note', $2, 'user', $3, $4, 1)",
            grants[i][0], grants[i][1], grants[i][2], grants[i][3]);
    A.y = app_ydoc_register(&A);
    cr_assert_not_null(A.y);
}

static int flushed;

static void on_flushed(void *arg)
{
    (void)arg;
    flushed++;
}

static int store_closed;

static void on_store_closed(void *arg)
{
    (void)arg;
    store_closed++;
}

/* Stops everything: server (disconnects), flush, module, store, then the fixture's checks. */
static void stop_all(void)
{
    for (int i = 0; i < rw.n; i++) {
        if (!uv_is_closing((uv_handle_t *)&rw.clients[i].tcp))
            uv_close((uv_handle_t *)&rw.clients[i].tcp, rw_on_closed);
    }
    sioc_server_stop(rw.srv);
    uv_run(&rw.loop, UV_RUN_NOWAIT);
    cr_assert_eq(app_ydoc_store_docs(A.y->st), 0, "every document cleared at disconnect");
    app_ydoc_flush_all(A.y, on_flushed, NULL);
    while (!flushed)
        uv_run(&rw.loop, UV_RUN_ONCE);
    app_ydoc_free(A.y);
    store_close(A.store, on_store_closed, NULL);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    cr_assert_eq(store_closed, 1);
    sioc_server_free(rw.srv);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&rw.loop, rw_count_handle, &open);
    cr_assert_eq(open, 0, "%d handles left open", open);
    cr_assert_eq(uv_loop_close(&rw.loop), 0);
}

/* ------------------------------------------------------------------ helpers */

static const char *const HELLO[] = {"0101010004010174016800", "01010101840100016500",
                                    "01010102840101016c00", "01010103840102016c00",
                                    "01010104840103016f00"};

/* "[1,1,1,0,...]" for a hex update. */
static const char *ints(const char *hex)
{
    static char out[8][512];
    static int next;
    char *o = out[next++ % 8];
    size_t n = strlen(hex) / 2, w = 0;
    o[w++] = '[';
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        w += (size_t)sprintf(o + w, i ? ",%u" : "%u", v);
    }
    o[w++] = ']';
    o[w] = '\0';
    return o;
}

static void sendf(rw_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(rw_client_t *c, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    rw_send(c, text);
}

/* Sends one masked binary frame. */
static void send_binary(rw_client_t *c, const uint8_t *p, size_t len)
{
    uint8_t frame[1024];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t h = ws_frame_header_encode_masked(frame, WS_OP_BINARY, true, false, len, mask);
    memcpy(frame + h, p, len);
    ws_frame_unmask(frame + h, len, mask, 0);
    rw_send_raw(c, frame, h + len);
}

/* Connects client `c` on "/" as `user` (NULL: anonymous) and returns its sid. */
static const char *connect_as(rw_client_t *c, const char *user, bool admin)
{
    if (user)
        sendf(c, "40{\"user\":\"%s\",\"admin\":%s}", user, admin ? "true" : "false");
    else
        rw_send(c, "40");
    rw_expect(c, "40{\"sid\":\"");
    static char sids[8][32];
    static int next;
    char *sid = sids[next++ % 8];
    const char *p = strstr(c->log, "40{\"sid\":\"") + 10;
    size_t n = (size_t)(strchr(p, '"') - p);
    memcpy(sid, p, n);
    sid[n] = '\0';
    return sid;
}

/* The text of the `state` array in the last ydoc:document:state of `c`'s log. */
static char *state_text(rw_client_t *c)
{
    const char *p = NULL, *q = c->log;
    while ((q = strstr(q, "\"ydoc:document:state\"")) != NULL)
        p = q++;
    cr_assert_not_null(p, "no state in %s", c->log);
    p = strstr(p, "\"state\":[");
    cr_assert_not_null(p);
    p += 9;
    uint8_t bytes[4096];
    size_t n = 0;
    while (*p != ']') {
        bytes[n++] = (uint8_t)strtoul(p, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    buf_t out = BUF_INIT;
    yjs_error_t err;
    cr_assert_eq(yjs_text_extract(bytes, n, &out, &err), YJS_OK, "%s", err.msg);
    buf_append_byte(&out, 0);
    size_t len;
    return (char *)buf_steal(&out, &len);
}

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Waits for the in-flight store requests of the module to finish. */
static bool no_ops(void *arg)
{
    (void)arg;
    return A.y->ops == NULL;
}

static void settle(void)
{
    cr_assert(rw_run_until(no_ops, NULL, 5000), "store requests did not finish");
    rw_spin(20);
}

static char *note_data(const char *id)
{
    settle();
    return SCALAR(A.store, "SELECT data FROM note WHERE id = $1", id);
}

static void join_note(rw_client_t *c, const char *id)
{
    sendf(c, "42[\"ydoc:document:join\",{\"document_id\":\"%s\"}]", id);
    rw_expect(c, "ydoc:document:state");
}

static void update_with_md(rw_client_t *c, const char *doc, const char *upd, const char *md)
{
    sendf(c,
          "42[\"ydoc:document:update\",{\"document_id\":\"%s\",\"update\":%s,"
          "\"data\":{\"content\":{\"md\":\"%s\",\"html\":\"<p>%s</p>\"}}}]",
          doc, ints(upd), md, md);
}

static void setup(void)
{
    memset(&A, 0, sizeof A);
    flushed = 0;
    store_closed = 0;
    t_setup();
}

TestSuite(app_ydoc, .init = setup, .fini = t_teardown, .timeout = 30);

static const sioc_config_t CFG = {.transports = SIOC_WEBSOCKET};

/* ------------------------------------------------------------------ tests */

Test(app_ydoc, empty_document_state_and_sessions)
{
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    const char *s0 = connect_as(&c[0], "owner", false);
    const char *s1 = connect_as(&c[1], "rw", false);
    rw_send(&c[0], "421[\"ydoc:document:join\",{\"document_id\":\"note:n1\",\"user_id\":\"owner\","
                   "\"user_name\":\"O\",\"user_color\":\"#4ECDC4\"}]");
    char want[256];
    snprintf(want, sizeof want,
             "42[\"ydoc:document:state\",{\"document_id\":\"note:n1\",\"state\":[0,0],"
             "\"sessions\":[\"%s\"]}]",
             s0);
    rw_expect(&c[0], want);
    rw_expect(&c[0], "431[]");
    /* the second editor sees two sessions, so it does not seed; the first is told */
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"note_n1\"}]");
    snprintf(want, sizeof want,
             "42[\"ydoc:document:state\",{\"document_id\":\"note:n1\",\"state\":[0,0],"
             "\"sessions\":[\"%s\",\"%s\"]}]",
             s0, s1);
    rw_expect(&c[1], want);
    snprintf(want, sizeof want,
             "42[\"ydoc:user:joined\",{\"document_id\":\"note:n1\",\"user_id\":\"%s\","
             "\"user_name\":\"Anonymous\",\"user_color\":\"#000000\"}]",
             s1);
    rw_expect(&c[0], want);
    cr_assert_eq(count_in(c[1].log, "ydoc:user:joined"), 0, "not to the joiner");
    stop_all();
}

Test(app_ydoc, updates_relay_merge_and_reach_a_late_joiner)
{
    rw_client_t c[3];
    rw_start(&CFG, init_server, c, 3);
    const char *s0 = connect_as(&c[0], "u0", false);
    connect_as(&c[1], "u1", false);
    connect_as(&c[2], "u2", false);
    rw_send(&c[0], "42[\"ydoc:document:join\",{\"document_id\":\"pad\"}]");
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"pad\"}]");
    rw_expect(&c[1], "ydoc:document:state");
    rw_expect(&c[0], "ydoc:user:joined");
    for (int i = 0; i < 5; i++)
        sendf(&c[0],
              "42[\"ydoc:document:update\",{\"document_id\":\"pad\",\"user_id\":\"u0\","
              "\"socket_id\":\"%s\",\"update\":%s}]",
              s0, ints(HELLO[i]));
    char want[512];
    snprintf(want, sizeof want,
             "42[\"ydoc:document:update\",{\"document_id\":\"pad\",\"user_id\":\"u0\","
             "\"update\":%s,\"socket_id\":\"%s\"}]",
             ints(HELLO[4]), s0);
    rw_expect(&c[1], want);
    cr_assert_eq(count_in(c[1].log, "ydoc:document:update"), 5);
    cr_assert_eq(count_in(c[0].log, "ydoc:document:update"), 0, "not back to the sender");
    /* the late joiner gets everything merged into one state */
    rw_send(&c[2], "42[\"ydoc:document:join\",{\"document_id\":\"pad\"}]");
    rw_expect(&c[2], "ydoc:document:state");
    char *t = state_text(&c[2]);
    cr_assert_str_eq(t, "hello");
    free(t);
    /* and a state request gets it again */
    rw_send(&c[1], "42[\"ydoc:document:state\",{\"document_id\":\"pad\"}]");
    rw_expect(&c[1], "\"state\":[1,");
    t = state_text(&c[1]);
    cr_assert_str_eq(t, "hello");
    free(t);
    stop_all();
}

Test(app_ydoc, binary_update_is_accepted_and_relayed_as_ints)
{
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    const char *s0 = connect_as(&c[0], "owner", false);
    connect_as(&c[1], "rw", false);
    join_note(&c[0], "note:n1");
    join_note(&c[1], "note:n1");
    rw_expect(&c[0], "ydoc:user:joined");
    sendf(&c[0],
          "451-[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"user_id\":\"owner\","
          "\"socket_id\":\"%s\",\"update\":{\"_placeholder\":true,\"num\":0}}]",
          s0);
    uint8_t raw[16];
    unsigned v;
    for (size_t i = 0; i < 11; i++) {
        sscanf(HELLO[0] + 2 * i, "%2x", &v);
        raw[i] = (uint8_t)v;
    }
    send_binary(&c[0], raw, 11);
    char want[256];
    snprintf(want, sizeof want, "\"update\":%s,\"socket_id\":\"%s\"}]", ints(HELLO[0]), s0);
    rw_expect(&c[1], want);
    /* no data: no save */
    char *d = note_data("n1");
    cr_assert_str_eq(d, "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}");
    free(d);
    stop_all();
}

Test(app_ydoc, access_rules_for_notes)
{
    rw_client_t c[7];
    rw_start(&CFG, init_server, c, 7);
    connect_as(&c[0], "owner", false);
    connect_as(&c[1], "reader", false);
    connect_as(&c[2], "writer", false); /* a write grant does not give read */
    connect_as(&c[3], "stranger", false);
    connect_as(&c[4], "boss", true);
    connect_as(&c[5], NULL, false); /* anonymous */
    connect_as(&c[6], "stranger", false);
    for (int i = 0; i < 6; i++)
        rw_send(&c[i], "421[\"ydoc:document:join\",{\"document_id\":\"note:n1\"}]");
    rw_send(&c[6], "421[\"ydoc:document:join\",{\"document_id\":\"note:nope\"}]");
    for (int i = 0; i < 7; i++)
        rw_expect(&c[i], "431[]"); /* everyone gets the empty ack */
    settle();
    const bool joined[] = {true, true, false, false, true, false, false};
    for (int i = 0; i < 7; i++)
        cr_expect_eq(strstr(c[i].log, "ydoc:document:state") != NULL, joined[i], "client %d: %s", i,
                     c[i].log);
    /* the reader may not update; the owner's updates reach the reader */
    rw_send(&c[1], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":[0,0],"
                   "\"data\":{\"content\":{\"md\":\"reader\"}}}]");
    sendf(&c[3], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[0]));
    sendf(&c[0], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[0]));
    rw_expect(&c[1], "\"update\":[1,1,1,0,4,1,1,116,1,104,0]");
    settle();
    rw_spin(600);
    cr_assert_eq(count_in(c[0].log, "ydoc:document:update"), 0, "%s", c[0].log);
    cr_assert_eq(count_in(c[4].log, "ydoc:document:update"), 1, "only the owner's update");
    char *d = note_data("n1");
    cr_assert_str_eq(d, "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}",
                     "reader saved nothing");
    free(d);
    /* a free-form document needs no grant (Open WebUI checks only note: ids) */
    rw_send(&c[3], "42[\"ydoc:document:join\",{\"document_id\":\"scratch\"}]");
    rw_expect(&c[3], "{\"document_id\":\"scratch\",\"state\":[0,0]");
    /* an anonymous socket stays out of everything, an empty id is refused */
    rw_send(&c[5], "42[\"ydoc:document:join\",{\"document_id\":\"scratch\"}]");
    rw_send(&c[6], "42[\"ydoc:document:join\",{\"document_id\":\"\"}]");
    rw_expect(&c[6], "42[\"error\",{\"message\":\"Failed to join document\"}]");
    cr_assert_null(strstr(c[5].log, "scratch"));
    stop_all();
}

Test(app_ydoc, save_is_debounced_and_merges_into_data)
{
    rw_client_t c[1];
    rw_start(&CFG, init_server, c, 1);
    connect_as(&c[0], "rw", false);
    join_note(&c[0], "note:n1");
    update_with_md(&c[0], "note:n1", HELLO[0], "v1");
    rw_spin(300);
    update_with_md(&c[0], "note:n1", HELLO[1], "v2");
    rw_spin(300);
    char *d = note_data("n1");
    cr_assert_str_eq(d, "{\"content\":{\"md\":\"old\"},\"files\":[\"f1\"]}",
                     "the first save was pushed back by the second update");
    free(d);
    rw_spin(400);
    d = note_data("n1");
    cr_assert_str_eq(d, "{\"content\":{\"md\":\"v2\",\"html\":\"<p>v2</p>\"},\"files\":[\"f1\"]}");
    free(d);
    /* an update without data neither cancels nor delays the pending save */
    update_with_md(&c[0], "note:n1", HELLO[2], "v3");
    rw_spin(300);
    sendf(&c[0], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[3]));
    rw_spin(350);
    d = note_data("n1");
    cr_assert(strstr(d, "\"md\":\"v3\""), "%s", d);
    free(d);
    int64_t ns = t_scalar_int(SCALAR(A.store, "SELECT updated_at FROM note WHERE id = $1", "n1"));
    cr_assert_gt(ns, (int64_t)1000000000 * 1000000000, "updated_at in nanoseconds");
    stop_all();
}

Test(app_ydoc, flush_writes_a_pending_save_at_once)
{
    rw_client_t c[1];
    rw_start(&CFG, init_server, c, 1);
    connect_as(&c[0], "owner", false);
    join_note(&c[0], "note:n2");
    update_with_md(&c[0], "note:n2", HELLO[0], "last words");
    rw_expect(&c[0], "ydoc:document:state"); /* keep the loop turning once */
    rw_spin(50);
    cr_assert_eq(app_ydoc_save_count(A.y->st), 1);
    uv_update_time(&rw.loop);
    uint64_t t0 = uv_now(&rw.loop);
    app_ydoc_flush_all(A.y, on_flushed, NULL);
    while (!flushed)
        uv_run(&rw.loop, UV_RUN_ONCE);
    uv_update_time(&rw.loop);
    cr_assert_lt(uv_now(&rw.loop) - t0, 400, "written at once, not after the debounce");
    char *d = SCALAR(A.store, "SELECT data FROM note WHERE id = $1", "n2");
    cr_assert_str_eq(d, "{\"content\":{\"md\":\"last words\",\"html\":\"<p>last words</p>\"}}");
    free(d);
    stop_all();
}

Test(app_ydoc, events_sent_with_the_join_wait_for_it)
{
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    connect_as(&c[0], "owner", false);
    const char *s1 = connect_as(&c[1], "rw", false);
    join_note(&c[0], "note:n1");
    /* join, awareness and update in one write: the awareness and the update arrive
     * while the join's access checks are still running */
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"note:n1\"}]");
    rw_send(&c[1], "421[\"ydoc:awareness:update\",{\"document_id\":\"note:n1\",\"user_id\":\"x\","
                   "\"update\":[123,125]}]");
    sendf(&c[1], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[0]));
    char want[256];
    snprintf(want, sizeof want,
             "42[\"ydoc:awareness:update\",{\"document_id\":\"note:n1\",\"user_id\":\"rw\","
             "\"update\":[123,125]}]");
    rw_expect(&c[0], want);
    snprintf(want, sizeof want, "\"update\":%s,\"socket_id\":\"%s\"}]", ints(HELLO[0]), s1);
    rw_expect(&c[0], want);
    rw_expect(&c[1], "431[]");
    /* in order: the join's state came before the awareness ack */
    cr_assert_lt(strstr(c[1].log, "ydoc:document:state") - c[1].log,
                 strstr(c[1].log, "431[]") - c[1].log);
    stop_all();
}

Test(app_ydoc, leave_tells_the_others_and_the_last_one_clears)
{
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    connect_as(&c[0], "u0", false);
    connect_as(&c[1], "u1", false);
    join_note(&c[0], "pad");
    join_note(&c[1], "pad");
    sendf(&c[0], "42[\"ydoc:document:update\",{\"document_id\":\"pad\",\"update\":%s}]",
          ints(HELLO[0]));
    rw_expect(&c[1], "ydoc:document:update");
    rw_send(&c[1], "42[\"ydoc:document:leave\",{\"document_id\":\"pad\",\"user_id\":\"spoof\"}]");
    rw_expect(&c[0], "42[\"ydoc:user:left\",{\"document_id\":\"pad\",\"user_id\":\"u1\"}]");
    /* out of the room: no more updates for c1 */
    sendf(&c[0], "42[\"ydoc:document:update\",{\"document_id\":\"pad\",\"update\":%s}]",
          ints(HELLO[1]));
    rw_spin(100);
    cr_assert_eq(count_in(c[1].log, "ydoc:document:update"), 1);
    cr_assert_eq(app_ydoc_store_docs(A.y->st), 1);
    rw_send(&c[0], "42[\"ydoc:document:leave\",{\"document_id\":\"pad\"}]");
    rw_spin(100);
    cr_assert_eq(app_ydoc_store_docs(A.y->st), 0, "the last one out clears the document");
    /* a new life starts empty: [0,0] again */
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"pad\"}]");
    rw_expect(&c[1], "{\"document_id\":\"pad\",\"state\":[0,0]");
    stop_all();
}

/* Threadpool blockers: while they run, no store request can make progress. */
#define N_BLOCKERS 64
static uv_sem_t unblock;
static uv_work_t blockers[N_BLOCKERS];
static int blockers_done;

static void block_work(uv_work_t *w)
{
    (void)w;
    uv_sem_wait(&unblock);
}

static void block_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    blockers_done++;
}

static bool all_unblocked(void *arg)
{
    (void)arg;
    return blockers_done == N_BLOCKERS;
}

Test(app_ydoc, disconnect_cleans_up_even_mid_join)
{
    rw_client_t c[3];
    rw_start(&CFG, init_server, c, 3);
    connect_as(&c[0], "owner", false);
    connect_as(&c[1], "owner", false);
    connect_as(&c[2], "owner", false);
    join_note(&c[0], "note:n1");
    join_note(&c[1], "pad");
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"note:n1\"}]");
    rw_expect(&c[0], "ydoc:user:joined");
    cr_assert_eq(app_ydoc_store_docs(A.y->st), 2);
    /* c2 asks to join, sends its awareness, and goes away before the access check can
     * answer (the store's threads are all kept busy meanwhile) */
    cr_assert_eq(uv_sem_init(&unblock, 0), 0);
    for (int i = 0; i < N_BLOCKERS; i++)
        uv_queue_work(&rw.loop, &blockers[i], block_work, block_done);
    rw_send(&c[2], "42[\"ydoc:document:join\",{\"document_id\":\"note:n1\"}]");
    rw_send(&c[2], "42[\"ydoc:awareness:update\",{\"document_id\":\"note:n1\",\"update\":[1]}]");
    rw_spin(100);
    cr_assert_not_null(A.y->ops, "the join is waiting for the store");
    uv_close((uv_handle_t *)&c[1].tcp, rw_on_closed);
    uv_close((uv_handle_t *)&c[2].tcp, rw_on_closed);
    rw_spin(200);
    cr_assert_eq(app_ydoc_store_docs(A.y->st), 1, "pad cleared with its only editor");
    for (int i = 0; i < N_BLOCKERS; i++)
        uv_sem_post(&unblock);
    cr_assert(rw_run_until(all_unblocked, NULL, 5000));
    settle();
    uv_sem_destroy(&unblock);
    app_ydoc_doc_t *d = app_ydoc_store_find(A.y->st, SLICE_LIT("note:n1"));
    cr_assert_not_null(d);
    cr_assert_eq(app_ydoc_doc_members(d), 1, "the cancelled join added nobody");
    cr_assert_eq(count_in(c[0].log, "ydoc:awareness:update"), 0);
    cr_assert_eq(count_in(c[0].log, "ydoc:user:joined"), 1, "only c1's join");
    cr_assert_eq(count_in(c[0].log, "ydoc:user:left"), 0, "no emits at disconnect");
    stop_all();
}

Test(app_ydoc, free_with_sockets_and_requests_still_there)
{
    /* the guard path of the app: the module goes first, sockets and store replies after */
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    connect_as(&c[0], "owner", false);
    connect_as(&c[1], "rw", false);
    join_note(&c[0], "note:n1");
    update_with_md(&c[0], "note:n1", HELLO[0], "x");
    rw_spin(50);
    cr_assert_eq(uv_sem_init(&unblock, 0), 0);
    for (int i = 0; i < N_BLOCKERS; i++)
        uv_queue_work(&rw.loop, &blockers[i], block_work, block_done);
    rw_send(&c[1], "42[\"ydoc:document:join\",{\"document_id\":\"note:n1\"}]");
    rw_send(&c[1], "42[\"ydoc:document:leave\",{\"document_id\":\"note:n1\"}]");
    rw_spin(100);
    app_ydoc_flush_all(A.y, on_flushed, NULL); /* the save waits behind the blockers */
    rw_spin(50);
    cr_assert_eq(flushed, 0);
    cr_assert_not_null(A.y->ops);
    app_ydoc_free(A.y);
    A.y = NULL;
    for (int i = 0; i < N_BLOCKERS; i++)
        uv_sem_post(&unblock);
    cr_assert(rw_run_until(all_unblocked, NULL, 5000));
    rw_spin(200); /* the orphaned join and save call back into nothing */
    uv_sem_destroy(&unblock);
    cr_assert_eq(flushed, 0, "a freed module calls nobody");
    for (int i = 0; i < rw.n; i++)
        uv_close((uv_handle_t *)&rw.clients[i].tcp, rw_on_closed);
    sioc_server_stop(rw.srv);
    store_close(A.store, on_store_closed, NULL);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    cr_assert_eq(store_closed, 1);
    sioc_server_free(rw.srv);
    uv_run(&rw.loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&rw.loop), 0);
}

/* ------------------------------------------------------------------ pure helpers */

static long doc_id_from(const char *payload, char *id)
{
    app_ydoc_fields_t f;
    cr_assert(app_ydoc_wire_parse_fields(slice_from_cstr(payload), &f), "%s", payload);
    return app_ydoc_wire_doc_id(f.document_id, id, APP_YDOC_MAX_ID);
}

Test(app_ydoc_helpers, document_ids_are_normalized_and_checked)
{
    char id[APP_YDOC_MAX_ID + 1];
    cr_assert_eq(doc_id_from("{\"document_id\":\"note_abc\"}", id), 8);
    cr_assert_str_eq(id, "note:abc", "note_ becomes note: (normalize_document_id)");
    cr_assert_eq(doc_id_from("{\"document_id\":\"n\\u006fte_x\",\"document_id\":\"pad\"}", id), 3);
    cr_assert_str_eq(id, "pad", "the last duplicate key wins, as JSON.parse");
    cr_assert_eq(doc_id_from("{\"document_id\":\"\\u006eote_x\"}", id), 6);
    cr_assert_str_eq(id, "note:x", "escapes are decoded first");
    cr_assert_eq(doc_id_from("{\"document_id\":\"my_note_1\"}", id), 9);
    cr_assert_str_eq(id, "my_note_1", "only a leading note_");
    cr_assert_lt(doc_id_from("{}", id), 0);
    cr_assert_lt(doc_id_from("{\"document_id\":\"\"}", id), 0);
    cr_assert_lt(doc_id_from("{\"document_id\":7}", id), 0);
    cr_assert_lt(doc_id_from("{\"document_id\":\"a\\u0000b\"}", id), 0);
    char big[APP_YDOC_MAX_ID + 64] = "{\"document_id\":\"";
    memset(big + strlen(big), 'x', APP_YDOC_MAX_ID + 1);
    strcat(big, "\"}");
    cr_assert_lt(doc_id_from(big, id), 0, "over-long ids are refused");
    app_ydoc_fields_t f;
    cr_assert_not(app_ydoc_wire_parse_fields(SLICE_LIT("[\"document_id\"]"), &f));
    cr_assert_not(app_ydoc_wire_parse_fields(SLICE_LIT("{\"document_id\":\"x\""), &f));

    slice_t n = app_ydoc_wire_note_id("note:abc", 8);
    cr_assert(n.ptr && n.len == 3 && memcmp(n.ptr, "abc", 3) == 0);
    n = app_ydoc_wire_note_id("note:abc:extra", 14);
    cr_assert(n.len == 3, "the id ends at the next ':' (split(':')[1])");
    n = app_ydoc_wire_note_id("note:", 5);
    cr_assert(n.ptr && n.len == 0);
    cr_assert_null(app_ydoc_wire_note_id("notes:x", 7).ptr);
    cr_assert_null(app_ydoc_wire_note_id("pad", 3).ptr);
}

Test(app_ydoc_helpers, byte_arrays_both_ways)
{
    buf_t b = BUF_INIT, out = BUF_INIT;
    slice_t got;
    cr_assert(app_ydoc_wire_decode_bytes(SLICE_LIT("[0, 1 ,255,16,1e1,2.0]"), &b, &got));
    const uint8_t want[] = {0, 1, 255, 16, 10, 2};
    cr_assert(got.len == 6 && memcmp(got.ptr, want, 6) == 0);
    cr_assert(app_ydoc_wire_decode_bytes(SLICE_LIT("[]"), &b, &got) && got.len == 0);
    static const char *const bad[] = {"[256]", "[-1]", "[1.5]", "[\"1\"]", "[null]",
                                      "[[1]]", "[1,]", "{}",    "[1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(app_ydoc_wire_decode_bytes(slice_from_cstr(bad[i]), &b, &got), "%s", bad[i]);
    const uint8_t all[] = {0, 9, 10, 99, 100, 255};
    app_ydoc_wire_append_bytes(&out, slice_make(all, sizeof all));
    buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)buf_data(&out), "[0,9,10,99,100,255]");
    buf_clear(&out);
    app_ydoc_wire_append_bytes(&out, slice_make(NULL, 0));
    cr_assert(out.len == 2 && memcmp(buf_data(&out), "[]", 2) == 0);
    buf_dispose(&b);
    buf_dispose(&out);
}

Test(app_ydoc_helpers, placeholders_and_data_truthiness)
{
    const slice_t bins[2] = {SLICE_LIT("\x01\x02"), SLICE_LIT("")};
    msg_t m = {SLICE_LIT("{}"), NULL, bins, 2};
    slice_t got;
    cr_assert(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"_placeholder\":true,\"num\":0}"), &got));
    cr_assert(got.len == 2 && got.ptr == bins[0].ptr);
    cr_assert(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"num\":1,\"_placeholder\":true}"), &got));
    cr_assert_not(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"_placeholder\":true,\"num\":2}"), &got));
    cr_assert_not(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"_placeholder\":true,\"num\":-1}"), &got));
    cr_assert_not(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"_placeholder\":false,\"num\":0}"), &got));
    cr_assert_not(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"num\":0}"), &got));
    cr_assert_not(app_ydoc_wire_placeholder(&m, SLICE_LIT("{\"_placeholder\":true,\"num\":\"0\"}"), &got));

    json_value_t v;
    static const struct {
        const char *json;
        bool truthy;
    } data[] = {{"{\"content\":{}}", true},
                {" { \"a\" : 1 } ", true},
                {"{}", false},
                {"{ }", false},
                {"\"text\"", false},
                {"[1]", false},
                {"true", false},
                {"null", false}};
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) {
        cr_assert_eq(json_validate(slice_from_cstr(data[i].json), &v, NULL), 0);
        cr_expect_eq(app_ydoc_wire_is_nonempty_object(v), data[i].truthy, "%s", data[i].json);
    }
    char lid[LOG_ID_SIZE];
    cr_assert_str_eq(app_ydoc_wire_log_id("a\nb\x7f", lid), "a?b?");
    char longid[200];
    memset(longid, 'z', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    cr_assert_eq(strlen(app_ydoc_wire_log_id(longid, lid)), LOG_ID_SIZE - 1);
}

/* The relay of HELLO[1] ("e" after "h"), as ints. */
#define HELLO_1_RELAYED "\"update\":[1,1,1,1,132,1,0,1,101,0]"

Test(app_ydoc, write_permission_is_rechecked)
{
    rw_client_t c[2];
    rw_start(&CFG, init_server, c, 2);
    connect_as(&c[0], "owner", false);
    connect_as(&c[1], "rw", false);
    join_note(&c[0], "note:n1");
    join_note(&c[1], "note:n1");
    /* the write grant goes away; the cache still says yes until it is re-checked */
    SQL(A.store, "DELETE FROM access_grant WHERE id = $1", "g4");
    sendf(&c[1], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[0]));
    rw_expect(&c[0], "ydoc:document:update");
    settle();
    cr_assert_null(A.y->ops, "a fresh answer is not re-checked");
    /* the answer gets old: the next update is still taken and starts a re-check */
    ysock_t *ys = A.y->socks; /* newest first: c[1] */
    app_ydoc_member_t *mbr = app_ydoc_peer_find(&ys->peer, SLICE_LIT("note:n1"));
    cr_assert_not_null(mbr);
    app_ydoc_member_access(mbr)->checked_ms -= APP_YDOC_RECHECK_MS + 1;
    sendf(&c[1], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[1]));
    rw_expect(&c[0], HELLO_1_RELAYED);
    settle();
    cr_assert_not(app_ydoc_member_access(mbr)->can_write, "the re-check saw the grant gone");
    cr_assert_lt(uv_now(&rw.loop) - app_ydoc_member_access(mbr)->checked_ms, 5000);
    sendf(&c[1], "42[\"ydoc:document:update\",{\"document_id\":\"note:n1\",\"update\":%s}]",
          ints(HELLO[2]));
    rw_spin(200);
    cr_assert_eq(count_in(c[0].log, "ydoc:document:update"), 2, "%s", c[0].log);
    stop_all();
}

Test(app_ydoc_helpers, redis_form_of_document_ids)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "P:");
    app_ydoc_wire_append_norm_id(&b, "note:abc:x");
    buf_append_byte(&b, 0);
    cr_assert_str_eq((char *)buf_data(&b), "P:note_abc_x", "every ':' of the id, not the prefix");
    buf_clear(&b);
    app_ydoc_wire_append_norm_id(&b, "");
    cr_assert_eq(b.len, 0);
    buf_dispose(&b);
}
