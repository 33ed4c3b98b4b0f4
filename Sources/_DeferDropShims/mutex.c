#include "platform.h"

#if defined(DEFERDROP_LAYER_IS_DARWIN)
#include <os/lock.h>

// os_unfair_lock: what Darwin offers for short sections. Its pthread mutex
// hands the lock over in turn (fair), which makes a busy queue convoy.
_Static_assert(sizeof(os_unfair_lock) <= sizeof(_deferdrop_mutex), "os_unfair_lock fits _deferdrop_mutex");
#define UNFAIR(mutex) ((os_unfair_lock *)(void *)(mutex))

int _deferdrop_mutex_init(_deferdrop_mutex *mutex) {
    // Also in a fork child, where the lock may name a thread of the parent as its owner.
    *UNFAIR(mutex) = OS_UNFAIR_LOCK_INIT;
    return 0;
}

void _deferdrop_mutex_destroy(_deferdrop_mutex *mutex) {
    (void)mutex;
}

void _deferdrop_mutex_lock(_deferdrop_mutex *mutex) {
    os_unfair_lock_lock(UNFAIR(mutex));
}

int _deferdrop_mutex_try_lock(_deferdrop_mutex *mutex) {
    return os_unfair_lock_trylock(UNFAIR(mutex));
}

void _deferdrop_mutex_unlock(_deferdrop_mutex *mutex) {
    os_unfair_lock_unlock(UNFAIR(mutex));
}

#else

// A pthread mutex. On Linux with glibc it is adaptive: it spins briefly
// before it sleeps, as fits sections of a few stores, and lets a running
// thread take it ahead of a sleeping one. musl and the POSIX-only branch
// have the default mutex.
_Static_assert(sizeof(pthread_mutex_t) <= sizeof(_deferdrop_mutex), "pthread_mutex_t fits _deferdrop_mutex");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(_deferdrop_mutex), "_deferdrop_mutex is aligned for pthread_mutex_t");
#define PTHREAD(mutex) ((pthread_mutex_t *)(void *)(mutex))

int _deferdrop_mutex_init(_deferdrop_mutex *mutex) {
    pthread_mutexattr_t attributes;
    int result = pthread_mutexattr_init(&attributes);
    if (result != 0) return result;
#if defined(DEFERDROP_LAYER_IS_LINUX) && defined(__GLIBC__)
    // An enumerator in glibc's header, not a macro: test the C library.
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    result = pthread_mutex_init(PTHREAD(mutex), &attributes);
    pthread_mutexattr_destroy(&attributes);
    return result;
}

void _deferdrop_mutex_destroy(_deferdrop_mutex *mutex) {
    pthread_mutex_destroy(PTHREAD(mutex));
}

void _deferdrop_mutex_lock(_deferdrop_mutex *mutex) {
    pthread_mutex_lock(PTHREAD(mutex));
}

int _deferdrop_mutex_try_lock(_deferdrop_mutex *mutex) {
    return pthread_mutex_trylock(PTHREAD(mutex)) == 0;
}

void _deferdrop_mutex_unlock(_deferdrop_mutex *mutex) {
    pthread_mutex_unlock(PTHREAD(mutex));
}

#endif
