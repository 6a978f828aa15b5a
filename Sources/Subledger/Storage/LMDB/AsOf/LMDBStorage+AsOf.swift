import LMDB

/// `--as-of`: a view as it was after a position of the log is the newest snapshot at or
/// before it (`SnapshotViews`), with the events since folded over it in memory
/// (`CachedViews`), read on one core: a second one reading the snapshot's rows ahead measured
/// no faster at 10^6 events (tools/benchmark/RESULTS.md, 2026-12-06).
extension LMDBStorage {
    /// The rows of `view` after `position`.
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64) throws -> [ViewRow] {
        try env.read { txn in
            // A view had at most one row per event by then: no more than `position`.
            let expected = min(try expectedRows(view, filter: filter, try viewTables(txn), txn), Int(clamping: position))
            let views = try viewsAsOf(position, txn)
            return try ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
                .rows(views, expected: expected, proxiesIndexed: false) { _ in nil }
        }
    }

    /// The base views after `position`: the newest snapshot at or before it, and the events
    /// since, folded in memory over it. Proxies are not folded: `ViewQuery` derives them.
    func viewsAsOf(_ position: UInt64, _ txn: ReadTransaction) throws -> CachedViews<SnapshotViews<ReadTransaction>> {
        let state = try log.snapshotState(txn)
        let from = state?.snapshot(atOrBefore: position) ?? 0
        let next = from + (state?.interval ?? 0)
        let changedAfter: SnapshotViews<ReadTransaction>.ChangedAfter? = state.map {
            next <= $0.checkpoint ? .deletedIn(snapshot: next) : .pending(log.pendingSnapshot)
        }
        let snapshot = try SnapshotViews(txn, snapshots: log.snapshots, streams: log.streams, at: from,
                                         live: try viewTables(txn), changedAfter: changedAfter)
        let views = CachedViews(base: snapshot, tableCount: BaseTable.allCases.count)
        var fold = ViewFold(proxies: [])
        var p = from + 1
        while p <= position {
            let events = try log.events(from: p, to: position, limit: 4096, txn)
            guard let last = events.last else { break }
            for event in events { try fold.apply(event, to: views) }
            p = last.position + 1
        }
        return views
    }
}
