#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include "_DeferDropTestShims.h"
#include "_DeferDropShims.h"

int _deferdrop_get_current_thread_name(char *buffer, unsigned long size) {
    return pthread_getname_np(pthread_self(), buffer, size);
}

int _deferdrop_current_thread_scheduling(void) {
#ifdef __GLIBC__
    // Asked of the kernel directly, not through the layer under test.
    switch (sched_getscheduler(0)) {
    case SCHED_OTHER: return DEFERDROP_CLASS_LINUX_OTHER;
    case SCHED_BATCH: return DEFERDROP_CLASS_LINUX_BATCH;
    case SCHED_IDLE: return DEFERDROP_CLASS_LINUX_IDLE;
    default: return DEFERDROP_CLASS_OTHER;
    }
#else
    return _deferdrop_current_thread_scheduling_class();
#endif
}

int _deferdrop_test_mutex_is_adaptive(const _deferdrop_mutex *mutex) {
#if defined(__GLIBC__)
    // glibc keeps the type in the mutex's `__kind`, in its low two bits
    // (its PTHREAD_MUTEX_KIND_MASK_NP).
    return (((const pthread_mutex_t *)(const void *)mutex)->__data.__kind & 3) == PTHREAD_MUTEX_ADAPTIVE_NP;
#else
    (void)mutex;
    return -1;
#endif
}

int _deferdrop_test_build_asks_for_posix_only(void) {
#ifdef DEFERDROP_POSIX_ONLY
    return 1;
#else
    return 0;
#endif
}

int _deferdrop_fork(void) {
    return (int)fork();
}

extern char **environ;

int _deferdrop_write_backtraces(int pid, int fd, int timeout_seconds) {
    char pid_text[16];
    snprintf(pid_text, sizeof pid_text, "%d", pid);
    char *argv[] = {
        "gdb", "-nx", "-batch", "-p", pid_text,
        "-ex", "info threads", "-ex", "thread apply all bt", 0,
    };
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fd, 1);
    posix_spawn_file_actions_adddup2(&actions, fd, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t gdb;
    int failed = posix_spawnp(&gdb, "gdb", &actions, 0, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed) return -1;
    int status = 0;
    for (int waited_ms = 0;; waited_ms += 10) {
        pid_t done = waitpid(gdb, &status, WNOHANG);
        if (done == gdb) break;
        if (done < 0 || waited_ms >= timeout_seconds * 1000) {
            kill(gdb, SIGKILL);
            waitpid(gdb, &status, 0);
            return -1;
        }
        struct timespec pause = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
        nanosleep(&pause, 0);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
