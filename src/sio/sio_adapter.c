/*
 * sio_adapter: what sio offers cluster adapters beyond local delivery — the hooks a
 * cluster adapter needs to count answers from other nodes into a broadcast-with-ack
 * collector (sio layer). See sio_adapter.h.
 */
#include "sio/sio_adapter.h"

#include "sio/sio_emit.h"
#include "sio/sio_socket.h"

void sio_ackgroup_expect(sio_ackgroup_t *g, size_t n)
{
    if (!g->done)
        g->expected += n;
}

void sio_ackgroup_ref(sio_ackgroup_t *g)
{
    g->refs++;
}

void sio_ackgroup_unref(sio_ackgroup_t *g)
{
    sio__ackgroup_unref(g);
}

bool sio_ackgroup_is_done(const sio_ackgroup_t *g)
{
    return g->done;
}

void sio_ackgroup_answer_remote(sio_ackgroup_t *g, const sioc_args_t *args)
{
    sio__ackgroup_answer(g, NULL, args);
}
