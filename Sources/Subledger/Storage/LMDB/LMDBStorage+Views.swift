import LMDB

extension LMDBStorage {
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64?) throws(StoreError) -> [ViewRow] {
        do {
            if let position {
                return try env.read { txn in
                    // A view had at most one row per event by then: no more than `position`.
                    let expected = min(try expectedRows(view, filter: filter, try viewTables(txn), txn), Int(clamping: position))
                    let views = try viewsAsOf(position, txn, readingAhead: rowTable(of: view))
                    if filter.isEmpty, let base = BaseView(rawValue: view),
                       let shown = try shownRows(of: base, views, limit: limit, expected: expected) {
                        return shown
                    }
                    return try collectRows(view, filter: filter, limit: limit, expected: expected, views: views,
                                           proxiesIndexed: false) { _ in nil }
                }
            }
            return try env.read { txn in
                let tables = try viewTables(txn)
                let views = LMDBViews(txn, tables: tables, streams: log.streams)
                return try collectRows(view, filter: filter, limit: limit, expected: try expectedRows(view, filter: filter, tables, txn),
                                       views: views, proxiesIndexed: true) {
                    try self.lastSeen(of: $0, txn)
                }
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// How many rows an unfiltered `view` holds now (an O(1) count of its LMDB table), to size
    /// the result once: growing an array of 10^5 rows step by step copies it and faults in
    /// fresh pages at every step. 0 when a filter makes the count meaningless.
    private func expectedRows(_ view: String, filter: ViewFilter, _ tables: [Database], _ txn: ReadTransaction) throws -> Int {
        guard filter.isEmpty, let table = BaseTable(rowsOf: view) else { return 0 }
        return try txn.entries(tables[table.rawValue])
    }

    /// The rows of `view` read through `views`, whichever storage holds them. Without
    /// `proxiesIndexed` (views folded for `--as-of`), a proxy is derived from its base view:
    /// filtered and sorted here. `expected` sizes the result; it is a hint, not a bound.
    private func collectRows(_ view: String, filter: ViewFilter, limit: Int?, expected: Int, views: some KeyValueViews,
                             proxiesIndexed: Bool, lastSeen: (EntityID) throws -> Timestamp?) throws -> [ViewRow] {
        let match = try RowMatcher(view: view, filter: filter, views: views)
        var out: [ViewRow] = []
        let limit = limit ?? .max
        guard limit > 0 else { return [] }
        // Untouched capacity costs address space only: the pages are faulted in as rows arrive.
        out.reserveCapacity(hugePagesFor: min(expected, limit))
        func take(_ row: AnyRow, _ shown: @autoclosure () throws -> ViewRow?) throws -> Bool {
            guard try match.matches(row) else { return true }
            if let shown = try shown() { out.append(shown) }
            return out.count < limit
        }
        if let base = BaseView(rawValue: view) {
            try views.forEachRow(of: base) { _, row in
                try take(row, row.viewRow(lastSeen: base == .users ? try lastSeen(row.id) : nil))
            }
        } else if view == "team_plans" {
            try views.forEachRow(TeamPlanRow.self, .teamPlans) { p, team in
                guard let plan = try views.row(PlanRow.self, .plans, at: p) else { return true }
                let row = AnyRow.plan(plan, team)
                return try take(row, row.teamPlanRow)
            }
        } else if let i = proxies.firstIndex(where: { $0.name == view }) {
            let proxy = proxies[i]
            let lookup = ProxyLookup(reader: views)
            func show(_ row: AnyRow) throws -> ViewRow {
                var shown = row.viewRow(lastSeen: proxy.base == .users ? try lastSeen(row.id) : nil)
                for d in proxy.derived { shown.appendDerived(d.name, try d.value(row, lookup)) }
                return shown
            }
            if proxiesIndexed {
                try views.forEach(.proxy(i)) { key in
                    let p = Keys.readPosition(key, at: key.count - 8)
                    guard let row = try views.anyRow(proxy.base, at: p) else { return true }
                    return try take(row, show(row))
                }
            } else {
                var members: [(key: [UInt8], row: AnyRow)] = []
                try views.forEachRow(of: proxy.base) { p, row in
                    if try proxy.filter(row, lookup) { members.append((proxy.indexKey(row, position: p), row)) }
                    return true
                }
                members.sort { $0.key.lexicographicallyPrecedes($1.key) }
                for member in members where try !take(member.row, show(member.row)) { break }
            }
        }
        return out
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

    /// The table whose rows a read of `view` walks: its own, or its base view's for a proxy.
    private func rowTable(of view: String) -> BaseTable? {
        BaseTable(rowsOf: view) ?? proxies.first { $0.name == view }?.base.table
    }

    func lastSeen(of id: EntityID, _ txn: some ReadableTransaction) throws -> Timestamp? {
        guard let v = try txn.get(log.lastSeen, id.raw) else { return nil }
        var r = BinaryReader(v)
        return try r.time()
    }

    func projections() throws(StoreError) -> [ProjectionInfo] {
        do {
            return try env.read { txn in
                let base = try log.projectionState(BaseViews.name, txn)
                let tables = try viewTables(txn)
                var out: [ProjectionInfo] = []
                for name in ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] {
                    guard let table = BaseTable(rowsOf: name) else { continue }
                    out.append(ProjectionInfo(name: name, kind: name == "team_plans" ? .child : .base,
                                              checkpoint: base?.checkpoint ?? 0, rows: try txn.entries(tables[table.rawValue]),
                                              version: BaseViews.version))
                }
                for (i, proxy) in proxies.enumerated() {
                    let state = try log.projectionState(proxy.name, txn)
                    out.append(ProjectionInfo(name: proxy.name, kind: .proxy, checkpoint: state?.checkpoint ?? 0,
                                              rows: try txn.entries(tables[ViewTable.proxy(i).slot]), version: proxy.version))
                }
                return out
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }
}

