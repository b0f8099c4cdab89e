/*
 * The broadcast hot path allocates nothing per recipient (STYLE rules 9, 14, 39).
 *
 * A real sioc server and N raw WebSocket clients run on one uv loop on loopback. One
 * client sends an event; the server's handler broadcasts it to a room. The allocation
 * counter of base/alloc.h (every library allocation goes through it) is read around
 * the whole path — read, unmask, Engine.IO and Socket.IO decode, dispatch, encode once,
 * queue a reference per recipient, flush — for a room of N sockets and for a room of
 * one: the counts must be equal (nothing per recipient), and in a normal build zero
 * (the shared frame is recycled from the server's frame cache once every recipient has
 * released it). ASan builds bypass the recycle pools, so there only the equality is
 * asserted.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "base/alloc.h"
#include "sioc.h"
#include "ws/ws_frame.h"

#define NCLIENTS 64
#define IN_CAP 65536

#ifdef SIOC_ASAN
#define POOLS_BYPASSED true /* ASan builds allocate where pools would recycle */
#else
#define POOLS_BYPASSED false
#endif

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    char in[IN_CAP];
    size_t n;
    bool upgraded; /* 101 seen */
    int opens;     /* Engine.IO open packets */
    int connects;  /* Socket.IO CONNECT replies */
    int msgs;      /* "msg" events */
} client_t;

typedef struct fixture {
    uv_loop_t loop;
    sioc_server_t *srv;
    sioc_nsp_t *nsp;
    client_t clients[NCLIENTS];
    int closed;
} fixture_t;

static fixture_t fx;

/* ---- the server's handlers ------------------------------------------------------- */

static void on_join(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev;
    (void)ack;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_socket_join(s, room);
}

static void on_bc(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev;
    (void)ack;
    (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0)
        sioc_emit_room(sioc_socket_nsp(s), room, "msg", sioc_args_tail(a, 1));
}

/* ---- a raw WebSocket client ------------------------------------------------------ */

static void send_raw(client_t *c, const void *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    cr_assert_eq(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)n);
}

static void send_text(client_t *c, const char *text)
{
    uint8_t frame[512];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t len = strlen(text);
    size_t h = ws_frame_header_encode_masked(frame, WS_OP_TEXT, true, false, len, mask);
    memcpy(frame + h, text, len);
    ws_frame_unmask(frame + h, len, mask, 0);
    send_raw(c, frame, h + len);
}

static void on_text(client_t *c, const char *p, size_t len)
{
    if (len >= 2 && p[0] == '0' && p[1] == '{')
        c->opens++;
    else if (len >= 3 && memcmp(p, "40{", 3) == 0)
        c->connects++;
    else if (len >= 8 && memcmp(p, "42[\"msg\"", 8) == 0)
        c->msgs++;
    else if (len == 1 && p[0] == '2')
        send_text(c, "3");
}

/* Consumes whole server frames from c->in. */
static void parse_frames(client_t *c)
{
    size_t off = 0;
    while (c->n - off >= 2) {
        const uint8_t *p = (const uint8_t *)c->in + off;
        size_t hl = 2, len = p[1] & 0x7f;
        if (len == 126) {
            if (c->n - off < 4)
                break;
            len = (size_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (c->n - off < 10)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | p[i];
            hl = 10;
        }
        if (c->n - off < hl + len)
            break;
        if ((p[0] & 0x0f) == WS_OP_TEXT)
            on_text(c, (const char *)p + hl, len);
        off += hl + len;
    }
    memmove(c->in, c->in + off, c->n - off);
    c->n -= off;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    client_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->in + c->n, (unsigned)(IN_CAP - c->n));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    client_t *c = st->data;
    (void)buf;
    if (nread <= 0)
        return;
    c->n += (size_t)nread;
    if (!c->upgraded) {
        char *end = memmem(c->in, c->n, "\r\n\r\n", 4);
        if (!end)
            return;
        cr_assert(memcmp(c->in, "HTTP/1.1 101", 12) == 0, "upgrade refused");
        size_t hl = (size_t)(end + 4 - c->in);
        memmove(c->in, c->in + hl, c->n - hl);
        c->n -= hl;
        c->upgraded = true;
    }
    parse_frames(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    client_t *c = req->data;
    static const char hs[] = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                             "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";
    cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    send_raw(c, hs, sizeof hs - 1);
}

/* ---- driving the loop ------------------------------------------------------------ */

typedef bool (*pred_fn)(void);

static int base[NCLIENTS]; /* msgs counts before the current broadcast */

static void run_until(pred_fn done, const char *what)
{
    uint64_t start = uv_now(&fx.loop);
    while (!done()) {
        uv_run(&fx.loop, UV_RUN_ONCE);
        uv_update_time(&fx.loop);
        cr_assert_lt(uv_now(&fx.loop) - start, 10000, "timed out waiting for %s", what);
    }
}

static int min_of(size_t field_off)
{
    int m = 1 << 30;
    for (int i = 0; i < NCLIENTS; i++) {
        int v = *(int *)((char *)&fx.clients[i] + field_off);
        m = v < m ? v : m;
    }
    return m;
}

static bool all_open(void)
{
    return min_of(offsetof(client_t, opens)) >= 1;
}

static bool all_connected(void)
{
    return min_of(offsetof(client_t, connects)) >= 1;
}

static bool rooms_ready(void)
{
    return sioc_room_size(fx.nsp, "room") == NCLIENTS && sioc_room_size(fx.nsp, "solo") == 1;
}

static bool all_msgs(void)
{
    for (int i = 0; i < NCLIENTS; i++) {
        if (fx.clients[i].msgs <= base[i])
            return false;
    }
    return true;
}

static bool first_msgs(void)
{
    return fx.clients[0].msgs > base[0];
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    cr_assert_eq(uv_loop_init(&fx.loop), 0);
    sioc_config_t cfg = {.port = 0};
    fx.srv = sioc_server_new(&fx.loop, &cfg);
    cr_assert_not_null(fx.srv);
    fx.nsp = sioc_of(fx.srv, "/");
    sioc_on(fx.nsp, "join", on_join, NULL);
    sioc_on(fx.nsp, "bc", on_bc, NULL);
    cr_assert_eq(sioc_server_listen(fx.srv), 0);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", sioc_server_port(fx.srv), &addr);
    for (int i = 0; i < NCLIENTS; i++) {
        client_t *c = &fx.clients[i];
        uv_tcp_init(&fx.loop, &c->tcp);
        c->tcp.data = c;
        c->creq.data = c;
        cr_assert_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, on_connect), 0);
    }
    run_until(all_open, "the open packets");
    for (int i = 0; i < NCLIENTS; i++)
        send_text(&fx.clients[i], "40");
    run_until(all_connected, "the CONNECT replies");
    for (int i = 0; i < NCLIENTS; i++)
        send_text(&fx.clients[i], "42[\"join\",\"room\"]");
    send_text(&fx.clients[0], "42[\"join\",\"solo\"]");
    run_until(rooms_ready, "the joins");
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
    fx.closed++;
}

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static void teardown(void)
{
    for (int i = 0; i < NCLIENTS; i++)
        uv_close((uv_handle_t *)&fx.clients[i].tcp, on_closed);
    sioc_server_stop(fx.srv);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    sioc_server_free(fx.srv);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&fx.loop, count_handle, &open);
    cr_assert_eq(open, 0, "%d handles left open", open);
    cr_assert_eq(fx.closed, NCLIENTS);
    cr_assert_eq(uv_loop_close(&fx.loop), 0);
}

/* Sends one broadcast to `room` from client 0 and returns the allocations made until
 * the recipients (`all` = every client, else client 0 only) have it. */
static unsigned long broadcast_allocs(const char *frame, bool all)
{
    for (int i = 0; i < NCLIENTS; i++)
        base[i] = fx.clients[i].msgs;
    unsigned long before = alloc_count();
    send_text(&fx.clients[0], frame);
    run_until(all ? all_msgs : first_msgs, "the broadcast");
    return alloc_count() - before;
}

Test(noalloc, broadcast_allocates_nothing_per_recipient, .init = setup, .fini = teardown,
     .timeout = 30)
{
    static const char to_room[] = "42[\"bc\",\"room\",{\"text\":\"hello\",\"n\":[1,2,3]}]";
    static const char to_solo[] = "42[\"bc\",\"solo\",{\"text\":\"hello\",\"n\":[1,2,3]}]";
    for (int i = 0; i < 3; i++) { /* warm up: scratch buffers and pools reach size */
        broadcast_allocs(to_room, true);
        broadcast_allocs(to_solo, false);
    }
    unsigned long many = broadcast_allocs(to_room, true);
    unsigned long one = broadcast_allocs(to_solo, false);
    unsigned long many2 = broadcast_allocs(to_room, true);
    cr_log_info("allocations per broadcast: %lu to %d sockets, %lu to one", many, NCLIENTS, one);
    cr_assert_eq(many, one, "%lu allocations for %d recipients vs %lu for one", many, NCLIENTS,
                 one);
    cr_assert_eq(many2, many);
    if (!POOLS_BYPASSED)
        cr_assert_eq(many, 0, "a warm broadcast allocates nothing (%lu)", many);
    for (int i = 0; i < NCLIENTS; i++)
        cr_assert_eq(fx.clients[i].msgs, fx.clients[0].msgs - (i ? 4 : 0),
                     "client %d got %d broadcasts", i, fx.clients[i].msgs);
}
