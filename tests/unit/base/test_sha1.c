/* Unit tests for src/base/sha1 (FIPS 180 / RFC 3174 vectors) and the WebSocket
 * accept key built on it (RFC 6455 §1.3 example). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/sha1.h"
#include "ws/ws_conn.h"

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < SHA1_DIGEST_LEN; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

Test(sha1, standard_vectors, .timeout = 5)
{
    const char *v[][2] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"The quick brown fox jumps over the lazy dog",
         "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[SHA1_DIGEST_LEN];
        char h[41];
        sha1_digest(v[i][0], strlen(v[i][0]), d);
        hex(d, h);
        cr_assert_str_eq(h, v[i][1], "sha1(%s)", v[i][0]);
    }
}

Test(sha1, million_a, .timeout = 5)
{
    static char a[1000000];
    memset(a, 'a', sizeof a);
    uint8_t d[SHA1_DIGEST_LEN];
    char h[41];
    sha1_digest(a, sizeof a, d);
    hex(d, h);
    cr_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

Test(sha1, parts_equal_whole, .timeout = 5)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    uint8_t whole[SHA1_DIGEST_LEN], parts[SHA1_DIGEST_LEN];
    sha1_digest(s, strlen(s), whole);
    slice_t v[3] = {slice_make(s, 4), slice_make(s + 4, 0), slice_from_cstr(s + 4)};
    sha1_digestv(v, 3, parts);
    cr_assert(memcmp(whole, parts, SHA1_DIGEST_LEN) == 0);
}

Test(sha1, websocket_accept_key_rfc6455, .timeout = 5)
{
    char out[WS_ACCEPT_KEY_LEN + 1];
    ws_accept_key(SLICE_LIT("dGhlIHNhbXBsZSBub25jZQ=="), out);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
