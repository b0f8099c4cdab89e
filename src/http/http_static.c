/*
 * http_static: files below a web root (declared in http_server.h).
 *
 * Traversal defence in depth: the URL path is percent-decoded once, then rejected if it
 * holds a NUL or any ".." segment (so "%2e%2e" is caught after decoding), and finally
 * the resolved path (realpath, which also follows symlinks) must lie inside the
 * resolved root. Files are read with plain blocking calls on the loop thread; this is
 * for small assets (the demo client), and files over MAX_FILE get 500.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "http/http_server.h"

enum { MAX_FILE = 16 * 1024 * 1024 };

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++) {
        if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
            return mime_types[i].type;
    }
    return "application/octet-stream";
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes `in` into `out` (NUL-terminated). Returns 0, 400 for a bad escape or
 * a path too long, 403 for an embedded NUL. */
static int decode_path(slice_t in, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (o + 1 >= cap)
            return 400;
        uint8_t c = in.ptr[i];
        if (c == '%') {
            if (i + 2 >= in.len)
                return 400;
            int hi = hexval(in.ptr[i + 1]), lo = hexval(in.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return 400;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return 403;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* True if some '/'-separated segment of `p` is "..". */
static bool has_dotdot(const char *p)
{
    for (const char *s = p; *s; s++) {
        bool at_start = s == p || s[-1] == '/';
        if (at_start && s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
            return true;
    }
    return false;
}

static int respond_status(http_req_t *req, int status, slice_t extra)
{
    http_resp_send(req, status, "text/plain; charset=utf-8", extra,
                   slice_from_cstr(http_status_reason(status)));
    return status;
}

/* Builds the file name from root and the decoded URL path; resolves both and checks
 * containment. Returns 0 and fills `real`, or a status. */
static int resolve(const char *root, const char *upath, char *real)
{
    char full[PATH_MAX];
    char real_root[PATH_MAX];
    size_t ulen = strlen(upath);
    const char *index = ulen == 0 || upath[ulen - 1] == '/' ? "index.html" : "";
    size_t need = strlen(root) + 1 + ulen + strlen(index) + 1;
    if (need > sizeof full)
        return 404;
    strcpy(full, root);
    strcat(full, "/");
    strcat(full, upath);
    strcat(full, index);
    if (!realpath(root, real_root))
        return 404;
    if (!realpath(full, real))
        return 404;
    size_t rl = strlen(real_root);
    bool inside = strncmp(real, real_root, rl) == 0 && (real[rl] == '/' || real[rl] == '\0' ||
                                                        (rl == 1 && real_root[0] == '/'));
    return inside ? 0 : 403;
}

/* Reads the whole regular file at `path`. Returns 0 with *data and *len set (caller
 * frees), or a status. */
static int read_file(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == EACCES ? 403 : 404;
    struct stat st;
    int status = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        status = 404;
        goto out_close;
    }
    if (st.st_size > MAX_FILE) {
        status = 500;
        goto out_close;
    }
    *len = (size_t)st.st_size;
    *data = xmalloc(*len ? *len : 1);
    size_t got = 0;
    while (got < *len) {
        ssize_t r = read(fd, *data + got, *len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *len = got;
out_close:
    close(fd);
    return status;
}

int http_static_serve(http_req_t *req, const char *root_dir, slice_t extra_headers)
{
    http_method_t m = http_req_method_id(req);
    if (m != HTTP_METHOD_GET && m != HTTP_METHOD_HEAD)
        return respond_status(req, 405, extra_headers);
    char upath[PATH_MAX];
    int status = decode_path(http_req_path(req), upath, sizeof upath);
    if (status)
        return respond_status(req, status, extra_headers);
    if (upath[0] != '/' || has_dotdot(upath))
        return respond_status(req, 403, extra_headers);
    char real[PATH_MAX];
    status = resolve(root_dir, upath, real);
    if (status)
        return respond_status(req, status, extra_headers);
    uint8_t *data = NULL;
    size_t len = 0;
    status = read_file(real, &data, &len);
    if (status)
        return respond_status(req, status, extra_headers);
    http_resp_send(req, 200, content_type(real), extra_headers, slice_make(data, len));
    free(data);
    return 200;
}
