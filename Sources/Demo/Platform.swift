// The demo's one import of the C library, for every file of the demo.
#if canImport(Darwin)
@_exported import Darwin
#elseif canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#else
#error("the demo needs a C library: Darwin, Glibc or Musl")
#endif
