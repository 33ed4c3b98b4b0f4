// jemalloc, as a system library: Debian's libjemalloc-dev 5.3.0 and most
// distributions' builds are unprefixed, so linking it makes jemalloc the
// allocator of the whole process, the Swift runtime included. The DeferDrop
// module uses only `mallctl`, with the package trait `Jemalloc` on.
#include <jemalloc/jemalloc.h>
