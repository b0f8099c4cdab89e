/*
 * app_password: bcrypt through libxcrypt. crypt_r needs its `struct crypt_data` (about
 * 32 KiB) per call; it lives on the heap so the worker threads' stacks stay small, and is
 * wiped before it is freed because it held the password.
 */
#include "app/app_password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* The password as a C string in a buffer we can wipe afterwards; -1 when it cannot be
 * a stored password. */
static int copy_password(const char *pw, size_t len, char buf[APP_PASSWORD_MAX + 1])
{
    if (!pw || len > APP_PASSWORD_MAX || memchr(pw, '\0', len))
        return -1;
    memcpy(buf, pw, len);
    buf[len] = '\0';
    return 0;
}

/* True for "$2a$", "$2b$" or "$2y$" followed by a two-digit cost and 53 characters. */
static bool is_bcrypt(const char *hash)
{
    if (!hash || strlen(hash) != APP_PASSWORD_HASH_SIZE - 1)
        return false;
    if (hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$')
        return false;
    if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y')
        return false;
    return hash[4] >= '0' && hash[4] <= '3' && hash[5] >= '0' && hash[5] <= '9';
}

int app_password_hash(const char *pw, size_t len, unsigned cost, char *out, size_t cap)
{
    char plain[APP_PASSWORD_MAX + 1];
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    int rc = -1;
    struct crypt_data *cd = NULL;
    if (cost == 0)
        cost = APP_PASSWORD_COST;
    if (cost < 4 || cost > 31 || !out || cap < APP_PASSWORD_HASH_SIZE ||
        copy_password(pw, len, plain) != 0)
        goto out;
    if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, sizeof setting))
        goto out;
    cd = calloc(1, sizeof *cd);
    if (!cd)
        goto out;
    const char *h = crypt_r(plain, setting, cd);
    if (!h || !is_bcrypt(h))
        goto out;
    memcpy(out, h, APP_PASSWORD_HASH_SIZE);
    rc = 0;
out:
    OPENSSL_cleanse(plain, sizeof plain);
    if (cd) {
        OPENSSL_cleanse(cd, sizeof *cd);
        free(cd);
    }
    return rc;
}

bool app_password_verify(const char *pw, size_t len, const char *hash)
{
    char plain[APP_PASSWORD_MAX + 1];
    bool ok = false;
    struct crypt_data *cd = NULL;
    if (!is_bcrypt(hash) || copy_password(pw, len, plain) != 0)
        goto out;
    cd = calloc(1, sizeof *cd);
    if (!cd)
        goto out;
    const char *h = crypt_r(plain, hash, cd);
    ok = h && strlen(h) == APP_PASSWORD_HASH_SIZE - 1 &&
         CRYPTO_memcmp(h, hash, APP_PASSWORD_HASH_SIZE - 1) == 0;
out:
    OPENSSL_cleanse(plain, sizeof plain);
    if (cd) {
        OPENSSL_cleanse(cd, sizeof *cd);
        free(cd);
    }
    return ok;
}
