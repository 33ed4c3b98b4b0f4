import _DeferDropShims

/// Which branch of the C platform layer this build runs on
/// (`_DeferDropPlatform.h`): for the package's tests and diagnostics.
package enum _PlatformLayer: String, Sendable {
    /// Linux, glibc or musl: membarrier(), scheduling policies, `sem_t` with glibc.
    case linux
    /// Apple platforms: `os_unfair_lock`, QoS classes, malloc zones.
    case darwin
    /// POSIX and C11 only: any other system, or Linux built with
    /// `-Xcc -DDEFERDROP_POSIX_ONLY`.
    case posixOnly = "posix-only"

    /// The branch the layer's compiled code uses.
    package static let current = _PlatformLayer(_deferdrop_platform_layer())

    /// The branch the C headers select where the calling module reads them.
    package static let ofHeaders = _PlatformLayer(_deferdrop_platform_layer_of_headers())

    private init(_ number: Int32) {
        switch Int(number) {
        case Int(DEFERDROP_LAYER_LINUX): self = .linux
        case Int(DEFERDROP_LAYER_DARWIN): self = .darwin
        default: self = .posixOnly
        }
    }
}
