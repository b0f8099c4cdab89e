/*
 * sioc_http: the HTTP request accessors of include/sioc.h, for requests outside the
 * Engine.IO path (REST endpoints, static files of the application layer). A
 * sioc_http_req_t is the http layer's request itself; these are thin wrappers over
 * http_server.h. Kept apart from sioc.c so that programs that never serve HTTP do not
 * link the static-file code.
 */
#include "sioc.h"

#include "http/http_server.h"

static sioc_str_t str_of(slice_t s)
{
    return (sioc_str_t){(const char *)s.ptr, s.len};
}

const char *sioc_http_method(const sioc_http_req_t *req)
{
    switch (http_req_method_id(req)) {
    case HTTP_METHOD_GET:
        return "GET";
    case HTTP_METHOD_HEAD:
        return "HEAD";
    case HTTP_METHOD_POST:
        return "POST";
    case HTTP_METHOD_PUT:
        return "PUT";
    case HTTP_METHOD_DELETE:
        return "DELETE";
    case HTTP_METHOD_OPTIONS:
        return "OPTIONS";
    case HTTP_METHOD_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

sioc_str_t sioc_http_path(const sioc_http_req_t *req)
{
    return str_of(http_req_path(req));
}

sioc_str_t sioc_http_query(const sioc_http_req_t *req)
{
    return str_of(http_req_query_string(req));
}

sioc_str_t sioc_http_header(const sioc_http_req_t *req, const char *name)
{
    slice_t v;
    if (!http_req_header(req, name, &v))
        return (sioc_str_t){NULL, 0};
    return str_of(v);
}

sioc_str_t sioc_http_body(const sioc_http_req_t *req)
{
    return str_of(http_req_body(req));
}

void sioc_http_respond(sioc_http_req_t *req, int status, const char *content_type,
                       const char *extra_headers, sioc_str_t body)
{
    http_resp_send(req, status, content_type, slice_from_cstr(extra_headers),
                   slice_make(body.ptr, body.len));
}

void sioc_http_serve_file(sioc_http_req_t *req, const char *root)
{
    http_static_serve(req, root, SLICE_LIT(""));
}

void sioc_http_on_abort(sioc_http_req_t *req, sioc_http_abort_cb cb, void *arg)
{
    http_req_on_abort(req, cb, arg);
}
