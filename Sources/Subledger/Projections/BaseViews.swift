/// A change to one row of a base view, as the fold made it; proxies follow these.
struct RowChange {
    var view: BaseView
    var position: UInt64
    var old: AnyRow?
    var new: AnyRow?
}

/// The fold of the base views: users, plans (with their team_plans child rows), groups,
/// memberships and subscriptions, with the indexes that serve look-ups, uniqueness rules and
/// cascades. Inline update, rebuild and as-of all run this one function.
enum BaseViews {
    /// The version of this fold; bump it when what it stores changes, and stores rebuild.
    static let version = 1
    /// The name its checkpoint is kept under.
    static let name = "base"

    static func apply(_ event: RecordedEvent, to s: some ViewWriting, changes: inout [RowChange]) throws {
        let p = event.position, at = event.at
        switch event.data.upcast {
        case .userRegistered(let id, let email, let fullName):
            let row = UserRow(id: id, email: email, fullName: fullName, registered: at, lastLogin: nil)
            try s.put(.users, at: p, row)
            try s.put(.usersByEmail, Keys.natural(email.emailKey), Keys.position(p))
            changes.append(RowChange(view: .users, position: p, old: nil, new: .user(row)))
        case .userRegisteredV1:
            preconditionFailure("upcast never returns an old schema")
        case .userRenamed(let user, let fullName):
            try updateUser(user, s, &changes) { $0.fullName = fullName }
        case .userLoggedIn(let user):
            try updateUser(user, s, &changes) { $0.lastLogin = at }
        case .userDeleted(let user):
            guard let (up, row) = try s.row(UserRow.self, .users, id: user) else { return }
            for entry in try s.scan(.membershipsByUser, prefix: Keys.ids(user)) {
                try removeMembership(at: Keys.readPosition(entry.value), s, &changes)
            }
            for entry in try s.scan(.subscriptionsByUser, prefix: Keys.ids(user)) {
                try removeSubscription(at: Keys.readPosition(entry.key, at: 32), s, &changes)
            }
            try s.delete(.users, Keys.position(up))
            try s.delete(.usersByEmail, Keys.natural(row.email.emailKey))
            changes.append(RowChange(view: .users, position: up, old: .user(row), new: nil))
        case .planCreated(let id, let name, let price, let seats):
            let row = PlanRow(id: id, name: name, priceCents: price, isTeam: seats != nil, created: at)
            try s.put(.plans, at: p, row)
            try s.put(.plansByName, Keys.natural(name), Keys.position(p))
            var team: TeamPlanRow?
            if let seats {
                team = TeamPlanRow(seats: seats, seatsUsed: 0)
                try s.put(.teamPlans, at: p, team!)
            }
            changes.append(RowChange(view: .plans, position: p, old: nil, new: .plan(row, team)))
        case .planDeleted(let plan):
            guard let (pp, row) = try s.row(PlanRow.self, .plans, id: plan) else { return }
            for entry in try s.scan(.subscriptionsByPlan, prefix: Keys.ids(plan)) {
                try removeSubscription(at: Keys.readPosition(entry.key, at: 16), s, &changes)
            }
            let team = try s.row(TeamPlanRow.self, .teamPlans, at: pp)
            try s.delete(.plans, Keys.position(pp))
            try s.delete(.plansByName, Keys.natural(row.name))
            if team != nil { try s.delete(.teamPlans, Keys.position(pp)) }
            changes.append(RowChange(view: .plans, position: pp, old: .plan(row, team), new: nil))
        case .groupCreated(let id, let name):
            let row = GroupRow(id: id, name: name, created: at, memberCount: 0)
            try s.put(.groups, at: p, row)
            try s.put(.groupsByName, Keys.natural(name), Keys.position(p))
            changes.append(RowChange(view: .groups, position: p, old: nil, new: .group(row)))
        case .groupDeleted(let group):
            guard let (gp, row) = try s.row(GroupRow.self, .groups, id: group) else { return }
            for entry in try s.scan(.membershipsByGroup, prefix: Keys.ids(group)) {
                try removeMembership(at: Keys.readPosition(entry.key, at: 16), s, &changes)
            }
            try s.delete(.groups, Keys.position(gp))
            try s.delete(.groupsByName, Keys.natural(row.name))
            changes.append(RowChange(view: .groups, position: gp, old: .group(row), new: nil))
        case .subscribed(let id, let user, let plan):
            let row = SubscriptionRow(id: id, user: user, plan: plan, created: at, updated: at, cancelled: nil)
            try s.put(.subscriptions, at: p, row)
            try s.put(.subscriptionsByUser, Keys.ids(user, plan, position: p), [1])
            try s.put(.subscriptionsByPlan, Keys.id(plan, position: p), [])
            try adjustSeats(plan: plan, by: 1, s, &changes)
            changes.append(RowChange(view: .subscriptions, position: p, old: nil, new: .subscription(row)))
        case .planChanged(let subscription, _, let to):
            guard let (sp, old) = try s.row(SubscriptionRow.self, .subscriptions, id: subscription) else { return }
            var row = old
            row.plan = to
            row.updated = at
            try s.put(.subscriptions, at: sp, row)
            try s.delete(.subscriptionsByUser, Keys.ids(old.user, old.plan, position: sp))
            try s.put(.subscriptionsByUser, Keys.ids(row.user, to, position: sp), [row.isActive ? 1 : 0])
            try s.delete(.subscriptionsByPlan, Keys.id(old.plan, position: sp))
            try s.put(.subscriptionsByPlan, Keys.id(to, position: sp), [])
            if old.isActive {
                try adjustSeats(plan: old.plan, by: -1, s, &changes)
                try adjustSeats(plan: to, by: 1, s, &changes)
            }
            changes.append(RowChange(view: .subscriptions, position: sp, old: .subscription(old), new: .subscription(row)))
        case .subscriptionCancelled(let subscription):
            guard let (sp, old) = try s.row(SubscriptionRow.self, .subscriptions, id: subscription) else { return }
            var row = old
            row.cancelled = at
            row.updated = at
            try s.put(.subscriptions, at: sp, row)
            try s.put(.subscriptionsByUser, Keys.ids(row.user, row.plan, position: sp), [0])
            if old.isActive { try adjustSeats(plan: row.plan, by: -1, s, &changes) }
            changes.append(RowChange(view: .subscriptions, position: sp, old: .subscription(old), new: .subscription(row)))
        case .memberJoined(let id, let user, let group):
            let row = MembershipRow(id: id, user: user, group: group, joined: at)
            try s.put(.memberships, at: p, row)
            try s.put(.membershipsByUser, Keys.ids(user, group), Keys.position(p))
            try s.put(.membershipsByGroup, Keys.id(group, position: p), [])
            try adjustMembers(group: group, by: 1, s, &changes)
            changes.append(RowChange(view: .memberships, position: p, old: nil, new: .membership(row)))
        case .memberLeft(let membership, _, _):
            guard let mp = try s.creationPosition(of: membership) else { return }
            try removeMembership(at: mp, s, &changes)
        }
    }

    static func updateUser(_ id: EntityID, _ s: some ViewWriting, _ changes: inout [RowChange],
                           _ change: (inout UserRow) -> Void) throws {
        guard let (up, old) = try s.row(UserRow.self, .users, id: id) else { return }
        var row = old
        change(&row)
        try s.put(.users, at: up, row)
        changes.append(RowChange(view: .users, position: up, old: .user(old), new: .user(row)))
    }

    static func removeMembership(at mp: UInt64, _ s: some ViewWriting, _ changes: inout [RowChange]) throws {
        guard let row = try s.row(MembershipRow.self, .memberships, at: mp) else { return }
        try s.delete(.memberships, Keys.position(mp))
        try s.delete(.membershipsByUser, Keys.ids(row.user, row.group))
        try s.delete(.membershipsByGroup, Keys.id(row.group, position: mp))
        try adjustMembers(group: row.group, by: -1, s, &changes)
        changes.append(RowChange(view: .memberships, position: mp, old: .membership(row), new: nil))
    }

    static func removeSubscription(at sp: UInt64, _ s: some ViewWriting, _ changes: inout [RowChange]) throws {
        guard let row = try s.row(SubscriptionRow.self, .subscriptions, at: sp) else { return }
        try s.delete(.subscriptions, Keys.position(sp))
        try s.delete(.subscriptionsByUser, Keys.ids(row.user, row.plan, position: sp))
        try s.delete(.subscriptionsByPlan, Keys.id(row.plan, position: sp))
        if row.isActive { try adjustSeats(plan: row.plan, by: -1, s, &changes) }
        changes.append(RowChange(view: .subscriptions, position: sp, old: .subscription(row), new: nil))
    }

    static func adjustSeats(plan: EntityID, by delta: Int64, _ s: some ViewWriting, _ changes: inout [RowChange]) throws {
        guard let pp = try s.creationPosition(of: plan), var team = try s.row(TeamPlanRow.self, .teamPlans, at: pp) else { return }
        let old = team
        team.seatsUsed += delta
        try s.put(.teamPlans, at: pp, team)
        if let plan = try s.row(PlanRow.self, .plans, at: pp) {
            changes.append(RowChange(view: .plans, position: pp, old: .plan(plan, old), new: .plan(plan, team)))
        }
    }

    static func adjustMembers(group: EntityID, by delta: Int64, _ s: some ViewWriting, _ changes: inout [RowChange]) throws {
        guard let (gp, old) = try s.row(GroupRow.self, .groups, id: group) else { return }
        var row = old
        row.memberCount += delta
        try s.put(.groups, at: gp, row)
        changes.append(RowChange(view: .groups, position: gp, old: .group(old), new: .group(row)))
    }
}
