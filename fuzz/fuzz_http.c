/*
 * libFuzzer target for the HTTP glue (src/http) and, through upgrades, the WebSocket
 * connection layer (src/ws): arbitrary bytes are fed to an in-memory connection in two
 * pieces split at a fuzzed point, on a real uv loop. The request handler answers at
 * once, parks and answers later, or upgrades to a WebSocket, chosen by the input.
 * Checks: no crash, no leak, no sanitizer report; every connection closes when its input
 * ends; a parked request is either answered or aborted exactly once.
 *
 * Input: [mode][split hi][split lo][bytes...]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/http_server.h"
#include "net/net_conn.h"
#include "net/net_loop.h"
#include "ws/ws_conn.h"

typedef struct harness {
    uv_loop_t loop;
    net_loop_t *nl;
    http_server_t *srv;
    ws_config_t wscfg;
    uint8_t mode;
    http_req_t *parked;
    int aborts;
    int ws_closes;
    int ws_opens;
} harness_t;

static harness_t *h;

static void on_msg(ws_conn_t *ws, bool bin, slice_t msg)
{
    if (h->mode & 8)
        ws_close(ws, 1000, SLICE_LIT("bye"));
    else
        ws_send(ws, bin, msg);
}

static void on_ws_close(ws_conn_t *ws, unsigned code, slice_t reason)
{
    (void)ws;
    (void)code;
    (void)reason;
    h->ws_closes++;
}

static const ws_handler_ops_t ws_ops = {.on_message = on_msg, .on_close = on_ws_close};

static void on_abort(http_req_t *req, void *arg)
{
    (void)arg;
    if (req != h->parked)
        abort();
    h->parked = NULL;
    h->aborts++;
}

/* Touches every accessor so the sanitizers see them run on fuzzed requests. */
static void inspect(http_req_t *req)
{
    slice_t v, n;
    uint8_t dec[64];
    size_t len;
    (void)http_req_method(req);
    (void)http_req_path(req);
    (void)http_req_query_string(req);
    (void)http_req_query(req, "sid", &v);
    (void)http_req_query_decoded(req, "EIO", dec, sizeof dec, &len);
    (void)http_req_header(req, "origin", &v);
    (void)http_req_header_has_token(req, "connection", "upgrade");
    for (size_t i = 0; i < http_req_header_count(req); i++)
        http_req_header_at(req, i, &n, &v);
    (void)http_req_body(req);
}

static void on_request(http_req_t *req, void *user)
{
    (void)user;
    inspect(req);
    if (http_req_is_websocket_upgrade(req) && (h->mode & 1)) {
        if (ws_accept(req, &h->wscfg, SLICE_LIT("X-A: b\r\n"), &ws_ops, NULL))
            h->ws_opens++;
        return;
    }
    if ((h->mode & 2) && !h->parked) {
        h->parked = req;
        http_req_on_abort(req, on_abort, NULL);
        return;
    }
    slice_t parts[2] = {SLICE_LIT("a"), http_req_body(req)};
    http_resp_sendv(req, 200, "text/plain", slice_make(NULL, 0), parts, 2);
}

/* The memory connection is freed once closed; only one exists at a time. */
static bool conn_alive(void)
{
    return net_loop_stats(h->nl)->conns_open != 0;
}

static void pump(void)
{
    for (int i = 0; i < 3; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
}

static void init_once(void)
{
    h = calloc(1, sizeof *h);
    uv_loop_init(&h->loop);
    h->nl = net_loop_new(&h->loop, NULL);
    http_server_config_t cfg;
    http_server_config_init(&cfg);
    cfg.max_header_bytes = 2048;
    cfg.max_headers = 16;
    cfg.max_body_bytes = 512;
    h->srv = http_server_new(h->nl, &cfg, on_request, NULL);
    h->wscfg.max_message = 256;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!h)
        init_once();
    if (size < 3)
        return 0;
    h->mode = data[0];
    h->wscfg.deflate = h->mode & 4;
    size_t split = ((size_t)data[1] << 8 | data[2]) % (size - 2);
    data += 3;
    size -= 3;
    h->parked = NULL;
    h->aborts = h->ws_opens = h->ws_closes = 0;

    buf_t out = BUF_INIT;
    net_conn_t *nc = net_conn_new_memory(h->nl, &out);
    http_server_adopt(h->srv, nc);
    net_conn_memory_feed(nc, data, split);
    pump();
    if (h->parked && (h->mode & 16)) {
        http_resp_send(h->parked, 204, NULL, slice_make(NULL, 0), slice_make(NULL, 0));
        h->parked = NULL;
    }
    if (conn_alive())
        net_conn_memory_feed(nc, data + split, size - split);
    pump();
    if (h->parked && (h->mode & 32)) {
        http_resp_send(h->parked, 200, NULL, slice_make(NULL, 0), SLICE_LIT("late"));
        h->parked = NULL;
    }
    pump();
    if (conn_alive())
        net_conn_memory_eof(nc);
    pump();
    /* Whatever state it was in, the connection must be gone now (graceful closes of a
     * memory connection finish within a few loop turns). */
    if (net_loop_stats(h->nl)->conns_open != 0)
        abort();
    if (h->parked) /* still parked after EOF means the abort never ran */
        abort();
    if (h->ws_opens != h->ws_closes)
        abort();
    buf_dispose(&out);
    return 0;
}
