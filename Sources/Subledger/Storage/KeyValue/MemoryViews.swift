import CPrefetch

/// The views of a fold that starts from nothing and holds every table in memory: the whole-log
/// folds of rebuild, verify and of taking every snapshot again.
///
/// Its state is dense, so a fold's reads and writes are array indexing, not hashing:
/// - each row gets a slot when first put, numbered per entity kind in creation order (plans
///   and their `team_plans` rows share one numbering), and `slotOf` maps a position to it;
/// - entity ids are numbered by an `EntityIndex`, the one hash look-up per id an event names,
///   which keeps each entity's creation position in the id's bucket; by that number sit the
///   heads of its relation lists;
/// - the four relations the cascades walk (a user's memberships and subscriptions, a group's
///   members, a plan's subscribers) are linked lists in one node array per relation. A list
///   may still hold positions whose row has since moved to another entity or gone (and a
///   position twice): a read checks each against its row, so a move costs an append, not a
///   search of a popular plan's thousands of subscribers.
///
/// The other index tables are not kept: they follow from the rows (`KeyLayout.indexEntries`)
/// and are derived when written out. So do the proxies' keys: a proxy keeps a mark per row,
/// and a row's key is made from the row when the proxy's table is written out. A proxy
/// follows every change of its base view, so a marked row's key is that of the row as it is.
///
/// Its tables are `@exclusivity(unchecked)`: one thread folds into it and no call lends a table
/// to another, so the runtime's access checks (4% of a rebuild's instructions) guard nothing.
final class MemoryViews: KeyValueViewWriting {
    /// The position of each slot's row, per kind (`kind(of:)`), in the order the slots were made.
    @exclusivity(unchecked) private var positions: [[UInt64]]
    /// Whether each kind's slots were made in position order (a fold makes them so).
    @exclusivity(unchecked) private var inOrder: [Bool]
    /// The slot of the rows at each position, with their kind in its low bits (`tagged`;
    /// -1: none), so that finding a row by position reads one entry.
    @exclusivity(unchecked) private var slotOf: [Int32] = []
    /// Rows by slot, a typed column per row table.
    private let columns = RowColumns()
    /// Entity numbers, each with the position of the event that created it (0: none yet).
    @exclusivity(unchecked) private var entities = EntityIndex<UInt64>(initial: 0)
    /// By relation, by entity number: the newest node of its list (-1: none).
    @exclusivity(unchecked) private var heads: [[Int32]]
    /// By relation: every node of every list.
    @exclusivity(unchecked) private var nodes: [[Node]]
    private let proxies: [Proxy]
    /// By proxy, by slot (of its base view's rows): whether the row is in the proxy.
    @exclusivity(unchecked) private var inProxy: [[Bool]]
    /// With `tracksChanges`, the rows written since `takeChanges`: what a snapshot records.
    private let tracksChanges: Bool
    @exclusivity(unchecked) private var changedSlots: [[Int32]]
    @exclusivity(unchecked) private var isChanged: [[Bool]]
    /// With `tracksChanges`, the links of every entry a relation or a proxy removed
    /// (`SnapshotLinks`), as a writer on LMDB puts them: appended, a link maybe more than once
    /// (a row can leave a relation again), sorted and made unique by `sortedLinks`.
    @exclusivity(unchecked) private var links = PackedTable.Builder(capacity: 0)
    /// Index tables derived from the rows, sorted, dropped at the next row change.
    @exclusivity(unchecked) private var derived: [Int: PackedTable] = [:]

    private struct Node {
        var position: UInt64
        var next: Int32
    }

    /// Row tables sharing a numbering of slots, by `kind(of:)`.
    private static let kinds: [[BaseTable]] = [[.users], [.plans, .teamPlans], [.groups], [.memberships], [.subscriptions]]

    @inline(__always) private static func kind(of table: BaseTable) -> Int {
        switch table {
        case .users: 0
        case .plans, .teamPlans: 1
        case .groups: 2
        case .memberships: 3
        case .subscriptions: 4
        default: preconditionFailure("table \(table.name) holds no rows")
        }
    }

    init(proxies: [Proxy], tracksChanges: Bool = false) {
        let tables = BaseTable.allCases.count, kinds = MemoryViews.kinds.count
        positions = Array(repeating: [], count: kinds)
        inOrder = Array(repeating: true, count: kinds)
        heads = Array(repeating: [], count: Relation.allCases.count)
        nodes = Array(repeating: [], count: Relation.allCases.count)
        self.proxies = proxies
        inProxy = Array(repeating: [], count: proxies.count)
        self.tracksChanges = tracksChanges
        changedSlots = Array(repeating: [], count: tracksChanges ? tables : 0)
        isChanged = Array(repeating: [], count: tracksChanges ? tables : 0)
    }

    /// Makes room for what `counts` says the log holds, so that a fold of the whole log never
    /// regrows a table (each regrowth copies or hashes every entry again).
    func reserve(for counts: LogCounts) {
        entities.reserve(counts.streams)
        slotOf.reserveCapacity(counts.types.reduce(0, +) + 1)
        let creations: [(BaseTable, EventType)] = [
            (.users, .userRegistered), (.plans, .planCreated), (.groups, .groupCreated),
            (.memberships, .memberJoined), (.subscriptions, .subscribed),
        ]
        for (table, type) in creations {
            let kind = MemoryViews.kind(of: table)
            positions[kind].reserveCapacity(counts[type])
            columns.reserve(MemoryViews.kinds[kind], counts[type])
        }
    }

    private func link(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) {
        if tracksChanges, SnapshotLinks.links(table) { links.append(key: SnapshotLinks.link(table, key: key, value: value), value: []) }
    }

    /// The links of the entries removed so far (with `tracksChanges`), in key order, each once.
    func sortedLinks() -> PackedTable { links.sorted(unique: true) }

    /// Calls `body` with each event of `batch` in order, after noting the entity it creates
    /// and loading ahead what the events after it will read: the one way a whole-log fold
    /// feeds its events in.
    func forEachEvent(in batch: FoldBatch, _ body: (RecordedEvent) throws -> Void) rethrows {
        for (i, event) in batch.events.enumerated() {
            prefetch(ahead: batch, of: i)
            noteCreation(of: event)
            try body(event)
        }
    }

    /// Loads what folding `batch.events[i]` and the events after it will read, in stages, so
    /// that the misses into tables far larger than the caches overlap instead of following
    /// each other: the index buckets of the ids an event names 8 events ahead, the slots of
    /// their rows 4 ahead (the buckets are in cache by then), and the rows themselves 2 ahead.
    private func prefetch(ahead batch: FoldBatch, of i: Int) {
        batch.named.withUnsafeBufferPointer { named in
            let n = batch.events.count
            func ids(_ event: Int, _ body: (EntityID) -> Void) {
                for id in named[event * FoldBatch.idsPerEvent ..< (event + 1) * FoldBatch.idsPerEvent] where id.high | id.low != 0 { body(id) }
            }
            if i + 8 < n { ids(i + 8) { entities.prefetch($0) } }
            if i + 4 < n {
                ids(i + 4) { id in
                    guard let p = createdAtSlotEntry(id) else { return }
                    slotOf.withUnsafeBufferPointer { subledger_prefetch($0.baseAddress! + p) }
                }
            }
            if i + 2 < n {
                ids(i + 2) { id in
                    guard let p = createdAtSlotEntry(id) else { return }
                    let entry = slotOf[p]
                    guard entry >= 0 else { return }
                    let (s, kind) = MemoryViews.untagged(entry)
                    columns.prefetch(MemoryViews.kinds[kind][0], s)
                }
            }
        }
    }

    /// Records the creation of the entity an event creates: there is no log index to ask.
    func noteCreation(of event: RecordedEvent) {
        guard event.data.createsEntity else { return }
        let p = event.position
        entities.update(event.stream.id) { created, _ in if created == 0 { created = p } }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { created(id) }

    private func created(_ id: EntityID) -> UInt64? {
        guard let created = entities.find(id)?.value, created != 0 else { return nil }
        return created
    }

    /// The index in `slotOf` of the position that created `id`, if `slotOf` reaches it.
    private func createdAtSlotEntry(_ id: EntityID) -> Int? {
        guard let p = created(id), p < UInt64(slotOf.count) else { return nil }
        return Int(p)
    }

    // MARK: Slots

    /// An entry of `slotOf`: slot `s` of the rows of `kind`, the kind in the low 3 bits.
    @inline(__always) private static func tagged(_ s: Int, kind: Int) -> Int32 { Int32(s << 3 | kind) }

    @inline(__always) private static func untagged(_ entry: Int32) -> (slot: Int, kind: Int) { (Int(entry) >> 3, Int(entry) & 7) }

    /// The slot of the rows of `kind` at position `p`, if any.
    @inline(__always) private func slot(_ p: UInt64, kind: Int) -> Int? {
        guard p < UInt64(slotOf.count) else { return nil }
        let entry = slotOf[Int(p)]
        guard entry >= 0 else { return nil }
        let (s, k) = MemoryViews.untagged(entry)
        return k == kind ? s : nil
    }

    /// A new slot for the rows of `kind` at position `p`, with room in each of its tables.
    private func newSlot(_ p: UInt64, kind: Int) -> Int {
        precondition(p < 1 << 40, "position \(p) is past any log")
        let i = Int(p)
        slotOf.grow(toHold: i, with: -1)
        precondition(slotOf[i] < 0, "position \(p) holds the rows of another entity")
        let s = positions[kind].count
        precondition(s < 1 << 28, "a fold holds fewer than 2^28 rows of a kind")
        if let last = positions[kind].last, last > p { inOrder[kind] = false }
        positions[kind].append(p)
        slotOf[i] = MemoryViews.tagged(s, kind: kind)
        columns.appendSlot(MemoryViews.kinds[kind])
        if tracksChanges { for t in MemoryViews.kinds[kind] { isChanged[t.rawValue].append(false) } }
        return s
    }

    /// Calls `body` with the position and slot of each row of a row table, in position order,
    /// until it returns false.
    private func forEachLiveSlot(_ table: BaseTable, _ body: (_ position: UInt64, _ slot: Int) throws -> Bool) rethrows {
        let kind = MemoryViews.kind(of: table), positions = positions[kind]
        // A fold makes slots in position order; only rows put out of order need a sort.
        let order = inOrder[kind] ? nil : positions.indices.sorted { positions[$0] < positions[$1] }
        for i in positions.indices {
            let s = order?[i] ?? i
            if columns.has(table, s), try !body(positions[s], s) { return }
        }
    }

    /// The stored bytes of the row in slot `s` of a row table, if there is one.
    private func encoded(_ table: BaseTable, _ s: Int) -> [UInt8]? {
        var w = BinaryWriter(capacity: 64)
        return columns.encode(table, s, into: &w) ? w.bytes : nil
    }

    // MARK: Rows

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        guard let s = slot(position, kind: MemoryViews.kind(of: table)) else { return nil }
        return columns.row(R.self, s)
    }

    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws {
        replace(table, at: position, with: row)
    }

    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        // A new row removes no entry.
        if tracksChanges, let old, table == .memberships || table == .subscriptions {
            // The relation entries a store on LMDB removes for this change (this one derives
            // them): all of the row at `p`, so linked by `p`. Other tables' indexes are not
            // linked, and most changes (a login, a rename) touch no index at all.
            KeyLayout.forEachRemovedEntry(old: old.cached, new: new?.cached, at: p) { index, key in
                link(.index(index), key, Keys.position(p))
            }
        }
        replace(table, at: p, with: new)
    }

    /// Puts `after` (nil: deletes the row) at position `p` of a row table. Deleting where no
    /// row ever was changes nothing.
    private func replace<R: StoredRow>(_ table: BaseTable, at p: UInt64, with after: R?) {
        let kind = MemoryViews.kind(of: table), t = table.rawValue
        let s: Int
        if let existing = slot(p, kind: kind) {
            s = existing
        } else {
            guard after != nil else { return }
            s = newSlot(p, kind: kind)
        }
        switch table {
        case .memberships:
            relink(.membershipsOfUser, p, s, to: RowColumns.entity(.membershipsOfUser, of: after))
            relink(.membershipsOfGroup, p, s, to: RowColumns.entity(.membershipsOfGroup, of: after))
        case .subscriptions:
            relink(.subscriptionsOfUser, p, s, to: RowColumns.entity(.subscriptionsOfUser, of: after))
            relink(.subscriptionsOfPlan, p, s, to: RowColumns.entity(.subscriptionsOfPlan, of: after))
        default: break
        }
        columns.set(after, s)
        noteChange(t, s)
    }

    /// Records that the row in slot `s` of table `t` changed: for a snapshot, and for the index
    /// tables derived from the rows.
    private func noteChange(_ t: Int, _ s: Int) {
        if tracksChanges, !isChanged[t][s] {
            isChanged[t][s] = true
            changedSlots[t].append(Int32(s))
        }
        if !derived.isEmpty { derived.removeAll() }
    }

    /// Changes the row in place: a copy of a user's row out and back retained and released
    /// its strings, a cache miss each at 10^6 rows. Rows with relations take the long way
    /// (their lists follow the old row).
    func updateRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID, _ change: (inout R) -> Void) throws {
        guard table != .memberships, table != .subscriptions else {
            try rewriteRow(type, table, id: id, change)
            return
        }
        guard let p = try creationPosition(of: id), let s = slot(p, kind: MemoryViews.kind(of: table)),
              columns.update(type, s, change) else { return }
        noteChange(table.rawValue, s)
    }

    /// The same for a row in any form (as a snapshot or `put` hands it over).
    private func replace(_ table: BaseTable, at p: UInt64, with after: CachedRow?) {
        switch table {
        case .users: replace(table, at: p, with: after.flatMap(UserRow.init(cached:)))
        case .plans: replace(table, at: p, with: after.flatMap(PlanRow.init(cached:)))
        case .teamPlans: replace(table, at: p, with: after.flatMap(TeamPlanRow.init(cached:)))
        case .groups: replace(table, at: p, with: after.flatMap(GroupRow.init(cached:)))
        case .memberships: replace(table, at: p, with: after.flatMap(MembershipRow.init(cached:)))
        case .subscriptions: replace(table, at: p, with: after.flatMap(SubscriptionRow.init(cached:)))
        default: preconditionFailure("table \(table.name) holds no rows")
        }
    }

    /// Lists row position `p` in `relation` under entity `to`, unless the row in slot `s` is
    /// listed under it already.
    private func relink(_ relation: Relation, _ p: UInt64, _ s: Int, to: EntityID?) {
        guard let to, columns.entity(relation, s) != to else { return }
        let r = relation.rawValue, e = entities.insert(to)
        heads[r].grow(toHold: e, with: -1)
        precondition(nodes[r].count < Int(Int32.max), "a fold lists fewer than 2^31 related rows")
        nodes[r].append(Node(position: p, next: heads[r][e]))
        heads[r][e] = Int32(nodes[r].count - 1)
    }

    /// The positions of the rows related to `entity` now, in position order.
    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        related(relation, to: entity).map(\.position)
    }

    /// The rows related to `entity` now, each once, in position order: the listed ones whose
    /// row still names it.
    private func related(_ relation: Relation, to entity: EntityID) -> [(position: UInt64, slot: Int)] {
        let r = relation.rawValue
        guard let e = entities.number(of: entity), e < heads[r].count else { return [] }
        let kind = MemoryViews.kind(of: relation.rows)
        var out: [(position: UInt64, slot: Int)] = []
        var n = Int(heads[r][e])
        while n >= 0 {
            let node = nodes[r][n]
            if let s = slot(node.position, kind: kind), columns.entity(relation, s) == entity { out.append((node.position, s)) }
            n = Int(node.next)
        }
        // A row that moved away and back is listed twice.
        guard out.count > 1 else { return out }
        out.sort { $0.position < $1.position }
        var unique: [(position: UInt64, slot: Int)] = []
        for related in out where related.position != unique.last?.position { unique.append(related) }
        return unique
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try forEachLiveSlot(table) { p, s in try columns.row(R.self, s).map { try body(p, $0) } ?? true }
    }

    /// Calls `body` with every row of a row table in position order.
    func forEachCachedRow(_ table: BaseTable, _ body: (UInt64, CachedRow) throws -> Void) throws {
        try forEachLiveSlot(table) { p, s in
            if let row = columns.cached(table, s) { try body(p, row) }
            return true
        }
    }

    // MARK: Key-value entries

    /// Index tables other than the cascades' relations are derived whole for a read (and
    /// again after any row change): nothing reads them during a fold, only afterwards.
    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        if case .rows(let t) = table {
            guard let s = slot(Keys.readPosition(key), kind: MemoryViews.kind(of: t)) else { return nil }
            return encoded(t, s)
        }
        let entries = try scan(table, prefix: key)
        return entries.first { $0.key == key }?.value
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        // The cascades' scans, by an entity: only that entity's rows.
        if case .index(let t) = table, let relation = Relation(t), prefix.count >= 16 {
            let id = prefix.withUnsafeBytes { EntityID(raw: $0) }
            let entries = related(relation, to: id).compactMap { p, s in
                columns.cached(relation.rows, s).flatMap { KeyLayout.indexEntries(of: $0, at: p).first { $0.table == t } }
            }.filter { $0.key.starts(with: prefix) }
            return entries.sorted { ViewKey($0.key) < ViewKey($1.key) }.map { ($0.key, $0.value) }
        }
        let packed = self.packed(table)
        var out: [(key: [UInt8], value: [UInt8])] = []
        for i in 0..<packed.count where packed.withEntry(i, { key, _ in key.starts(with: prefix) }) { out.append(packed.entry(i)) }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        if case .rows(let t) = table { return try forEachLiveSlot(t) { p, _ in try body(Keys.position(p)) } }
        for (key, _) in try scan(table, prefix: []) where try !body(key) { return }
    }

    func put(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) throws {
        switch table {
        case .rows(let t):
            let new = try value.withUnsafeBytes { b throws(DecodingError) in try CachedRow(decoding: b, table: t) }
            replace(t, at: Keys.readPosition(key), with: new)
        case .index(let t): preconditionFailure("index table \(t.name) follows from the rows")
        case .proxy: preconditionFailure("a proxy's entries follow from the rows: setProxyEntry marks them")
        }
    }

    func delete(_ table: ViewTable, _ key: [UInt8]) throws {
        switch table {
        case .rows(let t):
            replace(t, at: Keys.readPosition(key), with: nil as CachedRow?)
        case .index(let t): preconditionFailure("index table \(t.name) follows from the rows")
        case .proxy: preconditionFailure("a proxy's entries follow from the rows: setProxyEntry marks them")
        }
    }

    /// Marks the row at `p` in or out of the proxy. Its key is made only for a removal's link
    /// (with `tracksChanges`), and for the proxy's table when it is written out.
    func setProxyEntry(_ proxy: Int, position p: UInt64, present: Bool, key: () -> [UInt8]) throws {
        // A proxy follows its base view, so the row was put before.
        guard p < UInt64(slotOf.count), slotOf[Int(p)] >= 0 else { preconditionFailure("a proxy lists a row at \(p), and there is none") }
        let s = MemoryViews.untagged(slotOf[Int(p)]).slot
        inProxy[proxy].grow(toHold: s, with: false)
        if !present, tracksChanges, inProxy[proxy][s] { link(.proxy(proxy), key(), []) }
        inProxy[proxy][s] = present
    }

    // MARK: Writing out

    /// Calls `body` with each row written since the last call (with `tracksChanges`), by table
    /// and position, and its stored bytes now (nil: deleted), valid only during the call.
    /// Tracking starts afresh.
    func forEachChange(_ body: (_ table: BaseTable, _ position: UInt64, _ row: UnsafeRawBufferPointer?) -> Void) {
        var w = BinaryWriter(capacity: 256)
        for (t, changed) in changedSlots.enumerated() where !changed.isEmpty {
            let table = BaseTable(rawValue: t)!, kind = MemoryViews.kind(of: table), positions = positions[kind]
            // Slots made in position order sort as their positions do.
            let slots = inOrder[kind] ? changed.sorted() : changed.sorted { positions[Int($0)] < positions[Int($1)] }
            for slot in slots {
                let s = Int(slot)
                w.bytes.removeAll(keepingCapacity: true)
                if columns.encode(table, s, into: &w) {
                    w.bytes.withUnsafeBytes { body(table, positions[s], $0) }
                } else {
                    body(table, positions[s], nil)
                }
                isChanged[t][s] = false
            }
            changedSlots[t].removeAll(keepingCapacity: true)
        }
    }

    /// `forEachChange`, collected.
    func takeChanges() -> [(table: BaseTable, position: UInt64, row: [UInt8]?)] {
        var out: [(table: BaseTable, position: UInt64, row: [UInt8]?)] = []
        forEachChange { out.append(($0, $1, $2.map { Array($0) })) }
        return out
    }

    /// The entries of `table` in key order, as LMDB lists them: rows encoded, index entries
    /// derived from the rows, proxy keys.
    func packed(_ table: ViewTable) -> PackedTable {
        guard let t = table.base else {
            guard case .proxy(let i) = table else { preconditionFailure("a table is a base table or a proxy's") }
            let proxy = proxies[i], marks = inProxy[i]
            var out = PackedTable.Builder(capacity: marks.count, bytesPerEntry: 40)
            forEachLiveSlot(proxy.base.table) { p, s in
                if s < marks.count, marks[s], let row = columns.anyRow(proxy.base, s) { out.append(key: proxy.indexKey(row, position: p), value: []) }
                return true
            }
            // Without an order, a key is the position: the rows came in position order.
            return proxy.ordered ? out.sorted() : out.inOrder()
        }
        let source = t.rowTable, positions = positions[MemoryViews.kind(of: source)]
        if t.holdsRows {
            var out = PackedTable.Builder(capacity: positions.count)
            forEachLiveSlot(t) { p, s in
                out.append(position: p) { _ = columns.encode(t, s, into: &$0) }
                return true
            }
            return out.inOrder()
        }
        if let done = derived[t.rawValue] { return done }
        // One pass over the source rows derives each index table they stand for.
        let indexes = BaseTable.allCases.filter { !$0.holdsRows && $0.rowTable == source }
        var tables = indexes.map { _ in PackedTable.Builder(capacity: positions.count) }
        for s in positions.indices {
            guard let row = columns.cached(source, s) else { continue }
            KeyLayout.writeIndexEntries(of: row, at: positions[s]) { table, key, value in
                if let i = indexes.firstIndex(of: table) { tables[i].append(key: key, value: value) }
            }
        }
        for (i, index) in indexes.enumerated() { derived[index.rawValue] = tables[i].sorted() }
        return derived[t.rawValue] ?? PackedTable()
    }
}

extension Array {
    /// Appends `value` until index `i` exists.
    fileprivate mutating func grow(toHold i: Int, with value: Element) {
        if count <= i { append(contentsOf: repeatElement(value, count: i + 1 - count)) }
    }
}
