#include "platform.h"

#if defined(DEFERDROP_LAYER_IS_LINUX)
#include <sys/syscall.h>
#include <linux/membarrier.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#include <sys/single_threaded.h>
#define DEFERDROP_KNOWS_SINGLE_THREADED 1
#endif
#endif

int _deferdrop_sleeper_fence_set_up(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__NR_membarrier)
    // DEFERDROP_PRODUCER_FENCE=1 keeps the fence on the producers' side, for
    // comparing the two and for tests of the fallback.
    const char *forced = getenv("DEFERDROP_PRODUCER_FENCE");
    if (forced && forced[0] == '1') return 0;
    long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return 0;
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return 0;
    return 1;
#else
    // Darwin has no process-wide barrier a program may ask for, and POSIX none.
    return 0;
#endif
}

int _deferdrop_process_is_single_threaded(void) {
#if defined(DEFERDROP_KNOWS_SINGLE_THREADED)
    return __libc_single_threaded;
#else
    return 0;
#endif
}

int _deferdrop_sleeper_fence(void) {
#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__NR_membarrier)
    // Registered for the process (a fork child inherits it), so this
    // cannot fail with EPERM; EINTR cannot happen (it does not sleep).
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) return errno;
    return 0;
#else
    // Never called: `_deferdrop_sleeper_fence_set_up` said no.
    return ENOSYS;
#endif
}
