/*
 * Fuzz target for src/eio/eio_packet: polling payload decoding (with in-place base64),
 * single text packet decoding, and the encode -> decode round trip.
 *
 * Checks: every returned slice lies inside the input buffer; the packet cap holds; the
 * first byte selects the path exactly as the decoder says; re-encoding the decoded packets
 * as a payload and decoding that again yields exactly the same packets (binary through
 * b+base64), and nothing more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio/eio_packet.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_PKTS 64

static bool inside(slice_t s, const uint8_t *base, size_t len)
{
    return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

static bool same(const eio_packet_t *a, const eio_packet_t *b)
{
    return a->type == b->type && a->binary == b->binary && slice_eq(a->data, b->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *m = malloc(size ? size : 1);
    memcpy(m, data, size);

    /* whole input as one text message */
    eio_packet_t one;
    const char *err = NULL;
    if (eio_packet_decode_text(m, size, &one, &err) == 0) {
        CHECK(inside(one.data, m, size));
        CHECK(one.binary == (data[0] == 'b'));
        CHECK(one.binary || (data[0] >= '0' && data[0] <= '6' && one.data.len == size - 1));
    } else {
        CHECK(err != NULL);
        CHECK(size == 0 || data[0] != 'b' || size > 1);
    }

    /* whole input as a polling payload; copies of the packets for the round trip */
    memcpy(m, data, size);
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, m, size, MAX_PKTS);
    eio_packet_t pk[MAX_PKTS + 1];
    size_t n = 0;
    int rc;
    while ((rc = eio_payload_next(&it, &pk[n], &err)) == 1) {
        CHECK(n < MAX_PKTS);
        CHECK(inside(pk[n].data, m, size));
        n++;
    }
    CHECK(rc == 0 || err != NULL);
    if (rc == 0)
        CHECK(n >= 1);

    buf_t enc = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        eio_payload_append(&enc, i == 0, &pk[i]);
    if (n > 0) {
        eio_payload_iter_t it2;
        uint8_t *e = buf_data(&enc);
        size_t elen = enc.len;
        eio_payload_iter_init(&it2, e, elen, MAX_PKTS);
        eio_packet_t q;
        for (size_t i = 0; i < n; i++) {
            CHECK(eio_payload_next(&it2, &q, NULL) == 1);
            CHECK(same(&q, &pk[i]));
        }
        /* decoded text packets never contain 0x1E, so the re-encoding ends right here */
        CHECK(eio_payload_next(&it2, &q, NULL) == 0);
    }
    buf_dispose(&enc);
    free(m);
    return 0;
}
