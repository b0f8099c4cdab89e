/*
 * app_password: bcrypt password hashes as Open WebUI stores them in `auth.password`
 * (app layer).
 *
 * Open WebUI hashes with the Python bcrypt package (`bcrypt.hashpw(pw, bcrypt.gensalt())`,
 * earlier through passlib): "$2b$12$" + 22 salt characters + 31 hash characters. This
 * module makes and checks the same strings with libxcrypt (`crypt_gensalt_rn` and
 * `crypt_r`, libcrypt), so users created by `sioc user add` can sign in to Open WebUI and
 * the other way round. Verification also accepts the $2a$ and $2y$ prefixes other bcrypt
 * implementations write.
 *
 * bcrypt reads at most 72 bytes of a password; Open WebUI refuses longer passwords
 * (bcrypt >= 5 raises on them), so both functions refuse them too instead of silently
 * truncating. A password is bytes (ptr + length) and may not contain a NUL byte.
 *
 * Cost: one hash or check at cost 12 takes a few hundred milliseconds of CPU. Never call
 * these on the event-loop thread: run them on a worker (uv_queue_work) or in the CLI.
 * Threading: reentrant (crypt_r with a caller-owned state); no globals.
 * Ownership: inputs are borrowed; the hash is written into the caller's buffer.
 */
#ifndef SIOC_APP_PASSWORD_H
#define SIOC_APP_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/** bcrypt's input limit in bytes. */
#define APP_PASSWORD_MAX 72
/** Bytes needed for a hash string including its NUL ("$2b$12$" + 53 characters + NUL). */
#define APP_PASSWORD_HASH_SIZE 61
/** The cost factor Python's bcrypt.gensalt() uses by default (2^12 rounds). */
#define APP_PASSWORD_COST 12

/**
 * Hashes `pw` (`len` bytes) with a fresh random salt at `cost` (4..31; 0 means
 * APP_PASSWORD_COST) into `out` (at least APP_PASSWORD_HASH_SIZE bytes, NUL-terminated).
 * Returns 0, or -1 when the password is longer than APP_PASSWORD_MAX, contains a NUL,
 * the cost is out of range, or libcrypt fails (no bcrypt support, no entropy).
 */
int app_password_hash(const char *pw, size_t len, unsigned cost, char *out, size_t cap);

/**
 * Checks `pw` (`len` bytes) against a stored bcrypt `hash` (NUL-terminated, $2a$, $2b$ or
 * $2y$). The comparison of the recomputed hash is constant-time. Returns true on a match;
 * false on a mismatch, a malformed or non-bcrypt hash, or a password that could not have
 * been stored (too long, NUL byte).
 */
bool app_password_verify(const char *pw, size_t len, const char *hash);

#endif
