/// The base views, each a table of rows keyed by the position of the event that created them.
public enum BaseView: String, Sendable, CaseIterable {
    case users, plans, groups, memberships, subscriptions

    var table: BaseTable {
        switch self {
        case .users: .users
        case .plans: .plans
        case .groups: .groups
        case .memberships: .memberships
        case .subscriptions: .subscriptions
        }
    }
}

/// The tables of the base views: rows keyed by the position of the event that created them,
/// and the index tables derived from those rows. The raw values are stored (snapshot keys):
/// never reorder them.
enum BaseTable: Int, CaseIterable {
    case users, usersByEmail, plans, plansByName, teamPlans, groups, groupsByName
    case memberships, membershipsByUser, membershipsByGroup
    case subscriptions, subscriptionsByUser, subscriptionsByPlan

    /// The database name within a generation.
    var name: String {
        switch self {
        case .users: "users"
        case .usersByEmail: "users.email"
        case .plans: "plans"
        case .plansByName: "plans.name"
        case .teamPlans: "team_plans"
        case .groups: "groups"
        case .groupsByName: "groups.name"
        case .memberships: "memberships"
        case .membershipsByUser: "memberships.user"
        case .membershipsByGroup: "memberships.group"
        case .subscriptions: "subscriptions"
        case .subscriptionsByUser: "subscriptions.user"
        case .subscriptionsByPlan: "subscriptions.plan"
        }
    }

    /// Tables of rows keyed by the position of the event that created them.
    var holdsRows: Bool {
        switch self {
        case .users, .plans, .teamPlans, .groups, .memberships, .subscriptions: true
        default: false
        }
    }

    /// The row table of a base view or of `team_plans` (nil for proxies).
    init?(rowsOf view: String) {
        if view == "team_plans" { self = .teamPlans } else if let base = BaseView(rawValue: view) { self = base.table } else { return nil }
    }

    /// The index tables listing rows by a related entity (`Relation`), keyed by its id first.
    var isScannedByEntity: Bool { Relation(self) != nil }

    /// The row table whose rows this table is derived from (itself for a row table).
    var rowTable: BaseTable {
        switch self {
        case .usersByEmail: .users
        case .plansByName: .plans
        case .groupsByName: .groups
        case .membershipsByUser, .membershipsByGroup: .memberships
        case .subscriptionsByUser, .subscriptionsByPlan: .subscriptions
        default: self
        }
    }
}

/// Which table of a generation: a base view's rows, an index derived from them, or the ordered
/// index of the n-th proxy. Storage keeps the tables of a generation in one array, in `slot` order.
enum ViewTable: Hashable {
    case rows(BaseTable)
    case index(BaseTable)
    case proxy(Int)

    init(_ table: BaseTable) { self = table.holdsRows ? .rows(table) : .index(table) }

    /// The table at `slot` of a generation: the base tables first, then one per proxy.
    init(slot: Int) {
        if let base = BaseTable(rawValue: slot) { self.init(base) } else { self = .proxy(slot - BaseTable.allCases.count) }
    }

    /// Where this table sits in a generation's array of tables.
    var slot: Int {
        switch self {
        case .rows(let t), .index(let t): t.rawValue
        case .proxy(let i): BaseTable.allCases.count + i
        }
    }

    /// The base table, nil for a proxy.
    var base: BaseTable? {
        switch self {
        case .rows(let t), .index(let t): t
        case .proxy: nil
        }
    }

    /// Every table of a generation with `proxies` proxies, in slot order.
    static func all(proxies: Int) -> [ViewTable] {
        BaseTable.allCases.map(ViewTable.init) + (0..<proxies).map(ViewTable.proxy)
    }

    /// How many tables a generation with `proxies` proxies has.
    static func count(proxies: Int) -> Int { BaseTable.allCases.count + proxies }
}

/// A relation between rows and the entity they reference, as Django's `related_name`: a user's
/// memberships and subscriptions, a group's members, a plan's subscribers. Cascades and
/// filters walk them.
enum Relation: Int, CaseIterable {
    case membershipsOfUser, membershipsOfGroup, subscriptionsOfUser, subscriptionsOfPlan

    init?(_ table: BaseTable) {
        switch table {
        case .membershipsByUser: self = .membershipsOfUser
        case .membershipsByGroup: self = .membershipsOfGroup
        case .subscriptionsByUser: self = .subscriptionsOfUser
        case .subscriptionsByPlan: self = .subscriptionsOfPlan
        default: return nil
        }
    }

    /// The index table that lists this relation.
    var index: BaseTable {
        switch self {
        case .membershipsOfUser: .membershipsByUser
        case .membershipsOfGroup: .membershipsByGroup
        case .subscriptionsOfUser: .subscriptionsByUser
        case .subscriptionsOfPlan: .subscriptionsByPlan
        }
    }

    /// The row table of the related rows.
    var rows: BaseTable { index.rowTable }

    /// The entity a row is listed under in this relation, if the row belongs to it.
    func entity(of row: CachedRow?) -> EntityID? {
        // One switch on the row, not on a tuple holding it: a tuple takes a copy of the row.
        switch row {
        case .membership(let m)?: self == .membershipsOfUser ? m.user : self == .membershipsOfGroup ? m.group : nil
        case .subscription(let s)?: self == .subscriptionsOfUser ? s.user : self == .subscriptionsOfPlan ? s.plan : nil
        default: nil
        }
    }
}
