/// A read of one view, as `show` asks it: the view's name, its filters and a limit, over any
/// storage's `ViewState`.
struct ViewQuery {
    let view: String
    let filter: ViewFilter
    let limit: Int?
    let proxies: [Proxy]

    /// The rows of the view read through `views`, whichever storage holds them. Without
    /// `proxiesIndexed` (views folded for `--as-of` without the proxies), a proxy is derived
    /// from its base view: filtered and sorted here. `expected` sizes the result; it is a
    /// hint, not a bound. `viewRows`, the rows of the view's table (nil: unknown), decides
    /// whether a filter across a relation reads the related rows or walks the view.
    func rows(_ views: some ViewState, expected: Int, proxiesIndexed: Bool, viewRows: Int? = nil,
              lastSeen: (EntityID) throws -> Timestamp?) throws -> [ViewRow] {
        try withoutActuallyEscaping(lastSeen) { lastSeen in
            try read(views, expected: expected, proxiesIndexed: proxiesIndexed, viewRows: viewRows, lastSeen: lastSeen)
        }
    }

    private func read(_ views: some ViewState, expected: Int, proxiesIndexed: Bool, viewRows: Int?,
                      lastSeen: @escaping (EntityID) throws -> Timestamp?) throws -> [ViewRow] {
        let match = try RowMatcher(view: view, filter: filter, views: views)
        var out: [ViewRow] = []
        let limit = limit ?? .max
        guard limit > 0 else { return [] }
        // Untouched capacity costs address space only: the pages are faulted in as rows arrive.
        out.reserveCapacity(hugePagesFor: min(expected, limit))
        // A walk with a budget gives up after that many rows, for the rows a filter names.
        var budget = Int.max, walked = 0, gaveUp = false
        func take(_ row: AnyRow, _ shown: @autoclosure () throws -> ViewRow?) throws -> Bool {
            walked += 1
            if walked > budget {
                gaveUp = true
                return false
            }
            guard try match.matches(row) else { return true }
            if let shown = try shown() { out.append(shown) }
            return out.count < limit
        }
        // Each kind of view: a walk in its order, and a read of the rows at given positions.
        let walk: () throws -> Void
        let read: ([UInt64]) throws -> Void
        let table: BaseTable
        if let base = BaseView(rawValue: view) {
            func show(_ row: AnyRow) throws -> ViewRow? { row.viewRow(lastSeen: base == .users ? try lastSeen(row.id) : nil) }
            table = base.table
            walk = { try views.forEachRow(of: base) { _, row in try take(row, show(row)) } }
            read = { positions in
                for p in positions {
                    guard let row = try views.anyRow(base, at: p) else { continue }
                    guard try take(row, show(row)) else { break }
                }
            }
        } else if view == "team_plans" {
            func team(_ p: UInt64, _ team: TeamPlanRow) throws -> Bool {
                guard let plan = try views.row(PlanRow.self, .plans, at: p) else { return true }
                let row = AnyRow.plan(plan, team)
                return try take(row, row.teamPlanRow)
            }
            table = .teamPlans
            walk = { try views.forEachRow(TeamPlanRow.self, .teamPlans, team) }
            read = { positions in
                for p in positions {
                    guard let row = try views.row(TeamPlanRow.self, .teamPlans, at: p) else { continue }
                    guard try team(p, row) else { break }
                }
            }
        } else if let i = proxies.firstIndex(where: { $0.name == view }) {
            let proxy = proxies[i]
            // A plan the proxy refuses as a whole: none of its subscriptions is in the proxy.
            if let condition = proxy.planCondition, let plan = match.planRow, !condition(plan) { return [] }
            let lookup = ProxyLookup(reader: views)
            func show(_ row: AnyRow) throws -> ViewRow {
                var shown = row.viewRow(lastSeen: proxy.base == .users ? try lastSeen(row.id) : nil)
                for d in proxy.derived { shown.appendDerived(d.name, try d.value(row, lookup)) }
                return shown
            }
            func inOrder(_ members: [(key: [UInt8], row: AnyRow)]) throws {
                for member in members.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) where try !take(member.row, show(member.row)) { break }
            }
            table = proxy.base.table
            if proxiesIndexed {
                walk = {
                    try views.forEachProxyEntry(i) { p in
                        guard let row = try views.anyRow(proxy.base, at: p) else { return true }
                        return try take(row, show(row))
                    }
                }
            } else {
                walk = {
                    var members: [(key: [UInt8], row: AnyRow)] = []
                    try views.forEachRow(of: proxy.base) { p, row in
                        if try proxy.filter(row, lookup) { members.append((proxy.indexKey(row, position: p), row)) }
                        return true
                    }
                    try inOrder(members)
                }
            }
            // The few rows a filter leaves, in the proxy's order: its index says which it holds.
            read = { positions in
                var members: [(key: [UInt8], row: AnyRow)] = []
                for p in positions {
                    // Without an order the key is known before the row: one the index lacks
                    // costs no row read (a free plan's many subscriptions, none of them paying).
                    let known = proxiesIndexed ? try proxy.unorderedKey(position: p).flatMap { try views.hasProxyEntry(i, key: $0) } : nil
                    if known == false { continue }
                    guard let row = try views.anyRow(proxy.base, at: p) else { continue }
                    let key = proxy.indexKey(row, position: p)
                    let held = try known ?? (proxiesIndexed ? views.hasProxyEntry(i, key: key) : nil)
                    if try held ?? proxy.filter(row, lookup) { members.append((key, row)) }
                }
                try inOrder(members)
            }
        } else {
            return []
        }
        switch try match.plan(in: table, limit: self.limit, viewRows: viewRows ?? .max) {
        case .walk: try walk()
        case .read(let positions): try read(positions)
        case .walkThenRead(let n, let positions):
            budget = n
            try walk()
            if gaveUp {
                out.removeAll(keepingCapacity: true)
                budget = .max
                try read(try positions())
            }
        }
        return out
    }
}
