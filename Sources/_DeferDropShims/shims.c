#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include "_DeferDropShims.h"
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

int _deferdrop_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int _deferdrop_get_current_thread_name(char *buffer, unsigned long size) {
    return pthread_getname_np(pthread_self(), buffer, size);
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
