/* Unit tests for src/base/utf8: strict validation (RFC 3629), incremental feeding
 * across fragment boundaries, and boundary truncation. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/utf8.h"

#define V(s) utf8_is_valid((const uint8_t *)(s), sizeof(s) - 1)

Test(utf8, valid_sequences, .timeout = 5)
{
    cr_assert(V(""));
    cr_assert(V("plain ascii text, long enough to use the word path"));
    cr_assert(V("\xc2\x80"));             /* U+0080 */
    cr_assert(V("\xdf\xbf"));             /* U+07FF */
    cr_assert(V("\xe0\xa0\x80"));         /* U+0800 */
    cr_assert(V("\xed\x9f\xbf"));         /* U+D7FF, just below the surrogates */
    cr_assert(V("\xee\x80\x80"));         /* U+E000 */
    cr_assert(V("\xef\xbf\xbf"));         /* U+FFFF */
    cr_assert(V("\xf0\x90\x80\x80"));     /* U+10000 */
    cr_assert(V("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
    cr_assert(V("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"));
    cr_assert(V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")); /* Autobahn 6.2 sample */
}

Test(utf8, overlongs_rejected, .timeout = 5)
{
    cr_assert_not(V("\xc0\xaf"));
    cr_assert_not(V("\xc1\xbf"));
    cr_assert_not(V("\xe0\x80\xaf"));
    cr_assert_not(V("\xe0\x9f\xbf"));
    cr_assert_not(V("\xf0\x80\x80\xaf"));
    cr_assert_not(V("\xf0\x8f\xbf\xbf"));
}

Test(utf8, surrogates_and_out_of_range_rejected, .timeout = 5)
{
    cr_assert_not(V("\xed\xa0\x80"));         /* U+D800 */
    cr_assert_not(V("\xed\xbf\xbf"));         /* U+DFFF */
    cr_assert_not(V("\xed\xa0\x80\xed\xb0\x80")); /* a surrogate pair in CESU-8 */
    cr_assert_not(V("\xf4\x90\x80\x80"));     /* U+110000 */
    cr_assert_not(V("\xf5\x80\x80\x80"));
    cr_assert_not(V("\xff"));
    cr_assert_not(V("\xfe"));
}

Test(utf8, stray_and_truncated_rejected, .timeout = 5)
{
    cr_assert_not(V("\x80"));
    cr_assert_not(V("abc\xbf"));
    cr_assert_not(V("\xc2"));
    cr_assert_not(V("\xe2\x82"));
    cr_assert_not(V("\xf0\x9f\x98"));
    cr_assert_not(V("\xc2\x41"));          /* lead followed by ASCII */
    cr_assert_not(V("\xe2\x28\xa1"));
    cr_assert_not(V("0123456789abcdef\x80")); /* error after the 8-byte ASCII path */
}

Test(utf8, incremental_split_at_every_byte, .timeout = 5)
{
    const char *s = "a\xc2\xb5\xe2\x82\xac\xf0\x9f\x98\x80z"; /* a µ € 😀 z */
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        utf8_state_t st = UTF8_STATE_INIT;
        cr_assert(utf8_feed(&st, (const uint8_t *)s, cut));
        cr_assert(utf8_feed(&st, (const uint8_t *)s + cut, n - cut));
        cr_assert(utf8_is_complete(&st), "cut %zu", cut);
    }
    /* byte by byte, with a pending sequence visible in between */
    utf8_state_t st = UTF8_STATE_INIT;
    for (size_t i = 0; i < n; i++)
        cr_assert(utf8_feed(&st, (const uint8_t *)s + i, 1));
    cr_assert(utf8_is_complete(&st));
    st = UTF8_STATE_INIT;
    cr_assert(utf8_feed(&st, (const uint8_t *)"\xf0\x9f", 2));
    cr_assert_not(utf8_is_complete(&st)); /* a message may not end here */
}

Test(utf8, incremental_fails_fast_and_sticks, .timeout = 5)
{
    utf8_state_t st = UTF8_STATE_INIT;
    cr_assert(utf8_feed(&st, (const uint8_t *)"\xed", 1));
    cr_assert_not(utf8_feed(&st, (const uint8_t *)"\xa0\x80", 2)); /* surrogate across cut */
    cr_assert_not(utf8_feed(&st, (const uint8_t *)"ok", 2));
    cr_assert_not(utf8_is_complete(&st));
    st = UTF8_STATE_INIT;
    cr_assert(utf8_feed(&st, (const uint8_t *)"\xf4", 1));
    cr_assert_not(utf8_feed(&st, (const uint8_t *)"\x90", 1)); /* > U+10FFFF across cut */
}

Test(utf8, boundary_truncation, .timeout = 5)
{
    const uint8_t *s = (const uint8_t *)"ab\xe2\x82\xac"; /* "ab€" */
    cr_assert_eq(utf8_boundary(s, 5), 5);
    cr_assert_eq(utf8_boundary(s, 4), 2);
    cr_assert_eq(utf8_boundary(s, 3), 2);
    cr_assert_eq(utf8_boundary(s, 2), 2);
    cr_assert_eq(utf8_boundary(s, 0), 0);
}
