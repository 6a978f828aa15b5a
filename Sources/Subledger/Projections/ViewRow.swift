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

/// A row of any base view, typed.
public enum AnyRow: Equatable, Sendable {
    case user(UserRow)
    /// A plan, with its child row when it is a team plan.
    case plan(PlanRow, TeamPlanRow?)
    case group(GroupRow)
    case membership(MembershipRow)
    case subscription(SubscriptionRow)
}

/// One value of a row, as views print it.
public enum FieldValue: Equatable, Hashable, Sendable {
    case string(String)
    case int(Int64)
    case id(EntityID)
    case time(Timestamp)
    case null

    /// A time, or null.
    public static func time(_ t: Timestamp?) -> FieldValue { t.map { .time($0) } ?? .null }

    /// Plain text for tables.
    public var text: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .id(let id): id.description
        case .time(let t): t.rfc3339
        case .null: ""
        }
    }
}

/// A row as `show` prints it: the view's fields in order.
public struct ViewRow: Equatable, Sendable {
    public var fields: [(key: String, value: FieldValue)]

    public init(_ fields: [(key: String, value: FieldValue)]) { self.fields = fields }

    public subscript(key: String) -> FieldValue? { fields.first { $0.key == key }?.value }

    public static func == (a: ViewRow, b: ViewRow) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Writes the row as a JSON object.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        for (key, value) in fields {
            w.key(key)
            switch value {
            case .string(let s): w.string(s)
            case .int(let i): w.int(i)
            case .id(let id): w.id(id)
            case .time(let t): w.time(t)
            case .null: w.null()
            }
        }
        w.endObject()
    }
}

extension AnyRow {
    /// The row as the base view prints it. `lastSeen` is the volatile property of users.
    func viewRow(lastSeen: Timestamp? = nil) -> ViewRow {
        switch self {
        case .user(let u):
            ViewRow([("id", .id(u.id)), ("email", .string(u.email)), ("full_name", .string(u.fullName)),
                     ("registered", .time(u.registered)), ("last_login", .time(u.lastLogin)),
                     ("last_seen", .time(lastSeen ?? u.lastLogin))])
        case .plan(let p, _):
            ViewRow([("id", .id(p.id)), ("name", .string(p.name)), ("price_cents", .int(p.priceCents)),
                     ("kind", .string(p.isTeam ? "team" : "plan")), ("created", .time(p.created))])
        case .group(let g):
            ViewRow([("id", .id(g.id)), ("name", .string(g.name)), ("created", .time(g.created)),
                     ("member_count", .int(g.memberCount))])
        case .membership(let m):
            ViewRow([("id", .id(m.id)), ("user", .id(m.user)), ("group", .id(m.group)), ("joined", .time(m.joined))])
        case .subscription(let s):
            ViewRow([("id", .id(s.id)), ("user", .id(s.user)), ("plan", .id(s.plan)), ("created", .time(s.created)),
                     ("updated", .time(s.updated)), ("cancelled", .time(s.cancelled))])
        }
    }

    /// The team_plans row (child of a plans row), when this is a team plan.
    var teamPlanRow: ViewRow? {
        guard case .plan(let p, let team?) = self else { return nil }
        return ViewRow([("id", .id(p.id)), ("name", .string(p.name)), ("price_cents", .int(p.priceCents)),
                        ("created", .time(p.created)), ("seats", .int(team.seats)), ("seats_used", .int(team.seatsUsed))])
    }

    var id: EntityID {
        switch self {
        case .user(let r): r.id
        case .plan(let r, _): r.id
        case .group(let r): r.id
        case .membership(let r): r.id
        case .subscription(let r): r.id
        }
    }
}

extension ViewReading {
    /// Reads the base row stored at `position` of `view`.
    func anyRow(_ view: BaseView, at position: UInt64) throws -> AnyRow? {
        switch view {
        case .users: try row(UserRow.self, .users, at: position).map { .user($0) }
        case .plans:
            try row(PlanRow.self, .plans, at: position).map { .plan($0, $0.isTeam ? try row(TeamPlanRow.self, .teamPlans, at: position) : nil) }
        case .groups: try row(GroupRow.self, .groups, at: position).map { .group($0) }
        case .memberships: try row(MembershipRow.self, .memberships, at: position).map { .membership($0) }
        case .subscriptions: try row(SubscriptionRow.self, .subscriptions, at: position).map { .subscription($0) }
        }
    }
}
