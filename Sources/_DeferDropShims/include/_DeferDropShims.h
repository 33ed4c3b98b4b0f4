// The C side of the package's Swift modules: the platform layer
// (`_DeferDropPlatform.h`), the thread-locals a hand-off reads inline (below),
// and the lanes (`_DeferDropLane.h`). Internal to the package; not an API.
#ifndef DEFERDROP_SHIMS_H
#define DEFERDROP_SHIMS_H

#include <stdint.h>

#include "_DeferDropPlatform.h"

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
/// In the child of a `fork()` the forking thread keeps its role: it goes on
/// as the worker or the drain it was.
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
