#include "platform.h"

#if defined(DEFERDROP_LAYER_IS_LINUX)
#include <stdio.h>
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
#include <pthread/qos.h>
#include <sys/sysctl.h>
#endif

_Static_assert(sizeof(pthread_t) <= sizeof(uint64_t), "a pthread_t fits _deferdrop_thread");
_Static_assert(sizeof(pthread_key_t) <= sizeof(uint64_t), "a pthread_key_t fits _deferdrop_thread_key");

int _deferdrop_thread_start(_deferdrop_thread_body body, void *context, _deferdrop_thread *thread) {
    pthread_attr_t attributes;
    int result = pthread_attr_init(&attributes);
    if (result != 0) return result;
    pthread_attr_setdetachstate(&attributes, thread ? PTHREAD_CREATE_JOINABLE : PTHREAD_CREATE_DETACHED);
    pthread_t started;
    result = pthread_create(&started, &attributes, body, context);
    pthread_attr_destroy(&attributes);
    if (result == 0 && thread) {
        *thread = (_deferdrop_thread){0};
        __builtin_memcpy(&thread->opaque, &started, sizeof started);
    }
    return result;
}

int _deferdrop_thread_join(_deferdrop_thread thread) {
    pthread_t joined;
    __builtin_memcpy(&joined, &thread.opaque, sizeof joined);
    return pthread_join(joined, 0);
}

int _deferdrop_thread_name_capacity(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    return 15;
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    return 63;
#else
    return 0;
#endif
}

int _deferdrop_set_current_thread_name(const char *name) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    return pthread_setname_np(pthread_self(), name);
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    return pthread_setname_np(name);
#else
    (void)name;
    return ENOSYS;
#endif
}

#if defined(DEFERDROP_LAYER_IS_POSIX_ONLY)
static uint64_t last_thread_id;
static __thread uint64_t current_thread_id;
#endif

uint64_t _deferdrop_current_thread_id(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    return (uint64_t)gettid();
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    uint64_t id = 0;
    pthread_threadid_np(0, &id);
    return id;
#else
    if (current_thread_id == 0) current_thread_id = __atomic_add_fetch(&last_thread_id, 1, __ATOMIC_RELAXED);
    return current_thread_id;
#endif
}

int _deferdrop_thread_exists(uint64_t id) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    char path[48];
    snprintf(path, sizeof path, "/proc/self/task/%llu", (unsigned long long)id);
    return access(path, F_OK) == 0;
#else
    (void)id;
    return -1;
#endif
}

long _deferdrop_active_processor_count(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    int count = 0;
    size_t size = sizeof count;
    if (sysctlbyname("hw.activecpu", &count, &size, 0, 0) == 0 && count > 0) return count;
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? online : 1;
}

int _deferdrop_thread_key_create(_deferdrop_thread_key *key, void (*destructor)(void *)) {
    pthread_key_t created;
    int result = pthread_key_create(&created, destructor);
    if (result == 0) {
        *key = (_deferdrop_thread_key){0};
        __builtin_memcpy(&key->opaque, &created, sizeof created);
    }
    return result;
}

static pthread_key_t pthread_key(_deferdrop_thread_key key) {
    pthread_key_t result;
    __builtin_memcpy(&result, &key.opaque, sizeof result);
    return result;
}

void *_deferdrop_thread_key_get(_deferdrop_thread_key key) {
    return pthread_getspecific(pthread_key(key));
}

int _deferdrop_thread_key_set(_deferdrop_thread_key key, const void *value) {
    return pthread_setspecific(pthread_key(key), value);
}

// MARK: Scheduling classes
//
// One mapping each way per branch: a request to the system's class
// (`system_class_for`), and the system's class to the layer's number
// (`layer_class_of`). The three functions below compose them.

#if defined(DEFERDROP_LAYER_IS_LINUX)
typedef int system_class;

static system_class system_class_for(int request) {
    return request == DEFERDROP_SCHED_BATCH ? SCHED_BATCH
         : request == DEFERDROP_SCHED_IDLE ? SCHED_IDLE
         : SCHED_OTHER;
}

static int layer_class_of(system_class policy) {
    switch (policy) {
    case SCHED_OTHER: return DEFERDROP_CLASS_LINUX_OTHER;
    case SCHED_BATCH: return DEFERDROP_CLASS_LINUX_BATCH;
    case SCHED_IDLE: return DEFERDROP_CLASS_LINUX_IDLE;
    default: return DEFERDROP_CLASS_OTHER;
    }
}
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
typedef qos_class_t system_class;

static system_class system_class_for(int request) {
    return request == DEFERDROP_SCHED_BATCH ? QOS_CLASS_UTILITY
         : request == DEFERDROP_SCHED_IDLE ? QOS_CLASS_BACKGROUND
         : QOS_CLASS_DEFAULT;
}

static int layer_class_of(system_class qos) {
    switch (qos) {
    case QOS_CLASS_DEFAULT: return DEFERDROP_CLASS_QOS_DEFAULT;
    case QOS_CLASS_UTILITY: return DEFERDROP_CLASS_QOS_UTILITY;
    case QOS_CLASS_BACKGROUND: return DEFERDROP_CLASS_QOS_BACKGROUND;
    default: return DEFERDROP_CLASS_OTHER;
    }
}
#endif

int _deferdrop_scheduling_class_for(int request) {
#if defined(DEFERDROP_LAYER_IS_LINUX) || defined(DEFERDROP_LAYER_IS_DARWIN)
    return layer_class_of(system_class_for(request));
#else
    (void)request;
    return DEFERDROP_CLASS_UNCHANGED;
#endif
}

int _deferdrop_current_thread_scheduling_class(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    // pthread_getschedparam, not sched_getscheduler: musl's sched_ calls are
    // stubs that fail with ENOSYS; its pthread_ ones ask the kernel per thread.
    int policy = 0;
    struct sched_param param;
    if (pthread_getschedparam(pthread_self(), &policy, &param) != 0) return DEFERDROP_CLASS_OTHER;
    return layer_class_of(policy);
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    return layer_class_of(qos_class_self());
#else
    return DEFERDROP_CLASS_UNCHANGED;
#endif
}

int _deferdrop_set_current_thread_scheduling(int request) {
#if defined(DEFERDROP_LAYER_IS_LINUX)
    struct sched_param param = { .sched_priority = 0 };
    // Per thread: on Linux a scheduling policy belongs to a thread, not the process.
    (void)pthread_setschedparam(pthread_self(), system_class_for(request), &param);
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    (void)pthread_set_qos_class_self_np(system_class_for(request), 0);
#else
    (void)request;
#endif
    return _deferdrop_current_thread_scheduling_class();
}
