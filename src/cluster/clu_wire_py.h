/*
 * clu_wire_py: python-socketio's Redis manager messages (>= 5.14, JSON), as a pure codec
 * (cluster layer, no I/O).
 *
 * What travels (redis-adapter-protocol.md §5, openwebui-protocol.md §9): one pub/sub
 * channel, `socketio` by default, carrying JSON objects with a `method`:
 *
 *   {"method": "emit", "event": E, "data": [args...], "binary": false, "namespace": "/",
 *    "room": R|[R...]|null, "skip_sid": S|[S...]|null, "callback": [room, ns, id]|null,
 *    "host_id": H}
 *   {"method": "callback", "host_id": <origin>, "sid": S, "namespace": N, "id": I,
 *    "args": [...]}
 *   {"method": "disconnect", "sid": S, "namespace": N, "host_id": H}
 *   {"method": "enter_room"|"leave_room", "sid": S, "room": R, "namespace": N,
 *    "host_id": H}
 *   {"method": "close_room", "room": R, "namespace": N, "host_id": H}
 *
 * With binaries (>= 5.14.2) `binary` is true and `data` is `[[args with
 * {"_placeholder": true, "num": N}], "<base64 of attachment 0>", ...]`. Open WebUI 0.11.5
 * (WEBSOCKET_REDIS_ROOM_CHANNELS) publishes an emit whose `room` is one string on
 * `<channel>#<namespace>#<room>` instead, and every instance PSUBSCRIBEs `<channel>#*`.
 *
 * Encoders write what the Python side writes, byte for byte: the stdlib json.dumps
 * defaults, i.e. `", "` and `": "` separators, non-ASCII and DEL escaped as lower-case
 * `\uXXXX` (surrogate pairs above U+FFFF), integers as written, floats as Python's repr
 * (`1.0`, `1e+16`, `1e-05`), keys in python-socketio's order; one exception: a number
 * out of the double range (`1e400`) is written `null` (JSON.stringify's choice) where
 * Python would write its non-JSON `Infinity`. Decoders accept any valid
 * JSON (json.loads does); Python's non-standard `NaN`/`Infinity` literals are refused
 * here (the message is then ignored).
 *
 * Oracle: the goldens in tests/unit/cluster/test_clu_wire_py.c are built from the spec
 * and python-socketio's source (async_pubsub_manager.py at 5.14+), not from a running
 * Python: Debian's python3-socketio is 5.7.2, which still publishes pickle.
 *
 * Ownership: inputs borrowed for the call; decoded values point into the message.
 * Threading: stateless, reentrant.
 * Spec: redis-adapter-protocol.md §5; openwebui-protocol.md §9.1, §9.3.
 */
#ifndef SIOC_CLU_WIRE_PY_H
#define SIOC_CLU_WIRE_PY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "cluster/clu_wire_sio.h"

/** python-socketio's default channel name. */
#define CLU_PY_DEFAULT_CHANNEL "socketio"

/** The `method` of a message. */
typedef enum clu_py_method {
    CLU_PY_UNKNOWN = 0, /* another method (e.g. a newer version's): ignore */
    CLU_PY_EMIT,
    CLU_PY_CALLBACK,
    CLU_PY_DISCONNECT,
    CLU_PY_ENTER_ROOM,
    CLU_PY_LEAVE_ROOM,
    CLU_PY_CLOSE_ROOM,
} clu_py_method_t;

/** A decoded message: the members python-socketio reads (absent: CLU_WIRE_NONE). All
 *  values are JSON and borrow the message. */
typedef struct clu_py_msg {
    clu_py_method_t method;
    clu_wire_val_t host_id;
    clu_wire_val_t event;
    clu_wire_val_t data;
    clu_wire_val_t binary;
    clu_wire_val_t nsp; /* "namespace" */
    clu_wire_val_t room;
    clu_wire_val_t skip_sid;
    clu_wire_val_t callback;
    clu_wire_val_t sid;
    clu_wire_val_t id;
    clu_wire_val_t args;
} clu_py_msg_t;

/**
 * Decodes a message: a JSON object with a string `method` (as the Python listener
 * requires). Returns 0 (method CLU_PY_UNKNOWN for other methods), or -1 with `*err`.
 */
int clu_wire_py_decode(slice_t msg, clu_py_msg_t *out, const char **err);

/**
 * Reads a `room` or `skip_sid` value: null/absent -> `*all` true and 0 names (for room:
 * everyone in the namespace; for skip_sid: nobody skipped); a string -> one name; a list
 * -> its names. Names are collected as clu_wire_val_strings does (escaped ones go to
 * `scratch`). Returns 0, or -1 with `*err` (other types, more than `cap`).
 */
int clu_wire_py_names(clu_wire_val_t v, slice_t *out, size_t cap, size_t *n, bool *all,
                      buf_t *scratch, const char **err);

/**
 * The arguments of an emit in sioc's form: `args` gets them as comma-separated JSON
 * without brackets (placeholders kept for binaries), `*nargs` their number. A `data` list
 * gives its elements (an empty list: no arguments), anything else one argument. With
 * `binary` true, `data` is `[list, b64...]`: the arguments are the first element's and
 * every base64 attachment is decoded into `att` (appended; reserved once, so the slices
 * stored in `bins` stay valid until `att` is next modified), at most `cap` of them.
 * Returns 0, or -1 with `*err` (bad base64, too many attachments, no data).
 */
int clu_wire_py_emit_args(const clu_py_msg_t *m, buf_t *args, size_t *nargs, buf_t *att,
                          slice_t *bins, size_t cap, size_t *nbins, const char **err);

/**
 * Reads the `callback` of an emit: `[room, namespace, id]` (exactly three elements, as
 * the receiver requires). Returns 1 with the parts (strings via `scratch`), 0 when null
 * or absent or not such a list, -1 on malformed strings.
 */
int clu_wire_py_callback(const clu_py_msg_t *m, buf_t *scratch, slice_t *room, slice_t *nsp,
                         int64_t *id);

/** Names for encoding: `list` false with n == 1 writes a string, NULL/0 with `list` false
 *  writes null, otherwise a list. */
typedef struct clu_py_names {
    const slice_t *names;
    size_t n;
    bool list;
} clu_py_names_t;

/** An emit for encoding. Slices borrowed for the call. */
typedef struct clu_py_emit {
    slice_t event;       /* UTF-8 */
    slice_t args;        /* raw JSON arguments, comma-separated, placeholders for bins */
    const slice_t *bins; /* attachments (binary emit when nbins > 0) */
    size_t nbins;
    slice_t nsp; /* namespace */
    clu_py_names_t room;
    clu_py_names_t skip_sid;
    bool has_callback; /* ack wanted: callback = [cb_room, nsp, cb_id] */
    slice_t cb_room;
    uint64_t cb_id;
    slice_t host_id;
} clu_py_emit_t;

/** Appends an emit message. Returns 0, or -1 with `*err` when `args` is not valid JSON. */
int clu_wire_py_encode_emit(buf_t *out, const clu_py_emit_t *e, const char **err);

/** Appends a callback message addressed to `host_id` (the emitter's); `args_json` is the
 *  raw JSON ack arguments, comma-separated (may be empty). Returns 0 or -1. */
int clu_wire_py_encode_callback(buf_t *out, slice_t host_id, slice_t sid, slice_t nsp, uint64_t id,
                                slice_t args_json, const char **err);

/** Appends `{"method": "disconnect", "sid": S, "namespace": N, "host_id": H}`. */
void clu_wire_py_encode_disconnect(buf_t *out, slice_t sid, slice_t nsp, slice_t host_id);

/** Appends an enter_room (`enter` true) or leave_room message. */
void clu_wire_py_encode_room(buf_t *out, bool enter, slice_t sid, slice_t room, slice_t nsp,
                             slice_t host_id);

/** Appends `{"method": "close_room", "room": R, "namespace": N, "host_id": H}`. */
void clu_wire_py_encode_close_room(buf_t *out, slice_t room, slice_t nsp, slice_t host_id);

/**
 * Appends a JSON value re-written the way Python's json.dumps writes json.loads' result
 * (separators, ASCII escapes, float repr). Returns 0, or -1 on invalid JSON.
 */
int clu_wire_py_json(buf_t *out, slice_t json, const char **err);

/** Appends Open WebUI 0.11.5's per-room channel `<channel>#<nsp>#<room>`. */
void clu_wire_py_room_channel(buf_t *out, slice_t channel, slice_t nsp, slice_t room);

/** Appends the pattern `<channel>#*` (glob characters of `channel` escaped). */
void clu_wire_py_room_pattern(buf_t *out, slice_t channel);

/**
 * Splits a per-room channel `<channel>#<nsp>#<room>`: the namespace runs to the next `#`,
 * the room is the rest (may contain `#`). Returns 0, or -1 when it is not one.
 */
int clu_wire_py_parse_room_channel(slice_t name, slice_t channel, slice_t *nsp, slice_t *room);

/** Formats 16 random bytes as a uuid4().hex host id (32 lower-case hex digits, version
 *  and variant bits set as uuid4 sets them) plus a NUL. */
void clu_wire_py_host_id(const uint8_t rnd[16], char out[33]);

#endif
