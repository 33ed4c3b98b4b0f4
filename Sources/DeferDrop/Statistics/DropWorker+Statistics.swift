extension DropWorker {
    /// A snapshot of this worker's counters, exact after `flush()`.
    public var statistics: DropStatistics {
        _queue.statistics
    }
}
