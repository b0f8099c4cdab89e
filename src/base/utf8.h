/*
 * utf8: strict UTF-8 validation, whole-buffer and incremental (base layer).
 *
 * Validates the UTF-8 of RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF. The incremental form carries the state of a sequence cut
 * at a buffer boundary, so a text message can be checked fragment by fragment as it
 * arrives (RFC 6455 §8.1 lets a server fail fast on the first bad fragment) and a
 * sequence split across fragments is accepted. ASCII runs are checked 8 bytes at a
 * time.
 *
 * Ownership: none (caller buffers). Threading: pure, reentrant.
 * Spec: RFC 3629 §4 (syntax of UTF-8 byte sequences); RFC 6455 §5.6, §8.1.
 */
#ifndef SIOC_BASE_UTF8_H
#define SIOC_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** State of an incremental validation. Zero (UTF8_STATE_INIT) = at a character
 *  boundary with nothing pending. */
typedef struct utf8_state {
    uint8_t need;  /* continuation bytes still expected (0..3) */
    uint8_t lo;    /* allowed range of the next continuation byte */
    uint8_t hi;
    uint8_t bad;   /* 1 once an error was seen (sticky) */
} utf8_state_t;

#define UTF8_STATE_INIT ((utf8_state_t){0, 0, 0, 0})

/** True if the `n` bytes at `p` are complete, valid UTF-8. */
bool utf8_is_valid(const uint8_t *p, size_t n);

/**
 * Feeds `n` more bytes. Returns false as soon as the bytes so far cannot be the
 * prefix of valid UTF-8 (sticky: later calls keep returning false). A sequence may
 * stay open at the end; utf8_is_complete tells whether the text may end here.
 */
bool utf8_feed(utf8_state_t *st, const uint8_t *p, size_t n);

/** True if everything fed so far is valid and ends at a character boundary. */
static inline bool utf8_is_complete(const utf8_state_t *st)
{
    return !st->bad && st->need == 0;
}

/**
 * Length of the longest prefix of `p[0..n)` that ends at a character boundary,
 * assuming valid UTF-8 (for truncating text without cutting a character).
 */
size_t utf8_boundary(const uint8_t *p, size_t n);

#endif
