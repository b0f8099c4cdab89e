/*
 * sio_socket: socket lifecycle (connect, middleware decision, disconnect), event and ack
 * dispatch, emits to one socket, rooms of one socket, and the argument accessors.
 *
 * References keep a socket's memory alive: the connection holds one while the socket
 * is PENDING or CONNECTED, a pending middleware decision one, every dispatch in progress
 * one, and the application may take more (sioc_socket_ref). The memory goes with the
 * last one; by then the socket is GONE (out of rooms, acks failed, handlers told).
 */
#include "sio/sio_socket.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"

/* ---- lifecycle ------------------------------------------------------------------ */

sioc_socket_t *sio__socket_new(struct sio_client *c, sioc_nsp_t *nsp)
{
    sioc_socket_t *s = xcalloc(1, sizeof *s);
    sio_member_init(&s->member);
    s->nsp = nsp;
    s->client = c;
    s->refs = 1;
    s->state = SIO_SOCK_PENDING;
    eio_id_new(&nsp->srv->ids, s->id);
    s->next = c->sockets;
    c->sockets = s;
    return s;
}

void sioc_socket_ref(sioc_socket_t *s)
{
    s->refs++;
}

void sioc_socket_unref(sioc_socket_t *s)
{
    if (!s || --s->refs > 0)
        return;
    free(s->auth);
    free(s);
}

void sio__socket_join_nsp(sioc_socket_t *s)
{
    struct sio_client *c = s->client;
    sioc_nsp_t *nsp = s->nsp;
    slice_t id = slice_make(s->id, EIO_ID_LEN);
    s->state = SIO_SOCK_CONNECTED;
    nsp->srv->cfg.adapter->add_all(nsp->adapter, s, &id, 1);
    nsp->n_sockets++;
    sio__client_joined(c);
    buf_t *enc = &nsp->srv->enc;
    buf_clear(enc);
    sio_encode_connect(enc, slice_make(nsp->name, nsp->name_len), id);
    eio_session_send(sio__client_eio(c), false, buf_slice(enc));
}

void sio__socket_connected(sioc_socket_t *s, int status, sioc_str_t auth)
{
    sioc_nsp_t *nsp = s->nsp;
    if (nsp->on_conn && s->state == SIO_SOCK_CONNECTED) {
        s->refs++;
        nsp->on_conn(s, status, auth, nsp->on_conn_arg);
        sioc_socket_unref(s);
    }
    free(s->auth);
    s->auth = NULL;
}

static void unlink_from_client(sioc_socket_t *s)
{
    struct sio_client *c = s->client;
    if (!c)
        return;
    for (sioc_socket_t **pp = &c->sockets; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    s->next = NULL;
}

static void fail_acks(sioc_socket_t *s)
{
    sio_ack_t *a;
    while ((a = sio_acks_pop(&s->acks))) {
        net_timer_stop(&a->timer);
        if (a->grp) {
            sio__ackgroup_answer(a->grp, s, NULL);
            sio__ackgroup_unref(a->grp);
        } else {
            a->cb(s, SIOC_EDISCONNECTED, NULL, a->arg);
        }
        free(a);
    }
}

void sio__socket_gone(sioc_socket_t *s, sioc_reason_t reason, bool send)
{
    if (s->state == SIO_SOCK_GONE)
        return;
    struct sio_client *c = s->client;
    sioc_nsp_t *nsp = s->nsp;
    bool was_connected = s->state == SIO_SOCK_CONNECTED;
    if (was_connected && send && c && !c->closed) {
        buf_t *enc = &nsp->srv->enc;
        buf_clear(enc);
        sio_encode_disconnect(enc, slice_make(nsp->name, nsp->name_len));
        eio_session_send(sio__client_eio(c), false, buf_slice(enc));
    }
    s->state = SIO_SOCK_GONE;
    unlink_from_client(s);
    s->client = NULL;
    if (was_connected) {
        nsp->srv->cfg.adapter->del_all(nsp->adapter, s);
        nsp->n_sockets--;
    }
    s->refs++; /* hold across the callbacks */
    fail_acks(s);
    if (was_connected && nsp->on_disc)
        nsp->on_disc(s, reason, nsp->on_disc_arg);
    if (!s->mw_pending) {
        free(s->auth);
        s->auth = NULL;
    }
    s->refs--;            /* the hold (the connection's reference is still there) */
    sioc_socket_unref(s); /* the connection's reference */
}

/* ---- middleware decisions ------------------------------------------------------- */

/* The auth of a socket whose decision is being made (see on_connect_packet). */
static sioc_str_t pending_auth(const sioc_socket_t *s)
{
    const sio_server_t *srv = s->nsp->srv;
    if (s->auth)
        return (sioc_str_t){s->auth, strlen(s->auth)};
    if (srv->mw_sock == s)
        return srv->mw_auth;
    return (sioc_str_t){"{}", 2};
}

void sioc_socket_accept(sioc_socket_t *s)
{
    if (!s->mw_pending)
        return;
    s->mw_pending = false;
    sioc_str_t auth = pending_auth(s);
    if (s->state == SIO_SOCK_PENDING)
        sio__socket_join_nsp(s);
    sio__socket_connected(s, 0, auth);
    sioc_socket_unref(s); /* the decision's reference */
}

void sioc_socket_reject(sioc_socket_t *s, const char *message, const char *data_json)
{
    if (!s->mw_pending)
        return;
    s->mw_pending = false;
    if (s->state == SIO_SOCK_CONNECTED) {
        /* always_connect: the socket stays; the app is told */
        sio__socket_connected(s, SIOC_EREFUSED, pending_auth(s));
    } else if (s->state == SIO_SOCK_PENDING) {
        struct sio_client *c = s->client;
        buf_t *enc = &s->nsp->srv->enc;
        buf_clear(enc);
        sio_encode_connect_error(enc, slice_make(s->nsp->name, s->nsp->name_len),
                                 slice_from_cstr(message ? message : "Not authorized"),
                                 slice_from_cstr(data_json));
        eio_session_send(sio__client_eio(c), false, buf_slice(enc));
        sio__socket_gone(s, SIOC_SERVER_NAMESPACE_DISCONNECT, false);
    }
    free(s->auth);
    s->auth = NULL;
    sioc_socket_unref(s); /* the decision's reference */
}

/* ---- incoming events and acks --------------------------------------------------- */

void sio__socket_on_event(sioc_socket_t *s, const sio_packet_t *p, const sioc_str_t *bins,
                          size_t n_bins)
{
    sioc_nsp_t *nsp = s->nsp;
    sio_server_t *srv = nsp->srv;
    srv->events_in++;
    size_t cap = p->name.raw.len + 1;
    uint8_t *scratch = buf_reserve(&srv->names, cap);
    slice_t name;
    if (sio_packet_event_name(p, scratch, cap, &name) != 0)
        return;
    const struct sio_handler *h = sio__nsp_handler(nsp, name);
    sioc_event_cb cb = h ? h->cb : nsp->on_any;
    void *arg = h ? h->arg : nsp->on_any_arg;
    if (!cb)
        return;
    sioc_args_t args = {p->args, p->nargs, bins, n_bins};
    int64_t ack = p->h.has_id ? (int64_t)p->h.id : -1;
    s->refs++;
    cb(s, (sioc_str_t){(const char *)name.ptr, name.len}, &args, ack, arg);
    sioc_socket_unref(s);
}

void sio__socket_on_ack(sioc_socket_t *s, const sio_packet_t *p, const sioc_str_t *bins,
                        size_t n_bins)
{
    if (!p->h.has_id)
        return;
    sio_ack_t *a = sio_acks_take(&s->acks, p->h.id);
    if (!a)
        return; /* unknown, late or duplicate ack */
    net_timer_stop(&a->timer);
    sioc_args_t args = {p->args, p->nargs, bins, n_bins};
    s->refs++;
    if (a->grp) {
        sio__ackgroup_answer(a->grp, s, &args);
        sio__ackgroup_unref(a->grp);
    } else {
        a->cb(s, 0, &args, a->arg);
    }
    free(a);
    sioc_socket_unref(s);
}

/* ---- sending to one socket ------------------------------------------------------ */

int sio__data_slices(sioc_data_t d, slice_t *json, slice_t *bins, size_t cap)
{
    *json = d.json ? slice_make(d.json, d.len ? d.len : strlen(d.json)) : slice_make("", 0);
    if (d.n_bins > cap || (d.n_bins && !d.bins))
        return SIOC_EINVAL;
    for (size_t i = 0; i < d.n_bins; i++)
        bins[i] = slice_make(d.bins[i].ptr, d.bins[i].len);
    return (int)d.n_bins;
}

int sio__send_packet(sioc_socket_t *s, sio_packet_type_t type, slice_t name, int64_t ack_id,
                     sioc_data_t data)
{
    if (s->state != SIO_SOCK_CONNECTED || !s->client || s->client->closed)
        return SIOC_ENOTCONN;
    slice_t json, bins[SIO_OUT_MAX_BINS];
    int nb = sio__data_slices(data, &json, bins, SIO_OUT_MAX_BINS);
    if (nb < 0)
        return nb;
    sioc_nsp_t *nsp = s->nsp;
    sio_header_t h = {
        .attachments = (uint32_t)nb,
        .nsp = slice_make(nsp->name, nsp->name_len),
        .has_id = ack_id >= 0,
        .id = ack_id >= 0 ? (uint64_t)ack_id : 0,
    };
    buf_t *enc = &nsp->srv->enc;
    buf_clear(enc);
    if (type == SIO_EVENT) {
        h.type = nb ? SIO_BINARY_EVENT : SIO_EVENT;
        nsp->srv->events_out++;
        sio_encode_event(enc, &h, name, json);
    } else {
        h.type = nb ? SIO_BINARY_ACK : SIO_ACK;
        sio_encode_ack(enc, &h, json);
    }
    eio_session_t *es = sio__client_eio(s->client);
    int rc = eio_session_send(es, false, buf_slice(enc));
    for (int i = 0; i < nb && rc == 0; i++)
        rc = eio_session_send(es, true, bins[i]);
    return rc;
}

int sioc_socket_emit(sioc_socket_t *s, const char *event, sioc_data_t data)
{
    if (!event)
        return SIOC_EINVAL;
    return sio__send_packet(s, SIO_EVENT, slice_from_cstr(event), -1, data);
}

static void on_ack_timeout(net_timer_t *t)
{
    sio_ack_t *a = NET_CONTAINER_OF(t, sio_ack_t, timer);
    sioc_socket_t *s = a->s;
    sio_acks_remove(&s->acks, a);
    s->refs++;
    a->cb(s, SIOC_ETIMEDOUT, NULL, a->arg);
    free(a);
    sioc_socket_unref(s);
}

int sioc_socket_emit_ack(sioc_socket_t *s, const char *event, sioc_data_t data, uint32_t timeout_ms,
                         sioc_ack_cb cb, void *arg)
{
    if (!event || !cb)
        return SIOC_EINVAL;
    if (s->state != SIO_SOCK_CONNECTED)
        return SIOC_ENOTCONN;
    sio_ack_t *a = xcalloc(1, sizeof *a);
    a->id = s->nsp->next_ack_id++;
    a->cb = cb;
    a->arg = arg;
    a->s = s;
    int rc = sio__send_packet(s, SIO_EVENT, slice_from_cstr(event), (int64_t)a->id, data);
    if (rc != 0) {
        free(a);
        return rc;
    }
    sio_acks_push(&s->acks, a);
    if (timeout_ms)
        net_timer_start(eio_server_loop(s->nsp->srv->eio), &a->timer, timeout_ms, on_ack_timeout);
    return 0;
}

int sioc_socket_ack(sioc_socket_t *s, int64_t ack_id, sioc_data_t data)
{
    if (ack_id < 0)
        return 0;
    return sio__send_packet(s, SIO_ACK, slice_make("", 0), ack_id, data);
}

/* ---- rooms and disconnect ------------------------------------------------------- */

int sioc_socket_join(sioc_socket_t *s, const char *room)
{
    if (s->state != SIO_SOCK_CONNECTED)
        return SIOC_ENOTCONN;
    if (!room)
        return SIOC_EINVAL;
    slice_t r = slice_from_cstr(room);
    s->nsp->srv->cfg.adapter->add_all(s->nsp->adapter, s, &r, 1);
    return 0;
}

int sioc_socket_leave(sioc_socket_t *s, const char *room)
{
    if (s->state != SIO_SOCK_CONNECTED)
        return SIOC_ENOTCONN;
    if (!room)
        return SIOC_EINVAL;
    s->nsp->srv->cfg.adapter->del(s->nsp->adapter, s, slice_from_cstr(room));
    return 0;
}

bool sioc_socket_in_room(const sioc_socket_t *s, const char *room)
{
    if (s->state != SIO_SOCK_CONNECTED || !room)
        return false;
    return s->nsp->srv->cfg.adapter->has(s->nsp->adapter, s, slice_from_cstr(room));
}

void sioc_socket_disconnect(sioc_socket_t *s, bool close_connection)
{
    struct sio_client *c = s->client;
    if (s->state == SIO_SOCK_GONE || !c)
        return;
    if (!close_connection) {
        sio__socket_gone(s, SIOC_SERVER_NAMESPACE_DISCONNECT, true);
        return;
    }
    while (c->sockets)
        sio__socket_gone(c->sockets, SIOC_SERVER_NAMESPACE_DISCONNECT, true);
    eio_session_close(sio__client_eio(c));
}

/* ---- accessors ------------------------------------------------------------------ */

const char *sioc_socket_id(const sioc_socket_t *s)
{
    return s->id;
}

sioc_nsp_t *sioc_socket_nsp(const sioc_socket_t *s)
{
    return s->nsp;
}

sioc_server_t *sioc_socket_server(const sioc_socket_t *s)
{
    return s->nsp->srv->cfg.owner;
}

void *sioc_socket_get_user(const sioc_socket_t *s)
{
    return s->user;
}

void sioc_socket_set_user(sioc_socket_t *s, void *user)
{
    s->user = user;
}

bool sioc_socket_is_connected(const sioc_socket_t *s)
{
    return s->state == SIO_SOCK_CONNECTED;
}

struct sio_member *sio_socket_member(sioc_socket_t *s)
{
    return &s->member;
}

sioc_socket_t *sio_socket_from_member(struct sio_member *m)
{
    return NET_CONTAINER_OF(m, sioc_socket_t, member);
}

/* ---- received arguments --------------------------------------------------------- */

/* Offset of argument `i` in a->json, or -1 when there is none. */
static long arg_offset(const sioc_args_t *a, size_t i)
{
    size_t pos = 0;
    for (size_t k = 0; k < i; k++) {
        if (json_skip_value(a->json, &pos, NULL, NULL) != 0)
            return -1;
        pos = json_skip_ws(a->json, pos);
        if (pos >= a->json.len || a->json.ptr[pos] != ',')
            return -1;
        pos++;
    }
    pos = json_skip_ws(a->json, pos);
    return i < a->n && pos < a->json.len ? (long)pos : -1;
}

size_t sioc_args_count(const sioc_args_t *a)
{
    return a ? a->n : 0;
}

sioc_str_t sioc_args_at(const sioc_args_t *a, size_t i)
{
    long off = a ? arg_offset(a, i) : -1;
    json_value_t v;
    size_t pos = (size_t)off;
    if (off < 0 || json_skip_value(a->json, &pos, &v, NULL) != 0)
        return (sioc_str_t){"", 0};
    return (sioc_str_t){(const char *)v.raw.ptr, v.raw.len};
}

long sioc_args_string(const sioc_args_t *a, size_t i, char *out, size_t cap)
{
    sioc_str_t raw = sioc_args_at(a, i);
    size_t len = 0;
    if (raw.len < 2 || raw.ptr[0] != '"' || cap == 0)
        return -1;
    if (json_string_unescape(slice_make(raw.ptr, raw.len), (uint8_t *)out, cap - 1, &len) != 0)
        return -1;
    out[len] = '\0';
    return (long)len;
}

size_t sioc_args_bin_count(const sioc_args_t *a)
{
    return a ? a->n_bins : 0;
}

sioc_str_t sioc_args_bin(const sioc_args_t *a, size_t n)
{
    if (!a || n >= a->n_bins)
        return (sioc_str_t){"", 0};
    return a->bins[n];
}

sioc_data_t sioc_args_tail(const sioc_args_t *a, size_t i)
{
    sioc_data_t d = {NULL, 0, a ? a->bins : NULL, a ? a->n_bins : 0};
    long off = a ? arg_offset(a, i) : -1;
    if (off < 0)
        return d;
    d.json = (const char *)a->json.ptr + off;
    d.len = a->json.len - (size_t)off;
    return d;
}

sioc_data_t sioc_args_data(const sioc_args_t *a)
{
    return sioc_args_tail(a, 0);
}
