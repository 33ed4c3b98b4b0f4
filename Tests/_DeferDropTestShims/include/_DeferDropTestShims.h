// C helpers that only the tests use: they stay out of the shipped library.
#ifndef DEFERDROP_TEST_SHIMS_H
#define DEFERDROP_TEST_SHIMS_H

#include "_DeferDropPlatform.h"

/// Copies the calling thread's name into `buffer` (at least 16 bytes); returns 0 or an errno value.
int _deferdrop_get_current_thread_name(char *buffer, unsigned long size);

/// The calling thread's scheduling class, one of the platform layer's
/// DEFERDROP_CLASS_ values, read from the system without the layer where
/// the tests know how (glibc).
int _deferdrop_current_thread_scheduling(void);

/// Whether `mutex`, initialized by the platform layer, is glibc's adaptive
/// mutex: 1 or 0, or -1 where the C library is not glibc.
int _deferdrop_test_mutex_is_adaptive(const _deferdrop_mutex *mutex);

/// Whether the tests' own C code was compiled with DEFERDROP_POSIX_ONLY:
/// what the build asked for, seen from outside the layer.
int _deferdrop_test_build_asks_for_posix_only(void);

/// fork(): Swift's Glibc module does not offer it on every platform.
int _deferdrop_fork(void);

/// Forks `forks` times while a thread appends to a lane, another takes from
/// it without a lock and a third churns the shared chunk pool (lane_fork.c);
/// returns how many children read a value from the wrong slot or did not
/// finish in ten seconds, or a negative number if a thread of the parent
/// failed. The fork handlers must be installed first.
int _deferdrop_test_lane_fork_stress(int forks);

/// Writes a backtrace of every thread of process `pid` to `fd`, with gdb
/// (`thread apply all bt`), giving gdb at most `timeout_seconds`. Returns
/// gdb's exit status, or -1 if gdb could not be run (not installed) or did
/// not finish in time. `pid` is another process: one that traces itself
/// this way waits for gdb while gdb stops it.
int _deferdrop_write_backtraces(int pid, int fd, int timeout_seconds);

#endif
