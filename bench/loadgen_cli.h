/*
 * loadgen_cli: the command line of bench/loadgen.c (bench, not the library): the flags
 * in, and the result lines out.
 *
 * Output contract (bench/run and bench/README.md rely on it): stdout carries JSON lines
 * only, `{"event":"ready",...}` once the clients are up (idle, echo, fanout) and
 * `{"event":"result",...}` at the end; stderr carries the human line and the first few
 * errors. The config keeps pointers into argv (borrowed for the life of the process).
 * Functions are static: this header is included by exactly one program. One thread.
 */
#ifndef SIOC_BENCH_LOADGEN_CLI_H
#define SIOC_BENCH_LOADGEN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadgen_stats.h"

#define LG_MAX_WINDOW 2048 /* fanout: broadcasts in flight at most (half the ring) */

enum lg_mode { M_HANDSHAKE, M_IDLE, M_ECHO, M_FANOUT };
enum lg_err { E_CONNECT, E_HANDSHAKE, E_PROTOCOL, E_TIMEOUT, E_DISCONNECT, E_COUNT };

static const char *const lg_err_names[E_COUNT] = {"connect", "handshake", "protocol",
                                                  "timeout", "disconnect"};
static const char *const lg_mode_names[] = {"handshake", "idle", "echo", "fanout"};

typedef struct lg_config {
    const char *host;     /* server address or name */
    int port;             /* server port */
    const char *path;     /* Engine.IO path (a missing trailing slash is added) */
    enum lg_mode mode;    /* workload */
    uint32_t conns;       /* clients (handshake: parallel clients) */
    double duration;      /* seconds of measurement (idle: hold time) */
    double rate;          /* per-mode rate cap or target; 0 = closed loop */
    uint32_t sources;     /* source addresses 127.0.0.1..K */
    uint32_t concurrency; /* handshakes in flight while ramping up */
    uint32_t size;        /* padding bytes in echo and fanout payloads */
    uint32_t window;      /* fanout without --rate: broadcasts in flight */
    double timeout;       /* seconds before a handshake, ack or broadcast is late */
    const char *room;     /* fanout room */
    bool recv_only;       /* fanout: receivers only, no sender in this process */
    bool verbose;         /* print every error, not just the first few */
} lg_config_t;

typedef struct lg_counts {
    uint64_t started, handshakes;            /* connections begun, Socket.IO connects */
    uint64_t err[E_COUNT];                   /* failures by enum lg_err */
    uint64_t sent, received, expected, lost; /* workload messages */
    uint64_t skipped;                        /* open-loop sends a backlogged client skipped */
    uint64_t pings, bytes_in, bytes_out;     /* Engine.IO pings answered, socket bytes */
} lg_counts_t;

/** What one run measured, for lg_print_result (all borrowed from the caller). */
typedef struct lg_result {
    const lg_config_t *cfg;
    const lg_counts_t *n;
    const lg_hist_t *lat; /* workload latency (handshake mode: handshake latency) */
    const lg_hist_t *hs;  /* handshake latency */
    uint32_t ready, failed;
    double ramp_s, run_s, rate, cpu_s;
    uint64_t lost;
    bool interrupted;
} lg_result_t;

static void lg_usage(FILE *f)
{
    fprintf(f,
            "usage: loadgen [options]\n"
            "  --host H          server address (127.0.0.1; ::1 and names work)\n"
            "  --port P          server port (3000)\n"
            "  --path P          Engine.IO path (/socket.io/)\n"
            "  --mode M          handshake | idle | echo | fanout (echo)\n"
            "  --conns N         clients; handshake: parallel clients (100)\n"
            "  --duration S      seconds to measure; idle: seconds to hold (10)\n"
            "  --rate R          handshake, idle: connections/s cap; echo: messages/s in\n"
            "                    total; fanout: broadcasts/s (0 = closed loop)\n"
            "  --sources K       spread over source addresses 127.0.0.1..K (1)\n"
            "  --concurrency C   handshakes in flight while opening clients (100)\n"
            "  --size B          padding bytes in echo and fanout payloads (16)\n"
            "  --window W        fanout without --rate: broadcasts in flight (2)\n"
            "  --timeout S       handshake, ack and delivery timeout (10)\n"
            "  --room NAME       fanout room (lg-fanout)\n"
            "  --recv-only       fanout: receivers only, run until SIGTERM\n"
            "  --verbose         print every error\n"
            "stdout: JSON lines (event ready, event result); stderr: a human summary.\n");
}

static int lg_parse_mode(const char *s, enum lg_mode *m)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, lg_mode_names[i]) == 0) {
            *m = (enum lg_mode)i;
            return 0;
        }
    }
    return -1;
}

static bool lg_config_valid(const lg_config_t *c)
{
    return c->port > 0 && c->port <= 65535 && c->sources >= 1 && c->sources <= 254 &&
           c->concurrency >= 1 && c->timeout > 0 && c->duration >= 0 && c->rate >= 0 &&
           c->size <= (1u << 20) && c->window >= 1 && c->window <= LG_MAX_WINDOW &&
           c->conns >= 1 && strlen(c->path) <= 200 && strlen(c->room) <= 100;
}

/** Fills `cfg` from argv. Returns 0, 1 for --help, or -1 on a bad flag. */
static int lg_parse_args(lg_config_t *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},      {"path", 1, 0, 'P'},
        {"mode", 1, 0, 'm'},     {"conns", 1, 0, 'c'},     {"duration", 1, 0, 'd'},
        {"rate", 1, 0, 'r'},     {"sources", 1, 0, 's'},   {"concurrency", 1, 0, 'C'},
        {"size", 1, 0, 'z'},     {"window", 1, 0, 'w'},    {"timeout", 1, 0, 't'},
        {"room", 1, 0, 'R'},     {"recv-only", 0, 0, 'O'}, {"verbose", 0, 0, 'v'},
        {"help", 0, 0, 'H'},     {0, 0, 0, 0}};
    *cfg = (lg_config_t){.host = "127.0.0.1", .port = 3000, .path = "/socket.io/",
                         .mode = M_ECHO, .conns = 100, .duration = 10, .sources = 1,
                         .concurrency = 100, .size = 16, .window = 2, .timeout = 10,
                         .room = "lg-fanout"};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': cfg->host = optarg; break;
        case 'p': cfg->port = atoi(optarg); break;
        case 'P': cfg->path = optarg; break;
        case 'm':
            if (lg_parse_mode(optarg, &cfg->mode) < 0)
                return -1;
            break;
        case 'c': cfg->conns = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'd': cfg->duration = atof(optarg); break;
        case 'r': cfg->rate = atof(optarg); break;
        case 's': cfg->sources = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'C': cfg->concurrency = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'z': cfg->size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'w': cfg->window = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 't': cfg->timeout = atof(optarg); break;
        case 'R': cfg->room = optarg; break;
        case 'O': cfg->recv_only = true; break;
        case 'v': cfg->verbose = true; break;
        case 'H': return 1;
        default: return -1;
        }
    }
    return optind == argc && lg_config_valid(cfg) ? 0 : -1;
}

/** The `ready` line: the clients are up (the runner reads the server's RSS now). */
static void lg_print_ready(const lg_config_t *cfg, uint32_t ready, uint32_t failed, double ramp_s)
{
    printf("{\"event\":\"ready\",\"mode\":\"%s\",\"ready\":%u,\"failed\":%u,\"ramp_s\":%.3f,"
           "\"pid\":%d}\n",
           lg_mode_names[cfg->mode], ready, failed, ramp_s, (int)getpid());
    fflush(stdout);
}

typedef unsigned long long ull;

/** The `result` JSON line on stdout and the human line on stderr. */
static void lg_print_result(const lg_result_t *r)
{
    const lg_counts_t *n = r->n;
    ull errors = 0;
    for (int i = 0; i < E_COUNT; i++)
        errors += n->err[i];
    printf("{\"event\":\"result\",\"mode\":\"%s\",\"conns\":%u,\"ready\":%u,\"failed\":%u,"
           "\"duration_s\":%.3f,\"run_s\":%.3f,\"ramp_s\":%.3f,\"rate\":%.1f,",
           lg_mode_names[r->cfg->mode], r->cfg->conns, r->ready, r->failed, r->cfg->duration,
           r->run_s, r->ramp_s, r->rate);
    printf("\"started\":%llu,\"handshakes\":%llu,\"sent\":%llu,\"received\":%llu,"
           "\"expected\":%llu,\"lost\":%llu,\"skipped\":%llu,",
           (ull)n->started, (ull)n->handshakes, (ull)n->sent, (ull)n->received,
           (ull)n->expected, (ull)r->lost, (ull)n->skipped);
    printf("\"lat_p50_us\":%llu,\"lat_p99_us\":%llu,\"lat_max_us\":%llu,\"lat_mean_us\":%llu,"
           "\"hs_p50_us\":%llu,\"hs_p99_us\":%llu,",
           (ull)lg_hist_quantile(r->lat, 0.5), (ull)lg_hist_quantile(r->lat, 0.99),
           (ull)r->lat->max, (ull)lg_hist_mean(r->lat), (ull)lg_hist_quantile(r->hs, 0.5),
           (ull)lg_hist_quantile(r->hs, 0.99));
    printf("\"errors\":%llu", errors);
    for (int i = 0; i < E_COUNT; i++)
        printf(",\"%s_errors\":%llu", lg_err_names[i], (ull)n->err[i]);
    printf(",\"pings\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,\"cpu_s\":%.3f,"
           "\"interrupted\":%s}\n",
           (ull)n->pings, (ull)n->bytes_in, (ull)n->bytes_out, r->cpu_s,
           r->interrupted ? "true" : "false");
    fflush(stdout);
    fprintf(stderr,
            "loadgen %s: %u clients (%u ready, %u failed), %.1f/s over %.2f s, latency p50 "
            "%.3f ms p99 %.3f ms max %.3f ms; errors %llu (connect %llu, handshake %llu, "
            "protocol %llu, timeout %llu, disconnect %llu)%s\n",
            lg_mode_names[r->cfg->mode], r->cfg->conns, r->ready, r->failed, r->rate, r->run_s,
            (double)lg_hist_quantile(r->lat, 0.5) / 1e3,
            (double)lg_hist_quantile(r->lat, 0.99) / 1e3, (double)r->lat->max / 1e3, errors,
            (ull)n->err[E_CONNECT], (ull)n->err[E_HANDSHAKE], (ull)n->err[E_PROTOCOL],
            (ull)n->err[E_TIMEOUT], (ull)n->err[E_DISCONNECT],
            r->interrupted ? " (interrupted)" : "");
}

#endif
