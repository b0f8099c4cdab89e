/*
 * sioc-yjs: command-line access to the Yjs update codec (src/yjs), for people
 * debugging a collaboration problem and for the tests that compare it with yjs.
 *
 *   sioc-yjs inspect [--hex] FILE        structs and delete set, readable
 *   sioc-yjs merge   [--hex] FILE...     Y.mergeUpdates
 *   sioc-yjs diff    [--hex] FILE SV     Y.diffUpdate (SV: a state vector file)
 *   sioc-yjs sv      [--hex] FILE        Y.encodeStateVectorFromUpdate
 *   sioc-yjs text    FILE                plain text of the document (yjs_text)
 *
 * Inputs are detected per file: a JSON array of integers ("[1,2]", the form Open
 * WebUI keeps in Redis), hex (whitespace anywhere allowed), or else raw bytes. "-"
 * reads standard input. Output is raw bytes, or lowercase hex and a newline with
 * --hex. Every input is validated before anything is written; a malformed one exits
 * with status 1 and the decoder's message on stderr. Usage errors exit with 2.
 *
 * Ownership: one process, files read whole into memory and freed at exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/slice.h"
#include "yjs/yjs_codec.h"
#include "yjs/yjs_merge.h"
#include "yjs/yjs_text.h"
#include "yjs/yjs_update.h"

#define MAX_INPUT ((size_t)1 << 30)

typedef struct input {
    const char *name;
    buf_t raw;   /* the file as read */
    buf_t bytes; /* decoded (hex / JSON array) or a copy of raw */
} input_t;

static void usage(FILE *f)
{
    fputs("usage: sioc-yjs COMMAND [--hex] FILE...\n"
          "  inspect FILE      print an update's structs and delete set\n"
          "  merge FILE...     merge updates (Y.mergeUpdates)\n"
          "  diff FILE SV      the part of FILE missing from state vector SV (Y.diffUpdate)\n"
          "  sv FILE           state vector of an update (Y.encodeStateVectorFromUpdate)\n"
          "  text FILE         plain text of the document\n"
          "Inputs: raw bytes, hex, or a JSON integer array like [1,2]; '-' is stdin.\n"
          "--hex writes lowercase hex and a newline instead of raw bytes.\n",
          f);
}

static int read_file(input_t *in)
{
    FILE *f = strcmp(in->name, "-") == 0 ? stdin : fopen(in->name, "rb");
    if (!f) {
        fprintf(stderr, "sioc-yjs: %s: %s\n", in->name, strerror(errno));
        return -1;
    }
    for (;;) {
        uint8_t *p = buf_reserve(&in->raw, 65536);
        size_t n = fread(p, 1, 65536, f);
        buf_commit(&in->raw, n);
        if (n < 65536)
            break;
        if (in->raw.len > MAX_INPUT) {
            fprintf(stderr, "sioc-yjs: %s: larger than 1 GiB\n", in->name);
            if (f != stdin)
                fclose(f);
            return -1;
        }
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "sioc-yjs: %s: read error\n", in->name);
        return -1;
    }
    return 0;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "[1, 2,3]" -> bytes; 0 on success, -1 when not such an array. */
static int parse_json_array(slice_t s, buf_t *out)
{
    size_t i = 0, n = s.len;
    while (i < n && is_space(s.ptr[i]))
        i++;
    while (n > i && is_space(s.ptr[n - 1]))
        n--;
    if (i >= n || s.ptr[i] != '[' || s.ptr[n - 1] != ']')
        return -1;
    i++;
    n--;
    int need_value = 0; /* after a comma a value must follow */
    while (i < n) {
        while (i < n && is_space(s.ptr[i]))
            i++;
        if (i == n)
            break;
        unsigned v = 0, digits = 0;
        while (i < n && s.ptr[i] >= '0' && s.ptr[i] <= '9' && digits < 4) {
            v = v * 10 + (s.ptr[i++] - '0');
            digits++;
        }
        if (digits == 0 || v > 255)
            return -1;
        buf_append_byte(out, (uint8_t)v);
        need_value = 0;
        while (i < n && is_space(s.ptr[i]))
            i++;
        if (i < n && s.ptr[i] == ',') {
            i++;
            need_value = 1;
        } else if (i < n) {
            return -1;
        }
    }
    return need_value ? -1 : 0;
}

/* Hex with whitespace anywhere; 0 on success, -1 when the text is not hex. */
static int parse_hex(slice_t s, buf_t *out)
{
    int hi = -1;
    size_t digits = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (is_space(c))
            continue;
        int v = hexval(c);
        if (v < 0)
            return -1;
        digits++;
        if (hi < 0) {
            hi = v;
        } else {
            buf_append_byte(out, (uint8_t)(hi << 4 | v));
            hi = -1;
        }
    }
    return digits == 0 || hi >= 0 ? -1 : 0;
}

static int load(input_t *in)
{
    if (read_file(in))
        return -1;
    slice_t s = buf_slice(&in->raw);
    if (parse_json_array(s, &in->bytes) == 0)
        return 0;
    buf_clear(&in->bytes);
    if (parse_hex(s, &in->bytes) == 0)
        return 0;
    buf_clear(&in->bytes);
    buf_append_slice(&in->bytes, s);
    return 0;
}

static void report(const char *name, const yjs_error_t *err)
{
    fprintf(stderr, "sioc-yjs: %s: invalid (%s): %s\n", name, yjs_status_name(err->code),
            err->msg);
}

static int write_out(const buf_t *b, int hex)
{
    const uint8_t *p = buf_data(b);
    if (!hex) {
        if (b->len && fwrite(p, 1, b->len, stdout) != b->len)
            return 1;
        return fflush(stdout) ? 1 : 0;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < b->len; i++) {
        putchar(digits[p[i] >> 4]);
        putchar(digits[p[i] & 15]);
    }
    putchar('\n');
    return fflush(stdout) ? 1 : 0;
}

/* ---- inspect ---- */

static void print_quoted(slice_t s)
{
    putchar('"');
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_any_list(slice_t values, uint64_t n, int json_strings)
{
    yjs_cursor_t c = yjs_cursor_make(values.ptr, values.len, NULL);
    buf_t tmp = BUF_INIT;
    putchar('[');
    for (uint64_t i = 0; i < n; i++) {
        slice_t v;
        if (i)
            fputs(", ", stdout);
        if (json_strings) {
            if (yjs_read_string(&c, &v, NULL, NULL))
                break;
            fwrite(v.ptr, 1, v.len, stdout);
            continue;
        }
        if (yjs_read_any(&c, &v, NULL))
            break;
        buf_clear(&tmp);
        if (yjs_any_to_json(v, &tmp, NULL) == YJS_OK)
            fwrite(buf_data(&tmp), 1, tmp.len, stdout);
    }
    putchar(']');
    buf_dispose(&tmp);
}

static void print_content(const yjs_struct_t *s)
{
    buf_t tmp = BUF_INIT;
    printf(" %s ", yjs_content_name(s->content));
    switch (s->content) {
    case YJS_CONTENT_DELETED: printf("%" PRIu64, s->len); break;
    case YJS_CONTENT_JSON: print_any_list(s->c.json.values, s->len, 1); break;
    case YJS_CONTENT_ANY: print_any_list(s->c.any.values, s->len, 0); break;
    case YJS_CONTENT_BINARY:
        for (size_t i = 0; i < s->c.binary.bytes.len; i++)
            printf("%02x", s->c.binary.bytes.ptr[i]);
        break;
    case YJS_CONTENT_STRING: print_quoted(s->c.str.utf8); break;
    case YJS_CONTENT_EMBED: fwrite(s->c.embed.json.ptr, 1, s->c.embed.json.len, stdout); break;
    case YJS_CONTENT_FORMAT:
        print_quoted(s->c.format.key);
        putchar('=');
        fwrite(s->c.format.value.ptr, 1, s->c.format.value.len, stdout);
        break;
    case YJS_CONTENT_TYPE:
        fputs(yjs_type_name(s->c.type.ref), stdout);
        if (s->c.type.name.len) {
            putchar(' ');
            print_quoted(s->c.type.name);
        }
        break;
    case YJS_CONTENT_DOC:
        print_quoted(s->c.doc.guid);
        putchar(' ');
        if (yjs_any_to_json(s->c.doc.opts, &tmp, NULL) == YJS_OK)
            fwrite(buf_data(&tmp), 1, tmp.len, stdout);
        break;
    default: break;
    }
    buf_dispose(&tmp);
}

static void print_struct(const yjs_struct_t *s)
{
    printf("  (%" PRIu64 ",%" PRIu64 ") len %" PRIu64 " ", s->id.client, s->id.clock, s->len);
    if (s->kind == YJS_KIND_GC) {
        puts("GC");
        return;
    }
    if (s->kind == YJS_KIND_SKIP) {
        puts("Skip");
        return;
    }
    printf("Item info=0x%02x", s->info);
    if (s->flags & YJS_F_ORIGIN)
        printf(" origin=(%" PRIu64 ",%" PRIu64 ")", s->origin.client, s->origin.clock);
    if (s->flags & YJS_F_RIGHT_ORIGIN)
        printf(" right=(%" PRIu64 ",%" PRIu64 ")", s->right_origin.client,
               s->right_origin.clock);
    if (s->parent == YJS_PARENT_ROOT) {
        fputs(" parent=", stdout);
        print_quoted(s->parent_key);
    } else if (s->parent == YJS_PARENT_ID) {
        printf(" parent=(%" PRIu64 ",%" PRIu64 ")", s->parent_id.client, s->parent_id.clock);
    }
    if (s->flags & YJS_F_PARENT_SUB) {
        fputs(" key=", stdout);
        print_quoted(s->parent_sub);
    }
    print_content(s);
    putchar('\n');
}

static int cmd_inspect(input_t *in)
{
    yjs_update_t u;
    yjs_error_t err;
    yjs_error_clear(&err);
    if (yjs_update_decode(buf_data(&in->bytes), in->bytes.len, &u, &err)) {
        report(in->name, &err);
        return 1;
    }
    printf("update: %zu bytes, %zu groups, %zu structs, delete set: %zu entries, %zu ranges\n",
           in->bytes.len, u.ngroups, u.nstructs, u.nds, u.nranges);
    for (size_t g = 0; g < u.ngroups; g++) {
        const yjs_group_t *gr = &u.groups[g];
        printf("group %zu: client %" PRIu64 ", clock %" PRIu64 ", %zu structs\n", g, gr->client,
               gr->clock, gr->count);
        for (size_t i = 0; i < gr->count; i++)
            print_struct(&u.structs[gr->first + i]);
    }
    puts("delete set:");
    for (size_t i = 0; i < u.nds; i++) {
        printf("  client %" PRIu64 ":", u.ds[i].client);
        for (size_t k = 0; k < u.ds[i].count; k++) {
            const yjs_range_t *r = &u.ranges[u.ds[i].first + k];
            printf(" [%" PRIu64 ",%" PRIu64 ")", r->clock, r->clock + r->len);
        }
        putchar('\n');
    }
    yjs_update_dispose(&u);
    return fflush(stdout) ? 1 : 0;
}

/* ---- the other commands ---- */

static int validate_updates(input_t *ins, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        yjs_error_t err;
        yjs_error_clear(&err);
        if (yjs_update_validate(buf_data(&ins[i].bytes), ins[i].bytes.len, &err)) {
            report(ins[i].name, &err);
            return 1;
        }
    }
    return 0;
}

static int cmd_merge(input_t *ins, size_t n, int hex)
{
    if (validate_updates(ins, n))
        return 1;
    slice_t *list = xcalloc(n, sizeof *list);
    for (size_t i = 0; i < n; i++)
        list[i] = buf_slice(&ins[i].bytes);
    buf_t out = BUF_INIT;
    yjs_error_t err;
    int rc = yjs_merge_updates(list, n, &out, &err);
    free(list);
    if (rc) {
        report(ins[err.input < n ? err.input : 0].name, &err);
        buf_dispose(&out);
        return 1;
    }
    rc = write_out(&out, hex);
    buf_dispose(&out);
    return rc;
}

static int cmd_sv(input_t *in, int hex)
{
    buf_t out = BUF_INIT;
    yjs_error_t err;
    if (yjs_state_vector_from_update(buf_slice(&in->bytes), &out, &err)) {
        report(in->name, &err);
        buf_dispose(&out);
        return 1;
    }
    int rc = write_out(&out, hex);
    buf_dispose(&out);
    return rc;
}

static int cmd_diff(input_t *ins, int hex)
{
    yjs_error_t err;
    yjs_error_clear(&err);
    if (validate_updates(ins, 1))
        return 1;
    if (yjs_state_vector_validate(buf_slice(&ins[1].bytes), &err)) {
        report(ins[1].name, &err);
        return 1;
    }
    buf_t out = BUF_INIT;
    if (yjs_diff_update(buf_slice(&ins[0].bytes), buf_slice(&ins[1].bytes), &out, &err)) {
        report(ins[err.input ? 1 : 0].name, &err);
        buf_dispose(&out);
        return 1;
    }
    int rc = write_out(&out, hex);
    buf_dispose(&out);
    return rc;
}

static int cmd_text(input_t *in, int hex)
{
    if (validate_updates(in, 1))
        return 1;
    buf_t out = BUF_INIT;
    yjs_error_t err;
    yjs_error_clear(&err);
    if (yjs_text_extract(buf_data(&in->bytes), in->bytes.len, &out, &err)) {
        report(in->name, &err);
        buf_dispose(&out);
        return 1;
    }
    int rc = write_out(&out, hex);
    buf_dispose(&out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    int hex = 0;
    input_t *ins = xcalloc((size_t)argc, sizeof *ins);
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--hex") == 0)
            hex = 1;
        else
            ins[n++].name = argv[i];
    }
    int rc = 2;
    int one = strcmp(cmd, "inspect") == 0 || strcmp(cmd, "sv") == 0 || strcmp(cmd, "text") == 0;
    if ((one && n != 1) || (strcmp(cmd, "diff") == 0 && n != 2) ||
        (strcmp(cmd, "merge") == 0 && n < 1)) {
        usage(stderr);
        goto out_free;
    }
    rc = 1;
    for (size_t i = 0; i < n; i++)
        if (load(&ins[i]))
            goto out_free;
    if (strcmp(cmd, "inspect") == 0)
        rc = cmd_inspect(&ins[0]);
    else if (strcmp(cmd, "merge") == 0)
        rc = cmd_merge(ins, n, hex);
    else if (strcmp(cmd, "diff") == 0)
        rc = cmd_diff(ins, hex);
    else if (strcmp(cmd, "sv") == 0)
        rc = cmd_sv(&ins[0], hex);
    else if (strcmp(cmd, "text") == 0)
        rc = cmd_text(&ins[0], hex);
    else {
        fprintf(stderr, "sioc-yjs: unknown command '%s'\n", cmd);
        usage(stderr);
        rc = 2;
    }
out_free:
    for (size_t i = 0; i < n; i++) {
        buf_dispose(&ins[i].raw);
        buf_dispose(&ins[i].bytes);
    }
    free(ins);
    return rc;
}
