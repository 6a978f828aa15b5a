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
