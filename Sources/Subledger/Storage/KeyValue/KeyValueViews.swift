/// Views kept as key-value tables (LMDB, a write-back cache, a snapshot, memory): the one file
/// that knows their key layouts.
///
/// - row tables: position (8 bytes, big-endian) → the row's bytes (`StoredRow`);
/// - `users.email`, `plans.name`, `groups.name`: `Keys.natural(name)` → position;
/// - `memberships.user`: user id ‖ group id → position;
/// - `memberships.group`: group id ‖ position → empty;
/// - `subscriptions.user`: user id ‖ plan id ‖ position → `[1]` while active, else `[0]`;
/// - `subscriptions.plan`: plan id ‖ position → empty;
/// - a proxy's table: its order key ‖ position → empty.
///
/// Index entries follow from the rows (`indexEntries`), so the indexes of any set of rows
/// can be derived again (what a snapshot of rows relies on).
protocol KeyValueViews: ViewState {
    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]?
    /// Entries whose key starts with `prefix`, in key order.
    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])]
    /// Calls `body` with every key of a table in key order until it returns false.
    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws
}

/// Write access to key-value views: what a fold needs.
protocol KeyValueViewWriting: KeyValueViews, ViewStateWriting {
    func put(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) throws
    func delete(_ table: ViewTable, _ key: [UInt8]) throws
    /// Stores `row` at `position` of a row table.
    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws
}

extension KeyValueViews {
    // MARK: ViewState, read through the key layouts

    func position(of name: UniqueName) throws -> UInt64? {
        let (table, key) = KeyLayout.entry(name)
        return try get(.index(table), key).map { Keys.readPosition($0) }
    }

    func membership(user: EntityID, group: EntityID) throws -> UInt64? {
        try get(.index(.membershipsByUser), Keys.ids(user, group)).map { Keys.readPosition($0) }
    }

    func subscriptions(user: EntityID, plan: EntityID) throws -> [(position: UInt64, isActive: Bool)] {
        try scan(.index(.subscriptionsByUser), prefix: Keys.ids(user, plan)).map {
            (Keys.readPosition($0.key, at: 32), $0.value == [1])
        }
    }

    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        KeyLayout.positions(relation, try scan(.index(relation.index), prefix: Keys.ids(entity)))
    }

    func hasProxyEntry(_ proxy: Int, key: [UInt8]) throws -> Bool? { try get(.proxy(proxy), key) != nil }

    func forEachProxyEntry(_ proxy: Int, _ body: (UInt64) throws -> Bool) throws {
        try forEach(.proxy(proxy)) { key in try body(Keys.readPosition(key, at: key.count - 8)) }
    }
}

extension KeyValueViewWriting {
    /// The entries the old row had and the new one has not are deleted, changed ones are put.
    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        for (index, key, value) in KeyLayout.indexWrites(old: old?.cached, new: new?.cached, at: p) {
            if let value { try put(.index(index), key, value) } else { try delete(.index(index), key) }
        }
        if let new { try put(table, at: p, new) } else { try delete(.rows(table), Keys.position(p)) }
    }

    func setProxyEntry(_ proxy: Int, position: UInt64, present: Bool, key: () -> [UInt8]) throws {
        if present { try put(.proxy(proxy), key(), []) } else { try delete(.proxy(proxy), key()) }
    }
}

/// The key layouts of the index tables.
enum KeyLayout {
    /// The index table and key of a unique name.
    static func entry(_ name: UniqueName) -> (table: BaseTable, key: [UInt8]) {
        switch name {
        case .email(let email): (.usersByEmail, Keys.natural(email.emailKey))
        case .planName(let name): (.plansByName, Keys.natural(name))
        case .groupName(let name): (.groupsByName, Keys.natural(name))
        }
    }

    /// The row positions in a relation's index entries (all under one entity).
    static func positions(_ relation: Relation, _ entries: [(key: [UInt8], value: [UInt8])]) -> [UInt64] {
        entries.map { entry in
            switch relation {
            case .membershipsOfUser: Keys.readPosition(entry.value)
            case .membershipsOfGroup, .subscriptionsOfPlan: Keys.readPosition(entry.key, at: 16)
            case .subscriptionsOfUser: Keys.readPosition(entry.key, at: 32)
            }
        }
    }

    /// The position of the row an index entry stands for.
    static func position(in table: BaseTable, key: [UInt8], value: [UInt8]) -> UInt64 {
        guard let relation = Relation(table) else { return Keys.readPosition(value) }
        return positions(relation, [(key, value)])[0]
    }

    /// The index entries that a row at position `p` stands for: its unique name, its relations.
    static func indexEntries(of row: CachedRow, at p: UInt64) -> [(table: BaseTable, key: [UInt8], value: [UInt8])] {
        var out: [(table: BaseTable, key: [UInt8], value: [UInt8])] = []
        writeIndexEntries(of: row, at: p) { table, key, value in
            var k: [UInt8] = [], v: [UInt8] = []
            key(&k)
            value(&v)
            out.append((table, k, v))
        }
        return out
    }

    /// Writes each index entry of a row at `p`: `body` gets its table and the writers of its
    /// key and value, so that a whole table packed at once builds no array per entry. The one
    /// definition of the index layout; `indexEntries` collects what it writes.
    static func writeIndexEntries(of row: CachedRow, at p: UInt64,
                                  _ body: (BaseTable, _ key: (inout [UInt8]) -> Void, _ value: (inout [UInt8]) -> Void) -> Void) {
        let position = { (b: inout [UInt8]) in b.appendBigEndian(p) }
        switch row {
        case .user(let u): body(.usersByEmail, { Keys.appendEmail(u.email, to: &$0) }, position)
        case .plan(let plan): body(.plansByName, { Keys.appendNatural(plan.name, to: &$0) }, position)
        case .teamPlan: break
        case .group(let g): body(.groupsByName, { Keys.appendNatural(g.name, to: &$0) }, position)
        case .membership(let m):
            body(.membershipsByUser, { m.user.append(to: &$0); m.group.append(to: &$0) }, position)
            body(.membershipsByGroup, { m.group.append(to: &$0); $0.appendBigEndian(p) }, { _ in })
        case .subscription(let sub):
            body(.subscriptionsByUser, { sub.user.append(to: &$0); sub.plan.append(to: &$0); $0.appendBigEndian(p) },
                 { $0.append(sub.isActive ? 1 : 0) })
            body(.subscriptionsByPlan, { sub.plan.append(to: &$0); $0.appendBigEndian(p) }, { _ in })
        }
    }

    /// The index writes that replacing row `old` at `p` with `new` makes (nil: a delete): the
    /// entries the old row had and the new one has not are deleted, changed ones are put.
    static func indexWrites(old: CachedRow?, new: CachedRow?, at p: UInt64) -> [(table: BaseTable, key: [UInt8], value: [UInt8]?)] {
        if let old, let new, sameIndexEntries(old, new) { return [] }
        let before = old.map { indexEntries(of: $0, at: p) } ?? []
        let after = new.map { indexEntries(of: $0, at: p) } ?? []
        var out: [(table: BaseTable, key: [UInt8], value: [UInt8]?)] = []
        for entry in before where !after.contains(where: { $0.table == entry.table && $0.key == entry.key }) {
            out.append((entry.table, entry.key, nil))
        }
        for entry in after where !before.contains(where: { $0.table == entry.table && $0.key == entry.key && $0.value == entry.value }) {
            out.append((entry.table, entry.key, entry.value))
        }
        return out
    }

    /// Calls `body` with each index entry that replacing `old` with `new` at `p` removes: those
    /// of `old` under a key that `new` has not (what a store on LMDB deletes).
    static func forEachRemovedEntry(old: CachedRow, new: CachedRow?, at p: UInt64, _ body: (BaseTable, [UInt8]) -> Void) {
        if let new, sameIndexKeys(old, new) { return }
        for (table, key, value) in indexWrites(old: old, new: new, at: p) where value == nil { body(table, key) }
    }

    /// Whether two versions of a row stand for index entries under the same keys; their values
    /// may differ (a subscription's entry by user says whether it is active).
    static func sameIndexKeys(_ a: CachedRow, _ b: CachedRow) -> Bool {
        if case .subscription(let x) = a, case .subscription(let y) = b { return x.user == y.user && x.plan == y.plan }
        return sameIndexEntries(a, b)
    }

    /// Whether two versions of a row stand for the same index entries: the fields
    /// `indexEntries` reads are equal (most updates, a login or a rename, touch none).
    static func sameIndexEntries(_ a: CachedRow, _ b: CachedRow) -> Bool {
        switch (a, b) {
        case (.user(let x), .user(let y)): x.email == y.email
        case (.plan(let x), .plan(let y)): x.name == y.name
        case (.teamPlan, .teamPlan): true
        case (.group(let x), .group(let y)): x.name == y.name
        case (.membership(let x), .membership(let y)): x.user == y.user && x.group == y.group
        case (.subscription(let x), .subscription(let y)): x.user == y.user && x.plan == y.plan && x.isActive == y.isActive
        default: false
        }
    }
}

/// Key encodings shared by the log and the views.
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
        var key: [UInt8] = []
        appendNatural(text, to: &key)
        return key
    }

    static func appendNatural(_ text: String, to key: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in
            if utf8.count <= 400 {
                key.append(0)
                key.append(contentsOf: utf8)
            } else {
                key.append(1)
                key.append(contentsOf: EventCodec.chainHash(previous: [UInt8](), body: UnsafeRawBufferPointer(utf8)))
            }
        }
    }

    /// The natural key of an email as users compare them (`emailKey`: trimmed, lower-cased).
    /// An ASCII email with nothing to trim is lower-cased byte by byte, without building the
    /// strings (Unicode case mapping was most of the cost of packing the `users.email` index).
    static func appendEmail(_ email: String, to key: inout [UInt8]) {
        var email = email
        let plain = email.withUTF8 { utf8 -> Bool in
            func space(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
            guard let first = utf8.first, let last = utf8.last, utf8.count <= 400, !space(first), !space(last),
                  utf8.allSatisfy({ $0 < 0x80 }) else { return false }
            key.append(0)
            for b in utf8 { key.append((0x41...0x5A).contains(b) ? b | 0x20 : b) }
            return true
        }
        if !plain { appendNatural(email.emailKey, to: &key) }
    }

    static func ids(_ ids: EntityID...) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(ids.count * 16 + 8)
        for id in ids { id.append(to: &b) }
        return b
    }

    static func ids(_ a: EntityID, _ b: EntityID, position: UInt64) -> [UInt8] {
        var k = ids(a, b)
        k.appendBigEndian(position)
        return k
    }

    static func id(_ a: EntityID, position: UInt64) -> [UInt8] {
        var k = ids(a)
        k.appendBigEndian(position)
        return k
    }
}
