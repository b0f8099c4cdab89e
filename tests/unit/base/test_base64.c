/* Unit tests for src/base/base64: RFC 4648 §10 vectors, URL alphabet, padding rules. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/base64.h"

static void check_encode(const char *in, const char *want, unsigned flags)
{
    char out[128];
    size_t n = base64_encode((const uint8_t *)in, strlen(in), out, flags);
    cr_assert_eq(n, strlen(want), "len of %s: %zu", in, n);
    cr_assert_eq(n, base64_encoded_len(strlen(in), flags));
    cr_assert(memcmp(out, want, n) == 0, "encode(%s) = %.*s, want %s", in, (int)n, out, want);
}

static void check_decode(const char *in, const char *want, unsigned flags)
{
    uint8_t out[128];
    ssize_t n = base64_decode(in, strlen(in), out, flags);
    cr_assert_eq(n, (ssize_t)strlen(want), "decode(%s) -> %zd", in, n);
    cr_assert(memcmp(out, want, (size_t)n) == 0);
}

Test(base64, rfc4648_vectors, .timeout = 5)
{
    const char *v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                          {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                          {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        check_encode(v[i][0], v[i][1], BASE64_STD);
        check_decode(v[i][1], v[i][0], BASE64_STD);
    }
}

Test(base64, nopad_and_url_alphabet, .timeout = 5)
{
    check_encode("f", "Zg", BASE64_NOPAD);
    check_encode("fo", "Zm8", BASE64_NOPAD);
    check_decode("Zg", "f", BASE64_NOPAD);
    check_decode("Zg==", "f", BASE64_NOPAD); /* padding optional, accepted when right */
    const uint8_t bytes[] = {0xfb, 0xff, 0xfe};
    char out[8];
    size_t n = base64_encode(bytes, 3, out, BASE64_STD);
    cr_assert(n == 4 && memcmp(out, "+//+", 4) == 0);
    n = base64_encode(bytes, 3, out, BASE64_URL);
    cr_assert(n == 4 && memcmp(out, "-__-", 4) == 0);
    uint8_t back[8];
    cr_assert_eq(base64_decode("-__-", 4, back, BASE64_URL), 3);
    cr_assert(memcmp(back, bytes, 3) == 0);
    cr_assert_eq(base64_decode("-__-", 4, back, BASE64_STD), -1);
    cr_assert_eq(base64_decode("+//+", 4, back, BASE64_URL), -1);
}

Test(base64, rejects_malformed, .timeout = 5)
{
    uint8_t out[64];
    const char *bad[] = {"Zg", "Zg=", "Z===", "Zm9v Yg==", "Zm9vY", "Zm=v", "=Zm9", "Zm9v\n",
                         "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(base64_decode(bad[i], strlen(bad[i]), out, BASE64_STD), -1, "%s", bad[i]);
    /* a lone final character can never be valid, with or without padding rules */
    cr_assert_eq(base64_decode("Zm9vY", 5, out, BASE64_NOPAD), -1);
}

Test(base64, round_trip_all_lengths, .timeout = 5)
{
    uint8_t in[300], back[300];
    char enc[420];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        for (unsigned f = 0; f < 4; f++) {
            size_t e = base64_encode(in, n, enc, f);
            cr_assert_eq(e, base64_encoded_len(n, f));
            ssize_t d = base64_decode(enc, e, back, f);
            cr_assert_eq(d, (ssize_t)n, "n=%zu flags=%u", n, f);
            cr_assert(n == 0 || memcmp(in, back, n) == 0);
            cr_assert(base64_decoded_max(e) >= n);
        }
    }
}
