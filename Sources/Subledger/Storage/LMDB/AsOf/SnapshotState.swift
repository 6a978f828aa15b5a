/// Where the view snapshots stand: one every `interval` events, taken through `checkpoint`,
/// by the fold of `version`.
struct SnapshotState: Equatable {
    var interval: UInt64
    var version: Int
    var checkpoint: UInt64

    /// The newest snapshot at or before `position` (0: none, the empty views).
    func snapshot(atOrBefore position: UInt64) -> UInt64 { min(position / interval * interval, checkpoint) }

    /// Whether snapshots are missing that the log has grown past.
    func isBehind(head: UInt64) -> Bool { checkpoint < head / interval * interval }
}
