/* utf8: strict UTF-8 validation (RFC 3629 §4).
 *
 * The state is "how many continuation bytes are still due, and which range the next
 * one must fall in". Only the first continuation byte after E0, ED, F0 and F4 has a
 * narrowed range; that is what rules out overlongs, surrogates and code points above
 * U+10FFFF. ASCII runs are skipped 8 bytes at a time when no sequence is open. */
#include "base/utf8.h"

#include <string.h>

/* Sets up the state for lead byte `c`; false if `c` cannot start a character. */
static bool lead(utf8_state_t *st, uint8_t c)
{
    st->lo = 0x80;
    st->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        st->need = 1;
        return true;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        st->need = 2;
        if (c == 0xE0)
            st->lo = 0xA0; /* below is an overlong 3-byte form */
        else if (c == 0xED)
            st->hi = 0x9F; /* above are the UTF-16 surrogates */
        return true;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        st->need = 3;
        if (c == 0xF0)
            st->lo = 0x90; /* overlong 4-byte form */
        else if (c == 0xF4)
            st->hi = 0x8F; /* past U+10FFFF */
        return true;
    }
    return false; /* 80..C1 (continuation or overlong 2-byte lead), F5..FF */
}

/* Skips ASCII 8 bytes at a time; returns the index of the first byte that needs the
 * state machine. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

bool utf8_feed(utf8_state_t *st, const uint8_t *p, size_t n)
{
    if (st->bad)
        return false;
    size_t i = 0;
    while (i < n) {
        if (st->need == 0) {
            i = skip_ascii(p, i, n);
            if (i == n)
                break;
            if (!lead(st, p[i]))
                goto out_bad;
            i++;
            continue;
        }
        uint8_t c = p[i];
        if (c < st->lo || c > st->hi)
            goto out_bad;
        st->need--;
        st->lo = 0x80;
        st->hi = 0xBF;
        i++;
    }
    return true;
out_bad:
    st->bad = 1;
    return false;
}

bool utf8_is_valid(const uint8_t *p, size_t n)
{
    utf8_state_t st = UTF8_STATE_INIT;
    return utf8_feed(&st, p, n) && utf8_is_complete(&st);
}

size_t utf8_boundary(const uint8_t *p, size_t n)
{
    /* Walk back over at most 3 continuation bytes to the lead byte of the last
     * character and keep it only if the character is complete. */
    size_t i = n;
    size_t back = 0;
    while (i > 0 && back < 4 && (p[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return n - back;
    uint8_t c = p[i - 1];
    size_t want = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    return back >= want ? n : i - 1;
}
