// A lane: one producer thread's queue to one worker. Single producer (the
// thread that owns it); whoever holds the worker's lock collects values,
// which the queue then names by their positions in the lane; whoever holds
// the head of the worker's queue reads them from their slots and destroys
// them. The values stay in the chunks the producer wrote until then.
//
// Why in C: the hand-off's hot path is a few plain stores and a release
// store here, with the memory orders written out and nothing else (no
// reference counting, no exclusivity checks), inlined into Swift by the
// importer. The protocol around it (Verification/handoff.pml) is the
// queue's, in Swift.
//
// Values are opaque pointers: +1 references the Swift side passes in and
// takes back. A lane never looks at them. A lane orders its own thread's
// values and nothing else: the producers share no line but the chunk pool's,
// at most once a chunk.
#ifndef DEFERDROP_LANE_H
#define DEFERDROP_LANE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_DeferDropPlatform.h"

/// Values per chunk: as many as keep a chunk, its header included, below
/// glibc's large requests, whose malloc consolidates the fast bins that the
/// worker's frees of small objects keep full: the producer, which allocates
/// the chunks a backlog holds, would pay for it.
#define DEFERDROP_LANE_CHUNK_CAPACITY 123

typedef struct _deferdrop_lane_chunk {
    /// The next chunk, once the producer has filled this one; written with
    /// release before any value in it is published.
    struct _deferdrop_lane_chunk *next;
    /// The position of the value in the first slot: set by the producer
    /// before the chunk is linked.
    uint64_t first;
    void *slots[DEFERDROP_LANE_CHUNK_CAPACITY];
} _deferdrop_lane_chunk;

/// Emptied chunks, kept for any lane's next chunk, under a mutex: the queues'
/// lanes share one pool per process (`_deferdrop_shared_chunk_pool`). So the
/// reader seldom frees a chunk its producer allocated, and a burst's chunks serve
/// the next burst. Opaque.
typedef struct _deferdrop_chunk_pool _deferdrop_chunk_pool;

/// The most chunks the shared pool keeps, which bounds the memory it holds: a
/// chunk emptied while the pool is full, or its lock taken, is freed.
#define DEFERDROP_CHUNK_POOL_LIMIT 8192

/// The most chunks a pool keeps once trimmed (`_deferdrop_chunk_pool_trim`).
#define DEFERDROP_CHUNK_POOL_IDLE_LIMIT 64

typedef struct _deferdrop_lane {
    // The producer's line: only the owning thread touches it.
    _deferdrop_lane_chunk *write_chunk;
    uint64_t write_index;
    uint64_t written;
    /// With a time bound, the schedule of the owning thread's clock reads,
    /// kept by Swift (`_Lane.isClockDue`): hand-offs left before the next
    /// read, the current gap between reads, and what the last read found.
    uint64_t clock_countdown;
    uint64_t clock_gap;
    uint64_t clock_last;
    /// Whether the owning thread appends without the worker's lock: set
    /// once, by the owning thread while it holds that lock, before its first
    /// such append; read by whoever holds the lock
    /// (`_deferdrop_lane_appends_without_lock`).
    uint64_t appends_without_lock;
    char producer_padding[DEFERDROP_CACHE_LINE - 7 * 8];
    /// Values published in all: the producer's release store after each
    /// value; the collector's acquire load. On a line of its own, so that the
    /// collector's reads of it do not take the producer's line away.
    uint64_t published;
    /// The Swift object that owns this lane, unretained: for the owning
    /// thread, which holds that object for as long as the lane lives.
    void *owner;
    char published_padding[DEFERDROP_CACHE_LINE - 2 * 8];
    /// A chunk the reader has emptied, kept for the producer's next one, or
    /// NULL: exchanged once per chunk by either side, so that a steady
    /// stream allocates nothing (`_deferdrop_lane_grow`,
    /// `_deferdrop_lane_next_chunk`). On a line of its own: an exchange
    /// takes the line, which must not be the one the producer publishes on.
    _deferdrop_lane_chunk *spare;
    /// Where the reader puts the chunk the spare replaces, and where the
    /// producer takes a chunk when there is no spare. Set at creation.
    _deferdrop_chunk_pool *pool;
    char spare_padding[DEFERDROP_CACHE_LINE - 2 * 8];
    // The reader's line: whoever holds the head of the worker's queue (the
    // worker, or a producer draining it), handed from one to the next under
    // the worker's lock.
    //
    // The reader's position is `taken`, in `read_chunk`: each step of the
    // reader is one store, so that a fork() child, which inherits what a
    // thread of the parent was doing, finds them consistent.
    _deferdrop_lane_chunk *read_chunk;
    /// Values taken in all: the position of the next value to read.
    uint64_t taken;
    /// Values collected in all: the positions below it are in the worker's
    /// queue. Only whoever holds the worker's lock reads and writes it.
    uint64_t collected;
    /// The block this lane sits in, for `free` (see `_deferdrop_lane_create`).
    void *allocation;
    char reader_padding[DEFERDROP_CACHE_LINE - 4 * 8];
} _deferdrop_lane;

/// A new, empty lane whose chunks come from and go back to `pool`, which must
/// outlive it, or NULL if memory is exhausted. Its `owner` is the caller's to set.
_deferdrop_lane *_deferdrop_lane_create(_deferdrop_chunk_pool *pool);

/// Frees a lane whose every published value has been collected, and taken
/// by its reader (or, in a fork child, by a thread of the parent). Its chunks
/// go to its pool.
void _deferdrop_lane_destroy(_deferdrop_lane *lane);

/// The pool every queue's lanes share, keeping at most
/// `DEFERDROP_CHUNK_POOL_LIMIT` chunks.
_deferdrop_chunk_pool *_deferdrop_shared_chunk_pool(void);

/// A pool of its own, keeping at most `limit` chunks, or NULL if memory is
/// exhausted: for the tests. The fork handlers cover only the shared pool.
_deferdrop_chunk_pool *_deferdrop_chunk_pool_create(uint64_t limit);

/// Frees the chunks `pool` keeps beyond `DEFERDROP_CHUNK_POOL_IDLE_LIMIT`, unless
/// its lock is taken: a worker calls it for the shared pool before it sleeps, so
/// that the memory of a burst goes back once the burst is destroyed, and not on
/// anyone's hand-off.
void _deferdrop_chunk_pool_trim(_deferdrop_chunk_pool *pool);

/// Frees a pool of `_deferdrop_chunk_pool_create` and its chunks, once no
/// lane uses it.
void _deferdrop_chunk_pool_destroy(_deferdrop_chunk_pool *pool);

/// How many chunks `pool` keeps now, counted along its list: UINT64_MAX if that
/// is not the count it keeps (a broken list).
uint64_t _deferdrop_chunk_pool_count(_deferdrop_chunk_pool *pool);

/// The fork handlers' part for the shared pool: its mutex, a leaf that a
/// thread may take while it holds any other lock, is taken after every other
/// lock, and made new in the child, where the list it guards is whole.
void _deferdrop_chunk_pool_lock_for_fork(void);
void _deferdrop_chunk_pool_unlock_after_fork_in_parent(void);
void _deferdrop_chunk_pool_reinitialize_in_fork_child(void);

/// For the producer: links a new chunk after a full one. Out of line: once
/// every chunk. Returns 0 if memory is exhausted (the value is then not
/// appended).
int _deferdrop_lane_grow(_deferdrop_lane *lane);

/// For the reader: moves on to the next chunk, leaving the one it has
/// emptied as the producer's spare (and putting the spare it replaces into
/// the pool).
/// Out of line: once every chunk.
void _deferdrop_lane_next_chunk(_deferdrop_lane *lane);

/// For the reader: moves past the values before `position` without taking
/// them. Only a fork child needs it: the values a thread of the parent had
/// taken into its batch are that thread's.
void _deferdrop_lane_skip_to(_deferdrop_lane *lane, uint64_t position);

/// For the producer: makes room for the next value. Returns 0 only if a new
/// chunk was needed and memory is exhausted.
static inline int _deferdrop_lane_reserve(_deferdrop_lane *lane) {
    if (__builtin_expect(lane->write_index == DEFERDROP_LANE_CHUNK_CAPACITY, 0)) {
        return _deferdrop_lane_grow(lane);
    }
    return 1;
}

/// For the producer, after `_deferdrop_lane_reserve` returned 1: appends
/// `value` and publishes it.
static inline void _deferdrop_lane_push(_deferdrop_lane *lane, void *value) {
    lane->write_chunk->slots[lane->write_index] = value;
    lane->write_index += 1;
    lane->written += 1;
    __atomic_store_n(&lane->published, lane->written, __ATOMIC_RELEASE);
}

/// Whether the owning thread may append to `lane` without the worker's lock:
/// for the owning thread, or whoever holds the lock.
static inline int _deferdrop_lane_appends_without_lock(const _deferdrop_lane *lane) {
    return lane->appends_without_lock != 0;
}

/// For the owning thread, holding the worker's lock, before its first append
/// without it.
static inline void _deferdrop_lane_allow_appends_without_lock(_deferdrop_lane *lane) {
    lane->appends_without_lock = 1;
}

/// For whoever holds the worker's lock: how many values are published and
/// not yet collected.
static inline uint64_t _deferdrop_lane_uncollected(const _deferdrop_lane *lane) {
    return __atomic_load_n(&lane->published, __ATOMIC_ACQUIRE) - lane->collected;
}

/// For whoever holds the worker's lock: collects every value published, and
/// returns the position after the last (the first is `collected` before).
static inline uint64_t _deferdrop_lane_collect(_deferdrop_lane *lane) {
    lane->collected = __atomic_load_n(&lane->published, __ATOMIC_ACQUIRE);
    return lane->collected;
}

/// For the reader, holding the head of the queue, before it takes the
/// values from `position` on.
static inline void _deferdrop_lane_seek(_deferdrop_lane *lane, uint64_t position) {
    if (__builtin_expect(lane->taken != position, 0)) _deferdrop_lane_skip_to(lane, position);
}

/// For the reader: takes the next value, a +1 reference, from its slot.
static inline void *_deferdrop_lane_take_next(_deferdrop_lane *lane) {
    uint64_t index = lane->taken - lane->read_chunk->first;
    if (__builtin_expect(index == DEFERDROP_LANE_CHUNK_CAPACITY, 0)) {
        _deferdrop_lane_next_chunk(lane);
        index = 0;
    }
    void *value = lane->read_chunk->slots[index];
    lane->taken += 1;
    return value;
}

/// The calling thread's lane to the queue it last handed a value to, and
/// that queue's identity: a one-entry cache in front of the Swift side's
/// table of the thread's lanes (one per queue).
extern __thread uint64_t _deferdrop_tls_lane_queue;
extern __thread _deferdrop_lane *_deferdrop_tls_lane;

static inline _deferdrop_lane *_deferdrop_current_lane(uint64_t queue) {
    return _deferdrop_tls_lane_queue == queue ? _deferdrop_tls_lane : (_deferdrop_lane *)0;
}

static inline void _deferdrop_set_current_lane(uint64_t queue, _deferdrop_lane *lane) {
    _deferdrop_tls_lane_queue = queue;
    _deferdrop_tls_lane = lane;
}

#endif
