// jemalloc, as a system library. Debian's libjemalloc-dev and most Linux
// distributions' builds are unprefixed, so linking it makes jemalloc the
// allocator of the whole process, the Swift runtime included. On macOS
// jemalloc's default build (Homebrew's) prefixes its API with `je_` and
// serves the default malloc zone; its header maps `mallctl` to the prefixed
// name. The DeferDrop module uses only `mallctl`, with the package trait
// `Jemalloc` on, through the wrapper below, which reads the same either way.
#include <stddef.h>
#include <jemalloc/jemalloc.h>

static inline int _deferdrop_mallctl(const char *name, void *old, size_t *old_length, void *new_value, size_t new_length) {
    return mallctl(name, old, old_length, new_value, new_length);
}
