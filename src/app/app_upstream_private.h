/*
 * app_upstream_private: what the files of the upstream client share and nobody else sees
 * (app_upstream.c: requests, chat streaming, the libuv/libcurl glue and the client;
 * app_upstream_models.c: model lists and the routing table).
 *
 * One curl easy handle is one `xfer_t`, embedded first in its owner (a chat request's
 * state, or one connection of a model list); CURLOPT_PRIVATE points at it, so a finished
 * transfer leads back to its owner by `kind`.
 *
 * Threading: everything belongs to the client's loop thread.
 */
#ifndef SIOC_APP_UPSTREAM_PRIVATE_H
#define SIOC_APP_UPSTREAM_PRIVATE_H

#include <curl/curl.h>
#include <stdalign.h>
#include <stddef.h>

#include "app/app_upstream.h"

#define UPSTREAM_ERRBODY_CAP 65536u /* bytes of an HTTP error body kept for its message */
#define UPSTREAM_MAX_MODELS 2000u   /* models merged from all connections at most */

typedef enum req_state { REQ_RUNNING, REQ_CANCELLING, REQ_FINISHED } req_state_t;
typedef enum xfer_kind { XFER_CHAT, XFER_MODELS } xfer_kind_t;

/* One curl easy transfer: a chat stream or one connection's model list. */
typedef struct xfer {
    xfer_kind_t kind;
    void *owner;                  /* the request (chat) or the models_conn_t */
    CURL *easy;                   /* NULL until set up */
    struct curl_slist *headers;   /* request headers, owned */
    bool added;                   /* inside the multi handle */
    bool completed;               /* curl reported it done (or it never started) */
    size_t received;              /* response body bytes so far */
    buf_t out;                    /* request body; curl reads it in place */
    buf_t in;                     /* response body kept: errors, JSON answers, lists */
    char errbuf[CURL_ERROR_SIZE]; /* curl's detail of a failure */
} xfer_t;

/* A model id -> connection pair of the routing table (ids live in up->route_ids). */
typedef struct route {
    size_t off, len; /* the id's bytes in route_ids */
    size_t idx;      /* the connection */
} route_t;

typedef struct models_op models_op_t;

/* One connection's part of a model list. */
typedef struct models_conn {
    xfer_t x;                       /* its GET /models */
    models_op_t *op;                /* the list it belongs to */
    size_t idx;                     /* connection index */
    app_upstream_conn_result_t res; /* status; message is set when the op ends */
    buf_t msg;                      /* decoded failure message */
} models_conn_t;

/* One app_upstream_list_models call in flight. */
struct models_op {
    app_upstream_t *up;
    app_upstream_models_cb cb;
    void *arg;
    models_op_t *prev, *next; /* up->ops */
    size_t pending;           /* connections not done yet */
    size_t n;                 /* connections */
    models_conn_t conns[];
};

struct app_upstream_req {
    app_upstream_t *up;
    const app_upstream__backend_t *be; /* chat, or a built-in model */
    const app_upstream_cbs_t *cbs;     /* borrowed until the terminal callback */
    void *user;
    app_upstream_req_t *prev, *next; /* up->head list while not finished */
    req_state_t state;
    size_t url_idx;                           /* SIZE_MAX for built-in backends */
    uint64_t last_ms;                         /* loop time of the last byte (idle timeout) */
    alignas(max_align_t) unsigned char ext[]; /* backend state */
};

typedef struct poll_ctx poll_ctx_t;

struct app_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t curl_timer;           /* curl's wake-up (unref'd) */
    uv_timer_t kick;                 /* deferred work, next loop turn (unref'd) */
    uv_timer_t sweep;                /* idle timeouts; active, holding the loop, while
                                        anything is in flight */
    app_upstream_req_t *head, *tail; /* live requests, in start order */
    models_op_t *ops;                /* model lists in flight */
    poll_ctx_t *polls;               /* watched sockets */
    size_t live_reqs;                /* allocated requests not yet released */
    size_t work;                     /* requests + model lists in flight */
    int closes_pending;              /* libuv handles whose close callback is due */
    int cb_depth;                    /* > 0 while a user callback runs */
    bool closing;                    /* app_upstream_free ran */
    uint32_t connect_ms, idle_ms, models_ms;
    size_t max_response, max_line;
    route_t *routes; /* from the last model list */
    size_t n_routes;
    buf_t route_ids;
    unsigned long log_bad_event; /* rate limiter of the bad-event log line */
    size_t n_conns;
    app_upstream_conn_t conns[APP_UPSTREAM_MAX_CONNS];
    char *conn_mem; /* owns the url/key strings */
};

/* app_upstream.c */

/** Counts a request or model list in flight (runs the sweep timer while > 0). */
void app_upstream__work_inc(app_upstream_t *up);
void app_upstream__work_dec(app_upstream_t *up);
/** Runs the deferred work (adding transfers, cancellations) on the next loop turn. */
void app_upstream__kick(app_upstream_t *up);
/** Creates x->easy for connection `idx` + `path`, a POST of x->out when it is non-empty.
 *  0, or -1 (x->easy may be set: xfer_dispose it). */
int app_upstream__xfer_setup(app_upstream_t *up, xfer_t *x, size_t idx, const char *path);
/** Adds x to the multi handle unless it is there or done; false when curl refused. */
bool app_upstream__xfer_add(app_upstream_t *up, xfer_t *x);
/** Takes x out of the multi handle if it is in. Not from inside a curl callback. */
void app_upstream__xfer_remove(app_upstream_t *up, xfer_t *x);
/** Frees the easy handle, headers and buffers of x. */
void app_upstream__xfer_dispose(xfer_t *x);
/** The HTTP status of x's response so far (0 when none). */
long app_upstream__http_status(const xfer_t *x);
/** A curl failure as an app_upstream_error_t code. */
int app_upstream__curl_code(CURLcode res);
/** curl's description of a failure of x (its error buffer, else curl_easy_strerror). */
slice_t app_upstream__curl_message(const xfer_t *x, CURLcode res);

/** Frees the client once it is closing and its last handle and request are gone. */
void app_upstream__maybe_free(app_upstream_t *up);
/** curl finished the chat transfer of `r` (called outside curl callbacks). */
void app_upstream__chat_completed(app_upstream_req_t *r, CURLcode res);

/* app_upstream_loop.c */

/** CURLMOPT_SOCKETFUNCTION: starts, changes or ends the watch of one socket. */
int app_upstream__on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp);
/** CURLMOPT_TIMERFUNCTION: (re)arms or stops up->curl_timer. */
int app_upstream__on_curl_timer(CURLM *m, long timeout_ms, void *userp);
/** Stops watching a socket and closes its handle (counted in up->closes_pending). */
void app_upstream__poll_close(poll_ctx_t *pc);

/* app_upstream_models.c */

/** The write callback of model-list transfers. */
size_t app_upstream__models_write(char *ptr, size_t size, size_t nmemb, void *userdata);
/** curl reported one connection's list done (called outside curl callbacks). */
void app_upstream__models_completed(models_conn_t *mc, CURLcode res);
/** Adds the op's transfers; ends the op when nothing is left to wait for. */
void app_upstream__models_kick(models_op_t *op);
/** Ends the op: merges (status 0), runs its callback once, frees it. */
void app_upstream__models_finish(models_op_t *op, int status);

#endif
