/* Unit tests for src/sio/sio_packet: every example of socketio-protocol.md §2.2/§3/§4,
 * the invalid cases of §2.3, placeholders, and the encoders. Accept/reject decisions were
 * checked against socket.io-parser 4.2.7's Decoder (node_modules). */
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "sio/sio_packet.h"

static slice_t S(const char *s)
{
    return slice_from_cstr(s);
}

static sio_packet_t dec_ok(const char *in)
{
    sio_packet_t p;
    const char *err = NULL;
    int rc = sio_packet_decode(S(in), NULL, &p, &err);
    cr_assert_eq(rc, 0, "`%s` rejected: %s", in, err ? err : "-");
    return p;
}

static const char *dec_err(const char *in, const sio_decode_opts_t *o)
{
    sio_packet_t p;
    const char *err = NULL;
    int rc = sio_packet_decode(S(in), o, &p, &err);
    cr_assert_eq(rc, -1, "`%s` accepted", in);
    cr_assert_not_null(err);
    return err;
}

#define EXPECT_SLICE(s, want)                                                                  \
    cr_expect(slice_eq_cstr((s), (want)), "%s: got `%.*s` want `%s`", #s, (int)(s).len,        \
              (const char *)(s).ptr, (want))

Test(sio_packet, spec_examples_connect_disconnect, .timeout = 5)
{
    sio_packet_t p = dec_ok("0");
    cr_expect_eq(p.h.type, SIO_CONNECT);
    EXPECT_SLICE(p.h.nsp, "/");
    cr_expect_eq(p.payload.len, 0);
    cr_expect_eq(p.payload_type, JSON_INVALID);

    p = dec_ok("0{\"token\":\"123\"}");
    EXPECT_SLICE(p.payload, "{\"token\":\"123\"}");
    cr_expect_eq(p.payload_type, JSON_OBJECT);

    p = dec_ok("0/admin,");
    EXPECT_SLICE(p.h.nsp, "/admin");
    cr_expect_eq(p.payload.len, 0);

    p = dec_ok("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    EXPECT_SLICE(p.h.nsp, "/admin");
    EXPECT_SLICE(p.payload, "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");

    p = dec_ok("0/custom"); /* [TS]: no comma at the end is valid */
    EXPECT_SLICE(p.h.nsp, "/custom");
    p = dec_ok("1/custom");
    cr_expect_eq(p.h.type, SIO_DISCONNECT);
    EXPECT_SLICE(p.h.nsp, "/custom");

    p = dec_ok("1");
    cr_expect_eq(p.h.type, SIO_DISCONNECT);
    EXPECT_SLICE(p.h.nsp, "/");
    p = dec_ok("1/admin,");
    EXPECT_SLICE(p.h.nsp, "/admin");

    p = dec_ok("4{\"message\":\"Not authorized\"}");
    cr_expect_eq(p.h.type, SIO_CONNECT_ERROR);
    p = dec_ok("4/random,{\"message\":\"Invalid namespace\"}");
    EXPECT_SLICE(p.h.nsp, "/random");
    p = dec_ok("4\"str\"");
    cr_expect_eq(p.payload_type, JSON_STRING);
}

Test(sio_packet, spec_examples_events_acks, .timeout = 5)
{
    sio_packet_t p = dec_ok("2[\"foo\"]");
    cr_expect_eq(p.h.type, SIO_EVENT);
    cr_expect_not(p.h.has_id);
    EXPECT_SLICE(p.name.raw, "\"foo\"");
    cr_expect_eq(p.nargs, 0);
    cr_expect_eq(p.args.len, 0);

    p = dec_ok("2/admin,[\"bar\"]");
    EXPECT_SLICE(p.h.nsp, "/admin");
    EXPECT_SLICE(p.name.raw, "\"bar\"");

    p = dec_ok("212[\"foo\"]");
    cr_expect(p.h.has_id);
    cr_expect_eq(p.h.id, 12);

    p = dec_ok("3/admin,13[\"bar\"]");
    cr_expect_eq(p.h.type, SIO_ACK);
    EXPECT_SLICE(p.h.nsp, "/admin");
    cr_expect_eq(p.h.id, 13);
    EXPECT_SLICE(p.args, "\"bar\"");
    cr_expect_eq(p.nargs, 1);

    p = dec_ok("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    cr_expect_eq(p.h.type, SIO_BINARY_EVENT);
    cr_expect_eq(p.h.attachments, 1);
    EXPECT_SLICE(p.args, "{\"_placeholder\":true,\"num\":0}");

    p = dec_ok("52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},"
               "{\"_placeholder\":true,\"num\":1}]");
    cr_expect_eq(p.h.attachments, 2);
    EXPECT_SLICE(p.h.nsp, "/admin");
    cr_expect_eq(p.nargs, 2);

    p = dec_ok("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
    cr_expect_eq(p.h.type, SIO_BINARY_ACK);
    cr_expect_eq(p.h.attachments, 1);
    cr_expect_eq(p.h.id, 15);
    cr_expect_eq(p.nargs, 2);

    /* §4: the conformance suite's acks */
    p = dec_ok("23456[\"message-with-ack\",1,\"2\",{\"3\":[true]}]");
    cr_expect_eq(p.h.id, 3456);
    EXPECT_SLICE(p.args, "1,\"2\",{\"3\":[true]}");
    cr_expect_eq(p.nargs, 3);
    p = dec_ok("52-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},"
               "{\"_placeholder\":true,\"num\":1}]");
    cr_expect_eq(p.h.id, 789);
    cr_expect_eq(p.h.attachments, 2);

    /* §3 wire sample */
    p = dec_ok("2/admin,1[\"tellme\"]");
    EXPECT_SLICE(p.h.nsp, "/admin");
    cr_expect_eq(p.h.id, 1);
    p = dec_ok("61-/admin,1[{\"_placeholder\":true,\"num\":0}]");
    cr_expect_eq(p.nargs, 1);
}

Test(sio_packet, args_and_whitespace, .timeout = 5)
{
    sio_packet_t p = dec_ok("2[ \"chat\" , {\"a\":1} , 2 ] ");
    EXPECT_SLICE(p.payload, "[ \"chat\" , {\"a\":1} , 2 ]");
    EXPECT_SLICE(p.args, "{\"a\":1} , 2");
    cr_expect_eq(p.nargs, 2);

    p = dec_ok("2[1,2]"); /* a numeric event name is legal */
    cr_expect_eq(p.name.type, JSON_NUMBER);
    EXPECT_SLICE(p.args, "2");

    p = dec_ok("3[]");
    cr_expect_eq(p.nargs, 0);
    p = dec_ok("3");
    cr_expect_eq(p.nargs, 0);
    p = dec_ok("31");
    cr_expect(p.h.has_id);
    cr_expect_eq(p.h.id, 1);
}

Test(sio_packet, invalid_packets, .timeout = 5)
{
    const char *bad[] = {
        "",                           /* empty */
        "7",                          /* unknown type */
        "a",                          /* unknown type */
        "abc",                        /* [TS] `4abc` at the Engine.IO level */
        "2{}",                        /* [TS] event payload must be an array */
        "2abc[\"a\"]",                /* [TS] invalid JSON, `a` is no id */
        "2",                          /* event without payload (our choice) */
        "2[]",                        /* empty array */
        "2[null]",                    /* first element neither string nor number */
        "2[[1]]",
        "2[\"connect\"]",             /* reserved names */
        "2[\"connect_error\"]",
        "2[\"disconnect\"]",
        "2[\"disconnecting\"]",
        "2[\"newListener\"]",
        "2[\"removeListener\"]",
        "2[\"\\u0063onnect\"]",       /* reserved after unescaping */
        "2[\"a\"]x",                  /* trailing bytes */
        "2[\"a\",]",
        "2/a,[\"x\"",                 /* truncated */
        "5-[\"a\"]",                  /* attachments without a count */
        "51[\"a\"]",                  /* missing `-` */
        "50-[\"a\"]",                 /* zero attachments (socket.io-parser 4.2.7) */
        "511-[\"a\"]",                /* more than the default cap of 10 */
        "599999999999999999999-[\"a\"]",
        "5x-[\"a\"]",
        "1{}",                        /* disconnect takes no payload */
        "0[]",                        /* connect payload must be an object */
        "0\"x\"",
        "4[1]",                       /* connect_error: string or object */
        "3{}",                        /* ack: array */
        "3\"x\"",
        "29007199254740992[\"a\"]",   /* ack id above 2^53-1 */
        "2 ",                         /* payload that is only whitespace */
        "51-[\"a\",{\"_placeholder\":true,\"num\":1}]",  /* num out of range */
        "51-[\"a\",{\"_placeholder\":true,\"num\":-1}]",
        "51-[\"a\",{\"_placeholder\":true}]",
        "51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]",
        "51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]", /* non-integer: our choice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        dec_err(bad[i], NULL);

    cr_expect_str_eq(dec_err("2{}", NULL), "sio: invalid payload");
    cr_expect_str_eq(dec_err("2abc[\"a\"]", NULL), "sio: payload is not valid JSON");
    cr_expect_str_eq(dec_err("2[\"disconnect\"]", NULL), "sio: reserved event name");
    cr_expect_str_eq(dec_err("511-[\"a\"]", NULL), "sio: too many attachments");
    cr_expect_str_eq(dec_err("51[\"a\"]", NULL), "sio: illegal attachments");
}

Test(sio_packet, accepted_edge_cases, .timeout = 5)
{
    dec_ok("29007199254740991[\"a\"]");
    dec_ok("510-[\"a\",{\"_placeholder\":true,\"num\":9}]");
    /* _placeholder false: an ordinary object, num not checked */
    dec_ok("51-[\"a\",{\"_placeholder\":false,\"num\":9}]");
    /* 1.0 is the integer 1 */
    dec_ok("52-[\"a\",{\"_placeholder\":true,\"num\":1.0}]");
    /* the inside of a placeholder object is not looked at (as reconstructPacket) */
    dec_ok("52-[\"a\",{\"_placeholder\":true,\"num\":1,\"x\":{\"_placeholder\":true,\"num\":7}}]");
    /* duplicate keys: the last one wins, as JSON.parse */
    dec_err("51-[\"a\",{\"_placeholder\":false,\"_placeholder\":true,\"num\":3}]", NULL);
    dec_ok("51-[\"a\",{\"_placeholder\":true,\"_placeholder\":false,\"num\":3}]");
    /* a CONNECT_ERROR is fine for a client-side decoder, a violation from a client */
    dec_ok("4{\"message\":\"x\"}");
    sio_decode_opts_t server = {.server = true};
    cr_expect_str_eq(dec_err("4{\"message\":\"x\"}", &server), "sio: CONNECT_ERROR from a client");
    dec_err("4", &server);
    /* a larger attachment cap */
    sio_decode_opts_t big = {.max_attachments = 20};
    sio_packet_t p;
    cr_expect_eq(sio_packet_decode(S("520-[\"a\"]"), &big, &p, NULL), 0);
    cr_expect_eq(p.h.attachments, 20);
    cr_expect_eq(sio_packet_decode(S("521-[\"a\"]"), &big, &p, NULL), -1);
    /* a namespace runs to the first comma */
    dec_err("2/a,b,[\"x\"]", NULL);
}

Test(sio_packet, event_name, .timeout = 5)
{
    uint8_t scratch[32];
    slice_t name;
    sio_packet_t p = dec_ok("2[\"message\",1]");
    cr_assert_eq(sio_packet_event_name(&p, scratch, sizeof scratch, &name), 0);
    EXPECT_SLICE(name, "message");
    cr_expect(name.ptr > (const uint8_t *)0 && name.ptr != scratch, "points into the input");

    p = dec_ok("2[\"caf\\u00e9\\n\"]");
    cr_assert_eq(sio_packet_event_name(&p, scratch, sizeof scratch, &name), 0);
    cr_expect_eq(name.ptr, scratch);
    EXPECT_SLICE(name, "caf\xc3\xa9\n");
    cr_expect_eq(sio_packet_event_name(&p, scratch, 3, &name), -1, "scratch too small");

    p = dec_ok("2[42,\"x\"]");
    cr_assert_eq(sio_packet_event_name(&p, scratch, sizeof scratch, &name), 0);
    EXPECT_SLICE(name, "42");

    p = dec_ok("3[1]");
    cr_expect_eq(sio_packet_event_name(&p, scratch, sizeof scratch, &name), -1);
}

Test(sio_packet, args_iteration, .timeout = 5)
{
    json_iter_t it;
    json_value_t v;
    sio_packet_t p = dec_ok("2[\"ev\",1,{\"a\":[2]},\"s\"]");
    cr_assert_eq(sio_packet_args_begin(&p, &it), 0);
    cr_assert_eq(json_array_next(&it, &v, NULL), 1);
    EXPECT_SLICE(v.raw, "1");
    cr_assert_eq(json_array_next(&it, &v, NULL), 1);
    EXPECT_SLICE(v.raw, "{\"a\":[2]}");
    cr_assert_eq(json_array_next(&it, &v, NULL), 1);
    EXPECT_SLICE(v.raw, "\"s\"");
    cr_expect_eq(json_array_next(&it, &v, NULL), 0);

    p = dec_ok("31[\"x\",2]");
    cr_assert_eq(sio_packet_args_begin(&p, &it), 0);
    cr_assert_eq(json_array_next(&it, &v, NULL), 1);
    EXPECT_SLICE(v.raw, "\"x\"");

    p = dec_ok("0{}");
    cr_expect_eq(sio_packet_args_begin(&p, &it), -1);
}

typedef struct {
    uint32_t nums[16];
    size_t n;
    int stop_at;
} walk_t;

static int on_ph(void *arg, slice_t obj, uint32_t num)
{
    walk_t *w = arg;
    cr_expect(obj.len > 0 && obj.ptr[0] == '{');
    w->nums[w->n++] = num;
    return (int)w->n == w->stop_at ? 7 : 0;
}

Test(sio_packet, placeholder_walk, .timeout = 5)
{
    const char *j = "[\"a\",{\"_placeholder\":true,\"num\":1},[{\"x\":{\"num\":0,"
                    "\"_placeholder\":true}}],{\"_placeholder\":true,\"num\":2}]";
    walk_t w = {.stop_at = -1};
    size_t found;
    cr_assert_eq(sio_placeholders_walk(S(j), 3, on_ph, &w, &found, NULL), 0);
    cr_expect_eq(found, 3);
    cr_assert_eq(w.n, 3);
    cr_expect_eq(w.nums[0], 1);
    cr_expect_eq(w.nums[1], 0, "depth first, document order");
    cr_expect_eq(w.nums[2], 2);

    const char *err = NULL;
    cr_expect_eq(sio_placeholders_walk(S(j), 2, NULL, NULL, &found, &err), -1);
    cr_expect_str_eq(err, "sio: illegal attachments");

    w = (walk_t){.stop_at = 2};
    cr_expect_eq(sio_placeholders_walk(S(j), 3, on_ph, &w, NULL, NULL), 7, "callback stops");
    cr_expect_eq(w.n, 2);

    cr_expect_eq(sio_placeholders_walk(S("[1,"), 3, NULL, NULL, NULL, NULL), -1);
    cr_expect_eq(sio_placeholders_walk(S("[1,{\"num\":5}]"), 0, NULL, NULL, &found, NULL), 0);
    cr_expect_eq(found, 0);
}

Test(sio_packet, decode_allocates_nothing, .timeout = 5)
{
    const char *in[] = {"2/chat,17[\"msg\",{\"a\":[1,2,{\"b\":\"\\u00e9\"}]},2]",
                        "52-[\"a\",{\"_placeholder\":true,\"num\":0},"
                        "{\"_placeholder\":true,\"num\":1}]",
                        "0/admin,{\"token\":\"x\"}"};
    unsigned long before = alloc_count();
    for (size_t i = 0; i < 3; i++) {
        sio_packet_t p;
        cr_assert_eq(sio_packet_decode(S(in[i]), NULL, &p, NULL), 0);
    }
    cr_expect_eq(alloc_count(), before);
}

static void expect_buf(buf_t *b, const char *want)
{
    cr_expect(slice_eq_cstr(buf_slice(b), want), "got `%.*s` want `%s`", (int)b->len,
              (const char *)buf_data(b), want);
    buf_clear(b);
}

Test(sio_packet, encoders, .timeout = 5)
{
    buf_t b = BUF_INIT;
    sio_encode_connect(&b, S("/"), S("oSO0OpakMV_3jnilAAAA"));
    expect_buf(&b, "0{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    sio_encode_connect(&b, S("/admin"), S("oSO0OpakMV_3jnilAAAA"));
    expect_buf(&b, "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");

    sio_encode_connect_error(&b, S("/"), S("Not authorized"), S(""));
    expect_buf(&b, "4{\"message\":\"Not authorized\"}");
    sio_encode_connect_error(&b, S("/random"), S("Invalid namespace"), S(""));
    expect_buf(&b, "4/random,{\"message\":\"Invalid namespace\"}");
    sio_encode_connect_error(&b, S(""), S("no \"way\""), S("{\"code\":3}"));
    expect_buf(&b, "4{\"message\":\"no \\\"way\\\"\",\"data\":{\"code\":3}}");

    sio_encode_disconnect(&b, S("/"));
    expect_buf(&b, "1");
    sio_encode_disconnect(&b, S("/admin"));
    expect_buf(&b, "1/admin,");

    sio_header_t h = {.type = SIO_EVENT, .nsp = S("/")};
    sio_encode_event(&b, &h, S("foo"), S(""));
    expect_buf(&b, "2[\"foo\"]");
    h.nsp = S("/admin");
    sio_encode_event(&b, &h, S("bar"), S(""));
    expect_buf(&b, "2/admin,[\"bar\"]");
    h = (sio_header_t){.type = SIO_EVENT, .has_id = true, .id = 12};
    sio_encode_event(&b, &h, S("foo"), S(""));
    expect_buf(&b, "212[\"foo\"]");
    h = (sio_header_t){.type = SIO_EVENT};
    sio_encode_event(&b, &h, S("auth"), S("{\"token\":\"123\"}"));
    expect_buf(&b, "2[\"auth\",{\"token\":\"123\"}]");
    sio_encode_event(&b, &h, S("a\x1e\"b"), S("1,2"));
    expect_buf(&b, "2[\"a\\u001e\\\"b\",1,2]");

    h = (sio_header_t){.type = SIO_ACK, .nsp = S("/admin"), .has_id = true, .id = 13};
    sio_encode_ack(&b, &h, S("\"bar\""));
    expect_buf(&b, "3/admin,13[\"bar\"]");
    h = (sio_header_t){.type = SIO_ACK, .has_id = true, .id = 3456};
    sio_encode_ack(&b, &h, S(""));
    expect_buf(&b, "33456[]");

    h = (sio_header_t){.type = SIO_BINARY_EVENT, .attachments = 1};
    sio_encode_event(&b, &h, S("baz"), S("{\"_placeholder\":true,\"num\":0}"));
    expect_buf(&b, "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    h = (sio_header_t){.type = SIO_BINARY_EVENT, .attachments = 2, .nsp = S("/admin")};
    sio_encode_event(&b, &h, S("baz"),
                     S("{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}"));
    expect_buf(&b, "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},"
                   "{\"_placeholder\":true,\"num\":1}]");
    h = (sio_header_t){.type = SIO_BINARY_ACK, .attachments = 1, .has_id = true, .id = 15};
    sio_encode_ack(&b, &h, S("\"bar\",{\"_placeholder\":true,\"num\":0}"));
    expect_buf(&b, "61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
    h = (sio_header_t){.type = SIO_BINARY_ACK, .attachments = 1, .nsp = S("/admin"),
                       .has_id = true, .id = 1};
    sio_encode_ack(&b, &h, S("{\"_placeholder\":true,\"num\":0}"));
    expect_buf(&b, "61-/admin,1[{\"_placeholder\":true,\"num\":0}]");

    /* §4: what the conformance suites expect from the echo server */
    h = (sio_header_t){.type = SIO_EVENT, .nsp = S("/custom")};
    sio_encode_event(&b, &h, S("auth"), S("{}"));
    expect_buf(&b, "2/custom,[\"auth\",{}]");
    h = (sio_header_t){.type = SIO_ACK, .has_id = true, .id = 456};
    sio_encode_ack(&b, &h, S("1,\"2\",{\"3\":[true]}"));
    expect_buf(&b, "3456[1,\"2\",{\"3\":[true]}]");
    h = (sio_header_t){.type = SIO_BINARY_ACK, .attachments = 2, .has_id = true, .id = 789};
    sio_encode_ack(&b, &h, S("{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}"));
    expect_buf(&b, "62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");

    h = (sio_header_t){.type = SIO_CONNECT, .nsp = S("/x")};
    sio_encode_packet(&b, &h, S("{\"sid\":\"a\",\"pid\":\"b\"}"));
    expect_buf(&b, "0/x,{\"sid\":\"a\",\"pid\":\"b\"}");
    buf_dispose(&b);
}

Test(sio_packet, encoded_lengths_are_exact, .timeout = 5)
{
    buf_t b = BUF_INIT;
    sio_header_t hs[] = {
        {.type = SIO_EVENT},
        {.type = SIO_EVENT, .nsp = SLICE_LIT("/admin"), .has_id = true, .id = 9007199254740991ULL},
        {.type = SIO_BINARY_EVENT, .attachments = 10, .has_id = true, .id = 0},
        {.type = SIO_BINARY_EVENT, .attachments = 1, .nsp = SLICE_LIT("/")},
    };
    const char *names[] = {"x", "caf\xc3\xa9\n\x01", ""};
    const char *args[] = {"", "1,{\"a\":2}"};
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < 3; j++) {
            for (size_t k = 0; k < 2; k++) {
                sio_encode_event(&b, &hs[i], S(names[j]), S(args[k]));
                cr_expect_eq(sio_event_encoded_len(&hs[i], S(names[j]), S(args[k])), b.len);
                buf_clear(&b);
            }
        }
        sio_encode_header(&b, &hs[i]);
        cr_expect_eq(sio_header_encoded_len(&hs[i]), b.len);
        buf_clear(&b);
    }
    buf_dispose(&b);
}

Test(sio_packet, frame_gap_recipe, .timeout = 5)
{
    /* the broadcast recipe of the header: gap, encode, header right-aligned, consume */
    buf_t b = BUF_INIT;
    buf_reserve(&b, SIO_FRAME_GAP);
    buf_commit(&b, SIO_FRAME_GAP);
    sio_header_t h = {.type = SIO_EVENT};
    sio_encode_event(&b, &h, S("msg"), S("\"hi\""));
    size_t body = b.len - SIO_FRAME_GAP + 1; /* + the eio '4' */
    uint8_t *d = buf_data(&b);
    d[SIO_FRAME_GAP - 1] = '4';
    d[SIO_FRAME_GAP - 3] = 0x81; /* FIN + text, 7-bit length */
    d[SIO_FRAME_GAP - 2] = (uint8_t)body;
    buf_consume(&b, SIO_FRAME_GAP - 3);
    cr_expect_eq(b.len, body + 2);
    cr_expect_eq(memcmp(buf_data(&b), "\x81\x0e" "42[\"msg\",\"hi\"]", b.len), 0);
    buf_dispose(&b);
}

Test(sio_packet, encode_decode_round_trip, .timeout = 5)
{
    buf_t b = BUF_INIT;
    sio_header_t h = {.type = SIO_EVENT, .nsp = S("/chat"), .has_id = true, .id = 77};
    sio_encode_event(&b, &h, S("new\"msg"), S("{\"text\":\"hi\\n\"},[1,2],null"));
    sio_packet_t p;
    cr_assert_eq(sio_packet_decode(buf_slice(&b), NULL, &p, NULL), 0);
    cr_expect_eq(p.h.type, SIO_EVENT);
    EXPECT_SLICE(p.h.nsp, "/chat");
    cr_expect_eq(p.h.id, 77);
    cr_expect_eq(p.nargs, 3);
    EXPECT_SLICE(p.args, "{\"text\":\"hi\\n\"},[1,2],null");
    uint8_t scratch[16];
    slice_t name;
    cr_assert_eq(sio_packet_event_name(&p, scratch, sizeof scratch, &name), 0);
    EXPECT_SLICE(name, "new\"msg");
    buf_dispose(&b);
}
