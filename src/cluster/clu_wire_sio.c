/*
 * clu_wire_sio: @socket.io/redis-adapter 8.x / redis-emitter 5.x message codec. See the
 * header for the contract.
 *
 * Encoders write members in the order the Node adapter writes them, so a sioc node's
 * messages are byte-identical to a Node node's for the same event (the tests compare
 * against captured bytes). Decoders accept any order and either format wherever the
 * Node receiver does (it calls JSON.parse or notepack.decode on whatever arrives).
 */
#include "cluster/clu_wire_sio.h"

#include <string.h>

#include "base/json.h"

static int fail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -1;
}

/* ------------------------------------------------------------------ channels */

void clu_wire_sio_bcast_channel(buf_t *out, slice_t key, slice_t nsp, const slice_t *room)
{
    buf_append_slice(out, key);
    buf_append_byte(out, '#');
    buf_append_slice(out, nsp);
    buf_append_byte(out, '#');
    if (room) {
        buf_append_slice(out, *room);
        buf_append_byte(out, '#');
    }
}

static void append_glob_escaped(buf_t *out, slice_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            buf_append_byte(out, '\\');
        buf_append_byte(out, c);
    }
}

void clu_wire_sio_bcast_pattern(buf_t *out, slice_t key, slice_t nsp)
{
    append_glob_escaped(out, key);
    buf_append_byte(out, '#');
    append_glob_escaped(out, nsp);
    buf_append_cstr(out, "#*");
}

void clu_wire_sio_request_channel(buf_t *out, slice_t key, slice_t nsp)
{
    buf_append_slice(out, key);
    buf_append_cstr(out, "-request#");
    buf_append_slice(out, nsp);
    buf_append_byte(out, '#');
}

void clu_wire_sio_response_channel(buf_t *out, slice_t key, slice_t nsp, const slice_t *uid)
{
    buf_append_slice(out, key);
    buf_append_cstr(out, "-response#");
    buf_append_slice(out, nsp);
    buf_append_byte(out, '#');
    if (uid) {
        buf_append_slice(out, *uid);
        buf_append_byte(out, '#');
    }
}

int clu_wire_sio_parse_bcast_channel(slice_t channel, slice_t key, slice_t nsp, slice_t *room)
{
    size_t plen = key.len + nsp.len + 2;
    if (channel.len < plen || memcmp(channel.ptr, key.ptr, key.len) != 0 ||
        channel.ptr[key.len] != '#' || memcmp(channel.ptr + key.len + 1, nsp.ptr, nsp.len) != 0 ||
        channel.ptr[plen - 1] != '#')
        return -1;
    if (channel.len - plen < 2)
        return 0;
    *room = slice_make(channel.ptr + plen, channel.len - plen - 1);
    return 1;
}

/* ------------------------------------------------------------------ values */

/* json_object_next (base/json.c at 28486d7) mis-measures keys that are empty or start
 * with an escape; re-scan the key from its opening quote inside the object text. */
static json_value_t object_key(slice_t obj, json_value_t k)
{
    size_t pos = (size_t)(k.raw.ptr - obj.ptr);
    json_value_t fixed;
    if (json_skip_value(obj, &pos, &fixed, NULL) < 0 || fixed.type != JSON_STRING)
        return k;
    return fixed;
}

static clu_wire_val_t jval(slice_t raw)
{
    return (clu_wire_val_t){CLU_WIRE_JSON, raw};
}

static clu_wire_val_t mval(slice_t raw)
{
    return (clu_wire_val_t){CLU_WIRE_MSGPACK, raw};
}

static json_type_t json_kind(slice_t raw)
{
    json_value_t v;
    size_t pos = 0;
    return json_skip_value(raw, &pos, &v, NULL) < 0 ? JSON_INVALID : v.type;
}

static msgpack_type_t mp_kind(slice_t raw, msgpack_value_t *v)
{
    size_t pos = 0;
    return msgpack_read(raw, &pos, v, NULL) < 0 ? MSGPACK_INVALID : v->type;
}

bool clu_wire_val_is_nullish(clu_wire_val_t v)
{
    msgpack_value_t m;
    switch (v.fmt) {
    case CLU_WIRE_JSON:
        return json_kind(v.raw) == JSON_NULL;
    case CLU_WIRE_MSGPACK: {
        msgpack_type_t t = mp_kind(v.raw, &m);
        return t == MSGPACK_NIL || t == MSGPACK_UNDEFINED;
    }
    default:
        return true;
    }
}

bool clu_wire_val_i64(clu_wire_val_t v, int64_t *out)
{
    msgpack_value_t m;
    if (v.fmt == CLU_WIRE_JSON)
        return json_kind(v.raw) == JSON_NUMBER && json_number_to_i64(v.raw, out) == 0;
    if (v.fmt == CLU_WIRE_MSGPACK && mp_kind(v.raw, &m) != MSGPACK_INVALID)
        return msgpack_to_i64(&m, out);
    return false;
}

bool clu_wire_val_bool(clu_wire_val_t v, bool *out)
{
    msgpack_value_t m;
    if (v.fmt == CLU_WIRE_JSON) {
        json_type_t t = json_kind(v.raw);
        *out = t == JSON_TRUE;
        return t == JSON_TRUE || t == JSON_FALSE;
    }
    if (v.fmt == CLU_WIRE_MSGPACK && mp_kind(v.raw, &m) == MSGPACK_BOOL) {
        *out = m.v.b;
        return true;
    }
    return false;
}

int clu_wire_val_str(clu_wire_val_t v, buf_t *scratch, slice_t *out)
{
    msgpack_value_t m;
    if (v.fmt == CLU_WIRE_MSGPACK) {
        if (mp_kind(v.raw, &m) != MSGPACK_STR)
            return -1;
        *out = m.v.bytes;
        return 0;
    }
    if (v.fmt != CLU_WIRE_JSON || json_kind(v.raw) != JSON_STRING)
        return -1;
    if (!json_string_has_escapes(v.raw)) {
        *out = slice_make(v.raw.ptr + 1, v.raw.len - 2);
        return 0;
    }
    size_t at = scratch->len;
    if (json_string_unescape_buf(v.raw, scratch) < 0)
        return -1;
    *out = scratch->len > at ? slice_make(buf_data(scratch) + at, scratch->len - at)
                             : slice_make(NULL, 0);
    return 0;
}

static int json_get(slice_t obj, const char *key, clu_wire_val_t *out)
{
    json_iter_t it;
    json_value_t k, v;
    int rc, found = 0;
    if (json_kind(obj) != JSON_OBJECT)
        return 0;
    if (json_object_begin(&it, obj, NULL) < 0)
        return -1;
    while ((rc = json_object_next(&it, &k, &v, NULL)) == 1) {
        if (json_string_eq(object_key(obj, k).raw, slice_from_cstr(key))) {
            *out = jval(v.raw);
            found = 1;
        }
    }
    return rc < 0 ? -1 : found;
}

int clu_wire_val_get(clu_wire_val_t obj, const char *key, clu_wire_val_t *out)
{
    msgpack_value_t m;
    if (obj.fmt == CLU_WIRE_JSON)
        return json_get(obj.raw, key, out);
    if (obj.fmt != CLU_WIRE_MSGPACK || mp_kind(obj.raw, &m) != MSGPACK_MAP)
        return 0;
    int rc = msgpack_map_get(obj.raw, slice_from_cstr(key), &m, NULL);
    if (rc == 1)
        *out = mval(m.raw);
    return rc;
}

int clu_wire_val_len(clu_wire_val_t arr, size_t *n)
{
    msgpack_value_t m;
    if (arr.fmt == CLU_WIRE_MSGPACK) {
        if (mp_kind(arr.raw, &m) != MSGPACK_ARRAY)
            return -1;
        *n = m.n;
        return 0;
    }
    json_iter_t it;
    json_value_t v;
    int rc;
    size_t count = 0;
    if (arr.fmt != CLU_WIRE_JSON || json_array_begin(&it, arr.raw, NULL) < 0)
        return -1;
    while ((rc = json_array_next(&it, &v, NULL)) == 1)
        count++;
    if (rc < 0)
        return -1;
    *n = count;
    return 0;
}

/* Room lists ------------------------------------------------------------------------ */

/* Bytes a room element may need in scratch: a JSON string's unescaped text is never
 * longer than its raw text; any number's JS text fits in 32 bytes. */
static size_t room_scratch_need(clu_wire_val_t e)
{
    if (e.fmt == CLU_WIRE_JSON)
        return json_kind(e.raw) == JSON_STRING ? e.raw.len : 32;
    return 32;
}

/* One element into `*out`, writing into the reserved area at `*w` when it needs text. */
static int room_elem(clu_wire_val_t e, uint8_t **w, slice_t *out, const char **err)
{
    msgpack_value_t m;
    double d;
    buf_t tmp = BUF_INIT; /* numbers: formatted then copied into the reserved area */
    if (e.fmt == CLU_WIRE_MSGPACK) {
        msgpack_type_t t = mp_kind(e.raw, &m);
        if (t == MSGPACK_STR) {
            *out = m.v.bytes;
            return 0;
        }
        if (t != MSGPACK_UINT && t != MSGPACK_INT && t != MSGPACK_FLOAT)
            return fail(err, "clu_wire: room is not a string");
        d = t == MSGPACK_UINT ? (double)m.v.u : t == MSGPACK_INT ? (double)m.v.i : m.v.f;
    } else {
        json_type_t t = json_kind(e.raw);
        if (t == JSON_STRING) {
            size_t n = 0;
            if (!json_string_has_escapes(e.raw)) {
                *out = slice_make(e.raw.ptr + 1, e.raw.len - 2);
                return 0;
            }
            if (json_string_unescape(e.raw, *w, e.raw.len, &n) < 0)
                return fail(err, "clu_wire: bad room string");
            *out = slice_make(*w, n);
            *w += n;
            return 0;
        }
        if (t != JSON_NUMBER || json_number_to_double(e.raw, &d) < 0)
            return fail(err, "clu_wire: room is not a string");
    }
    json_append_double(&tmp, d);
    if (tmp.len > 32) {
        buf_dispose(&tmp);
        return fail(err, "clu_wire: bad room number");
    }
    memcpy(*w, buf_data(&tmp), tmp.len);
    *out = slice_make(*w, tmp.len);
    *w += tmp.len;
    buf_dispose(&tmp);
    return 0;
}

/* Visits the elements of an array value in either format. */
typedef struct val_iter {
    clu_wire_fmt_t fmt;
    json_iter_t j;
    msgpack_iter_t m;
} val_iter_t;

static int val_iter_begin(val_iter_t *it, clu_wire_val_t arr)
{
    it->fmt = arr.fmt;
    if (arr.fmt == CLU_WIRE_JSON)
        return json_kind(arr.raw) == JSON_ARRAY ? json_array_begin(&it->j, arr.raw, NULL) : -1;
    if (arr.fmt != CLU_WIRE_MSGPACK || msgpack_iter_begin(&it->m, arr.raw, NULL) < 0)
        return -1;
    return msgpack_iter_is_map(&it->m) ? -1 : 0;
}

static int val_iter_next(val_iter_t *it, clu_wire_val_t *e)
{
    int rc;
    if (it->fmt == CLU_WIRE_JSON) {
        json_value_t v;
        rc = json_array_next(&it->j, &v, NULL);
        if (rc == 1)
            *e = jval(v.raw);
        return rc;
    }
    msgpack_value_t m;
    rc = msgpack_iter_next(&it->m, &m, NULL, NULL);
    if (rc == 1)
        *e = mval(m.raw);
    return rc;
}

int clu_wire_val_strings(clu_wire_val_t arr, slice_t *out, size_t cap, size_t *n, buf_t *scratch,
                         const char **err)
{
    val_iter_t it;
    clu_wire_val_t e;
    size_t count = 0, need = 0;
    int rc;
    *n = 0;
    if (clu_wire_val_is_nullish(arr))
        return 0;
    if (val_iter_begin(&it, arr) < 0)
        return fail(err, "clu_wire: rooms is not an array");
    while ((rc = val_iter_next(&it, &e)) == 1) {
        if (++count > cap)
            return fail(err, "clu_wire: too many rooms");
        need += room_scratch_need(e);
    }
    if (rc < 0)
        return fail(err, "clu_wire: bad rooms array");
    uint8_t *w = need ? buf_reserve(scratch, need) : NULL, *start = w;
    val_iter_begin(&it, arr);
    for (size_t i = 0; i < count; i++) {
        val_iter_next(&it, &e);
        if (room_elem(e, &w, &out[i], err) < 0)
            return -1;
    }
    if (start)
        buf_commit(scratch, (size_t)(w - start));
    *n = count;
    return 0;
}

int clu_wire_val_to_json(clu_wire_val_t v, buf_t *out, msgpack_bins_t *bins, const char **err)
{
    if (v.fmt == CLU_WIRE_JSON) {
        buf_append_slice(out, v.raw);
        return 0;
    }
    if (v.fmt != CLU_WIRE_MSGPACK)
        return fail(err, "clu_wire: value absent");
    return msgpack_json_from_mp(v.raw, out, bins, err);
}

int clu_wire_val_event(clu_wire_val_t data, buf_t *scratch, slice_t *name, buf_t *args,
                       msgpack_bins_t *bins, size_t *nargs, const char **err)
{
    val_iter_t it;
    clu_wire_val_t e;
    size_t count = 0;
    int rc;
    if (val_iter_begin(&it, data) < 0)
        return fail(err, "clu_wire: event data is not an array");
    if (val_iter_next(&it, &e) != 1 || clu_wire_val_str(e, scratch, name) < 0)
        return fail(err, "clu_wire: event name is not a string");
    if (data.fmt == CLU_WIRE_MSGPACK) {
        if (msgpack_json_list_from_mp(data.raw, 1, args, bins, &count, err) < 0)
            return -1;
        *nargs = count;
        return 0;
    }
    while ((rc = val_iter_next(&it, &e)) == 1) {
        if (count++)
            buf_append_byte(args, ',');
        buf_append_slice(args, e.raw);
    }
    if (rc < 0)
        return fail(err, "clu_wire: bad event data");
    *nargs = count;
    return 0;
}

/* ------------------------------------------------------------------ broadcasts */

static void mp_strings(buf_t *out, const slice_t *s, size_t n)
{
    msgpack_append_array_header(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_append_str(out, s[i]);
}

static void mp_flags(buf_t *out, const clu_sio_flags_t *f)
{
    uint32_t n = (uint32_t)f->is_volatile + (f->compress >= 0) + (uint32_t)f->has_timeout;
    msgpack_append_map_header(out, n);
    if (f->is_volatile) {
        msgpack_append_str(out, SLICE_LIT("volatile"));
        msgpack_append_bool(out, true);
    }
    if (f->compress >= 0) {
        msgpack_append_str(out, SLICE_LIT("compress"));
        msgpack_append_bool(out, f->compress > 0);
    }
    if (f->has_timeout) {
        msgpack_append_str(out, SLICE_LIT("timeout"));
        msgpack_append_uint(out, f->timeout);
    }
}

/* {rooms, except, flags}: the adapter's order (the emitter's is rooms, flags, except). */
static void mp_opts(buf_t *out, const clu_sio_target_t *t)
{
    msgpack_append_map_header(out, 3);
    msgpack_append_str(out, SLICE_LIT("rooms"));
    mp_strings(out, t->rooms, t->n_rooms);
    msgpack_append_str(out, SLICE_LIT("except"));
    mp_strings(out, t->except, t->n_except);
    msgpack_append_str(out, SLICE_LIT("flags"));
    mp_flags(out, &t->flags);
}

/* {type:2, data:[name, ...args], nsp}. Binaries only when the event has attachments: a
 * plain event's `{"_placeholder":...}` object is data like any other. */
static int mp_packet(buf_t *out, const clu_sio_event_t *ev, const char **err)
{
    uint32_t nargs;
    if (msgpack_json_list_count(ev->args, &nargs, err) < 0 || nargs == UINT32_MAX)
        return fail(err, "clu_wire: bad event arguments");
    msgpack_append_map_header(out, 3);
    msgpack_append_str(out, SLICE_LIT("type"));
    msgpack_append_uint(out, 2);
    msgpack_append_str(out, SLICE_LIT("data"));
    msgpack_append_array_header(out, nargs + 1);
    msgpack_append_str(out, ev->name);
    if (msgpack_json_list_to_mp(ev->args, out, ev->nbins ? ev->bins : NULL, ev->nbins, NULL, err) <
        0)
        return -1;
    msgpack_append_str(out, SLICE_LIT("nsp"));
    msgpack_append_str(out, ev->nsp);
    return 0;
}

int clu_wire_sio_encode_broadcast(buf_t *out, slice_t uid, const clu_sio_event_t *ev,
                                  const clu_sio_target_t *t, const char **err)
{
    msgpack_append_array_header(out, 3);
    msgpack_append_str(out, uid);
    if (mp_packet(out, ev, err) < 0)
        return -1;
    mp_opts(out, t);
    return 0;
}

void clu_wire_sio_flags(clu_wire_val_t flags, clu_sio_flags_t *out)
{
    clu_wire_val_t v;
    bool b;
    int64_t i;
    *out = CLU_SIO_FLAGS_NONE;
    if (clu_wire_val_get(flags, "volatile", &v) == 1 && clu_wire_val_bool(v, &b))
        out->is_volatile = b;
    if (clu_wire_val_get(flags, "local", &v) == 1 && clu_wire_val_bool(v, &b))
        out->local = b;
    if (clu_wire_val_get(flags, "compress", &v) == 1 && clu_wire_val_bool(v, &b))
        out->compress = b ? 1 : 0;
    if (clu_wire_val_get(flags, "timeout", &v) == 1 && clu_wire_val_i64(v, &i) && i >= 0) {
        out->has_timeout = true;
        out->timeout = (uint64_t)i;
    }
}

/* The packet map of a broadcast: type, data (array), nsp (string or absent), id. */
static int decode_packet(slice_t raw, clu_sio_bcast_t *out, const char **err)
{
    msgpack_value_t v;
    int64_t i;
    if (msgpack_map_get(raw, SLICE_LIT("data"), &v, err) != 1 || v.type != MSGPACK_ARRAY)
        return fail(err, "clu_wire: packet without data array");
    out->data = mval(v.raw);
    out->type = -1;
    if (msgpack_map_get(raw, SLICE_LIT("type"), &v, err) == 1 && msgpack_to_i64(&v, &i))
        out->type = i;
    out->nsp = SLICE_LIT("/");
    if (msgpack_map_get(raw, SLICE_LIT("nsp"), &v, err) == 1 && v.type != MSGPACK_UNDEFINED) {
        if (v.type != MSGPACK_STR)
            return fail(err, "clu_wire: packet nsp is not a string");
        out->nsp = v.v.bytes;
    }
    out->has_id =
        msgpack_map_get(raw, SLICE_LIT("id"), &v, err) == 1 && msgpack_to_i64(&v, &i) && i >= 0;
    out->id = out->has_id ? (uint64_t)i : 0;
    return 0;
}

static int decode_room_list(slice_t opts, const char *key, clu_wire_val_t *out, const char **err)
{
    msgpack_value_t v;
    *out = (clu_wire_val_t){CLU_WIRE_NONE, {NULL, 0}};
    if (msgpack_map_get(opts, slice_from_cstr(key), &v, err) != 1 || v.type == MSGPACK_NIL ||
        v.type == MSGPACK_UNDEFINED)
        return 0;
    if (v.type != MSGPACK_ARRAY)
        return fail(err, "clu_wire: rooms/except is not an array");
    *out = mval(v.raw);
    return 0;
}

int clu_wire_sio_decode_broadcast(slice_t msg, clu_sio_bcast_t *out, const char **err)
{
    msgpack_value_t top, uid, packet, opts;
    msgpack_iter_t it;
    memset(out, 0, sizeof *out);
    if (msgpack_validate(msg, &top, err) < 0)
        return -1;
    if (top.type != MSGPACK_ARRAY || top.n < 3)
        return fail(err, "clu_wire: broadcast is not [uid, packet, opts]");
    msgpack_iter_begin(&it, msg, NULL);
    msgpack_iter_next(&it, &uid, NULL, NULL);
    msgpack_iter_next(&it, &packet, NULL, NULL);
    msgpack_iter_next(&it, &opts, NULL, NULL);
    if (uid.type != MSGPACK_STR)
        return fail(err, "clu_wire: broadcast uid is not a string");
    out->uid = uid.v.bytes;
    if (packet.type != MSGPACK_MAP || opts.type != MSGPACK_MAP)
        return fail(err, "clu_wire: broadcast packet/opts is not a map");
    if (decode_packet(packet.raw, out, err) < 0)
        return -1;
    if (decode_room_list(opts.raw, "rooms", &out->rooms, err) < 0 ||
        decode_room_list(opts.raw, "except", &out->except, err) < 0)
        return -1;
    msgpack_value_t f;
    out->flags = CLU_SIO_FLAGS_NONE;
    if (msgpack_map_get(opts.raw, SLICE_LIT("flags"), &f, err) == 1)
        clu_wire_sio_flags(mval(f.raw), &out->flags);
    return 0;
}

/* ------------------------------------------------------------------ requests/responses */

static clu_wire_val_t *msg_slot(clu_sio_msg_t *m, slice_t key)
{
    static const struct {
        const char *name;
        size_t off;
    } slots[] = {
        {"uid", offsetof(clu_sio_msg_t, uid)},
        {"requestId", offsetof(clu_sio_msg_t, request_id)},
        {"opts", offsetof(clu_sio_msg_t, opts)},
        {"rooms", offsetof(clu_sio_msg_t, rooms)},
        {"close", offsetof(clu_sio_msg_t, close)},
        {"data", offsetof(clu_sio_msg_t, data)},
        {"packet", offsetof(clu_sio_msg_t, packet)},
        {"clientCount", offsetof(clu_sio_msg_t, client_count)},
        {"sockets", offsetof(clu_sio_msg_t, sockets)},
        {"sid", offsetof(clu_sio_msg_t, sid)},
        {"room", offsetof(clu_sio_msg_t, room)},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (slice_eq_cstr(key, slots[i].name))
            return (clu_wire_val_t *)((char *)m + slots[i].off);
    }
    return NULL;
}

/* Records one member; `type` separately as an integer. The last duplicate wins. */
static void msg_member(clu_sio_msg_t *m, slice_t key, clu_wire_val_t v)
{
    int64_t t;
    if (slice_eq_cstr(key, "type")) {
        m->type = clu_wire_val_i64(v, &t) ? t : -1;
        return;
    }
    clu_wire_val_t *slot = msg_slot(m, key);
    if (slot)
        *slot = v;
}

static int decode_json_msg(slice_t msg, clu_sio_msg_t *out, const char **err)
{
    json_value_t top, k, v;
    json_iter_t it;
    int rc;
    uint8_t keybuf[16];
    if (json_validate(msg, &top, err) < 0)
        return -1;
    if (top.type != JSON_OBJECT)
        return fail(err, "clu_wire: message is not an object");
    json_object_begin(&it, top.raw, NULL);
    while ((rc = json_object_next(&it, &k, &v, err)) == 1) {
        size_t n;
        k = object_key(top.raw, k);
        if (k.raw.len - 2 > sizeof keybuf ||
            json_string_unescape(k.raw, keybuf, sizeof keybuf, &n) < 0)
            continue; /* longer than any member we read */
        msg_member(out, slice_make(keybuf, n), jval(v.raw));
    }
    return rc < 0 ? -1 : 0;
}

static int decode_mp_msg(slice_t msg, clu_sio_msg_t *out, const char **err)
{
    msgpack_value_t top, k, v;
    msgpack_iter_t it;
    int rc;
    if (msgpack_validate(msg, &top, err) < 0)
        return -1;
    if (top.type != MSGPACK_MAP)
        return fail(err, "clu_wire: message is not a map");
    msgpack_iter_begin(&it, msg, NULL);
    while ((rc = msgpack_iter_next(&it, &k, &v, err)) == 1) {
        if (k.type == MSGPACK_STR && v.type != MSGPACK_UNDEFINED)
            msg_member(out, k.v.bytes, mval(v.raw));
    }
    return rc < 0 ? -1 : 0;
}

int clu_wire_sio_decode_msg(slice_t msg, clu_sio_msg_t *out, const char **err)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    if (msg.len == 0)
        return fail(err, "clu_wire: empty message");
    if (msg.ptr[0] == '{') {
        out->fmt = CLU_WIRE_JSON;
        return decode_json_msg(msg, out, err);
    }
    out->fmt = CLU_WIRE_MSGPACK;
    return decode_mp_msg(msg, out, err);
}

/* JSON encoders ------------------------------------------------------------------------ */

static void js_key(buf_t *out, bool first, const char *key)
{
    if (!first)
        buf_append_byte(out, ',');
    buf_append_byte(out, '"');
    buf_append_cstr(out, key);
    buf_append_cstr(out, "\":");
}

static void js_strings(buf_t *out, const slice_t *s, size_t n)
{
    buf_append_byte(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_byte(out, ',');
        json_append_string(out, s[i]);
    }
    buf_append_byte(out, ']');
}

/* {"rooms":[..],"except":[..]} */
static void js_opts(buf_t *out, const clu_sio_target_t *t)
{
    buf_append_cstr(out, "{\"rooms\":");
    js_strings(out, t->rooms, t->n_rooms);
    buf_append_cstr(out, ",\"except\":");
    js_strings(out, t->except, t->n_except);
    buf_append_byte(out, '}');
}

/* `{"uid":U` then `,"requestId":R` when given, then `,"type":T`. */
static void js_head(buf_t *out, slice_t uid, const slice_t *request_id, int type)
{
    js_key(out, true, "uid");
    json_append_string(out, uid);
    if (request_id) {
        js_key(out, false, "requestId");
        json_append_string(out, *request_id);
    }
    js_key(out, false, "type");
    json_append_i64(out, type);
}

void clu_wire_sio_encode_all_rooms_req(buf_t *out, slice_t uid, slice_t request_id)
{
    buf_append_byte(out, '{');
    js_head(out, uid, &request_id, CLU_SIO_REQ_ALL_ROOMS);
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_fetch_req(buf_t *out, slice_t uid, slice_t request_id,
                                   const clu_sio_target_t *t)
{
    buf_append_byte(out, '{');
    js_head(out, uid, &request_id, CLU_SIO_REQ_REMOTE_FETCH);
    js_key(out, false, "opts");
    js_opts(out, t);
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_rooms_req(buf_t *out, slice_t uid, int type, const clu_sio_target_t *t,
                                   const slice_t *rooms, size_t n)
{
    buf_append_byte(out, '{');
    js_head(out, uid, NULL, type);
    js_key(out, false, "opts");
    js_opts(out, t);
    js_key(out, false, "rooms");
    js_strings(out, rooms, n);
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_disconnect_req(buf_t *out, slice_t uid, const clu_sio_target_t *t,
                                        bool close)
{
    buf_append_byte(out, '{');
    js_head(out, uid, NULL, CLU_SIO_REQ_REMOTE_DISCONNECT);
    js_key(out, false, "opts");
    js_opts(out, t);
    js_key(out, false, "close");
    json_append_bool(out, close);
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_sse_req(buf_t *out, slice_t uid, const slice_t *request_id, slice_t name,
                                 slice_t args)
{
    buf_append_byte(out, '{');
    js_head(out, uid, request_id, CLU_SIO_REQ_SERVER_SIDE_EMIT);
    js_key(out, false, "data");
    buf_append_byte(out, '[');
    json_append_string(out, name);
    if (json_skip_ws(args, 0) < args.len) {
        buf_append_byte(out, ',');
        buf_append_slice(out, args);
    }
    buf_append_cstr(out, "]}");
}

int clu_wire_sio_encode_bcast_ack_req(buf_t *out, slice_t uid, slice_t request_id,
                                      const clu_sio_event_t *ev, const clu_sio_target_t *t,
                                      const char **err)
{
    msgpack_append_map_header(out, 5);
    msgpack_append_str(out, SLICE_LIT("uid"));
    msgpack_append_str(out, uid);
    msgpack_append_str(out, SLICE_LIT("requestId"));
    msgpack_append_str(out, request_id);
    msgpack_append_str(out, SLICE_LIT("type"));
    msgpack_append_uint(out, CLU_SIO_REQ_BROADCAST);
    msgpack_append_str(out, SLICE_LIT("packet"));
    if (mp_packet(out, ev, err) < 0)
        return -1;
    msgpack_append_str(out, SLICE_LIT("opts"));
    mp_opts(out, t);
    return 0;
}

void clu_wire_sio_encode_all_rooms_resp(buf_t *out, slice_t request_id, const slice_t *rooms,
                                        size_t n)
{
    buf_append_byte(out, '{');
    js_key(out, true, "requestId");
    json_append_string(out, request_id);
    js_key(out, false, "rooms");
    js_strings(out, rooms, n);
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_fetch_resp_begin(buf_t *out, slice_t request_id)
{
    buf_append_byte(out, '{');
    js_key(out, true, "requestId");
    json_append_string(out, request_id);
    js_key(out, false, "sockets");
    buf_append_byte(out, '[');
}

void clu_wire_sio_encode_fetch_resp_socket(buf_t *out, bool first, slice_t id,
                                           slice_t handshake_json, const slice_t *rooms, size_t n,
                                           slice_t data_json)
{
    if (!first)
        buf_append_byte(out, ',');
    buf_append_byte(out, '{');
    js_key(out, true, "id");
    json_append_string(out, id);
    js_key(out, false, "handshake");
    buf_append_slice(out, handshake_json);
    js_key(out, false, "rooms");
    js_strings(out, rooms, n);
    if (data_json.len) {
        js_key(out, false, "data");
        buf_append_slice(out, data_json);
    }
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_fetch_resp_end(buf_t *out)
{
    buf_append_cstr(out, "]}");
}

/* `{"type":T,"requestId":R` */
static void js_resp_head(buf_t *out, int type, slice_t request_id)
{
    js_key(out, true, "type");
    json_append_i64(out, type);
    js_key(out, false, "requestId");
    json_append_string(out, request_id);
}

void clu_wire_sio_encode_sse_resp(buf_t *out, slice_t request_id, slice_t arg_json)
{
    buf_append_byte(out, '{');
    js_resp_head(out, CLU_SIO_REQ_SERVER_SIDE_EMIT, request_id);
    if (arg_json.len) {
        js_key(out, false, "data");
        buf_append_slice(out, arg_json);
    }
    buf_append_byte(out, '}');
}

void clu_wire_sio_encode_client_count_resp(buf_t *out, slice_t request_id, uint64_t count)
{
    buf_append_byte(out, '{');
    js_resp_head(out, CLU_SIO_REQ_BROADCAST_CLIENT_COUNT, request_id);
    js_key(out, false, "clientCount");
    json_append_u64(out, count);
    buf_append_byte(out, '}');
}

int clu_wire_sio_encode_ack_resp(buf_t *out, slice_t request_id, slice_t arg_json,
                                 const slice_t *bins, size_t nbins, const char **err)
{
    bool has_arg = json_skip_ws(arg_json, 0) < arg_json.len;
    msgpack_append_map_header(out, has_arg ? 3 : 2);
    msgpack_append_str(out, SLICE_LIT("type"));
    msgpack_append_uint(out, CLU_SIO_REQ_BROADCAST_ACK);
    msgpack_append_str(out, SLICE_LIT("requestId"));
    msgpack_append_str(out, request_id);
    if (!has_arg)
        return 0;
    msgpack_append_str(out, SLICE_LIT("packet"));
    return msgpack_json_to_mp(arg_json, out, nbins ? bins : NULL, nbins, err);
}
