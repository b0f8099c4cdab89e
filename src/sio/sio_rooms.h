/*
 * sio_rooms: the per-namespace room index, socket.io-adapter semantics (sio layer, pure).
 *
 * State: `rooms: room -> set(member)` and `member -> set(room)`. A member is a small
 * struct the socket EMBEDS (sio_member_t; get back to the socket with container_of), so
 * the index never allocates per socket for bookkeeping beyond its room memberships.
 *
 * Rooms are interned: each distinct name exists once per index, in one allocation that
 * holds the name bytes and the member set, and every member's room list points at it.
 * The membership count is the room's reference count: when the last member leaves the
 * room is deleted (socket.io-adapter deletes empty rooms), so there is no separate
 * ref/unref to get wrong.
 *
 *   index:   open-addressing table  name-hash -> sio_room*  (linear probing)
 *   room:    [hash|len|n|cap| members: 1 inline, or a probing set of sio_member*][name]
 *   member:  up to 3 room pointers inline (own id room + 2 rooms: no heap), else an array
 *
 * Memory for a socket in its own room + 2 shared rooms: the 40-byte embedded member, one
 * room of 24 bytes + its name (one malloc), about 1.5 index slots (8 bytes each), and
 * about 1.5 slots in each shared room's set: roughly 140 bytes with a 20-byte id.
 *
 * Broadcast iteration (sio_rooms_foreach) visits the union of the target rooms (all
 * attached members when none are given) minus every member of the except rooms, each
 * member at most once, without allocating: each call takes a fresh generation number,
 * stamps the excepted members with it first, then visits and stamps the targets, skipping
 * members already stamped.
 *
 * Ownership: the index owns its rooms; members are owned by the caller and borrowed by the
 * index from attach until detach. Room name slices passed in are borrowed for the call
 * (the index copies the bytes when it creates a room); names handed out point into the
 * index and stay valid while the room exists (until its last member leaves).
 * Threading: one loop thread; no locking. Not reentrant: callbacks of foreach/list must
 * not join, leave, attach or detach on the same index, nor start another foreach on it
 * (use sio_rooms_collect to act on the members afterwards).
 * Spec: socketio-protocol.md §2.6 (rooms, broadcast with rooms/except).
 */
#ifndef SIOC_SIO_ROOMS_H
#define SIOC_SIO_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

/** Longest room name accepted (bytes). */
#define SIO_ROOM_NAME_MAX 65535

/** Rooms a member holds without a heap array. */
#define SIO_MEMBER_INLINE_ROOMS 3

typedef struct sio_rooms sio_rooms_t; /* one per namespace; opaque */
typedef struct sio_room sio_room_t;   /* an interned room; opaque */

/**
 * The part of a socket the index works with. Embed it in the socket and initialise it
 * with sio_member_init; all fields are private.
 */
typedef struct sio_member {
    union {
        sio_room_t *_inl[SIO_MEMBER_INLINE_ROOMS]; /* rooms while _n <= inline capacity */
        sio_room_t **_arr;                         /* heap array of _cap rooms otherwise */
    };
    uint16_t _n;   /* rooms joined */
    uint16_t _cap; /* 0 = inline storage, else heap array capacity */
    uint32_t _gen; /* last broadcast generation that stamped this member */
    uint32_t _idx; /* position in the index's member list; UINT32_MAX when detached */
    uint32_t _pad;
} sio_member_t;

/** Room and except names for one broadcast (socket.io-adapter BroadcastOptions). */
typedef struct sio_rooms_filter {
    const slice_t *rooms; /* target rooms; n_rooms == 0 means every attached member */
    size_t n_rooms;
    const slice_t *except; /* members of these rooms are skipped */
    size_t n_except;
} sio_rooms_filter_t;

/** Called once per member selected by sio_rooms_foreach. Must not modify the index. */
typedef void (*sio_rooms_visit_cb)(void *arg, sio_member_t *m);

/** Called once per room by sio_rooms_list: its name (valid for the call) and size. */
typedef void (*sio_rooms_room_cb)(void *arg, slice_t name, size_t members);

/** A new empty index. Aborts on OOM (internal size). Free with sio_rooms_free. */
sio_rooms_t *sio_rooms_new(void);

/**
 * Frees the index and all its rooms. NULL-safe. Members still attached must still be valid
 * memory: they are reset to the detached, roomless state (their heap room arrays freed).
 */
void sio_rooms_free(sio_rooms_t *r);

/** Initialises a member: no rooms, not attached. */
void sio_member_init(sio_member_t *m);

/** Adds `m` (initialised, not attached anywhere) to the index's member list, so that
 *  broadcasts to everyone reach it. Aborts on OOM. */
void sio_rooms_attach(sio_rooms_t *r, sio_member_t *m);

/** Leaves all rooms and removes `m` from the member list (socket disconnect). `m` may be
 *  re-initialised or freed afterwards. No-op for a detached member. */
void sio_rooms_detach(sio_rooms_t *r, sio_member_t *m);

/** True when `m` is attached to some index. */
static inline bool sio_member_is_attached(const sio_member_t *m)
{
    return m->_idx != UINT32_MAX;
}

/**
 * Joins `m` (attached) to `room`, creating the room on first use. Returns 1 when joined,
 * 0 when already a member, -1 when the name is longer than SIO_ROOM_NAME_MAX or `m` is
 * not attached. Aborts on OOM.
 */
int sio_rooms_join(sio_rooms_t *r, sio_member_t *m, slice_t room);

/** Removes `m` from `room`, deleting the room when it becomes empty. Returns 1 when left,
 *  0 when `m` was not a member. */
int sio_rooms_leave(sio_rooms_t *r, sio_member_t *m, slice_t room);

/** Removes `m` from every room it is in (it stays attached). */
void sio_rooms_leave_all(sio_rooms_t *r, sio_member_t *m);

/** True when `m` is in `room`. */
bool sio_rooms_has(const sio_rooms_t *r, const sio_member_t *m, slice_t room);

/** Number of members of `room` (0 when it does not exist). */
size_t sio_rooms_count(const sio_rooms_t *r, slice_t room);

/** Number of rooms in the index. */
size_t sio_rooms_room_count(const sio_rooms_t *r);

/** Number of attached members. */
size_t sio_rooms_member_count(const sio_rooms_t *r);

/** Number of rooms `m` is in. */
static inline size_t sio_member_room_count(const sio_member_t *m)
{
    return m->_n;
}

/** The name of the i-th room of `m` (0 <= i < sio_member_room_count; join order, except
 *  that a leave moves the last room into the freed position). Valid while `m` is in it. */
slice_t sio_member_room(const sio_member_t *m, size_t i);

/** Calls `cb` for every room of the index (allRooms), in no particular order. */
void sio_rooms_list(const sio_rooms_t *r, sio_rooms_room_cb cb, void *arg);

/**
 * Calls `cb` once for each member selected by `f` (see sio_rooms_filter_t; NULL = every
 * attached member): the union of the target rooms minus every member of an except room,
 * each member at most once. Unknown room names are simply empty. Allocates nothing.
 * Returns the number of members visited.
 */
size_t sio_rooms_foreach(sio_rooms_t *r, const sio_rooms_filter_t *f, sio_rooms_visit_cb cb,
                         void *arg);

/**
 * Like sio_rooms_foreach, but appends the selected `sio_member_t *` pointers to `out`
 * (a snapshot the caller may then act on: socketsJoin/Leave, disconnectSockets, which
 * modify the index). Returns the number appended. Aborts on OOM.
 */
size_t sio_rooms_collect(sio_rooms_t *r, const sio_rooms_filter_t *f, buf_t *out);

#endif
