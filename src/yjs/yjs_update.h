/*
 * yjs_update: the decoded form of a Yjs update v1, and its strict decoder and encoder
 * (pure library, src/yjs).
 *
 * What: an update is a list of client struct groups, then a delete set (spec 2.1).
 * Each group holds structs with consecutive clocks; a struct is a GC, a Skip, or an
 * Item with an origin, a right origin, a parent (root key or parent item ID), an
 * optional map key (parentSub) and content of one of nine kinds (spec 2.2-2.4).
 * yjs_update_decode validates all of it and describes it without copying: every
 * slice points into the input bytes. It is what `sioc-yjs inspect` prints and what
 * yjs_text builds its document model from. Merge, diff and state vectors
 * (yjs_merge.h) use a lazy reader of their own and never build this form.
 *
 * Strictness (spec 2.2, 2.7, P11): rejected with an error code and a message giving
 * the byte offset and the reason: truncated varints and values past the end, varUints
 * above 2^53-1 or longer than 10 bytes, content refs 11..31, ref 10 with flag bits,
 * GC info bytes other than 00, unknown type refs or `any` tags, invalid UTF-8,
 * zero-length structs (GC/Skip len 0, empty string, Any/JSON/Deleted count 0),
 * clock + length above 2^53-1, `any` nesting deeper than YJS_MAX_ANY_DEPTH, and any
 * byte after the delete set (which also catches a v2 update fed in as v1). Counts are
 * checked against the bytes left before anything is allocated.
 *
 * Ownership: yjs_update_decode fills a caller-provided yjs_update_t; the arrays in it
 * are heap-allocated by the decoder and released by yjs_update_dispose. All slices
 * (parent keys, map keys, content) borrow the input bytes, which must outlive the
 * decoded update. Decoded values are read-only for callers.
 *
 * Threading: no globals; a decoded update may be read from several threads at once.
 *
 * Spec: shared/spec/yjs-update-format.md sections 2 (layout) and 3.1 (representation).
 */
#ifndef SIOC_YJS_UPDATE_H
#define SIOC_YJS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"
#include "yjs/yjs_codec.h"

/** A struct ID: the client that created it and a clock (both <= 2^53-1). */
typedef struct yjs_id {
    uint64_t client;
    uint64_t clock;
} yjs_id_t;

/** Struct kinds. */
typedef enum yjs_kind {
    YJS_KIND_GC = 0,   /* info 00: deleted and garbage-collected; len clock units */
    YJS_KIND_ITEM = 1, /* info & 0x1f in 1..9: an Item */
    YJS_KIND_SKIP = 2, /* info 0a: a gap (clocks this update does not carry) */
} yjs_kind_t;

/** Item content refs (info & 0x1f), spec 2.4. */
typedef enum yjs_content {
    YJS_CONTENT_DELETED = 1, /* varUint len; length len */
    YJS_CONTENT_JSON = 2,    /* varUint n, n x varString (JSON text); length n (legacy) */
    YJS_CONTENT_BINARY = 3,  /* varUint8Array; length 1 */
    YJS_CONTENT_STRING = 4,  /* varString; length = UTF-16 code units */
    YJS_CONTENT_EMBED = 5,   /* varString JSON; length 1 */
    YJS_CONTENT_FORMAT = 6,  /* varString key, varString value JSON; length 1 */
    YJS_CONTENT_TYPE = 7,    /* varUint type ref (+ varString name for 3 and 5); length 1 */
    YJS_CONTENT_ANY = 8,     /* varUint n, n x any; length n */
    YJS_CONTENT_DOC = 9,     /* varString guid, any opts; length 1 */
} yjs_content_t;

/** Type refs of a YJS_CONTENT_TYPE item. */
typedef enum yjs_type_ref {
    YJS_TYPE_ARRAY = 0,
    YJS_TYPE_MAP = 1,
    YJS_TYPE_TEXT = 2,
    YJS_TYPE_XML_ELEMENT = 3, /* has a node name, e.g. "paragraph" */
    YJS_TYPE_XML_FRAGMENT = 4,
    YJS_TYPE_XML_HOOK = 5,    /* has a hook name */
    YJS_TYPE_XML_TEXT = 6,
} yjs_type_ref_t;

/** Where an Item's parent is given (spec 2.3). */
typedef enum yjs_parent {
    YJS_PARENT_NONE = 0, /* not written: origin or rightOrigin is set; the parent (and
                            map key) is inherited from the neighbour at integration */
    YJS_PARENT_ROOT = 1, /* a root type, named by `parent_key` (e.g. "prosemirror") */
    YJS_PARENT_ID = 2,   /* a nested type: the Item `parent_id` whose content is a type */
} yjs_parent_t;

/** Item flags (yjs_struct_t.flags). */
enum {
    YJS_F_ORIGIN = 1 << 0,       /* `origin` is set (info bit 0x80) */
    YJS_F_RIGHT_ORIGIN = 1 << 1, /* `right_origin` is set (info bit 0x40) */
    YJS_F_PARENT_SUB = 1 << 2,   /* `parent_sub` is set: map entry with a key. Only when
                                    the parent was written (no origins) and bit 0x20 */
};

/**
 * One decoded struct. For GC and Skip only id, len, kind, info and raw are meaningful.
 * Item content is described in `c` by kind; `body` is the whole content payload as on
 * the wire (what a raw passthrough copies). Fields guarded by a flag, the parent kind
 * or the content kind hold unspecified values when their guard is off; parent_key,
 * parent_sub and body are then empty.
 */
typedef struct yjs_struct {
    yjs_id_t id;          /* client of the group; first clock of this struct */
    uint64_t len;         /* length in clock units (>= 1); occupies [clock, clock+len) */
    uint8_t kind;         /* yjs_kind_t */
    uint8_t info;         /* the wire info byte, unchanged (e.g. a8 stays a8) */
    uint8_t content;      /* yjs_content_t for Items, 0 for GC and Skip */
    uint8_t flags;        /* YJS_F_* */
    uint8_t parent;       /* yjs_parent_t */
    bool canonical;       /* Items: every header varint is minimal and the parent info is
                             0 or 1, so re-encoding the header (as yjs does) gives the wire
                             bytes back, bit 0x20 of the info byte aside */
    yjs_id_t origin;      /* YJS_F_ORIGIN: left neighbour at insert time */
    yjs_id_t right_origin;/* YJS_F_RIGHT_ORIGIN: right neighbour at insert time */
    yjs_id_t parent_id;   /* parent == YJS_PARENT_ID */
    slice_t parent_key;   /* parent == YJS_PARENT_ROOT: root type name (UTF-8) */
    slice_t parent_sub;   /* YJS_F_PARENT_SUB: the map key (UTF-8) */
    slice_t raw;          /* all wire bytes of this struct, info byte included */
    slice_t body;         /* Items: the content payload bytes (after the header) */
    union {
        struct {
            slice_t utf8; /* the text; `len` is its UTF-16 length */
        } str;            /* YJS_CONTENT_STRING */
        struct {
            slice_t values; /* `len` encoded `any` values back to back (yjs_any_next) */
        } any;              /* YJS_CONTENT_ANY */
        struct {
            slice_t values; /* `len` varStrings back to back (yjs_read_string); each is
                               JSON text or the literal `undefined` */
        } json;             /* YJS_CONTENT_JSON */
        struct {
            slice_t bytes;
        } binary;           /* YJS_CONTENT_BINARY */
        struct {
            slice_t json;   /* the embed as JSON text, e.g. {"image":"x.png"} */
        } embed;            /* YJS_CONTENT_EMBED */
        struct {
            slice_t key;    /* format attribute name, e.g. "bold" */
            slice_t value;  /* JSON text; "null" ends a formatting range */
        } format;           /* YJS_CONTENT_FORMAT */
        struct {
            uint32_t ref;   /* yjs_type_ref_t */
            slice_t name;   /* XML_ELEMENT node name / XML_HOOK hook name, else empty */
        } type;             /* YJS_CONTENT_TYPE */
        struct {
            slice_t guid;
            slice_t opts;   /* one encoded `any` value */
        } doc;              /* YJS_CONTENT_DOC */
    } c;                    /* YJS_CONTENT_DELETED has no fields: its count is `len` */
} yjs_struct_t;

/** One client struct group: `count` structs starting at structs[first]. */
typedef struct yjs_group {
    uint64_t client;
    uint64_t clock; /* clock of the first struct (the group's firstClock) */
    size_t first;   /* index into yjs_update_t.structs */
    size_t count;   /* may be 0 (accepted, never written by yjs) */
} yjs_group_t;

/** One delete-set range: clocks [clock, clock+len) of a client are deleted. */
typedef struct yjs_range {
    uint64_t clock;
    uint64_t len; /* 0 is accepted, as JS keeps it */
} yjs_range_t;

/** One delete-set client entry in wire order: `count` ranges from ranges[first]. */
typedef struct yjs_ds_entry {
    uint64_t client;
    size_t first; /* index into yjs_update_t.ranges */
    size_t count; /* may be 0 (JS drops such entries when it reads them) */
} yjs_ds_entry_t;

/**
 * A decoded update. Groups, structs, delete-set entries and ranges are in wire order,
 * exactly as read (no sorting, no merging of duplicate clients).
 */
typedef struct yjs_update {
    slice_t data;             /* the input bytes (borrowed) */
    yjs_group_t *groups;      /* owned */
    size_t ngroups;
    yjs_struct_t *structs;    /* owned; all groups' structs back to back */
    size_t nstructs;
    yjs_ds_entry_t *ds;       /* owned; delete-set client entries */
    size_t nds;
    yjs_range_t *ranges;      /* owned; all entries' ranges back to back */
    size_t nranges;
    size_t ds_offset;         /* byte offset where the delete set starts */
} yjs_update_t;

/**
 * Decodes and validates an update v1 (see the strictness list above). On success
 * fills `*u` (which the caller later passes to yjs_update_dispose) and returns YJS_OK.
 * On failure returns a negative yjs_status_t, fills `*err` (may be NULL) and leaves
 * `*u` empty (disposing it is still allowed). `data` must outlive `*u`.
 */
int yjs_update_decode(const uint8_t *data, size_t len, yjs_update_t *u, yjs_error_t *err);

/** Frees the arrays of a decoded update and empties it. NULL-safe, idempotent. */
void yjs_update_dispose(yjs_update_t *u);

/**
 * Encodes a decoded update back to v1 bytes, appended to `out`: groups and structs in
 * order with their wire info bytes and content bytes unchanged, the delete set as
 * decoded. Varints are written minimally and a parent info other than 1 as 0, so for
 * any update written by yjs or yrs the output equals the input byte for byte. Sizes
 * are bounded by the decoded input; like buf_reserve, it aborts if memory runs out.
 */
void yjs_update_encode(const yjs_update_t *u, buf_t *out);

/**
 * Validates an update v1 without building the decoded form (no allocation), with the
 * same rules and messages as yjs_update_decode. Returns YJS_OK or the error.
 */
int yjs_update_validate(const uint8_t *data, size_t len, yjs_error_t *err);

/**
 * Decodes one struct at the cursor (the info byte first) for a group of `client`
 * whose next clock is `clock`. The building block of the decoder and of the lazy
 * readers of merge/diff; exposed for tools and tests. Returns YJS_OK or an error.
 */
int yjs_struct_read(yjs_cursor_t *c, uint64_t client, uint64_t clock, yjs_struct_t *s);

/** True if the decoded delete set of `u` covers `id` (linear scan; for tools/tests). */
bool yjs_update_is_deleted(const yjs_update_t *u, yjs_id_t id);

/** Name of a content ref ("String", "Any", ...), or "?" when out of range. */
const char *yjs_content_name(unsigned ref);

/** Name of a type ref ("YText", "YXmlElement", ...), or "?" when out of range. */
const char *yjs_type_name(unsigned ref);

#endif
