import Synchronization

// Types the Swift runtime has never seen, made while a program runs: for the
// fork tests and the soak, which fork while another thread holds the
// runtime's conformance-cache lock (`Docs/Architecture.md`, "fork()").

/// A protocol nothing conforms to: each cast to it is a conformance lookup.
private protocol _NeverConformed {}
private struct _Left<T> {}
private struct _Right<T> {}
private final class _Held<T>: Sendable {}

/// The next number `findConformancesOfNewTypes` turns into a type: no
/// number is used twice in a process, so each type is new to the runtime.
private let nextNewTypeNumber = Atomic<Int>(1 << 20)

/// Asks the runtime whether types it has never seen conform to a protocol,
/// one after another, while `keepGoing` returns true. The runtime records
/// each answer under its conformance-cache lock, so this thread holds that
/// lock much of the time, and a child forked meanwhile inherits it held.
public func findConformancesOfNewTypes(while keepGoing: () -> Bool) {
    while keepGoing() {
        let number = nextNewTypeNumber.add(1, ordering: .relaxed).newValue
        _ = nestedType(number, Int.self) as? any _NeverConformed.Type
    }
}

/// An object of a class whose metadata exists but that no cast has met:
/// `_Held<T>` for a type of its own for each `number` (0 or more).
public func objectOfNewClass(_ number: Int) -> any AnyObject & Sendable {
    precondition(number >= 0, "objectOfNewClass: the number \(number) is negative")
    func make<T>(_: T.Type) -> any AnyObject & Sendable { _Held<T>() }
    return _openExistential(nestedType(number + 2, Double.self), do: make)
}

/// A type of its own for each `number` of 2 or more: below its highest set
/// bit, each bit chooses `_Left` or `_Right` at one level of nesting around
/// `base`.
private func nestedType(_ number: Int, _ base: Any.Type) -> Any.Type {
    guard number > 1 else { return base }
    func left<T>(_: T.Type) -> Any.Type { _Left<T>.self }
    func right<T>(_: T.Type) -> Any.Type { _Right<T>.self }
    func wrap<T>(_ type: T.Type) -> Any.Type { number & 1 == 0 ? left(type) : right(type) }
    return nestedType(number >> 1, _openExistential(base, do: wrap))
}
