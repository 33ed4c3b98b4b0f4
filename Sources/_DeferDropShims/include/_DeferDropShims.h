// C helpers for the package's Swift modules: the few Linux calls Swift cannot
// reach through Glibc's module (GNU extensions that need _GNU_SOURCE, and
// macros such as CPU_COUNT). Internal to the package; not an API.
#ifndef DEFERDROP_SHIMS_H
#define DEFERDROP_SHIMS_H

/// Names the calling thread. Linux keeps at most 15 bytes; returns 0 or an errno value.
int _deferdrop_set_current_thread_name(const char *name);

/// Copies the calling thread's name into `buffer` (at least 16 bytes); returns 0 or an errno value.
int _deferdrop_get_current_thread_name(char *buffer, unsigned long size);

/// The number of processors the calling thread may run on (its CPU affinity
/// mask, which `taskset` and container cpusets narrow), or the number online
/// if the mask cannot be read. At least 1.
long _deferdrop_active_processor_count(void);

/// glibc malloc's view of the heap, from `mallinfo2()`: the bytes in use in
/// allocations (`uordblks + hblkhd`) and the bytes obtained from the system
/// (`arena + hblkhd`). Returns 0, or -1 where the C library is not glibc 2.33+.
int _deferdrop_glibc_malloc_info(unsigned long long *in_use, unsigned long long *obtained);

/// glibc's version, such as "2.36", or NULL where the C library is not glibc.
const char *_deferdrop_glibc_version(void);

#endif
