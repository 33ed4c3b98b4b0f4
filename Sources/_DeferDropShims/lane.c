#include "platform.h"
#include "_DeferDropLane.h"

// The pool of emptied chunks. The reader puts a chunk there rather than free()
// it, so that, while the pool has room, it frees nothing its producer
// allocated: with glibc, such a free goes to the producer's arena and contends
// with the producer's own allocations. A lane's next chunk comes from the pool
// before malloc(), so a burst reuses the last one's memory. Every field is under
// `lock`, a leaf: nothing else is taken while it is held. A plain pthread mutex,
// not the layer's: it is initialised statically, so the shared pool needs no
// first-use check, and a hand-off tries it at most once a chunk.
struct _deferdrop_chunk_pool {
    pthread_mutex_t lock;
    /// Linked through `next`.
    _deferdrop_lane_chunk *chunks;
    uint64_t count;
    uint64_t limit;
};

/// On a cache line of its own: every producer and reader may take its lock.
static _Alignas(DEFERDROP_CACHE_LINE) _deferdrop_chunk_pool shared_pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .chunks = 0, .count = 0, .limit = DEFERDROP_CHUNK_POOL_LIMIT,
};

static void free_chunks(_deferdrop_lane_chunk *chunks) {
    while (chunks) {
        _deferdrop_lane_chunk *next = chunks->next;
        free(chunks);
        chunks = next;
    }
}

// Only the fork handlers and the tests wait for the pool's lock: a chunk that
// cannot go into the pool at once is freed, one that cannot come from it at once
// is allocated, and a trim that finds the lock taken leaves the pool to the next,
// so a thread preempted while it holds the lock holds up nobody.

/// Keeps `chunk`, or frees it if the pool is full or busy; NULL is kept as nothing.
static void pool_put(_deferdrop_chunk_pool *pool, _deferdrop_lane_chunk *chunk) {
    if (!chunk) return;
    if (pthread_mutex_trylock(&pool->lock) == 0) {
        if (pool->count < pool->limit) {
            chunk->next = pool->chunks;
            pool->chunks = chunk;
            pool->count += 1;
            chunk = 0;
        }
        pthread_mutex_unlock(&pool->lock);
    }
    free(chunk);
}

/// A chunk from the pool, else a new one, else NULL (memory exhausted).
static _deferdrop_lane_chunk *pool_take(_deferdrop_chunk_pool *pool) {
    _deferdrop_lane_chunk *chunk = 0;
    if (pthread_mutex_trylock(&pool->lock) == 0) {
        chunk = pool->chunks;
        if (chunk) {
            pool->chunks = chunk->next;
            pool->count -= 1;
        }
        pthread_mutex_unlock(&pool->lock);
    }
    if (!chunk) chunk = malloc(sizeof *chunk);
    if (chunk) {
        chunk->next = 0;
        chunk->first = 0;
    }
    return chunk;
}

_deferdrop_chunk_pool *_deferdrop_shared_chunk_pool(void) {
    return &shared_pool;
}

_deferdrop_chunk_pool *_deferdrop_chunk_pool_create(uint64_t limit) {
    _deferdrop_chunk_pool *pool = malloc(sizeof *pool);
    if (!pool) return 0;
    *pool = (_deferdrop_chunk_pool){ .chunks = 0, .count = 0, .limit = limit };
    pthread_mutex_init(&pool->lock, 0);
    return pool;
}

void _deferdrop_chunk_pool_destroy(_deferdrop_chunk_pool *pool) {
    free_chunks(pool->chunks);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

uint64_t _deferdrop_chunk_pool_count(_deferdrop_chunk_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    uint64_t linked = 0;
    for (_deferdrop_lane_chunk *chunk = pool->chunks; chunk; chunk = chunk->next) linked += 1;
    uint64_t count = linked == pool->count ? linked : UINT64_MAX;
    pthread_mutex_unlock(&pool->lock);
    return count;
}

void _deferdrop_chunk_pool_trim(_deferdrop_chunk_pool *pool) {
    _deferdrop_lane_chunk *surplus = 0;
    if (pthread_mutex_trylock(&pool->lock) != 0) return;
    if (pool->count > DEFERDROP_CHUNK_POOL_IDLE_LIMIT) {
        _deferdrop_lane_chunk *last_kept = pool->chunks;
        for (uint64_t kept = 1; kept < DEFERDROP_CHUNK_POOL_IDLE_LIMIT; kept++) last_kept = last_kept->next;
        surplus = last_kept->next;
        last_kept->next = 0;
        pool->count = DEFERDROP_CHUNK_POOL_IDLE_LIMIT;
    }
    pthread_mutex_unlock(&pool->lock);
    free_chunks(surplus);
}

void _deferdrop_chunk_pool_lock_for_fork(void) {
    pthread_mutex_lock(&shared_pool.lock);
}

void _deferdrop_chunk_pool_unlock_after_fork_in_parent(void) {
    pthread_mutex_unlock(&shared_pool.lock);
}

void _deferdrop_chunk_pool_reinitialize_in_fork_child(void) {
    // The list is whole: the prepare handler held the lock across the fork.
    pthread_mutex_init(&shared_pool.lock, 0);
}

_deferdrop_lane *_deferdrop_lane_create(_deferdrop_chunk_pool *pool) {
    // Aligned to a cache line by hand inside a plain malloc() block, not by
    // aligned_alloc(): a malloc interposer that looks for its header before
    // every pointer given to free() (ordo-one's, under the benchmarks) reads
    // the page before an aligned block that starts a page, and crashed the
    // benchmarks where that page was not mapped.
    char *allocation = malloc(sizeof(_deferdrop_lane) + DEFERDROP_CACHE_LINE - 1);
    if (!allocation) return 0;
    uintptr_t aligned = ((uintptr_t)allocation + DEFERDROP_CACHE_LINE - 1) & ~(uintptr_t)(DEFERDROP_CACHE_LINE - 1);
    _deferdrop_lane *lane = (_deferdrop_lane *)aligned;
    _deferdrop_lane_chunk *chunk = pool_take(pool);
    if (!chunk) {
        free(allocation);
        return 0;
    }
    *lane = (_deferdrop_lane){ .write_chunk = chunk, .read_chunk = chunk, .pool = pool, .allocation = allocation };
    return lane;
}

void _deferdrop_lane_destroy(_deferdrop_lane *lane) {
    // The chunks from the one the reader is in to the producer's: one, unless
    // a fork child inherited values a thread of the parent had taken.
    for (_deferdrop_lane_chunk *chunk = lane->read_chunk; chunk;) {
        _deferdrop_lane_chunk *next = chunk->next;
        pool_put(lane->pool, chunk);
        chunk = next;
    }
    pool_put(lane->pool, lane->spare);
    free(lane->allocation);
}

void _deferdrop_lane_next_chunk(_deferdrop_lane *lane) {
    // A value past this chunk was published, so the producer linked the next.
    _deferdrop_lane_chunk *emptied = lane->read_chunk;
    lane->read_chunk = __atomic_load_n(&emptied->next, __ATOMIC_ACQUIRE);
    // Release: the producer writes the chunk's slots only after this.
    pool_put(lane->pool, __atomic_exchange_n(&lane->spare, emptied, __ATOMIC_RELEASE));
}

void _deferdrop_lane_skip_to(_deferdrop_lane *lane, uint64_t position) {
    while (lane->taken < position) {
        uint64_t end = lane->read_chunk->first + DEFERDROP_LANE_CHUNK_CAPACITY;
        if (lane->taken == end) {
            _deferdrop_lane_next_chunk(lane);
        } else {
            lane->taken = position < end ? position : end;
        }
    }
}

int _deferdrop_lane_grow(_deferdrop_lane *lane) {
    // The reader released the spare after its last read of it.
    _deferdrop_lane_chunk *chunk = __atomic_exchange_n(&lane->spare, 0, __ATOMIC_ACQUIRE);
    if (chunk) {
        chunk->next = 0;
    } else {
        chunk = pool_take(lane->pool);
        if (!chunk) return 0;
    }
    chunk->first = lane->written;
    __atomic_store_n(&lane->write_chunk->next, chunk, __ATOMIC_RELEASE);
    lane->write_chunk = chunk;
    lane->write_index = 0;
    return 1;
}
