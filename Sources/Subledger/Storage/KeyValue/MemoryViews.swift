/// The views of a fold that starts from nothing and holds every table in memory: the whole-log
/// folds of rebuild, verify and of taking every snapshot again.
///
/// It keeps what the fold itself reads, typed: rows by position, creations by id, and the four
/// relations its cascades walk (a user's memberships and subscriptions, a group's members, a
/// plan's subscribers) as lists of row positions. The other index tables are not maintained:
/// they follow from the rows (`KeyLayout.indexEntries`) and are derived when written out. Each
/// proxy keeps the one key a row position has in it. So a row change costs a dictionary update
/// or two, not a put per index entry.
///
/// Its tables are `@exclusivity(unchecked)`: one thread folds into it and no call lends a table
/// to another, so the runtime's access checks (4% of a rebuild's instructions) guard nothing.
final class MemoryViews: KeyValueViewWriting {
    /// Rows by table (indexed by `BaseTable.rawValue`; only row tables are filled).
    @exclusivity(unchecked) private var rows: [[UInt64: CachedRow]]
    @exclusivity(unchecked) private var created: [EntityID: UInt64] = [:]
    /// Row positions by related entity, one dictionary per `Relation`. A list may still hold
    /// positions whose row has since moved to another entity or gone (and a position twice):
    /// a scan checks each against its row, so a move costs an append, not a search of a
    /// popular plan's thousands of subscribers.
    @exclusivity(unchecked) private var related: [[EntityID: [UInt64]]]
    /// Each proxy's key of each row position in it.
    @exclusivity(unchecked) private var proxyKeys: [[UInt64: [UInt8]]]
    /// With `tracksChanges`, the rows written since `takeChanges`: what a snapshot records.
    private let tracksChanges: Bool
    @exclusivity(unchecked) private var changedRows: [Set<UInt64>]
    /// With `tracksChanges`, the links of every entry a relation or a proxy removed
    /// (`SnapshotLinks`): as a writer on LMDB puts them.
    private(set) var links: Set<[UInt8]> = []
    /// Index tables derived from the rows, sorted, dropped at the next row change.
    private var derived: [Int: PackedTable] = [:]

    init(tableCount: Int, tracksChanges: Bool = false) {
        rows = Array(repeating: [:], count: BaseTable.allCases.count)
        related = Array(repeating: [:], count: Relation.allCases.count)
        proxyKeys = Array(repeating: [:], count: tableCount - BaseTable.allCases.count)
        self.tracksChanges = tracksChanges
        changedRows = Array(repeating: [], count: tracksChanges ? BaseTable.allCases.count : 0)
    }

    /// Makes room for the entities `counts` says the log creates, so that a fold of the whole
    /// log never regrows a table (each regrowth hashes every entry again).
    func reserve(for counts: LogCounts) {
        created.reserveCapacity(counts.streams)
        let creations: [(BaseTable, EventType)] = [
            (.users, .userRegistered), (.plans, .planCreated), (.groups, .groupCreated),
            (.memberships, .memberJoined), (.subscriptions, .subscribed),
        ]
        for (table, type) in creations { rows[table.rawValue].reserveCapacity(counts[type]) }
    }

    private func link(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) {
        if tracksChanges, SnapshotLinks.links(table) { links.insert(SnapshotLinks.link(table, key: key, value: value)) }
    }

    /// Records the creation of the entity an event creates: there is no log index to ask.
    func noteCreation(of event: RecordedEvent) {
        if event.data.createsEntity, created[event.stream.id] == nil { created[event.stream.id] = event.position }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { created[id] }

    // MARK: Rows

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        rows[table.rawValue][position].flatMap(R.init(cached:))
    }

    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws {
        replace(table, at: position, before: rows[table.rawValue][position], after: row.cached)
    }

    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        if tracksChanges, table == .memberships || table == .subscriptions {
            // The relation entries a store on LMDB removes for this change (this one derives
            // them): all of the row at `p`, so linked by `p`. Other tables' indexes are not
            // linked, and most changes (a login, a rename) touch no index at all.
            for (index, key, value) in KeyLayout.indexWrites(old: old?.cached, new: new?.cached, at: p) where value == nil {
                link(.index(index), key, Keys.position(p))
            }
        }
        replace(table, at: p, before: old?.cached, after: new?.cached)
    }

    private func replace(_ table: BaseTable, at p: UInt64, before: CachedRow?, after: CachedRow?) {
        switch table {
        case .memberships:
            relink(.membershipsOfUser, p, before, after)
            relink(.membershipsOfGroup, p, before, after)
        case .subscriptions:
            relink(.subscriptionsOfUser, p, before, after)
            relink(.subscriptionsOfPlan, p, before, after)
        default: break
        }
        rows[table.rawValue][p] = after
        if tracksChanges { changedRows[table.rawValue].insert(p) }
        if !derived.isEmpty { derived.removeAll() }
    }

    /// Lists row position `p` in `relation` under the entity the new row has, if it moved there.
    private func relink(_ relation: Relation, _ p: UInt64, _ before: CachedRow?, _ after: CachedRow?) {
        let from = before.flatMap(relation.entity(of:)), to = after.flatMap(relation.entity(of:))
        guard from != to, let to else { return }
        related[relation.rawValue][to, default: []].append(p)
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        let rows = rows[table.rawValue]
        for p in rows.keys.sorted() {
            guard let row = rows[p].flatMap(R.init(cached:)) else { continue }
            if try !body(p, row) { return }
        }
    }

    /// Calls `body` with every row of a row table in position order.
    func forEachCachedRow(_ table: BaseTable, _ body: (UInt64, CachedRow) throws -> Void) throws {
        let rows = rows[table.rawValue]
        for p in rows.keys.sorted() { if let row = rows[p] { try body(p, row) } }
    }

    // MARK: Key-value entries

    /// Index tables other than the cascades' relations are derived whole for a read (and
    /// again after any row change): nothing reads them during a fold, only afterwards.
    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        if case .rows(let t) = table { return rows[t.rawValue][Keys.readPosition(key)]?.encoded }
        let entries = try scan(table, prefix: key)
        return entries.first { $0.key == key }?.value
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        // The cascades' scans, by an entity: only that entity's rows.
        if case .index(let t) = table, let relation = Relation(t), prefix.count >= 16 {
            let id = prefix.withUnsafeBytes { EntityID(raw: $0) }
            let source = rows[t.rowTable.rawValue]
            // Positions listed here whose row has left `id` give keys outside the prefix.
            let entries = Set(related[relation.rawValue][id] ?? []).compactMap { p in
                source[p].flatMap { row in KeyLayout.indexEntries(of: row, at: p).first { $0.table == t } }
            }.filter { $0.key.starts(with: prefix) }
            return entries.sorted { ViewKey($0.key) < ViewKey($1.key) }.map { ($0.key, $0.value) }
        }
        let packed = self.packed(table)
        var out: [(key: [UInt8], value: [UInt8])] = []
        for i in 0..<packed.count where packed.withEntry(i, { key, _ in key.starts(with: prefix) }) { out.append(packed.entry(i)) }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        if case .rows(let t) = table {
            for p in rows[t.rawValue].keys.sorted() where try !body(Keys.position(p)) { return }
            return
        }
        for (key, _) in try scan(table, prefix: []) where try !body(key) { return }
    }

    func put(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) throws {
        switch table {
        case .rows(let t):
            let new = try value.withUnsafeBytes { b throws(DecodingError) in try CachedRow(decoding: b, table: t) }
            let p = Keys.readPosition(key)
            replace(t, at: p, before: rows[t.rawValue][p], after: new)
        case .index(let t): preconditionFailure("index table \(t.name) follows from the rows")
        case .proxy(let i):
            proxyKeys[i][Keys.readPosition(key, at: key.count - 8)] = key
        }
    }

    func delete(_ table: ViewTable, _ key: [UInt8]) throws {
        switch table {
        case .rows(let t):
            let p = Keys.readPosition(key)
            replace(t, at: p, before: rows[t.rawValue][p], after: nil)
        case .index(let t): preconditionFailure("index table \(t.name) follows from the rows")
        case .proxy(let i):
            let p = Keys.readPosition(key, at: key.count - 8)
            if proxyKeys[i][p] == key {
                proxyKeys[i][p] = nil
                link(table, key, [])
            }
        }
    }

    // MARK: Writing out

    /// The rows written since the last call (with `tracksChanges`), sorted by table and
    /// position, with their stored bytes now (nil: deleted). Tracking starts afresh.
    func takeChanges() -> [(table: BaseTable, position: UInt64, row: [UInt8]?)] {
        var out: [(table: BaseTable, position: UInt64, row: [UInt8]?)] = []
        for (t, changed) in changedRows.enumerated() where !changed.isEmpty {
            for p in changed.sorted() { out.append((BaseTable(rawValue: t)!, p, rows[t][p]?.encoded)) }
            changedRows[t].removeAll(keepingCapacity: true)
        }
        return out
    }

    /// The entries of `table` in key order, as LMDB lists them: rows encoded, index entries
    /// derived from the rows, proxy keys.
    func packed(_ table: ViewTable) -> PackedTable {
        guard let t = table.base else {
            guard case .proxy(let i) = table else { preconditionFailure("a table is a base table or a proxy's") }
            let keys = proxyKeys[i]
            var out = PackedTable.Builder(capacity: keys.count)
            for key in keys.values { out.append(key: key, value: []) }
            return out.sorted()
        }
        if t.holdsRows {
            let rows = rows[t.rawValue]
            var out = PackedTable.Builder(capacity: rows.count)
            for p in rows.keys.sorted() { out.append(position: p) { rows[p]!.encode(into: &$0) } }
            return out.inOrder()
        }
        if let done = derived[t.rawValue] { return done }
        // One pass over the source rows derives each index table they stand for.
        let source = t.rowTable
        let indexes = BaseTable.allCases.filter { !$0.holdsRows && $0.rowTable == source }
        var tables = indexes.map { _ in PackedTable.Builder(capacity: rows[source.rawValue].count) }
        for (p, row) in rows[source.rawValue] {
            for entry in KeyLayout.indexEntries(of: row, at: p) {
                guard let i = indexes.firstIndex(of: entry.table) else { continue }
                tables[i].append(key: entry.key, value: entry.value)
            }
        }
        for (i, index) in indexes.enumerated() { derived[index.rawValue] = tables[i].sorted() }
        return derived[t.rawValue] ?? PackedTable()
    }
}
