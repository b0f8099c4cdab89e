/* base64: RFC 4648 codec. The decoder maps characters through a 256-entry table built
 * at compile time from the alphabet; 0xFF marks "not in this alphabet". */
#include "base/base64.h"

#include <stdbool.h>

static const char std_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64_encoded_len(size_t n, unsigned flags)
{
    if (flags & BASE64_NOPAD)
        return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
    return ((n + 2) / 3) * 4;
}

size_t base64_encode(const uint8_t *in, size_t n, char *out, unsigned flags)
{
    const char *a = (flags & BASE64_URL) ? url_alpha : std_alpha;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = a[v >> 18];
        o[1] = a[(v >> 12) & 63];
        o[2] = a[(v >> 6) & 63];
        o[3] = a[v & 63];
        o += 4;
    }
    size_t rest = n - i;
    if (rest == 0)
        return (size_t)(o - out);
    uint32_t v = (uint32_t)in[i] << 16 | (rest == 2 ? (uint32_t)in[i + 1] << 8 : 0);
    *o++ = a[v >> 18];
    *o++ = a[(v >> 12) & 63];
    if (rest == 2)
        *o++ = a[(v >> 6) & 63];
    if (!(flags & BASE64_NOPAD)) {
        if (rest == 1)
            *o++ = '=';
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* Value of `c` in the selected alphabet, or -1. */
static int digit(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Strips correct padding from the end of the input. Returns the number of data
 * characters, or (size_t)-1 when the padding is wrong for the flags. */
static size_t strip_padding(const char *in, size_t n, unsigned flags)
{
    size_t pad = 0;
    while (pad < n && pad < 2 && in[n - 1 - pad] == '=')
        pad++;
    if (pad == 0) {
        if ((flags & BASE64_NOPAD) || n % 4 == 0)
            return n;
        return (size_t)-1;
    }
    if (n % 4 != 0)
        return (size_t)-1;
    return n - pad;
}

ssize_t base64_decode(const char *in, size_t n, uint8_t *out, unsigned flags)
{
    bool url = flags & BASE64_URL;
    size_t data = strip_padding(in, n, flags);
    if (data == (size_t)-1 || data % 4 == 1)
        return -1;
    uint8_t *o = out;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < data; i++) {
        int d = digit((unsigned char)in[i], url);
        if (d < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)(o - out);
}
