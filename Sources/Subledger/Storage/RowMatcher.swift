/// Decides whether a row passes `show`'s filters: a field equal to the reference for through
/// models, a related row for the others (a user's groups, a plan's subscribers, ...).
struct RowMatcher {
    let user: EntityID?, plan: EntityID?, group: EntityID?
    /// The row of the plan `--plan` names, as resolved (a proxy's plan rule reads it).
    let planRow: PlanRow?
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
        planRow = try filter.plan.map { try references.plan($0).row }
        plan = planRow?.id
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

    /// How a read of a view with these filters finds its rows.
    enum Plan {
        /// Walk the view in its order (no filter narrows it).
        case walk
        /// Read the rows at these positions (sorted), the few a filter names.
        case read([UInt64])
        /// Walk the view for at most `budget` rows (the matches look dense enough that the
        /// first `limit` come sooner), then read the rows the filter names.
        case walkThenRead(budget: Int, positions: () throws -> [UInt64])
    }

    /// The plan of a read of `table` with at most `limit` rows: when a filter names an entity
    /// the rows relate to (a user's subscriptions, a group's members, the user itself), the
    /// narrowest such set, read through the relation's candidates (`matches` re-checks each);
    /// with a limit and n candidates, the walk comes first when limit × viewRows / n rows
    /// walked (matches spread evenly) is fewer than n, and gives up after four times that.
    func plan(in table: BaseTable, limit: Int?, viewRows: Int) throws -> Plan {
        // Each way in: the positions it names, and the entity each stands for (nil: itself).
        var ways: [(positions: [UInt64], entity: ((UInt64) throws -> EntityID?)?)] = []
        func itself(_ id: EntityID?) throws {
            if let id { ways.append(([try views.creationPosition(of: id)].compactMap { $0 }, nil)) }
        }
        func through(_ relation: Relation, of id: EntityID?, _ entity: ((UInt64) throws -> EntityID?)? = nil) throws {
            if let id { ways.append((try views.candidatePositions(relation, of: id), entity)) }
        }
        let views = self.views
        let member = { (p: UInt64) in try views.row(MembershipRow.self, .memberships, at: p) }
        let subscription = { (p: UInt64) in try views.row(SubscriptionRow.self, .subscriptions, at: p) }
        switch table {
        case .users:
            try itself(user)
            try through(.membershipsOfGroup, of: group) { try member($0)?.user }
            try through(.subscriptionsOfPlan, of: plan) { try subscription($0)?.user }
        case .plans, .teamPlans:
            try itself(plan)
            try through(.subscriptionsOfUser, of: user) { try subscription($0)?.plan }
        case .groups:
            try itself(group)
            try through(.membershipsOfUser, of: user) { try member($0)?.group }
        case .memberships:
            try through(.membershipsOfUser, of: user)
            try through(.membershipsOfGroup, of: group)
        case .subscriptions:
            try through(.subscriptionsOfUser, of: user)
            try through(.subscriptionsOfPlan, of: plan)
        default: break
        }
        guard let narrowest = ways.min(by: { $0.positions.count < $1.positions.count }) else { return .walk }
        let positions = { () throws -> [UInt64] in
            // A relation's index lists its rows in key order (a user's by plan, then position).
            guard let entity = narrowest.entity else { return narrowest.positions.sorted() }
            var out = Set<UInt64>()
            for p in narrowest.positions {
                if let id = try entity(p), let created = try views.creationPosition(of: id) { out.insert(created) }
            }
            return out.sorted()
        }
        let n = narrowest.positions.count
        if let limit, n.multipliedReportingOverflow(by: n).partialValue / max(limit, 1) > viewRows {
            // Four times the rows an even spread would take: matches much sparser than that
            // (a proxy that holds few of them) are read instead.
            let spread = limit.multipliedReportingOverflow(by: viewRows).partialValue / max(n, 1)
            return .walkThenRead(budget: min(n, 4 * spread + 64), positions: positions)
        }
        return .read(try positions())
    }
}
