// The system headers of the layer's branches (see `_DeferDropPlatform.h`),
// included first by every file of the layer. Private to the layer.
#ifndef DEFERDROP_PLATFORM_PRIVATE_H
#define DEFERDROP_PLATFORM_PRIVATE_H

#if defined(DEFERDROP_POSIX_ONLY) && defined(__APPLE__)
#error "DEFERDROP_POSIX_ONLY is for systems without a branch of their own; Darwin has one (it lacks pthread_condattr_setclock)"
#elif defined(DEFERDROP_POSIX_ONLY)
// POSIX.1-2008, C11, and the compiler's `__thread` and `__atomic` builtins:
// what the fallbacks may use on any system.
#define _POSIX_C_SOURCE 200809L
#elif defined(__linux__)
// GNU and Linux extensions: pthread_setname_np, gettid, CPU_COUNT, SCHED_BATCH.
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "_DeferDropPlatform.h"

#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__GLIBC__)
/// glibc has a futex-backed `sem_t` with a monotonic timed wait
/// (`sem_clockwait`, glibc 2.30); elsewhere the semaphore is a condition variable.
#define DEFERDROP_SEMAPHORE_IS_SEM_T 1
#endif

#endif
