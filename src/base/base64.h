/*
 * base64: RFC 4648 base64 encoding and decoding (base layer).
 *
 * Standard alphabet with '=' padding by default (Engine.IO polling binary packets,
 * "b" + base64; the WebSocket accept key); BASE64_URL selects the URL-safe alphabet
 * ('-' and '_', RFC 4648 §5) and BASE64_NOPAD drops the padding on encode (Engine.IO
 * sids). Encoders and decoders write into caller buffers sized with the *_len helpers
 * and never allocate.
 *
 * Ownership: caller buffers only. Threading: pure, reentrant. Spec: RFC 4648 §4, §5.
 */
#ifndef SIOC_BASE_BASE64_H
#define SIOC_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Encoding/decoding options (bit flags). */
enum base64_flags {
    BASE64_STD = 0,        /**< '+' '/' alphabet, '=' padding */
    BASE64_URL = 1 << 0,   /**< '-' '_' alphabet */
    BASE64_NOPAD = 1 << 1, /**< encode without '='; decode: padding optional */
};

/** Characters base64_encode writes for `n` input bytes (no NUL). */
size_t base64_encoded_len(size_t n, unsigned flags);

/** Upper bound of the bytes base64_decode writes for `n` input characters. */
static inline size_t base64_decoded_max(size_t n)
{
    return (n / 4) * 3 + 3;
}

/**
 * Encodes `n` bytes at `in` into `out` (room for base64_encoded_len(n, flags)
 * characters; no NUL is written). Returns the number of characters written.
 */
size_t base64_encode(const uint8_t *in, size_t n, char *out, unsigned flags);

/**
 * Decodes `n` characters at `in` into `out` (room for base64_decoded_max(n) bytes).
 * Accepts exactly the alphabet selected by `flags`; padding must be correct unless
 * BASE64_NOPAD (then it is optional, but if present it must be correct). Rejects
 * whitespace, a stray '=' and a lone final character; non-zero trailing bits are
 * tolerated, as Node's decoder does. Returns the number of bytes written, or -1 on
 * invalid input (`out` may be partly written).
 */
ssize_t base64_decode(const char *in, size_t n, uint8_t *out, unsigned flags);

#endif
