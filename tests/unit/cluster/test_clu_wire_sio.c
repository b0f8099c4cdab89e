/*
 * Unit tests for src/cluster/clu_wire_sio. The golden messages are what the real
 * @socket.io/redis-adapter 8.3.0 and @socket.io/redis-emitter 5.1.0 PUBLISHed to a real
 * redis-server, captured with PSUBSCRIBE * by tests/unit/cluster/gen_wire_vectors.mjs
 * (one run pasted; uids and request ids are that run's random ones).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cluster/clu_wire_sio.h"

/* ---- captured from Node (hex = msgpack, text = JSON) ---------------------------- */

/* io.emit("hi", 1) from adapter uid S8pM8Z, on socket.io#/# */
#define V_BCAST_ALL                                                                                \
    "93a65338704d385a83a47479706502a46461746192a2686901a36e7370a12f83a5726f6f6d7390a66578636570"   \
    "7490a5666c61677380"
/* io.to("room1").emit("hi", 1), on socket.io#/#room1# */
#define V_BCAST_ROOM                                                                               \
    "93a65338704d385a83a47479706502a46461746192a2686901a36e7370a12f83a5726f6f6d7391a5726f6f6d31"   \
    "a665786365707490a5666c61677380"
/* io.to(["r1","r2"]).except("r3").emit("ev", {a:1}, "x", [1.5,-2], null, true) */
#define V_BCAST_ROOMS_EXCEPT                                                                       \
    "93a65338704d385a83a47479706502a46461746196a2657681a16101a17892cb3ff8000000000000fec0c3a36e"   \
    "7370a12f83a5726f6f6d7392a27231a27232a665786365707491a27233a5666c61677380"
/* io.volatile.compress(false).emit("v", Buffer.from([1,2,3])) */
#define V_BCAST_VOLATILE_BIN                                                                       \
    "93a65338704d385a83a47479706502a46461746192a176c403010203a36e7370a12f83a5726f6f6d7390a66578"   \
    "636570749"                                                                                    \
    "0a5666c61677382a8766f6c6174696c65c3a8636f6d7072657373c2"
/* io.of("/admin").emit("a", "é😀") from adapter uid poA0OB, on socket.io#/admin# */
#define V_BCAST_ADMIN_UTF8                                                                         \
    "93a6706f41304f4283a47479706502a46461746192a161a6c3a9f09f9880a36e7370a62f61646d696e83a5726f"   \
    "6f6d7390a665786365707490a5666c61677380"
/* io.timeout(1000).emit("ack-me", 7, cb): request on socket.io-request#/# */
#define V_BCAST_ACK_REQ                                                                            \
    "85a3756964a65338704d385aa9726571756573744964a6587a7062456da47479706507a67061636b657483a474"   \
    "79706502a46461746192a661636b2d6d6507a36e7370a12fa46f70747383a5726f6f6d7390a66578636570749"    \
    "0a5666c61677381a774696d656f7574cd03e8"
#define V_BCAST_ACK_COUNT "{\"type\":8,\"requestId\":\"XzpbEm\",\"clientCount\":1}"
/* the client's ack({pong: 7, bin: Buffer.from([9, 8])}) relayed by the other node */
#define V_BCAST_ACK_RESP                                                                           \
    "83a47479706509a9726571756573744964a6587a7062456da67061636b657482a4706f6e6707a362696ec40209"   \
    "08"
/* socket.to("room1").emit("s", true) from a server socket, adapter uid AnLAEq */
#define V_SOCK_TO_ROOM                                                                             \
    "93a6416e4c41457183a47479706502a46461746192a173c3a36e7370a12f83a5726f6f6d7391a5726f6f6d31a6"   \
    "65786365707491b451393563765469486c516a6a3139344f41414141a5666c61677380"
#define V_FETCH_REQ                                                                                \
    "{\"uid\":\"S8pM8Z\",\"requestId\":\"NLBd56\",\"type\":5,\"opts\":{\"rooms\":[\"room1\"],"     \
    "\"except\":[]}}"
#define V_FETCH_HANDSHAKE                                                                          \
    "{\"headers\":{\"sec-websocket-version\":\"13\",\"sec-websocket-key\":\"hd8xt933LLLkJEpunboWL" \
    "w==\",\"connection\":\"Upgrade\",\"upgrade\":\"websocket\",\"sec-websocket-extensions\":\""   \
    "permessage-deflate; client_max_window_bits\",\"host\":\"127.0.0.1:42217\"},\"time\":\"Fri "   \
    "Nov 27 2026 02:44:20 GMT+0000 (Coordinated Universal Time)\",\"address\":\"127.0.0.1\",\"x"   \
    "domain\":false,\"secure\":false,\"issued\":1795747460005,\"url\":\"/socket.io/?EIO=4&transp"  \
    "ort=websocket\",\"query\":{\"EIO\":\"4\",\"transport\":\"websocket\"},\"auth\":{}}"
#define V_FETCH_RESP                                                                               \
    "{\"requestId\":\"NLBd56\",\"sockets\":[{\"id\":\"Q95cvTiHlQjj194OAAAA\","                     \
    "\"handshake\":" V_FETCH_HANDSHAKE                                                             \
    ",\"rooms\":[\"Q95cvTiHlQjj194OAAAA\",\"room1\",\"r1\"],\"data\":{\"user\""                    \
    ":\"u1\"}}]}"
#define V_ALL_ROOMS_REQ "{\"uid\":\"S8pM8Z\",\"requestId\":\"9M64AV\",\"type\":1}"
#define V_ALL_ROOMS_RESP                                                                           \
    "{\"requestId\":\"9M64AV\",\"rooms\":[\"Q95cvTiHlQjj194OAAAA\",\"room1\",\"r1\"]}"
#define V_JOIN                                                                                     \
    "{\"uid\":\"S8pM8Z\",\"type\":2,\"opts\":{\"rooms\":[],\"except\":[]},\"rooms\":[\"room9\"]}"
#define V_LEAVE                                                                                    \
    "{\"uid\":\"S8pM8Z\",\"type\":3,\"opts\":{\"rooms\":[\"room1\"],\"except\":[]},\"rooms\":["    \
    "\"room9\"]}"
#define V_DISCONNECT                                                                               \
    "{\"uid\":\"S8pM8Z\",\"type\":4,\"opts\":{\"rooms\":[],\"except\":[\"nobody\"]},\"close\":"    \
    "false}"
#define V_SSE "{\"uid\":\"S8pM8Z\",\"type\":6,\"data\":[\"sse\",1,{\"a\":2}]}"
#define V_SSE_ACK_REQ                                                                              \
    "{\"uid\":\"S8pM8Z\",\"requestId\":\"xhWjJv\",\"type\":6,\"data\":[\"sse-ack\",5]}"
#define V_SSE_ACK_RESP "{\"type\":6,\"requestId\":\"xhWjJv\",\"data\":{\"got\":5}}"
/* emitter.emit("e", 1) */
#define V_EM_ALL                                                                                   \
    "93a7656d697474657283a47479706502a46461746192a16501a36e7370a12f83a5726f6f6d7390a5666c61677"    \
    "380a665786365707490"
/* emitter.to("r1").to("r2").except("r3").volatile.emit("e", "x") */
#define V_EM_ROOMS_EXCEPT_VOLATILE                                                                 \
    "93a7656d697474657283a47479706502a46461746192a165a178a36e7370a12f83a5726f6f6d7392a27231a27"    \
    "232a5666c61677381a8766f6c6174696c65c3a665786365707491a27233"
/* emitter.of("admin").emit("e", 2.5, -7) */
#define V_EM_ADMIN                                                                                 \
    "93a7656d697474657283a47479706502a46461746193a165cb4004000000000000f9a36e7370a62f61646d696"    \
    "e83a5726f6f6d7390a5666c61677380a665786365707490"
#define V_EM_JOIN                                                                                  \
    "{\"type\":2,\"opts\":{\"rooms\":[\"room1\"],\"except\":[]},\"rooms\":[\"a\",\"b\"]}"
#define V_EM_DISCONNECT "{\"type\":4,\"opts\":{\"rooms\":[],\"except\":[\"room1\"]},\"close\":true}"
#define V_EM_SSE "{\"uid\":\"emitter\",\"type\":6,\"data\":[\"hello\",{\"n\":1}]}"

/* ---- helpers ----------------------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1]; p += 2) {
        unsigned v;
        cr_assert_eq(sscanf(p, "%2x", &v), 1);
        cr_assert_lt(n, cap);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static slice_t hexs(const char *hex)
{
    static uint8_t pool[8][1024];
    static int next;
    uint8_t *b = pool[next++ % 8];
    return slice_make(b, unhex(hex, b, 1024));
}

static void expect_bytes(buf_t *b, slice_t want)
{
    cr_assert(slice_eq(buf_slice(b), want),
              "encoding differs from Node's (got %zu bytes, want %zu)", b->len, want.len);
}

static void expect_text(buf_t *b, const char *want)
{
    cr_assert(slice_eq_cstr(buf_slice(b), want), "got   %.*s\nwant  %s", (int)b->len,
              (const char *)buf_data(b), want);
}

#define ROOMS(...) ((const slice_t[]){__VA_ARGS__})
#define N(...) (sizeof((const slice_t[]){__VA_ARGS__}) / sizeof(slice_t))

/* ---- channels ----------------------------------------------------------------------- */

Test(clu_wire_sio, channels, .timeout = 5)
{
    buf_t b = BUF_INIT;
    slice_t room = SLICE_LIT("room1"), uid = SLICE_LIT("S8pM8Z");
    clu_wire_sio_bcast_channel(&b, SLICE_LIT("socket.io"), SLICE_LIT("/"), NULL);
    expect_text(&b, "socket.io#/#");
    buf_clear(&b);
    clu_wire_sio_bcast_channel(&b, SLICE_LIT("socket.io"), SLICE_LIT("/"), &room);
    expect_text(&b, "socket.io#/#room1#");
    buf_clear(&b);
    clu_wire_sio_request_channel(&b, SLICE_LIT("socket.io"), SLICE_LIT("/admin"));
    expect_text(&b, "socket.io-request#/admin#");
    buf_clear(&b);
    clu_wire_sio_response_channel(&b, SLICE_LIT("socket.io"), SLICE_LIT("/"), NULL);
    expect_text(&b, "socket.io-response#/#");
    buf_clear(&b);
    clu_wire_sio_response_channel(&b, SLICE_LIT("socket.io"), SLICE_LIT("/"), &uid);
    expect_text(&b, "socket.io-response#/#S8pM8Z#");
    buf_clear(&b);
    clu_wire_sio_bcast_pattern(&b, SLICE_LIT("socket.io"), SLICE_LIT("/"));
    expect_text(&b, "socket.io#/#*");
    buf_clear(&b);
    clu_wire_sio_bcast_pattern(&b, SLICE_LIT("k*"), SLICE_LIT("/a?[b]\\"));
    expect_text(&b, "k\\*#/a\\?\\[b\\]\\\\#*");
    buf_dispose(&b);
}

Test(clu_wire_sio, parse_channel_like_node, .timeout = 5)
{
    slice_t key = SLICE_LIT("socket.io"), nsp = SLICE_LIT("/"), room = {0};
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/#"), key, nsp, &room), 0);
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/#room1#"), key, nsp, &room),
                 1);
    cr_assert(slice_eq_cstr(room, "room1"));
    /* the reference drops the last byte whatever it is: "#/#ab" names room "a", "#/#x" none */
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/#ab"), key, nsp, &room), 1);
    cr_assert(slice_eq_cstr(room, "a"));
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/#x"), key, nsp, &room), 0);
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/admin#"), key, nsp, &room),
                 -1);
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/"), key, nsp, &room), -1);
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("other#/#r#"), key, nsp, &room), -1);
    cr_assert_eq(clu_wire_sio_parse_bcast_channel(SLICE_LIT("socket.io#/admin#r#"), key,
                                                  SLICE_LIT("/admin"), &room),
                 1);
}

/* ---- broadcast encoding: byte-identical to the Node adapter ------------------------- */

Test(clu_wire_sio, encode_broadcast_matches_node, .timeout = 5)
{
    static const slice_t bin = SLICE_LIT("\x01\x02\x03");
    struct {
        const char *hex, *uid, *nsp, *name, *args;
        const slice_t *rooms;
        size_t nr;
        const slice_t *except;
        size_t ne;
        clu_sio_flags_t flags;
        size_t nbins;
    } t[] = {
        {V_BCAST_ALL, "S8pM8Z", "/", "hi", "1", NULL, 0, NULL, 0, CLU_SIO_FLAGS_NONE, 0},
        {V_BCAST_ROOM, "S8pM8Z", "/", "hi", "1", ROOMS(SLICE_LIT("room1")), 1, NULL, 0,
         CLU_SIO_FLAGS_NONE, 0},
        {V_BCAST_ROOMS_EXCEPT, "S8pM8Z", "/", "ev", "{\"a\":1},\"x\",[1.5,-2],null,true",
         ROOMS(SLICE_LIT("r1"), SLICE_LIT("r2")), 2, ROOMS(SLICE_LIT("r3")), 1, CLU_SIO_FLAGS_NONE,
         0},
        {V_BCAST_VOLATILE_BIN,
         "S8pM8Z",
         "/",
         "v",
         "{\"_placeholder\":true,\"num\":0}",
         NULL,
         0,
         NULL,
         0,
         {true, false, 0, false, 0},
         1},
        {V_BCAST_ADMIN_UTF8, "poA0OB", "/admin", "a", "\"\xc3\xa9\\ud83d\\ude00\"", NULL, 0, NULL,
         0, CLU_SIO_FLAGS_NONE, 0},
        {V_SOCK_TO_ROOM, "AnLAEq", "/", "s", "true", ROOMS(SLICE_LIT("room1")), 1,
         ROOMS(SLICE_LIT("Q95cvTiHlQjj194OAAAA")), 1, CLU_SIO_FLAGS_NONE, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t b = BUF_INIT;
        const char *err = NULL;
        clu_sio_event_t ev = {slice_from_cstr(t[i].nsp), slice_from_cstr(t[i].name),
                              slice_from_cstr(t[i].args), &bin, t[i].nbins};
        clu_sio_target_t tg = {t[i].rooms, t[i].nr, t[i].except, t[i].ne, t[i].flags};
        cr_assert_eq(clu_wire_sio_encode_broadcast(&b, slice_from_cstr(t[i].uid), &ev, &tg, &err),
                     0, "row %zu: %s", i, err);
        expect_bytes(&b, hexs(t[i].hex));
        buf_dispose(&b);
    }
}

Test(clu_wire_sio, encode_broadcast_rejects_bad_args, .timeout = 5)
{
    buf_t b = BUF_INIT;
    const char *err = NULL;
    clu_sio_target_t tg = {NULL, 0, NULL, 0, CLU_SIO_FLAGS_NONE};
    clu_sio_event_t ev = {SLICE_LIT("/"), SLICE_LIT("x"), SLICE_LIT("1,"), NULL, 0};
    cr_assert_eq(clu_wire_sio_encode_broadcast(&b, SLICE_LIT("u"), &ev, &tg, &err), -1);
    slice_t bin = SLICE_LIT("z");
    ev.args = SLICE_LIT("{\"_placeholder\":true,\"num\":1}");
    ev.bins = &bin;
    ev.nbins = 1;
    buf_clear(&b);
    cr_assert_eq(clu_wire_sio_encode_broadcast(&b, SLICE_LIT("u"), &ev, &tg, &err), -1);
    cr_assert_str_eq(err, "msgpack: illegal attachments");
    /* without attachments a placeholder-looking object is plain data */
    ev.nbins = 0;
    buf_clear(&b);
    cr_assert_eq(clu_wire_sio_encode_broadcast(&b, SLICE_LIT("u"), &ev, &tg, &err), 0);
    buf_dispose(&b);
}

/* ---- broadcast decoding: adapter and emitter key orders ----------------------------- */

typedef struct {
    const char *hex, *uid, *nsp, *name, *args;
    size_t nrooms, nexcept;
    const char *room0, *except0;
    bool is_volatile;
    int compress;
    size_t nbins;
} bcast_case_t;

static void check_bcast(const bcast_case_t *c)
{
    clu_sio_bcast_t m;
    const char *err = NULL;
    slice_t msg = hexs(c->hex);
    cr_assert_eq(clu_wire_sio_decode_broadcast(msg, &m, &err), 0, "%s: %s", c->hex, err);
    cr_assert(slice_eq_cstr(m.uid, c->uid));
    cr_assert(slice_eq_cstr(m.nsp, c->nsp));
    cr_assert_eq(m.type, 2);
    cr_assert(!m.has_id);
    buf_t scratch = BUF_INIT, args = BUF_INIT, rs = BUF_INIT;
    slice_t name, bins[4], rooms[8], except[8];
    msgpack_bins_t mb = {bins, 4, 0};
    size_t nargs, nr, ne;
    cr_assert_eq(clu_wire_val_event(m.data, &scratch, &name, &args, &mb, &nargs, &err), 0, "%s",
                 err);
    cr_assert(slice_eq_cstr(name, c->name));
    expect_text(&args, c->args);
    cr_assert_eq(mb.n, c->nbins);
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 8, &nr, &rs, &err), 0);
    cr_assert_eq(clu_wire_val_strings(m.except, except, 8, &ne, &rs, &err), 0);
    cr_assert_eq(nr, c->nrooms);
    cr_assert_eq(ne, c->nexcept);
    if (nr)
        cr_assert(slice_eq_cstr(rooms[0], c->room0));
    if (ne)
        cr_assert(slice_eq_cstr(except[0], c->except0));
    cr_assert_eq(m.flags.is_volatile, c->is_volatile);
    cr_assert_eq(m.flags.compress, c->compress);
    buf_dispose(&scratch);
    buf_dispose(&args);
    buf_dispose(&rs);
}

Test(clu_wire_sio, decode_broadcast_adapter_and_emitter, .timeout = 5)
{
    static const bcast_case_t t[] = {
        {V_BCAST_ALL, "S8pM8Z", "/", "hi", "1", 0, 0, NULL, NULL, false, -1, 0},
        {V_BCAST_ROOM, "S8pM8Z", "/", "hi", "1", 1, 0, "room1", NULL, false, -1, 0},
        {V_BCAST_ROOMS_EXCEPT, "S8pM8Z", "/", "ev", "{\"a\":1},\"x\",[1.5,-2],null,true", 2, 1,
         "r1", "r3", false, -1, 0},
        {V_BCAST_VOLATILE_BIN, "S8pM8Z", "/", "v", "{\"_placeholder\":true,\"num\":0}", 0, 0, NULL,
         NULL, true, 0, 1},
        {V_BCAST_ADMIN_UTF8, "poA0OB", "/admin", "a", "\"\xc3\xa9\xf0\x9f\x98\x80\"", 0, 0, NULL,
         NULL, false, -1, 0},
        {V_SOCK_TO_ROOM, "AnLAEq", "/", "s", "true", 1, 1, "room1", "Q95cvTiHlQjj194OAAAA", false,
         -1, 0},
        {V_EM_ALL, "emitter", "/", "e", "1", 0, 0, NULL, NULL, false, -1, 0},
        {V_EM_ROOMS_EXCEPT_VOLATILE, "emitter", "/", "e", "\"x\"", 2, 1, "r1", "r3", true, -1, 0},
        {V_EM_ADMIN, "emitter", "/admin", "e", "2.5,-7", 0, 0, NULL, NULL, false, -1, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check_bcast(&t[i]);
}

/* decode -> sioc form -> encode gives the Node bytes back */
Test(clu_wire_sio, broadcast_roundtrip, .timeout = 5)
{
    const char *vec[] = {V_BCAST_ROOMS_EXCEPT, V_BCAST_VOLATILE_BIN, V_BCAST_ADMIN_UTF8,
                         V_SOCK_TO_ROOM};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        slice_t msg = hexs(vec[i]);
        clu_sio_bcast_t m;
        cr_assert_eq(clu_wire_sio_decode_broadcast(msg, &m, NULL), 0);
        buf_t scratch = BUF_INIT, args = BUF_INIT, rs = BUF_INIT, out = BUF_INIT;
        slice_t name, bins[4], rooms[8], except[8];
        msgpack_bins_t mb = {bins, 4, 0};
        size_t nargs, nr, ne;
        cr_assert_eq(clu_wire_val_event(m.data, &scratch, &name, &args, &mb, &nargs, NULL), 0);
        cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 8, &nr, &rs, NULL), 0);
        cr_assert_eq(clu_wire_val_strings(m.except, except, 8, &ne, &rs, NULL), 0);
        clu_sio_event_t ev = {m.nsp, name, buf_slice(&args), bins, mb.n};
        clu_sio_target_t tg = {rooms, nr, except, ne, m.flags};
        cr_assert_eq(clu_wire_sio_encode_broadcast(&out, m.uid, &ev, &tg, NULL), 0);
        expect_bytes(&out, msg);
        buf_dispose(&scratch);
        buf_dispose(&args);
        buf_dispose(&rs);
        buf_dispose(&out);
    }
}

Test(clu_wire_sio, decode_broadcast_rejects_malformed, .timeout = 5)
{
    clu_sio_bcast_t m;
    const char *err = NULL;
    slice_t good = hexs(V_BCAST_ROOMS_EXCEPT);
    for (size_t k = 0; k < good.len; k++)
        cr_assert_eq(clu_wire_sio_decode_broadcast(slice_make(good.ptr, k), &m, &err), -1,
                     "prefix %zu", k);
    /* trailing bytes, as notepack refuses them */
    uint8_t more[256];
    memcpy(more, good.ptr, good.len);
    more[good.len] = 0xc0;
    cr_assert_eq(clu_wire_sio_decode_broadcast(slice_make(more, good.len + 1), &m, &err), -1);
    /* [uid, packet] without opts; uid not a string; packet without data; nsp not a string;
     * rooms not an array */
    const char *bad[] = {
        "92a17581a46461746191a161",
        "9301 81a46461746191a161 80",
        "93a175 81a474797065 02 80",
        "93a175 82a46461746191a161a36e737001 80",
        "93a175 81a46461746191a161 81a5726f6f6d73a172",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char compact[128];
        size_t n = 0;
        for (const char *p = bad[i]; *p; p++)
            if (*p != ' ')
                compact[n++] = *p;
        compact[n] = 0;
        cr_assert_eq(clu_wire_sio_decode_broadcast(hexs(compact), &m, &err), -1, "bad[%zu]", i);
    }
    /* nsp absent -> "/", rooms absent -> none */
    cr_assert_eq(clu_wire_sio_decode_broadcast(hexs("93a17581a46461746191a16180"), &m, &err), 0);
    cr_assert(slice_eq_cstr(m.nsp, "/"));
    cr_assert(!clu_wire_val_present(m.rooms));
}

/* ---- requests and responses -------------------------------------------------------- */

Test(clu_wire_sio, encode_requests_match_node, .timeout = 5)
{
    buf_t b = BUF_INIT;
    slice_t uid = SLICE_LIT("S8pM8Z");
    clu_sio_target_t none = {NULL, 0, NULL, 0, CLU_SIO_FLAGS_NONE};
    clu_sio_target_t in_room1 = {ROOMS(SLICE_LIT("room1")), 1, NULL, 0, CLU_SIO_FLAGS_NONE};
    clu_sio_target_t except_nobody = {NULL, 0, ROOMS(SLICE_LIT("nobody")), 1, CLU_SIO_FLAGS_NONE};

    clu_wire_sio_encode_fetch_req(&b, uid, SLICE_LIT("NLBd56"), &in_room1);
    expect_text(&b, V_FETCH_REQ);
    buf_clear(&b);
    clu_wire_sio_encode_all_rooms_req(&b, uid, SLICE_LIT("9M64AV"));
    expect_text(&b, V_ALL_ROOMS_REQ);
    buf_clear(&b);
    clu_wire_sio_encode_rooms_req(&b, uid, CLU_SIO_REQ_REMOTE_JOIN, &none,
                                  ROOMS(SLICE_LIT("room9")), 1);
    expect_text(&b, V_JOIN);
    buf_clear(&b);
    clu_wire_sio_encode_rooms_req(&b, uid, CLU_SIO_REQ_REMOTE_LEAVE, &in_room1,
                                  ROOMS(SLICE_LIT("room9")), 1);
    expect_text(&b, V_LEAVE);
    buf_clear(&b);
    clu_wire_sio_encode_disconnect_req(&b, uid, &except_nobody, false);
    expect_text(&b, V_DISCONNECT);
    buf_clear(&b);
    clu_wire_sio_encode_sse_req(&b, uid, NULL, SLICE_LIT("sse"), SLICE_LIT("1,{\"a\":2}"));
    expect_text(&b, V_SSE);
    buf_clear(&b);
    slice_t rid = SLICE_LIT("xhWjJv");
    clu_wire_sio_encode_sse_req(&b, uid, &rid, SLICE_LIT("sse-ack"), SLICE_LIT("5"));
    expect_text(&b, V_SSE_ACK_REQ);
    buf_clear(&b);
    clu_sio_event_t ev = {SLICE_LIT("/"), SLICE_LIT("ack-me"), SLICE_LIT("7"), NULL, 0};
    clu_sio_target_t timed = none;
    timed.flags.has_timeout = true;
    timed.flags.timeout = 1000;
    cr_assert_eq(clu_wire_sio_encode_bcast_ack_req(&b, uid, SLICE_LIT("XzpbEm"), &ev, &timed, NULL),
                 0);
    expect_bytes(&b, hexs(V_BCAST_ACK_REQ));
    buf_dispose(&b);
}

Test(clu_wire_sio, encode_responses_match_node, .timeout = 5)
{
    buf_t b = BUF_INIT;
    clu_wire_sio_encode_client_count_resp(&b, SLICE_LIT("XzpbEm"), 1);
    expect_text(&b, V_BCAST_ACK_COUNT);
    buf_clear(&b);
    slice_t bin = SLICE_LIT("\x09\x08");
    cr_assert_eq(
        clu_wire_sio_encode_ack_resp(&b, SLICE_LIT("XzpbEm"),
                                     SLICE_LIT("{\"pong\":7,\"bin\":{\"_placeholder\":true,"
                                               "\"num\":0}}"),
                                     &bin, 1, NULL),
        0);
    expect_bytes(&b, hexs(V_BCAST_ACK_RESP));
    buf_clear(&b);
    clu_wire_sio_encode_sse_resp(&b, SLICE_LIT("xhWjJv"), SLICE_LIT("{\"got\":5}"));
    expect_text(&b, V_SSE_ACK_RESP);
    buf_clear(&b);
    slice_t rooms[] = {SLICE_LIT("Q95cvTiHlQjj194OAAAA"), SLICE_LIT("room1"), SLICE_LIT("r1")};
    clu_wire_sio_encode_all_rooms_resp(&b, SLICE_LIT("9M64AV"), rooms, 3);
    expect_text(&b, V_ALL_ROOMS_RESP);
    buf_clear(&b);
    clu_wire_sio_encode_fetch_resp_begin(&b, SLICE_LIT("NLBd56"));
    clu_wire_sio_encode_fetch_resp_socket(&b, true, rooms[0], SLICE_LIT(V_FETCH_HANDSHAKE), rooms,
                                          3, SLICE_LIT("{\"user\":\"u1\"}"));
    clu_wire_sio_encode_fetch_resp_end(&b);
    expect_text(&b, V_FETCH_RESP);
    buf_clear(&b);
    /* an ack without argument leaves `packet` out, as notepack drops undefined members */
    cr_assert_eq(clu_wire_sio_encode_ack_resp(&b, SLICE_LIT("r"), SLICE_LIT(""), NULL, 0, NULL), 0);
    expect_bytes(&b, hexs("82a47479706509a9726571756573744964a172"));
    buf_dispose(&b);
}

Test(clu_wire_sio, decode_requests, .timeout = 5)
{
    clu_sio_msg_t m;
    const char *err = NULL;
    buf_t scratch = BUF_INIT;
    slice_t s, rooms[8];
    size_t n;
    bool b;
    int64_t i;

    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_LEAVE), &m, &err), 0, "%s", err);
    cr_assert_eq(m.fmt, CLU_WIRE_JSON);
    cr_assert_eq(m.type, CLU_SIO_REQ_REMOTE_LEAVE);
    cr_assert_eq(clu_wire_val_str(m.uid, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "S8pM8Z"));
    clu_wire_val_t opts_rooms;
    cr_assert_eq(clu_wire_val_get(m.opts, "rooms", &opts_rooms), 1);
    cr_assert_eq(clu_wire_val_strings(opts_rooms, rooms, 8, &n, &scratch, &err), 0);
    cr_assert(n == 1 && slice_eq_cstr(rooms[0], "room1"));
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 8, &n, &scratch, &err), 0);
    cr_assert(n == 1 && slice_eq_cstr(rooms[0], "room9"));

    /* the emitter's requests carry no uid */
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_EM_JOIN), &m, &err), 0);
    cr_assert_eq(m.type, CLU_SIO_REQ_REMOTE_JOIN);
    cr_assert(!clu_wire_val_present(m.uid));
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 8, &n, &scratch, &err), 0);
    cr_assert(n == 2 && slice_eq_cstr(rooms[1], "b"));
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_EM_DISCONNECT), &m, &err), 0);
    cr_assert(clu_wire_val_bool(m.close, &b) && b);
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_DISCONNECT), &m, &err), 0);
    cr_assert(clu_wire_val_bool(m.close, &b) && !b);

    /* serverSideEmit, with and without ack */
    buf_t args = BUF_INIT;
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_EM_SSE), &m, &err), 0);
    cr_assert_eq(m.type, CLU_SIO_REQ_SERVER_SIDE_EMIT);
    cr_assert(!clu_wire_val_present(m.request_id));
    cr_assert_eq(clu_wire_val_event(m.data, &scratch, &s, &args, NULL, &n, &err), 0);
    cr_assert(slice_eq_cstr(s, "hello") && n == 1);
    expect_text(&args, "{\"n\":1}");
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_SSE_ACK_REQ), &m, &err), 0);
    cr_assert_eq(clu_wire_val_str(m.request_id, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "xhWjJv"));

    /* the msgpack broadcast-with-ack request and its two responses */
    cr_assert_eq(clu_wire_sio_decode_msg(hexs(V_BCAST_ACK_REQ), &m, &err), 0);
    cr_assert_eq(m.fmt, CLU_WIRE_MSGPACK);
    cr_assert_eq(m.type, CLU_SIO_REQ_BROADCAST);
    clu_wire_val_t data, flags;
    cr_assert_eq(clu_wire_val_get(m.packet, "data", &data), 1);
    buf_clear(&args);
    slice_t bins[2];
    msgpack_bins_t mb = {bins, 2, 0};
    cr_assert_eq(clu_wire_val_event(data, &scratch, &s, &args, &mb, &n, &err), 0);
    cr_assert(slice_eq_cstr(s, "ack-me"));
    expect_text(&args, "7");
    cr_assert_eq(clu_wire_val_get(m.opts, "flags", &flags), 1);
    clu_sio_flags_t f;
    clu_wire_sio_flags(flags, &f);
    cr_assert(f.has_timeout && f.timeout == 1000);

    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_BCAST_ACK_COUNT), &m, &err), 0);
    cr_assert_eq(m.type, CLU_SIO_REQ_BROADCAST_CLIENT_COUNT);
    cr_assert(clu_wire_val_i64(m.client_count, &i) && i == 1);
    cr_assert_eq(clu_wire_sio_decode_msg(hexs(V_BCAST_ACK_RESP), &m, &err), 0);
    cr_assert_eq(m.type, CLU_SIO_REQ_BROADCAST_ACK);
    buf_clear(&args);
    mb.n = 0;
    cr_assert_eq(clu_wire_val_to_json(m.packet, &args, &mb, &err), 0);
    expect_text(&args, "{\"pong\":7,\"bin\":{\"_placeholder\":true,\"num\":0}}");
    cr_assert(mb.n == 1 && slice_eq(bins[0], SLICE_LIT("\x09\x08")));

    /* fetchSockets response: walk the sockets */
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_FETCH_RESP), &m, &err), 0);
    cr_assert_eq(m.type, -1);
    cr_assert_eq(clu_wire_val_len(m.sockets, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(V_ALL_ROOMS_RESP), &m, &err), 0);
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 8, &n, &scratch, &err), 0);
    cr_assert(n == 3 && slice_eq_cstr(rooms[2], "r1"));
    buf_dispose(&args);
    buf_dispose(&scratch);
}

Test(clu_wire_sio, values_either_format, .timeout = 5)
{
    buf_t scratch = BUF_INIT;
    slice_t rooms[4], s;
    size_t n;
    const char *err = NULL;
    clu_sio_msg_t m;
    /* escapes, numbers (JS keys them by String(n)), duplicate keys (last wins) */
    cr_assert_eq(
        clu_wire_sio_decode_msg(SLICE_LIT("{\"type\":2,\"rooms\":[\"a\\u00e9\",1,1.5,\"b\"],"
                                          "\"type\":3,\"\\u0075id\":\"x\\\"y\"}"),
                                &m, &err),
        0, "%s", err);
    cr_assert_eq(m.type, 3);
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 4, &n, &scratch, &err), 0, "%s", err);
    cr_assert_eq(n, 4);
    cr_assert(slice_eq_cstr(rooms[0], "a\xc3\xa9"));
    cr_assert(slice_eq_cstr(rooms[1], "1"));
    cr_assert(slice_eq_cstr(rooms[2], "1.5"));
    cr_assert(slice_eq_cstr(rooms[3], "b"));
    cr_assert_eq(clu_wire_val_strings(m.rooms, rooms, 3, &n, &scratch, &err), -1, "cap");
    cr_assert_eq(clu_wire_val_str(m.uid, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "x\"y"));
    /* msgpack numeric rooms, and non-string rooms refused */
    clu_wire_val_t mv = {CLU_WIRE_MSGPACK, SLICE_LIT("\x93\x07\xa1z\xff")};
    cr_assert_eq(clu_wire_val_strings(mv, rooms, 4, &n, &scratch, &err), 0);
    cr_assert(n == 3 && slice_eq_cstr(rooms[0], "7") && slice_eq_cstr(rooms[1], "z") &&
              slice_eq_cstr(rooms[2], "-1"));
    clu_wire_val_t badv = {CLU_WIRE_MSGPACK, SLICE_LIT("\x91\xc3")};
    cr_assert_eq(clu_wire_val_strings(badv, rooms, 4, &n, &scratch, &err), -1);
    /* nullish */
    cr_assert(
        clu_wire_val_is_nullish((clu_wire_val_t){CLU_WIRE_MSGPACK, SLICE_LIT("\xd4\x00\x00")}));
    cr_assert(clu_wire_val_is_nullish((clu_wire_val_t){CLU_WIRE_JSON, SLICE_LIT("null")}));
    cr_assert(!clu_wire_val_is_nullish((clu_wire_val_t){CLU_WIRE_JSON, SLICE_LIT("0")}));
    /* not objects / not JSON at all */
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT("{\"type\":1"), &m, &err), -1);
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT("[1]"), &m, &err), -1);
    cr_assert_eq(clu_wire_sio_decode_msg(SLICE_LIT(""), &m, &err), -1);
    cr_assert_eq(clu_wire_sio_decode_msg(hexs("91a178"), &m, &err), -1);
    buf_dispose(&scratch);
}
