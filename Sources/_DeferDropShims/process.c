#include "platform.h"

int _deferdrop_at_exit(void (*handler)(void)) {
    return atexit(handler) == 0 ? 0 : ENOMEM;
}

int _deferdrop_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    return pthread_atfork(prepare, parent, child);
}

void _deferdrop_write_to_standard_error(const void *bytes, size_t count) {
    const char *next = bytes;
    while (count > 0) {
        ssize_t written = write(2, next, count);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        next += written;
        count -= (size_t)written;
    }
}
