/* store_json: dict semantics on cJSON, and rows as objects. */
#include "store/store_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *store__json_parse(const char *text)
{
    return text ? cJSON_Parse(text) : NULL;
}

cJSON *store__json_parse_object(const char *text)
{
    cJSON *v = store__json_parse(text);
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

cJSON *store__json_get(const cJSON *obj, const char *key)
{
    cJSON *found = NULL;
    if (!cJSON_IsObject(obj))
        return NULL;
    for (cJSON *c = obj->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0)
            found = c;
    return found;
}

void store__json_set(cJSON *obj, const char *key, cJSON *item)
{
    cJSON *first = NULL;
    cJSON *c = obj->child;
    while (c) {
        cJSON *next = c->next;
        bool same = c->string && strcmp(c->string, key) == 0;
        if (same && !first)
            first = c;
        else if (same)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
    if (!first) {
        cJSON_AddItemToObject(obj, key, item);
        return;
    }
    /* ReplaceItemViaPointer keeps the position; the key moves to the new item */
    if (item->string && !(item->type & cJSON_StringIsConst))
        cJSON_free(item->string);
    item->string = first->string;
    first->string = NULL;
    item->type &= ~cJSON_StringIsConst;
    cJSON_ReplaceItemViaPointer(obj, first, item);
}

void store__json_merge(cJSON *dst, const cJSON *src)
{
    for (const cJSON *c = src->child; c; c = c->next)
        if (c->string)
            store__json_set(dst, c->string, cJSON_Duplicate(c, true));
}

char *store__json_print(const cJSON *v)
{
    char *out = cJSON_PrintUnformatted(v);
    if (!out)
        abort(); /* cJSON only fails on allocation */
    return out;
}

bool store__json_truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return false;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return v->valuestring && v->valuestring[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v->child != NULL;
    return true;
}

static cJSON *column_value(store_rows_t *r, int col, store_coltype_t type)
{
    const char *t = col >= 0 ? store__rows_text(r, col) : NULL;
    if (!t)
        return cJSON_CreateNull();
    switch (type) {
    case STORE_COL_INT: {
        /* raw digits: nanosecond timestamps exceed a double's 53 bits */
        char digits[24];
        snprintf(digits, sizeof digits, "%lld", (long long)store__rows_int(r, col));
        return cJSON_CreateRaw(digits);
    }
    case STORE_COL_BOOL:
        return cJSON_CreateBool(store__rows_bool(r, col));
    case STORE_COL_JSON: {
        cJSON *v = cJSON_Parse(t);
        return v ? v : cJSON_CreateNull();
    }
    default:
        return cJSON_CreateString(t);
    }
}

static store_coltype_t spec_type(const store_colspec_t *spec, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(spec[i].name, name) == 0)
            return spec[i].type;
    return STORE_COL_TEXT;
}

cJSON *store__row_object(store_rows_t *r, const store_colspec_t *spec, size_t n, bool fixed)
{
    cJSON *obj = cJSON_CreateObject();
    if (fixed) {
        for (size_t i = 0; i < n; i++) {
            int col = store__rows_col(r, spec[i].name);
            cJSON_AddItemToObject(obj, spec[i].name, column_value(r, col, spec[i].type));
        }
        return obj;
    }
    int cols = store__rows_ncols(r);
    for (int c = 0; c < cols; c++) {
        const char *name = store__rows_name(r, c);
        if (!name)
            continue;
        cJSON_AddItemToObject(obj, name, column_value(r, c, spec_type(spec, n, name)));
    }
    return obj;
}
