extension DropStatistics: CustomStringConvertible {
    /// A one-line summary, `deferred 10, destroyed 8, pending 2, peak 5`, then
    /// the inline, released-elsewhere and reclaimed figures where nonzero or known.
    public var description: String {
        var text = "deferred \(deferred), destroyed \(destroyed), pending \(pending), peak \(peakPending)"
        if destroyedInline > 0 { text += ", inline \(destroyedInline)" }
        if releasedElsewhere > 0 { text += ", released elsewhere \(releasedElsewhere)" }
        if let reclaimedBytes { text += ", reclaimed \(_ByteCount.format(reclaimedBytes))" }
        return text
    }
}
