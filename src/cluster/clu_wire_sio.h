/*
 * clu_wire_sio: the messages of @socket.io/redis-adapter 8.x (classic, PUBLISH/SUBSCRIBE)
 * and @socket.io/redis-emitter 5.x, as a pure codec (cluster layer, no I/O).
 *
 * What travels (redis-adapter-protocol.md §1, §3, checked byte for byte against the
 * installed packages; see tests/unit/cluster/gen_wire_vectors.mjs):
 *   - broadcasts on `<key>#<nsp>#` (several rooms or none) or `<key>#<nsp>#<room>#` (one
 *     room), body msgpack `[uid, {type:2, data:[event, ...args], nsp}, {rooms, except,
 *     flags}]` (the emitter writes the opts keys as rooms, flags, except);
 *   - requests on `<key>-request#<nsp>#`: JSON objects, except the broadcast-with-ack
 *     request (type 7), which is msgpack because its packet may hold binaries;
 *   - responses on `<key>-response#<nsp>#` (or `...#<uid>#`): JSON, except the client
 *     ack (type 9), msgpack. A receiver tells the two apart by the first byte: `{` is
 *     JSON, anything else msgpack.
 *
 * The event data crosses between two representations here: sioc keeps an event as a name,
 * raw JSON arguments with Socket.IO binary placeholders, and a list of binary attachments
 * (sio_outpkt_t); the wire holds msgpack in which binaries are `bin` values. Encoders take
 * the sioc form and write what notepack would (msgpack.h); decoders hand back raw values
 * that msgpack_json_from_mp-style helpers turn into the sioc form, collecting binaries as
 * slices into the message (zero copy).
 *
 * Values inside a request or response may be JSON or msgpack; clu_wire_val_t carries
 * which, and the clu_wire_val_* helpers read either, so the adapter never cares.
 *
 * Ownership: every input is borrowed for the call. Decoded slices and values point into
 * the decoded message (or, where stated, into a caller scratch buf_t) and live as long as
 * it. Encoders append to a caller buf_t (growth aborts on OOM like buf_t: cap the event
 * size first). Threading: stateless and reentrant.
 * Spec: redis-adapter-protocol.md §1.2-§1.4 (channels, broadcast, requests), §3 (emitter),
 * §4 (msgpack); socket.io-adapter broadcast semantics (socketio-protocol.md §2.6).
 */
#ifndef SIOC_CLU_WIRE_SIO_H
#define SIOC_CLU_WIRE_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/msgpack.h"
#include "base/msgpack_json.h"
#include "base/slice.h"

/** Request/response types of the classic adapter (the `type` member). */
enum clu_sio_request_type {
    CLU_SIO_REQ_SOCKETS = 0, /* legacy allSockets */
    CLU_SIO_REQ_ALL_ROOMS = 1,
    CLU_SIO_REQ_REMOTE_JOIN = 2,
    CLU_SIO_REQ_REMOTE_LEAVE = 3,
    CLU_SIO_REQ_REMOTE_DISCONNECT = 4,
    CLU_SIO_REQ_REMOTE_FETCH = 5,
    CLU_SIO_REQ_SERVER_SIDE_EMIT = 6,
    CLU_SIO_REQ_BROADCAST = 7, /* broadcast with acks (msgpack) */
    CLU_SIO_REQ_BROADCAST_CLIENT_COUNT = 8,
    CLU_SIO_REQ_BROADCAST_ACK = 9, /* msgpack */
};

/** The uid @socket.io/redis-emitter publishes with. */
#define CLU_SIO_EMITTER_UID "emitter"

/* ------------------------------------------------------------------ channels */

/**
 * Appends the broadcast channel `<key>#<nsp>#`, or `<key>#<nsp>#<room>#` when `room` is
 * non-NULL (a broadcast to exactly one room goes there).
 */
void clu_wire_sio_bcast_channel(buf_t *out, slice_t key, slice_t nsp, const slice_t *room);

/**
 * Appends the PSUBSCRIBE pattern that receives every broadcast of `nsp`: `<key>#<nsp>#*`,
 * with Redis glob characters (`*?[]\`) in key and nsp escaped by a backslash (the Node
 * adapter does not escape them, so its pattern over-matches; ours does not).
 */
void clu_wire_sio_bcast_pattern(buf_t *out, slice_t key, slice_t nsp);

/** Appends the request channel `<key>-request#<nsp>#`. */
void clu_wire_sio_request_channel(buf_t *out, slice_t key, slice_t nsp);

/** Appends the shared response channel `<key>-response#<nsp>#`, or the specific one
 *  `<key>-response#<nsp>#<uid>#` when `uid` is non-NULL. */
void clu_wire_sio_response_channel(buf_t *out, slice_t key, slice_t nsp, const slice_t *uid);

/**
 * Classifies a channel received through the broadcast pattern of (`key`, `nsp`), as the
 * Node adapter does: the channel must start with `<key>#<nsp>#`; the room is what
 * follows minus the last byte (`socket.io#/#room1#` -> `room1`). Returns 1 with `*room`
 * set (non-empty), 0 for a broadcast without a room (nothing, or a single byte, after
 * the prefix), -1 when the channel does not belong to this namespace.
 */
int clu_wire_sio_parse_bcast_channel(slice_t channel, slice_t key, slice_t nsp, slice_t *room);

/* ------------------------------------------------------------------ values */

/** Which encoding a value is in. */
typedef enum clu_wire_fmt {
    CLU_WIRE_NONE = 0, /* absent */
    CLU_WIRE_JSON,
    CLU_WIRE_MSGPACK,
} clu_wire_fmt_t;

/** One value of a decoded message: its encoding and its exact bytes (borrowed). */
typedef struct clu_wire_val {
    clu_wire_fmt_t fmt;
    slice_t raw;
} clu_wire_val_t;

/** True when the value is present (not CLU_WIRE_NONE). */
static inline bool clu_wire_val_present(clu_wire_val_t v)
{
    return v.fmt != CLU_WIRE_NONE;
}

/** True when the value is absent, null, or notepack's undefined (JS `== null`). */
bool clu_wire_val_is_nullish(clu_wire_val_t v);

/** The value as an integer (JSON number or msgpack number with an integral value in the
 *  int64 / JS safe range). Returns false otherwise. */
bool clu_wire_val_i64(clu_wire_val_t v, int64_t *out);

/** The value as a boolean (true/false only). Returns false otherwise. */
bool clu_wire_val_bool(clu_wire_val_t v, bool *out);

/**
 * The value as a string. A msgpack string, or a JSON string without escapes, points into
 * the message; a JSON string with escapes is unescaped and APPENDED to `scratch`, and
 * `*out` points there (valid until `scratch` next grows). Returns 0, or -1 when it is not
 * a string.
 */
int clu_wire_val_str(clu_wire_val_t v, buf_t *scratch, slice_t *out);

/** The member `key` of an object/map value (the last one, as JS keeps). Returns 1 with
 *  `*out`, 0 when absent or `obj` is not an object, -1 on malformed input. */
int clu_wire_val_get(clu_wire_val_t obj, const char *key, clu_wire_val_t *out);

/** Number of elements of an array value. Returns 0, or -1 when not an array. */
int clu_wire_val_len(clu_wire_val_t arr, size_t *n);

/**
 * Collects the elements of an array of room names into `out` (at most `cap`), as a
 * socket.io-adapter Set would key them: strings as they are, numbers as their JS text
 * (`1` -> "1"). Strings that need unescaping and numbers are written into `scratch`,
 * which is reserved once up front, so every slice stays valid until `scratch` is next
 * modified. Returns 0 with `*n`, or -1 with `*err` (not an array, an element of another
 * type, or more than `cap` elements). An absent or null value gives 0 rooms.
 */
int clu_wire_val_strings(clu_wire_val_t arr, slice_t *out, size_t cap, size_t *n, buf_t *scratch,
                         const char **err);

/**
 * Appends the value as JSON text: a JSON value is copied as it is (binaries cannot
 * occur); a msgpack value is converted by msgpack_json_from_mp (binaries become placeholders
 * collected in `bins`, or Buffer objects when `bins` is NULL). Returns 0 or -1.
 */
int clu_wire_val_to_json(clu_wire_val_t v, buf_t *out, msgpack_bins_t *bins, const char **err);

/**
 * Splits the event array `[name, ...args]` of a packet or request: `*name` gets the
 * event name (a string; via `scratch` when a JSON name has escapes), `args` gets the
 * arguments appended as comma-separated JSON without brackets (the sio_outpkt_t `args`
 * form; binaries become placeholders collected in `bins`, which may be NULL only for JSON
 * values), `*nargs` their number. Returns 0, or -1 with `*err` (not an array, empty, or
 * a name that is not a string).
 */
int clu_wire_val_event(clu_wire_val_t data, buf_t *scratch, slice_t *name, buf_t *args,
                       msgpack_bins_t *bins, size_t *nargs, const char **err);

/* ------------------------------------------------------------------ broadcasts */

/** Broadcast flags (the `flags` object of the options). */
typedef struct clu_sio_flags {
    bool is_volatile; /* volatile: true */
    bool local;       /* local: true (a Node node never publishes it) */
    int8_t compress;  /* -1 absent, 0 compress: false, 1 compress: true */
    bool has_timeout; /* timeout present (broadcast with acks) */
    uint64_t timeout; /* ms */
} clu_sio_flags_t;

/** No flags (compress absent). */
#define CLU_SIO_FLAGS_NONE ((clu_sio_flags_t){false, false, -1, false, 0})

/** Who gets a broadcast, for encoding. Slices borrowed for the call. */
typedef struct clu_sio_target {
    const slice_t *rooms; /* n_rooms == 0: everybody in the namespace */
    size_t n_rooms;
    const slice_t *except;
    size_t n_except;
    clu_sio_flags_t flags;
} clu_sio_target_t;

/** An event in sioc's form, for encoding. Slices borrowed for the call. */
typedef struct clu_sio_event {
    slice_t nsp;         /* namespace name, e.g. "/" or "/admin" */
    slice_t name;        /* event name, UTF-8 */
    slice_t args;        /* raw JSON arguments, comma-separated, no brackets; may be empty */
    const slice_t *bins; /* attachments referenced by placeholders in args */
    size_t nbins;
} clu_sio_event_t;

/**
 * Appends the msgpack broadcast message `[uid, {type:2, data:[name, ...args], nsp},
 * {rooms, except, flags}]` exactly as the Node adapter writes it (flags members in the
 * order volatile, compress, timeout; only those set). Returns 0, or -1 with `*err` when
 * `args` is not a valid JSON list or a placeholder is out of range (`out` may then hold
 * a partial message: truncate it back).
 */
int clu_wire_sio_encode_broadcast(buf_t *out, slice_t uid, const clu_sio_event_t *ev,
                                  const clu_sio_target_t *t, const char **err);

/** A decoded broadcast message. Slices borrow the message. */
typedef struct clu_sio_bcast {
    slice_t uid;         /* publisher (CLU_SIO_EMITTER_UID for the emitter) */
    int64_t type;        /* packet.type: 2 (EVENT) in practice */
    slice_t nsp;         /* packet.nsp, "/" when absent */
    clu_wire_val_t data; /* packet.data: [event, ...args] (msgpack) */
    bool has_id;         /* packet.id present (not published by current peers) */
    uint64_t id;
    clu_wire_val_t rooms;  /* opts.rooms (absent when missing) */
    clu_wire_val_t except; /* opts.except */
    clu_sio_flags_t flags; /* opts.flags */
} clu_sio_bcast_t;

/**
 * Decodes a broadcast message (any map key order; trailing bytes refused, as notepack
 * does). The uid must be a string and the packet a map with an array `data`; rooms and
 * except, when present, must be arrays. Returns 0, or -1 with `*err` on anything else
 * (the adapter then ignores the message, as the Node adapter would).
 */
int clu_wire_sio_decode_broadcast(slice_t msg, clu_sio_bcast_t *out, const char **err);

/** Reads a flags object/map (either format); unknown members are ignored. */
void clu_wire_sio_flags(clu_wire_val_t flags, clu_sio_flags_t *out);

/* ------------------------------------------------------------------ requests/responses */

/** A decoded request or response: the members the classic adapter uses (absent ones are
 *  CLU_WIRE_NONE). Values borrow the message. */
typedef struct clu_sio_msg {
    clu_wire_fmt_t fmt; /* the whole message's format */
    int64_t type;       /* -1 when absent or not an integer */
    clu_wire_val_t uid; /* requester (absent in emitter requests) */
    clu_wire_val_t request_id;
    clu_wire_val_t opts;         /* {rooms, except[, flags]} */
    clu_wire_val_t rooms;        /* join/leave: rooms; allRooms response: rooms */
    clu_wire_val_t close;        /* disconnect */
    clu_wire_val_t data;         /* serverSideEmit: [event, ...args] or the ack arg */
    clu_wire_val_t packet;       /* type 7: the packet map; type 9: the ack argument */
    clu_wire_val_t client_count; /* type 8 */
    clu_wire_val_t sockets;      /* fetch/allSockets responses */
    clu_wire_val_t sid;          /* legacy per-socket requests */
    clu_wire_val_t room;         /* legacy per-socket join/leave */
} clu_sio_msg_t;

/**
 * Decodes a request or response: JSON when the first byte is `{` (validated entirely, as
 * JSON.parse would), msgpack otherwise (validated entirely); the top level must be an
 * object/map. Returns 0, or -1 with `*err` (the adapter ignores the message).
 */
int clu_wire_sio_decode_msg(slice_t msg, clu_sio_msg_t *out, const char **err);

/** Appends `{"uid":U,"requestId":R,"type":1}` (allRooms). */
void clu_wire_sio_encode_all_rooms_req(buf_t *out, slice_t uid, slice_t request_id);

/** Appends `{"uid":U,"requestId":R,"type":5,"opts":{"rooms":[..],"except":[..]}}`. */
void clu_wire_sio_encode_fetch_req(buf_t *out, slice_t uid, slice_t request_id,
                                   const clu_sio_target_t *t);

/**
 * Appends a socketsJoin (`type` CLU_SIO_REQ_REMOTE_JOIN) or socketsLeave
 * (CLU_SIO_REQ_REMOTE_LEAVE) request `{"uid":U,"type":T,"opts":{..},"rooms":[..]}`.
 */
void clu_wire_sio_encode_rooms_req(buf_t *out, slice_t uid, int type, const clu_sio_target_t *t,
                                   const slice_t *rooms, size_t n);

/** Appends `{"uid":U,"type":4,"opts":{..},"close":B}` (disconnectSockets). */
void clu_wire_sio_encode_disconnect_req(buf_t *out, slice_t uid, const clu_sio_target_t *t,
                                        bool close);

/**
 * Appends a serverSideEmit request `{"uid":U[,"requestId":R],"type":6,"data":[name,
 * args]}` (`request_id` NULL: no ack wanted). `args` is raw JSON (no binaries: the Node
 * adapter sends these as JSON too).
 */
void clu_wire_sio_encode_sse_req(buf_t *out, slice_t uid, const slice_t *request_id, slice_t name,
                                 slice_t args);

/**
 * Appends the msgpack broadcast-with-ack request `{uid, requestId, type:7, packet:{type:2,
 * data, nsp}, opts:{rooms, except, flags}}` (flags should carry the timeout). Returns 0
 * or -1 as clu_wire_sio_encode_broadcast.
 */
int clu_wire_sio_encode_bcast_ack_req(buf_t *out, slice_t uid, slice_t request_id,
                                      const clu_sio_event_t *ev, const clu_sio_target_t *t,
                                      const char **err);

/** Appends the allRooms response `{"requestId":R,"rooms":[..]}`. */
void clu_wire_sio_encode_all_rooms_resp(buf_t *out, slice_t request_id, const slice_t *rooms,
                                        size_t n);

/** Starts a fetchSockets response: `{"requestId":R,"sockets":[`. */
void clu_wire_sio_encode_fetch_resp_begin(buf_t *out, slice_t request_id);

/**
 * Appends one socket `{"id":I,"handshake":H,"rooms":[..],"data":D}` to a fetchSockets
 * response (`first`: no comma before it). `handshake_json` and `data_json` are raw JSON;
 * an empty `data_json` leaves `data` out (JS undefined).
 */
void clu_wire_sio_encode_fetch_resp_socket(buf_t *out, bool first, slice_t id,
                                           slice_t handshake_json, const slice_t *rooms, size_t n,
                                           slice_t data_json);

/** Ends a fetchSockets response: `]}`. */
void clu_wire_sio_encode_fetch_resp_end(buf_t *out);

/** Appends a serverSideEmit ack response `{"type":6,"requestId":R,"data":A}`; an empty
 *  `arg_json` leaves `data` out (the listener acked with no argument). */
void clu_wire_sio_encode_sse_resp(buf_t *out, slice_t request_id, slice_t arg_json);

/** Appends `{"type":8,"requestId":R,"clientCount":N}`. */
void clu_wire_sio_encode_client_count_resp(buf_t *out, slice_t request_id, uint64_t count);

/**
 * Appends the msgpack client-ack response `{type:9, requestId, packet:<arg>}` where the
 * argument is raw JSON with placeholders for `bins` (empty: the client acked with no
 * argument, and `packet` is left out as notepack leaves out undefined). Returns 0 or -1.
 */
int clu_wire_sio_encode_ack_resp(buf_t *out, slice_t request_id, slice_t arg_json,
                                 const slice_t *bins, size_t nbins, const char **err);

#endif
