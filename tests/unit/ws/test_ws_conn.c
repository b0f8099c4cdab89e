/* Unit tests for src/ws/ws_conn over in-memory connections: the handshake (101, 400),
 * echo, ping/pong, the closing handshake, error close codes, shared frames, deflate
 * and subprotocol negotiation. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/rcbuf.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "ws/ws_conn.h"
#include "ws/ws_deflate.h"

typedef struct fixture {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    net_conn_t *nc;
    buf_t out;
    ws_config_t cfg;
    ws_conn_t *ws;
    int messages;
    buf_t last;           /* last message received */
    bool last_binary;
    int closes;
    unsigned close_code;
    bool close_in_handler; /* the message handler calls ws_close */
    bool park;             /* on_request parks the upgrade request */
    http_req_t *parked;
    bool record;           /* append every message to `seq` */
    buf_t seq;             /* every message received, each followed by ',' */
} fixture_t;

static fixture_t fx;
static const uint8_t key[4] = {1, 2, 3, 4};

static void on_message(ws_conn_t *ws, bool bin, slice_t msg)
{
    fx.messages++;
    if (fx.record) {
        buf_append_slice(&fx.seq, msg);
        buf_append_byte(&fx.seq, ',');
    }
    buf_clear(&fx.last);
    buf_append_slice(&fx.last, msg);
    fx.last_binary = bin;
    if (fx.close_in_handler) {
        ws_close(ws, 4000, SLICE_LIT("handler"));
        cr_assert_eq(ws_send(ws, false, SLICE_LIT("late")), UV_EPIPE);
        return;
    }
    ws_send(ws, bin, msg);
}

static void on_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    (void)ws;
    (void)reason;
    fx.closes++;
    fx.close_code = code;
    fx.ws = NULL;
}

static const ws_handler_ops_t ops = {.on_message = on_message, .on_close = on_close};

static void on_request(http_req_t *req, void *user)
{
    (void)user;
    if (fx.park) {
        fx.parked = req;
        return;
    }
    fx.ws = ws_accept(req, &fx.cfg, SLICE_LIT("X-Extra: yes\r\n"), &ops, NULL);
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    uv_loop_init(&fx.loop);
    fx.nl = net_loop_new(&fx.loop, NULL);
    fx.srv = http_server_new(fx.nl, NULL, on_request, NULL);
    fx.cfg.max_message = 1000;
}

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void teardown(void)
{
    http_server_free(fx.srv);
    net_loop_free(fx.nl);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    int open = 0;
    uv_walk(&fx.loop, count_handle, &open);
    cr_assert_eq(open, 0);
    cr_assert_eq(uv_loop_close(&fx.loop), 0);
    buf_dispose(&fx.out);
    buf_dispose(&fx.last);
    buf_dispose(&fx.seq);
}

TestSuite(ws_conn, .init = setup, .fini = teardown, .timeout = 10);

static void pump(void)
{
    for (int i = 0; i < 4; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
}

static void feed(const void *p, size_t n)
{
    net_conn_memory_feed(fx.nc, p, n);
}

static bool out_has(const char *s)
{
    return memmem(buf_data(&fx.out), fx.out.len, s, strlen(s)) != NULL;
}

#define HS_HEAD "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define HS_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define HS_V13 "Sec-WebSocket-Version: 13\r\n"
static const char handshake[] = HS_HEAD HS_KEY HS_V13 "\r\n";

static void open_ws(const char *hs)
{
    fx.nc = net_conn_new_memory(fx.nl, &fx.out);
    http_server_adopt(fx.srv, fx.nc);
    feed(hs, strlen(hs));
    pump();
}

/* Appends one masked client frame to `b`. */
static void client_frame(buf_t *b, unsigned op, bool fin, const void *pl, size_t n)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX_MASKED];
    size_t h = ws_frame_header_encode_masked(hdr, op, fin, false, n, key);
    buf_append(b, hdr, h);
    uint8_t *d = buf_reserve(b, n + 1);
    memcpy(d, pl, n);
    ws_frame_unmask(d, n, key, 0);
    buf_commit(b, n);
}

static void send_frame(unsigned op, const void *pl, size_t n)
{
    buf_t b = BUF_INIT;
    client_frame(&b, op, true, pl, n);
    feed(buf_data(&b), b.len);
    buf_dispose(&b);
    pump();
}

/* The server frames after the HTTP head, parsed one by one. */
typedef struct sframe {
    unsigned op;
    bool rsv1;
    slice_t payload;
} sframe_t;

static int server_frames(sframe_t *f, int max)
{
    const uint8_t *p = buf_data(&fx.out);
    const uint8_t *end = p + fx.out.len;
    const uint8_t *body = memmem(p, fx.out.len, "\r\n\r\n", 4);
    cr_assert_not_null(body);
    p = body + 4;
    int n = 0;
    while (p < end && n < max) {
        ws_frame_header_t h;
        int hl = ws_frame_parse_header(p, (size_t)(end - p), WS_PARSE_ALLOW_RSV1, &h, NULL);
        cr_assert_gt(hl, 0);
        cr_assert_not(h.masked, "server frames are never masked");
        f[n++] = (sframe_t){h.opcode, h.rsv1, slice_make(p + hl, h.payload_len)};
        p += hl + h.payload_len;
    }
    return n;
}

Test(ws_conn, handshake_101)
{
    open_ws(handshake);
    cr_assert_not_null(fx.ws);
    cr_assert(out_has("HTTP/1.1 101 Switching Protocols\r\n"));
    cr_assert(out_has("Upgrade: websocket\r\n"));
    cr_assert(out_has("Connection: Upgrade\r\n"));
    cr_assert(out_has("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    cr_assert(out_has("X-Extra: yes\r\n\r\n"));
    cr_assert_not(out_has("Sec-WebSocket-Protocol"));
    cr_assert_not(out_has("Sec-WebSocket-Extensions"));
    cr_assert_not(ws_is_deflate(fx.ws));
}

static void expect_400(const char *hs)
{
    open_ws(hs);
    cr_assert_null(fx.ws);
    cr_assert(out_has("HTTP/1.1 400 Bad Request\r\n"), "%.*s", (int)fx.out.len,
              buf_data(&fx.out));
    cr_assert(out_has("Connection: close\r\n"));
    cr_assert_eq(net_loop_stats(fx.nl)->conns_open, 0);
    buf_clear(&fx.out);
}

Test(ws_conn, bad_handshakes_are_400)
{
    expect_400("POST /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
               HS_V13 "\r\n");
    expect_400("GET /chat HTTP/1.1\r\nUpgrade: foo\r\nConnection: Upgrade\r\n" HS_KEY HS_V13
               "\r\n");
    expect_400("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" HS_KEY
               HS_V13 "\r\n");
    expect_400(HS_HEAD HS_V13 "\r\n");
    expect_400(HS_HEAD "Sec-WebSocket-Key: c2hvcnQ=\r\n" HS_V13 "\r\n");
    expect_400(HS_HEAD "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" HS_V13 "\r\n");
    open_ws(HS_HEAD HS_KEY "Sec-WebSocket-Version: 8\r\n\r\n");
    cr_assert(out_has("HTTP/1.1 400 Bad Request\r\n"));
    cr_assert(out_has("Sec-WebSocket-Version: 13\r\n"));
}

Test(ws_conn, echo_text_and_binary)
{
    open_ws(handshake);
    send_frame(WS_OP_TEXT, "hello", 5);
    cr_assert_eq(fx.messages, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.last), "hello") && !fx.last_binary);
    send_frame(WS_OP_BINARY, "\x00\xff", 2);
    cr_assert(fx.last_binary && fx.last.len == 2);
    sframe_t f[4];
    cr_assert_eq(server_frames(f, 4), 2);
    cr_assert(f[0].op == WS_OP_TEXT && slice_eq_cstr(f[0].payload, "hello"));
    cr_assert(f[1].op == WS_OP_BINARY && f[1].payload.len == 2);
}

Test(ws_conn, frames_right_behind_the_handshake_reach_ws)
{
    buf_t b = BUF_INIT;
    buf_append(&b, handshake, strlen(handshake));
    client_frame(&b, WS_OP_TEXT, true, "early", 5);
    fx.nc = net_conn_new_memory(fx.nl, &fx.out);
    http_server_adopt(fx.srv, fx.nc);
    feed(buf_data(&b), b.len);
    pump();
    buf_dispose(&b);
    cr_assert_eq(fx.messages, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.last), "early"));
}

Test(ws_conn, ping_gets_pong_with_payload)
{
    open_ws(handshake);
    send_frame(WS_OP_PING, "are you there", 13);
    sframe_t f[2];
    cr_assert_eq(server_frames(f, 2), 1);
    cr_assert(f[0].op == WS_OP_PONG && slice_eq_cstr(f[0].payload, "are you there"));
    cr_assert_eq(fx.messages, 0);
}

Test(ws_conn, client_close_is_echoed)
{
    open_ws(handshake);
    send_frame(WS_OP_CLOSE, "\x03\xe9" "away", 6);
    cr_assert_eq(fx.closes, 1);
    cr_assert_eq(fx.close_code, 1001);
    sframe_t f[2];
    cr_assert_eq(server_frames(f, 2), 1);
    cr_assert(f[0].op == WS_OP_CLOSE && f[0].payload.len == 2);
    cr_assert(memcmp(f[0].payload.ptr, "\x03\xe9", 2) == 0);
}

Test(ws_conn, empty_close_is_echoed_empty)
{
    open_ws(handshake);
    send_frame(WS_OP_CLOSE, "", 0);
    cr_assert_eq(fx.close_code, WS_CLOSE_NO_STATUS);
    sframe_t f[2];
    cr_assert_eq(server_frames(f, 2), 1);
    cr_assert(f[0].op == WS_OP_CLOSE && f[0].payload.len == 0);
}

static unsigned close_code_sent(void)
{
    sframe_t f[8];
    int n = server_frames(f, 8);
    cr_assert_gt(n, 0);
    cr_assert_eq(f[n - 1].op, WS_OP_CLOSE);
    return (unsigned)f[n - 1].payload.ptr[0] << 8 | f[n - 1].payload.ptr[1];
}

Test(ws_conn, unmasked_frame_is_1002)
{
    open_ws(handshake);
    feed("\x81\x02hi", 4);
    pump();
    cr_assert_eq(fx.messages, 0);
    cr_assert_eq(close_code_sent(), 1002);
    cr_assert_eq(fx.closes, 1);
    cr_assert_eq(fx.close_code, 1002);
}

Test(ws_conn, oversize_message_is_1009)
{
    open_ws(handshake);
    static char big[1001];
    memset(big, 'a', sizeof big);
    send_frame(WS_OP_TEXT, big, sizeof big);
    cr_assert_eq(fx.messages, 0);
    cr_assert_eq(close_code_sent(), 1009);
}

Test(ws_conn, invalid_utf8_is_1007)
{
    open_ws(handshake);
    send_frame(WS_OP_TEXT, "\xff", 1);
    cr_assert_eq(close_code_sent(), 1007);
    cr_assert_eq(fx.close_code, 1007);
}

Test(ws_conn, close_inside_handler)
{
    fx.close_in_handler = true;
    open_ws(handshake);
    buf_t b = BUF_INIT;
    client_frame(&b, WS_OP_TEXT, true, "one", 3);
    client_frame(&b, WS_OP_TEXT, true, "two", 3);
    feed(buf_data(&b), b.len);
    buf_dispose(&b);
    pump();
    cr_assert_eq(fx.messages, 1, "nothing is delivered after ws_close");
    cr_assert_eq(close_code_sent(), 4000);
    cr_assert_eq(fx.close_code, 4000);
}

Test(ws_conn, eof_without_close_frame_is_1006)
{
    open_ws(handshake);
    net_conn_memory_eof(fx.nc);
    pump();
    cr_assert_eq(fx.closes, 1);
    cr_assert_eq(fx.close_code, WS_CLOSE_ABNORMAL);
}

Test(ws_conn, shared_frame_and_parts)
{
    open_ws(handshake);
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t h = ws_frame_header_encode(hdr, WS_OP_TEXT, true, false, 6);
    rcbuf_t *rc = rcbuf_new(h + 6);
    memcpy(rc->data, hdr, h);
    memcpy(rc->data + h, "42[\"x\"", 6);
    rc->len = h + 6;
    cr_assert_eq(ws_send_frame(fx.ws, rc), 0);
    slice_t parts[2] = {SLICE_LIT("4"), SLICE_LIT("hello")};
    cr_assert_eq(ws_send_parts(fx.ws, false, parts, 2), 0);
    cr_assert_gt(ws_buffered_bytes(fx.ws), 0);
    pump();
    cr_assert_eq(ws_buffered_bytes(fx.ws), 0);
    cr_assert_eq(rc->refs, 1);
    rcbuf_unref(rc);
    sframe_t f[4];
    cr_assert_eq(server_frames(f, 4), 2);
    cr_assert(slice_eq_cstr(f[0].payload, "42[\"x\""));
    cr_assert(slice_eq_cstr(f[1].payload, "4hello"));
}

Test(ws_conn, subprotocol_only_when_configured_and_offered)
{
    fx.cfg.subprotocol = "chat";
    open_ws(HS_HEAD HS_KEY HS_V13 "Sec-WebSocket-Protocol: superchat, chat\r\n\r\n");
    cr_assert(out_has("Sec-WebSocket-Protocol: chat\r\n"));
    buf_clear(&fx.out);
    open_ws(HS_HEAD HS_KEY HS_V13 "Sec-WebSocket-Protocol: other\r\n\r\n");
    cr_assert_not(out_has("Sec-WebSocket-Protocol"));
}

Test(ws_conn, deflate_off_by_default)
{
    open_ws(HS_HEAD HS_KEY HS_V13
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
    cr_assert_not(out_has("Sec-WebSocket-Extensions"));
    cr_assert_not(ws_is_deflate(fx.ws));
    /* and RSV1 is then a protocol error */
    feed("\xc1\x81\x01\x02\x03\x04\x00", 7);
    pump();
    cr_assert_eq(close_code_sent(), 1002);
}

Test(ws_conn, deflate_negotiated_and_used)
{
    fx.cfg.deflate = true;
    open_ws(HS_HEAD HS_KEY HS_V13
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
    cr_assert(out_has("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
    cr_assert(ws_is_deflate(fx.ws));
    /* a compressed "Hello" (RFC 7692 §7.2.3.1), masked, RSV1 set */
    const uint8_t z[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    uint8_t fr[20];
    size_t h = ws_frame_header_encode_masked(fr, WS_OP_TEXT, true, true, sizeof z, key);
    memcpy(fr + h, z, sizeof z);
    ws_frame_unmask(fr + h, sizeof z, key, 0);
    feed(fr, h + sizeof z);
    pump();
    cr_assert_eq(fx.messages, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.last), "Hello"));
    /* a long reply goes out compressed; decompress it to check */
    char text[300];
    memset(text, 'k', sizeof text);
    buf_clear(&fx.out);
    buf_append_cstr(&fx.out, "\r\n\r\n");
    cr_assert_eq(ws_send(fx.ws, false, slice_make(text, sizeof text)), 0);
    pump();
    sframe_t f[4];
    cr_assert_eq(server_frames(f, 4), 1);
    cr_assert(f[0].rsv1, "sent compressed");
    cr_assert_lt(f[0].payload.len, 50);
    ws_deflate_params_t p = {0};
    ws_deflate_t *rx = ws_deflate_new(&p, 1);
    buf_t back = BUF_INIT;
    cr_assert_eq(ws_deflate_inflate(rx, f[0].payload, &back, 1000), 0);
    cr_assert_eq(back.len, sizeof text);
    cr_assert(memcmp(buf_data(&back), text, sizeof text) == 0);
    buf_dispose(&back);
    ws_deflate_free(rx);
}

#ifdef SIOC_ASAN
enum { WARM_ECHO_MAX_ALLOCS = 220 }; /* no recycling: at most one chunk per reply */
#else
enum { WARM_ECHO_MAX_ALLOCS = 0 };
#endif

/* The receive -> dispatch -> send path allocates nothing once warm: frames arriving
 * whole are delivered in place, replies go into recycled output chunks. (Sanitizer
 * builds disable the recycling, so there every reply costs its chunk.) */
Test(ws_conn, echo_path_allocates_nothing_when_warm)
{
    open_ws(handshake);
    buf_t in = BUF_INIT;
    for (int i = 0; i < 20; i++)
        client_frame(&in, i % 2 ? WS_OP_BINARY : WS_OP_TEXT, true, "0123456789abcdef", 16);
    buf_reserve(&fx.out, 1 << 20); /* the test's own sink must not grow while measuring */
    feed(buf_data(&in), in.len);   /* warm-up: fills the chunk pool */
    pump();
    unsigned long before = alloc_count();
    for (int round = 0; round < 10; round++) {
        feed(buf_data(&in), in.len);
        pump();
    }
    unsigned long allocs = alloc_count() - before;
    cr_assert_eq(fx.messages, 220);
    buf_dispose(&in);
    cr_assert_leq(allocs, WARM_ECHO_MAX_ALLOCS, "%lu allocations on the echo path", allocs);
}

Test(ws_conn, parked_upgrade_accepted_later_gets_early_frames)
{
    fx.park = true;
    open_ws(handshake);
    cr_assert_not_null(fx.parked);
    buf_t b = BUF_INIT;
    client_frame(&b, WS_OP_TEXT, true, "while parked", 12);
    feed(buf_data(&b), b.len);
    buf_dispose(&b);
    pump();
    cr_assert_eq(fx.messages, 0);
    fx.ws = ws_accept(fx.parked, &fx.cfg, slice_make(NULL, 0), &ops, NULL);
    cr_assert_not_null(fx.ws);
    pump();
    cr_assert_eq(fx.messages, 1);
    cr_assert(slice_eq_cstr(buf_slice(&fx.last), "while parked"));
}

/* ---- bounded work per read (STYLE rule 26) ------------------------------------- */

Test(ws_conn, pipelined_burst_is_handled_64_frames_per_turn)
{
    fx.record = true;
    open_ws(handshake);
    cr_assert_not_null(fx.ws);
    buf_t in = BUF_INIT, want = BUF_INIT;
    char m[16];
    for (int i = 0; i < 300; i++) {
        int k = snprintf(m, sizeof m, "m%03d", i);
        client_frame(&in, WS_OP_TEXT, true, m, (size_t)k);
        buf_append(&want, m, (size_t)k);
        buf_append_byte(&want, ',');
        if (i == 100)
            client_frame(&in, WS_OP_PING, true, "p", 1); /* control frames count too */
    }
    uint8_t close_pl[2] = {0x03, 0xe8}; /* 1000 */
    client_frame(&in, WS_OP_CLOSE, true, close_pl, 2);
    feed(buf_data(&in), in.len);
    cr_assert_eq(fx.messages, 64, "one read handles at most 64 frames, got %d", fx.messages);
    cr_assert(net_conn_is_yielded(ws_net_conn(fx.ws)));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.messages, 127, "the next 64 frames (63 messages and the ping) come on the "
                 "next loop turn, got %d", fx.messages);
    for (int i = 0; i < 10 && fx.closes == 0; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.messages, 300);
    cr_assert(slice_eq(buf_slice(&fx.seq), buf_slice(&want)), "messages out of order");
    cr_assert_eq(fx.closes, 1, "the close frame came after every message");
    cr_assert_eq(fx.close_code, 1000);
    /* the echoes, the pong in its place, then our close echo */
    sframe_t f[310];
    int n = server_frames(f, 310);
    cr_assert_eq(n, 302);
    cr_assert(f[100].op == WS_OP_TEXT && slice_eq_cstr(f[100].payload, "m100"));
    cr_assert_eq(f[101].op, WS_OP_PONG);
    cr_assert(slice_eq_cstr(f[102].payload, "m101"));
    cr_assert_eq(f[301].op, WS_OP_CLOSE);
    buf_dispose(&in);
    buf_dispose(&want);
}

Test(ws_conn, configured_event_cap)
{
    fx.cfg.max_events_per_read = 5;
    open_ws(handshake);
    buf_t in = BUF_INIT;
    for (int i = 0; i < 12; i++)
        client_frame(&in, WS_OP_BINARY, true, "x", 1);
    feed(buf_data(&in), in.len);
    cr_assert_eq(fx.messages, 5);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.messages, 10);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    cr_assert_eq(fx.messages, 12);
    cr_assert_not(net_conn_is_yielded(ws_net_conn(fx.ws)));
    buf_dispose(&in);
}
