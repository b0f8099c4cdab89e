/*
 * Unit tests for src/app/app_direct: per-request events of direct connections
 * (openwebui-protocol.md §3.10) on a real sioc server with raw WebSocket clients
 * (tests/unit/sio/rawws.h). The app's context is a stand-in: a client authenticates by
 * sending {"user":"<id>"} in its CONNECT packet. The Redis relay runs against a stand-in
 * of app_redis that records what is published and lets a test inject a message from
 * "another node" (the real Redis path is covered by the integration suites).
 *
 * src/app is built only into build/sioc, so the source is #included.
 */
#define _GNU_SOURCE
#include "../sio/rawws.h"

#include "../../../src/app/app_direct.c"
#include "../../../src/app/app_json.c"

/* ------------------------------------------------------------------ the app stand-in */

struct app {
    sioc_nsp_t *nsp;
};

typedef struct rec {
    app_user_t user;
    char id[64];
} rec_t;

static struct app A;
static app_direct_t *D;

/* ------------------------------------------------------------------ the Redis stand-in */

struct app_redis {
    int unused;
};

static struct {
    bool on;            /* app_redis_of answers a Redis */
    struct app_redis r; /* what it answers */
    char channel[128];  /* the subscription */
    app_redis_message_cb cb;
    void *arg;
    char published[4096]; /* payloads, '\n'-separated */
    char pub_channel[128];
    int n_pub;
} M;

app_redis_t *app_redis_of(app_t *app)
{
    (void)app;
    return M.on ? &M.r : NULL;
}

sioc_redis_t *app_redis_ws(const app_redis_t *r)
{
    return r ? (sioc_redis_t *)(uintptr_t)1 : NULL; /* never dereferenced here */
}

void app_redis_key(const app_redis_t *r, buf_t *dst, const char *suffix)
{
    (void)r;
    buf_clear(dst);
    buf_append_cstr(dst, "P:");
    buf_append_cstr(dst, suffix);
}

int app_redis_subscribe(app_redis_t *r, const char *channel, app_redis_message_cb cb, void *arg)
{
    (void)r;
    snprintf(M.channel, sizeof M.channel, "%s", channel);
    M.cb = cb;
    M.arg = arg;
    return 0;
}

void app_redis_unsubscribe(app_redis_t *r, const char *channel)
{
    (void)r;
    cr_assert_str_eq(channel, M.channel);
    M.channel[0] = '\0';
}

int app_redis_publish(app_redis_t *r, const char *channel, sioc_str_t payload)
{
    (void)r;
    snprintf(M.pub_channel, sizeof M.pub_channel, "%s", channel);
    size_t n = strlen(M.published);
    snprintf(M.published + n, sizeof M.published - n, "%.*s\n", (int)payload.len, payload.ptr);
    M.n_pub++;
    return 0;
}

/* A message on the relay channel, as if another node published it. */
static void inject(const char *payload)
{
    cr_assert_not_null(M.cb);
    M.cb(&A, (sioc_str_t){M.channel, strlen(M.channel)}, (sioc_str_t){payload, strlen(payload)},
         M.arg);
}

sioc_nsp_t *app_nsp(app_t *app)
{
    return app->nsp;
}

const app_user_t *app_socket_user(const sioc_socket_t *s)
{
    rec_t *r = sioc_socket_get_user(s);
    return r && r->id[0] ? &r->user : NULL;
}

static void on_connection(sioc_socket_t *s, int status, sioc_str_t auth, void *arg)
{
    (void)status, (void)arg;
    rec_t *r = calloc(1, sizeof *r);
    const char *p = memmem(auth.ptr, auth.len, "\"user\":\"", 8);
    if (p) {
        p += 8;
        const char *q = memchr(p, '"', auth.len - (size_t)(p - auth.ptr));
        snprintf(r->id, sizeof r->id, "%.*s", (int)(q - p), p);
    }
    r->user.id = r->id;
    r->user.name = r->id;
    r->user.role = "user";
    sioc_socket_set_user(s, r);
}

static void on_disconnect(sioc_socket_t *s, sioc_reason_t reason, void *arg)
{
    (void)reason, (void)arg;
    free(sioc_socket_get_user(s));
    sioc_socket_set_user(s, NULL);
}

/* An event of the app's own, to show the catch-all does not take those. */
static int own_events;
static void on_own(sioc_socket_t *s, sioc_str_t name, const sioc_args_t *a, int64_t ack, void *arg)
{
    (void)s, (void)name, (void)a, (void)ack, (void)arg;
    own_events++;
}

static void init_server(sioc_server_t *srv)
{
    A.nsp = sioc_of(srv, "/");
    sioc_on_connection(A.nsp, on_connection, NULL);
    sioc_on_disconnect(A.nsp, on_disconnect, NULL);
    sioc_on(A.nsp, "heartbeat", on_own, NULL);
    D = app_direct_new(&A);
}

/* ------------------------------------------------------------------ a request's sink */

typedef struct sink {
    char got[4096]; /* argument 0 of each event, '\n'-separated */
    int events;
    bool unregister_on_done;
    app_direct_req_t *req;
} sink_t;

static int relayed_events; /* events delivered with no socket (from another node) */

static void on_event(app_direct_req_t *req, sioc_socket_t *s, sioc_str_t a0, void *arg)
{
    sink_t *k = arg;
    if (!s)
        relayed_events++;
    size_t n = strlen(k->got);
    snprintf(k->got + n, sizeof k->got - n, "%.*s\n", (int)a0.len, a0.ptr);
    k->events++;
    if (k->unregister_on_done && memmem(a0.ptr, a0.len, "\"done\":true", 11)) {
        app_direct_unregister(req);
        k->req = NULL;
    }
}

static void sendf(rw_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(rw_client_t *c, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    rw_send(c, text);
}

static void connect_as(rw_client_t *c, const char *user)
{
    if (user)
        sendf(c, "40{\"user\":\"%s\"}", user);
    else
        rw_send(c, "40");
    rw_expect(c, "40{\"sid\":\"");
}

static void stop_all(void)
{
    rw_stop();
    app_direct_free(D);
    D = NULL;
}

static const sioc_config_t CFG = {.transports = SIOC_WEBSOCKET};

/* ------------------------------------------------------------------ tests */

Test(app_direct, routes_to_the_registered_request_of_the_same_user)
{
    rw_client_t c[3];
    rw_start(&CFG, init_server, c, 3);
    connect_as(&c[0], "u1");
    connect_as(&c[1], "u2");
    connect_as(&c[2], NULL);
    sink_t k = {0};
    k.req = app_direct_register(D, "u1", "S1", "R1", on_event, &k);
    cr_assert_not_null(k.req);
    cr_assert_str_eq(app_direct_name(k.req), "u1:S1:R1");
    cr_assert_eq(app_direct_count(D), 1);

    rw_send(&c[0], "42[\"u1:S1:R1\",\"data: {\\\"a\\\":1}\"]");
    rw_send(&c[0], "427[\"u1:S1:R1\",\"data: [DONE]\"]");
    rw_expect(&c[0], "437[]"); /* a delivered event is acked when asked */
    cr_assert_eq(k.events, 2);
    cr_assert_str_eq(k.got, "\"data: {\\\"a\\\":1}\"\n\"data: [DONE]\"\n");

    /* another user, an anonymous socket: not delivered, and no ack either */
    rw_send(&c[1], "428[\"u1:S1:R1\",\"data: forged\"]");
    rw_send(&c[2], "429[\"u1:S1:R1\",\"data: forged\"]");
    /* an unknown request, a name of another shape */
    rw_send(&c[0], "4210[\"u1:S1:R2\",\"x\"]");
    rw_send(&c[0], "4211[\"u1:S1\",\"x\"]");
    rw_send(&c[0], "4212[\"heartbeat\",{}]"); /* the app's own handler still gets its own */
    rw_spin(300);
    cr_assert_eq(k.events, 2, "got: %s", k.got);
    cr_assert_not(rw_logged(&c[1], "438"));
    cr_assert_not(rw_logged(&c[2], "439"));
    cr_assert_not(rw_logged(&c[0], "4310"));
    cr_assert_not(rw_logged(&c[0], "4311"));
    cr_assert_eq(own_events, 1);

    /* unregistered: nothing more arrives */
    app_direct_unregister(k.req);
    cr_assert_eq(app_direct_count(D), 0);
    rw_send(&c[0], "42[\"u1:S1:R1\",\"late\"]");
    rw_spin(200);
    cr_assert_eq(k.events, 2);
    stop_all();
}

Test(app_direct, the_request_may_end_itself_on_done)
{
    rw_client_t c[1];
    rw_start(&CFG, init_server, c, 1);
    connect_as(&c[0], "u1");
    sink_t k = {.unregister_on_done = true};
    k.req = app_direct_register(D, "u1", "S", "R", on_event, &k);
    rw_send(&c[0], "42[\"u1:S:R\",\"data: x\"]");
    rw_send(&c[0], "42[\"u1:S:R\",{\"done\":true}]");
    rw_send(&c[0], "42[\"u1:S:R\",\"after\"]");
    rw_spin(300);
    cr_assert_eq(k.events, 2, "got: %s", k.got);
    cr_assert_null(k.req);
    cr_assert_eq(app_direct_count(D), 0);
    stop_all();
}

Test(app_direct, registration_rules)
{
    rw_client_t c[1];
    rw_start(&CFG, init_server, c, 1);
    sink_t k = {0};
    cr_assert_not_null(app_direct_register(D, "u", "s", "r", on_event, &k));
    cr_assert_null(app_direct_register(D, "u", "s", "r", on_event, &k), "a name is taken once");
    cr_assert_null(app_direct_register(D, "", "s", "r", on_event, &k));
    cr_assert_null(app_direct_register(D, "u", "", "r", on_event, &k));
    cr_assert_null(app_direct_register(D, "u", "s", "", on_event, &k));
    cr_assert_null(app_direct_register(D, "u:x", "s", "r", on_event, &k),
                   "a user id with ':' would make names ambiguous");
    cr_assert_null(app_direct_register(D, "u", "s", "r2", NULL, &k));
    cr_assert_eq(app_direct_count(D), 1);
    stop_all(); /* frees the one still registered */
}

Test(app_direct, relays_unknown_requests_of_the_same_user_through_redis)
{
    M.on = true;
    rw_client_t c[3];
    rw_start(&CFG, init_server, c, 3);
    cr_assert_str_eq(M.channel, "P:direct:events", "subscribed at start");
    connect_as(&c[0], "u1");
    connect_as(&c[1], "u2");
    connect_as(&c[2], NULL);
    /* a request registered on another node: the event goes out, and is acked */
    rw_send(&c[0], "425[\"u1:S:R\",\"data: x\"]");
    rw_expect(&c[0], "435[]");
    cr_assert_eq(M.n_pub, 1);
    cr_assert_str_eq(M.pub_channel, "P:direct:events");
    cr_assert_str_eq(M.published, "{\"event\":\"u1:S:R\",\"data\":\"data: x\"}\n");
    /* another user's name, an anonymous socket: not relayed, not acked */
    rw_send(&c[1], "426[\"u1:S:R\",\"forged\"]");
    rw_send(&c[2], "427[\"u1:S:R\",\"forged\"]");
    rw_spin(300);
    cr_assert_eq(M.n_pub, 1);
    cr_assert_not(rw_logged(&c[1], "436"));
    cr_assert_not(rw_logged(&c[2], "437"));

    /* the other way: an event relayed by another node reaches the request registered here */
    sink_t k = {0};
    k.req = app_direct_register(D, "u1", "S2", "R2", on_event, &k);
    relayed_events = 0;
    inject("{\"event\":\"u1:S2:R2\",\"data\":\"data: y\"}");
    inject("{\"event\":\"u1:S2:R2\",\"data\":{\"done\":true}}");
    inject("{\"event\":\"u9:S:R\",\"data\":\"not ours\"}");
    inject("{\"event\":42}");
    inject("not json");
    cr_assert_eq(k.events, 2);
    cr_assert_eq(relayed_events, 2);
    cr_assert_str_eq(k.got, "\"data: y\"\n{\"done\":true}\n");
    /* a registered request is served locally, never published */
    rw_send(&c[0], "42[\"u1:S2:R2\",\"local\"]");
    rw_spin(200);
    cr_assert_eq(k.events, 3);
    cr_assert_eq(M.n_pub, 1);
    stop_all();
    cr_assert_str_eq(M.channel, "", "unsubscribed at free");
}
