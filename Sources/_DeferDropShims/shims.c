#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <errno.h>
#include <semaphore.h>
#include <time.h>
#include <stdint.h>
#include "_DeferDropShims.h"
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

int _deferdrop_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

long _deferdrop_active_processor_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? online : 1;
}

int _deferdrop_glibc_malloc_info(unsigned long long *in_use, unsigned long long *obtained) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    *in_use = (unsigned long long)info.uordblks + info.hblkhd;
    *obtained = (unsigned long long)info.arena + info.hblkhd;
    return 0;
#else
    (void)in_use;
    (void)obtained;
    return -1;
#endif
}

const char *_deferdrop_glibc_version(void) {
#ifdef __GLIBC__
    return gnu_get_libc_version();
#else
    return 0;
#endif
}

int _deferdrop_current_thread_id(void) {
    return (int)gettid();
}

int _deferdrop_set_current_thread_scheduling(int kind) {
    struct sched_param param = { .sched_priority = 0 };
    int policy = kind == DEFERDROP_SCHED_BATCH ? SCHED_BATCH
               : kind == DEFERDROP_SCHED_IDLE ? SCHED_IDLE
               : SCHED_OTHER;
    // pid 0 is the calling thread: on Linux, scheduling policy is per thread.
    return sched_setscheduler(0, policy, &param) == 0 ? 0 : errno;
}

int _deferdrop_semaphore_wait_for(sem_t *semaphore, unsigned long long timeout_ns) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    unsigned long long nanoseconds = (unsigned long long)deadline.tv_nsec + timeout_ns % 1000000000ULL;
    deadline.tv_sec += (time_t)(timeout_ns / 1000000000ULL + nanoseconds / 1000000000ULL);
    deadline.tv_nsec = (long)(nanoseconds % 1000000000ULL);
    for (;;) {
        if (sem_clockwait(semaphore, CLOCK_MONOTONIC, &deadline) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

__thread _deferdrop_thread_role _deferdrop_tls_role;
__thread _deferdrop_pin _deferdrop_tls_pin;

// Exported by the Swift runtime with the C calling convention; every Swift
// object on Linux is native.
extern _Bool swift_isUniquelyReferenced_nonNull_native(const void *object);

int _deferdrop_object_is_uniquely_referenced(const void *object) {
    return swift_isUniquelyReferenced_nonNull_native(object);
}

// The Swift runtime's own immortality test, which it does not export
// (stdlib/public/SwiftShims/swift/shims/RefCount.h, 64-bit): a native object's
// second word holds its inline reference counts, and an immortal object has
// all 32 low bits set (IsImmortal) with UseSlowRC (bit 63) set and the side
// table mark (bit 62) clear. A live heap object never has 2^32 - 1 unowned
// references, and one with a side table has bit 62 set. Reading the word
// takes no lock, unlike asking the dynamic loader where the object lies,
// which could hold its lock across a fork().
int _deferdrop_object_is_immortal(const void *object) {
#if UINTPTR_MAX == 0xffffffffffffffffu
    uint64_t bits = __atomic_load_n((const uint64_t *)object + 1, __ATOMIC_RELAXED);
    return (bits & 0xffffffffu) == 0xffffffffu && (bits >> 62) == 2;
#else
    (void)object;
    return 0;
#endif
}

// The nominal type descriptors of the standard library's single-buffer
// collections, exported by libswiftCore under their mangled names.
extern const char _deferdrop_array_descriptor __asm__("$sSaMn");
extern const char _deferdrop_contiguous_array_descriptor __asm__("$ss15ContiguousArrayVMn");
extern const char _deferdrop_dictionary_descriptor __asm__("$sSDMn");
extern const char _deferdrop_set_descriptor __asm__("$sShMn");

// The metadata layout is the runtime's (docs/ABI/TypeMetadata.rst in the
// Swift repository, 64-bit): the first word is the kind; a struct's second
// word is its nominal type descriptor; an existential's 32-bit flags follow
// the kind, and their top bit is set when it is *not* class-bound.
int _deferdrop_type_is_one_counted_reference(const void *metadata) {
#if UINTPTR_MAX == 0xffffffffffffffffu
    const uintptr_t *words = (const uintptr_t *)metadata;
    uintptr_t kind = words[0];
    enum { kind_class = 0, kind_struct = 0x200, kind_existential = 0x303, last_enumerated_kind = 0x7ff };
    // A Swift class is kind 0; an Objective-C class's first word is an isa pointer.
    if (kind == kind_class || kind > last_enumerated_kind) return 1;
    if (kind == kind_struct) {
        const void *descriptor = (const void *)words[1];
        return descriptor == &_deferdrop_array_descriptor || descriptor == &_deferdrop_contiguous_array_descriptor
            || descriptor == &_deferdrop_dictionary_descriptor || descriptor == &_deferdrop_set_descriptor;
    }
    if (kind == kind_existential) {
        uint32_t flags = *(const uint32_t *)(words + 1);
        return (flags & 0x80000000u) == 0;
    }
    return 0;
#else
    (void)metadata;
    return 0;
#endif
}
