/*
 * json: validating scanner and JSON.stringify-exact writer. See json.h for the contract.
 *
 * The scanner is one iterative loop over a small state machine. Open containers are
 * remembered in a 64-bit stack (bit d set = the container at depth d+1 is an object), so
 * nesting costs no C stack and the depth cap is the width of that word.
 *
 *   value:  '{' -> push obj, key ':' value      '[' -> push arr, value
 *           '"' string | number | literal        -> after
 *   after:  depth 0 -> done
 *           ',' -> (obj: key ':') value          '}' / ']' matching the top -> pop, after
 */
#include "base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(JSON_MAX_DEPTH <= 64, "the container stack is one uint64_t");

static const char ERR_END[] = "json: unexpected end of input";
static const char ERR_CHAR[] = "json: unexpected character";
static const char ERR_DEPTH[] = "json: nesting too deep";
static const char ERR_ESCAPE[] = "json: invalid escape in string";
static const char ERR_CTRL[] = "json: control character in string";
static const char ERR_NUMBER[] = "json: invalid number";
static const char ERR_TRAILING[] = "json: trailing characters after value";
static const char ERR_KEY[] = "json: expected a string key";
static const char ERR_COLON[] = "json: expected ':'";
static const char ERR_NOT_ARRAY[] = "json: not an array";
static const char ERR_NOT_OBJECT[] = "json: not an object";

static inline void set_err(const char **err, const char *msg)
{
    if (err)
        *err = msg;
}

static inline bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t json_skip_ws(slice_t s, size_t pos)
{
    while (pos < s.len && is_ws(s.ptr[pos]))
        pos++;
    return pos;
}

/* Bytes that end the fast run inside a string: control characters, quote, backslash. */
static const uint8_t STR_STOP[256] = {
    [0x00 ... 0x1F] = 1,
    ['"'] = 1,
    ['\\'] = 1,
};

/* Length of the valid escape sequence at p[0] (a backslash with at least one byte after
 * it), or 0 with *err set. */
static size_t escape_len(const uint8_t *p, size_t avail, const char **err)
{
    uint8_t e = p[1];
    if (e != 'u') {
        if (e != 0 && strchr("\"\\/bfnrt", e))
            return 2;
        set_err(err, ERR_ESCAPE);
        return 0;
    }
    if (avail < 6) {
        set_err(err, ERR_END);
        return 0;
    }
    for (size_t k = 2; k < 6; k++) {
        if (hex_val(p[k]) < 0) {
            set_err(err, ERR_ESCAPE);
            return 0;
        }
    }
    return 6;
}

/* Scans a string whose opening quote is at *pos; leaves *pos after the closing quote. The
 * common case (printable ASCII or UTF-8 bytes, no escapes) is a tight loop. */
static int scan_string(const uint8_t *p, size_t len, size_t *pos, const char **err)
{
    size_t i = *pos + 1;
    for (;;) {
        while (i + 4 <= len &&
               !(STR_STOP[p[i]] | STR_STOP[p[i + 1]] | STR_STOP[p[i + 2]] | STR_STOP[p[i + 3]]))
            i += 4;
        while (i < len && !STR_STOP[p[i]])
            i++;
        if (i >= len) {
            set_err(err, ERR_END);
            return -1;
        }
        if (p[i] == '"') {
            *pos = i + 1;
            return 0;
        }
        if (p[i] < 0x20) {
            set_err(err, ERR_CTRL);
            return -1;
        }
        /* backslash */
        if (i + 1 >= len) {
            set_err(err, ERR_END);
            return -1;
        }
        size_t n = escape_len(p + i, len - i, err);
        if (n == 0)
            return -1;
        i += n;
    }
}

/* Scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at *pos. */
static int scan_number(const uint8_t *p, size_t len, size_t *pos, const char **err)
{
    size_t i = *pos;
    if (i < len && p[i] == '-')
        i++;
    if (i >= len)
        goto out_end;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < len && is_digit(p[i]))
            i++;
    } else {
        goto out_bad;
    }
    if (i < len && p[i] == '.') {
        i++;
        if (i >= len)
            goto out_end;
        if (!is_digit(p[i]))
            goto out_bad;
        while (i < len && is_digit(p[i]))
            i++;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= len)
            goto out_end;
        if (!is_digit(p[i]))
            goto out_bad;
        while (i < len && is_digit(p[i]))
            i++;
    }
    *pos = i;
    return 0;
out_end:
    set_err(err, ERR_END);
    return -1;
out_bad:
    set_err(err, ERR_NUMBER);
    return -1;
}

static int scan_literal(const uint8_t *p, size_t len, size_t *pos, const char *word, size_t n,
                        const char **err)
{
    size_t avail = len - *pos;
    size_t cmp = avail < n ? avail : n;
    if (memcmp(p + *pos, word, cmp) != 0) {
        set_err(err, ERR_CHAR);
        return -1;
    }
    if (avail < n) {
        set_err(err, ERR_END);
        return -1;
    }
    *pos += n;
    return 0;
}

/* Scans a scalar (string, number, literal) at *pos, storing its type. */
static int scan_scalar(const uint8_t *p, size_t len, size_t *pos, json_type_t *type,
                       const char **err)
{
    switch (p[*pos]) {
    case '"':
        *type = JSON_STRING;
        return scan_string(p, len, pos, err);
    case 't':
        *type = JSON_TRUE;
        return scan_literal(p, len, pos, "true", 4, err);
    case 'f':
        *type = JSON_FALSE;
        return scan_literal(p, len, pos, "false", 5, err);
    case 'n':
        *type = JSON_NULL;
        return scan_literal(p, len, pos, "null", 4, err);
    default:
        if (p[*pos] == '-' || is_digit(p[*pos])) {
            *type = JSON_NUMBER;
            return scan_number(p, len, pos, err);
        }
        set_err(err, ERR_CHAR);
        return -1;
    }
}

/* After `{` or `,` inside an object: whitespace, a key string, whitespace, `:`,
 * whitespace. Leaves *pos at the member value. */
static int scan_key(const uint8_t *p, size_t len, size_t *pos, const char **err)
{
    size_t i = json_skip_ws(slice_make(p, len), *pos);
    if (i >= len) {
        set_err(err, ERR_END);
        return -1;
    }
    if (p[i] != '"') {
        set_err(err, ERR_KEY);
        return -1;
    }
    if (scan_string(p, len, &i, err) < 0)
        return -1;
    i = json_skip_ws(slice_make(p, len), i);
    if (i >= len) {
        set_err(err, ERR_END);
        return -1;
    }
    if (p[i] != ':') {
        set_err(err, ERR_COLON);
        return -1;
    }
    *pos = json_skip_ws(slice_make(p, len), i + 1);
    return 0;
}

/* Opens a container at *pos (the bracket). Returns 1 when it is empty and already closed
 * (depth unchanged), 0 when pushed and *pos is at the first value, -1 on error. */
static int open_container(const uint8_t *p, size_t len, size_t *pos, unsigned *depth,
                          uint64_t *stack, const char **err)
{
    bool obj = p[*pos] == '{';
    if (*depth >= JSON_MAX_DEPTH) {
        set_err(err, ERR_DEPTH);
        return -1;
    }
    size_t i = json_skip_ws(slice_make(p, len), *pos + 1);
    if (i >= len) {
        set_err(err, ERR_END);
        return -1;
    }
    if (p[i] == (obj ? '}' : ']')) {
        *pos = i + 1;
        return 1;
    }
    *stack = (*stack & ~(1ull << *depth)) | ((uint64_t)obj << *depth);
    (*depth)++;
    *pos = i;
    return obj ? scan_key(p, len, pos, err) : 0;
}

/* After a complete value inside containers: consumes `,` (then the next key, in an
 * object) or closing brackets. Returns 1 when the outermost container closed, 0 when
 * *pos is at the next value, -1 on error. */
static int after_value(const uint8_t *p, size_t len, size_t *pos, unsigned *depth, uint64_t stack,
                       const char **err)
{
    while (*depth > 0) {
        bool obj = (stack >> (*depth - 1)) & 1;
        size_t i = json_skip_ws(slice_make(p, len), *pos);
        if (i >= len) {
            set_err(err, ERR_END);
            return -1;
        }
        if (p[i] == ',') {
            *pos = json_skip_ws(slice_make(p, len), i + 1);
            return obj ? scan_key(p, len, pos, err) : 0;
        }
        if (p[i] != (obj ? '}' : ']')) {
            set_err(err, ERR_CHAR);
            return -1;
        }
        *pos = i + 1;
        (*depth)--;
    }
    return 1;
}

int json_skip_value(slice_t s, size_t *pos, json_value_t *out, const char **err)
{
    const uint8_t *p = s.ptr;
    size_t len = s.len;
    size_t i = json_skip_ws(s, *pos);
    size_t start = i;
    unsigned depth = 0;
    uint64_t stack = 0;
    json_type_t top = JSON_INVALID;

    for (;;) {
        if (i >= len) {
            set_err(err, ERR_END);
            return -1;
        }
        uint8_t c = p[i];
        json_type_t t;
        int rc;
        if (c == '{' || c == '[') {
            t = c == '{' ? JSON_OBJECT : JSON_ARRAY;
            rc = open_container(p, len, &i, &depth, &stack, err);
            if (rc < 0)
                return -1;
        } else {
            rc = scan_scalar(p, len, &i, &t, err) < 0 ? -1 : 1;
            if (rc < 0)
                return -1;
        }
        if (top == JSON_INVALID)
            top = t;
        if (rc == 0)
            continue; /* descended into a container, at its first value */
        if (depth == 0)
            break;
        rc = after_value(p, len, &i, &depth, stack, err);
        if (rc < 0)
            return -1;
        if (rc == 1)
            break;
    }
    *pos = i;
    if (out) {
        out->type = top;
        out->raw = slice_make(p + start, i - start);
    }
    return 0;
}

int json_validate(slice_t s, json_value_t *out, const char **err)
{
    size_t pos = 0;
    if (json_skip_value(s, &pos, out, err) < 0)
        return -1;
    if (json_skip_ws(s, pos) != s.len) {
        set_err(err, ERR_TRAILING);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ iteration */

static int iter_begin(json_iter_t *it, slice_t s, uint8_t open, const char **err)
{
    size_t i = json_skip_ws(s, 0);
    *it = (json_iter_t){._s = s, ._pos = i, ._close = open == '[' ? ']' : '}', ._first = true};
    if (i >= s.len || s.ptr[i] != open) {
        it->_done = true;
        it->_close = 0;
        set_err(err, open == '[' ? ERR_NOT_ARRAY : ERR_NOT_OBJECT);
        return -1;
    }
    it->_pos = i + 1;
    return 0;
}

int json_array_begin(json_iter_t *it, slice_t s, const char **err)
{
    return iter_begin(it, s, '[', err);
}

int json_object_begin(json_iter_t *it, slice_t s, const char **err)
{
    return iter_begin(it, s, '{', err);
}

/* Positions the iterator at the next element: returns 1 when there is one (at _pos),
 * 0 at the closing bracket (consumed), -1 on error. Sticky once finished. */
static int iter_step(json_iter_t *it, const char **err)
{
    if (it->_done) {
        if (it->_close == 0)
            set_err(err, ERR_CHAR);
        return it->_close == 0 ? -1 : 0;
    }
    size_t i = json_skip_ws(it->_s, it->_pos);
    if (i >= it->_s.len)
        goto out_fail_end;
    uint8_t c = it->_s.ptr[i];
    if (c == it->_close && it->_first) {
        it->_pos = i + 1;
        it->_done = true;
        return 0;
    }
    if (!it->_first) {
        if (c == it->_close) {
            it->_pos = i + 1;
            it->_done = true;
            return 0;
        }
        if (c != ',')
            goto out_fail_char;
        i = json_skip_ws(it->_s, i + 1);
    }
    it->_first = false;
    it->_pos = i;
    return 1;
out_fail_end:
    set_err(err, ERR_END);
    goto out_fail;
out_fail_char:
    set_err(err, ERR_CHAR);
out_fail:
    it->_done = true;
    it->_close = 0; /* marks "failed" for the sticky answer */
    return -1;
}

static int iter_fail(json_iter_t *it)
{
    it->_done = true;
    it->_close = 0;
    return -1;
}

int json_array_next(json_iter_t *it, json_value_t *elem, const char **err)
{
    int rc = iter_step(it, err);
    if (rc <= 0)
        return rc;
    json_value_t v;
    if (json_skip_value(it->_s, &it->_pos, &v, err) < 0)
        return iter_fail(it);
    if (elem)
        *elem = v;
    return 1;
}

int json_object_next(json_iter_t *it, json_value_t *key, json_value_t *val, const char **err)
{
    int rc = iter_step(it, err);
    if (rc <= 0)
        return rc;
    const uint8_t *p = it->_s.ptr;
    size_t len = it->_s.len;
    size_t kstart = it->_pos;
    if (kstart >= len || p[kstart] != '"') {
        set_err(err, kstart >= len ? ERR_END : ERR_KEY);
        return iter_fail(it);
    }
    size_t i = kstart;
    if (scan_key(p, len, &i, err) < 0)
        return iter_fail(it);
    size_t kend = kstart;
    scan_string(p, len, &kend, NULL); /* cannot fail: scan_key just did the same */
    json_value_t v;
    it->_pos = i;
    if (json_skip_value(it->_s, &it->_pos, &v, err) < 0)
        return iter_fail(it);
    if (key)
        *key = (json_value_t){JSON_STRING, slice_make(p + kstart, kend - kstart)};
    if (val)
        *val = v;
    return 1;
}

/* ------------------------------------------------------------------ strings */

bool json_string_has_escapes(slice_t raw)
{
    return raw.len >= 2 && memchr(raw.ptr + 1, '\\', raw.len - 2) != NULL;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const uint8_t *p)
{
    return (uint32_t)(hex_val(p[0]) << 12 | hex_val(p[1]) << 8 | hex_val(p[2]) << 4 |
                      hex_val(p[3]));
}

/* Decodes the escape at p[*i] (a backslash, validated by the scanner, `end` is the
 * closing quote) into o[0..4). Returns the bytes written and advances *i. */
static size_t decode_escape(const uint8_t *p, size_t *i, size_t end, uint8_t *o)
{
    uint8_t e = p[*i + 1];
    *i += 2;
    switch (e) {
    case 'b':
        o[0] = '\b';
        return 1;
    case 'f':
        o[0] = '\f';
        return 1;
    case 'n':
        o[0] = '\n';
        return 1;
    case 'r':
        o[0] = '\r';
        return 1;
    case 't':
        o[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        o[0] = e;
        return 1; /* " \ / */
    }
    uint32_t cp = hex4(p + *i);
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && *i + 6 <= end && p[*i] == '\\' && p[*i + 1] == 'u') {
        uint32_t lo = hex4(p + *i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *i += 6;
            return put_utf8(o, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* a lone surrogate: what Node's UTF-8 encoder writes for it */
    return put_utf8(o, cp);
}

static bool is_raw_string(slice_t raw)
{
    return raw.len >= 2 && raw.ptr[0] == '"' && raw.ptr[raw.len - 1] == '"';
}

int json_string_unescape(slice_t raw, uint8_t *dst, size_t cap, size_t *len)
{
    if (!is_raw_string(raw))
        return -1;
    const uint8_t *p = raw.ptr;
    size_t end = raw.len - 1, i = 1, n = 0;
    while (i < end) {
        const uint8_t *bs = memchr(p + i, '\\', end - i);
        size_t run = bs ? (size_t)(bs - (p + i)) : end - i;
        if (n + run > cap)
            return -1;
        memcpy(dst + n, p + i, run);
        n += run;
        i += run;
        if (i >= end)
            break;
        uint8_t tmp[4];
        size_t k = decode_escape(p, &i, end, tmp);
        if (n + k > cap)
            return -1;
        memcpy(dst + n, tmp, k);
        n += k;
    }
    *len = n;
    return 0;
}

int json_string_unescape_buf(slice_t raw, buf_t *out)
{
    if (!is_raw_string(raw))
        return -1;
    size_t n;
    if (raw.len == 2)
        return 0; /* nothing to add (and buf_reserve(0) on an empty buf_t must be avoided) */
    uint8_t *dst = buf_reserve(out, raw.len - 2);
    if (json_string_unescape(raw, dst, raw.len - 2, &n) < 0)
        return -1;
    buf_commit(out, n);
    return 0;
}

bool json_string_eq(slice_t raw, slice_t lit)
{
    if (!is_raw_string(raw))
        return false;
    const uint8_t *p = raw.ptr;
    size_t end = raw.len - 1, i = 1, n = 0;
    while (i < end) {
        const uint8_t *bs = memchr(p + i, '\\', end - i);
        size_t run = bs ? (size_t)(bs - (p + i)) : end - i;
        if (n + run > lit.len || memcmp(lit.ptr + n, p + i, run) != 0)
            return false;
        n += run;
        i += run;
        if (i >= end)
            break;
        uint8_t tmp[4];
        size_t k = decode_escape(p, &i, end, tmp);
        if (n + k > lit.len || memcmp(lit.ptr + n, tmp, k) != 0)
            return false;
        n += k;
    }
    return n == lit.len;
}

/* ------------------------------------------------------------------ numbers */

static bool is_number_token(slice_t raw)
{
    size_t pos = 0;
    return raw.len > 0 && scan_number(raw.ptr, raw.len, &pos, NULL) == 0 && pos == raw.len;
}

int json_number_to_double(slice_t raw, double *out)
{
    char tmp[513];
    if (raw.len >= sizeof tmp || !is_number_token(raw))
        return -1;
    memcpy(tmp, raw.ptr, raw.len);
    tmp[raw.len] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

int json_number_to_i64(slice_t raw, int64_t *out)
{
    const int64_t max = 9007199254740991LL;
    if (!is_number_token(raw))
        return -1;
    size_t i = raw.ptr[0] == '-' ? 1 : 0;
    bool neg = i == 1;
    size_t digits = raw.len - i;
    bool plain = digits <= 16 && memchr(raw.ptr + i, '.', digits) == NULL &&
                 memchr(raw.ptr + i, 'e', digits) == NULL &&
                 memchr(raw.ptr + i, 'E', digits) == NULL;
    if (plain) {
        int64_t v = 0;
        for (; i < raw.len; i++)
            v = v * 10 + (raw.ptr[i] - '0');
        if (v > max)
            return -1;
        *out = neg ? -v : v;
        return 0;
    }
    double d;
    if (json_number_to_double(raw, &d) < 0 || !(fabs(d) <= (double)max) || d != floor(d))
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* ------------------------------------------------------------------ writing */

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1, p[0] >= 0x80), or the negated
 * length of its maximal invalid subpart, which becomes one U+FFFD (WHATWG decoding). */
static int utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return -1;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n || p[k] < lo || p[k] > hi)
            return -k;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* The escape of an ASCII byte that JSON.stringify escapes, or NULL. `tmp` holds \u00xx. */
static const char *ascii_escape(uint8_t c, char tmp[7], size_t *n)
{
    static const char hex[] = "0123456789abcdef";
    *n = 2;
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        break;
    }
    if (c >= 0x20)
        return NULL;
    memcpy(tmp, "\\u00", 4);
    tmp[4] = hex[c >> 4];
    tmp[5] = hex[c & 15];
    tmp[6] = '\0';
    *n = 6;
    return tmp;
}

static inline bool plain_byte(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

size_t json_string_len(slice_t s)
{
    size_t n = 2, i = 0;
    while (i < s.len) {
        uint8_t c = s.ptr[i];
        if (plain_byte(c)) {
            n++;
            i++;
            continue;
        }
        if (c < 0x80) {
            char tmp[7];
            size_t k;
            ascii_escape(c, tmp, &k);
            n += k;
            i++;
            continue;
        }
        int q = utf8_seq(s.ptr + i, s.len - i);
        n += q > 0 ? (size_t)q : 3;
        i += q > 0 ? (size_t)q : (size_t)-q;
    }
    return n;
}

void json_append_string(buf_t *out, slice_t s)
{
    buf_append_byte(out, '"');
    size_t i = 0;
    while (i < s.len) {
        size_t start = i;
        while (i < s.len && plain_byte(s.ptr[i]))
            i++;
        while (i < s.len && s.ptr[i] >= 0x80) {
            int q = utf8_seq(s.ptr + i, s.len - i);
            if (q < 0)
                break;
            i += (size_t)q;
        }
        if (i > start) {
            buf_append(out, s.ptr + start, i - start);
            continue;
        }
        uint8_t c = s.ptr[i];
        if (c >= 0x80) {
            buf_append(out, "\xEF\xBF\xBD", 3);
            i += (size_t)-utf8_seq(s.ptr + i, s.len - i);
            continue;
        }
        char tmp[7];
        size_t k;
        const char *e = ascii_escape(c, tmp, &k);
        buf_append(out, e, k);
        i++;
    }
    buf_append_byte(out, '"');
}

void json_append_u64(buf_t *out, uint64_t v)
{
    buf_append_u64(out, v);
}

void json_append_i64(buf_t *out, int64_t v)
{
    if (v < 0) {
        buf_append_byte(out, '-');
        buf_append_u64(out, (uint64_t)0 - (uint64_t)v);
        return;
    }
    buf_append_u64(out, (uint64_t)v);
}

void json_append_bool(buf_t *out, bool v)
{
    if (v)
        buf_append(out, "true", 4);
    else
        buf_append(out, "false", 5);
}

void json_append_null(buf_t *out)
{
    buf_append(out, "null", 4);
}

/* Shortest digits that round-trip: digits[0..k) and the decimal exponent n such that
 * v = 0.d1d2...dk * 10^n. `v` is finite and > 0. */
static int shortest_digits(double v, char digits[20], int *n)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec < 17 && strtod(tmp, NULL) != v)
            continue;
        /* tmp = d[.ddd]e[+-]XX */
        int k = 0;
        const char *c = tmp;
        for (; *c && *c != 'e'; c++) {
            if (*c != '.')
                digits[k++] = *c;
        }
        while (k > 1 && digits[k - 1] == '0')
            k--;
        *n = atoi(c + 1) + 1;
        return k;
    }
    return 0; /* not reached: precision 17 always round-trips */
}

void json_append_double(buf_t *out, double v)
{
    if (isnan(v) || isinf(v)) {
        json_append_null(out);
        return;
    }
    if (v == 0) {
        buf_append_byte(out, '0');
        return;
    }
    if (v < 0) {
        buf_append_byte(out, '-');
        v = -v;
    }
    char d[20];
    int n;
    int k = shortest_digits(v, d, &n);
    if (k <= n && n <= 21) {
        buf_append(out, d, (size_t)k);
        for (int i = k; i < n; i++)
            buf_append_byte(out, '0');
    } else if (0 < n && n <= 21) {
        buf_append(out, d, (size_t)n);
        buf_append_byte(out, '.');
        buf_append(out, d + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        buf_append(out, "0.", 2);
        for (int i = 0; i < -n; i++)
            buf_append_byte(out, '0');
        buf_append(out, d, (size_t)k);
    } else {
        buf_append_byte(out, (uint8_t)d[0]);
        if (k > 1) {
            buf_append_byte(out, '.');
            buf_append(out, d + 1, (size_t)(k - 1));
        }
        buf_append_byte(out, 'e');
        buf_append_byte(out, n - 1 >= 0 ? '+' : '-');
        buf_append_u64(out, (uint64_t)(n - 1 >= 0 ? n - 1 : 1 - n));
    }
}
