extension DropStatistics: CustomStringConvertible {
    /// A one-line summary, e.g. `deferred 10, destroyed 8, pending 2, peak 5`,
    /// then `, inline 3` where values were destroyed inline,
    /// `, released elsewhere 2` where the worker's release was not the last, and
    /// `, reclaimed 61.2 MiB` where reclaimed bytes are known.
    public var description: String {
        var text = "deferred \(deferred), destroyed \(destroyed), pending \(pending), peak \(peakPending)"
        if destroyedInline > 0 { text += ", inline \(destroyedInline)" }
        if releasedElsewhere > 0 { text += ", released elsewhere \(releasedElsewhere)" }
        if let reclaimedBytes { text += ", reclaimed \(_ByteCount.format(reclaimedBytes))" }
        return text
    }
}
