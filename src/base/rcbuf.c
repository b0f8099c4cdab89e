/* rcbuf: one allocation holds the count and the bytes. */
#include "base/rcbuf.h"

#include <stdlib.h>
#include <string.h>

rcbuf_t *rcbuf_new(size_t cap)
{
    rcbuf_t *b = xmalloc(sizeof *b + cap);
    b->refs = 1;
    b->_pad = 0;
    b->len = 0;
    return b;
}

rcbuf_t *rcbuf_from(slice_t s)
{
    rcbuf_t *b = rcbuf_new(s.len);
    if (s.len)
        memcpy(b->data, s.ptr, s.len);
    b->len = s.len;
    return b;
}

void rcbuf_unref(rcbuf_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}
