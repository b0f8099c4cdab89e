/*
 * app_upstream_env: the connections of the upstream client from Open WebUI's environment
 * variables (config.py: OPENAI_API_BASE_URL(S), OPENAI_API_KEY(S), ENABLE_OPENAI_API;
 * routers/openai.py: keys paired with URLs by index). See app_upstream.h for the rules
 * and the one deliberate difference.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app_upstream.h"
#include "base/alloc.h"

static bool is_set(const char *s)
{
    return s && *s;
}

/* Copies the ';'-separated entry [p, end) trimmed into `w` (NUL-terminated); URLs lose
 * their trailing slashes and an empty URL becomes the OpenAI default. Returns the end. */
static char *put_entry(char *w, const char *p, const char *end, bool url)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    while (url && end > p && end[-1] == '/')
        end--;
    if (url && end == p) {
        p = APP_UPSTREAM_OPENAI_URL;
        end = p + strlen(p);
    }
    memcpy(w, p, (size_t)(end - p));
    w[end - p] = '\0';
    return w + (end - p) + 1;
}

app_upstream_env_vars_t app_upstream_env_vars_get(void)
{
    return (app_upstream_env_vars_t){
        .enable_openai_api = getenv("ENABLE_OPENAI_API"),
        .base_url = getenv("OPENAI_API_BASE_URL"),
        .base_urls = getenv("OPENAI_API_BASE_URLS"),
        .key = getenv("OPENAI_API_KEY"),
        .keys = getenv("OPENAI_API_KEYS"),
    };
}

int app_upstream_env_parse(const app_upstream_env_vars_t *v, app_upstream_env_t *out)
{
    memset(out, 0, sizeof *out);
    if (v->enable_openai_api && strcasecmp(v->enable_openai_api, "true") != 0)
        return 0;
    if (!is_set(v->base_url) && !is_set(v->base_urls) && !is_set(v->key) && !is_set(v->keys))
        return 0;
    const char *urls = is_set(v->base_urls)  ? v->base_urls
                       : is_set(v->base_url) ? v->base_url
                                             : APP_UPSTREAM_OPENAI_URL;
    const char *keys = is_set(v->keys) ? v->keys : v->key ? v->key : "";
    size_t n = 1;
    for (const char *p = urls; *p; p++)
        n += *p == ';';
    if (n > APP_UPSTREAM_MAX_CONNS)
        return APP_UPSTREAM_EINVAL;
    size_t cap = strlen(urls) + strlen(keys) + n * (sizeof APP_UPSTREAM_OPENAI_URL + 2) + 1;
    char *w = out->_mem = xmalloc(cap);
    char *empty = w;
    *w++ = '\0';
    const char *p = urls;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ';');
        end = end ? end : p + strlen(p);
        out->conns[i].url = w;
        out->conns[i].key = empty;
        w = put_entry(w, p, end, true);
        p = *end ? end + 1 : end;
    }
    p = keys;
    for (size_t i = 0; i < n && *p; i++) {
        const char *end = strchr(p, ';');
        end = end ? end : p + strlen(p);
        out->conns[i].key = w;
        w = put_entry(w, p, end, false);
        p = *end ? end + 1 : end;
    }
    out->n = n;
    return 0;
}

void app_upstream_env_dispose(app_upstream_env_t *env)
{
    if (!env)
        return;
    free(env->_mem);
    memset(env, 0, sizeof *env);
}
