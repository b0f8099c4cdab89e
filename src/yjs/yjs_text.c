/*
 * yjs_text: a small Yjs document model (what a fresh Y.Doc holds after one
 * Y.applyUpdate) and the plain-text reader over it. See yjs_text.h for the output
 * format and the rules; this file follows yjs 13.6's integrateStructs, Item.getMissing,
 * Item.integrate, splitItem and readAndApplyDeleteSet step by step, because the
 * visible text depends on where yjs splits items (U+FFFD at cut surrogate pairs) as
 * well as on the order YATA picks.
 *
 * The store, as in yjs's StructStore:
 *
 *   clients[] (ascending id)        one per client of the update
 *     .nodes[]  -> [n0][n1][n2]...  nodes sorted by clock, contiguous from clock 0
 *     .state    =  end of the last node (the next clock this client may integrate)
 *     .refs     -> the decoded structs of the client's (last) group, read in order
 *
 *   types: roots[] (ascending name) and one per integrated ContentType item
 *     .start    -> first node of the type's sequence, linked by left/right
 *
 * A node is one item (or one piece of a split item) or one GC range. Map entries
 * (items with a parentSub) are stored and may be split but are never linked into a
 * sequence: nothing in a map is part of the text, and yjs keeps map chains apart
 * from the sequence, so leaving them out changes no sequence order.
 *
 * Everything lives in an arena freed at the end of the call.
 */
#include "yjs/yjs_text.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "yjs/yjs_update.h"

/* Node flags. */
enum {
    N_GC = 1 << 0,           /* a GC range, or an item that lost its parent (yjs: new GC) */
    N_DELETED = 1 << 1,      /* deleted; always set together with N_GC */
    N_ORIGIN = 1 << 2,       /* `origin` is set */
    N_RIGHT_ORIGIN = 1 << 3, /* `right_origin` is set */
    N_MAP = 1 << 4,          /* a map entry (parentSub): stored, never in a sequence */
    N_LEAD_FFFD = 1 << 5,    /* string piece starts with U+FFFD (its low surrogate was cut) */
    N_TRAIL_FFFD = 1 << 6,   /* string piece ends with U+FFFD (its high surrogate was cut) */
};

/* Frame modes of the XML walk. */
enum {
    M_BLOCK = 0,  /* children are blocks: text nodes are lines, elements recurse */
    M_LINE = 1,   /* inline content of a text block; "\n" when the frame ends */
    M_INLINE = 2, /* inline content inside a line */
};

#define CHUNK_BYTES (64 * 1024)

typedef struct tx_type tx_type_t;
typedef struct tx_node tx_node_t;

struct tx_node {
    yjs_id_t id;           /* first clock of this node */
    uint64_t len;          /* clock units (UTF-16 units for strings) */
    yjs_id_t origin;       /* N_ORIGIN: left neighbour at insert time (or split point) */
    yjs_id_t right_origin; /* N_RIGHT_ORIGIN: right neighbour at insert time */
    tx_node_t *left;       /* sequence neighbours (NULL for map entries and GC) */
    tx_node_t *right;
    tx_type_t *parent;     /* NULL for GC */
    tx_type_t *type;       /* content is a type: the type it holds */
    slice_t str;           /* String: the UTF-8 bytes, U+FFFD flags aside */
    uint64_t mark_before;  /* conflict scan: in itemsBeforeOrigin when == scan's mark */
    uint64_t mark_conflict;/* conflict scan: in conflictingItems when == current mark */
    uint8_t content;       /* yjs_content_t, 0 for GC */
    uint8_t flags;         /* N_* */
};

struct tx_type {
    tx_node_t *start;   /* first item of the sequence (deleted ones included) */
    slice_t name;       /* root name, or XmlElement node name; borrowed from the input */
    uint8_t ref;        /* yjs_type_ref_t of a nested type; TYPE_ROOT for a root */
};

#define TYPE_ROOT 0xff

typedef struct tx_client {
    uint64_t client;
    tx_node_t **nodes;        /* owned (malloc); sorted by clock, contiguous from 0 */
    size_t n;
    size_t cap;
    uint64_t state;           /* next clock to integrate */
    const yjs_struct_t *refs; /* the structs of this client's last group (borrowed) */
    size_t nrefs;
    size_t i;                 /* next ref to read; nrefs once exhausted or set aside */
} tx_client_t;

typedef struct tx_ref {
    const yjs_struct_t *s;
    tx_client_t *c;
} tx_ref_t;

typedef struct tx_frame {
    tx_node_t *next; /* next child to look at */
    uint8_t mode;    /* M_* */
} tx_frame_t;

typedef struct tx_chunk {
    struct tx_chunk *next;
    size_t used;
    size_t cap;
    max_align_t mem[];
} tx_chunk_t;

typedef struct tx_doc {
    yjs_update_t u;        /* the decoded update; slices borrow the caller's bytes */
    tx_client_t *clients;  /* owned; ascending id */
    size_t nclients;
    tx_type_t *roots;      /* owned; ascending name */
    size_t nroots;
    tx_chunk_t *chunks;    /* arena for nodes and nested types */
    tx_ref_t *stack;       /* integrateStructs' dependency stack */
    size_t nstack;
    size_t capstack;
    tx_frame_t *frames;    /* XML walk stack */
    size_t nframes;
    size_t capframes;
    uint64_t mark;         /* last mark handed out to the conflict scan */
    yjs_error_t *err;
} tx_doc_t;

/* ---------------------------------------------------------------- memory */

static int nomem(tx_doc_t *d)
{
    return yjs_error_set(d->err, YJS_E_NOMEM, 0, "out of memory building the document model");
}

/* Arena allocation, zeroed. NULL on OOM. */
static void *arena_alloc(tx_doc_t *d, size_t size)
{
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    tx_chunk_t *c = d->chunks;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
        c = try_malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = d->chunks;
        c->used = 0;
        c->cap = cap;
        d->chunks = c;
    }
    void *p = (unsigned char *)c->mem + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

/* Grows `*arr` (elements of `size` bytes, `*cap` of them) to hold at least `need`. */
static bool grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / size)
        return false;
    void *p = try_realloc(*arr, n * size);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = n;
    return true;
}

static void doc_dispose(tx_doc_t *d)
{
    for (size_t i = 0; i < d->nclients; i++)
        free(d->clients[i].nodes);
    free(d->clients);
    free(d->roots);
    free(d->stack);
    free(d->frames);
    while (d->chunks) {
        tx_chunk_t *next = d->chunks->next;
        free(d->chunks);
        d->chunks = next;
    }
    yjs_update_dispose(&d->u);
}

/* ---------------------------------------------------------------- lookups */

static tx_client_t *client_find(tx_doc_t *d, uint64_t client)
{
    size_t lo = 0, hi = d->nclients;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->clients[mid].client == client)
            return &d->clients[mid];
        if (d->clients[mid].client < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static uint64_t client_state(tx_doc_t *d, uint64_t client)
{
    tx_client_t *c = client_find(d, client);
    return c ? c->state : 0;
}

static int name_cmp(slice_t a, slice_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (r != 0)
        return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

static tx_type_t *root_find(tx_doc_t *d, slice_t name)
{
    size_t lo = 0, hi = d->nroots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = name_cmp(d->roots[mid].name, name);
        if (r == 0)
            return &d->roots[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Index of the node holding `clock` (which must be below c->state), or SIZE_MAX. */
static size_t store_index(const tx_client_t *c, uint64_t clock)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const tx_node_t *n = c->nodes[mid];
        if (clock < n->id.clock)
            hi = mid;
        else if (clock - n->id.clock >= n->len)
            lo = mid + 1;
        else
            return mid;
    }
    return SIZE_MAX;
}

/* yjs getItem: the node holding `id`, or NULL when the store has no such clock. */
static tx_node_t *store_find(tx_doc_t *d, yjs_id_t id)
{
    tx_client_t *c = client_find(d, id.client);
    if (c == NULL || id.clock >= c->state)
        return NULL;
    size_t i = store_index(c, id.clock);
    return i == SIZE_MAX ? NULL : c->nodes[i];
}

static bool store_append(tx_client_t *c, tx_node_t *n)
{
    if (!grow((void **)&c->nodes, &c->cap, c->n + 1, sizeof(*c->nodes)))
        return false;
    c->nodes[c->n++] = n;
    c->state = n->id.clock + n->len;
    return true;
}

/* ---------------------------------------------------------------- splitting */

/*
 * yjs splitItem: cuts c->nodes[index] after `diff` units (0 < diff < len) and inserts
 * the right part after it, in the store and in the sequence. The right part's origin is
 * the left part's last unit. A string cut between the halves of a surrogate pair shows
 * U+FFFD on both sides (ContentString.splice). Returns the right part, NULL on OOM.
 */
static tx_node_t *node_split(tx_doc_t *d, tx_client_t *c, size_t index, uint64_t diff)
{
    tx_node_t *l = c->nodes[index];
    if (!grow((void **)&c->nodes, &c->cap, c->n + 1, sizeof(*c->nodes)))
        return NULL;
    tx_node_t *r = arena_alloc(d, sizeof(*r));
    if (r == NULL)
        return NULL;
    *r = *l;
    r->id.clock = l->id.clock + diff;
    r->len = l->len - diff;
    r->origin = (yjs_id_t){l->id.client, l->id.clock + diff - 1};
    r->flags |= N_ORIGIN;
    r->mark_before = 0;
    r->mark_conflict = 0;
    if (l->content == YJS_CONTENT_STRING) {
        uint64_t lead = (l->flags & N_LEAD_FFFD) ? 1 : 0;
        slice_t ls, rs;
        bool mid;
        yjs_utf16_split(l->str, diff - lead, &ls, &rs, &mid);
        l->str = ls;
        r->str = rs;
        l->flags = (uint8_t)((l->flags & ~N_TRAIL_FFFD) | (mid ? N_TRAIL_FFFD : 0));
        r->flags = (uint8_t)((r->flags & ~N_LEAD_FFFD) | (mid ? N_LEAD_FFFD : 0));
    }
    if (!(l->flags & N_MAP)) {
        r->left = l;
        r->right = l->right;
        l->right = r;
        if (r->right)
            r->right->left = r;
    }
    l->len = diff;
    memmove(&c->nodes[index + 2], &c->nodes[index + 1], (c->n - index - 1) * sizeof(*c->nodes));
    c->nodes[index + 1] = r;
    c->n++;
    return r;
}

/* Looks up the client and node index of `id`; YJS_E_STRUCT if the store lacks it. */
static int locate(tx_doc_t *d, yjs_id_t id, tx_client_t **c, size_t *index)
{
    *c = client_find(d, id.client);
    *index = (*c && id.clock < (*c)->state) ? store_index(*c, id.clock) : SIZE_MAX;
    if (*index == SIZE_MAX)
        return yjs_error_set(d->err, YJS_E_STRUCT, 0, "model: id %llu:%llu not in the store",
                             (unsigned long long)id.client, (unsigned long long)id.clock);
    return YJS_OK;
}

/* yjs getItemCleanEnd: the node ending at `id` (splitting an item after it). */
static int clean_end(tx_doc_t *d, yjs_id_t id, tx_node_t **out)
{
    tx_client_t *c;
    size_t i;
    int rc = locate(d, id, &c, &i);
    if (rc != YJS_OK)
        return rc;
    tx_node_t *n = c->nodes[i];
    if (!(n->flags & N_GC) && id.clock != n->id.clock + n->len - 1 &&
        node_split(d, c, i, id.clock - n->id.clock + 1) == NULL)
        return nomem(d);
    *out = n;
    return YJS_OK;
}

/* yjs getItemCleanStart: the node starting at `id` (splitting an item before it). */
static int clean_start(tx_doc_t *d, yjs_id_t id, tx_node_t **out)
{
    tx_client_t *c;
    size_t i;
    int rc = locate(d, id, &c, &i);
    if (rc != YJS_OK)
        return rc;
    tx_node_t *n = c->nodes[i];
    if (!(n->flags & N_GC) && n->id.clock < id.clock) {
        n = node_split(d, c, i, id.clock - n->id.clock);
        if (n == NULL)
            return nomem(d);
    }
    *out = n;
    return YJS_OK;
}

/* ---------------------------------------------------------------- integration */

/* yjs compareIDs over optional ids: equal when both absent or both equal. */
static bool same_id(bool ha, yjs_id_t a, bool hb, yjs_id_t b)
{
    return ha == hb && (!ha || (a.client == b.client && a.clock == b.clock));
}

/*
 * One step of the YATA scan (Item.integrate, cases 1 and 2): `o` conflicts with `n`.
 * Returns 1 when `o` becomes the new left (conflict set cleared), 0 to go on, -1 to
 * stop the scan.
 */
static int scan_step(tx_doc_t *d, const tx_node_t *n, tx_node_t *o, uint64_t before,
                     uint64_t conflict)
{
    if (same_id(n->flags & N_ORIGIN, n->origin, o->flags & N_ORIGIN, o->origin)) {
        if (o->id.client < n->id.client)
            return 1;
        bool same_right = same_id(n->flags & N_RIGHT_ORIGIN, n->right_origin,
                                  o->flags & N_RIGHT_ORIGIN, o->right_origin);
        return same_right ? -1 : 0;
    }
    if (!(o->flags & N_ORIGIN))
        return -1;
    const tx_node_t *x = store_find(d, o->origin);
    if (x == NULL || x->mark_before != before)
        return -1;
    return x->mark_conflict != conflict ? 1 : 0;
}

/*
 * Places sequence item `n` between `left` and `right` (its resolved origin and right
 * origin) in its parent, resolving concurrent inserts as yjs does: scan the items
 * between them, move `left` past every item that must come first.
 */
static void link_item(tx_doc_t *d, tx_node_t *n, tx_node_t *left, tx_node_t *right)
{
    tx_type_t *p = n->parent;
    if ((left == NULL && (right == NULL || right->left != NULL)) ||
        (left != NULL && left->right != right)) {
        uint64_t before = ++d->mark;
        uint64_t conflict = ++d->mark;
        tx_node_t *o = left ? left->right : p->start;
        while (o != NULL && o != right) {
            o->mark_before = before;
            o->mark_conflict = conflict;
            int step = scan_step(d, n, o, before, conflict);
            if (step < 0)
                break;
            if (step > 0) {
                left = o;
                conflict = ++d->mark;
            }
            o = o->right;
        }
    }
    n->left = left;
    if (left) {
        n->right = left->right;
        left->right = n;
    } else {
        n->right = p->start;
        p->start = n;
    }
    if (n->right)
        n->right->left = n;
}

/* yjs getMissing, first half: the client a struct waits for (true), or false. */
static bool dep_missing(tx_doc_t *d, uint64_t own, yjs_id_t id)
{
    return id.client != own && id.clock >= client_state(d, id.client);
}

static bool struct_missing(tx_doc_t *d, const yjs_struct_t *s, uint64_t *who)
{
    if (s->kind != YJS_KIND_ITEM)
        return false;
    uint64_t own = s->id.client;
    if ((s->flags & YJS_F_ORIGIN) && dep_missing(d, own, s->origin)) {
        *who = s->origin.client;
        return true;
    }
    if ((s->flags & YJS_F_RIGHT_ORIGIN) && dep_missing(d, own, s->right_origin)) {
        *who = s->right_origin.client;
        return true;
    }
    if (s->parent == YJS_PARENT_ID && dep_missing(d, own, s->parent_id)) {
        *who = s->parent_id.client;
        return true;
    }
    return false;
}

/*
 * yjs getMissing, second half: resolves the neighbours (splitting at origin and right
 * origin) and the parent. `*parent` stays NULL when the item must become garbage.
 */
static int resolve(tx_doc_t *d, const yjs_struct_t *s, tx_node_t **left, tx_node_t **right,
                   tx_type_t **parent, bool *map)
{
    int rc;
    if ((s->flags & YJS_F_ORIGIN) && (rc = clean_end(d, s->origin, left)) != YJS_OK)
        return rc;
    if ((s->flags & YJS_F_RIGHT_ORIGIN) && (rc = clean_start(d, s->right_origin, right)) != 0)
        return rc;
    if ((*left && ((*left)->flags & N_GC)) || (*right && ((*right)->flags & N_GC)))
        return YJS_OK;
    *map = (s->flags & YJS_F_PARENT_SUB) != 0;
    if (s->parent == YJS_PARENT_NONE) {
        const tx_node_t *from = *left ? *left : *right;
        if (from) {
            *parent = from->parent;
            *map = (from->flags & N_MAP) != 0;
        }
    } else if (s->parent == YJS_PARENT_ID) {
        const tx_node_t *p = store_find(d, s->parent_id);
        if (p && !(p->flags & N_GC) && p->content == YJS_CONTENT_TYPE)
            *parent = p->type;
    } else {
        *parent = root_find(d, s->parent_key);
    }
    return YJS_OK;
}

/* Builds the node of struct `s` (a GC range, or an item of `parent`). */
static tx_node_t *node_new(tx_doc_t *d, const yjs_struct_t *s, tx_type_t *parent, bool map)
{
    tx_node_t *n = arena_alloc(d, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->id = s->id;
    n->len = s->len;
    if (s->kind != YJS_KIND_ITEM || parent == NULL) {
        n->flags = N_GC | N_DELETED;
        return n;
    }
    n->content = s->content;
    n->parent = parent;
    n->origin = s->origin;
    n->right_origin = s->right_origin;
    n->flags = (uint8_t)(((s->flags & YJS_F_ORIGIN) ? N_ORIGIN : 0) |
                         ((s->flags & YJS_F_RIGHT_ORIGIN) ? N_RIGHT_ORIGIN : 0) |
                         (map ? N_MAP : 0) |
                         (s->content == YJS_CONTENT_DELETED ? N_DELETED : 0));
    if (s->content == YJS_CONTENT_STRING)
        n->str = s->c.str.utf8;
    if (s->content == YJS_CONTENT_TYPE) {
        n->type = arena_alloc(d, sizeof(*n->type));
        if (n->type == NULL)
            return NULL;
        n->type->ref = (uint8_t)s->c.type.ref;
        n->type->name = s->c.type.name;
    }
    return n;
}

/* Item.integrate (offset 0) or GC.integrate for a struct whose dependencies are in. */
static int integrate(tx_doc_t *d, tx_ref_t r)
{
    tx_node_t *left = NULL, *right = NULL;
    tx_type_t *parent = NULL;
    bool map = false;
    if (r.s->kind == YJS_KIND_ITEM) {
        int rc = resolve(d, r.s, &left, &right, &parent, &map);
        if (rc != YJS_OK)
            return rc;
    }
    tx_node_t *n = node_new(d, r.s, parent, map);
    if (n == NULL)
        return nomem(d);
    if (parent != NULL && !map)
        link_item(d, n, left, right);
    if (!store_append(r.c, n))
        return nomem(d);
    return YJS_OK;
}

static int stack_push(tx_doc_t *d, tx_ref_t r)
{
    if (!grow((void **)&d->stack, &d->capstack, d->nstack + 1, sizeof(*d->stack)))
        return nomem(d);
    d->stack[d->nstack++] = r;
    return YJS_OK;
}

/* addStackToRestSS: the clients on the stack wait for something not in the update;
 * nothing more of theirs is integrated. */
static void stack_to_rest(tx_doc_t *d)
{
    for (size_t k = 0; k < d->nstack; k++)
        d->stack[k].c->i = d->stack[k].c->nrefs;
    d->nstack = 0;
}

static tx_ref_t take(tx_client_t *c)
{
    return (tx_ref_t){&c->refs[c->i++], c};
}

/*
 * Handles `*head`: integrates it, sets it aside, or (returns 1) replaces it with the
 * next struct of the client it waits for. Returns 0 when done with it, <0 on error.
 */
static int step(tx_doc_t *d, tx_ref_t *head)
{
    const yjs_struct_t *s = head->s;
    if (s->kind == YJS_KIND_SKIP)
        return 0;
    if (s->id.clock > head->c->state) { /* an earlier struct of this client is missing */
        int rc = stack_push(d, *head);
        stack_to_rest(d);
        return rc;
    }
    uint64_t who;
    if (struct_missing(d, s, &who)) {
        int rc = stack_push(d, *head);
        if (rc != YJS_OK)
            return rc;
        tx_client_t *m = client_find(d, who);
        if (m == NULL || m->i == m->nrefs) {
            stack_to_rest(d);
            return 0;
        }
        *head = take(m);
        return 1;
    }
    return s->id.clock == head->c->state ? integrate(d, *head) : 0;
}

/* getNextStructTarget: the highest client with structs left. */
static tx_client_t *next_target(tx_doc_t *d, size_t *hi)
{
    while (*hi > 0) {
        tx_client_t *c = &d->clients[*hi - 1];
        if (c->i < c->nrefs)
            return c;
        (*hi)--;
    }
    return NULL;
}

/* integrateStructs: depth-first over dependencies, highest client first. */
static int integrate_all(tx_doc_t *d)
{
    size_t hi = d->nclients;
    tx_client_t *cur = next_target(d, &hi);
    if (cur == NULL)
        return YJS_OK;
    tx_ref_t head = take(cur);
    for (;;) {
        int rc = step(d, &head);
        if (rc < 0)
            return rc;
        if (rc > 0)
            continue;
        if (d->nstack > 0) {
            head = d->stack[--d->nstack];
        } else if (cur->i < cur->nrefs) {
            head = take(cur);
        } else {
            cur = next_target(d, &hi);
            if (cur == NULL)
                return YJS_OK;
            head = take(cur);
        }
    }
}

/* readAndApplyDeleteSet for one range of client `c`: split at the boundaries (items
 * not yet deleted only) and mark deleted. Ranges past the state stay unapplied. */
static int delete_range(tx_doc_t *d, tx_client_t *c, uint64_t clock, uint64_t end)
{
    if (c == NULL || clock >= c->state)
        return YJS_OK;
    size_t i = store_index(c, clock);
    if (i == SIZE_MAX)
        return YJS_OK;
    tx_node_t *n = c->nodes[i];
    if (!(n->flags & N_DELETED) && n->id.clock < clock) {
        if (node_split(d, c, i, clock - n->id.clock) == NULL)
            return nomem(d);
        i++;
    }
    while (i < c->n) {
        n = c->nodes[i++];
        if (n->id.clock >= end)
            break;
        if (n->flags & N_DELETED)
            continue;
        if (end - n->id.clock < n->len && node_split(d, c, i - 1, end - n->id.clock) == NULL)
            return nomem(d);
        n->flags |= N_DELETED;
    }
    return YJS_OK;
}

static int apply_delete_set(tx_doc_t *d)
{
    for (size_t e = 0; e < d->u.nds; e++) {
        const yjs_ds_entry_t *ds = &d->u.ds[e];
        tx_client_t *c = client_find(d, ds->client);
        for (size_t k = 0; k < ds->count; k++) {
            const yjs_range_t *r = &d->u.ranges[ds->first + k];
            int rc = delete_range(d, c, r->clock, r->clock + r->len);
            if (rc != YJS_OK)
                return rc;
        }
    }
    return YJS_OK;
}

/* ---------------------------------------------------------------- setup */

typedef struct group_key {
    uint64_t client;
    size_t index;
} group_key_t;

static int group_key_cmp(const void *a, const void *b)
{
    const group_key_t *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* One client record per client of the update, from its last group (yjs's reader
 * keeps the last group of a client that appears twice). */
static int build_clients(tx_doc_t *d)
{
    size_t ng = d->u.ngroups;
    if (ng == 0)
        return YJS_OK;
    group_key_t *keys = try_malloc(ng * sizeof(*keys));
    d->clients = try_malloc(ng * sizeof(*d->clients));
    if (keys == NULL || d->clients == NULL) {
        free(keys);
        return nomem(d);
    }
    for (size_t g = 0; g < ng; g++)
        keys[g] = (group_key_t){d->u.groups[g].client, g};
    qsort(keys, ng, sizeof(*keys), group_key_cmp);
    for (size_t g = 0; g < ng; g++) {
        if (g + 1 < ng && keys[g + 1].client == keys[g].client)
            continue;
        const yjs_group_t *grp = &d->u.groups[keys[g].index];
        d->clients[d->nclients++] = (tx_client_t){
            .client = grp->client,
            .refs = d->u.structs + grp->first,
            .nrefs = grp->count,
        };
    }
    free(keys);
    return YJS_OK;
}

static int root_cmp(const void *a, const void *b)
{
    return name_cmp(((const tx_type_t *)a)->name, ((const tx_type_t *)b)->name);
}

/* Every root named by an item, sorted by name and unique (yjs creates them on read). */
static int build_roots(tx_doc_t *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->u.nstructs; i++)
        n += d->u.structs[i].kind == YJS_KIND_ITEM && d->u.structs[i].parent == YJS_PARENT_ROOT;
    if (n == 0)
        return YJS_OK;
    d->roots = try_malloc(n * sizeof(*d->roots));
    if (d->roots == NULL)
        return nomem(d);
    for (size_t i = 0; i < d->u.nstructs; i++) {
        const yjs_struct_t *s = &d->u.structs[i];
        if (s->kind == YJS_KIND_ITEM && s->parent == YJS_PARENT_ROOT)
            d->roots[d->nroots++] = (tx_type_t){.name = s->parent_key, .ref = TYPE_ROOT};
    }
    qsort(d->roots, d->nroots, sizeof(*d->roots), root_cmp);
    size_t w = 0;
    for (size_t i = 0; i < d->nroots; i++)
        if (w == 0 || name_cmp(d->roots[w - 1].name, d->roots[i].name) != 0)
            d->roots[w++] = d->roots[i];
    d->nroots = w;
    return YJS_OK;
}

static bool self_ref_bad(const yjs_struct_t *s, bool has, yjs_id_t id)
{
    return has && id.client == s->id.client && id.clock >= s->id.clock;
}

/* An item may only refer to earlier clocks of its own client; yjs throws otherwise. */
static int check_refs(tx_doc_t *d)
{
    for (size_t i = 0; i < d->u.nstructs; i++) {
        const yjs_struct_t *s = &d->u.structs[i];
        if (s->kind != YJS_KIND_ITEM)
            continue;
        const char *what = self_ref_bad(s, s->flags & YJS_F_ORIGIN, s->origin) ? "origin"
            : self_ref_bad(s, s->flags & YJS_F_RIGHT_ORIGIN, s->right_origin) ? "right origin"
            : self_ref_bad(s, s->parent == YJS_PARENT_ID, s->parent_id)       ? "parent"
                                                                               : NULL;
        if (what != NULL)
            return yjs_error_set(d->err, YJS_E_STRUCT, (size_t)(s->raw.ptr - d->u.data.ptr),
                                 "item %llu:%llu: %s refers to its own client at or after "
                                 "its own clock",
                                 (unsigned long long)s->id.client,
                                 (unsigned long long)s->id.clock, what);
    }
    return YJS_OK;
}

/* ---------------------------------------------------------------- output */

static int put(tx_doc_t *d, buf_t *out, const void *p, size_t n)
{
    if (n == 0)
        return YJS_OK;
    uint8_t *w = buf_try_reserve(out, n);
    if (w == NULL)
        return nomem(d);
    memcpy(w, p, n);
    buf_commit(out, n);
    return YJS_OK;
}

/* The visible characters of a sequence (a text root, an XmlText): String items only. */
static int put_text(tx_doc_t *d, const tx_type_t *t, buf_t *out)
{
    for (const tx_node_t *n = t->start; n != NULL; n = n->right) {
        if ((n->flags & N_DELETED) || n->content != YJS_CONTENT_STRING)
            continue;
        int rc = YJS_OK;
        if (n->flags & N_LEAD_FFFD)
            rc = put(d, out, YJS_FFFD_UTF8, 3);
        if (rc == YJS_OK)
            rc = put(d, out, n->str.ptr, n->str.len);
        if (rc == YJS_OK && (n->flags & N_TRAIL_FFFD))
            rc = put(d, out, YJS_FFFD_UTF8, 3);
        if (rc != YJS_OK)
            return rc;
    }
    return YJS_OK;
}

static bool is_text_ref(unsigned ref)
{
    return ref == YJS_TYPE_TEXT || ref == YJS_TYPE_XML_TEXT;
}

static bool is_element_ref(unsigned ref)
{
    return ref == YJS_TYPE_XML_ELEMENT || ref == YJS_TYPE_XML_FRAGMENT;
}

static bool is_hard_break(const tx_type_t *t)
{
    return t->ref == YJS_TYPE_XML_ELEMENT &&
           (slice_eq_cstr(t->name, "hardBreak") || slice_eq_cstr(t->name, "hard_break"));
}

/* The first visible child type at or after `n`. */
static tx_node_t *next_child(tx_node_t *n)
{
    while (n != NULL && ((n->flags & N_DELETED) || n->content != YJS_CONTENT_TYPE))
        n = n->right;
    return n;
}

/* A text block has a visible text child or hard break, or no visible element child. */
static bool is_text_block(const tx_type_t *t)
{
    bool has_element = false;
    for (tx_node_t *c = next_child(t->start); c != NULL; c = next_child(c->right)) {
        if (is_text_ref(c->type->ref) || is_hard_break(c->type))
            return true;
        has_element |= is_element_ref(c->type->ref);
    }
    return !has_element;
}

static int frame_push(tx_doc_t *d, tx_node_t *first, uint8_t mode)
{
    if (!grow((void **)&d->frames, &d->capframes, d->nframes + 1, sizeof(*d->frames)))
        return nomem(d);
    d->frames[d->nframes++] = (tx_frame_t){first, mode};
    return YJS_OK;
}

/* One child type `t` met in a frame of mode `mode`: text, a line break, or a new frame. */
static int xml_visit(tx_doc_t *d, const tx_type_t *t, uint8_t mode, buf_t *out)
{
    if (is_text_ref(t->ref)) {
        int rc = put_text(d, t, out);
        return rc == YJS_OK && mode == M_BLOCK ? put(d, out, "\n", 1) : rc;
    }
    if (!is_element_ref(t->ref))
        return YJS_OK;
    if (mode != M_BLOCK)
        return is_hard_break(t) ? put(d, out, "\n", 1) : frame_push(d, t->start, M_INLINE);
    return frame_push(d, t->start, is_text_block(t) ? M_LINE : M_BLOCK);
}

/* The lines of an XML root, walked with an explicit stack (trees may be deep). */
static int put_xml(tx_doc_t *d, const tx_type_t *root, buf_t *out)
{
    d->nframes = 0;
    int rc = frame_push(d, root->start, M_BLOCK);
    while (rc == YJS_OK && d->nframes > 0) {
        tx_frame_t *f = &d->frames[d->nframes - 1];
        tx_node_t *c = next_child(f->next);
        if (c == NULL) {
            uint8_t mode = f->mode;
            d->nframes--;
            rc = mode == M_LINE ? put(d, out, "\n", 1) : YJS_OK;
            continue;
        }
        f->next = c->right;
        rc = xml_visit(d, c->type, f->mode, out);
    }
    return rc;
}

enum { ROOT_NONE, ROOT_TEXT, ROOT_XML };

/* What a root holds, from its items' contents (the wire does not say). */
static int root_kind(const tx_type_t *t)
{
    bool xml = false;
    for (const tx_node_t *n = t->start; n != NULL; n = n->right) {
        if (n->content == YJS_CONTENT_STRING || n->content == YJS_CONTENT_EMBED ||
            n->content == YJS_CONTENT_FORMAT)
            return ROOT_TEXT;
        if (n->content == YJS_CONTENT_TYPE && n->type->ref >= YJS_TYPE_XML_ELEMENT)
            xml = true;
    }
    return xml ? ROOT_XML : ROOT_NONE;
}

/* Every root in name order; empty contributions leave no separator behind. */
static int put_roots(tx_doc_t *d, buf_t *out)
{
    bool any = false;
    for (size_t i = 0; i < d->nroots; i++) {
        const tx_type_t *t = &d->roots[i];
        int kind = root_kind(t);
        if (kind == ROOT_NONE)
            continue;
        size_t mark = out->len;
        int rc = any ? put(d, out, "\n", 1) : YJS_OK;
        size_t body = out->len;
        if (rc == YJS_OK)
            rc = kind == ROOT_TEXT ? put_text(d, t, out) : put_xml(d, t, out);
        if (rc != YJS_OK)
            return rc;
        if (out->len == body)
            out->len = mark; /* nothing from this root: drop its separator */
        else
            any = true;
    }
    return YJS_OK;
}

/* ---------------------------------------------------------------- entry point */

int yjs_text_extract(const uint8_t *update, size_t len, buf_t *out, yjs_error_t *err)
{
    yjs_error_clear(err);
    if (out == NULL || (update == NULL && len > 0))
        return yjs_error_set(err, YJS_E_ARG, 0, "yjs_text_extract: NULL argument");
    tx_doc_t d = {.err = err};
    size_t start = out->len;
    int rc = yjs_update_decode(update, len, &d.u, err);
    if (rc == YJS_OK)
        rc = check_refs(&d);
    if (rc == YJS_OK)
        rc = build_clients(&d);
    if (rc == YJS_OK)
        rc = build_roots(&d);
    if (rc == YJS_OK)
        rc = integrate_all(&d);
    if (rc == YJS_OK)
        rc = apply_delete_set(&d);
    if (rc == YJS_OK)
        rc = put_roots(&d, out);
    if (rc != YJS_OK)
        out->len = start;
    doc_dispose(&d);
    return rc;
}
