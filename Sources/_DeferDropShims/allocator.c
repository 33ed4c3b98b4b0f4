#include "platform.h"

#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__GLIBC__)
#include <gnu/libc-version.h>
#include <malloc.h>
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
#include <malloc/malloc.h>
#endif

int _deferdrop_system_allocator_statistics(uint64_t *in_use, uint64_t *obtained) {
#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__GLIBC__) \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    *in_use = (uint64_t)info.uordblks + info.hblkhd;
    *obtained = (uint64_t)info.arena + info.hblkhd;
    return DEFERDROP_ALLOCATOR_GLIBC;
#elif defined(DEFERDROP_LAYER_IS_DARWIN)
    // Every zone: a NULL zone sums them.
    malloc_statistics_t statistics;
    malloc_zone_statistics(0, &statistics);
    *in_use = statistics.size_in_use;
    *obtained = statistics.size_allocated;
    return DEFERDROP_ALLOCATOR_DARWIN;
#else
    (void)in_use;
    (void)obtained;
    return DEFERDROP_ALLOCATOR_UNKNOWN;
#endif
}

const char *_deferdrop_glibc_version(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__GLIBC__)
    return gnu_get_libc_version();
#else
    return 0;
#endif
}
