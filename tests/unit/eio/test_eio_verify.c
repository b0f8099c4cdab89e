/* Unit tests for eio_verify: query parsing and the reference server's request checks
 * (spec §1.1, §1.3, §1.9), in their order. */
#include <criterion/criterion.h>
#include <string.h>

#include "eio/eio_verify.h"

static eio_query_t parse(const char *qs)
{
    eio_query_t q;
    eio_query_parse(slice_from_cstr(qs), &q);
    return q;
}

Test(eio_query, handshake_params)
{
    eio_query_t q = parse("EIO=4&transport=polling&t=N8hyd6w");
    cr_assert_eq(q.protocol, 4);
    cr_assert_eq(q.transport, EIO_TRANSPORT_POLLING);
    cr_assert(!q.has_sid);
}

Test(eio_query, versions)
{
    cr_assert_eq(parse("EIO=3&transport=polling").protocol, 3);
    cr_assert_eq(parse("EIO=abc&transport=polling").protocol, 3);
    cr_assert_eq(parse("transport=polling").protocol, 3);
    cr_assert_eq(parse("EIO=44&transport=polling").protocol, 3);
    cr_assert_eq(parse("EIO=%34").protocol, 4);
    cr_assert_eq(parse("").protocol, 3);
}

Test(eio_query, transports)
{
    cr_assert_eq(parse("transport=websocket").transport, EIO_TRANSPORT_WEBSOCKET);
    cr_assert_eq(parse("transport=webtransport").transport, EIO_TRANSPORT_NONE);
    cr_assert_eq(parse("transport=Polling").transport, EIO_TRANSPORT_NONE);
    cr_assert_eq(parse("transport=").transport, EIO_TRANSPORT_NONE);
    cr_assert_eq(parse("transport").transport, EIO_TRANSPORT_NONE);
    cr_assert_eq(parse("EIO=4").transport, EIO_TRANSPORT_NONE);
    cr_assert_eq(parse("transport=poll%69ng").transport, EIO_TRANSPORT_POLLING);
    cr_assert_eq(parse("transport=poll%6").transport, EIO_TRANSPORT_NONE);
}

Test(eio_query, sid)
{
    eio_query_t q = parse("EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC&t=1");
    cr_assert(q.has_sid);
    cr_assert_eq(q.sid_len, 20);
    cr_assert_str_eq(q.sid, "lv_VI97HAXpY6yYWAAAC");
    q = parse("sid=a%2Db");
    cr_assert_str_eq(q.sid, "a-b");
    q = parse("sid=");
    cr_assert(q.has_sid);
    cr_assert_eq(q.sid_len, 0);
    q = parse("sid=%zz");
    cr_assert(q.has_sid);
    cr_assert_gt(q.sid_len, EIO_QUERY_SID_MAX);
    char longq[200] = "sid=";
    memset(longq + 4, 'a', 100);
    q = parse(longq);
    cr_assert_gt(q.sid_len, EIO_QUERY_SID_MAX);
    cr_assert(!parse("xsid=abc&sidx=1").has_sid);
}

/* A verify call with the common defaults. */
static eio_route_t verify(eio_method_t m, bool upgrade, const char *qs, eio_transport_t sess,
                          unsigned transports, eio_error_t *err)
{
    eio_query_t q = parse(qs);
    eio_verify_in_t in = {
        .method = m,
        .is_upgrade = upgrade,
        .query = &q,
        .transports = transports,
        .session_transport = sess,
    };
    *err = (eio_error_t)-1;
    return eio_verify(&in, err);
}

Test(eio_verify, handshake_ok)
{
    eio_error_t e;
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=4&transport=polling", 0, 0, &e),
                 EIO_ROUTE_HANDSHAKE);
    cr_assert_eq(verify(EIO_METHOD_GET, true, "EIO=4&transport=websocket", 0, 0, &e),
                 EIO_ROUTE_HANDSHAKE);
}

Test(eio_verify, transport_unknown_first)
{
    eio_error_t e;
    /* missing or unknown transport wins over every other problem (bad method, EIO) */
    cr_assert_eq(verify(EIO_METHOD_POST, false, "EIO=3", 0, 0, &e), EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_TRANSPORT_UNKNOWN);
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=4&transport=foo&sid=x", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_TRANSPORT_UNKNOWN);
}

Test(eio_verify, transport_allow_list)
{
    eio_error_t e;
    cr_assert_eq(
        verify(EIO_METHOD_GET, false, "EIO=4&transport=polling", 0, EIO_TRANSPORT_WEBSOCKET, &e),
        EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_TRANSPORT_UNKNOWN);
    cr_assert_eq(
        verify(EIO_METHOD_GET, true, "EIO=4&transport=websocket", 0, EIO_TRANSPORT_POLLING, &e),
        EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_TRANSPORT_UNKNOWN);
    cr_assert_eq(
        verify(EIO_METHOD_GET, true, "EIO=4&transport=websocket", 0, EIO_TRANSPORT_WEBSOCKET, &e),
        EIO_ROUTE_HANDSHAKE);
}

Test(eio_verify, bad_origin)
{
    eio_query_t q = parse("EIO=4&transport=polling");
    eio_verify_in_t in = {.method = EIO_METHOD_GET,
                          .query = &q,
                          .has_origin = true,
                          .origin = SLICE_LIT("http://a\x01")};
    eio_error_t e;
    cr_assert_eq(eio_verify(&in, &e), EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_REQUEST);
    in.origin = SLICE_LIT("http://\xc3\xa9xample.com\t");
    cr_assert_eq(eio_verify(&in, &e), EIO_ROUTE_HANDSHAKE);
    cr_assert(!eio_header_value_is_valid(SLICE_LIT("a\x7f")));
}

Test(eio_verify, unknown_sid)
{
    eio_error_t e;
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=4&transport=polling&sid=nope", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_SID_UNKNOWN);
    /* with a sid, EIO is not looked at (reference: only the handshake checks it) */
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=3&transport=polling&sid=x",
                        EIO_TRANSPORT_POLLING, 0, &e),
                 EIO_ROUTE_POLL_GET);
}

Test(eio_verify, polling_routes)
{
    eio_error_t e;
    const char *qs = "EIO=4&transport=polling&sid=x";
    cr_assert_eq(verify(EIO_METHOD_GET, false, qs, EIO_TRANSPORT_POLLING, 0, &e),
                 EIO_ROUTE_POLL_GET);
    cr_assert_eq(verify(EIO_METHOD_POST, false, qs, EIO_TRANSPORT_POLLING, 0, &e),
                 EIO_ROUTE_POLL_POST);
    cr_assert_eq(verify(EIO_METHOD_OTHER, false, qs, EIO_TRANSPORT_POLLING, 0, &e),
                 EIO_ROUTE_POLL_BAD_METHOD);
}

Test(eio_verify, transport_mismatch_after_upgrade)
{
    eio_error_t e;
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=4&transport=polling&sid=x",
                        EIO_TRANSPORT_WEBSOCKET, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_REQUEST);
    cr_assert_eq(verify(EIO_METHOD_POST, false, "EIO=4&transport=polling&sid=x",
                        EIO_TRANSPORT_WEBSOCKET, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_REQUEST);
}

Test(eio_verify, upgrade_routes)
{
    eio_error_t e;
    /* the mismatch check is skipped for upgrades: probe of a polling session */
    cr_assert_eq(verify(EIO_METHOD_GET, true, "EIO=4&transport=websocket&sid=x",
                        EIO_TRANSPORT_POLLING, 0, &e),
                 EIO_ROUTE_UPGRADE);
    /* a second WebSocket for an upgraded session is routed too (then closed) */
    cr_assert_eq(verify(EIO_METHOD_GET, true, "EIO=4&transport=websocket&sid=x",
                        EIO_TRANSPORT_WEBSOCKET, 0, &e),
                 EIO_ROUTE_UPGRADE);
    /* plain GET with transport=websocket on a websocket session */
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=4&transport=websocket&sid=x",
                        EIO_TRANSPORT_WEBSOCKET, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_REQUEST);
}

Test(eio_verify, handshake_checks_in_order)
{
    eio_error_t e;
    /* method before version */
    cr_assert_eq(verify(EIO_METHOD_POST, false, "EIO=3&transport=polling", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_HANDSHAKE_METHOD);
    cr_assert_eq(verify(EIO_METHOD_OTHER, false, "EIO=4&transport=polling", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_HANDSHAKE_METHOD);
    /* websocket transport without an upgrade, before version */
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=3&transport=websocket", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_BAD_REQUEST);
    cr_assert_eq(verify(EIO_METHOD_GET, false, "EIO=3&transport=polling", 0, 0, &e),
                 EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_UNSUPPORTED_VERSION);
    cr_assert_eq(verify(EIO_METHOD_GET, false, "transport=polling", 0, 0, &e), EIO_ROUTE_REFUSE);
    cr_assert_eq(e, EIO_ERR_UNSUPPORTED_VERSION);
}

Test(eio_verify, error_bodies)
{
    const char *want[] = {
        "{\"code\":0,\"message\":\"Transport unknown\"}",
        "{\"code\":1,\"message\":\"Session ID unknown\"}",
        "{\"code\":2,\"message\":\"Bad handshake method\"}",
        "{\"code\":3,\"message\":\"Bad request\"}",
        "{\"code\":4,\"message\":\"Forbidden\"}",
        "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
    };
    for (int c = 0; c <= 5; c++) {
        slice_t b = eio_error_body((eio_error_t)c);
        cr_assert(slice_eq_cstr(b, want[c]), "code %d: %.*s", c, (int)b.len, b.ptr);
        cr_assert_eq(eio_error_status((eio_error_t)c), c == 4 ? 403 : 400);
        cr_assert(strstr(want[c], eio_error_message((eio_error_t)c)));
    }
}
