/*
 * Fuzz target for src/sio/sio_packet: header decoding, payload validation and shape
 * checks, event name extraction, argument iteration, the placeholder walk, and the
 * decode -> encode -> decode round trip.
 *
 * Checks: all slices lie in the input (the namespace may be the static "/"); an accepted
 * payload is valid JSON of the recorded type; `args`/`nargs` agree with iterating the
 * arguments; for binary packets the placeholder walk succeeds; re-encoding the decoded
 * fields gives a packet that decodes to the same fields; the client/server option only
 * changes the verdict on CONNECT_ERROR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "sio/sio_packet.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool inside(slice_t s, slice_t in)
{
    return s.len == 0 || (s.ptr >= in.ptr && s.ptr + s.len <= in.ptr + in.len);
}

static bool is_event(sio_packet_type_t t)
{
    return t == SIO_EVENT || t == SIO_BINARY_EVENT;
}

static bool is_ack(sio_packet_type_t t)
{
    return t == SIO_ACK || t == SIO_BINARY_ACK;
}

static int count_cb(void *arg, slice_t obj, uint32_t num)
{
    (void)obj;
    (void)num;
    (*(size_t *)arg)++;
    return 0;
}

static void check_args(const sio_packet_t *p)
{
    json_iter_t it;
    json_value_t v;
    CHECK(sio_packet_args_begin(p, &it) == 0);
    uint32_t n = 0;
    const uint8_t *first = NULL, *end = NULL;
    while (json_array_next(&it, &v, NULL) == 1) {
        if (!first)
            first = v.raw.ptr;
        end = v.raw.ptr + v.raw.len;
        n++;
    }
    CHECK(n == p->nargs);
    if (n)
        CHECK(first == p->args.ptr && end == p->args.ptr + p->args.len);
    else
        CHECK(p->args.len == 0);
}

static void round_trip(const sio_packet_t *p, slice_t name)
{
    buf_t b = BUF_INIT;
    if (is_event(p->h.type))
        sio_encode_event(&b, &p->h, name, p->args);
    else if (is_ack(p->h.type) && p->h.has_id)
        sio_encode_ack(&b, &p->h, p->args);
    else if (!is_ack(p->h.type))
        sio_encode_packet(&b, &p->h, p->payload);
    else
        goto out; /* an ack without id cannot be re-encoded by sio_encode_ack */
    sio_packet_t q;
    const char *err = NULL;
    sio_decode_opts_t o = {.max_attachments = 1000};
    if (sio_packet_decode(buf_slice(&b), &o, &q, &err) != 0) {
        fprintf(stderr, "re-encoded packet rejected (%s): %.*s\n", err, (int)b.len,
                (const char *)buf_data(&b));
        abort();
    }
    CHECK(q.h.type == p->h.type && q.h.attachments == p->h.attachments);
    CHECK(q.h.has_id == p->h.has_id && q.h.id == p->h.id);
    CHECK(slice_eq(q.h.nsp, p->h.nsp));
    CHECK(q.nargs == p->nargs && slice_eq(q.args, p->args));
    if (is_event(p->h.type)) {
        uint8_t scratch[4096];
        slice_t qn;
        CHECK(sio_packet_event_name(&q, scratch, sizeof scratch, &qn) == 0);
        CHECK(slice_eq(qn, name));
    } else if (!is_ack(p->h.type)) {
        CHECK(slice_eq(q.payload, p->payload));
    }
out:
    buf_dispose(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slice_t in = slice_make(data, size);
    sio_packet_t p, ps;
    const char *err = NULL;
    sio_decode_opts_t server = {.server = true};
    int rc = sio_packet_decode(in, NULL, &p, &err);
    int rcs = sio_packet_decode(in, &server, &ps, NULL);
    if (rc != 0) {
        CHECK(err != NULL && rcs != 0);
        goto walk;
    }
    CHECK(rcs == 0 || p.h.type == SIO_CONNECT_ERROR);
    CHECK(p.h.nsp.len >= 1 && p.h.nsp.ptr[0] == '/');
    CHECK(inside(p.h.nsp, in) || (p.h.nsp.len == 1));
    CHECK(inside(p.payload, in) && inside(p.args, p.payload));
    CHECK(!p.h.has_id || p.h.id <= SIO_ACK_ID_MAX);
    if (p.payload.len) {
        json_value_t v;
        CHECK(json_validate(p.payload, &v, NULL) == 0 && v.type == p.payload_type);
        CHECK(v.raw.len == p.payload.len);
    } else {
        CHECK(p.payload_type == JSON_INVALID && !is_event(p.h.type));
    }
    if (p.h.type == SIO_BINARY_EVENT || p.h.type == SIO_BINARY_ACK) {
        CHECK(p.h.attachments >= 1 && p.h.attachments <= SIO_MAX_ATTACHMENTS_DEFAULT);
        size_t found = 0, counted = 0;
        if (p.payload.len)
            CHECK(sio_placeholders_walk(p.payload, p.h.attachments, count_cb, &counted, &found,
                                        NULL) == 0);
        CHECK(found == counted);
    }
    slice_t name = {NULL, 0};
    uint8_t scratch[4096];
    if (is_event(p.h.type)) {
        CHECK(p.name.type == JSON_STRING || p.name.type == JSON_NUMBER);
        if (p.name.raw.len <= sizeof scratch) {
            CHECK(sio_packet_event_name(&p, scratch, sizeof scratch, &name) == 0);
            if (!utf8_is_valid(name.ptr, name.len))
                goto walk; /* the writer would turn bad bytes into U+FFFD */
        } else {
            goto walk;
        }
    }
    if (p.payload_type == JSON_ARRAY)
        check_args(&p);
    else
        CHECK(p.nargs == 0 && p.args.len == 0);
    round_trip(&p, name);
walk:
    /* the placeholder walk on arbitrary JSON with an attachment count from the input */
    if (size > 1) {
        size_t found;
        (void)sio_placeholders_walk(slice_make(data + 1, size - 1), data[0] % 12, NULL, NULL,
                                    &found, NULL);
    }
    return 0;
}
