/* eio_id: 15 CSPRNG bytes -> 20 URL-safe base64 characters, from a batched pool. */
#include "eio/eio_id.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base64.h"

_Static_assert(EIO_ID_POOL % 15 == 0, "the pool holds whole ids");

static void refill(eio_idgen_t *g)
{
    if (RAND_bytes(g->pool, EIO_ID_POOL) != 1) {
        fprintf(stderr, "fatal: no randomness for session ids\n");
        abort();
    }
    g->pos = 0;
    g->primed = 1;
}

void eio_id_new(eio_idgen_t *g, char out[EIO_ID_LEN + 1])
{
    if (!g->primed || g->pos + 15 > EIO_ID_POOL)
        refill(g);
    size_t n = base64_encode(g->pool + g->pos, 15, out, BASE64_URL | BASE64_NOPAD);
    /* the used bytes are wiped so a later memory disclosure cannot reveal old ids */
    for (size_t i = 0; i < 15; i++)
        g->pool[g->pos + i] = 0;
    g->pos += 15;
    out[n] = '\0';
}
