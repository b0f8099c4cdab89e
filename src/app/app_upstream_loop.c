/*
 * app_upstream_loop: libcurl's multi-socket API on the libuv loop (app layer). curl says
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket, in
 * up->polls) and when to wake it (CURLMOPT_TIMERFUNCTION: up->curl_timer); both call
 * curl_multi_socket_action and then hand finished transfers to their owner (a chat
 * request or a model-list connection). See app_upstream.h for the client's contract.
 *
 * Ownership: a poll_ctx lives from curl's first interest in its socket to the close
 * callback after CURL_POLL_REMOVE (or app_upstream_free). Threading: the loop thread.
 */
#include <stdlib.h>

#include "app/app_upstream_private.h"
#include "base/alloc.h"

struct poll_ctx {
    uv_poll_t h; /* h.data = this */
    curl_socket_t fd;
    app_upstream_t *up;
    struct poll_ctx *prev, *next; /* up->polls */
};

static void check_multi_info(app_upstream_t *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode res = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        xfer_t *x = (xfer_t *)priv;
        if (x->kind == XFER_CHAT)
            app_upstream__chat_completed(x->owner, res);
        else
            app_upstream__models_completed(x->owner, res);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    poll_ctx_t *pc = h->data;
    app_upstream_t *up = pc->up;
    int flags = status < 0 ? CURL_CSELECT_ERR : 0;
    int running = 0;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(up->multi, pc->fd, flags, &running);
    check_multi_info(up);
}

static void on_poll_closed(uv_handle_t *h)
{
    poll_ctx_t *pc = h->data;
    app_upstream_t *up = pc->up;
    free(pc);
    up->closes_pending--;
    app_upstream__maybe_free(up);
}

void app_upstream__poll_close(poll_ctx_t *pc)
{
    app_upstream_t *up = pc->up;
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        up->polls = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    up->closes_pending++;
    uv_poll_stop(&pc->h);
    uv_close((uv_handle_t *)&pc->h, on_poll_closed);
}

int app_upstream__on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    app_upstream_t *up = userp;
    poll_ctx_t *pc = socketp;
    (void)e;
    if (up->closing)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (pc)
            app_upstream__poll_close(pc);
        curl_multi_assign(up->multi, s, NULL);
        return 0;
    }
    if (!pc) {
        pc = xcalloc(1, sizeof *pc);
        if (uv_poll_init_socket(up->loop, &pc->h, s) != 0) {
            free(pc);
            return -1;
        }
        pc->h.data = pc;
        pc->fd = s;
        pc->up = up;
        pc->next = up->polls;
        if (up->polls)
            up->polls->prev = pc;
        up->polls = pc;
        uv_unref((uv_handle_t *)&pc->h);
        curl_multi_assign(up->multi, s, pc);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&pc->h, ev, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    app_upstream_t *up = t->data;
    int running = 0;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(up);
}

int app_upstream__on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    app_upstream_t *up = userp;
    (void)m;
    if (up->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&up->curl_timer);
    else
        uv_timer_start(&up->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}
