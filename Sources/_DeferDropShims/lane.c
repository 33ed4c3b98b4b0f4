#include <stdlib.h>
#include "_DeferDropLane.h"

__thread uint64_t _deferdrop_tls_lane_queue;
__thread _deferdrop_lane *_deferdrop_tls_lane;

static _deferdrop_lane_chunk *new_chunk(void) {
    _deferdrop_lane_chunk *chunk = malloc(sizeof *chunk);
    if (chunk) chunk->next = 0;
    return chunk;
}

_deferdrop_lane *_deferdrop_lane_create(void) {
    _deferdrop_lane *lane = aligned_alloc(64, sizeof *lane);
    if (!lane) return 0;
    _deferdrop_lane_chunk *chunk = new_chunk();
    if (!chunk) {
        free(lane);
        return 0;
    }
    *lane = (_deferdrop_lane){ .write_chunk = chunk, .read_chunk = chunk };
    return lane;
}

void _deferdrop_lane_destroy(_deferdrop_lane *lane) {
    // Empty: the consumer has freed every chunk before the one it reads.
    free(lane->read_chunk);
    free(lane);
}

int _deferdrop_lane_grow(_deferdrop_lane *lane) {
    _deferdrop_lane_chunk *chunk = new_chunk();
    if (!chunk) return 0;
    __atomic_store_n(&lane->write_chunk->next, chunk, __ATOMIC_RELEASE);
    lane->write_chunk = chunk;
    lane->write_index = 0;
    return 1;
}
