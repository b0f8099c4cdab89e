/*
 * loadgen_workload: what each workload sends and counts (bench/loadgen.c's workload
 * messages): event and payload encoding, room joins, echo sends, acks and fan-out
 * deliveries with their latencies. Included once, by loadgen.c, after the connection
 * write helpers it uses; split out only to keep loadgen.c under the file-size cap.
 */
#ifndef SIOC_BENCH_LOADGEN_WORKLOAD_H
#define SIOC_BENCH_LOADGEN_WORKLOAD_H

/* ---- workload messages -------------------------------------------------------------- */

/* `42<id>["<event>",` into lg->msg: an EVENT asking for ack `id` (0 = no ack). */
static void msg_event(lg_t *lg, uint32_t id, const char *event)
{
    buf_clear(&lg->msg);
    buf_append_cstr(&lg->msg, "42");
    if (id)
        buf_append_u64(&lg->msg, id);
    buf_append_cstr(&lg->msg, "[\"");
    buf_append_cstr(&lg->msg, event);
    buf_append_cstr(&lg->msg, "\"");
}

/* `,{"t":<now us>,"s":<seq>,"p":"xxx"}]`: the timestamped payload of echo and fanout. */
static void msg_payload(lg_t *lg, uint64_t seq)
{
    buf_append_cstr(&lg->msg, ",{\"t\":");
    buf_append_u64(&lg->msg, now_us());
    buf_append_cstr(&lg->msg, ",\"s\":");
    buf_append_u64(&lg->msg, seq);
    buf_append_cstr(&lg->msg, ",\"p\":\"");
    buf_append(&lg->msg, lg->pad, lg->cfg.size);
    buf_append_cstr(&lg->msg, "\"}]");
}

static void send_join(lg_conn_t *c, const char *room)
{
    lg_t *lg = c->lg;
    msg_event(lg, 0, "join");
    buf_append_cstr(&lg->msg, ",\"");
    buf_append_cstr(&lg->msg, room);
    buf_append_cstr(&lg->msg, "\"]");
    conn_send_text(c, buf_slice(&lg->msg));
}

static void echo_send(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    msg_event(lg, ++c->next_ack, "message-with-ack");
    msg_payload(lg, c->next_ack);
    if (c->inflight++ == 0)
        c->deadline = now_us() + (uint64_t)(lg->cfg.timeout * 1e6);
    lg->n.sent++;
    conn_send_text(c, buf_slice(&lg->msg));
}

/* A client is up: it counts for the ramp, and the workload may start. */
static void conn_ready(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    conn_set_state(c, CS_READY);
    c->was_ready = true;
    c->deadline = 0;
    lg->ready++;
    if (lg->cfg.mode == M_FANOUT && !c->sender)
        lg->members++;
    lg_pump(lg);
}

/* Socket.IO CONNECT answered: the handshake is complete (§2.4). */
static void on_sio_connected(lg_conn_t *c)
{
    lg_t *lg = c->lg;
    uint64_t now = now_us();
    lg->n.handshakes++;
    lg_hist_add(lg->cfg.mode == M_HANDSHAKE ? &lg->lat : &lg->hs, now - c->t_start);
    if (lg->cfg.mode == M_HANDSHAKE) {
        lg->last_event = now;
        conn_ws_close(c);
        lg_pump(lg);
        return;
    }
    if (lg->cfg.mode == M_ECHO || c->sender) {
        conn_ready(c);
        return;
    }
    char room[32];
    if (lg->cfg.mode == M_IDLE) {
        send_join(c, "lg-all");
        snprintf(room, sizeof(room), "lg-%u", c->idx % ROOMS_IDLE);
        send_join(c, room);
    } else {
        send_join(c, lg->cfg.room);
    }
    /* Events from one socket are handled in order, so this ack means the joins are done. */
    c->join_ack = ++c->next_ack;
    msg_event(lg, c->join_ack, "echo");
    buf_append_cstr(&lg->msg, "]");
    if (conn_open(c)) {
        conn_set_state(c, CS_JOINING);
        conn_send_text(c, buf_slice(&lg->msg));
    }
}

static void on_ack(lg_conn_t *c, int64_t id, slice_t json)
{
    lg_t *lg = c->lg;
    if (c->state == CS_JOINING && id == c->join_ack) {
        conn_ready(c);
        return;
    }
    if (lg->cfg.mode != M_ECHO || c->state != CS_READY || c->inflight == 0)
        return;
    uint64_t t, now = now_us();
    c->inflight--;
    c->deadline = c->inflight ? now + (uint64_t)(lg->cfg.timeout * 1e6) : 0;
    if (!lg_json_u64(json, "t", &t) || t > now) {
        conn_fail(c, E_PROTOCOL, "ack without the echoed timestamp");
        return;
    }
    lg->n.received++;
    lg->last_event = now;
    lg_hist_add(&lg->lat, now - t);
    if (lg->phase == P_RUN && lg->cfg.rate <= 0)
        echo_send(c);
}

static void bcast_finish(lg_t *lg, lg_bcast_t *b, bool late)
{
    b->active = false;
    lg->binflight--;
    if (late) {
        lg->n.lost += b->remaining;
        lg->n.err[E_TIMEOUT]++;
    }
}

/* A fanout `msg` arrived: latency from its send timestamp, and completion counting. */
static void on_delivery(lg_conn_t *c, slice_t json)
{
    lg_t *lg = c->lg;
    uint64_t t, seq, now = now_us();
    if (!lg_json_u64(json, "t", &t) || !lg_json_u64(json, "s", &seq) || t > now) {
        conn_fail(c, E_PROTOCOL, "msg without timestamp and sequence");
        return;
    }
    lg->n.received++;
    lg->last_event = now;
    lg_hist_add(&lg->lat, now - t);
    lg_bcast_t *b = &lg->ring[seq % RING];
    if (!b->active || b->seq != seq || b->remaining == 0)
        return;
    if (--b->remaining == 0) {
        bcast_finish(lg, b, false);
        if (lg->phase == P_RUN && lg->cfg.rate <= 0)
            fanout_send(lg);
    }
}

#endif
