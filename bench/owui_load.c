/*
 * owui_load: an Open WebUI-style streaming workload against `build/sioc` (bench, not the
 * library).
 *
 * S chat streams run at R deltas per second each. Every stream belongs to its own user,
 * who has T browser tabs open (T WebSocket Socket.IO clients authenticated with a session
 * JWT, as the front end connects: path /ws/socket.io/, auth {token}). The deltas enter the
 * server the way a backend pushes them, through POST /api/v1/socket/chat/event (batched:
 * one request per 10 ms tick carries every delta due), and the server emits each one as
 * `events` {"chat_id","message_id","data":{"type":"chat:completion",...}} to
 * `user:{id}`, i.e. to the T tabs. Chat ids are `local:` ones, as the deltas of a
 * streaming answer are socket-only (§7.1), so no database write is involved.
 *
 * Reported over the measuring window (after the warm-up): events/s produced, deliveries/s
 * received, the server's CPU time (utime+stime of --server-pid from /proc) per 1,000
 * events and per 1,000 deliveries, and the delivery latency (the producer stamps each
 * delta with a monotonic microsecond clock; this one process also receives it)
 * p50/p99/max. Lost deliveries are counted after a drain second.
 *
 *   owui_load --port P --secret K --api-key A --users FILE [--streams 200] [--rate 30]
 *             [--tabs 2] [--warmup 2] [--duration 10] [--server-pid PID]
 * FILE holds one user id per line (at least --streams of them). bench/owui_run sets it
 * all up. One thread, one libuv loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <uv.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "loadgen_stats.h"
#include "loadgen_wire.h"
#pragma GCC diagnostic pop

#define MAX_FRAME (1u << 20)
#define TICK_MS 10
/* Most deltas one request carries; while one is in flight and the next is full, deltas
 * are skipped (reported): the requests are not keeping up (the server, or this process
 * itself: check its CPU). */
#define BATCH_MAX 2000

enum { T_TCP, T_UPGRADE, T_OPEN, T_SIO, T_READY, T_DEAD };

typedef struct bench bench_t;

typedef struct tab {
    uv_tcp_t tcp;
    bench_t *b;
    int state;
    unsigned user;
    char key[25];
    uint8_t *rbuf;
    size_t rlen, rcap;
} tab_t;

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq_t;

struct bench {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    const char *secret, *api_key;
    char **users;
    unsigned n_users, streams, rate, tabs, warmup_s, duration_s;
    int server_pid;
    tab_t *tab;
    unsigned ready, dead;
    /* producer */
    uv_tcp_t http;
    bool http_up, in_flight;
    uint8_t *hbuf;
    size_t hlen, hcap;
    char *batch;
    size_t blen, bcap, bcount;
    uint64_t *next_due; /* per stream, us */
    uv_timer_t tick, phase;
    uint64_t t_start, t_measure, t_end; /* us */
    /* counters */
    uint64_t sent, sent_win, recv, recv_win, expect_win, http_errors, skipped;
    long cpu0, cpu1;
    lg_hist_t hist;
    int stage; /* 0 connecting, 1 warm-up, 2 measuring, 3 draining, 4 done */
};

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000u;
}

static void die(const char *what)
{
    fprintf(stderr, "owui_load: %s\n", what);
    exit(1);
}

static long proc_cpu_ticks(int pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    long utime = 0, stime = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
        return -1;
    return utime + stime;
}

/* ---- tokens ------------------------------------------------------------------------- */

static size_t b64url(const uint8_t *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t k = 0;
    for (int i = 0; i < len; i++) {
        char c = out[i];
        if (c == '=')
            break;
        out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[k] = '\0';
    return k;
}

static void make_token(const char *secret, const char *id, char *out)
{
    char payload[256], h64[64], p64[400], s64[64];
    long now = (long)time(NULL);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"exp\":%ld,\"iat\":%ld}", id, now + 86400,
             now);
    b64url((const uint8_t *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, h64);
    b64url((const uint8_t *)payload, strlen(payload), p64);
    char signing[512];
    int n = snprintf(signing, sizeof signing, "%s.%s", h64, p64);
    uint8_t mac[32];
    unsigned mlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (uint8_t *)signing, (size_t)n, mac, &mlen);
    b64url(mac, mlen, s64);
    sprintf(out, "%s.%s", signing, s64);
}

/* ---- tabs (Socket.IO clients) -------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    wreq_t *w = (wreq_t *)req;
    free(w->buf.base);
    free(w);
}

static void raw_write(uv_stream_t *s, const void *p, size_t n)
{
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)n);
    int r = uv_try_write(s, &buf, 1);
    if (r == (int)n)
        return;
    size_t done = r > 0 ? (size_t)r : 0;
    wreq_t *w = malloc(sizeof *w);
    w->buf = uv_buf_init(malloc(n - done), (unsigned)(n - done));
    memcpy(w->buf.base, (const char *)p + done, n - done);
    uv_write(&w->req, s, &w->buf, 1, on_written);
}

static void ws_send(tab_t *t, const char *text, size_t n)
{
    uint8_t frame[1024];
    if (lg_ws_frame_size(n) > sizeof frame)
        return;
    size_t len = lg_ws_encode(frame, LG_WS_TEXT, (const uint8_t *)text, n, 0x12345678u);
    raw_write((uv_stream_t *)&t->tcp, frame, len);
}

static void tab_dead(tab_t *t, const char *why)
{
    if (t->state == T_DEAD)
        return;
    if (t->b->dead++ < 5)
        fprintf(stderr, "owui_load: tab %ld: %s\n", (long)(t - t->b->tab), why);
    t->state = T_DEAD;
    uv_read_stop((uv_stream_t *)&t->tcp);
}

static void on_event(tab_t *t, slice_t json)
{
    bench_t *b = t->b;
    uint64_t ts;
    if (!lg_json_u64(json, "t", &ts))
        return;
    b->recv++;
    if (ts >= b->t_measure && b->stage >= 2 && ts < b->t_end) {
        b->recv_win++;
        lg_hist_add(&b->hist, now_us() - ts);
    }
}

static void on_text(tab_t *t, slice_t m)
{
    if (m.len == 0)
        return;
    if (m.ptr[0] == '0' && t->state == T_OPEN) {
        char tok[600], pkt[700];
        make_token(t->b->secret, t->b->users[t->user], tok);
        int n = snprintf(pkt, sizeof pkt, "40{\"token\":\"%s\"}", tok);
        ws_send(t, pkt, (size_t)n);
        t->state = T_SIO;
    } else if (m.ptr[0] == '2') {
        ws_send(t, "3", 1);
    } else if (m.ptr[0] == '4') {
        int type;
        int64_t ack;
        slice_t json;
        if (!lg_sio_split(slice_tail(m, 1), &type, &ack, &json))
            return;
        if (type == 0 && t->state == T_SIO) {
            t->state = T_READY;
            t->b->ready++;
        } else if (type == 2) {
            on_event(t, json);
        }
    }
}

static void tab_parse(tab_t *t)
{
    size_t off = 0;
    if (t->state == T_UPGRADE) {
        int status;
        const char *err = NULL;
        long h = lg_http_check_101(t->rbuf, t->rlen, t->key, &status, &err);
        if (h < 0)
            return tab_dead(t, err);
        if (h == 0)
            return;
        off = (size_t)h;
        t->state = T_OPEN;
    }
    for (;;) {
        lg_frame_t f;
        const char *err = NULL;
        long used = lg_ws_parse(t->rbuf + off, t->rlen - off, MAX_FRAME, &f, &err);
        if (used < 0)
            return tab_dead(t, err);
        if (used == 0)
            break;
        if (f.opcode == LG_WS_TEXT)
            on_text(t, slice_make(f.payload, f.len));
        else if (f.opcode == LG_WS_CLOSE)
            return tab_dead(t, "closed by the server");
        off += (size_t)used;
    }
    memmove(t->rbuf, t->rbuf + off, t->rlen - off);
    t->rlen -= off;
}

static void tab_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    tab_t *t = h->data;
    if (t->rcap - t->rlen < 65536) {
        t->rcap = t->rcap ? t->rcap * 2 : 131072;
        t->rbuf = realloc(t->rbuf, t->rcap);
    }
    *buf = uv_buf_init((char *)t->rbuf + t->rlen, (unsigned)(t->rcap - t->rlen));
}

static void tab_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    tab_t *t = s->data;
    if (n < 0)
        return tab_dead(t, uv_strerror((int)n));
    t->rlen += (size_t)n;
    tab_parse(t);
}

static void tab_connected(uv_connect_t *req, int status)
{
    tab_t *t = req->data;
    free(req);
    if (status != 0)
        return tab_dead(t, uv_strerror(status));
    uint8_t nonce[16];
    RAND_bytes(nonce, sizeof nonce);
    lg_ws_make_key(nonce, t->key);
    char rq[512];
    int n = snprintf(rq, sizeof rq,
                     "GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     t->key);
    t->state = T_UPGRADE;
    uv_tcp_nodelay(&t->tcp, 1);
    uv_read_start((uv_stream_t *)&t->tcp, tab_alloc, tab_read);
    raw_write((uv_stream_t *)&t->tcp, rq, (size_t)n);
}

static void tab_start(bench_t *b, tab_t *t)
{
    uv_tcp_init(b->loop, &t->tcp);
    t->tcp.data = t;
    uv_connect_t *c = malloc(sizeof *c);
    c->data = t;
    if (uv_tcp_connect(c, &t->tcp, (struct sockaddr *)&b->addr, tab_connected) != 0)
        die("connect");
}

/* ---- producer (the backend pushing deltas) -------------------------------------------- */

static void http_send_batch(bench_t *b);

static void http_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    bench_t *b = h->data;
    if (b->hcap - b->hlen < 4096) {
        b->hcap = b->hcap ? b->hcap * 2 : 16384;
        b->hbuf = realloc(b->hbuf, b->hcap);
    }
    *buf = uv_buf_init((char *)b->hbuf + b->hlen, (unsigned)(b->hcap - b->hlen));
}

static void http_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    bench_t *b = s->data;
    if (n < 0)
        die("the emit connection closed");
    b->hlen += (size_t)n;
    for (;;) {
        uint8_t *end = memmem(b->hbuf, b->hlen, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head = (size_t)(end - b->hbuf) + 4;
        slice_t cl = lg_http_header(slice_make(b->hbuf, head), "content-length");
        size_t body = (size_t)strtoul(cl.len ? (const char *)cl.ptr : "0", NULL, 10);
        if (b->hlen < head + body)
            return;
        if (memcmp(b->hbuf, "HTTP/1.1 200", 12) != 0 && b->http_errors++ < 3)
            fprintf(stderr, "owui_load: emit answered %.*s\n", (int)(head + body), b->hbuf);
        memmove(b->hbuf, b->hbuf + head + body, b->hlen - head - body);
        b->hlen -= head + body;
        b->in_flight = false;
        http_send_batch(b);
    }
}

static void http_connected(uv_connect_t *req, int status)
{
    bench_t *b = req->data;
    free(req);
    if (status != 0)
        die("cannot connect the producer");
    b->http_up = true;
    uv_tcp_nodelay(&b->http, 1);
    uv_read_start((uv_stream_t *)&b->http, http_alloc, http_read);
}

static void batch_add(bench_t *b, unsigned stream, uint64_t t)
{
    if (b->bcap - b->blen < 512) {
        b->bcap = b->bcap ? b->bcap * 2 : 65536;
        b->batch = realloc(b->batch, b->bcap);
    }
    b->blen += (size_t)snprintf(
        b->batch + b->blen, b->bcap - b->blen,
        "%s{\"user_id\":\"%s\",\"chat_id\":\"local:bench-%u\",\"message_id\":\"m-%u\","
        "\"data\":{\"type\":\"chat:completion\",\"data\":{\"choices\":[{\"delta\":"
        "{\"content\":\"token \"}}],\"t\":%llu}}}",
        b->bcount ? "," : "[", b->users[stream], stream, stream, (unsigned long long)t);
    b->bcount++;
}

static void http_send_batch(bench_t *b)
{
    if (!b->http_up || b->in_flight || b->bcount == 0)
        return;
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /api/v1/socket/chat/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      b->api_key, b->blen + 1);
    raw_write((uv_stream_t *)&b->http, head, (size_t)hn);
    b->batch[b->blen++] = ']';
    raw_write((uv_stream_t *)&b->http, b->batch, b->blen);
    b->blen = 0;
    b->bcount = 0;
    b->in_flight = true;
}

static void on_tick(uv_timer_t *timer)
{
    bench_t *b = timer->data;
    if (b->stage < 1 || b->stage > 2)
        return;
    uint64_t now = now_us(), period = 1000000u / b->rate;
    for (unsigned s = 0; s < b->streams; s++) {
        for (; b->next_due[s] <= now; b->next_due[s] += period) {
            if (b->bcount >= BATCH_MAX) { /* behind: count, do not queue */
                b->skipped++;
                continue;
            }
            batch_add(b, s, now);
            b->sent++;
            if (b->stage == 2 && now >= b->t_measure && now < b->t_end) {
                b->sent_win++;
                b->expect_win += b->tabs;
            }
        }
    }
    http_send_batch(b);
}

/* ---- phases ---------------------------------------------------------------------------- */

static void report(bench_t *b)
{
    double win = (double)(b->t_end - b->t_measure) / 1e6;
    long hz = sysconf(_SC_CLK_TCK);
    double cpu_s = b->cpu0 >= 0 && b->cpu1 >= 0 ? (double)(b->cpu1 - b->cpu0) / (double)hz : -1;
    printf("owui_load: %u streams x %u deltas/s, %u tabs per user (%u clients ready, %u dead)\n",
           b->streams, b->rate, b->tabs, b->ready, b->dead);
    if (b->skipped)
        printf("  behind: %llu deltas not produced (batch full; server or generator saturated)\n",
               (unsigned long long)b->skipped);
    printf("  window %.1f s: %llu events (%.0f/s), %llu deliveries (%.0f/s), %lld lost\n", win,
           (unsigned long long)b->sent_win, (double)b->sent_win / win,
           (unsigned long long)b->recv_win, (double)b->recv_win / win,
           (long long)b->expect_win - (long long)b->recv_win);
    if (cpu_s >= 0)
        printf("  server CPU %.2f s (%.0f%% of a core): %.2f ms per 1k events, %.2f ms per 1k "
               "deliveries\n",
               cpu_s, 100.0 * cpu_s / win, 1000.0 * cpu_s / ((double)b->sent_win / 1000.0),
               1000.0 * cpu_s / ((double)b->recv_win / 1000.0));
    printf("  delivery latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           (double)lg_hist_quantile(&b->hist, 0.50) / 1000.0,
           (double)lg_hist_quantile(&b->hist, 0.99) / 1000.0, (double)b->hist.max / 1000.0);
    printf(
        "{\"streams\":%u,\"rate\":%u,\"tabs\":%u,\"events_per_s\":%.0f,\"deliveries_per_s\":%.0f,"
        "\"lost\":%lld,\"server_cpu_ms_per_1k_events\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"max_ms\":%.3f,\"http_errors\":%llu,\"skipped\":%llu}\n",
        b->streams, b->rate, b->tabs, (double)b->sent_win / win, (double)b->recv_win / win,
        (long long)b->expect_win - (long long)b->recv_win,
        cpu_s >= 0 ? 1000.0 * cpu_s / ((double)b->sent_win / 1000.0) : -1.0,
        (double)lg_hist_quantile(&b->hist, 0.50) / 1000.0,
        (double)lg_hist_quantile(&b->hist, 0.99) / 1000.0, (double)b->hist.max / 1000.0,
        (unsigned long long)b->http_errors, (unsigned long long)b->skipped);
}

static void on_phase(uv_timer_t *timer)
{
    bench_t *b = timer->data;
    uint64_t now = now_us();
    switch (b->stage) {
    case 0: /* waiting for every tab */
        if (b->ready + b->dead < b->streams * b->tabs || !b->http_up) {
            uv_timer_start(&b->phase, on_phase, 100, 0);
            return;
        }
        fprintf(stderr, "owui_load: %u clients ready; warming up %u s\n", b->ready, b->warmup_s);
        for (unsigned s = 0; s < b->streams; s++) /* spread the streams over one period */
            b->next_due[s] = now + (uint64_t)s * (1000000u / b->rate) / b->streams;
        b->stage = 1;
        uv_timer_start(&b->phase, on_phase, b->warmup_s * 1000u, 0);
        return;
    case 1:
        b->stage = 2;
        b->t_measure = now;
        b->t_end = now + (uint64_t)b->duration_s * 1000000u;
        b->cpu0 = b->server_pid ? proc_cpu_ticks(b->server_pid) : -1;
        uv_timer_start(&b->phase, on_phase, b->duration_s * 1000u, 0);
        return;
    case 2:
        b->cpu1 = b->server_pid ? proc_cpu_ticks(b->server_pid) : -1;
        b->stage = 3;
        uv_timer_start(&b->phase, on_phase, 1000, 0);
        return;
    default:
        report(b);
        exit(b->ready ? 0 : 1);
    }
}

/* ---- set-up ------------------------------------------------------------------------------- */

static char **read_users(const char *path, unsigned *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read --users");
    char line[256];
    char **v = NULL;
    unsigned k = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        v = realloc(v, (k + 1) * sizeof *v);
        v[k++] = strdup(line);
    }
    fclose(f);
    *n = k;
    return v;
}

int main(int argc, char **argv)
{
    static bench_t b = {.streams = 200, .rate = 30, .tabs = 2, .warmup_s = 2, .duration_s = 10};
    const char *users = NULL;
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            port = atoi(v);
        else if (!strcmp(k, "--secret"))
            b.secret = v;
        else if (!strcmp(k, "--api-key"))
            b.api_key = v;
        else if (!strcmp(k, "--users"))
            users = v;
        else if (!strcmp(k, "--streams"))
            b.streams = (unsigned)atoi(v);
        else if (!strcmp(k, "--rate"))
            b.rate = (unsigned)atoi(v);
        else if (!strcmp(k, "--tabs"))
            b.tabs = (unsigned)atoi(v);
        else if (!strcmp(k, "--warmup"))
            b.warmup_s = (unsigned)atoi(v);
        else if (!strcmp(k, "--duration"))
            b.duration_s = (unsigned)atoi(v);
        else if (!strcmp(k, "--server-pid"))
            b.server_pid = atoi(v);
        else
            die("unknown flag (see the header of bench/owui_load.c)");
    }
    if (!port || !b.secret || !b.api_key || !users || !b.streams || !b.rate || !b.tabs ||
        b.rate > 1000)
        die("usage: owui_load --port P --secret K --api-key A --users FILE [--streams N] "
            "[--rate R] [--tabs T] [--warmup S] [--duration S] [--server-pid PID]");
    b.users = read_users(users, &b.n_users);
    if (b.n_users < b.streams)
        die("fewer users than streams");
    b.loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &b.addr);
    lg_hist_init(&b.hist);
    b.next_due = calloc(b.streams, sizeof *b.next_due);
    b.tab = calloc((size_t)b.streams * b.tabs, sizeof *b.tab);
    for (unsigned i = 0; i < b.streams * b.tabs; i++) {
        b.tab[i].b = &b;
        b.tab[i].user = i % b.streams;
        tab_start(&b, &b.tab[i]);
    }
    uv_tcp_init(b.loop, &b.http);
    b.http.data = &b;
    uv_connect_t *c = malloc(sizeof *c);
    c->data = &b;
    uv_tcp_connect(c, &b.http, (struct sockaddr *)&b.addr, http_connected);
    uv_timer_init(b.loop, &b.tick);
    uv_timer_init(b.loop, &b.phase);
    b.tick.data = b.phase.data = &b;
    uv_timer_start(&b.tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&b.phase, on_phase, 100, 0);
    b.t_start = now_us();
    return uv_run(b.loop, UV_RUN_DEFAULT);
}
