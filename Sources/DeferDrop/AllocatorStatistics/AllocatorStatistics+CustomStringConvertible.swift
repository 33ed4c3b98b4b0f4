extension AllocatorStatistics: CustomStringConvertible {
    /// The known figures in binary units: `jemalloc 5.3.0: allocated 12.4 MiB, …`.
    public var description: String {
        let figures: [(String, UInt64?)] = [
            ("allocated", allocated), ("active", active), ("resident", resident),
            ("mapped", mapped), ("retained", retained),
        ]
        let known = figures.compactMap { name, bytes in bytes.map { "\(name) \(_ByteCount.format($0))" } }
        return "\(backend): " + (known.isEmpty ? "no figures available" : known.joined(separator: ", "))
    }
}

extension AllocatorStatistics.Backend: CustomStringConvertible {
    /// `jemalloc 5.3.0`, `glibc 2.36`, `Darwin malloc` or `unknown allocator`.
    public var description: String {
        switch self {
        case .jemalloc(let version):
            "jemalloc " + (version.split(separator: "-").first.map(String.init) ?? version)
        case .glibc(let version):
            "glibc " + version
        case .darwin:
            "Darwin malloc"
        case .unknown:
            "unknown allocator"
        }
    }
}
