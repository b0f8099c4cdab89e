/*
 * yjs-text-harness: batch driver of yjs_text_extract for the integration test that
 * compares it with the real `yjs` package (tests/integration/25-yjs-text.test.mjs).
 *
 * Reads standard input line by line; each line is one update v1 in hex. For each line
 * it writes one line to standard output:
 *   "ok <hex of the extracted UTF-8 text>"   (just "ok " for empty text)
 *   "err <status name> <message>"            (the decoder's or model's error)
 * A line that is not valid hex gives "err hex <reason>". Exit status 0 unless
 * standard input/output fail. One process serves thousands of cases, which spawning
 * `sioc-yjs text` per case cannot do quickly.
 *
 * Ownership: one process; buffers reused across lines and freed at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_text.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hex text (no separators) to bytes; false on an odd length or a non-hex digit. */
static bool unhex(const char *s, size_t n, buf_t *out)
{
    if (n % 2 != 0)
        return false;
    uint8_t *w = buf_reserve(out, n / 2 + 1);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        w[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    buf_commit(out, n / 2);
    return true;
}

static void put_hex(const buf_t *b)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = buf_data(b);
    for (size_t i = 0; i < b->len; i++) {
        putchar(digits[p[i] >> 4]);
        putchar(digits[p[i] & 15]);
    }
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    buf_t in = BUF_INIT, text = BUF_INIT;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        buf_clear(&in);
        buf_clear(&text);
        if (!unhex(line, (size_t)n, &in)) {
            puts("err hex not an even run of hex digits");
            continue;
        }
        yjs_error_t err;
        int rc = yjs_text_extract(buf_data(&in), in.len, &text, &err);
        if (rc != YJS_OK) {
            printf("err %s %s\n", yjs_status_name(rc), err.msg);
            continue;
        }
        fputs("ok ", stdout);
        put_hex(&text);
        putchar('\n');
    }
    free(line);
    buf_dispose(&in);
    buf_dispose(&text);
    return ferror(stdin) || fflush(stdout) != 0 ? 1 : 0;
}
