#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#include <sys/single_threaded.h>
#endif
#include "_DeferDropLane.h"

int _deferdrop_sleeper_fence_set_up(void) {
#ifdef __NR_membarrier
    // DEFERDROP_PRODUCER_FENCE=1 keeps the fence on the producers' side, for
    // comparing the two and for tests of the fallback.
    const char *forced = getenv("DEFERDROP_PRODUCER_FENCE");
    if (forced && forced[0] == '1') return 0;
    long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return 0;
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return 0;
    return 1;
#else
    return 0;
#endif
}

int _deferdrop_process_is_single_threaded(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    return __libc_single_threaded;
#else
    return 0;
#endif
}

int _deferdrop_sleeper_fence(void) {
#ifdef __NR_membarrier
    // Registered for the process (a fork child inherits it), so this
    // cannot fail with EPERM; EINTR cannot happen (it does not sleep).
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) return errno;
#endif
    return 0;
}

__thread uint64_t _deferdrop_tls_lane_queue;
__thread _deferdrop_lane *_deferdrop_tls_lane;

static _deferdrop_lane_chunk *new_chunk(void) {
    _deferdrop_lane_chunk *chunk = malloc(sizeof *chunk);
    if (chunk) chunk->next = 0;
    return chunk;
}

_deferdrop_lane *_deferdrop_lane_create(void) {
    // Aligned to a cache line by hand inside a plain malloc() block, not by
    // aligned_alloc(): a malloc interposer that looks for its header before
    // every pointer given to free() (ordo-one's, under the benchmarks) reads
    // the page before an aligned block that starts a page, and crashed the
    // benchmarks where that page was not mapped.
    char *allocation = malloc(sizeof(_deferdrop_lane) + 63);
    if (!allocation) return 0;
    _deferdrop_lane *lane = (_deferdrop_lane *)(((uintptr_t)allocation + 63) & ~(uintptr_t)63);
    _deferdrop_lane_chunk *chunk = new_chunk();
    if (!chunk) {
        free(allocation);
        return 0;
    }
    *lane = (_deferdrop_lane){ .write_chunk = chunk, .read_chunk = chunk, .allocation = allocation };
    return lane;
}

void _deferdrop_lane_destroy(_deferdrop_lane *lane) {
    // Empty: the consumer has retired every chunk before the one it reads.
    free(lane->read_chunk);
    free(lane->spare);
    free(lane->allocation);
}

void _deferdrop_lane_retire(_deferdrop_lane *lane, _deferdrop_lane_chunk *chunk) {
    // Release: the producer writes the chunk's slots only after this.
    _deferdrop_lane_chunk *replaced = __atomic_exchange_n(&lane->spare, chunk, __ATOMIC_RELEASE);
    free(replaced);
}

int _deferdrop_lane_grow(_deferdrop_lane *lane) {
    // The consumer released the spare after its last read of it.
    _deferdrop_lane_chunk *chunk = __atomic_exchange_n(&lane->spare, 0, __ATOMIC_ACQUIRE);
    if (chunk) {
        chunk->next = 0;
    } else {
        chunk = new_chunk();
        if (!chunk) return 0;
    }
    __atomic_store_n(&lane->write_chunk->next, chunk, __ATOMIC_RELEASE);
    lane->write_chunk = chunk;
    lane->write_index = 0;
    return 1;
}
