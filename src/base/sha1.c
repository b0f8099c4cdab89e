/* sha1: SHA-1 through OpenSSL's EVP interface (the low-level SHA1_* calls are
 * deprecated in OpenSSL 3). Failures of EVP here can only be OOM or a broken libcrypto,
 * which we treat like OOM: abort. */
#include "base/sha1.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *what)
{
    fprintf(stderr, "fatal: sha1: %s failed\n", what);
    abort();
}

void sha1_digestv(const slice_t *parts, size_t n, uint8_t out[SHA1_DIGEST_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        die("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1)
        die("EVP_DigestInit_ex");
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len && EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len) != 1)
            die("EVP_DigestUpdate");
    }
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != SHA1_DIGEST_LEN)
        die("EVP_DigestFinal_ex");
    EVP_MD_CTX_free(ctx);
}

void sha1_digest(const void *p, size_t n, uint8_t out[SHA1_DIGEST_LEN])
{
    slice_t s = slice_make(p, n);
    sha1_digestv(&s, 1, out);
}
