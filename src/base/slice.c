/* slice: the few helpers too long to inline. */
#include "base/slice.h"

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool slice_eq_nocase(slice_t a, slice_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.ptr[i]) != lower(b.ptr[i]))
            return false;
    return true;
}

bool slice_to_u64(slice_t a, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (a.len == 0)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        uint8_t c = a.ptr[i];
        if (c < '0' || c > '9')
            return false;
        if (v > (max - (uint64_t)(c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return true;
}
