/*
 * sio_rooms: per-namespace room index. See sio_rooms.h for the contract.
 *
 * Three structures, all open addressing or arrays, no list nodes:
 *
 *   sio_rooms.tab   [room*|NULL|room*|...]   linear probing on room->hash
 *   sio_rooms.all   [member*, member*, ...]  dense; member->_idx is the position
 *   sio_room        one member inline (cap 0) or a linear-probing set of member* (cap 2^k)
 *   sio_member      up to 3 room* inline, else a heap array
 *
 * Deletions in the probing tables use backward-shift deletion, so there are no tombstones
 * and lookups never degrade after churn (sockets join and leave all the time).
 */
#include "sio/sio_rooms.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

_Static_assert(sizeof(sio_member_t) <= 40, "the member embedded in every socket stays small");

struct sio_room {
    uint32_t hash; /* hash of the name (with the index seed) */
    uint32_t len;  /* name length */
    uint32_t n;    /* members */
    uint32_t cap;  /* 0: member in `one`; else size of `slots` (a power of 2) */
    union {
        sio_member_t *one;    /* the single member when cap == 0 (NULL when none) */
        sio_member_t **slots; /* probing set when cap > 0 */
    };
    uint8_t name[]; /* the interned name bytes (not NUL-terminated) */
};

struct sio_rooms {
    sio_room_t **tab;   /* room table, tab_cap slots (power of 2) */
    uint32_t tab_cap;   /* slots */
    uint32_t nrooms;    /* rooms in tab */
    sio_member_t **all; /* attached members, dense */
    uint32_t nall;      /* attached members */
    uint32_t all_cap;   /* capacity of all */
    uint32_t gen;       /* last broadcast generation handed out */
    uint32_t seed;      /* hash seed (from the index address: differs between processes) */
};

/* ------------------------------------------------------------------ hashing */

static uint32_t hash_name(uint32_t seed, slice_t s)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < s.len; i++) {
        h ^= s.ptr[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 32);
}

static inline uint32_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

/* Home slot of an entry in a table with mask `mask`. */
typedef uint32_t (*home_fn)(const void *e, uint32_t mask);

static uint32_t room_home(const void *e, uint32_t mask)
{
    return ((const sio_room_t *)e)->hash & mask;
}

static uint32_t member_home(const void *e, uint32_t mask)
{
    return hash_ptr(e) & mask;
}

/* Removes slot `i` of a linear-probing table and shifts the following cluster back so
 * that every entry stays reachable from its home slot. */
static void probe_delete(void **tab, uint32_t mask, uint32_t i, home_fn home)
{
    uint32_t j = i;
    tab[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        if (!tab[j])
            return;
        uint32_t k = home(tab[j], mask);
        /* tab[j] may move to i only if its home k is not in the cyclic range (i, j]. */
        bool in_range = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (in_range)
            continue;
        tab[i] = tab[j];
        tab[j] = NULL;
        i = j;
    }
}

/* ------------------------------------------------------------------ room member sets */

static void set_insert_raw(sio_member_t **slots, uint32_t mask, sio_member_t *m)
{
    uint32_t i = hash_ptr(m) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = m;
}

static void set_resize(sio_room_t *room, uint32_t cap)
{
    sio_member_t **old = room->cap ? room->slots : &room->one;
    uint32_t old_cap = room->cap ? room->cap : 1;
    sio_member_t **slots = xcalloc(cap, sizeof *slots);
    for (uint32_t k = 0; k < old_cap; k++) {
        if (old[k])
            set_insert_raw(slots, cap - 1, old[k]);
    }
    if (room->cap)
        free(old);
    room->slots = slots;
    room->cap = cap;
}

/* Slot index of `m` in the room's set, or -1. */
static long set_find(const sio_room_t *room, const sio_member_t *m)
{
    if (room->cap == 0)
        return room->one == m && m ? 0 : -1;
    uint32_t mask = room->cap - 1;
    for (uint32_t i = hash_ptr(m) & mask;; i = (i + 1) & mask) {
        if (!room->slots[i])
            return -1;
        if (room->slots[i] == m)
            return (long)i;
    }
}

static void set_add(sio_room_t *room, sio_member_t *m)
{
    if (room->cap == 0 && room->n == 0) {
        room->one = m;
        room->n = 1;
        return;
    }
    if (room->cap == 0 || (room->n + 1) * 4 > room->cap * 3)
        set_resize(room, room->cap ? room->cap * 2 : 4);
    set_insert_raw(room->slots, room->cap - 1, m);
    room->n++;
}

static void set_remove(sio_room_t *room, sio_member_t *m)
{
    long i = set_find(room, m);
    if (i < 0)
        return;
    room->n--;
    if (room->cap == 0) {
        room->one = NULL;
        return;
    }
    probe_delete((void **)room->slots, room->cap - 1, (uint32_t)i, member_home);
    if (room->n <= 1) {
        /* back to the inline form: the room of a socket whose companions left */
        sio_member_t *last = NULL;
        for (uint32_t k = 0; k < room->cap && !last; k++)
            last = room->slots[k];
        free(room->slots);
        room->cap = 0;
        room->one = last;
    } else if (room->cap > 8 && room->n * 8 < room->cap) {
        set_resize(room, room->cap / 2);
    }
}

/* ------------------------------------------------------------------ room table */

static long tab_find(const sio_rooms_t *r, slice_t name, uint32_t h)
{
    if (!r->tab_cap)
        return -1;
    uint32_t mask = r->tab_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        const sio_room_t *room = r->tab[i];
        if (!room)
            return -1;
        if (room->hash == h && room->len == name.len && memcmp(room->name, name.ptr, name.len) == 0)
            return (long)i;
    }
}

static sio_room_t *room_lookup(const sio_rooms_t *r, slice_t name)
{
    long i = tab_find(r, name, hash_name(r->seed, name));
    return i < 0 ? NULL : r->tab[i];
}

static void tab_insert_raw(sio_room_t **tab, uint32_t mask, sio_room_t *room)
{
    uint32_t i = room->hash & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = room;
}

static void tab_grow(sio_rooms_t *r)
{
    uint32_t cap = r->tab_cap ? r->tab_cap * 2 : 16;
    sio_room_t **tab = xcalloc(cap, sizeof *tab);
    for (uint32_t k = 0; k < r->tab_cap; k++) {
        if (r->tab[k])
            tab_insert_raw(tab, cap - 1, r->tab[k]);
    }
    free(r->tab);
    r->tab = tab;
    r->tab_cap = cap;
}

static sio_room_t *room_create(sio_rooms_t *r, slice_t name, uint32_t h)
{
    if ((r->nrooms + 1) * 4 > r->tab_cap * 3)
        tab_grow(r);
    sio_room_t *room = xmalloc(sizeof *room + name.len);
    *room = (sio_room_t){.hash = h, .len = (uint32_t)name.len};
    if (name.len)
        memcpy(room->name, name.ptr, name.len);
    tab_insert_raw(r->tab, r->tab_cap - 1, room);
    r->nrooms++;
    return room;
}

static void room_delete(sio_rooms_t *r, sio_room_t *room)
{
    long i = tab_find(r, slice_make(room->name, room->len), room->hash);
    if (i >= 0)
        probe_delete((void **)r->tab, r->tab_cap - 1, (uint32_t)i, room_home);
    r->nrooms--;
    if (room->cap)
        free(room->slots);
    free(room);
}

/* ------------------------------------------------------------------ member room lists */

static inline sio_room_t **mrooms(sio_member_t *m)
{
    return m->_cap ? m->_arr : m->_inl;
}

static inline sio_room_t *const *mrooms_c(const sio_member_t *m)
{
    return m->_cap ? m->_arr : m->_inl;
}

static void mrooms_push(sio_member_t *m, sio_room_t *room)
{
    if (m->_cap == 0 && m->_n < SIO_MEMBER_INLINE_ROOMS) {
        m->_inl[m->_n++] = room;
        return;
    }
    if (m->_cap == 0) {
        sio_room_t **arr = xmalloc(8 * sizeof *arr);
        memcpy(arr, m->_inl, sizeof m->_inl);
        m->_arr = arr;
        m->_cap = 8;
    } else if (m->_n == m->_cap) {
        uint32_t cap = (uint32_t)m->_cap * 2;
        m->_arr = xrealloc(m->_arr, cap * sizeof *m->_arr);
        m->_cap = (uint16_t)(cap > UINT16_MAX ? UINT16_MAX : cap);
    }
    m->_arr[m->_n++] = room;
}

static void mrooms_remove(sio_member_t *m, sio_room_t *room)
{
    sio_room_t **v = mrooms(m);
    for (uint16_t k = 0; k < m->_n; k++) {
        if (v[k] != room)
            continue;
        v[k] = v[--m->_n];
        break;
    }
    if (m->_cap && m->_n <= SIO_MEMBER_INLINE_ROOMS) {
        sio_room_t **arr = m->_arr;
        memcpy(m->_inl, arr, m->_n * sizeof *arr);
        free(arr);
        m->_cap = 0;
    }
}

static void mrooms_clear(sio_member_t *m)
{
    if (m->_cap)
        free(m->_arr);
    m->_cap = 0;
    m->_n = 0;
}

/* ------------------------------------------------------------------ public */

sio_rooms_t *sio_rooms_new(void)
{
    sio_rooms_t *r = xcalloc(1, sizeof *r);
    r->seed = hash_ptr(r);
    return r;
}

void sio_rooms_free(sio_rooms_t *r)
{
    if (!r)
        return;
    for (uint32_t k = 0; k < r->nall; k++) {
        mrooms_clear(r->all[k]);
        r->all[k]->_idx = UINT32_MAX;
    }
    for (uint32_t k = 0; k < r->tab_cap; k++) {
        sio_room_t *room = r->tab[k];
        if (!room)
            continue;
        if (room->cap)
            free(room->slots);
        free(room);
    }
    free(r->tab);
    free(r->all);
    free(r);
}

void sio_member_init(sio_member_t *m)
{
    memset(m, 0, sizeof *m);
    m->_idx = UINT32_MAX;
}

void sio_rooms_attach(sio_rooms_t *r, sio_member_t *m)
{
    if (r->nall == r->all_cap) {
        r->all_cap = r->all_cap ? r->all_cap * 2 : 16;
        r->all = xrealloc(r->all, r->all_cap * sizeof *r->all);
    }
    m->_idx = r->nall;
    m->_gen = 0;
    r->all[r->nall++] = m;
}

void sio_rooms_detach(sio_rooms_t *r, sio_member_t *m)
{
    if (!sio_member_is_attached(m))
        return;
    sio_rooms_leave_all(r, m);
    uint32_t i = m->_idx;
    sio_member_t *last = r->all[--r->nall];
    r->all[i] = last;
    last->_idx = i;
    m->_idx = UINT32_MAX;
}

int sio_rooms_join(sio_rooms_t *r, sio_member_t *m, slice_t name)
{
    if (name.len > SIO_ROOM_NAME_MAX || !sio_member_is_attached(m) || m->_n == UINT16_MAX)
        return -1;
    uint32_t h = hash_name(r->seed, name);
    long i = tab_find(r, name, h);
    sio_room_t *room = i >= 0 ? r->tab[i] : room_create(r, name, h);
    if (i >= 0 && set_find(room, m) >= 0)
        return 0;
    set_add(room, m);
    mrooms_push(m, room);
    return 1;
}

int sio_rooms_leave(sio_rooms_t *r, sio_member_t *m, slice_t name)
{
    sio_room_t *room = room_lookup(r, name);
    if (!room || set_find(room, m) < 0)
        return 0;
    set_remove(room, m);
    mrooms_remove(m, room);
    if (room->n == 0)
        room_delete(r, room);
    return 1;
}

void sio_rooms_leave_all(sio_rooms_t *r, sio_member_t *m)
{
    sio_room_t **v = mrooms(m);
    for (uint16_t k = 0; k < m->_n; k++) {
        sio_room_t *room = v[k];
        set_remove(room, m);
        if (room->n == 0)
            room_delete(r, room);
    }
    mrooms_clear(m);
}

bool sio_rooms_has(const sio_rooms_t *r, const sio_member_t *m, slice_t name)
{
    const sio_room_t *room = room_lookup(r, name);
    return room && set_find(room, m) >= 0;
}

size_t sio_rooms_count(const sio_rooms_t *r, slice_t name)
{
    const sio_room_t *room = room_lookup(r, name);
    return room ? room->n : 0;
}

size_t sio_rooms_room_count(const sio_rooms_t *r)
{
    return r->nrooms;
}

size_t sio_rooms_member_count(const sio_rooms_t *r)
{
    return r->nall;
}

slice_t sio_member_room(const sio_member_t *m, size_t i)
{
    if (i >= m->_n)
        return slice_make(NULL, 0);
    const sio_room_t *room = mrooms_c(m)[i];
    return slice_make(room->name, room->len);
}

void sio_rooms_list(const sio_rooms_t *r, sio_rooms_room_cb cb, void *arg)
{
    for (uint32_t k = 0; k < r->tab_cap; k++) {
        const sio_room_t *room = r->tab[k];
        if (room)
            cb(arg, slice_make(room->name, room->len), room->n);
    }
}

/* ------------------------------------------------------------------ broadcast walk */

/* A fresh generation number. On wrap-around every attached member's stamp is cleared so
 * that no stale stamp can equal a new generation. */
static uint32_t next_gen(sio_rooms_t *r)
{
    if (++r->gen == 0) {
        for (uint32_t k = 0; k < r->nall; k++)
            r->all[k]->_gen = 0;
        r->gen = 1;
    }
    return r->gen;
}

/* The members of a room as an array to scan: the inline one or the set's slots (with
 * NULL holes). */
static sio_member_t **room_slots(sio_room_t *room, uint32_t *n)
{
    *n = room->cap ? room->cap : 1;
    return room->cap ? room->slots : &room->one;
}

static void stamp_room(sio_room_t *room, uint32_t gen)
{
    uint32_t n;
    sio_member_t **s = room_slots(room, &n);
    for (uint32_t k = 0; k < n; k++) {
        if (s[k])
            s[k]->_gen = gen;
    }
}

static size_t visit_room(sio_room_t *room, uint32_t gen, sio_rooms_visit_cb cb, void *arg)
{
    size_t visited = 0;
    uint32_t n;
    sio_member_t **s = room_slots(room, &n);
    for (uint32_t k = 0; k < n; k++) {
        sio_member_t *m = s[k];
        if (!m || m->_gen == gen)
            continue;
        m->_gen = gen;
        cb(arg, m);
        visited++;
    }
    return visited;
}

size_t sio_rooms_foreach(sio_rooms_t *r, const sio_rooms_filter_t *f, sio_rooms_visit_cb cb,
                         void *arg)
{
    static const sio_rooms_filter_t everyone = {0};
    if (!f)
        f = &everyone;
    uint32_t gen = next_gen(r);
    for (size_t k = 0; k < f->n_except; k++) {
        sio_room_t *room = room_lookup(r, f->except[k]);
        if (room)
            stamp_room(room, gen);
    }
    size_t visited = 0;
    if (f->n_rooms == 0) {
        for (uint32_t k = 0; k < r->nall; k++) {
            sio_member_t *m = r->all[k];
            if (m->_gen == gen)
                continue;
            m->_gen = gen;
            cb(arg, m);
            visited++;
        }
        return visited;
    }
    for (size_t k = 0; k < f->n_rooms; k++) {
        sio_room_t *room = room_lookup(r, f->rooms[k]);
        if (room)
            visited += visit_room(room, gen, cb, arg);
    }
    return visited;
}

static void collect_one(void *arg, sio_member_t *m)
{
    buf_append((buf_t *)arg, &m, sizeof m);
}

size_t sio_rooms_collect(sio_rooms_t *r, const sio_rooms_filter_t *f, buf_t *out)
{
    return sio_rooms_foreach(r, f, collect_one, out);
}
