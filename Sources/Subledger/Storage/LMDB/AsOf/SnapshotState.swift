/// Where the view snapshots stand: one every `interval` events, taken through `checkpoint`,
/// by the fold of `version`, keeping the entries of the proxies `proxies` names.
struct SnapshotState: Equatable {
    var interval: UInt64
    var version: Int
    var checkpoint: UInt64
    /// The proxies whose ordered indexes the snapshots keep (`SnapshotState.signature`).
    var proxies: UInt64 = 0
    /// Where the snapshots' entries are, oldest first (`SnapshotRuns`).
    var runs: [SnapshotRun] = []
    /// Where the links are (`SnapshotLinks`), oldest first: no link is in two runs.
    var linkRuns: [SnapshotRun] = []

    /// The newest snapshot at or before `position` (0: none, the empty views).
    func snapshot(atOrBefore position: UInt64) -> UInt64 { min(position / interval * interval, checkpoint) }

    /// Whether snapshots are missing that the log has grown past.
    func isBehind(head: UInt64) -> Bool { checkpoint < head / interval * interval }

    /// A digest of proxies' names and versions, in order (FNV-1a): snapshots taken for another
    /// list of proxies number their tables otherwise.
    static func signature(of proxies: [Proxy]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for proxy in proxies {
            for byte in Array(proxy.name.utf8) + [0] + Keys.position(UInt64(bitPattern: Int64(proxy.version))) {
                h = (h ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return h
    }
}
