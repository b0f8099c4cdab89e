/*
 * http_static: files below a web root (declared in http_server.h), without blocking
 * the loop.
 *
 * Traversal defence in depth: the URL path is percent-decoded once, then rejected if it
 * holds a NUL or any ".." segment (so "%2e%2e" is caught after decoding); the resolved
 * path (realpath, which also follows symlinks) must lie inside the resolved root; and
 * the resolved file is opened with O_NOFOLLOW, so a symlink swapped in after the check
 * is refused instead of followed.
 *
 * Every file system call runs on libuv's thread pool; each step's callback runs on
 * the loop and starts the next one. One uv_fs_t is reused, so at most one request is
 * in flight per transfer:
 *
 *   serve: decode + ".." check (loop, no I/O) --bad--> answered at once (400/403/405)
 *     |
 *   realpath(root) -> realpath(root + path [+ index.html]) -> prefix check -> open
 *     -> fstat (regular file?) -> http_resp_begin(200, Content-Length = size)
 *     -> read 64 KiB -> queue it (an rcbuf reference, no copy) -> read the next one
 *        while less than HIGH_WATER is queued, else wait for the drain callback
 *     -> http_resp_end -> close -> done(status)
 *
 * A failure before the head is sent becomes a status answer (403/404/500). A failure
 * after it ends the answer short, which closes the connection. If the client goes
 * away (the request's abort callback), the job forgets the request, cancels the
 * request in flight if it can, and ends once that callback ran: the file is closed
 * and done() runs exactly once, after which the job is freed.
 *
 * Ownership: the job owns its copies of the paths and extra headers, the open file and
 * the chunk being read; queued chunks are owned by the connection's output queue.
 * Threading: the job lives on the loop thread; only libuv's own fs work runs on the
 * pool.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/rcbuf.h"
#include "http/http_server.h"

enum {
    CHUNK = 64 * 1024,          /* bytes per read */
    HIGH_WATER = 2 * CHUNK,     /* read on only while less than this is queued */
};

typedef struct static_job {
    uv_fs_t fs;                 /* the one fs request of this job; fs.data = this */
    uv_loop_t *uv;
    http_req_t *req;            /* NULL once answered or aborted */
    http_static_done_cb done;   /* may be NULL */
    void *arg;
    char *root;                 /* copy of the caller's root directory */
    char *full;                 /* root + "/" + path [+ "index.html"] (owned) */
    char *real_root;            /* realpath of the root (owned), NULL until known */
    char *real;                 /* realpath of the file (owned), NULL until known */
    char *extra;                /* copy of the caller's extra headers */
    size_t extra_len;
    rcbuf_t *chunk;             /* the read in flight, NULL otherwise */
    uv_file fd;                 /* -1 when not open */
    uint64_t size, off;         /* file size, bytes queued so far */
    int status;                 /* what done() reports; 0 until known */
    bool busy;                  /* `fs` is in flight */
} static_job_t;

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

/* True if `real` is `real_root` or below it. */
static bool is_inside(const char *real, const char *real_root)
{
    size_t rl = strlen(real_root);
    if (strncmp(real, real_root, rl) != 0)
        return false;
    return real[rl] == '/' || real[rl] == '\0' || (rl == 1 && real_root[0] == '/');
}

static int respond_status(http_req_t *req, int status, slice_t extra)
{
    http_resp_send(req, status, "text/plain; charset=utf-8", extra,
                   slice_from_cstr(http_status_reason(status)));
    return status;
}

/* ---- the end of a job ------------------------------------------------------------ */

static void job_free(static_job_t *job)
{
    if (job->done)
        job->done(job->status, job->arg);
    rcbuf_unref(job->chunk);
    free(job->root);
    free(job->full);
    free(job->real_root);
    free(job->real);
    free(job->extra);
    free(job);
}

static void on_closed(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    uv_fs_req_cleanup(fs);
    job->busy = false;
    job_free(job);
}

/* The answer is over or the client is gone, and nothing is in flight: close the file
 * (on the pool too) and finish. */
static void job_end(static_job_t *job)
{
    job->req = NULL;
    uv_file fd = job->fd;
    job->fd = -1;
    if (fd >= 0 && uv_fs_close(job->uv, &job->fs, fd, on_closed) == 0) {
        job->busy = true;
        return;
    }
    job_free(job);
}

/* Answers with an error status (nothing of the answer was queued yet). */
static void job_fail(static_job_t *job, int status)
{
    job->status = status;
    respond_status(job->req, status, slice_make(job->extra, job->extra_len));
    job_end(job);
}

/* Ends a streamed answer early (a read failed, the file shrank): the short body makes
 * the http layer close the connection, so the client sees the truncation. */
static void stream_fail(static_job_t *job, int err)
{
    job->status = err;
    http_resp_end(job->req);
    job_end(job);
}

/* The common head of every fs callback: takes the result and cleans the request up.
 * Returns false (and ends the job) if the client went away meanwhile. */
static bool job_resume(static_job_t *job, ssize_t *result)
{
    *result = job->fs.result;
    uv_fs_req_cleanup(&job->fs);
    job->busy = false;
    if (job->req)
        return true;
    job_end(job);
    return false;
}

/* Notes an fs call that was just started: in flight, or answered as `status` when
 * libuv refused it outright. */
static void job_started(static_job_t *job, int r, int status)
{
    if (r == 0)
        job->busy = true;
    else
        job_fail(job, status);
}

/* 403 for "not allowed", 404 for everything else (missing, not a directory, ...). */
static int status_of(ssize_t err)
{
    return err == UV_EACCES || err == UV_EPERM || err == UV_ELOOP ? 403 : 404;
}

static void on_abort(http_req_t *req, void *arg)
{
    (void)req;
    static_job_t *job = arg;
    job->req = NULL;
    if (job->status >= 0)
        job->status = UV_ECONNRESET;
    if (job->busy)
        uv_cancel((uv_req_t *)&job->fs); /* best effort; its callback ends the job */
    else
        job_end(job);
}

/* ---- streaming the body ------------------------------------------------------------ */

static void on_read(uv_fs_t *fs);

static void read_next(static_job_t *job)
{
    uint64_t left = job->size - job->off;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    job->chunk = rcbuf_new(n);
    uv_buf_t b = uv_buf_init((char *)job->chunk->data, (unsigned)n);
    int r = uv_fs_read(job->uv, &job->fs, job->fd, &b, 1, (int64_t)job->off, on_read);
    if (r < 0) {
        stream_fail(job, r);
        return;
    }
    job->busy = true;
}

static void on_drain(http_req_t *req, void *arg);

/* Back-pressure: read on while little is queued, else wait until the queue drains. */
static void pump(static_job_t *job)
{
    if (http_req_buffered(job->req) < HIGH_WATER)
        read_next(job);
    else
        http_req_on_drain(job->req, on_drain, job);
}

static void on_drain(http_req_t *req, void *arg)
{
    (void)req;
    pump(arg);
}

static void on_read(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    ssize_t r;
    if (!job_resume(job, &r))
        return;
    if (r <= 0) { /* an error, or the file shrank under us */
        stream_fail(job, r < 0 ? (int)r : UV_EIO);
        return;
    }
    rcbuf_t *chunk = job->chunk;
    job->chunk = NULL;
    chunk->len = (size_t)r;
    int w = http_resp_write_rcbuf(job->req, chunk);
    rcbuf_unref(chunk);
    if (w < 0) {
        /* The connection is closing; its abort callback follows and ends the job. */
        job->status = w;
        return;
    }
    job->off += (uint64_t)r;
    if (job->off < job->size) {
        pump(job);
        return;
    }
    job->status = 200;
    http_resp_end(job->req);
    job_end(job);
}

/* ---- finding and opening the file -------------------------------------------------- */

static void on_stat(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    uint64_t mode = fs->statbuf.st_mode;
    uint64_t size = fs->statbuf.st_size;
    ssize_t r;
    if (!job_resume(job, &r))
        return;
    if (r < 0 || !S_ISREG(mode)) {
        job_fail(job, 404);
        return;
    }
    job->size = size;
    int b = http_resp_begin(job->req, 200, content_type(job->real),
                            slice_make(job->extra, job->extra_len), size);
    if (b < 0) { /* the connection is gone; the request was released */
        job->status = b;
        job_end(job);
        return;
    }
    if (http_req_method_id(job->req) == HTTP_METHOD_HEAD || size == 0) {
        job->status = 200;
        http_resp_end(job->req);
        job_end(job);
        return;
    }
    pump(job);
}

static void on_open(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    if (fs->result >= 0)
        job->fd = (uv_file)fs->result; /* kept even if the client is gone: job_end closes */
    ssize_t r;
    if (!job_resume(job, &r))
        return;
    if (r < 0) {
        job_fail(job, status_of(r));
        return;
    }
    job_started(job, uv_fs_fstat(job->uv, &job->fs, job->fd, on_stat), 500);
}

static void on_file_real(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    if (fs->result == 0)
        job->real = xstrndup(fs->ptr, strlen(fs->ptr));
    ssize_t r;
    if (!job_resume(job, &r))
        return;
    if (r < 0) {
        job_fail(job, status_of(r));
        return;
    }
    if (!is_inside(job->real, job->real_root)) {
        job_fail(job, 403);
        return;
    }
    /* O_NOFOLLOW: a symlink swapped in since realpath is refused (ELOOP -> 403);
     * O_NONBLOCK: a FIFO cannot hold a pool thread in open() (it then fails fstat). */
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
    job_started(job, uv_fs_open(job->uv, &job->fs, job->real, flags, 0, on_open), 500);
}

static void on_root_real(uv_fs_t *fs)
{
    static_job_t *job = fs->data;
    if (fs->result == 0)
        job->real_root = xstrndup(fs->ptr, strlen(fs->ptr));
    ssize_t r;
    if (!job_resume(job, &r))
        return;
    if (r < 0) {
        job_fail(job, 404);
        return;
    }
    job_started(job, uv_fs_realpath(job->uv, &job->fs, job->full, on_file_real), 500);
}

/* ---- entry points ---------------------------------------------------------------------- */

/* Joins root, the decoded URL path and "index.html" for a directory path. NULL when
 * it would not fit a path. */
static char *full_path(const char *root, const char *upath)
{
    size_t ulen = strlen(upath);
    const char *index = ulen == 0 || upath[ulen - 1] == '/' ? "index.html" : "";
    size_t rlen = strlen(root), ilen = strlen(index);
    size_t need = rlen + 1 + ulen + ilen + 1;
    if (need > PATH_MAX)
        return NULL;
    char *full = xmalloc(need);
    memcpy(full, root, rlen);
    full[rlen] = '/';
    memcpy(full + rlen + 1, upath, ulen);
    memcpy(full + rlen + 1 + ulen, index, ilen + 1);
    return full;
}

int http_static_serve_cb(http_req_t *req, const char *root_dir, slice_t extra_headers,
                         http_static_done_cb done, void *arg)
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
    char *full = full_path(root_dir, upath);
    net_conn_t *nc = http_req_conn(req);
    if (!full || !nc) {
        free(full);
        return respond_status(req, 404, extra_headers);
    }
    static_job_t *job = xcalloc(1, sizeof *job);
    job->fs.data = job;
    job->uv = net_loop_uv(net_conn_loop(nc));
    job->req = req;
    job->fd = -1;
    job->full = full;
    job->root = xstrndup(root_dir, strlen(root_dir));
    job->extra = xmalloc(extra_headers.len + 1);
    if (extra_headers.len)
        memcpy(job->extra, extra_headers.ptr, extra_headers.len);
    job->extra_len = extra_headers.len;
    if (uv_fs_realpath(job->uv, &job->fs, job->root, on_root_real) < 0) {
        job_free(job); /* done is not set yet: never called */
        return respond_status(req, 500, extra_headers);
    }
    job->busy = true;
    job->done = done;
    job->arg = arg;
    http_req_on_abort(req, on_abort, job);
    return 0;
}

int http_static_serve(http_req_t *req, const char *root_dir, slice_t extra_headers)
{
    return http_static_serve_cb(req, root_dir, extra_headers, NULL, NULL);
}
