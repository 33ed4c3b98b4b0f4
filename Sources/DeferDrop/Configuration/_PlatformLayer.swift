import _DeferDropShims

/// Which branch of the C platform layer (`_DeferDropPlatform.h`) this build
/// runs on, for tests and diagnostics.
package enum _PlatformLayer: String, Sendable {
    case linux
    case darwin
    /// POSIX and C11 only: other systems, or `-Xcc -DDEFERDROP_POSIX_ONLY`.
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
