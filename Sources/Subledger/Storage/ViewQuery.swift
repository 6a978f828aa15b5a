/// A read of one view, as `show` asks it: the view's name, its filters and a limit, over any
/// storage's `ViewState`.
struct ViewQuery {
    let view: String
    let filter: ViewFilter
    let limit: Int?
    let proxies: [Proxy]

    /// The rows of the view read through `views`, whichever storage holds them. Without
    /// `proxiesIndexed` (views folded for `--as-of`), a proxy is derived from its base view:
    /// filtered and sorted here. `expected` sizes the result; it is a hint, not a bound.
    func rows(_ views: some ViewState, expected: Int, proxiesIndexed: Bool,
              lastSeen: (EntityID) throws -> Timestamp?) throws -> [ViewRow] {
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
                try views.forEachProxyEntry(i) { p in
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
}
