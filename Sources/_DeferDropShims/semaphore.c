#include "platform.h"

#if !defined(DEFERDROP_LAYER_IS_DARWIN)
/// The monotonic clock's reading `timeout_ns` from now, as an absolute
/// deadline for a timed wait on CLOCK_MONOTONIC.
static struct timespec monotonic_deadline(uint64_t timeout_ns) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    uint64_t nanoseconds = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
    deadline.tv_sec += (time_t)(timeout_ns / 1000000000u + nanoseconds / 1000000000u);
    deadline.tv_nsec = (long)(nanoseconds % 1000000000u);
    return deadline;
}
#endif

#if defined(DEFERDROP_SEMAPHORE_IS_SEM_T)
#include <semaphore.h>

// glibc's sem_t: a post nobody waits for is one atomic add, and waking a
// sleeper one futex call.
struct _deferdrop_semaphore {
    sem_t sem;
};

_deferdrop_semaphore *_deferdrop_semaphore_create(void) {
    _deferdrop_semaphore *semaphore = malloc(sizeof *semaphore);
    if (semaphore && sem_init(&semaphore->sem, 0, 0) != 0) {
        free(semaphore);
        return 0;
    }
    return semaphore;
}

void _deferdrop_semaphore_destroy(_deferdrop_semaphore *semaphore) {
    sem_destroy(&semaphore->sem);
    free(semaphore);
}

int _deferdrop_semaphore_post(_deferdrop_semaphore *semaphore) {
    return sem_post(&semaphore->sem) == 0 ? 0 : errno;
}

int _deferdrop_semaphore_wait(_deferdrop_semaphore *semaphore) {
    while (sem_wait(&semaphore->sem) != 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int _deferdrop_semaphore_wait_for(_deferdrop_semaphore *semaphore, uint64_t timeout_ns) {
    struct timespec deadline = monotonic_deadline(timeout_ns);
    for (;;) {
        if (sem_clockwait(&semaphore->sem, CLOCK_MONOTONIC, &deadline) == 0) return 0;
        if (errno == ETIMEDOUT) return DEFERDROP_TIMED_OUT;
        if (errno != EINTR) return errno;
    }
}

int _deferdrop_semaphore_count(_deferdrop_semaphore *semaphore) {
    int count = 0;
    sem_getvalue(&semaphore->sem, &count);
    return count;
}

void _deferdrop_semaphore_reinitialize_in_fork_child(_deferdrop_semaphore *semaphore) {
    // A futex word: nothing of another thread's is left in it.
    (void)semaphore;
}

#else

// A count under a mutex, and a condition variable for the waiters: Darwin
// has no unnamed POSIX semaphores, and musl no monotonic timed wait on one.
struct _deferdrop_semaphore {
    pthread_mutex_t mutex;
    pthread_cond_t posted;
    /// Written under the mutex; read without it only for a diagnosis.
    unsigned count;
};

static int initialize(_deferdrop_semaphore *semaphore) {
    int result = pthread_mutex_init(&semaphore->mutex, 0);
    if (result != 0) return result;
    pthread_condattr_t attributes;
    result = pthread_condattr_init(&attributes);
#if !defined(DEFERDROP_LAYER_IS_DARWIN)
    // Timed waits on the monotonic clock (Darwin's relative wait needs no clock).
    if (result == 0) result = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
#endif
    if (result == 0) result = pthread_cond_init(&semaphore->posted, &attributes);
    pthread_condattr_destroy(&attributes);
    if (result != 0) pthread_mutex_destroy(&semaphore->mutex);
    return result;
}

_deferdrop_semaphore *_deferdrop_semaphore_create(void) {
    _deferdrop_semaphore *semaphore = malloc(sizeof *semaphore);
    if (!semaphore) return 0;
    semaphore->count = 0;
    if (initialize(semaphore) != 0) {
        free(semaphore);
        return 0;
    }
    return semaphore;
}

void _deferdrop_semaphore_destroy(_deferdrop_semaphore *semaphore) {
    pthread_cond_destroy(&semaphore->posted);
    pthread_mutex_destroy(&semaphore->mutex);
    free(semaphore);
}

int _deferdrop_semaphore_post(_deferdrop_semaphore *semaphore) {
    pthread_mutex_lock(&semaphore->mutex);
    __atomic_store_n(&semaphore->count, semaphore->count + 1, __ATOMIC_RELAXED);
    int result = pthread_cond_signal(&semaphore->posted);
    pthread_mutex_unlock(&semaphore->mutex);
    return result;
}

int _deferdrop_semaphore_wait(_deferdrop_semaphore *semaphore) {
    pthread_mutex_lock(&semaphore->mutex);
    while (semaphore->count == 0) pthread_cond_wait(&semaphore->posted, &semaphore->mutex);
    __atomic_store_n(&semaphore->count, semaphore->count - 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&semaphore->mutex);
    return 0;
}

int _deferdrop_semaphore_wait_for(_deferdrop_semaphore *semaphore, uint64_t timeout_ns) {
#if defined(DEFERDROP_LAYER_IS_DARWIN)
    uint64_t end = clock_gettime_nsec_np(CLOCK_MONOTONIC_RAW) + timeout_ns;
    struct timespec interval;
#else
    struct timespec deadline = monotonic_deadline(timeout_ns);
#endif
    int result = 0;
    pthread_mutex_lock(&semaphore->mutex);
    while (semaphore->count == 0 && result == 0) {
#if defined(DEFERDROP_LAYER_IS_DARWIN)
        uint64_t now = clock_gettime_nsec_np(CLOCK_MONOTONIC_RAW);
        uint64_t left = now < end ? end - now : 0;
        interval.tv_sec = (time_t)(left / 1000000000u);
        interval.tv_nsec = (long)(left % 1000000000u);
        result = left == 0 ? ETIMEDOUT
               : pthread_cond_timedwait_relative_np(&semaphore->posted, &semaphore->mutex, &interval);
#else
        result = pthread_cond_timedwait(&semaphore->posted, &semaphore->mutex, &deadline);
#endif
    }
    int took = semaphore->count > 0;
    if (took) __atomic_store_n(&semaphore->count, semaphore->count - 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&semaphore->mutex);
    if (took) return 0;
    return result == ETIMEDOUT ? DEFERDROP_TIMED_OUT : result;
}

int _deferdrop_semaphore_count(_deferdrop_semaphore *semaphore) {
    return (int)__atomic_load_n(&semaphore->count, __ATOMIC_RELAXED);
}

void _deferdrop_semaphore_reinitialize_in_fork_child(_deferdrop_semaphore *semaphore) {
    // The child's one thread: no one else reads the count or holds the mutex.
    unsigned count = semaphore->count;
    if (initialize(semaphore) != 0) abort();
    semaphore->count = count;
}

#endif
