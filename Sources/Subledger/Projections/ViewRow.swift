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
///
/// A row of a view holds its typed row and makes the fields when asked, so reading a view of
/// many rows allocates little; `write(to:)` prints them without making them at all.
public struct ViewRow: Equatable, Sendable {
    enum Source: Sendable {
        case fields([Field])
        case row(AnyRow, lastSeen: Timestamp?)
        case teamPlan(PlanRow, TeamPlanRow)
    }

    public typealias Field = (key: String, value: FieldValue)

    private var source: Source
    /// Fields a proxy derives, after the row's own.
    private var derived: [Field] = []

    public init(_ fields: [Field]) { source = .fields(fields) }

    init(_ source: Source) { self.source = source }

    /// The fields, in order.
    public var fields: [Field] {
        get {
            var collect = FieldList()
            visitFields(&collect)
            return collect.fields
        }
        set {
            source = .fields(newValue)
            derived = []
        }
    }

    mutating func appendDerived(_ key: String, _ value: FieldValue) { derived.append((key, value)) }

    /// The stored row a base view's row shows (nil for other rows).
    var cachedRow: CachedRow? {
        guard case .row(let row, _) = source, derived.isEmpty else { return nil }
        return CachedRow(row)
    }

    public subscript(key: String) -> FieldValue? { fields.first { $0.key == key }?.value }

    /// Shows each field to `visitor`, in order: the built-in shapes with literal keys (what
    /// the JSON writer formats fastest), fields given as values and derived ones with theirs.
    func visitFields<V: FieldVisitor>(_ v: inout V) {
        switch source {
        case .fields(let fields): for f in fields { v.visit(f.key, f.value) }
        case .row(.user(let u), let lastSeen):
            v.visit("id", .id(u.id)); v.visit("email", .string(u.email)); v.visit("full_name", .string(u.fullName))
            v.visit("registered", .time(u.registered)); v.visit("last_login", .time(u.lastLogin))
            v.visit("last_seen", .time(lastSeen ?? u.lastLogin))
        case .row(.plan(let p, _), _):
            v.visit("id", .id(p.id)); v.visit("name", .string(p.name)); v.visit("price_cents", .int(p.priceCents))
            v.visit("kind", .string(p.isTeam ? "team" : "plan")); v.visit("created", .time(p.created))
        case .teamPlan(let p, let team):
            v.visit("id", .id(p.id)); v.visit("name", .string(p.name)); v.visit("price_cents", .int(p.priceCents))
            v.visit("created", .time(p.created)); v.visit("seats", .int(team.seats)); v.visit("seats_used", .int(team.seatsUsed))
        case .row(.group(let g), _):
            v.visit("id", .id(g.id)); v.visit("name", .string(g.name)); v.visit("created", .time(g.created))
            v.visit("member_count", .int(g.memberCount))
        case .row(.membership(let m), _):
            v.visit("id", .id(m.id)); v.visit("user", .id(m.user)); v.visit("group", .id(m.group)); v.visit("joined", .time(m.joined))
        case .row(.subscription(let s), _):
            v.visit("id", .id(s.id)); v.visit("user", .id(s.user)); v.visit("plan", .id(s.plan)); v.visit("created", .time(s.created))
            v.visit("updated", .time(s.updated)); v.visit("cancelled", .time(s.cancelled))
        }
        for f in derived { v.visit(f.key, f.value) }
    }

    public static func == (a: ViewRow, b: ViewRow) -> Bool {
        let x = a.fields, y = b.fields
        return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Writes the row as a JSON object.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        // The visitor borrows the buffer for the fields (a swap: no copy, no allocation).
        var writer = FieldWriter(w: JSONWriter(capacity: 0))
        swap(&w, &writer.w)
        visitFields(&writer)
        swap(&w, &writer.w)
        w.endObject()
    }
}

/// Sees the fields of a row, one by one.
protocol FieldVisitor {
    mutating func visit(_ key: StaticString, _ value: FieldValue)
    mutating func visit(_ key: String, _ value: FieldValue)
}

/// Collects the fields into an array.
private struct FieldList: FieldVisitor {
    var fields: [ViewRow.Field] = []
    mutating func visit(_ key: StaticString, _ value: FieldValue) { fields.append(("\(key)", value)) }
    mutating func visit(_ key: String, _ value: FieldValue) { fields.append((key, value)) }
}

/// Writes each field as a JSON member.
private struct FieldWriter: FieldVisitor {
    var w: JSONWriter

    mutating func visit(_ key: StaticString, _ value: FieldValue) {
        switch value {
        case .string(let s): w.field(key, s)
        case .int(let i): w.field(key, i)
        case .id(let id): w.field(key, id)
        case .time(let t): w.field(key, t)
        case .null: w.key(key); w.null()
        }
    }

    mutating func visit(_ key: String, _ value: FieldValue) {
        w.key(key)
        switch value {
        case .string(let s): w.string(s)
        case .int(let i): w.int(i)
        case .id(let id): w.id(id)
        case .time(let t): w.time(t)
        case .null: w.null()
        }
    }
}

extension CachedRow {
    /// A base view's row as stored (a plan without its child row).
    init(_ row: AnyRow) {
        switch row {
        case .user(let r): self = .user(r)
        case .plan(let r, _): self = .plan(r)
        case .group(let r): self = .group(r)
        case .membership(let r): self = .membership(r)
        case .subscription(let r): self = .subscription(r)
        }
    }

    /// The row as a base view holds it (nil for a team plan's child row, which is no view's
    /// row alone).
    var anyRow: AnyRow? {
        switch self {
        case .user(let r): .user(r)
        case .plan(let r): .plan(r, nil)
        case .teamPlan: nil
        case .group(let r): .group(r)
        case .membership(let r): .membership(r)
        case .subscription(let r): .subscription(r)
        }
    }
}

extension AnyRow {
    /// Decodes the stored bytes of a row of `table` straight into a view's row: what reading a
    /// whole view does per row, so without a `CachedRow` copied in between (nil for
    /// `team_plans`, whose rows no view shows alone).
    init?(decoding bytes: UnsafeRawBufferPointer, table: BaseTable) throws(DecodingError) {
        switch table {
        case .users: self = .user(try UserRow.decode(bytes))
        case .plans: self = .plan(try PlanRow.decode(bytes), nil)
        case .groups: self = .group(try GroupRow.decode(bytes))
        case .memberships: self = .membership(try MembershipRow.decode(bytes))
        case .subscriptions: self = .subscription(try SubscriptionRow.decode(bytes))
        default: return nil
        }
    }

    /// The row as the base view prints it. `lastSeen` is the volatile property of users.
    func viewRow(lastSeen: Timestamp? = nil) -> ViewRow { ViewRow(.row(self, lastSeen: lastSeen)) }

    /// The team_plans row (child of a plans row), when this is a team plan.
    var teamPlanRow: ViewRow? {
        guard case .plan(let p, let team?) = self else { return nil }
        return ViewRow(.teamPlan(p, team))
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

extension ViewState {
    /// Calls `body` with every row of a base view in position order until it returns false.
    func forEachRow(of view: BaseView, _ body: (UInt64, AnyRow) throws -> Bool) throws {
        switch view {
        case .users: try forEachRow(UserRow.self, .users) { try body($0, .user($1)) }
        case .plans:
            try forEachRow(PlanRow.self, .plans) { p, plan in
                try body(p, .plan(plan, plan.isTeam ? try row(TeamPlanRow.self, .teamPlans, at: p) : nil))
            }
        case .groups: try forEachRow(GroupRow.self, .groups) { try body($0, .group($1)) }
        case .memberships: try forEachRow(MembershipRow.self, .memberships) { try body($0, .membership($1)) }
        case .subscriptions: try forEachRow(SubscriptionRow.self, .subscriptions) { try body($0, .subscription($1)) }
        }
    }

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
