/*
 * loadgen.h: the types of bench/loadgen.c (bench, not the library): its constants, the
 * client connection and the generator state. Included by exactly one program; the
 * functions live in loadgen.c (and loadgen_raw.h). One thread.
 */
#ifndef SIOC_BENCH_LOADGEN_H
#define SIOC_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/buf.h"
#include "loadgen_cli.h"
#include "net/net_uring.h"
#include "loadgen_stats.h"

#define TICK_MS 5            /* pacing timer period */
#define SWEEP_EVERY 20       /* ticks between timeout sweeps (100 ms) */
#define CLOSE_WAIT_US 2000000 /* how long a closing connection may take before a reset */
#define MAX_FRAME (16u << 20) /* largest server message we accept */
#define ECHO_MAX_INFLIGHT 64 /* open-loop echo: per-client cap on unanswered messages */
#define RING (2 * LG_MAX_WINDOW) /* fanout: broadcasts tracked at once */
#define ROOMS_IDLE 128       /* idle: the second room is lg-<index % ROOMS_IDLE> */
#define EP_BATCH 256         /* epoll events (and reads) handled per batch */
#define READ_SLOT 4096       /* bytes of one batched read; a fuller socket is read again */

enum lg_phase { P_RAMP, P_RUN, P_DRAIN, P_CLOSE, P_DONE };

enum conn_state {
    CS_FREE,        /* no handle (never opened, or closed) */
    CS_CONNECTING,  /* TCP connect in flight */
    CS_HTTP,        /* upgrade request sent, waiting for the 101 */
    CS_EIO_OPEN,    /* waiting for the Engine.IO open packet */
    CS_SIO_CONNECT, /* `40` sent, waiting for the Socket.IO CONNECT */
    CS_JOINING,     /* joins and a confirming `echo` sent, waiting for its ack */
    CS_READY,       /* connected; the workload runs on it */
    CS_WS_CLOSING,  /* close frame sent, waiting for the server to close */
    CS_CLOSING,     /* socket closed, release pending */
};

typedef struct lg_conn {
    int fd;               /* the plain socket, -1 when none */
    struct lg_conn *reap_next; /* closed, release pending */
    struct lg *lg;        /* owner */
    struct lg_conn *next_free; /* handshake mode: the free list */
    uint32_t idx;         /* client index: source address and room choice */
    uint8_t state;        /* enum conn_state */
    uint8_t frag_op;      /* opcode of the fragmented message being assembled */
    bool sender;          /* fanout: the broadcasting client */
    bool was_ready;       /* reached CS_READY at some point */
    uint32_t inflight;    /* echo: messages waiting for their ack */
    uint32_t next_ack;    /* next ack id to use */
    uint32_t join_ack;    /* ack id that confirms the joins */
    uint64_t t_start;     /* us, when this connection started */
    uint64_t deadline;    /* us, when the sweep times it out; 0 = never */
    char key[25];         /* Sec-WebSocket-Key */
    buf_t rbuf;           /* a partial frame carried over to the next read */
    buf_t frag;           /* fragments of a message so far */
    buf_t wbuf;           /* output the socket did not take yet (sent on EPOLLOUT) */
} lg_conn_t;

typedef struct lg_bcast {
    uint64_t seq;         /* broadcast number */
    uint64_t sent;        /* us, when it was emitted */
    uint32_t remaining;   /* receivers still to get it */
    bool active;          /* still counting */
} lg_bcast_t;

typedef struct lg {
    lg_config_t cfg;
    uv_loop_t *loop;
    uv_timer_t tick;          /* pacing and the timeout sweep */
    uv_signal_t sigint, sigterm;
    struct sockaddr_storage dst; /* resolved server address */
    char host_hdr[320];       /* Host header value */
    enum lg_phase phase;
    bool interrupted;         /* a signal cut the run short */
    uint32_t ticks;
    uint64_t t0, phase_start, run_start, run_end, last_event; /* us */
    uint64_t ramp_us;         /* how long opening the clients took */
    lg_conn_t **all;          /* every connection object, owned */
    uint32_t nall, capall;
    lg_conn_t *free_list;     /* handshake mode: closed connections to reuse */
    int ep;                   /* epoll set of the client sockets (edge-triggered) */
    uv_poll_t ep_poll;        /* watches `ep` from the libuv loop */
    uv_idle_t reaper;         /* releases closed sockets outside their callers */
    lg_conn_t *reap;          /* closed sockets waiting for release */
    struct epoll_event evs[EP_BATCH]; /* one batch of `ep` events */
    net_uring_t *uring;       /* reads a batch's sockets in one system call; NULL: read(2) */
    uint8_t *slots;           /* EP_BATCH read buffers of READ_SLOT bytes */
    int slot_res[EP_BATCH];   /* result of each batched read (bytes, 0 EOF, -errno) */
    uint32_t target;          /* clients to open (ramp) */
    uint32_t started;         /* clients started in this phase */
    uint32_t handshaking;     /* connections between connect and ready */
    uint32_t live;            /* open handles */
    uint32_t ready, failed;   /* clients ready / failed before ready */
    uint32_t members;         /* fanout: ready receivers */
    uint32_t live_cap;        /* handshake mode: cap on open handles (fds) */
    uint32_t cursor;          /* open-loop echo: next client to send */
    lg_conn_t *sender;        /* fanout sender, or NULL */
    uint64_t bseq;            /* next broadcast number */
    uint32_t binflight;       /* broadcasts still counting */
    uint64_t rng;             /* xorshift state for keys and masks */
    uint32_t errors_printed;
    uint64_t errs_at_tick;    /* failures counted when the last tick ran */
    lg_counts_t n;
    lg_hist_t lat;            /* workload latency */
    lg_hist_t hs;             /* handshake latency */
    lg_bcast_t ring[RING];
    buf_t msg;                /* scratch: the packet being composed */
    buf_t frame;              /* scratch: its frame */
    char *pad;                /* cfg.size bytes of 'x' */
    uint8_t rbuf[65536];      /* shared read buffer; reads are handled synchronously */
} lg_t;

#endif
