import LMDB

extension LMDBStorage {
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64?) throws(StoreError) -> [ViewRow] {
        do {
            if let position { return try rows(of: view, filter: filter, limit: limit, asOf: position) }
            return try env.read { txn in
                let tables = try viewTables(txn)
                let views = LMDBViews(txn, tables: tables, streams: log.streams)
                return try ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
                    .rows(views, expected: try expectedRows(view, filter: filter, tables, txn), proxiesIndexed: true,
                          viewRows: try viewRows(view, tables, txn)) { try self.lastSeen(of: $0, txn) }
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    func rows(of view: BaseView, ids: [EntityID], asOf position: UInt64?) throws(StoreError) -> [ViewRow] {
        do {
            return try env.read { txn in
                func read(_ views: some ViewState, lastSeen: (EntityID) throws -> Timestamp?) throws -> [ViewRow] {
                    try ids.compactMap { id in
                        guard let p = try views.creationPosition(of: id), let row = try views.anyRow(view, at: p), row.id == id else { return nil }
                        return row.viewRow(lastSeen: view == .users ? try lastSeen(id) : nil)
                    }
                }
                if let position { return try read(try viewsAsOf(position, txn).views) { _ in nil } }
                return try read(LMDBViews(txn, tables: try viewTables(txn), streams: log.streams)) { try self.lastSeen(of: $0, txn) }
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// About how many rows an unfiltered `view` holds now (an O(1) count of its LMDB table,
    /// without the changes in its delta), to size the result once: growing an array of 10^5 rows
    /// step by step copies it and faults in fresh pages at every step. 0 when a filter makes the
    /// count meaningless.
    func expectedRows(_ view: String, filter: ViewFilter, _ tables: [ViewDatabase], _ txn: ReadTransaction) throws -> Int {
        guard filter.isEmpty, let table = BaseTable(rowsOf: view) else { return 0 }
        return try txn.entries(tables[table.rawValue].main)
    }

    /// About how many rows the table a read of `view` walks holds now (an O(1) count, as
    /// `expectedRows`), unfiltered: what the read's plan weighs, not a bound.
    func viewRows(_ view: String, _ tables: [ViewDatabase], _ txn: ReadTransaction) throws -> Int? {
        guard let table = rowTable(of: view) else { return nil }
        return try txn.entries(tables[table.rawValue].main)
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
                                              checkpoint: base?.checkpoint ?? 0, rows: try tables[table.rawValue].entries(txn),
                                              version: BaseViews.version))
                }
                for (i, proxy) in proxies.enumerated() {
                    let state = try log.projectionState(proxy.name, txn)
                    out.append(ProjectionInfo(name: proxy.name, kind: .proxy, checkpoint: state?.checkpoint ?? 0,
                                              rows: try tables[ViewTable.proxy(i).slot].entries(txn), version: proxy.version))
                }
                return out
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }
}

