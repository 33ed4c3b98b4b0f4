#define _GNU_SOURCE
#include <pthread.h>
#include "_DeferDropShims.h"

int _deferdrop_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int _deferdrop_get_current_thread_name(char *buffer, unsigned long size) {
    return pthread_getname_np(pthread_self(), buffer, size);
}
