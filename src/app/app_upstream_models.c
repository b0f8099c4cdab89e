/*
 * app_upstream_models: GET {url}/models on every connection at once, merged the way Open
 * WebUI merges them (routers/openai.py get_all_models: connection order, the first
 * connection to list an id keeps it, api.openai.com's non-chat models dropped), and the
 * merged ids become the client's routing table. See app_upstream.h for the API and
 * app_upstream_private.h for the shared state.
 */
#include <stdlib.h>
#include <string.h>

#include "app/app_upstream_private.h"
#include "base/alloc.h"
#include "base/json.h"

/* The value of member `key` of a JSON object (the last one, as JSON.parse keeps). */
static bool find_member(slice_t obj, const char *key, json_value_t *out)
{
    json_iter_t it;
    json_value_t k, v;
    bool found = false;
    if (json_object_begin(&it, obj, NULL) < 0)
        return false;
    while (json_object_next(&it, &k, &v, NULL) == 1) {
        if (json_string_eq(k.raw, slice_from_cstr(key))) {
            *out = v;
            found = true;
        }
    }
    return found;
}

static bool contains(slice_t hay, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay.len; i++) {
        if (memcmp(hay.ptr + i, needle, n) == 0)
            return true;
    }
    return false;
}

size_t app_upstream__models_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    models_conn_t *mc = ((xfer_t *)userdata)->owner;
    size_t n = size * nmemb;
    if (mc->x.received + n > mc->op->up->max_response) {
        mc->res.status = APP_UPSTREAM_ETOOBIG;
        return 0;
    }
    mc->x.received += n;
    if (!buf_try_reserve(&mc->x.in, n)) {
        mc->res.status = APP_UPSTREAM_ETOOBIG;
        return 0;
    }
    buf_append(&mc->x.in, ptr, n);
    return n;
}

static bool unsupported_openai_model(slice_t id)
{
    static const char *const skip[] = {"babbage",   "dall-e", "davinci",
                                       "embedding", "tts",    "whisper"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) {
        if (contains(id, skip[i]))
            return true;
    }
    return false;
}

/* The model list of a /models body: {"data":[...]} or a bare array. */
static bool models_list_of(slice_t body, json_value_t *list)
{
    json_value_t root;
    size_t a = json_skip_ws(body, 0);
    if (json_validate(slice_tail(body, a), &root, NULL) < 0)
        return false;
    list->type = JSON_INVALID;
    if (root.type == JSON_ARRAY)
        *list = root;
    else if (root.type == JSON_OBJECT &&
             !(find_member(root.raw, "data", list) && list->type == JSON_ARRAY))
        list->type = JSON_INVALID;
    return true;
}

/* Decodes the id of one model object into `ids`; false when it has none. */
static bool model_id(slice_t obj, buf_t *ids)
{
    json_value_t v;
    if (!(find_member(obj, "id", &v) && v.type == JSON_STRING) &&
        !(find_member(obj, "name", &v) && v.type == JSON_STRING))
        return false;
    return json_string_unescape_buf(v.raw, ids) == 0;
}

typedef struct merge {
    app_upstream_model_t *models; /* id.ptr unset until the end: ids move as they grow */
    route_t *spans;               /* where each id lies in `ids` */
    size_t n;
    buf_t ids;
} merge_t;

static bool merge_has(const merge_t *m, size_t off, size_t len)
{
    const uint8_t *base = buf_data(&m->ids);
    for (size_t i = 0; i < m->n; i++) {
        if (m->spans[i].len == len && memcmp(base + m->spans[i].off, base + off, len) == 0)
            return true;
    }
    return false;
}

/* Adds one connection's models to the merge (connection order; first id wins). */
static void merge_conn(merge_t *m, models_conn_t *mc, bool openai)
{
    json_value_t list, v;
    json_iter_t it;
    if (!models_list_of(buf_slice(&mc->x.in), &list)) {
        mc->res.status = APP_UPSTREAM_EPROTO;
        buf_append_cstr(&mc->msg, "the model list is not JSON");
        return;
    }
    if (list.type != JSON_ARRAY || json_array_begin(&it, list.raw, NULL) < 0)
        return;
    while (json_array_next(&it, &v, NULL) == 1 && m->n < UPSTREAM_MAX_MODELS) {
        size_t off = m->ids.len;
        if (v.type != JSON_OBJECT || !model_id(v.raw, &m->ids))
            continue;
        size_t len = m->ids.len - off;
        mc->res.n_models++;
        slice_t id = slice_make(buf_data(&m->ids) + off, len);
        if (len == 0 || (openai && unsupported_openai_model(id)) || merge_has(m, off, len)) {
            m->ids.len = off;
            continue;
        }
        m->models[m->n] = (app_upstream_model_t){.url_idx = mc->idx, .raw = v.raw};
        m->spans[m->n++] = (route_t){.off = off, .len = len, .idx = mc->idx};
    }
}

/* The merged list becomes the routing table. */
static void set_routes(app_upstream_t *up, merge_t *m)
{
    free(up->routes);
    buf_dispose(&up->route_ids);
    up->routes = m->spans;
    up->n_routes = m->n;
    up->route_ids = m->ids;
    m->spans = NULL;
    m->ids = BUF_INIT;
}

void app_upstream__models_finish(models_op_t *op, int status)
{
    app_upstream_t *up = op->up;
    merge_t m = {.models = xcalloc(UPSTREAM_MAX_MODELS, sizeof *m.models),
                 .spans = xcalloc(UPSTREAM_MAX_MODELS, sizeof *m.spans)};
    app_upstream_conn_result_t *res = xcalloc(op->n ? op->n : 1, sizeof *res);
    if (op->prev)
        op->prev->next = op->next;
    else
        up->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    app_upstream__work_dec(up);
    for (size_t i = 0; i < op->n; i++) {
        models_conn_t *mc = &op->conns[i];
        app_upstream__xfer_remove(up, &mc->x);
        if (status == 0 && mc->res.status == 0)
            merge_conn(&m, mc, strstr(up->conns[mc->idx].url, "api.openai.com") != NULL);
        res[i] = mc->res;
        res[i].message = buf_slice(&mc->msg);
    }
    for (size_t i = 0; i < m.n; i++)
        m.models[i].id = slice_make(buf_data(&m.ids) + m.spans[i].off, m.spans[i].len);
    app_upstream_models_t list = {
        .models = m.models, .n = status ? 0 : m.n, .conns = res, .n_conns = op->n};
    if (status == 0)
        set_routes(up, &m);
    up->cb_depth++;
    op->cb(up, status, &list, op->arg);
    up->cb_depth--;
    for (size_t i = 0; i < op->n; i++) {
        app_upstream__xfer_dispose(&op->conns[i].x);
        buf_dispose(&op->conns[i].msg);
    }
    free(m.models);
    free(m.spans);
    buf_dispose(&m.ids);
    free(res);
    free(op);
}

/* curl reported one connection's list done. The body is merged when all are done. */
void app_upstream__models_completed(models_conn_t *mc, CURLcode res)
{
    long status = app_upstream__http_status(&mc->x);
    mc->x.completed = true;
    mc->res.http_status = (int)status;
    app_upstream__xfer_remove(mc->op->up, &mc->x);
    if (mc->res.status) {
        buf_append_cstr(&mc->msg, app_upstream_strerror(mc->res.status));
    } else if (status >= 300 || (status && status < 200)) {
        mc->res.status = APP_UPSTREAM_EHTTP;
        app_sse_error_message(buf_slice(&mc->x.in), status, &mc->msg);
    } else if (res != CURLE_OK) {
        mc->res.status = app_upstream__curl_code(res);
        app_sse_append_message(&mc->msg, app_upstream__curl_message(&mc->x, res));
    }
    if (--mc->op->pending == 0)
        app_upstream__models_finish(mc->op, 0);
}

int app_upstream_list_models(app_upstream_t *up, app_upstream_models_cb cb, void *arg)
{
    if (up->closing)
        return APP_UPSTREAM_ESHUTDOWN;
    models_op_t *op = xcalloc(1, sizeof *op + up->n_conns * sizeof(models_conn_t));
    op->up = up;
    op->cb = cb;
    op->arg = arg;
    op->n = op->pending = up->n_conns;
    for (size_t i = 0; i < op->n; i++) {
        models_conn_t *mc = &op->conns[i];
        mc->op = op;
        mc->idx = i;
        mc->x.kind = XFER_MODELS;
        mc->x.owner = mc;
        if (app_upstream__xfer_setup(up, &mc->x, i, "/models") == 0) {
            curl_easy_setopt(mc->x.easy, CURLOPT_TIMEOUT_MS, (long)up->models_ms);
            continue;
        }
        mc->x.completed = true;
        mc->res.status = APP_UPSTREAM_ECONNECT;
        buf_append_cstr(&mc->msg, "could not create a transfer");
        op->pending--;
    }
    op->next = up->ops;
    if (up->ops)
        up->ops->prev = op;
    up->ops = op;
    app_upstream__work_inc(up);
    app_upstream__kick(up);
    return 0;
}

/* Adds an op's transfers; ends it when nothing is left to wait for. */
void app_upstream__models_kick(models_op_t *op)
{
    for (size_t i = 0; i < op->n; i++) {
        models_conn_t *mc = &op->conns[i];
        if (app_upstream__xfer_add(op->up, &mc->x))
            continue;
        mc->x.completed = true;
        mc->res.status = APP_UPSTREAM_ECONNECT;
        buf_append_cstr(&mc->msg, "curl refused the transfer");
        op->pending--;
    }
    if (op->pending == 0)
        app_upstream__models_finish(op, 0);
}
