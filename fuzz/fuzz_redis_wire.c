/*
 * Fuzz target for the Redis adapter wire codecs: src/cluster/clu_wire_sio (Node
 * @socket.io/redis-adapter / redis-emitter messages, msgpack and JSON) and
 * src/cluster/clu_wire_py (python-socketio manager JSON messages).
 *
 * Every input goes through every decoder. Checks, beyond "no crash / no sanitizer
 * report":
 *   - a decoded broadcast converts to sioc's form (name, JSON args, binaries), re-encodes,
 *     and the re-encoded message decodes to the same name, args and binaries;
 *   - every member of a decoded request/response can be read with every value helper;
 *   - a decoded python emit re-encodes (Python style) and decodes to the same arguments
 *     (modulo Python formatting, which is a fixed point after one pass);
 *   - clu_wire_py_json output is valid JSON and a fixed point.
 * Then the same input reaches the Redis adapter's receive paths (clu_redis_sio.c,
 * clu_redis_py.c) as a message on each of their channels, on two real servers (one per
 * wire format) whose Redis is a closed port: every answer they publish is dropped, and
 * the loop runs between inputs so deferred completions are freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "cluster/clu_cluster_private.h"
#include "cluster/clu_wire_py.h"
#include "cluster/clu_wire_sio.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define CAP 32

static void poke(clu_wire_val_t v)
{
    buf_t scratch = BUF_INIT, out = BUF_INIT;
    slice_t s, list[CAP], bins[CAP];
    msgpack_bins_t mb = {bins, CAP, 0};
    size_t n;
    int64_t i;
    bool b;
    clu_sio_flags_t f;
    (void)clu_wire_val_is_nullish(v);
    (void)clu_wire_val_i64(v, &i);
    (void)clu_wire_val_bool(v, &b);
    (void)clu_wire_val_str(v, &scratch, &s);
    (void)clu_wire_val_len(v, &n);
    (void)clu_wire_val_strings(v, list, CAP, &n, &scratch, NULL);
    if (clu_wire_val_to_json(v, &out, &mb, NULL) == 0 && v.fmt != CLU_WIRE_NONE)
        CHECK(json_validate(buf_slice(&out), NULL, NULL) == 0);
    buf_clear(&out);
    mb.n = 0;
    (void)clu_wire_val_event(v, &scratch, &s, &out, &mb, &n, NULL);
    clu_wire_sio_flags(v, &f);
    buf_dispose(&scratch);
    buf_dispose(&out);
}

/* Occurrences of the key `"_placeholder"` in a JSON text. */
static size_t placeholder_keys(slice_t js)
{
    static const char key[] = "\"_placeholder\"";
    size_t n = 0;
    for (size_t i = 0; i + sizeof key - 1 <= js.len; i++)
        n += memcmp(js.ptr + i, key, sizeof key - 1) == 0;
    return n;
}

static void sio_broadcast(slice_t in)
{
    clu_sio_bcast_t m, m2;
    if (clu_wire_sio_decode_broadcast(in, &m, NULL) < 0)
        return;
    buf_t scratch = BUF_INIT, args = BUF_INIT, rs = BUF_INIT, enc = BUF_INIT, args2 = BUF_INIT;
    slice_t name, name2, bins[CAP], bins2[CAP], rooms[CAP], except[CAP];
    msgpack_bins_t mb = {bins, CAP, 0}, mb2 = {bins2, CAP, 0};
    size_t nargs, nargs2, nr, ne;
    if (clu_wire_val_event(m.data, &scratch, &name, &args, &mb, &nargs, NULL) < 0 ||
        clu_wire_val_strings(m.rooms, rooms, CAP, &nr, &rs, NULL) < 0 ||
        clu_wire_val_strings(m.except, except, CAP, &ne, &rs, NULL) < 0)
        goto out;
    /* a map with a `_placeholder: true` member of its own turns into a binary on the way
     * back when the event has binaries (as socket.io-parser would): no round trip then */
    if (mb.n > 0 && placeholder_keys(buf_slice(&args)) != mb.n)
        goto out;
    clu_sio_event_t ev = {m.nsp, name, buf_slice(&args), bins, mb.n};
    clu_sio_target_t t = {rooms, nr, except, ne, m.flags};
    CHECK(clu_wire_sio_encode_broadcast(&enc, m.uid, &ev, &t, NULL) == 0);
    CHECK(clu_wire_sio_decode_broadcast(buf_slice(&enc), &m2, NULL) == 0);
    CHECK(slice_eq(m2.uid, m.uid) && slice_eq(m2.nsp, m.nsp));
    buf_clear(&scratch);
    CHECK(clu_wire_val_event(m2.data, &scratch, &name2, &args2, &mb2, &nargs2, NULL) == 0);
    CHECK(slice_eq(name2, name) && nargs2 == nargs && mb2.n == mb.n);
    CHECK(slice_eq(buf_slice(&args2), buf_slice(&args)));
    CHECK(m2.flags.is_volatile == m.flags.is_volatile && m2.flags.compress == m.flags.compress);
out:
    buf_dispose(&scratch);
    buf_dispose(&args);
    buf_dispose(&args2);
    buf_dispose(&rs);
    buf_dispose(&enc);
}

static void sio_msg(slice_t in)
{
    clu_sio_msg_t m;
    if (clu_wire_sio_decode_msg(in, &m, NULL) < 0)
        return;
    clu_wire_val_t all[] = {m.uid,    m.request_id,   m.opts,    m.rooms, m.close, m.data,
                            m.packet, m.client_count, m.sockets, m.sid,   m.room};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        poke(all[i]);
    clu_wire_val_t sub;
    if (clu_wire_val_get(m.opts, "rooms", &sub) == 1)
        poke(sub);
    if (clu_wire_val_get(m.packet, "data", &sub) == 1)
        poke(sub);
}

static void py_msg(slice_t in)
{
    clu_py_msg_t m, m2;
    if (clu_wire_py_decode(in, &m, NULL) < 0)
        return;
    buf_t scratch = BUF_INIT, args = BUF_INIT, att = BUF_INIT, enc = BUF_INIT, args2 = BUF_INIT,
          att2 = BUF_INIT;
    slice_t rooms[CAP], skips[CAP], bins[CAP], bins2[CAP], room, nsp, event = SLICE_LIT("e");
    size_t nr, ns, nargs, nargs2, nbins, nbins2;
    bool all_r, all_s;
    int64_t id;
    (void)clu_wire_py_callback(&m, &scratch, &room, &nsp, &id);
    if (m.method != CLU_PY_EMIT ||
        clu_wire_py_names(m.room, rooms, CAP, &nr, &all_r, &scratch, NULL) < 0 ||
        clu_wire_py_names(m.skip_sid, skips, CAP, &ns, &all_s, &scratch, NULL) < 0 ||
        clu_wire_py_emit_args(&m, &args, &nargs, &att, bins, CAP, &nbins, NULL) < 0)
        goto out;
    (void)clu_wire_val_str(m.event, &scratch, &event);
    clu_py_emit_t e = {.event = event,
                       .args = buf_slice(&args),
                       .bins = bins,
                       .nbins = nbins,
                       .nsp = SLICE_LIT("/"),
                       .room = {rooms, nr, !all_r && nr != 1},
                       .skip_sid = {skips, ns, !all_s && ns != 1},
                       .host_id = SLICE_LIT("h")};
    CHECK(clu_wire_py_encode_emit(&enc, &e, NULL) == 0);
    CHECK(clu_wire_py_decode(buf_slice(&enc), &m2, NULL) == 0);
    CHECK(m2.method == CLU_PY_EMIT);
    CHECK(clu_wire_py_emit_args(&m2, &args2, &nargs2, &att2, bins2, CAP, &nbins2, NULL) == 0);
    CHECK(nargs2 == nargs && nbins2 == nbins);
    for (size_t i = 0; i < nbins; i++)
        CHECK(slice_eq(bins[i], bins2[i]));
out:
    buf_dispose(&scratch);
    buf_dispose(&args);
    buf_dispose(&args2);
    buf_dispose(&att);
    buf_dispose(&att2);
    buf_dispose(&enc);
}

static void py_json(slice_t in)
{
    buf_t a = BUF_INIT, b = BUF_INIT;
    if (clu_wire_py_json(&a, in, NULL) == 0) {
        CHECK(json_validate(buf_slice(&a), NULL, NULL) == 0);
        CHECK(clu_wire_py_json(&b, buf_slice(&a), NULL) == 0);
        CHECK(slice_eq(buf_slice(&a), buf_slice(&b)));
    }
    buf_dispose(&a);
    buf_dispose(&b);
}

/* The two servers (socketio and python-socketio formats), made on first use. */
typedef struct fz_servers {
    sioc_server_t *srv[2];
    clu_cluster_t *cl[2];
} fz_servers_t;

static fz_servers_t *servers(void)
{
    static fz_servers_t fz;
    if (fz.srv[0])
        return &fz;
    log_set_level(LOG_ERROR);
    static const char *const formats[2] = {"socketio", "python-socketio"};
    for (int i = 0; i < 2; i++) {
        /* port 1 on loopback: nothing listens there */
        sioc_config_t c = {.redis_url = "redis://127.0.0.1:1/0",
                           .redis_format = formats[i],
                           .redis_room_channels = true};
        fz.srv[i] = sioc_server_new(NULL, &c);
        CHECK(fz.srv[i] != NULL);
        fz.cl[i] = sioc_of(fz.srv[i], "/")->adapter->cl;
    }
    return &fz;
}

static void adapter_paths(slice_t in)
{
    static const char *const sio_channels[][2] = {
        {"socket.io#/#*", "socket.io#/#"},       {"socket.io#/#*", "socket.io#/#room1#"},
        {"", "socket.io-request#/#"},            {"", "socket.io-response#/#"},
        {"socket.io#/#*", "socket.io#/admin#"},
    };
    static const char *const py_channels[][2] = {
        {"", "socketio"}, {"socketio#*", "socketio#/#room1"}, {"socketio#*", "socketio#/x"}};
    fz_servers_t *fz = servers();
    for (size_t i = 0; i < sizeof sio_channels / sizeof sio_channels[0]; i++)
        fz->cl[0]->fmt->on_message(fz->cl[0], slice_from_cstr(sio_channels[i][0]),
                                   slice_from_cstr(sio_channels[i][1]), in);
    for (size_t i = 0; i < sizeof py_channels / sizeof py_channels[0]; i++)
        fz->cl[1]->fmt->on_message(fz->cl[1], slice_from_cstr(py_channels[i][0]),
                                   slice_from_cstr(py_channels[i][1]), in);
    for (int i = 0; i < 2; i++)
        uv_run(sioc_server_loop(fz->srv[i]), UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice_t in = slice_make(data, size), room, nsp;
    sio_broadcast(in);
    sio_msg(in);
    py_msg(in);
    py_json(in);
    (void)clu_wire_sio_parse_bcast_channel(in, SLICE_LIT("socket.io"), SLICE_LIT("/"), &room);
    (void)clu_wire_py_parse_room_channel(in, SLICE_LIT("socketio"), &nsp, &room);
    adapter_paths(in);
    return 0;
}
