/// One write transaction of a ledger's storage: the log, the views the fold writes, and the
/// snapshots of them, committed together or not at all.
protocol LedgerWriting: LogWriting {
    associatedtype Views: ViewStateWriting
    /// The active views, as this transaction sees and changes them.
    var views: Views { get }
    /// Events between two view snapshots, when this storage keeps them.
    var snapshotInterval: UInt64? { get }
    /// Stores the snapshot of the views right after the event at `position` was folded.
    func takeSnapshot(at position: UInt64) throws
    /// The views (and the named projections, at their versions) now follow the log through `head`.
    func viewsFollowed(through head: UInt64, projections: [(name: String, version: Int)]) throws
}
