extension DropWorker {
    /// A snapshot of this worker's counters.
    ///
    /// Exact after `flush()`: see ``DropStatistics``.
    public var statistics: DropStatistics {
        _queue.statistics
    }
}
