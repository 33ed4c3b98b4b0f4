// C helpers that only the tests use: they stay out of the shipped library.
#ifndef DEFERDROP_TEST_SHIMS_H
#define DEFERDROP_TEST_SHIMS_H

/// Copies the calling thread's name into `buffer` (at least 16 bytes); returns 0 or an errno value.
int _deferdrop_get_current_thread_name(char *buffer, unsigned long size);

/// The calling thread's scheduling class, one of the library's
/// DEFERDROP_SCHED_ values, or -1 for any other policy (a real-time one).
int _deferdrop_current_thread_scheduling(void);

/// fork(): Swift's Glibc module does not offer it on every platform.
int _deferdrop_fork(void);

/// Writes a backtrace of every thread of process `pid` to `fd`, with gdb
/// (`thread apply all bt`), giving gdb at most `timeout_seconds`. Returns
/// gdb's exit status, or -1 if gdb could not be run (not installed) or did
/// not finish in time. `pid` is another process: one that traces itself
/// this way waits for gdb while gdb stops it.
int _deferdrop_write_backtraces(int pid, int fd, int timeout_seconds);

#endif
