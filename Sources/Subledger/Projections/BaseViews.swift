/// A change to one row of a base view, as the fold made it; proxies follow these.
struct RowChange {
    var view: BaseView
    var position: UInt64
    var old: AnyRow?
    var new: AnyRow?
}

/// The row changes of one event, kept only for the views some proxy follows: the others
/// (logins, renames, counts, for the built-in proxies) cost nothing.
struct RowChanges {
    /// One bit per base view (`BaseView.bit`).
    private let followed: UInt8
    private(set) var list: [RowChange] = []

    init(following views: some Sequence<BaseView>) {
        followed = views.reduce(0) { $0 | $1.bit }
    }

    func follows(_ view: BaseView) -> Bool { followed & view.bit != 0 }

    mutating func removeAll() {
        // Most events change no followed row, and clearing an empty list still cost a call.
        if !list.isEmpty { list.removeAll(keepingCapacity: true) }
    }

    mutating func append(_ view: BaseView, at position: UInt64, old: @autoclosure () -> AnyRow?, new: @autoclosure () -> AnyRow?) {
        guard follows(view) else { return }
        list.append(RowChange(view: view, position: position, old: old(), new: new()))
    }
}

extension BaseView {
    fileprivate var bit: UInt8 {
        switch self {
        case .users: 1
        case .plans: 2
        case .groups: 4
        case .memberships: 8
        case .subscriptions: 16
        }
    }
}

/// The fold of the base views: users, plans (with their team_plans child rows), groups,
/// memberships and subscriptions, with the indexes that serve look-ups, uniqueness rules and
/// cascades. Inline update, rebuild and as-of all run this one function.
///
/// The fold writes rows; what the storage derives from them (unique names, relations) is its
/// own business. It reads through `ViewState` only.
enum BaseViews {
    /// The version of this fold; bump it when what it stores changes, and stores rebuild.
    static let version = 1
    /// The name its checkpoint is kept under.
    static let name = "base"

    static func apply(_ event: RecordedEvent, to s: some ViewStateWriting, changes: inout RowChanges) throws {
        let p = event.position, at = event.at
        switch event.data.upcast {
        case .userRegistered(let id, let email, let fullName):
            let row = UserRow(id: id, email: email, fullName: fullName, registered: at, lastLogin: nil)
            try s.replaceRow(.users, at: p, old: nil, new: row)
            changes.append(.users, at: p, old: nil, new: .user(row))
        case .userRegisteredV1:
            preconditionFailure("upcast never returns an old schema")
        case .userRenamed(let user, let fullName):
            try updateUser(user, s, &changes) { $0.fullName = fullName }
        case .userLoggedIn(let user):
            try updateUser(user, s, &changes) { $0.lastLogin = at }
        case .userDeleted(let user):
            guard let (up, row) = try s.row(UserRow.self, .users, id: user) else { return }
            for mp in try s.positions(.membershipsOfUser, of: user) { try removeMembership(at: mp, s, &changes) }
            for sp in try s.positions(.subscriptionsOfUser, of: user) { try removeSubscription(at: sp, s, &changes) }
            try s.replaceRow(.users, at: up, old: row, new: nil)
            changes.append(.users, at: up, old: .user(row), new: nil)
        case .planCreated(let id, let name, let price, let seats):
            let row = PlanRow(id: id, name: name, priceCents: price, isTeam: seats != nil, created: at)
            try s.replaceRow(.plans, at: p, old: nil, new: row)
            let team = seats.map { TeamPlanRow(seats: $0, seatsUsed: 0) }
            if let team { try s.replaceRow(.teamPlans, at: p, old: nil, new: team) }
            changes.append(.plans, at: p, old: nil, new: .plan(row, team))
        case .planDeleted(let plan):
            guard let (pp, row) = try s.row(PlanRow.self, .plans, id: plan) else { return }
            for sp in try s.positions(.subscriptionsOfPlan, of: plan) { try removeSubscription(at: sp, s, &changes) }
            let team = try s.row(TeamPlanRow.self, .teamPlans, at: pp)
            try s.replaceRow(.plans, at: pp, old: row, new: nil)
            if team != nil { try s.replaceRow(.teamPlans, at: pp, old: team, new: nil) }
            changes.append(.plans, at: pp, old: .plan(row, team), new: nil)
        case .groupCreated(let id, let name):
            let row = GroupRow(id: id, name: name, created: at, memberCount: 0)
            try s.replaceRow(.groups, at: p, old: nil, new: row)
            changes.append(.groups, at: p, old: nil, new: .group(row))
        case .groupDeleted(let group):
            guard let (gp, row) = try s.row(GroupRow.self, .groups, id: group) else { return }
            for mp in try s.positions(.membershipsOfGroup, of: group) { try removeMembership(at: mp, s, &changes) }
            try s.replaceRow(.groups, at: gp, old: row, new: nil)
            changes.append(.groups, at: gp, old: .group(row), new: nil)
        case .subscribed(let id, let user, let plan):
            let row = SubscriptionRow(id: id, user: user, plan: plan, created: at, updated: at, cancelled: nil)
            try s.replaceRow(.subscriptions, at: p, old: nil, new: row)
            try adjustSeats(plan: plan, by: 1, s, &changes)
            changes.append(.subscriptions, at: p, old: nil, new: .subscription(row))
        case .planChanged(let subscription, _, let to):
            guard let (sp, old) = try s.row(SubscriptionRow.self, .subscriptions, id: subscription) else { return }
            var row = old
            row.plan = to
            row.updated = at
            try s.replaceRow(.subscriptions, at: sp, old: old, new: row)
            if old.isActive {
                try adjustSeats(plan: old.plan, by: -1, s, &changes)
                try adjustSeats(plan: to, by: 1, s, &changes)
            }
            changes.append(.subscriptions, at: sp, old: .subscription(old), new: .subscription(row))
        case .subscriptionCancelled(let subscription):
            guard let (sp, old) = try s.row(SubscriptionRow.self, .subscriptions, id: subscription) else { return }
            var row = old
            row.cancelled = at
            row.updated = at
            try s.replaceRow(.subscriptions, at: sp, old: old, new: row)
            if old.isActive { try adjustSeats(plan: row.plan, by: -1, s, &changes) }
            changes.append(.subscriptions, at: sp, old: .subscription(old), new: .subscription(row))
        case .memberJoined(let id, let user, let group):
            let row = MembershipRow(id: id, user: user, group: group, joined: at)
            try s.replaceRow(.memberships, at: p, old: nil, new: row)
            try adjustMembers(group: group, by: 1, s, &changes)
            changes.append(.memberships, at: p, old: nil, new: .membership(row))
        case .memberLeft(let membership, _, _):
            guard let mp = try s.creationPosition(of: membership) else { return }
            try removeMembership(at: mp, s, &changes)
        }
    }

    static func updateUser(_ id: EntityID, _ s: some ViewStateWriting, _ changes: inout RowChanges,
                           _ change: (inout UserRow) -> Void) throws {
        try update(UserRow.self, .users, id: id, s, &changes, following: .users, shown: { .user($1) }, change)
    }

    /// Applies `change` to the live row of entity `id` in `table`. When a proxy follows `view`,
    /// the change is handed to it as `shown` makes the row (nil: not at all); when none does,
    /// the storage may make the change in place.
    static func update<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID, _ s: some ViewStateWriting,
                                     _ changes: inout RowChanges, following view: BaseView,
                                     shown: (_ position: UInt64, R) throws -> AnyRow?, _ change: (inout R) -> Void) throws {
        guard changes.follows(view) else { return try s.updateRow(type, table, id: id, change) }
        guard let (p, old, new) = try s.rewriteRow(type, table, id: id, change) else { return }
        if let before = try shown(p, old), let after = try shown(p, new) { changes.append(view, at: p, old: before, new: after) }
    }

    static func removeMembership(at mp: UInt64, _ s: some ViewStateWriting, _ changes: inout RowChanges) throws {
        guard let row = try s.row(MembershipRow.self, .memberships, at: mp) else { return }
        try s.replaceRow(.memberships, at: mp, old: row, new: nil)
        try adjustMembers(group: row.group, by: -1, s, &changes)
        changes.append(.memberships, at: mp, old: .membership(row), new: nil)
    }

    static func removeSubscription(at sp: UInt64, _ s: some ViewStateWriting, _ changes: inout RowChanges) throws {
        guard let row = try s.row(SubscriptionRow.self, .subscriptions, at: sp) else { return }
        try s.replaceRow(.subscriptions, at: sp, old: row, new: nil)
        if row.isActive { try adjustSeats(plan: row.plan, by: -1, s, &changes) }
        changes.append(.subscriptions, at: sp, old: .subscription(row), new: nil)
    }

    static func adjustSeats(plan: EntityID, by delta: Int64, _ s: some ViewStateWriting, _ changes: inout RowChanges) throws {
        // A proxy over plans sees a team plan with its `plans` row.
        try update(TeamPlanRow.self, .teamPlans, id: plan, s, &changes, following: .plans,
                   shown: { p, team in try s.row(PlanRow.self, .plans, at: p).map { .plan($0, team) } }) { $0.seatsUsed += delta }
    }

    static func adjustMembers(group: EntityID, by delta: Int64, _ s: some ViewStateWriting, _ changes: inout RowChanges) throws {
        try update(GroupRow.self, .groups, id: group, s, &changes, following: .groups, shown: { .group($1) }) { $0.memberCount += delta }
    }
}
