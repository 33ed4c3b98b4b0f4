#include "platform.h"
#include "_DeferDropLane.h"

static _deferdrop_lane_chunk *new_chunk(void) {
    _deferdrop_lane_chunk *chunk = malloc(sizeof *chunk);
    if (chunk) *chunk = (_deferdrop_lane_chunk){ .next = 0, .first = 0 };
    return chunk;
}

_deferdrop_lane *_deferdrop_lane_create(void) {
    // Aligned to a cache line by hand inside a plain malloc() block, not by
    // aligned_alloc(): a malloc interposer that looks for its header before
    // every pointer given to free() (ordo-one's, under the benchmarks) reads
    // the page before an aligned block that starts a page, and crashed the
    // benchmarks where that page was not mapped.
    char *allocation = malloc(sizeof(_deferdrop_lane) + DEFERDROP_CACHE_LINE - 1);
    if (!allocation) return 0;
    uintptr_t aligned = ((uintptr_t)allocation + DEFERDROP_CACHE_LINE - 1) & ~(uintptr_t)(DEFERDROP_CACHE_LINE - 1);
    _deferdrop_lane *lane = (_deferdrop_lane *)aligned;
    _deferdrop_lane_chunk *chunk = new_chunk();
    if (!chunk) {
        free(allocation);
        return 0;
    }
    *lane = (_deferdrop_lane){ .write_chunk = chunk, .read_chunk = chunk, .allocation = allocation };
    return lane;
}

void _deferdrop_lane_destroy(_deferdrop_lane *lane) {
    // The chunks from the one the reader is in to the producer's: one, unless
    // a fork child inherited values a thread of the parent had taken.
    for (_deferdrop_lane_chunk *chunk = lane->read_chunk; chunk;) {
        _deferdrop_lane_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(lane->spare);
    free(lane->allocation);
}

void _deferdrop_lane_next_chunk(_deferdrop_lane *lane) {
    // A value past this chunk was published, so the producer linked the next.
    _deferdrop_lane_chunk *emptied = lane->read_chunk;
    lane->read_chunk = __atomic_load_n(&emptied->next, __ATOMIC_ACQUIRE);
    // Release: the producer writes the chunk's slots only after this.
    free(__atomic_exchange_n(&lane->spare, emptied, __ATOMIC_RELEASE));
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
        chunk = new_chunk();
        if (!chunk) return 0;
    }
    chunk->first = lane->written;
    __atomic_store_n(&lane->write_chunk->next, chunk, __ATOMIC_RELEASE);
    lane->write_chunk = chunk;
    lane->write_index = 0;
    return 1;
}
