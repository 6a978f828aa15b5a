import LMDB

/// Filters of `show`: Django's related lookups. Each is a reference (id, email or name).
public struct ViewFilter: Sendable, Equatable {
    public var user: Reference?
    public var plan: Reference?
    public var group: Reference?

    public init(user: Reference? = nil, plan: Reference? = nil, group: Reference? = nil) {
        self.user = user
        self.plan = plan
        self.group = group
    }

    public var isEmpty: Bool { user == nil && plan == nil && group == nil }
}

/// What kind of projection a view is.
public enum ProjectionKind: String, Sendable {
    /// Folded from the events.
    case base
    /// A child table of a base view (multi-table inheritance).
    case child
    /// An alternate projection of a base view.
    case proxy
}

/// One line of `subledger projections`.
public struct ProjectionInfo: Equatable, Sendable {
    public var name: String
    public var kind: ProjectionKind
    public var checkpoint: UInt64
    public var rows: Int
    public var version: Int
}

extension Store {
    /// Every view's name, base views first.
    public var viewNames: [String] {
        ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] + proxies.map(\.name)
    }

    /// The rows of a view in its order, optionally filtered and limited; with `asOf`, the view
    /// as it was after that point of the log: the nearest snapshot at or before it, with the
    /// events since folded in (`last_seen` then falls back to `last_login`, since the volatile
    /// value has no history).
    ///
    /// ```swift
    /// let subs = try store.rows(of: "subscriptions", filter: ViewFilter(user: Reference("ann@example.com")))
    /// let before = try store.rows(of: "users", asOf: .position(10))
    /// ```
    public func rows(of view: String, filter: ViewFilter = .init(), limit: Int? = nil,
                     asOf: AsOf? = nil) throws(StoreError) -> [ViewRow] {
        guard viewNames.contains(view) else { throw StoreError.unknownView(view) }
        do {
            if let asOf {
                let position = try position(of: asOf)
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

    /// Every projection: kind, checkpoint, rows, version.
    public func projections() throws(StoreError) -> [ProjectionInfo] {
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

/// Decides whether a row passes `show`'s filters: a field equal to the reference for through
/// models, a related row for the others (a user's groups, a plan's subscribers, ...).
struct RowMatcher {
    let user: EntityID?, plan: EntityID?, group: EntityID?
    let views: any ViewState

    init(view: String, filter: ViewFilter, views: any ViewState) throws {
        self.views = views
        let allowed: Set<String> = switch view {
        case "users": ["user", "plan", "group"]
        case "plans", "team_plans": ["user", "plan"]
        case "groups": ["user", "group"]
        case "memberships", "recent_memberships": ["user", "group"]
        default: ["user", "plan"]
        }
        for (name, given) in [("user", filter.user != nil), ("plan", filter.plan != nil), ("group", filter.group != nil)]
            where given && !allowed.contains(name) {
            throw StoreError.unsupportedFilter(view: view, filter: name)
        }
        // A filter naming something missing is an error, not an empty view.
        let references = References(state: views)
        user = try filter.user.map { try references.user($0).row.id }
        plan = try filter.plan.map { try references.plan($0).row.id }
        group = try filter.group.map { try references.group($0).row.id }
    }

    func matches(_ row: AnyRow) throws -> Bool {
        switch row {
        case .user(let u):
            if let user, user != u.id { return false }
            if let plan, try views.subscriptions(user: u.id, plan: plan).isEmpty { return false }
            if let group, try views.membership(user: u.id, group: group) == nil { return false }
        case .plan(let p, _):
            if let plan, plan != p.id { return false }
            if let user, try views.subscriptions(user: user, plan: p.id).isEmpty { return false }
        case .group(let g):
            if let group, group != g.id { return false }
            if let user, try views.membership(user: user, group: g.id) == nil { return false }
        case .membership(let m):
            if let user, user != m.user { return false }
            if let group, group != m.group { return false }
        case .subscription(let s):
            if let user, user != s.user { return false }
            if let plan, plan != s.plan { return false }
        }
        return true
    }
}
