/* Unit tests for src/eio/eio_packet: packet and polling payload decoding (with in-place
 * base64), encoders and the open packet. Vectors from socketio-protocol.md §1.2-§1.4, §4
 * and engine.io-parser's decodePacket/decodePayload behaviour. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "eio/eio_packet.h"

/* A mutable copy of a literal (decoders may rewrite base64 records in place). */
#define MUT(name, lit)                                                                         \
    uint8_t name[sizeof(lit)];                                                                 \
    memcpy(name, lit, sizeof(lit))

Test(eio_packet, decode_text_types, .timeout = 5)
{
    static const struct {
        const char *in;
        eio_packet_type_t type;
        const char *data;
    } V[] = {
        {"0{\"sid\":\"x\"}", EIO_OPEN, "{\"sid\":\"x\"}"},
        {"1", EIO_CLOSE, ""},
        {"2", EIO_PING, ""},
        {"2probe", EIO_PING, "probe"},
        {"3probe", EIO_PONG, "probe"},
        {"4hello", EIO_MESSAGE, "hello"},
        {"42[\"foo\"]", EIO_MESSAGE, "2[\"foo\"]"},
        {"5", EIO_UPGRADE, ""},
        {"6", EIO_NOOP, ""},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        uint8_t m[64];
        size_t n = strlen(V[i].in);
        memcpy(m, V[i].in, n);
        eio_packet_t p;
        cr_assert_eq(eio_packet_decode_text(m, n, &p, NULL), 0, "`%s`", V[i].in);
        cr_expect_eq(p.type, V[i].type);
        cr_expect_not(p.binary);
        cr_expect(slice_eq_cstr(p.data, V[i].data), "`%s`", V[i].in);
    }
}

Test(eio_packet, decode_text_errors, .timeout = 5)
{
    const char *bad[] = {"", "7", "abc", "x", "9hello", "\x1e", "b!!!!"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t m[16];
        size_t n = strlen(bad[i]);
        memcpy(m, bad[i], n);
        eio_packet_t p;
        const char *err = NULL;
        cr_expect_eq(eio_packet_decode_text(m, n, &p, &err), -1, "`%s`", bad[i]);
        cr_expect_not_null(err);
    }
}

Test(eio_packet, decode_text_base64_in_place, .timeout = 5)
{
    MUT(m, "bAQIDBA==");
    eio_packet_t p;
    cr_assert_eq(eio_packet_decode_text(m, sizeof m - 1, &p, NULL), 0);
    cr_expect_eq(p.type, EIO_MESSAGE);
    cr_expect(p.binary);
    cr_expect_eq(p.data.len, 4);
    cr_expect_eq(p.data.ptr, m, "decoded in place at the start of the message");
    cr_expect_eq(memcmp(p.data.ptr, "\x01\x02\x03\x04", 4), 0);

    MUT(e, "b");
    cr_assert_eq(eio_packet_decode_text(e, 1, &p, NULL), 0);
    cr_expect(p.binary);
    cr_expect_eq(p.data.len, 0);

    /* padding is optional (Node's decoder is lenient about it) */
    MUT(np, "bAQIDBA");
    cr_assert_eq(eio_packet_decode_text(np, sizeof np - 1, &p, NULL), 0);
    cr_expect_eq(p.data.len, 4);
}

Test(eio_packet, decode_binary, .timeout = 5)
{
    const uint8_t bin[] = {0, 1, 2, 0x1e, 0xff};
    eio_packet_t p;
    eio_packet_decode_binary(slice_make(bin, sizeof bin), &p);
    cr_expect_eq(p.type, EIO_MESSAGE);
    cr_expect(p.binary);
    cr_expect_eq(p.data.ptr, bin);
    cr_expect_eq(p.data.len, sizeof bin);
}

/* Collects every packet of a payload; returns the final next() code. */
static int collect(uint8_t *buf, size_t len, unsigned max, eio_packet_t *out, size_t *n,
                   const char **err)
{
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, buf, len, max);
    *n = 0;
    int rc;
    while ((rc = eio_payload_next(&it, &out[*n], err)) == 1)
        (*n)++;
    cr_expect_eq(eio_payload_next(&it, &out[*n], NULL), rc, "the final answer is sticky");
    return rc;
}

Test(eio_packet, payload_text_records, .timeout = 5)
{
    MUT(m, "4hello\x1e" "4test");
    eio_packet_t p[4];
    size_t n;
    cr_assert_eq(collect(m, sizeof m - 1, 0, p, &n, NULL), 0);
    cr_assert_eq(n, 2);
    cr_expect(slice_eq_cstr(p[0].data, "hello"));
    cr_expect(slice_eq_cstr(p[1].data, "test"));
    cr_expect_eq(p[1].type, EIO_MESSAGE);

    MUT(three, "4test1\x1e" "4test2\x1e" "4test3");
    cr_assert_eq(collect(three, sizeof three - 1, 0, p, &n, NULL), 0);
    cr_expect_eq(n, 3);
    cr_expect(slice_eq_cstr(p[2].data, "test3"));

    MUT(one, "2");
    cr_assert_eq(collect(one, 1, 0, p, &n, NULL), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(p[0].type, EIO_PING);
}

Test(eio_packet, payload_with_base64_record, .timeout = 5)
{
    MUT(m, "4hello\x1e" "bAQIDBA==\x1e" "3");
    eio_packet_t p[4];
    size_t n;
    cr_assert_eq(collect(m, sizeof m - 1, 0, p, &n, NULL), 0);
    cr_assert_eq(n, 3);
    cr_expect(slice_eq_cstr(p[0].data, "hello"), "earlier packets stay intact");
    cr_expect(p[1].binary);
    cr_expect_eq(p[1].data.len, 4);
    cr_expect_eq(memcmp(p[1].data.ptr, "\x01\x02\x03\x04", 4), 0);
    cr_expect_eq(p[2].type, EIO_PONG);
}

Test(eio_packet, payload_errors_stop_at_bad_record, .timeout = 5)
{
    eio_packet_t p[8];
    size_t n;
    const char *err = NULL;

    MUT(empty, "");
    cr_expect_eq(collect(empty, 0, 0, p, &n, &err), -1, "empty body is one empty record");
    cr_expect_eq(n, 0);

    MUT(trail, "4a\x1e");
    cr_expect_eq(collect(trail, sizeof trail - 1, 0, p, &n, NULL), -1);
    cr_expect_eq(n, 1, "packets before the bad record are delivered");

    MUT(mid, "4a\x1e\x1e" "4b");
    cr_expect_eq(collect(mid, sizeof mid - 1, 0, p, &n, NULL), -1);
    cr_expect_eq(n, 1);

    MUT(badtype, "4a\x1e" "abc\x1e" "4b");
    cr_expect_eq(collect(badtype, sizeof badtype - 1, 0, p, &n, &err), -1);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(err, "eio: unknown packet type");

    MUT(badb64, "b#$%\x1e" "4b");
    cr_expect_eq(collect(badb64, sizeof badb64 - 1, 0, p, &n, NULL), -1);
    cr_expect_eq(n, 0);
}

Test(eio_packet, payload_packet_cap, .timeout = 5)
{
    MUT(m, "2\x1e" "2\x1e" "2\x1e" "2");
    eio_packet_t p[8];
    size_t n;
    const char *err = NULL;
    cr_expect_eq(collect(m, sizeof m - 1, 4, p, &n, NULL), 0);
    cr_expect_eq(n, 4);
    MUT(m2, "2\x1e" "2\x1e" "2\x1e" "2");
    cr_expect_eq(collect(m2, sizeof m2 - 1, 3, p, &n, &err), -1);
    cr_expect_eq(n, 3);
    cr_expect_str_eq(err, "eio: too many packets in payload");
}

Test(eio_packet, decode_allocates_nothing, .timeout = 5)
{
    MUT(m, "4hello\x1e" "bAQIDBA==\x1e" "42[\"x\"]");
    unsigned long before = alloc_count();
    eio_payload_iter_t it;
    eio_packet_t p;
    eio_payload_iter_init(&it, m, sizeof m - 1, 0);
    while (eio_payload_next(&it, &p, NULL) == 1)
        ;
    cr_expect_eq(alloc_count(), before);
}

Test(eio_packet, encoders, .timeout = 5)
{
    buf_t b = BUF_INIT;
    eio_packet_encode(&b, EIO_MESSAGE, SLICE_LIT("hello"));
    cr_expect(slice_eq_cstr(buf_slice(&b), "4hello"));
    buf_clear(&b);
    eio_packet_encode(&b, EIO_PING, slice_make(NULL, 0));
    cr_expect(slice_eq_cstr(buf_slice(&b), "2"));
    buf_clear(&b);
    eio_packet_encode(&b, EIO_PONG, SLICE_LIT("probe"));
    cr_expect(slice_eq_cstr(buf_slice(&b), "3probe"));
    buf_clear(&b);
    eio_packet_encode_b64(&b, SLICE_LIT("\x01\x02\x03\x04"));
    cr_expect(slice_eq_cstr(buf_slice(&b), "bAQIDBA=="));
    buf_clear(&b);

    /* the [TS] echo payload: text then binary, re-emitted as b+base64 */
    eio_packet_t text = {EIO_MESSAGE, false, SLICE_LIT("hello")};
    eio_packet_t bin = {EIO_MESSAGE, true, SLICE_LIT("\x01\x02\x03\x04")};
    eio_payload_append(&b, true, &text);
    eio_payload_append(&b, false, &bin);
    eio_payload_append_encoded(&b, false, SLICE_LIT("42[\"a\"]"));
    cr_expect(slice_eq_cstr(buf_slice(&b), "4hello\x1e" "bAQIDBA==\x1e" "42[\"a\"]"));

    /* and it decodes back */
    uint8_t copy[64];
    memcpy(copy, buf_data(&b), b.len);
    eio_packet_t p[4];
    size_t n;
    cr_assert_eq(collect(copy, b.len, 0, p, &n, NULL), 0);
    cr_assert_eq(n, 3);
    cr_expect(p[1].binary);
    cr_expect_eq(memcmp(p[1].data.ptr, "\x01\x02\x03\x04", 4), 0);
    cr_expect(slice_eq_cstr(p[2].data, "2[\"a\"]"));
    buf_dispose(&b);
}

Test(eio_packet, open_packet_exact, .timeout = 5)
{
    buf_t b = BUF_INIT;
    eio_open_params_t o = {
        .sid = SLICE_LIT("lv_VI97HAXpY6yYWAAAC"),
        .upgrade_websocket = true,
        .ping_interval = 25000,
        .ping_timeout = 20000,
        .max_payload = 1000000,
    };
    eio_open_encode(&b, &o);
    cr_expect(slice_eq_cstr(buf_slice(&b),
                            "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                            "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"),
              "got %.*s", (int)b.len, (const char *)buf_data(&b));
    buf_clear(&b);
    o.upgrade_websocket = false;
    o.ping_interval = 300;
    o.ping_timeout = 200;
    eio_open_encode(&b, &o);
    cr_expect(slice_eq_cstr(buf_slice(&b),
                            "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[],"
                            "\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000}"));
    buf_dispose(&b);
}
