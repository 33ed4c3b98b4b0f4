// The C library for the test support, and for the tests and the soak, which
// reach it through this module: their one import of it.
#if canImport(Darwin)
@_exported import Darwin
#elseif canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#else
#error("the tests and the soak need a C library: Darwin, Glibc or Musl")
#endif
