/// A key-value table behind the views. Base tables come first; each proxy adds one.
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
}

extension BaseTable {
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

    /// Index tables whose keys start with an entity id, scanned by that prefix (a user's
    /// memberships, a plan's subscriptions, ...).
    var isScannedByEntity: Bool {
        switch self {
        case .membershipsByUser, .membershipsByGroup, .subscriptionsByUser, .subscriptionsByPlan: true
        default: false
        }
    }
}

/// Read access to the view tables, wherever they live (LMDB, a cache in memory, a snapshot).
protocol ViewReading {
    func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]?
    /// Entries whose key starts with `prefix`, in key order.
    func scan(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])]
    /// The position of the event that created entity `id` (the first of its stream), if any.
    func creationPosition(of id: EntityID) throws -> UInt64?
    /// Calls `body` with every key of a table in key order until it returns false.
    func forEach(_ table: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws
    /// The row stored at `position` of a row table.
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R?
    /// Calls `body` with every row of a row table in position order until it returns false.
    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (_ position: UInt64, _ row: R) throws -> Bool) throws
    /// `scan` of an index scanned by entity, under an entity the fold is deleting (a cascade):
    /// a snapshot finds its rows among those deleted after it. Others scan.
    func scanDeleted(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])]
}

/// Write access: what a fold needs.
protocol ViewWriting: ViewReading {
    func put(_ table: Int, _ key: [UInt8], _ value: [UInt8]) throws
    func delete(_ table: Int, _ key: [UInt8]) throws
    /// Stores `row` at `position` of a row table.
    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws
    /// Writes `new` at position `p` of a row table in place of `old` (nil: no row), with the
    /// index entries the rows stand for.
    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws
}

extension ViewReading {
    func scanDeleted(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] { try scan(table, prefix: prefix) }

    func get(_ table: BaseTable, _ key: [UInt8]) throws -> [UInt8]? { try get(table.rawValue, key) }
    func scan(_ table: BaseTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        try scan(table.rawValue, prefix: prefix)
    }
    func scanDeleted(_ table: BaseTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        try scanDeleted(table.rawValue, prefix: prefix)
    }

    /// The row of entity `id` in `table`, with its key: nil when it never existed or is gone.
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID) throws -> (position: UInt64, row: R)? {
        guard let p = try creationPosition(of: id), let row = try row(type, table, at: p) else { return nil }
        return (p, row)
    }

    /// A position stored as an index value.
    func position(_ table: BaseTable, _ key: [UInt8]) throws -> UInt64? {
        guard let v = try get(table, key) else { return nil }
        return Keys.readPosition(v)
    }
}

extension ViewWriting {
    func put(_ table: BaseTable, _ key: [UInt8], _ value: [UInt8]) throws { try put(table.rawValue, key, value) }
    func delete(_ table: BaseTable, _ key: [UInt8]) throws { try delete(table.rawValue, key) }

    /// Stored index tables: the entries the old row had and the new one has not are deleted,
    /// changed ones are put.
    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        if let old, let new, BaseViews.sameIndexEntries(old.cached, new.cached) { return try put(table, at: p, new) }
        let before = old.map { BaseViews.indexEntries(of: $0.cached, at: p) } ?? []
        let after = new.map { BaseViews.indexEntries(of: $0.cached, at: p) } ?? []
        for entry in before where !after.contains(where: { $0.table == entry.table && $0.key == entry.key }) {
            try delete(entry.table, entry.key)
        }
        for entry in after where !before.contains(where: { $0.table == entry.table && $0.key == entry.key && $0.value == entry.value }) {
            try put(entry.table, entry.key, entry.value)
        }
        if let new { try put(table, at: p, new) } else { try delete(table, Keys.position(p)) }
    }
}

/// Key layouts shared by the log and the views.
enum Keys {
    static func position(_ p: UInt64) -> [UInt8] { withUnsafeBytes(of: p.bigEndian) { Array($0) } }

    static func readPosition(_ b: [UInt8], at offset: Int = 0) -> UInt64 {
        b.withUnsafeBytes { readPosition($0, at: offset) }
    }

    /// The big-endian position at `offset` (one load: the hot path of every scan).
    static func readPosition(_ b: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64 {
        precondition(offset >= 0 && offset + 8 <= b.count, "a position key is 8 bytes")
        return UInt64(bigEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Natural keys (emails, names) as LMDB keys: the text, or a hash of it when longer
    /// than LMDB's 511-byte key limit allows.
    static func natural(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        if utf8.count <= 400 { return [0] + utf8 }
        return [1] + EventCodec.chainHash(previous: [UInt8](), body: utf8)
    }

    static func ids(_ ids: EntityID...) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(ids.count * 16 + 8)
        for id in ids { id.append(to: &b) }
        return b
    }

    static func ids(_ a: EntityID, _ b: EntityID, position: UInt64) -> [UInt8] {
        var k = ids(a, b)
        k += Keys.position(position)
        return k
    }

    static func id(_ a: EntityID, position: UInt64) -> [UInt8] {
        var k = ids(a)
        k += Keys.position(position)
        return k
    }
}
