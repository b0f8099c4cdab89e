/* buf: growable byte buffer. Growth doubles, and consumed front space is reclaimed by
 * sliding the live bytes down before growing, so a read buffer that is drained as it
 * fills never grows past its high-water mark. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_dispose(buf_t *b)
{
    if (!b)
        return;
    free(b->_mem);
    *b = BUF_INIT;
}

uint8_t *buf_try_reserve(buf_t *b, size_t n)
{
    size_t need = b->_off + b->len + n;
    if (b->_mem && need <= b->_cap)
        return b->_mem + b->_off + b->len;
    if (b->_off && b->len + n <= b->_cap) {
        memmove(b->_mem, b->_mem + b->_off, b->len);
        b->_off = 0;
        return b->_mem + b->len;
    }
    if (b->len + n < b->len)
        return NULL;
    size_t cap = b->_cap ? b->_cap : 64;
    while (cap < b->len + n) {
        if (cap > SIZE_MAX / 2)
            return NULL;
        cap *= 2;
    }
    uint8_t *mem = try_malloc(cap);
    if (!mem)
        return NULL;
    if (b->len)
        memcpy(mem, b->_mem + b->_off, b->len);
    free(b->_mem);
    b->_mem = mem;
    b->_off = 0;
    b->_cap = cap;
    return mem + b->len;
}

uint8_t *buf_reserve(buf_t *b, size_t n)
{
    uint8_t *p = buf_try_reserve(b, n);
    if (!p) {
        fprintf(stderr, "fatal: out of memory growing a buffer by %zu bytes\n", n);
        abort();
    }
    return p;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        buf_clear(b);
        return;
    }
    b->_off += n;
    b->len -= n;
}

void buf_append(buf_t *b, const void *p, size_t n)
{
    if (!n)
        return;
    memcpy(buf_reserve(b, n), p, n);
    b->len += n;
}

void buf_append_cstr(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_append_byte(buf_t *b, uint8_t c)
{
    *buf_reserve(b, 1) = c;
    b->len++;
}

void buf_append_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

void buf_appendf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    uint8_t *dst = buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint8_t *buf_steal(buf_t *b, size_t *len)
{
    if (!b->len) {
        buf_dispose(b);
        *len = 0;
        return NULL;
    }
    if (b->_off)
        memmove(b->_mem, b->_mem + b->_off, b->len);
    uint8_t *p = b->_mem;
    *len = b->len;
    *b = BUF_INIT;
    return p;
}
