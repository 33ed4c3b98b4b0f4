#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include "_DeferDropTestShims.h"
#include "_DeferDropShims.h"

int _deferdrop_get_current_thread_name(char *buffer, unsigned long size) {
    return pthread_getname_np(pthread_self(), buffer, size);
}

int _deferdrop_current_thread_scheduling(void) {
    switch (sched_getscheduler(0)) {
    case SCHED_OTHER: return DEFERDROP_SCHED_NORMAL;
    case SCHED_BATCH: return DEFERDROP_SCHED_BATCH;
    case SCHED_IDLE: return DEFERDROP_SCHED_IDLE;
    default: return -1;
    }
}

int _deferdrop_fork(void) {
    return (int)fork();
}
