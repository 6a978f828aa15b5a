import LMDB

/// `--as-of`: a view as it was after a position of the log is the newest snapshot at or
/// before it (`SnapshotViews`), with the events since folded over it in memory
/// (`CachedViews`), read on one core: a second one reading the snapshot's rows ahead measured
/// no faster at 10^6 events (tools/benchmark/RESULTS.md, 2026-12-06). Proxies and relations
/// are derived from the few rows their links name, so a read with a limit reads about that many.
extension LMDBStorage {
    /// The rows of `view` after `position`.
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64) throws -> [ViewRow] {
        try env.read { txn in
            // A view had at most one row per event by then: no more than `position`.
            let tables = try viewTables(txn)
            let expected = min(try expectedRows(view, filter: filter, tables, txn), Int(clamping: position))
            let (views, proxiesIndexed) = try viewsAsOf(position, txn)
            return try ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
                .rows(views, expected: expected, proxiesIndexed: proxiesIndexed,
                      viewRows: try viewRows(view, tables, txn).map { min($0, Int(clamping: position)) }) { _ in nil }
        }
    }

    /// The views after `position`: the newest snapshot at or before it, and the events since,
    /// folded in memory over it; with the proxies' indexes when the snapshots keep them
    /// (`proxiesIndexed`), else the proxies are left for `ViewQuery` to derive.
    func viewsAsOf(_ position: UInt64, _ txn: ReadTransaction) throws -> (views: CachedViews<SnapshotViews<ReadTransaction>>, proxiesIndexed: Bool) {
        let state = try log.snapshotState(txn)
        let from = state?.snapshot(atOrBefore: position) ?? 0
        // From nothing, every proxy is folded; from a snapshot, those it keeps.
        let proxiesIndexed = from == 0 || state?.proxies == proxiesSignature
        let runs = state.map { SnapshotRuns.runs(at: from, $0) } ?? []
        let snapshot = try SnapshotViews(txn, runs: runs, slots: log.snapshotSlots, streams: log.streams,
                                         linkRuns: state?.linkRuns ?? [], linkSlots: log.linkSlots, at: from,
                                         proxies: proxiesIndexed ? proxies : [], live: try viewTables(txn))
        let views = CachedViews(base: snapshot, tableCount: ViewTable.count(proxies: proxies.count))
        var fold = ViewFold(proxies: proxiesIndexed ? proxies : [])
        try log.forEachEvent(from: from + 1, through: position, txn) { try fold.apply($0, to: views) }
        return (views, proxiesIndexed)
    }
}
