// A lane's reader, forked at any instant: a producer appends tagged values,
// a reader takes them as the worker does (collect, seek, take_next) with no
// lock held, a third thread churns the shared chunk pool through lanes of its
// own, and the calling thread forks. Each child reads the next segment from
// the reader's position it inherited, where every value must be the one its
// position names, then churns the pool itself and trims it, which hangs if
// the fork left the pool's lock held (a hand-off only tries the lock; the
// trim and the count wait for it). Exercises the one-store-per-step reader of lane.c and
// the pool's fork handlers, which the caller must have installed.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include "_DeferDropTestShims.h"
#include "_DeferDropLane.h"

static volatile int stress_stop;
static volatile uint64_t stress_sink;

static void *stress_producer(void *argument) {
    _deferdrop_lane *lane = argument;
    for (uint64_t position = 0; !stress_stop; position++) {
        // Stays a few thousand values ahead of the reader.
        while (!stress_stop
               && __atomic_load_n(&lane->published, __ATOMIC_ACQUIRE) - __atomic_load_n(&lane->taken, __ATOMIC_RELAXED) > 4000) {
        }
        if (!_deferdrop_lane_reserve(lane)) return 0;
        _deferdrop_lane_push(lane, (void *)(uintptr_t)(position + 1));
    }
    return 0;
}

static int stress_take(_deferdrop_lane *lane, uint64_t start, uint64_t end) {
    int wrong = 0;
    _deferdrop_lane_seek(lane, start);
    for (uint64_t position = start; position < end; position++) {
        uintptr_t tag = (uintptr_t)_deferdrop_lane_take_next(lane);
        if (tag != position + 1) wrong++;
        for (int i = 0; i < 5; i++) stress_sink += tag;  // stands for a release
    }
    return wrong;
}

/// Fills a new lane of the shared pool with three chunks' worth, takes them
/// back, frees it: its chunks come from the pool and go back to it.
static int churn_pool(void) {
    _deferdrop_lane *lane = _deferdrop_lane_create(_deferdrop_shared_chunk_pool());
    if (!lane) return 1;
    uint64_t count = 3 * DEFERDROP_LANE_CHUNK_CAPACITY;
    for (uint64_t position = 0; position < count; position++) {
        if (!_deferdrop_lane_reserve(lane)) return 1;
        _deferdrop_lane_push(lane, (void *)(uintptr_t)(position + 1));
    }
    int wrong = stress_take(lane, 0, _deferdrop_lane_collect(lane));
    _deferdrop_lane_destroy(lane);
    return wrong;
}

static void *stress_churner(void *argument) {
    (void)argument;
    while (!stress_stop) {
        if (churn_pool() != 0) return (void *)1;
    }
    return 0;
}

/// Waits up to ten seconds for `pid` to exit with status 0; kills it if not.
static int child_succeeded(pid_t pid) {
    int status = 0;
    for (int waited = 0; waited < 10000; waited++) {
        pid_t result = waitpid(pid, &status, WNOHANG);
        if (result == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (result != 0) return 0;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

static void *stress_reader(void *argument) {
    _deferdrop_lane *lane = argument;
    while (!stress_stop) {
        uint64_t start = lane->collected;
        if (stress_take(lane, start, _deferdrop_lane_collect(lane)) != 0) return (void *)1;
    }
    return 0;
}

int _deferdrop_test_lane_fork_stress(int forks) {
    _deferdrop_lane *lane = _deferdrop_lane_create(_deferdrop_shared_chunk_pool());
    if (!lane) return -1;
    stress_stop = 0;
    pthread_t producer, reader, churner;
    pthread_create(&producer, 0, stress_producer, lane);
    pthread_create(&reader, 0, stress_reader, lane);
    pthread_create(&churner, 0, stress_churner, 0);
    int bad = 0;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            // The child's worker: the next segment, from where the parent's
            // reader was.
            uint64_t start = lane->collected;
            int wrong = stress_take(lane, start, _deferdrop_lane_collect(lane));
            if (wrong != 0 || churn_pool() != 0) _exit(1);
            _deferdrop_chunk_pool_trim(_deferdrop_shared_chunk_pool());
            _exit(_deferdrop_chunk_pool_count(_deferdrop_shared_chunk_pool()) <= DEFERDROP_CHUNK_POOL_IDLE_LIMIT ? 0 : 1);
        }
        if (pid < 0 || !child_succeeded(pid)) bad++;
    }
    stress_stop = 1;
    void *readerFailed = 0, *churnerFailed = 0;
    pthread_join(producer, 0);
    pthread_join(reader, &readerFailed);
    pthread_join(churner, &churnerFailed);
    _deferdrop_lane_destroy(lane);
    return readerFailed || churnerFailed ? -2 : bad;
}
