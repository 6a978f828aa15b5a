/// A row of `users`. `last_seen` is not stored here: it lives beside the log.
public struct UserRow: Equatable, Sendable {
    public var id: EntityID
    public var email: String
    public var fullName: String
    public var registered: Timestamp
    public var lastLogin: Timestamp?
}

/// A row of `plans`: the parent table of the multi-table inheritance.
public struct PlanRow: Equatable, Sendable {
    public var id: EntityID
    public var name: String
    public var priceCents: Int64
    public var isTeam: Bool
    public var created: Timestamp
}

/// The child table of a team plan: what it adds to its `plans` row.
public struct TeamPlanRow: Equatable, Sendable {
    public var seats: Int64
    public var seatsUsed: Int64
}

/// A row of `groups`.
public struct GroupRow: Equatable, Sendable {
    public var id: EntityID
    public var name: String
    public var created: Timestamp
    public var memberCount: Int64
}

/// A row of `memberships`, the through model between users and groups.
public struct MembershipRow: Equatable, Sendable {
    public var id: EntityID
    public var user: EntityID
    public var group: EntityID
    public var joined: Timestamp
}

/// A row of `subscriptions`, the through model between users and plans.
public struct SubscriptionRow: Equatable, Sendable {
    public var id: EntityID
    public var user: EntityID
    public var plan: EntityID
    public var created: Timestamp
    public var updated: Timestamp
    public var cancelled: Timestamp?

    public var isActive: Bool { cancelled == nil }
}

/// How a row type is stored: compact binary, versioned by its projection's version, and
/// as a `CachedRow` while a fold keeps it in memory.
protocol StoredRow {
    func encode(into w: inout BinaryWriter)
    init(from r: inout BinaryReader) throws(DecodingError)
    var cached: CachedRow { get }
    init?(cached: CachedRow)
}

/// A decoded row of any row table, as caches hold it (no encoding on the fold's hot path).
enum CachedRow: Equatable {
    case user(UserRow), plan(PlanRow), teamPlan(TeamPlanRow), group(GroupRow)
    case membership(MembershipRow), subscription(SubscriptionRow)

    /// Decodes the stored bytes of a row of `table`.
    init(decoding bytes: UnsafeRawBufferPointer, table: BaseTable) throws(DecodingError) {
        switch table {
        case .users: self = .user(try UserRow.decode(bytes))
        case .plans: self = .plan(try PlanRow.decode(bytes))
        case .teamPlans: self = .teamPlan(try TeamPlanRow.decode(bytes))
        case .groups: self = .group(try GroupRow.decode(bytes))
        case .memberships: self = .membership(try MembershipRow.decode(bytes))
        case .subscriptions: self = .subscription(try SubscriptionRow.decode(bytes))
        default: throw DecodingError(offset: 0, reason: "table \(table.name) holds no rows")
        }
    }

    var encoded: [UInt8] {
        var w = BinaryWriter(capacity: 64)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout BinaryWriter) {
        switch self {
        case .user(let r): r.encode(into: &w)
        case .plan(let r): r.encode(into: &w)
        case .teamPlan(let r): r.encode(into: &w)
        case .group(let r): r.encode(into: &w)
        case .membership(let r): r.encode(into: &w)
        case .subscription(let r): r.encode(into: &w)
        }
    }
}

extension StoredRow {
    var encoded: [UInt8] {
        var w = BinaryWriter(capacity: 64)
        encode(into: &w)
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> Self {
        var r = BinaryReader(bytes)
        let row = try Self(from: &r)
        try r.expectEnd()
        return row
    }

    static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Self {
        var result: Result<Self, DecodingError>!
        bytes.withUnsafeBytes { b in result = Result { () throws(DecodingError) in try decode(b) } }
        return try result.get()
    }
}

extension UserRow: StoredRow {
    var cached: CachedRow { .user(self) }
    init?(cached: CachedRow) {
        guard case .user(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) {
        w.id(id); w.string(email); w.string(fullName); w.time(registered); w.optionalTime(lastLogin)
    }

    init(from r: inout BinaryReader) throws(DecodingError) {
        self.init(id: try r.id(), email: try r.string(), fullName: try r.string(), registered: try r.time(), lastLogin: try r.optionalTime())
    }
}

extension PlanRow: StoredRow {
    var cached: CachedRow { .plan(self) }
    init?(cached: CachedRow) {
        guard case .plan(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) {
        w.id(id); w.string(name); w.signed(priceCents); w.byte(isTeam ? 1 : 0); w.time(created)
    }

    init(from r: inout BinaryReader) throws(DecodingError) {
        let id = try r.id(), name = try r.string(), price = try r.signed()
        let team = try r.byte()
        guard team <= 1 else { throw DecodingError(offset: r.offset, reason: "bad plan kind \(team)") }
        self.init(id: id, name: name, priceCents: price, isTeam: team == 1, created: try r.time())
    }
}

extension TeamPlanRow: StoredRow {
    var cached: CachedRow { .teamPlan(self) }
    init?(cached: CachedRow) {
        guard case .teamPlan(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) { w.signed(seats); w.signed(seatsUsed) }

    init(from r: inout BinaryReader) throws(DecodingError) {
        self.init(seats: try r.signed(), seatsUsed: try r.signed())
    }
}

extension GroupRow: StoredRow {
    var cached: CachedRow { .group(self) }
    init?(cached: CachedRow) {
        guard case .group(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) { w.id(id); w.string(name); w.time(created); w.signed(memberCount) }

    init(from r: inout BinaryReader) throws(DecodingError) {
        self.init(id: try r.id(), name: try r.string(), created: try r.time(), memberCount: try r.signed())
    }
}

extension MembershipRow: StoredRow {
    var cached: CachedRow { .membership(self) }
    init?(cached: CachedRow) {
        guard case .membership(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) { w.id(id); w.id(user); w.id(group); w.time(joined) }

    init(from r: inout BinaryReader) throws(DecodingError) {
        self.init(id: try r.id(), user: try r.id(), group: try r.id(), joined: try r.time())
    }
}

extension SubscriptionRow: StoredRow {
    var cached: CachedRow { .subscription(self) }
    init?(cached: CachedRow) {
        guard case .subscription(let r) = cached else { return nil }
        self = r
    }

    func encode(into w: inout BinaryWriter) {
        w.id(id); w.id(user); w.id(plan); w.time(created); w.time(updated); w.optionalTime(cancelled)
    }

    init(from r: inout BinaryReader) throws(DecodingError) {
        self.init(id: try r.id(), user: try r.id(), plan: try r.id(), created: try r.time(), updated: try r.time(),
                  cancelled: try r.optionalTime())
    }
}
