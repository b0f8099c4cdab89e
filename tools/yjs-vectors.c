/*
 * yjs-vectors: batch checker for the Yjs codec against vectors produced by the real
 * `yjs` package (tests/integration/2*-yjs*.test.mjs write them). One process checks
 * thousands of cases, which spawning sioc-yjs per case could not do quickly.
 *
 * Input (a file or "-"), one case per line, fields separated by single spaces, byte
 * strings in hex:
 *   M EXPECTED IN1 IN2 ...   yjs_merge_updates(IN...) == EXPECTED
 *   S EXPECTED IN            yjs_state_vector_from_update(IN) == EXPECTED
 *   D EXPECTED IN SV         yjs_diff_update(IN, SV) == EXPECTED
 *   R IN                     IN decodes, and yjs_update_encode gives IN back
 *   E IN                     IN is rejected by the decoder, merge, sv and diff
 *   T PERM KEYS              yjs_timsort with yjs's reader comparator on KEYS
 *                            (client:clock:kind,... kind 0 GC, 1 Item, 2 Skip) gives
 *                            the permutation PERM (i,j,... as V8 sorted them)
 * Lines starting with '#' are labels, echoed in failure reports.
 *
 * Output: one line per failure (label, line number, what differed, both values, cut),
 * then "yjs-vectors: N passed, N failed". Exit status 0 when nothing failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "yjs/yjs_merge.h"
#include "yjs/yjs_timsort.h"
#include "yjs/yjs_update.h"

#define MAX_FIELDS 4096

typedef struct ctx {
    char label[256];
    unsigned long line;
    unsigned long passed;
    unsigned long failed;
} ctx_t;

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

static int unhex(const char *s, buf_t *out)
{
    size_t n = strlen(s);
    if (n % 2)
        return -1;
    uint8_t *p = buf_reserve(out, n / 2 + 1);
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(s[i]), b = hexval(s[i + 1]);
        if (a < 0 || b < 0)
            return -1;
        p[i / 2] = (uint8_t)(a << 4 | b);
    }
    buf_commit(out, n / 2);
    return 0;
}

static void print_hex(FILE *f, const buf_t *b, size_t max)
{
    const uint8_t *p = buf_data(b);
    for (size_t i = 0; i < b->len && i < max; i++)
        fprintf(f, "%02x", p[i]);
    if (b->len > max)
        fputs("...", f);
}

static void fail(ctx_t *c, const char *what, const buf_t *exp, const buf_t *got,
                 const yjs_error_t *err)
{
    c->failed++;
    if (c->failed > 20)
        return;
    printf("FAIL %s line %lu: %s\n", c->label, c->line, what);
    if (exp) {
        fputs("  expected ", stdout);
        print_hex(stdout, exp, 400);
        putchar('\n');
    }
    if (got) {
        fputs("  got      ", stdout);
        print_hex(stdout, got, 400);
        putchar('\n');
    }
    if (err && err->code)
        printf("  error: %s\n", err->msg);
}

static void check_eq(ctx_t *c, const char *what, int rc, const buf_t *exp, const buf_t *got,
                     const yjs_error_t *err)
{
    if (rc == 0 && exp->len == got->len && memcmp(buf_data(exp), buf_data(got), got->len) == 0)
        c->passed++;
    else
        fail(c, what, exp, got, err);
}

static void run_merge(ctx_t *c, char **f, int nf)
{
    buf_t exp = BUF_INIT, got = BUF_INIT;
    buf_t *ins = calloc((size_t)nf, sizeof *ins);
    slice_t *sl = calloc((size_t)nf, sizeof *sl);
    yjs_error_t err;
    unhex(f[1], &exp);
    for (int i = 2; i < nf; i++) {
        unhex(f[i], &ins[i]);
        sl[i - 2] = buf_slice(&ins[i]);
    }
    int rc = yjs_merge_updates(sl, (size_t)(nf - 2), &got, &err);
    check_eq(c, "merge", rc, &exp, &got, &err);
    for (int i = 0; i < nf; i++)
        buf_dispose(&ins[i]);
    free(ins);
    free(sl);
    buf_dispose(&exp);
    buf_dispose(&got);
}

static void run_sv_diff(ctx_t *c, char **f, int nf)
{
    buf_t exp = BUF_INIT, in = BUF_INIT, sv = BUF_INIT, got = BUF_INIT;
    yjs_error_t err;
    unhex(f[1], &exp);
    unhex(f[2], &in);
    int rc;
    if (f[0][0] == 'S') {
        rc = yjs_state_vector_from_update(buf_slice(&in), &got, &err);
        check_eq(c, "state vector", rc, &exp, &got, &err);
    } else if (nf > 3) {
        unhex(f[3], &sv);
        rc = yjs_diff_update(buf_slice(&in), buf_slice(&sv), &got, &err);
        check_eq(c, "diff", rc, &exp, &got, &err);
    }
    buf_dispose(&exp);
    buf_dispose(&in);
    buf_dispose(&sv);
    buf_dispose(&got);
}

static void run_roundtrip(ctx_t *c, const char *hex)
{
    buf_t in = BUF_INIT, got = BUF_INIT;
    yjs_error_t err;
    yjs_update_t u;
    unhex(hex, &in);
    int rc = yjs_update_decode(buf_data(&in), in.len, &u, &err);
    if (rc == 0)
        yjs_update_encode(&u, &got);
    check_eq(c, "decode/encode round trip", rc, &in, &got, &err);
    yjs_update_dispose(&u);
    buf_dispose(&in);
    buf_dispose(&got);
}

static void run_reject(ctx_t *c, const char *hex)
{
    buf_t in = BUF_INIT, got = BUF_INIT;
    yjs_error_t err;
    yjs_update_t u;
    unhex(hex, &in);
    slice_t two[2] = {buf_slice(&in), SLICE_LIT("\0\0")};
    int bad = 0;
    bad |= yjs_update_decode(buf_data(&in), in.len, &u, &err) == 0;
    bad |= yjs_update_validate(buf_data(&in), in.len, &err) == 0;
    bad |= yjs_merge_updates(two, 2, &got, &err) == 0;
    bad |= yjs_merge_updates(two, 1, &got, &err) == 0;
    bad |= yjs_state_vector_from_update(two[0], &got, &err) == 0;
    bad |= yjs_diff_update(two[0], SLICE_LIT("\0"), &got, &err) == 0;
    bad |= got.len != 0; /* nothing may be left in the output after an error */
    yjs_update_dispose(&u);
    if (bad)
        fail(c, "malformed input accepted", &in, &got, NULL);
    else
        c->passed++;
    buf_dispose(&in);
    buf_dispose(&got);
}

typedef struct tkey {
    unsigned long long client, clock;
    int kind;
} tkey_t;

/* yjs's reader comparator (updates.js mergeUpdatesV2), on test keys */
static int tcmp(void *ctx, uint32_t a, uint32_t b)
{
    const tkey_t *k = ctx;
    if (k[a].client != k[b].client)
        return k[b].client > k[a].client ? 1 : -1;
    if (k[a].clock != k[b].clock)
        return k[a].clock < k[b].clock ? -1 : 1;
    if (k[a].kind == k[b].kind)
        return 0;
    return k[a].kind == 2 ? 1 : -1;
}

static void run_timsort(ctx_t *c, char *perm, char *keys)
{
    size_t n = 1;
    for (char *p = keys; *p; p++)
        n += *p == ',';
    tkey_t *k = calloc(n, sizeof *k);
    uint32_t *a = calloc(n, sizeof *a);
    size_t i = 0;
    for (char *tok = strtok(keys, ","); tok && i < n; tok = strtok(NULL, ","), i++) {
        sscanf(tok, "%llu:%llu:%d", &k[i].client, &k[i].clock, &k[i].kind);
        a[i] = (uint32_t)i;
    }
    yjs_timsort(a, n, tcmp, k);
    int ok = 1;
    i = 0;
    for (char *tok = strtok(perm, ","); tok; tok = strtok(NULL, ","), i++)
        ok &= i < n && (unsigned long)a[i] == strtoul(tok, NULL, 10);
    ok &= i == n;
    if (ok) {
        c->passed++;
    } else {
        fail(c, "timsort order differs from V8", NULL, NULL, NULL);
        if (c->failed <= 20) {
            fputs("  got", stdout);
            for (i = 0; i < n; i++)
                printf("%s%u", i ? "," : " ", a[i]);
            putchar('\n');
        }
    }
    free(k);
    free(a);
}

static void run_line(ctx_t *c, char *line)
{
    char *f[MAX_FIELDS];
    int nf = 0;
    for (char *tok = strtok(line, " \n"); tok && nf < MAX_FIELDS; tok = strtok(NULL, " \n"))
        f[nf++] = tok;
    if (nf == 0)
        return;
    switch (f[0][0]) {
    case 'M':
        if (nf >= 3)
            run_merge(c, f, nf);
        return;
    case 'S':
    case 'D':
        if (nf >= 3)
            run_sv_diff(c, f, nf);
        return;
    case 'R':
        if (nf >= 2)
            run_roundtrip(c, f[1]);
        return;
    case 'E':
        if (nf >= 2)
            run_reject(c, f[1]);
        return;
    case 'T':
        if (nf >= 3)
            run_timsort(c, f[1], f[2]);
        return;
    default:
        fail(c, "unknown line kind", NULL, NULL, NULL);
    }
}

int main(int argc, char **argv)
{
    FILE *in = argc > 1 && strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    ctx_t c = {.label = "-"};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        c.line++;
        if (line[0] == '#') {
            snprintf(c.label, sizeof c.label, "%.*s", (int)strcspn(line + 1, "\n"), line + 1);
            continue;
        }
        run_line(&c, line);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    printf("yjs-vectors: %lu passed, %lu failed\n", c.passed, c.failed);
    return c.failed ? 1 : 0;
}
