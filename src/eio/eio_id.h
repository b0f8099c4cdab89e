/*
 * eio_id: unguessable session and socket ids (eio layer).
 *
 * An id is 15 random bytes (OpenSSL RAND_bytes, a CSPRNG) in URL-safe base64: 20
 * characters of [A-Za-z0-9_-], the same shape as the reference server's ids. The
 * Engine.IO sid is a secret (whoever knows it can hijack the session); Socket.IO socket
 * ids are generated the same way but are public. Randomness is drawn in batches into a
 * small pool held by the generator, so a handshake costs no syscall.
 *
 * Ownership: the generator is a plain struct owned by its server. Threading: one
 * generator per loop thread.
 */
#ifndef SIOC_EIO_ID_H
#define SIOC_EIO_ID_H

#include <stddef.h>
#include <stdint.h>

/** Characters of an id (no NUL). */
#define EIO_ID_LEN 20

/** Random bytes kept ready (a multiple of the 15 bytes one id takes). */
#define EIO_ID_POOL 480

/** An id generator. Zero-initialised memory is a valid, empty generator. */
typedef struct eio_idgen {
    uint8_t pool[EIO_ID_POOL]; /* random bytes not used yet, from `pos` on */
    size_t pos;                /* EIO_ID_POOL (or 0 on a zeroed struct) = refill first */
    int primed;                /* 0 until the first refill */
} eio_idgen_t;

/**
 * Writes a new id into `out` (EIO_ID_LEN characters and a NUL). Aborts if the system
 * cannot produce randomness (ids must never be predictable).
 */
void eio_id_new(eio_idgen_t *g, char out[EIO_ID_LEN + 1]);

#endif
