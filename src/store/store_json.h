/*
 * store_json: the cJSON helpers the store's worker-side operations share (store layer,
 * internal to src/store): Python-dict semantics on cJSON objects, and database rows as
 * JSON objects.
 *
 * Open WebUI manipulates these documents as Python dicts, so the helpers follow dict
 * rules: a duplicate key in parsed text means its last occurrence; assigning an existing
 * key keeps its position; `{**a, **b}` is store__json_merge. Numbers inside stored JSON
 * documents go through cJSON's doubles: integers beyond 2^53 lose precision when a
 * document is rewritten (Open WebUI writes none there: its chat timestamps are seconds).
 * Integer columns rendered by store__row_object keep every digit.
 *
 * Ownership: functions returning cJSON* or char* give the caller a new object to
 * cJSON_Delete / free(). Threading: pure functions, used on worker threads.
 */
#ifndef SIOC_STORE_JSON_H
#define SIOC_STORE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store_db.h"

/** Parses `text` (NULL-safe). Returns the value or NULL when absent or not JSON. */
cJSON *store__json_parse(const char *text);

/** Parses `text` and returns it only if it is an object. */
cJSON *store__json_parse_object(const char *text);

/** The last member named `key` of an object, or NULL. */
cJSON *store__json_get(const cJSON *obj, const char *key);

/** obj[key] = item: takes ownership of `item`; an existing member keeps its position,
 *  later duplicates are removed. */
void store__json_set(cJSON *obj, const char *key, cJSON *item);

/** dst = {**dst, **src} (shallow): every member of src, copied, assigned into dst. */
void store__json_merge(cJSON *dst, const cJSON *src);

/** Compact JSON text of `v` (malloc'd; abort on OOM). */
char *store__json_print(const cJSON *v);

/** Python truthiness of a JSON value (NULL counts as absent, i.e. false). */
bool store__json_truthy(const cJSON *v);

/** How store__row_object renders a column. */
typedef enum store_coltype {
    STORE_COL_TEXT = 0, /* string, null for NULL */
    STORE_COL_INT,      /* number, written as exact digits (a cJSON raw item) */
    STORE_COL_BOOL,     /* true/false */
    STORE_COL_JSON,     /* the column's text parsed as JSON (null when NULL or invalid) */
} store_coltype_t;

typedef struct store_colspec {
    const char *name;
    store_coltype_t type;
} store_colspec_t;

/**
 * The current row as a JSON object. `fixed` true: exactly the columns of `spec`, in that
 * order, null for columns the row lacks (a model dump of a known shape). `fixed` false:
 * every column of the row in row order, typed by `spec` when named there, else text.
 */
cJSON *store__row_object(store_rows_t *r, const store_colspec_t *spec, size_t n, bool fixed);

#endif
