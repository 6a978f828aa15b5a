import LMDB

extension LMDBStorage {
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64?) throws(StoreError) -> [ViewRow] {
        do {
            if let position { return try rows(of: view, filter: filter, limit: limit, asOf: position) }
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
    func expectedRows(_ view: String, filter: ViewFilter, _ tables: [Database], _ txn: ReadTransaction) throws -> Int {
        guard filter.isEmpty, let table = BaseTable(rowsOf: view) else { return 0 }
        return try txn.entries(tables[table.rawValue])
    }

    /// The rows of `view` read through `views`, whichever storage holds them. Without
    /// `proxiesIndexed` (views folded for `--as-of`), a proxy is derived from its base view:
    /// filtered and sorted here. `expected` sizes the result; it is a hint, not a bound.
    func collectRows(_ view: String, filter: ViewFilter, limit: Int?, expected: Int, views: some KeyValueViews,
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

    /// The table whose rows a read of `view` walks: its own, or its base view's for a proxy.
    func rowTable(of view: String) -> BaseTable? {
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

