// C helpers for the package's Swift modules: the few Linux calls Swift cannot
// reach through Glibc's module (GNU extensions that need _GNU_SOURCE, and
// macros such as CPU_COUNT). Internal to the package; not an API.
#ifndef DEFERDROP_SHIMS_H
#define DEFERDROP_SHIMS_H

#include <stdint.h>

/// Names the calling thread. Linux keeps at most 15 bytes; returns 0 or an errno value.
int _deferdrop_set_current_thread_name(const char *name);

/// The number of processors the calling thread may run on (its CPU affinity
/// mask, which `taskset` and container cpusets narrow), or the number online
/// if the mask cannot be read. At least 1.
long _deferdrop_active_processor_count(void);

/// glibc malloc's view of the heap, from `mallinfo2()`: the bytes in use in
/// allocations (`uordblks + hblkhd`) and the bytes obtained from the system
/// (`arena + hblkhd`). Returns 0, or -1 where the C library is not glibc 2.33+.
int _deferdrop_glibc_malloc_info(unsigned long long *in_use, unsigned long long *obtained);

/// glibc's version, such as "2.36", or NULL where the C library is not glibc.
const char *_deferdrop_glibc_version(void);

/// The kernel's id of the calling thread (`gettid()`): its entry in
/// `/proc/self/task`.
int _deferdrop_current_thread_id(void);

#include <semaphore.h>
#include <time.h>

#ifndef CLOCK_MONOTONIC_COARSE
#define CLOCK_MONOTONIC_COARSE 6
#endif

/// The kernel's coarse monotonic clock, in nanoseconds: a read of a time the
/// kernel updates once per tick (every 1 to 4 ms), a few nanoseconds through
/// the vDSO where the precise clock costs 20 to 30. For a time bound measured
/// in milliseconds, checked on a producer's hand-off.
static inline unsigned long long _deferdrop_coarse_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec;
}

/// Scheduling classes a worker thread can run in (see `DropPriority`).
enum {
    DEFERDROP_SCHED_NORMAL = 0,  ///< SCHED_OTHER
    DEFERDROP_SCHED_BATCH = 1,   ///< SCHED_BATCH: never preempts on wake-up
    DEFERDROP_SCHED_IDLE = 2,    ///< SCHED_IDLE: the lowest weight the kernel has
};

/// Moves the calling thread (only it, not the process) to one of the classes
/// above, at nice 0 where the class has a nice value. Returns 0 or an errno value.
int _deferdrop_set_current_thread_scheduling(int kind);

/// Waits on `semaphore` for at most `timeout_ns` nanoseconds of the monotonic
/// clock, retrying on EINTR. Returns 0 once it took the semaphore, or ETIMEDOUT.
int _deferdrop_semaphore_wait_for(sem_t *semaphore, unsigned long long timeout_ns);

/// One drain of a queue's head by a producer that found the worker behind,
/// on that producer's stack: drains nest when a destructor being drained hands
/// a value to another queue that is behind too.
typedef struct _deferdrop_drain {
    const void *queue;
    const struct _deferdrop_drain *outer;
} _deferdrop_drain;

/// The calling thread's part in DeferDrop's workers: the one thread-local
/// that says which worker the thread is, if any, and which queues it drains.
/// - `worker_queue`: the queue whose worker the thread is (its address, never
///   dereferenced here), and `worker_state` that worker's state (an
///   unretained pointer to an object the thread owns); both NULL on every
///   other thread. Set by a worker's thread for its whole life.
/// - `drain`: the innermost drain the thread runs as a producer, NULL if none.
/// In the child of a `fork()` the forking thread is no worker and drains
/// nothing: `_deferdrop_forget_thread_role()`.
typedef struct _deferdrop_thread_role {
    const void *worker_queue;
    void *worker_state;
    const _deferdrop_drain *drain;
} _deferdrop_thread_role;

extern __thread _deferdrop_thread_role _deferdrop_tls_role;

/// The queue whose worker the calling thread is, or NULL. Inline, so that a
/// hand-off pays one thread-local load to ask whether it comes from its own
/// worker's thread.
static inline const void *_deferdrop_worker_thread_queue(void) {
    return _deferdrop_tls_role.worker_queue;
}

/// The calling thread's worker state, or NULL on a thread that is no worker's.
static inline void *_deferdrop_worker_thread_state(void) {
    return _deferdrop_tls_role.worker_state;
}

/// Makes the calling thread the worker of `queue`, with `state`; NULL, NULL
/// when the worker stops.
static inline void _deferdrop_set_worker_thread(const void *queue, void *state) {
    _deferdrop_tls_role.worker_queue = queue;
    _deferdrop_tls_role.worker_state = state;
}

/// The calling thread begins draining `queue`: `drain` (on the caller's
/// stack, alive until `_deferdrop_end_drain`) becomes its innermost drain.
static inline void _deferdrop_begin_drain(_deferdrop_drain *drain, const void *queue) {
    drain->queue = queue;
    drain->outer = _deferdrop_tls_role.drain;
    _deferdrop_tls_role.drain = drain;
}

/// The calling thread's innermost drain, `drain`, is over.
static inline void _deferdrop_end_drain(const _deferdrop_drain *drain) {
    _deferdrop_tls_role.drain = drain->outer;
}

/// Whether the calling thread is draining `queue`, at any depth.
static inline int _deferdrop_is_draining(const void *queue) {
    for (const _deferdrop_drain *drain = _deferdrop_tls_role.drain; drain; drain = drain->outer) {
        if (drain->queue == queue) return 1;
    }
    return 0;
}

/// In the child of a `fork()`: the forking thread is no worker there (the
/// child's workers start afresh) and drains nothing.
static inline void _deferdrop_forget_thread_role(void) {
    _deferdrop_tls_role = (_deferdrop_thread_role){0};
}

/// Whether the Swift object at `object` has a strong reference count of
/// exactly one: the Swift runtime's test behind `isKnownUniquelyReferenced`,
/// on an address, so that the caller holds no reference of its own while it
/// asks (an unoptimised build holds a copy across any call that takes one).
/// Immortal objects answer 0.
int _deferdrop_object_is_uniquely_referenced(const void *object);

/// Whether the Swift object at `object` is immortal: one the compiler laid
/// out statically (a constant array, the buffer all empty collections
/// share), which no release ever destroys. Reads the object's reference
/// counts, without a lock.
int _deferdrop_object_is_immortal(const void *object);

/// Whether a value of the Swift type whose metadata is at `metadata` is,
/// in memory, exactly one strong reference whose count tells whether the
/// value is referenced elsewhere: a class instance, a class-bound
/// existential (`AnyObject`, `any P & AnyObject`), or an `Array`,
/// `ContiguousArray`, `Dictionary` or `Set` (one reference to its buffer).
/// Reads the metadata only: no call into the Swift runtime, so no lock of
/// its own that a `fork()` could have left held.
int _deferdrop_type_is_one_counted_reference(const void *metadata);

/// The calling thread's pin to the `ShardedDropPool` it handed a value to
/// last: the pool's identity (never reused, unlike an address), the shard,
/// and that shard's worker, unretained: the pool owns its workers for its
/// whole life, and only a hand-off to that pool, which its caller keeps
/// alive, reads it. A one-entry cache in front of the thread's table of
/// pins (`_ThreadPins`): a pool's hand-off reads it and nothing else.
typedef struct _deferdrop_pin {
    uint64_t pool;
    int64_t shard;
    void *worker;
} _deferdrop_pin;

extern __thread _deferdrop_pin _deferdrop_tls_pin;

/// The calling thread's shard's worker in `pool`, or NULL if `pool` is not
/// the pool this thread used last.
static inline void *_deferdrop_pinned_worker(uint64_t pool) {
    return _deferdrop_tls_pin.pool == pool ? _deferdrop_tls_pin.worker : (void *)0;
}

/// The calling thread's shard in `pool`, or -1 if `pool` is not the pool
/// this thread used last.
static inline int64_t _deferdrop_pinned_shard(uint64_t pool) {
    return _deferdrop_tls_pin.pool == pool ? _deferdrop_tls_pin.shard : -1;
}

/// Caches the calling thread's pin to `pool`; pool 0 forgets it.
static inline void _deferdrop_set_pin(uint64_t pool, int64_t shard, void *worker) {
    _deferdrop_tls_pin = (_deferdrop_pin){ .pool = pool, .shard = shard, .worker = worker };
}

#include "_DeferDropLane.h"

#endif
