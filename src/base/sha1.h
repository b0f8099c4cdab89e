/*
 * sha1: SHA-1 digests through OpenSSL libcrypto (base layer).
 *
 * Used for the WebSocket accept key (RFC 6455 §4.2.2), where SHA-1 is mandated by the
 * protocol, not for security. Thin wrapper over EVP so the rest of the tree does not
 * include OpenSSL headers.
 *
 * Ownership: caller buffers. Threading: reentrant (no shared state).
 * Spec: FIPS 180-4 (SHA-1), RFC 3174 test vectors.
 */
#ifndef SIOC_BASE_SHA1_H
#define SIOC_BASE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

#define SHA1_DIGEST_LEN 20

/** Writes the SHA-1 digest of `n` bytes at `p` into `out`. */
void sha1_digest(const void *p, size_t n, uint8_t out[SHA1_DIGEST_LEN]);

/** Writes the SHA-1 digest of the concatenation of `n` slices into `out`. */
void sha1_digestv(const slice_t *parts, size_t n, uint8_t out[SHA1_DIGEST_LEN]);

#endif
