/// How far a worker may fall behind, in time or in values, before a hand-off
/// destroys its value itself or waits.
///
/// The default, ``default``, is ``unbounded``: the Rust crate's promise.
/// Every value handed over is destroyed on the worker, never on the thread
/// that hands it over, and each producer's values in its order, however far
/// behind the worker is. The crate says it plainly: "if you produce more
/// garbage than the thread can handle, this will cause unbounded memory
/// consumption". On a saturated server it serves fewer requests than dropping
/// inline, with a longer tail and gigabytes of queued garbage
/// (<doc:WhenDeferringPays> has the figures).
///
/// A saturated server is better served by a time bound, one line at startup:
///
/// ```swift
/// DropWorker.shared.capacity = .server  // .timeBounded(maximumWait: .milliseconds(20))
/// ```
///
/// While the worker keeps up, every value is deferred; while it is more than
/// 20 ms behind, hand-offs destroy their values inline, as without deferring.
/// Such a worker runs at ``DropPriority/idle`` unless told otherwise (see
/// ``defaultPriority``), so deferring uses CPU your threads leave. On a
/// saturated server the producers then free nearly every value themselves,
/// and the server keeps close to dropping inline's tail, memory and
/// throughput (<doc:WhenDeferringPays>).
///
/// A count bound caps the backlog in values. *Pending* values are the ones
/// handed over and not yet destroyed, counting the one being destroyed right
/// now, so with `.bounded(n, …)` at most `n` values' worth of memory waits on
/// the worker at any moment and ``DropStatistics/peakPending`` never exceeds
/// `n`.
///
/// ```swift
/// // At most 64 responses waiting to be freed; past that, producers wait.
/// let worker = DropWorker(name: "responses", capacity: .bounded(64, whenFull: .block))
/// ```
///
/// One exception keeps a bound from deadlocking: a destructor running on a
/// worker that hands further values to *that same* worker (a value holding
/// ``DeferDrop`` wrappers) is never held back. Those values are destroyed in
/// place, which adds nothing pending; past ``DropWorker/maximumNestingDepth``
/// levels, or for a value still referenced elsewhere, they are queued even
/// when the worker is full, since waiting would wait for the worker itself.
/// Their memory was already part of the value being destroyed, so the memory
/// bound still holds, but ``DropStatistics/peakPending`` counts the queued
/// ones and may then exceed `n`.
///
/// With ``OverflowPolicy/block``, a full worker blocks the producer's
/// *thread*, a cooperative-pool thread when the hand-off happens in an
/// `async` function: see ``OverflowPolicy/block``.
public enum DropCapacity: Sendable, Hashable {
    /// No bound: every hand-off is queued, the Rust crate's strict behaviour,
    /// and the ``default``.
    ///
    /// Every value leaves the dropping thread, however far behind the worker
    /// is. A worker that cannot keep up (a saturated machine) holds ever more
    /// memory, and takes CPU from your threads to free it: see the figures
    /// above. A worker with this capacity runs at ``DropPriority/batch``
    /// unless told otherwise.
    case unbounded

    /// At most `count` values pending; a hand-off that finds the worker full
    /// does what `whenFull` says. `count` must be at least 1.
    case bounded(Int, whenFull: OverflowPolicy)

    /// Bounded in time rather than in count: while the worker keeps up,
    /// every value is deferred; once it has been busy with one batch, or has
    /// not started on values woken for, for longer than `maximumWait`, it is
    /// *behind*, and stays so until it has caught up with everything queued.
    ///
    /// While the worker is behind:
    /// - a hand-off destroys its value inline, on the producer's thread, as
    ///   without deferring;
    /// - first, if the worker holds none of the queued values right then,
    ///   that producer takes every queued value and destroys them, oldest
    ///   first, for up to `maximumWait` (the rest goes back to the queue);
    /// - the worker, at its next value past `maximumWait` into a batch,
    ///   gives the rest of the batch back to the queue, and then stands
    ///   aside for up to `maximumWait` at a time, leaving the queue to the
    ///   producers. It takes the queue back when no producer made progress
    ///   with it in that time.
    ///
    /// Why: values a worker has not reached stay allocated for as long as it
    /// is behind, which on a saturated machine, at ``DropPriority/idle``, can
    /// be seconds; memory freed late is memory the allocator cannot reuse,
    /// and glibc's malloc then grows and trims its heaps over and over. So
    /// the values queued while the worker was keeping up are freed by the
    /// threads that have CPU, in order, and the worker holds at most the
    /// value it is destroying and what it took in the last `maximumWait`.
    ///
    /// A count says nothing about memory or time (one value may be 10 bytes
    /// or 100 MB); a wait does. A worker that cannot keep up (one thread
    /// freeing what several produce, or a worker that the machine's load
    /// leaves no CPU) then holds about twice `maximumWait`'s worth of
    /// production at most, and the producers, instead of piling up memory,
    /// free what they drop themselves, as without deferring. Those values
    /// leave the crate's promise, "never on the dropping thread", as this
    /// policy chooses to: each counts in
    /// ``DropStatistics/destroyedInline``, and it happens only while the
    /// worker is behind. A value taken from the queue by a producer may be
    /// destroyed on another producer's thread than the one that handed it
    /// over. Every value handed over is destroyed exactly once, and the ones
    /// that leave their producer's thread keep that producer's order: the
    /// worker and the producers take turns with the queue, one at a time,
    /// always from its head. An inline one is freed ahead of its producer's
    /// values still queued.
    ///
    /// A producer never waits for such a worker either: one that finds the
    /// worker inside its (short) critical section for longer than a few
    /// hundred tries, as happens when a worker at ``DropPriority/idle`` is
    /// preempted there on a busy machine, also destroys its value inline.
    ///
    /// The wait is read from the kernel's coarse monotonic clock, whose tick
    /// is 1 to 4 ms: a `maximumWait` of a few ticks (10 ms and more) is
    /// precise enough. It must be positive. A thread that hands values over
    /// faster than the clock ticks reads it at one hand-off in up to 32, so
    /// up to 31 of its hand-offs past the bound may still be queued; a
    /// slower one, such as a server handing over one value per request,
    /// reads it at every hand-off.
    ///
    /// A worker with this capacity runs at ``DropPriority/idle`` unless told
    /// otherwise, so that it takes only CPU your threads leave: see
    /// ``defaultPriority``. ``server`` is this policy at 20 ms.
    case timeBounded(maximumWait: Duration)
}

extension DropCapacity {
    /// The capacity of ``DropWorker/shared``, and of every worker and pool
    /// made without one: ``unbounded``, the Rust crate's promise. Every value
    /// is destroyed on a worker, never on the thread that hands it over, and
    /// each producer's values in its order.
    public static let `default` = DropCapacity.unbounded

    /// The time-bounded policy for a saturated server,
    /// `.timeBounded(maximumWait: .milliseconds(20))`: set it at startup with
    /// `DropWorker.shared.capacity = .server`.
    ///
    /// 20 ms is five or more ticks of the coarse clock the bound reads: short
    /// enough that a worker that falls behind holds a few tens of milliseconds
    /// of production at most, and long enough that a worker busy with a batch
    /// of ordinary size does not count as behind.
    public static let server = DropCapacity.timeBounded(maximumWait: .milliseconds(20))

    /// The scheduling class of a worker made with this capacity and no
    /// priority: ``DropPriority/idle`` for ``timeBounded(maximumWait:)``,
    /// ``DropPriority/batch`` otherwise.
    ///
    /// Why they differ: a time-bounded worker that the machine leaves no CPU
    /// falls behind, and its producers then free their values themselves, as
    /// without deferring, so at `idle` it takes only the CPU your threads
    /// leave. A worker with no bound, or with a count bound whose
    /// producers wait (``OverflowPolicy/block``), must get CPU whatever the
    /// load, or its memory grows or its producers stall: `batch` gives it a
    /// fair share.
    public var defaultPriority: DropPriority {
        switch self {
        case .timeBounded: .idle
        case .unbounded, .bounded: .batch
        }
    }
}

extension DropCapacity {
    /// The bound and its policy, or `nil` for `.unbounded`, after checking the
    /// count. `owner` names the initializer in the message.
    package func _checkedBound(for owner: String) -> (count: UInt64, policy: OverflowPolicy)? {
        switch self {
        case .unbounded, .timeBounded:
            return nil
        case .bounded(let count, let policy):
            _precondition(
                count >= 1,
                "\(Self.site(owner, ".bounded(\(count), …)")): the capacity must be at least 1")
            return (UInt64(count), policy)
        }
    }
}

extension DropCapacity {
    /// The maximum wait of `.timeBounded`, in nanoseconds, after checking it;
    /// `nil` for the other cases. `owner` names the initializer in the message.
    package func _checkedMaximumWait(for owner: String) -> UInt64? {
        guard case .timeBounded(let maximumWait) = self else { return nil }
        _precondition(
            maximumWait > .zero,
            "\(Self.site(owner, ".timeBounded(maximumWait: \(maximumWait))")): the wait must be positive")
        return maximumWait._nanoseconds
    }
}

extension DropCapacity {
    /// Where a bad capacity was given, for a precondition's message: an
    /// initializer (`DropWorker(capacity: …)`) or a property
    /// (`DropWorker.capacity = …`), as `owner` names it.
    static func site(_ owner: String, _ value: String) -> String {
        owner.hasSuffix(".capacity") ? "\(owner) = \(value)" : "\(owner)(capacity: \(value))"
    }
}
