import LMDB

/// `--as-of`: a view as it was after a position of the log is the newest snapshot at or
/// before it (`SnapshotViews`), with the events since folded over it in memory
/// (`CachedViews`); a large snapshot's rows are read in ranges on both cores meanwhile
/// (`SnapshotRowRanges`).
extension LMDBStorage {
    /// The rows of `view` after `position`.
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64) throws -> [ViewRow] {
        try env.read { txn in
            // A view had at most one row per event by then: no more than `position`.
            let expected = min(try expectedRows(view, filter: filter, try viewTables(txn), txn), Int(clamping: position))
            let views = try viewsAsOf(position, txn, readingAhead: rowTable(of: view))
            if filter.isEmpty, let base = BaseView(rawValue: view),
               let shown = try shownRows(of: base, views, limit: limit, expected: expected) {
                return shown
            }
            return try ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
                .rows(views, expected: expected, proxiesIndexed: false) { _ in nil }
        }
    }

    /// The base views after `position`: the newest snapshot at or before it, and the events
    /// since, folded in memory over it. Proxies are not folded: `ViewQuery` derives them.
    /// With `readingAhead`, the rows of that table in a large snapshot are read in ranges on a
    /// second core meanwhile (`SnapshotRowRanges`).
    func viewsAsOf(_ position: UInt64, _ txn: ReadTransaction,
                   readingAhead table: BaseTable? = nil) throws -> CachedViews<SnapshotViews<ReadTransaction>> {
        let state = try log.snapshotState(txn)
        let from = state?.snapshot(atOrBefore: position) ?? 0
        let ranges = table.flatMap { table in state.flatMap { readAhead(table, at: from, $0) } }
        let next = from + (state?.interval ?? 0)
        let changedAfter: SnapshotViews<ReadTransaction>.ChangedAfter? = state.map {
            next <= $0.checkpoint ? .deletedIn(snapshot: next) : .pending(log.pendingSnapshot)
        }
        let snapshot = try SnapshotViews(txn, snapshots: log.snapshots, streams: log.streams, at: from, ranges: ranges,
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

    /// How many ranges a snapshot's rows are read in: enough that two threads taking them in
    /// turn end close together, few enough that a range's set-up is nothing beside its rows.
    static let snapshotRanges = 32

    /// Starts reading the rows of `table` at snapshot `at` in ranges on a thread and in a read
    /// transaction of its own, while this thread folds the events after the snapshot; this
    /// thread then reads the ranges nobody has taken. The helper's rows are used only if its
    /// transaction sees the same snapshots: `rebuildSnapshots` may have taken them again
    /// meanwhile, and with another interval they would differ.
    private func readAhead(_ table: BaseTable, at: UInt64, _ state: SnapshotState) -> SnapshotRowRanges? {
        guard at > 0, at >= options.readAheadMinimum, table != .teamPlans else { return nil }
        let env = self.env, log = self.log
        return SnapshotRowRanges(table: table, at: at, count: LMDBStorage.snapshotRanges) { work in
            // Never a wait for the gate: a resize pending in this process waits for the caller's
            // transaction, and the caller may wait for these rows.
            _ = try env.readWithoutWaiting { txn in
                guard let seen = try log.snapshotState(txn), seen.interval == state.interval, seen.version == state.version,
                      seen.checkpoint >= at else { return }
                let cursor = try txn.cursor(log.snapshots)
                defer { cursor.close() }
                work { range, stop in try SnapshotRowRanges.read(table, range, at: at, cursor, stop: stop) }
            }
        }
    }

    /// A whole base view as of a snapshot read in ranges (`SnapshotRowRanges`): each range's
    /// rows appended as they are, but where the fold of the window after the snapshot holds
    /// rows of its own. nil when the view's rows are not read in ranges.
    private func shownRows(of view: BaseView, _ views: CachedViews<SnapshotViews<ReadTransaction>>,
                           limit: Int?, expected: Int) throws -> [ViewRow]? {
        guard views.base.ranges?.table == view.table else { return nil }
        let limit = limit ?? .max
        guard limit > 0 else { return [] }
        let folded = views.cachedRows(of: view.table)
        var merge = PositionMerge(folded.keys.sorted())
        var out: [ViewRow] = []
        out.reserveCapacity(hugePagesFor: min(expected, limit))
        func takeFolded(_ p: UInt64) {
            if let row = folded[p].flatMap({ $0 })?.anyRow { out.append(row.viewRow()) }
        }
        try views.base.forEachRange(dropping: true) { positions, rows in
            guard let first = positions.first, let last = positions.last else { return true }
            while let p = merge.next(before: first) { takeFolded(p) }
            if merge.upcoming.map({ $0 > last }) ?? true {
                out.append(contentsOf: rows)
            } else {
                for (i, p) in positions.enumerated() {
                    while let q = merge.next(before: p) { takeFolded(q) }
                    if merge.take(p) { takeFolded(p) } else { out.append(rows[i]) }
                }
            }
            return out.count < limit
        }
        while out.count < limit, let p = merge.next() { takeFolded(p) }
        if out.count > limit { out.removeSubrange(limit...) }
        return out
    }
}
