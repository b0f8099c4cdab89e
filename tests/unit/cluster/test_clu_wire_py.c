/*
 * Unit tests for src/cluster/clu_wire_py.
 *
 * The goldens are built from the spec (redis-adapter-protocol.md §5) and python-socketio's
 * async_pubsub_manager.py (5.14.2+: the message dicts and their key order), serialised
 * with CPython 3.11's stdlib json.dumps (Debian /usr/bin/python3), which is what
 * AsyncRedisManager publishes by default. python-socketio itself could not be the oracle:
 * Debian ships 5.7.2, which publishes pickle.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cluster/clu_wire_py.h"

#define HOST "0123456789abcdef0123456789abcdef"

/* json.dumps({'method': 'emit', 'event': 'chat-events', 'data': [{...}], 'binary': False,
 * 'namespace': '/', 'room': 'user:42', 'skip_sid': None, 'callback': None, 'host_id': H}) */
#define G_EMIT                                                                                     \
    "{\"method\": \"emit\", \"event\": \"chat-events\", \"data\": [{\"chat_id\": \"c1\", \"data\"" \
    ": {\"type\": \"status\", \"n\": 1.5, \"big\": 100000000000000000000, \"f\": 1e+16, \"small\"" \
    ": 1e-05, \"neg0\": -0.0, \"txt\": \"\\u00e9\\ud83d\\ude00\\u007f\\\"\\\\\\n\"}}], \"binary\"" \
    ": false, \"namespace\": \"/\", \"room\": \"user:42\", \"skip_sid\": null, \"callback\": null" \
    ", \"host_id\": \"" HOST "\"}"
/* binary emit with a list room, a skip list and a callback (python: callback tuple) */
#define G_EMIT_BIN                                                                                 \
    "{\"method\": \"emit\", \"event\": \"ev\", \"data\": [[1, {\"_placeholder\": true, \"num\": "  \
    "0}"                                                                                           \
    "], \"AQID\"], \"binary\": true, \"namespace\": \"/admin\", \"room\": [\"r1\", \"r2\"], \"ski" \
    "p_sid\": [\"s1\"], \"callback\": [\"sidX\", \"/admin\", 7], \"host_id\": \"h\"}"
#define G_CALLBACK                                                                                 \
    "{\"method\": \"callback\", \"host_id\": \"h\", \"sid\": \"sidX\", \"namespace\": \"/\", "     \
    "\"id\""                                                                                       \
    ": 7, \"args\": [\"ok\", 2]}"
#define G_DISCONNECT                                                                               \
    "{\"method\": \"disconnect\", \"sid\": \"s\", \"namespace\": \"/\", \"host_id\": \"h\"}"
#define G_ENTER                                                                                    \
    "{\"method\": \"enter_room\", \"sid\": \"s\", \"room\": \"r\", \"namespace\": \"/\", "         \
    "\"host_id\""                                                                                  \
    ": \"h\"}"
#define G_LEAVE                                                                                    \
    "{\"method\": \"leave_room\", \"sid\": \"s\", \"room\": \"r\", \"namespace\": \"/\", "         \
    "\"host_id\""                                                                                  \
    ": \"h\"}"
#define G_CLOSE                                                                                    \
    "{\"method\": \"close_room\", \"room\": \"r\", \"namespace\": \"/\", \"host_id\": \"h\"}"

static void expect_text(buf_t *b, const char *want)
{
    cr_assert(slice_eq_cstr(buf_slice(b), want), "got   %.*s\nwant  %s", (int)b->len,
              (const char *)buf_data(b), want);
}

Test(clu_wire_py, encode_emit_like_python, .timeout = 5)
{
    buf_t b = BUF_INIT;
    const char *err = NULL;
    slice_t room = SLICE_LIT("user:42");
    /* sioc args as a Node client would have sent them (compact, JSON.stringify style) */
    clu_py_emit_t e = {
        .event = SLICE_LIT("chat-events"),
        .args = SLICE_LIT("{\"chat_id\":\"c1\",\"data\":{\"type\":\"status\",\"n\":1.5,\"big\":"
                          "100000000000000000000,\"f\":1e16,\"small\":0.00001,\"neg0\":-0.0,"
                          "\"txt\":\"\xc3\xa9\xf0\x9f\x98\x80\x7f\\\"\\\\\\n\"}}"),
        .nsp = SLICE_LIT("/"),
        .room = {&room, 1, false},
        .host_id = SLICE_LIT(HOST),
    };
    cr_assert_eq(clu_wire_py_encode_emit(&b, &e, &err), 0, "%s", err);
    expect_text(&b, G_EMIT);
    buf_dispose(&b);
}

Test(clu_wire_py, encode_binary_emit_with_callback, .timeout = 5)
{
    buf_t b = BUF_INIT;
    slice_t rooms[] = {SLICE_LIT("r1"), SLICE_LIT("r2")}, skip = SLICE_LIT("s1");
    slice_t bin = SLICE_LIT("\x01\x02\x03");
    clu_py_emit_t e = {
        .event = SLICE_LIT("ev"),
        .args = SLICE_LIT("1,{\"_placeholder\":true,\"num\":0}"),
        .bins = &bin,
        .nbins = 1,
        .nsp = SLICE_LIT("/admin"),
        .room = {rooms, 2, true},
        .skip_sid = {&skip, 1, true},
        .has_callback = true,
        .cb_room = SLICE_LIT("sidX"),
        .cb_id = 7,
        .host_id = SLICE_LIT("h"),
    };
    cr_assert_eq(clu_wire_py_encode_emit(&b, &e, NULL), 0);
    expect_text(&b, G_EMIT_BIN);
    buf_dispose(&b);
}

Test(clu_wire_py, encode_other_methods, .timeout = 5)
{
    buf_t b = BUF_INIT;
    slice_t h = SLICE_LIT("h"), s = SLICE_LIT("s"), r = SLICE_LIT("r"), root = SLICE_LIT("/");
    cr_assert_eq(
        clu_wire_py_encode_callback(&b, h, SLICE_LIT("sidX"), root, 7, SLICE_LIT("\"ok\",2"), NULL),
        0);
    expect_text(&b, G_CALLBACK);
    buf_clear(&b);
    clu_wire_py_encode_disconnect(&b, s, root, h);
    expect_text(&b, G_DISCONNECT);
    buf_clear(&b);
    clu_wire_py_encode_room(&b, true, s, r, root, h);
    expect_text(&b, G_ENTER);
    buf_clear(&b);
    clu_wire_py_encode_room(&b, false, s, r, root, h);
    expect_text(&b, G_LEAVE);
    buf_clear(&b);
    clu_wire_py_encode_close_room(&b, r, root, h);
    expect_text(&b, G_CLOSE);
    buf_dispose(&b);
}

/* repr(float) / json.dumps(json.loads(...)) from CPython 3.11 */
Test(clu_wire_py, numbers_like_python, .timeout = 5)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"[1e2, 1E-3, -0, -0.0, 12345678901234567890123, 1.0]",
         "[100.0, 0.001, 0, -0.0, 12345678901234567890123, 1.0]"},
        {"1e15", "1000000000000000.0"},
        {"1e16", "1e+16"},
        {"123.456", "123.456"},
        {"0.0001", "0.0001"},
        {"0.00001", "1e-05"},
        {"1.5e-7", "1.5e-07"},
        {"5e-324", "5e-324"},
        {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"-2.5", "-2.5"},
        {"0.1", "0.1"},
        {"12345678901234567890.0", "1.2345678901234567e+19"},
        {"{\"a\":[],\"b\":{},\"\":\"\"}", "{\"a\": [], \"b\": {}, \"\": \"\"}"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        buf_t b = BUF_INIT;
        cr_assert_eq(clu_wire_py_json(&b, slice_from_cstr(t[i].in), NULL), 0);
        expect_text(&b, t[i].out);
        buf_dispose(&b);
    }
}

Test(clu_wire_py, decode_emit, .timeout = 5)
{
    clu_py_msg_t m;
    const char *err = NULL;
    buf_t scratch = BUF_INIT, args = BUF_INIT, att = BUF_INIT;
    slice_t names[4], bins[2], s;
    size_t n, nargs, nbins;
    bool all;
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_EMIT), &m, &err), 0, "%s", err);
    cr_assert_eq(m.method, CLU_PY_EMIT);
    cr_assert_eq(clu_wire_val_str(m.host_id, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, HOST));
    cr_assert_eq(clu_wire_val_str(m.event, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "chat-events"));
    cr_assert_eq(clu_wire_py_names(m.room, names, 4, &n, &all, &scratch, &err), 0);
    cr_assert(!all && n == 1 && slice_eq_cstr(names[0], "user:42"));
    cr_assert_eq(clu_wire_py_names(m.skip_sid, names, 4, &n, &all, &scratch, &err), 0);
    cr_assert(all && n == 0);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 2, &nbins, &err), 0);
    cr_assert_eq(nargs, 1);
    cr_assert_eq(nbins, 0);
    cr_assert_eq(args.len,
                 strlen("{\"chat_id\": \"c1\", \"data\": {\"type\": \"status\", \"n\": 1.5, "
                        "\"big\": 100000000000000000000, \"f\": 1e+16, \"small\": 1e-05, "
                        "\"neg0\": -0.0, \"txt\": \"\\u00e9\\ud83d\\ude00\\u007f\\\"\\\\\\n\"}}"));
    slice_t room, nsp;
    int64_t id;
    cr_assert_eq(clu_wire_py_callback(&m, &scratch, &room, &nsp, &id), 0);

    /* binary, list room, callback */
    buf_clear(&args);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_EMIT_BIN), &m, &err), 0);
    cr_assert_eq(clu_wire_py_names(m.room, names, 4, &n, &all, &scratch, &err), 0);
    cr_assert(!all && n == 2 && slice_eq_cstr(names[1], "r2"));
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 2, &nbins, &err), 0, "%s",
                 err);
    cr_assert_eq(nargs, 2);
    cr_assert(slice_eq_cstr(buf_slice(&args), "1,{\"_placeholder\": true, \"num\": 0}"));
    cr_assert_eq(nbins, 1);
    cr_assert(slice_eq(bins[0], SLICE_LIT("\x01\x02\x03")));
    cr_assert_eq(clu_wire_py_callback(&m, &scratch, &room, &nsp, &id), 1);
    cr_assert(slice_eq_cstr(room, "sidX") && slice_eq_cstr(nsp, "/admin") && id == 7);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 0, &nbins, &err), -1,
                 "cap 0");
    buf_dispose(&scratch);
    buf_dispose(&args);
    buf_dispose(&att);
}

Test(clu_wire_py, decode_data_shapes, .timeout = 5)
{
    clu_py_msg_t m;
    buf_t args = BUF_INIT, att = BUF_INIT;
    slice_t bins[1];
    size_t nargs, nbins;
    /* a non-list data is one argument (python wraps non-tuples), an empty list is none */
    cr_assert_eq(
        clu_wire_py_decode(SLICE_LIT("{\"method\":\"emit\",\"event\":\"e\",\"data\":{\"a\":1}}"),
                           &m, NULL),
        0);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 1, &nbins, NULL), 0);
    cr_assert(nargs == 1 && slice_eq_cstr(buf_slice(&args), "{\"a\":1}"));
    buf_clear(&args);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"method\":\"emit\",\"data\":[]}"), &m, NULL), 0);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 1, &nbins, NULL), 0);
    cr_assert(nargs == 0 && args.len == 0);
    /* bad base64, missing data */
    cr_assert_eq(
        clu_wire_py_decode(SLICE_LIT("{\"method\":\"emit\",\"binary\":true,\"data\":[[1],\"@@\"]}"),
                           &m, NULL),
        0);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 1, &nbins, NULL), -1);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"method\":\"emit\"}"), &m, NULL), 0);
    cr_assert_eq(clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, 1, &nbins, NULL), -1);
    buf_dispose(&args);
    buf_dispose(&att);
}

Test(clu_wire_py, decode_other_methods, .timeout = 5)
{
    clu_py_msg_t m;
    buf_t scratch = BUF_INIT;
    slice_t s;
    int64_t id;
    const char *err = NULL;
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_CALLBACK), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_CALLBACK);
    cr_assert(clu_wire_val_i64(m.id, &id) && id == 7);
    cr_assert_eq(clu_wire_val_str(m.sid, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "sidX"));
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_DISCONNECT), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_DISCONNECT);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_ENTER), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_ENTER_ROOM);
    cr_assert_eq(clu_wire_val_str(m.room, &scratch, &s), 0);
    cr_assert(slice_eq_cstr(s, "r"));
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_LEAVE), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_LEAVE_ROOM);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT(G_CLOSE), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_CLOSE_ROOM);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"method\":\"call_emit\"}"), &m, NULL), 0);
    cr_assert_eq(m.method, CLU_PY_UNKNOWN);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"method\":1}"), &m, &err), -1);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"host_id\":\"x\"}"), &m, &err), -1);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("[\"emit\"]"), &m, &err), -1);
    cr_assert_eq(clu_wire_py_decode(SLICE_LIT("{\"method\":\"emit\",\"data\":NaN}"), &m, &err), -1,
                 "python's NaN literal is not JSON");
    /* escaped key and method still recognised */
    cr_assert_eq(clu_wire_py_decode(
                     SLICE_LIT("{\"\\u006dethod\":\"\\u0065mit\",\"\\u0072oom\":\"a\"}"), &m, &err),
                 0);
    cr_assert_eq(m.method, CLU_PY_EMIT);
    cr_assert(clu_wire_val_present(m.room));
    buf_dispose(&scratch);
}

Test(clu_wire_py, room_channels_and_host_id, .timeout = 5)
{
    buf_t b = BUF_INIT;
    clu_wire_py_room_channel(&b, SLICE_LIT("socketio"), SLICE_LIT("/"), SLICE_LIT("user:1#x"));
    expect_text(&b, "socketio#/#user:1#x");
    slice_t nsp, room;
    cr_assert_eq(clu_wire_py_parse_room_channel(buf_slice(&b), SLICE_LIT("socketio"), &nsp, &room),
                 0);
    cr_assert(slice_eq_cstr(nsp, "/") && slice_eq_cstr(room, "user:1#x"));
    cr_assert_eq(
        clu_wire_py_parse_room_channel(SLICE_LIT("socketio"), SLICE_LIT("socketio"), &nsp, &room),
        -1);
    cr_assert_eq(
        clu_wire_py_parse_room_channel(SLICE_LIT("socketio#/"), SLICE_LIT("socketio"), &nsp, &room),
        -1);
    buf_clear(&b);
    clu_wire_py_room_pattern(&b, SLICE_LIT("socketio"));
    expect_text(&b, "socketio#*");
    buf_dispose(&b);
    uint8_t rnd[16];
    memset(rnd, 0xff, sizeof rnd);
    char id[33];
    clu_wire_py_host_id(rnd, id);
    cr_assert_str_eq(id, "ffffffffffff4fffbfffffffffffffff");
}
