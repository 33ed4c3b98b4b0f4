// The platform layer: the only code in DeferDrop that knows which system it
// runs on. The Swift modules import no C library; every call they make into
// the system goes through a function declared here.
//
// Each function has three branches, chosen once, below:
// - Linux (glibc or musl): the calls the package was designed around
//   (an adaptive mutex, futex-backed semaphores, membarrier(), scheduling
//   policies, the coarse clock).
// - Darwin (macOS, iOS, tvOS, watchOS, visionOS): os_unfair_lock, a
//   condition-variable semaphore, QoS classes, malloc zone statistics,
//   Mach-O symbol names.
// - POSIX-only: POSIX.1-2008, C11 and the compiler's `__thread` and
//   `__atomic` builtins, for any other system, and forced on Linux by
//   building with `-Xcc -DDEFERDROP_POSIX_ONLY` so that the fallbacks are
//   tested where the package is developed.
//
// Functions return 0 or an errno value unless they say otherwise.
#ifndef DEFERDROP_PLATFORM_H
#define DEFERDROP_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(DEFERDROP_POSIX_ONLY)
#define DEFERDROP_LAYER_IS_POSIX_ONLY 1
#elif defined(__APPLE__)
#define DEFERDROP_LAYER_IS_DARWIN 1
#elif defined(__linux__)
#define DEFERDROP_LAYER_IS_LINUX 1
#else
#define DEFERDROP_LAYER_IS_POSIX_ONLY 1
#endif

/// The branch this build of the layer uses.
enum {
    DEFERDROP_LAYER_LINUX = 1,
    DEFERDROP_LAYER_DARWIN = 2,
    DEFERDROP_LAYER_POSIX_ONLY = 3,
};

/// The branch the layer's compiled code uses (one of `DEFERDROP_LAYER_`).
int _deferdrop_platform_layer(void);

/// The branch the headers select where they are read: a caller compiled with
/// other flags than the layer would see a different one here.
static inline int _deferdrop_platform_layer_of_headers(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    return DEFERDROP_LAYER_LINUX;
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    return DEFERDROP_LAYER_DARWIN;
#else
    return DEFERDROP_LAYER_POSIX_ONLY;
#endif
}

/// The cache line the layer pads shared data to: 128 bytes on Apple silicon,
/// whose cores move lines in pairs, 64 elsewhere.
#if defined(__APPLE__) && defined(__aarch64__)
#define DEFERDROP_CACHE_LINE 128
#else
#define DEFERDROP_CACHE_LINE 64
#endif

// MARK: Threads

/// A joinable thread, to join once.
typedef struct _deferdrop_thread {
    uint64_t opaque;
} _deferdrop_thread;

/// What a new thread runs, with the context given to `_deferdrop_thread_start`.
typedef void *(*_deferdrop_thread_body)(void *context);

/// Starts a thread that runs `body(context)`: joinable, written to `thread`,
/// if `thread` is not NULL; detached otherwise.
int _deferdrop_thread_start(
    _deferdrop_thread_body body, void *context, _deferdrop_thread *thread);

/// Waits until `thread` has ended.
int _deferdrop_thread_join(_deferdrop_thread thread);

/// The longest thread name the system keeps, in bytes, without the final
/// NUL: 15 on Linux, 63 on Darwin; 0 where threads cannot be named.
int _deferdrop_thread_name_capacity(void);

/// Names the calling thread, `name` at most `_deferdrop_thread_name_capacity()`
/// bytes. ENOSYS where threads cannot be named.
int _deferdrop_set_current_thread_name(const char *name);

/// The calling thread's id, never 0: the kernel's (`gettid()`, its entry in
/// `/proc/self/task`) on Linux, `pthread_threadid_np` on Darwin, and a
/// number the layer gives each thread that asks elsewhere.
uint64_t _deferdrop_current_thread_id(void);

/// Whether the thread with `id` still runs: 1, 0, or -1 where the system
/// cannot tell (everywhere but Linux). For a diagnosis.
int _deferdrop_thread_exists(uint64_t id);

/// The number of processors the calling thread may run on (its CPU affinity
/// mask on Linux, which `taskset` and container cpusets narrow), or the
/// number online. At least 1.
long _deferdrop_active_processor_count(void);

// MARK: Thread-specific slots

/// A thread-specific slot whose value `destructor` receives when a thread
/// that set it exits.
typedef struct _deferdrop_thread_key {
    uint64_t opaque;
} _deferdrop_thread_key;

int _deferdrop_thread_key_create(_deferdrop_thread_key *key, void (*destructor)(void *));
void *_deferdrop_thread_key_get(_deferdrop_thread_key key);
int _deferdrop_thread_key_set(_deferdrop_thread_key key, const void *value);

// MARK: Scheduling classes

/// What a worker asks for (`DropPriority`).
enum {
    DEFERDROP_SCHED_NORMAL = 0,
    DEFERDROP_SCHED_BATCH = 1,
    DEFERDROP_SCHED_IDLE = 2,
};

/// The class a thread is in (`DropSchedulingClass`).
enum {
    /// The layer sets no class: the POSIX-only branch.
    DEFERDROP_CLASS_UNCHANGED = 0,
    DEFERDROP_CLASS_LINUX_OTHER = 1,
    DEFERDROP_CLASS_LINUX_BATCH = 2,
    DEFERDROP_CLASS_LINUX_IDLE = 3,
    DEFERDROP_CLASS_QOS_DEFAULT = 4,
    DEFERDROP_CLASS_QOS_UTILITY = 5,
    DEFERDROP_CLASS_QOS_BACKGROUND = 6,
    /// A class the layer never sets (a real-time policy, another QoS class).
    DEFERDROP_CLASS_OTHER = 7,
};

/// The class this branch gives a thread that asks for `request` (one of
/// `DEFERDROP_SCHED_`): on Linux normal, batch and idle are SCHED_OTHER,
/// SCHED_BATCH and SCHED_IDLE; on Darwin the QoS classes default, utility
/// and background; the POSIX-only branch leaves threads as they are.
int _deferdrop_scheduling_class_for(int request);

/// Moves the calling thread (only it) to the class for `request`, keeping
/// its nice value, and returns the class the thread is in afterwards: the one asked for, or the old one if the system refused
/// (raising a thread out of SCHED_IDLE needs a privilege).
int _deferdrop_set_current_thread_scheduling(int request);

/// The calling thread's class (one of `DEFERDROP_CLASS_`).
int _deferdrop_current_thread_scheduling_class(void);

// MARK: The mutex

/// A mutex's storage, big and aligned enough for every branch's mutex.
/// It stays at one address for its whole life.
typedef struct _deferdrop_mutex {
    uint64_t opaque[8];
} _deferdrop_mutex;

/// Initializes `mutex`; also makes it new in the child of a `fork()`, where
/// the thread that held it does not exist.
int _deferdrop_mutex_init(_deferdrop_mutex *mutex);
void _deferdrop_mutex_destroy(_deferdrop_mutex *mutex);
void _deferdrop_mutex_lock(_deferdrop_mutex *mutex);
/// Takes `mutex` if it is free: returns 1 if it did, 0 if another thread holds it.
int _deferdrop_mutex_try_lock(_deferdrop_mutex *mutex);
void _deferdrop_mutex_unlock(_deferdrop_mutex *mutex);

// MARK: The semaphore (the parker)

/// A counting semaphore: a post nobody waits for is kept for the next wait.
/// A futex-backed `sem_t` on Linux with glibc; a mutex, a condition variable
/// and a count elsewhere (Darwin has no unnamed POSIX semaphores, and musl
/// no `sem_clockwait`).
typedef struct _deferdrop_semaphore _deferdrop_semaphore;

/// A new semaphore at 0, or NULL if memory is exhausted.
_deferdrop_semaphore *_deferdrop_semaphore_create(void);
void _deferdrop_semaphore_destroy(_deferdrop_semaphore *semaphore);
/// Adds one, waking one waiter if there is one.
int _deferdrop_semaphore_post(_deferdrop_semaphore *semaphore);
/// Waits until the count is positive, then takes one.
int _deferdrop_semaphore_wait(_deferdrop_semaphore *semaphore);
/// What `_deferdrop_semaphore_wait_for` returns when the time passed first.
enum { DEFERDROP_TIMED_OUT = -1 };

/// Waits at most `timeout_ns` nanoseconds of the monotonic clock: 0 once it
/// took one, DEFERDROP_TIMED_OUT if the time passed first, or an errno value.
int _deferdrop_semaphore_wait_for(_deferdrop_semaphore *semaphore, uint64_t timeout_ns);
/// The count now: posts not yet taken. For a diagnosis.
int _deferdrop_semaphore_count(_deferdrop_semaphore *semaphore);
/// In the child of a `fork()`, whose only thread is the one that forked:
/// makes the semaphore usable again, keeping its count (a thread of the
/// parent may have held its mutex).
void _deferdrop_semaphore_reinitialize_in_fork_child(_deferdrop_semaphore *semaphore);

// MARK: The coarse clock

/// A monotonic clock in nanoseconds, as cheap as the system has, precise to
/// a few milliseconds: Linux's CLOCK_MONOTONIC_COARSE, Darwin's
/// CLOCK_MONOTONIC_RAW_APPROX, CLOCK_MONOTONIC elsewhere. For a time bound
/// measured in milliseconds, read on a producer's hand-off.
static inline uint64_t _deferdrop_coarse_monotonic_ns(void) {
#if defined(DEFERDROP_LAYER_IS_DARWIN)
    return clock_gettime_nsec_np(CLOCK_MONOTONIC_RAW_APPROX);
#else
    struct timespec now;
#if defined(DEFERDROP_LAYER_IS_LINUX)
#ifndef CLOCK_MONOTONIC_COARSE
#define CLOCK_MONOTONIC_COARSE 6
#endif
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
#else
    clock_gettime(CLOCK_MONOTONIC, &now);
#endif
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
#endif
}

// MARK: The producers' fence
//
// A producer's append and its look at the worker's status word must not be
// reordered, nor the worker's announcement that it sleeps and its last look
// at the lanes. Where membarrier(2) works (Linux), the sleeper pays for both
// sides: before its last look it makes every running thread of the process
// execute a full barrier, and producers need only keep the compiler from
// reordering. Elsewhere every producer fences. Which side fences is each
// worker's status bit (`_Handoff.Status.sleeperFences`), which the worker sets.

/// Registers the process for membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED).
/// Returns whether the sleeper can fence for the producers: 0 on Darwin and
/// in the POSIX-only branch, and where the kernel lacks it. In a process
/// with several threads the kernel waits for a grace period here: called
/// there on a worker's thread, never a producer's.
int _deferdrop_sleeper_fence_set_up(void);

/// Whether the process has never started a second thread, where the C
/// library can tell (glibc); 0 where it cannot. Registering for
/// membarrier() waits for nothing then.
int _deferdrop_process_is_single_threaded(void);

/// For the worker of a queue whose producers do not fence, before its last
/// look: a full barrier on every running thread of the process.
int _deferdrop_sleeper_fence(void);

/// For a producer, between its append and its look at the status word:
/// a full fence where the worker does not fence for it (`fences`), a
/// compiler barrier otherwise.
static inline void _deferdrop_producer_fence(int fences) {
    if (fences) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    } else {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
}

// MARK: The process

/// Runs `handler` when the process exits normally (`atexit`).
int _deferdrop_at_exit(void (*handler)(void));

/// Runs the three handlers around every `fork()` (`pthread_atfork`).
int _deferdrop_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/// Writes `count` bytes to standard error, unbuffered.
void _deferdrop_write_to_standard_error(const void *bytes, size_t count);

// MARK: The allocator

/// The system allocator whose figures `_deferdrop_system_allocator_statistics` reads.
enum {
    DEFERDROP_ALLOCATOR_UNKNOWN = 0,
    /// glibc's malloc, through `mallinfo2()`.
    DEFERDROP_ALLOCATOR_GLIBC = 1,
    /// Darwin's malloc, through `malloc_zone_statistics` over every zone.
    DEFERDROP_ALLOCATOR_DARWIN = 2,
};

/// The system allocator's view of the heap: the bytes in use in allocations
/// and the bytes it obtained from the system. Returns one of
/// `DEFERDROP_ALLOCATOR_`, and fills the figures unless it is UNKNOWN.
int _deferdrop_system_allocator_statistics(uint64_t *in_use, uint64_t *obtained);

/// glibc's version, such as "2.36", or NULL where the C library is not glibc.
const char *_deferdrop_glibc_version(void);

// MARK: The Swift runtime

/// Whether the object at `object` is a native Swift object, reference
/// counted by the Swift runtime: always on Linux; on Darwin not for an
/// Objective-C object or a tagged pointer, which the worker releases
/// without looking at.
#if defined(__APPLE__)
int _deferdrop_object_is_native(const void *object);
#else
static inline int _deferdrop_object_is_native(const void *object) {
    (void)object;
    return 1;
}
#endif

/// Whether the native Swift object at `object` has a strong reference count
/// of exactly one: the Swift runtime's test behind `isKnownUniquelyReferenced`,
/// on an address, so that the caller holds no reference of its own while it
/// asks (an unoptimised build holds a copy across any call that takes one).
/// Immortal objects answer 0.
int _deferdrop_object_is_uniquely_referenced(const void *object);

/// Whether the native Swift object at `object` is immortal: one the compiler
/// laid out statically (a constant array, the buffer all empty collections
/// share), which no release ever destroys. Reads the object's reference
/// counts, without a lock.
int _deferdrop_object_is_immortal(const void *object);

/// Whether a value of the Swift type whose metadata is at `metadata` is,
/// in memory, exactly one strong reference whose count tells whether the
/// value is referenced elsewhere: a class instance, a class-bound
/// existential (`AnyObject`, `any P & AnyObject`), a `ContiguousArray`, and
/// except on Darwin (where they may be bridged Objective-C collections) an
/// `Array`, `Dictionary` or `Set`. Reads the metadata only: no call into the
/// Swift runtime, so no lock of its own that a `fork()` could have left held.
int _deferdrop_type_is_one_counted_reference(const void *metadata);

#endif
