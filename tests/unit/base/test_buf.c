/* Unit tests for src/base/buf, slice and rcbuf. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/buf.h"
#include "base/rcbuf.h"
#include "base/slice.h"

Test(buf, append_and_consume_keep_order, .timeout = 5)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "hello ");
    buf_append_cstr(&b, "world");
    cr_assert(slice_eq_cstr(buf_slice(&b), "hello world"));
    buf_consume(&b, 6);
    cr_assert(slice_eq_cstr(buf_slice(&b), "world"));
    buf_consume(&b, 100);
    cr_assert_eq(b.len, 0);
    buf_dispose(&b);
    cr_assert_null(buf_data(&b));
}

Test(buf, reserve_reuses_consumed_front, .timeout = 5)
{
    buf_t b = BUF_INIT;
    buf_append(&b, "0123456789", 10);
    size_t cap = b._cap;
    for (int i = 0; i < 1000; i++) {
        buf_consume(&b, 10);
        buf_append(&b, "abcdefghij", 10);
    }
    cr_assert_eq(b._cap, cap, "a drained buffer must not grow (cap %zu -> %zu)", cap, b._cap);
    cr_assert(slice_eq_cstr(buf_slice(&b), "abcdefghij"));
    buf_dispose(&b);
}

Test(buf, numbers_and_format, .timeout = 5)
{
    buf_t b = BUF_INIT;
    buf_append_u64(&b, 0);
    buf_append_byte(&b, ' ');
    buf_append_u64(&b, 18446744073709551615ull);
    buf_appendf(&b, " %s=%d", "x", -5);
    cr_assert(slice_eq_cstr(buf_slice(&b), "0 18446744073709551615 x=-5"));
    size_t n;
    uint8_t *p = buf_steal(&b, &n);
    cr_assert_eq(n, 27);
    cr_assert_eq(memcmp(p, "0 1", 3), 0);
    free(p);
    cr_assert_eq(b.len, 0);
}

Test(slice, compare_and_parse, .timeout = 5)
{
    cr_assert(slice_eq_nocase(SLICE_LIT("Upgrade"), SLICE_LIT("uPGRADE")));
    cr_assert_not(slice_eq_nocase(SLICE_LIT("Upgrade"), SLICE_LIT("Upgrad")));
    uint64_t v = 0;
    cr_assert(slice_to_u64(SLICE_LIT("12345"), 100000, &v));
    cr_assert_eq(v, 12345);
    cr_assert_not(slice_to_u64(SLICE_LIT("100001"), 100000, &v));
    cr_assert_not(slice_to_u64(SLICE_LIT(""), 10, &v));
    cr_assert_not(slice_to_u64(SLICE_LIT("1a"), 100, &v));
    cr_assert_not(slice_to_u64(SLICE_LIT("99999999999999999999999"), UINT64_MAX, &v));
    cr_assert_eq(slice_index(SLICE_LIT("a,b"), ','), 1);
    cr_assert_eq(slice_index(SLICE_LIT("ab"), ','), -1);
}

Test(rcbuf, last_unref_frees, .timeout = 5)
{
    rcbuf_t *r = rcbuf_from(SLICE_LIT("frame"));
    rcbuf_ref(r);
    rcbuf_ref(r);
    cr_assert_eq(r->refs, 3);
    rcbuf_unref(r);
    rcbuf_unref(r);
    cr_assert(slice_eq_cstr(rcbuf_slice(r), "frame"));
    rcbuf_unref(r); /* freed here: ASan would flag a double free or leak */
    rcbuf_unref(NULL);
}

Test(buf, reserve_zero_on_empty_buffer, .timeout = 5)
{
    buf_t b = BUF_INIT;
    uint8_t *p = buf_reserve(&b, 0);
    cr_assert_not_null(p, "reserving nothing still yields a writable position");
    buf_commit(&b, 0);
    cr_assert_eq(b.len, 0);
    buf_dispose(&b);
}
