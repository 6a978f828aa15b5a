/// The view tables behind a write-back cache: what a fold over stored views runs on.
///
/// Reads come from the cache, else from `base` (LMDB tables, for the catch-up folds of open
/// and rebuild; a snapshot, for `--as-of`), and are cached; writes stay here until the owner
/// writes out `changes(in:)`, sorted. Rows are kept decoded, so a fold never encodes or
/// decodes a row it already holds, and a row updated many times (a team plan's `seats_used`)
/// is written once. Folds of the whole log from nothing run on `MemoryViews` instead.
final class CachedViews<Base: KeyValueViews>: KeyValueViewWriting {
    let base: Base
    private var rows: [[UInt64: RowSlot]]
    private var entries: [[ViewKey: Slot]]
    /// Keys of the tables scanned by entity, grouped by that entity (their first 16 bytes).
    private var groups: [[EntityID: Set<ViewKey>]]

    struct RowSlot {
        var row: CachedRow?
        var dirty: Bool
    }

    struct Slot {
        var value: [UInt8]?
        var dirty: Bool
    }

    init(base: Base, tableCount: Int) {
        self.base = base
        rows = Array(repeating: [:], count: tableCount)
        entries = Array(repeating: [:], count: tableCount)
        groups = Array(repeating: [:], count: tableCount)
    }

    private static func isGrouped(_ table: ViewTable) -> Bool { table.base?.isScannedByEntity ?? false }

    func creationPosition(of id: EntityID) throws -> UInt64? { try base.creationPosition(of: id) }

    // MARK: Rows

    private func cachedRow(_ table: BaseTable, at position: UInt64) throws -> CachedRow? {
        if let slot = rows[table.rawValue][position] { return slot.row }
        let row: CachedRow?
        switch table {
        case .users: row = try base.row(UserRow.self, table, at: position)?.cached
        case .plans: row = try base.row(PlanRow.self, table, at: position)?.cached
        case .teamPlans: row = try base.row(TeamPlanRow.self, table, at: position)?.cached
        case .groups: row = try base.row(GroupRow.self, table, at: position)?.cached
        case .memberships: row = try base.row(MembershipRow.self, table, at: position)?.cached
        case .subscriptions: row = try base.row(SubscriptionRow.self, table, at: position)?.cached
        default: row = nil
        }
        rows[table.rawValue][position] = RowSlot(row: row, dirty: false)
        return row
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try cachedRow(table, at: position).flatMap(R.init(cached:))
    }

    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws {
        rows[table.rawValue][position] = RowSlot(row: row.cached, dirty: true)
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        let cached = rows[table.rawValue]
        // This cache's rows, merged in position order with the base's (a cached version wins).
        var mine = PositionMerge(cached.keys.sorted())
        func emitCached(_ p: UInt64) throws -> Bool {
            try cached[p]?.row.flatMap(R.init(cached:)).map { try body(p, $0) } ?? true
        }
        var stopped = false
        try base.forEachRow(type, table) { position, row in
            while let p = mine.next(before: position) {
                guard try emitCached(p) else { stopped = true; return false }
            }
            if mine.take(position) {
                guard try emitCached(position) else { stopped = true; return false }
                return true
            }
            guard try body(position, row) else { stopped = true; return false }
            return true
        }
        if stopped { return }
        while let p = mine.next() { if try !emitCached(p) { return } }
    }

    // MARK: Key-value entries

    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        if case .rows(let t) = table { return try cachedRow(t, at: Keys.readPosition(key)).map(\.encoded) }
        let k = ViewKey(key)
        if let slot = entries[table.slot][k] { return slot.value }
        let value = try base.get(table, key)
        store(table, k, Slot(value: value, dirty: false))
        return value
    }

    func put(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) throws {
        if case .rows(let t) = table {
            let row = try value.withUnsafeBytes { b throws(DecodingError) in try CachedRow(decoding: b, table: t) }
            rows[t.rawValue][Keys.readPosition(key)] = RowSlot(row: row, dirty: true)
            return
        }
        store(table, ViewKey(key), Slot(value: value, dirty: true))
    }

    func delete(_ table: ViewTable, _ key: [UInt8]) throws {
        if case .rows(let t) = table {
            rows[t.rawValue][Keys.readPosition(key)] = RowSlot(row: nil, dirty: true)
            return
        }
        store(table, ViewKey(key), Slot(value: nil, dirty: true))
    }

    private func store(_ table: ViewTable, _ key: ViewKey, _ slot: Slot) {
        if entries[table.slot].updateValue(slot, forKey: key) == nil, Self.isGrouped(table), key.count > 16 {
            groups[table.slot][key.leadingID, default: []].insert(key)
        }
    }

    /// The cached keys of `table` that start with `prefix`, sorted.
    private func cachedKeys(_ table: ViewTable, prefix: [UInt8]) -> [ViewKey] {
        let candidates: any Sequence<ViewKey>
        if Self.isGrouped(table), prefix.count >= 16 {
            candidates = groups[table.slot][prefix.withUnsafeBytes { EntityID(raw: $0) }] ?? []
        } else {
            candidates = entries[table.slot].keys
        }
        return candidates.filter { $0.starts(with: prefix) }.sorted(by: <)
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        try merged(table, prefix: prefix, theirs: try base.scan(table, prefix: prefix))
    }

    /// The base's entries under `prefix` with this cache's over them (its version wins).
    private func merged(_ table: ViewTable, prefix: [UInt8], theirs: [(key: [UInt8], value: [UInt8])]) throws -> [(key: [UInt8], value: [UInt8])] {
        let keys = cachedKeys(table, prefix: prefix)
        let mine = keys.map(\.bytes)
        var out: [(key: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(max(mine.count, theirs.count))
        var i = 0, j = 0
        while i < mine.count || j < theirs.count {
            if j == theirs.count || (i < mine.count && !theirs[j].key.lexicographicallyPrecedes(mine[i])) {
                // This cache's version wins over the base's for the same key.
                if j < theirs.count, theirs[j].key == mine[i] { j += 1 }
                if let value = entries[table.slot][keys[i]]?.value { out.append((mine[i], value)) }
                i += 1
            } else {
                out.append(theirs[j])
                j += 1
            }
        }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        guard case .rows(let t) = table else { return try forEachEntry(table, body) }
        let cached = rows[t.rawValue]
        var mine = PositionMerge(cached.keys.sorted())
        func emitCached(_ p: UInt64) throws -> Bool { try cached[p]?.row == nil || body(Keys.position(p)) }
        var stopped = false
        try base.forEach(table) { key in
            let position = Keys.readPosition(key)
            while let p = mine.next(before: position) {
                guard try emitCached(p) else { stopped = true; return false }
            }
            let going = mine.take(position) ? try emitCached(position) : try body(key)
            stopped = !going
            return going
        }
        if stopped { return }
        while let p = mine.next() { if try !emitCached(p) { return } }
    }

    /// `forEach` of an index or a proxy: the base's keys as it walks them, merged with this
    /// cache's (its version wins), so a walk that stops early reads only what it needed.
    private func forEachEntry(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        let mine = cachedKeys(table, prefix: [])
        let slots = entries[table.slot]
        var i = 0
        func emitCached() throws -> Bool {
            defer { i += 1 }
            return try slots[mine[i]]?.value == nil || body(mine[i].bytes)
        }
        var stopped = false
        try base.forEach(table) { key in
            let k = ViewKey(key)
            while i < mine.count, mine[i] < k {
                guard try emitCached() else { stopped = true; return false }
            }
            let going = i < mine.count && mine[i] == k ? try emitCached() : try body(key)
            stopped = !going
            return going
        }
        if stopped { return }
        while i < mine.count { if try !emitCached() { return } }
    }

    /// The base's candidates and the rows this cache relates to the entity (its deletions only
    /// narrow what the base lists, so they are left to the caller's check).
    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        let mine = KeyLayout.positions(relation, try merged(.index(relation.index), prefix: Keys.ids(entity), theirs: []))
        let theirs = try base.candidatePositions(relation, of: entity)
        guard !mine.isEmpty else { return theirs }
        return Set(theirs + mine).sorted()
    }

    // MARK: Writing out

    /// What this cache changed in `table`, sorted by key: a value to put, or nil to delete.
    func changes(in table: ViewTable) -> [(key: [UInt8], value: [UInt8]?)] {
        if case .rows(let t) = table {
            return rows[t.rawValue].filter { $0.value.dirty }.sorted { $0.key < $1.key }
                .map { (Keys.position($0.key), $0.value.row?.encoded) }
        }
        return entries[table.slot].filter { $0.value.dirty }.sorted { $0.key < $1.key }.map { ($0.key.bytes, $0.value.value) }
    }
}

/// Sorted positions consumed while walking another sorted sequence of positions.
struct PositionMerge {
    private let positions: [UInt64]
    private var i = 0

    init(_ sorted: [UInt64]) { positions = sorted }

    /// The next position, if it is below `limit` (any, without one).
    mutating func next(before limit: UInt64? = nil) -> UInt64? {
        guard i < positions.count, limit.map({ positions[i] < $0 }) ?? true else { return nil }
        defer { i += 1 }
        return positions[i]
    }

    /// Consumes `position` when it is next; true when it was.
    mutating func take(_ position: UInt64) -> Bool {
        guard i < positions.count, positions[i] == position else { return false }
        i += 1
        return true
    }
}
