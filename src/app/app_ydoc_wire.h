/*
 * app_ydoc_wire: the pure encodings of the Yjs handlers (app layer, no I/O): Yjs updates
 * as JSON int arrays (the socket payloads and Open WebUI's Redis list elements,
 * openwebui-protocol.md §3.8, §5.1), document ids (normalize_document_id, note ids) and
 * log-safe ids.
 *
 * Ownership: outputs go to the caller's buffers; returned slices borrow them.
 * Threading: none.
 */
#ifndef SIOC_APP_YDOC_WIRE_H
#define SIOC_APP_YDOC_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/slice.h"
#include "sioc.h"

/** An event's first argument and its binary attachments: the live arguments (`args`), or
 *  a queued copy (`bins`, `n_bins`, when `args` is NULL). Everything is borrowed. */
typedef struct app_ydoc_msg {
    slice_t json;            /* raw JSON of the payload */
    const sioc_args_t *args; /* the live arguments, or NULL for a copy */
    const slice_t *bins;     /* a copy's attachments */
    size_t n_bins;
} app_ydoc_msg_t;

/** The members of a ydoc payload the handlers read; an absent one has type JSON_INVALID. */
typedef struct app_ydoc_fields {
    json_value_t document_id, user_id, user_name, user_color, update, data;
} app_ydoc_fields_t;

/** Picks those members out of the payload object (JSON.parse semantics: a duplicate key's
 *  last value wins). False when the payload is not a well-formed object. */
bool app_ydoc_wire_parse_fields(slice_t json, app_ydoc_fields_t *f);

/** Attachment `n` of the event; false when there is no such attachment. */
bool app_ydoc_wire_bin(const app_ydoc_msg_t *m, int64_t n, slice_t *out);

/** A Socket.IO binary placeholder {"_placeholder":true,"num":N}: the attachment it
 *  stands for. False for any other object. */
bool app_ydoc_wire_placeholder(const app_ydoc_msg_t *m, slice_t obj, slice_t *out);

/** Scratch buffers larger than this are freed after use instead of kept. */
#define APP_YDOC_SCRATCH_KEEP ((size_t)1 << 20)

/** Room for a document id in a log line (see app_ydoc_wire_log_id). */
#define APP_YDOC_LOG_ID_SIZE 65

/** Appends bytes as a JSON array of numbers, as JSON.stringify(Array.from(u8)) and
 *  Python's json.dumps(list(bytes)) with compact separators write them. */
void app_ydoc_wire_append_bytes(buf_t *out, slice_t bytes);

/**
 * Decodes a JSON int array (every element an integer 0..255; blanks allowed) into `b`
 * (cleared first); `*out` borrows `b`. False when it is not such an array or memory for
 * it cannot be had (the size is peer-controlled).
 */
bool app_ydoc_wire_decode_bytes(slice_t raw, buf_t *b, slice_t *out);

/**
 * A client-chosen id fit for a one-line log entry: at most 64 bytes, control characters
 * replaced (a newline in a document id must not forge a log line). Returns `out`.
 */
const char *app_ydoc_wire_log_id(const char *id, char out[APP_YDOC_LOG_ID_SIZE]);

/**
 * Decodes a document_id value into `id` (cap + 1 bytes, NUL-terminated) and applies Open
 * WebUI's normalize_document_id: a leading "note_" becomes "note:", so both spellings
 * address the one document that is access-checked. Returns the length, or -1 for a
 * missing, non-string, empty, over-long or NUL-carrying id.
 */
long app_ydoc_wire_doc_id(json_value_t document_id, char *id, size_t cap);

/** The note id of a "note:<id>" document (the text between the first and the second ':',
 *  as Python's document_id.split(":")[1]), borrowed from `id`; ptr NULL for others. */
slice_t app_ydoc_wire_note_id(const char *id, size_t n);

/** Python truthiness of `data` for the save, restricted to what NoteUpdateForm accepts:
 *  a JSON object with at least one member. */
bool app_ydoc_wire_is_nonempty_object(json_value_t v);

/** Appends a client-supplied value as it came, or `dflt` as a JSON string when absent. */
void app_ydoc_wire_append_or(buf_t *o, json_value_t v, const char *dflt);

/** Opens a payload object with its document id: `{"document_id":"<id>"`. */
void app_ydoc_wire_append_doc_key(buf_t *o, const char *id, size_t n);

/** Empties a scratch buffer after use, freeing it when it grew past the keep size. */
void app_ydoc_wire_scratch_done(buf_t *b);

/** The JSON in `b` as outgoing event arguments (borrowed from `b`). */
sioc_data_t app_ydoc_wire_data(const buf_t *b);

/** Open WebUI's Redis form of a document id: every ':' becomes '_' (appended to `out`). */
void app_ydoc_wire_append_norm_id(buf_t *out, const char *id);

#endif
