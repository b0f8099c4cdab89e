/*
 * store_rest_private: what the store_rest_*.c files share (store layer, internal to
 * src/store): the JSON callback adapter and the access_grant helpers. Worker-side
 * functions run inside the caller's transaction on the caller's connection.
 */
#ifndef SIOC_STORE_REST_PRIVATE_H
#define SIOC_STORE_REST_PRIVATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "store/store_private.h"

/** Done adapter for store_json_cb requests (r->json). */
void store__rest_done_json(store_req_t *r);

/** True when `grants_json` is NULL or an array of valid grant objects. */
bool store__rest_grants_valid(const char *grants_json);

/** Replaces the grants of resource (`rtype`, `id`) with the array `grants_json` (NULL:
 *  none). Returns a store_status_t. */
int store__rest_grants_replace(store_db_t *db, store_req_t *r, const char *rtype, const char *id,
                               const char *grants_json);

/** The grants of a resource as a new JSON array of AccessGrantModel objects in `*out`.
 *  Returns a store_status_t. */
int store__rest_grants_json(store_db_t *db, store_req_t *r, const char *rtype, const char *id,
                            cJSON **out);

#endif
