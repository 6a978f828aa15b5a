import LMDB

/// The view tables as they were at snapshot position `at`: rows read from the snapshot runs,
/// each version found by a seek per run; a relation's or a proxy's entries derived from the rows
/// its live index lists and those it removed (`SnapshotLinks`), so an entity's related rows,
/// or a proxy's first rows in its order, cost about as many seeks as rows; the indexes of
/// unique names hinted by the live ones, or derived from all the rows when asked for.
/// Creation positions come from the stream index.
final class SnapshotViews<Txn: ReadableTransaction>: KeyValueViews {
    let txn: Txn
    /// The runs that may hold versions at `at`, newest first, and the databases of their slots.
    let runs: [SnapshotRun]
    let slots: [Database]
    let streams: StreamIndex
    /// The runs of links and the databases of their slots.
    let linkRuns: [SnapshotRun]
    let linkSlots: [Database]
    let at: UInt64
    /// The proxies whose removed entries the store keeps, numbered as the view tables number them.
    let proxies: [Proxy]
    private let cursors: SnapshotRunCursors

    /// Rows read by position so far, and creation positions: each looked up once per read.
    private var looked: [BaseTable: [UInt64: CachedRow?]] = [:]
    private var created: [EntityID: UInt64?] = [:]
    /// Index tables of unique names derived whole so far, sorted by key.
    private var derived: [BaseTable: [(key: [UInt8], value: [UInt8])]] = [:]

    /// The view tables as they are now: their unique-name indexes hint where a name's row
    /// is, their relations and proxies list most of the rows a snapshot's did.
    private let live: [ViewDatabase]

    init(_ txn: Txn, runs: [SnapshotRun], slots: [Database], streams: StreamIndex, linkRuns: [SnapshotRun],
         linkSlots: [Database], at: UInt64, proxies: [Proxy], live: [ViewDatabase]) throws {
        self.txn = txn
        self.runs = runs
        self.slots = slots
        self.streams = streams
        self.linkRuns = linkRuns
        self.linkSlots = linkSlots
        self.at = at
        self.proxies = proxies
        self.live = live
        cursors = try SnapshotRunCursors(runs, slots, txn)
    }

    /// Calls `body` with the bytes of the row at `position`, if it exists at this snapshot.
    private func withRow<T>(_ table: BaseTable, at position: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        guard at > 0 else { return nil }
        return try cursors.withRow(table, at: position, snapshot: at, body)
    }

    /// Calls `body` with every row of `table` at this snapshot, in position order.
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws {
        guard at > 0 else { return }
        // Cursors of its own: `body` may read other rows meanwhile.
        let cursors = try SnapshotRunCursors(runs, slots, txn)
        defer { cursors.close() }
        _ = try cursors.walk(table, 1...at, at: at, body)
    }

    /// The positions of the rows the relation's index lists under `entity` now, or listed and
    /// removed since: every row it listed at this snapshot is among them. In position order,
    /// none after the snapshot.
    private func candidates(_ table: BaseTable, of entity: [UInt8]) throws -> [UInt64] {
        guard at > 0 else { return [] }
        var out: [UInt64] = []
        let listed = try live[table.rawValue].scan(from: entity, txn)
        while let (key, value) = try listed.nextEntry() {
            guard key.count >= 24, key.starts(with: entity) else { break }
            // Where `KeyLayout.positions` finds the row, read in place.
            let p = table == .membershipsByUser ? Keys.readPosition(value) : Keys.readPosition(key, at: key.count - 8)
            if p <= at { out.append(p) }
        }
        let start = SnapshotLinks.prefix(.index(table), entity)
        for run in linkRuns {
            for (link, _) in try txn.scan(linkSlots[run.slot], from: start, to: nil, reverse: false) {
                guard link.count == start.count + 8, link.starts(with: start) else { break }
                let p = Keys.readPosition(link, at: start.count)
                if p <= at { out.append(p) }
            }
        }
        out.sort()
        return out.reduce(into: []) { if $0.last != $1 { $0.append($1) } }
    }

    /// A relation's entries under `prefix` (an entity's id, then maybe more) at this snapshot,
    /// sorted by key: those of its candidate rows that, as they were then, relate to it.
    private func related(_ table: BaseTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        let source = table.rowTable
        var out: [(key: [UInt8], value: [UInt8])] = []
        for p in try candidates(table, of: Array(prefix[0..<16])) {
            guard let row = try cachedRow(source, at: p) else { continue }
            for e in KeyLayout.indexEntries(of: row, at: p) where e.table == table && e.key.starts(with: prefix) { out.append((e.key, e.value)) }
        }
        out.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return out
    }

    /// The rows the relation's index lists under `entity` now or listed and removed since:
    /// found without reading them.
    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        try candidates(relation.index, of: Keys.ids(entity))
    }

    /// Whether the n-th proxy held `key` at this snapshot: its row was there, has that key,
    /// and passed the proxy's filter then.
    private func proxyHolds(_ proxy: Int, _ key: UnsafeRawBufferPointer) throws -> Bool {
        guard proxy < proxies.count, key.count >= 8 else { return false }
        let p = Keys.readPosition(key, at: key.count - 8)
        guard p <= at, try wasEverHeld(proxy, key) else { return false }
        let definition = proxies[proxy]
        guard let row = try anyRow(definition.base, at: p) else { return false }
        guard definition.indexKey(row, position: p).elementsEqual(key) else { return false }
        return try definition.filter(row, ProxyLookup(reader: self))
    }

    /// Whether the n-th proxy's index holds `key` now or removed it since: true of every key it
    /// held at any snapshot, and found without reading the row.
    private func wasEverHeld(_ proxy: Int, _ key: UnsafeRawBufferPointer) throws -> Bool {
        if try live[ViewTable.proxy(proxy).slot].get(Array(key), txn) != nil { return true }
        return try SnapshotRuns.contains(SnapshotLinks.prefix(.proxy(proxy), Array(key)), in: linkRuns, linkSlots, txn)
    }

    /// Calls `body` with the keys the n-th proxy held at this snapshot, in its order, until it
    /// returns false: the keys it holds now merged with those it removed, each kept if its row
    /// says so.
    private func forEachProxyKey(_ proxy: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        guard at > 0 else { return }
        let tag = UInt8(ViewTable.proxy(proxy).slot)
        let now = try live[ViewTable.proxy(proxy).slot].scan(txn)
        let removed = try SnapshotRuns.entries(of: linkRuns, from: [tag], to: [tag + 1], linkSlots, txn)
        // Keys of rows created after the snapshot are passed over in place (a proxy in reverse
        // creation order starts with them); the map's bytes last as long as the transaction.
        func next(_ entries: some OrderedEntries, dropping: Int) throws -> UnsafeRawBufferPointer? {
            while let (stored, _) = try entries.nextEntry() {
                let key = UnsafeRawBufferPointer(rebasing: stored[dropping...])
                if key.count >= 8, Keys.readPosition(key, at: key.count - 8) <= at { return key }
            }
            return nil
        }
        var a = try next(now, dropping: 0), b = try next(removed, dropping: 1)
        while a != nil || b != nil {
            let key: UnsafeRawBufferPointer
            if let x = a, let y = b, x.elementsEqual(y) {
                key = x
                a = try next(now, dropping: 0)
                b = try next(removed, dropping: 1)
            } else if let x = a, b == nil || x.lexicographicallyPrecedes(b!) {
                key = x
                a = try next(now, dropping: 0)
            } else {
                key = b!
                b = try next(removed, dropping: 1)
            }
            if try proxyHolds(proxy, key), try !body(Array(key)) { return }
        }
    }

    /// An index table as the snapshot's rows give it, sorted by key: the unique names, or a
    /// relation read whole.
    private func index(_ table: BaseTable) throws -> [(key: [UInt8], value: [UInt8])] {
        if let done = derived[table] { return done }
        let source = table.rowTable
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try walk(source) { position, bytes in
            let row = try CachedRow(decoding: bytes, table: source)
            for entry in KeyLayout.indexEntries(of: row, at: position) where entry.table == table { entries.append((entry.key, entry.value)) }
            return true
        }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        derived[table] = entries
        return entries
    }

    /// A unique name's entry (an email, a plan's or group's name) found through the index as it
    /// is now: the row it names there, if that row existed at this snapshot under the same
    /// name. Names are unique among the rows of one moment, so that row is the answer; nil
    /// (ask the snapshot's own rows) when the name now names nothing, or a later row.
    private func liveHint(_ table: BaseTable, _ key: [UInt8]) throws -> [UInt8]? {
        guard table.rawValue < live.count, let value = try live[table.rawValue].get(key, txn),
              value.count == 8 else { return nil }
        let position = Keys.readPosition(value)
        let source = table.rowTable
        guard position <= at, let row = try withRow(source, at: position, { try CachedRow(decoding: $0, table: source) }),
              KeyLayout.indexEntries(of: row, at: position).contains(where: { $0.table == table && $0.key == key }) else { return nil }
        return Keys.position(position)
    }

    /// The first index of `entries` whose key is not below `key`.
    private func lowerBound(_ entries: [(key: [UInt8], value: [UInt8])], _ key: [UInt8]) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].key.lexicographicallyPrecedes(key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        switch table {
        case .proxy(let i):
            // A key its row and filter give then was in the index then (and so is linked).
            return try key.withUnsafeBytes { try proxyHolds(i, $0) } ? [] : nil
        case .index(let t) where t.isScannedByEntity && key.count >= 16:
            return try related(t, prefix: key).first { $0.key == key }?.value
        case .rows(let t):
            return try withRow(t, at: Keys.readPosition(key)) { Array($0) }
        case .index(let t):
            if let hinted = try liveHint(t, key) { return hinted }
            let entries = try index(t)
            let i = lowerBound(entries, key)
            return i < entries.count && entries[i].key == key ? entries[i].value : nil
        }
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        switch table {
        case .proxy(let i):
            try forEachProxyKey(i) { key in
                if key.starts(with: prefix) { out.append((key, [])) }
                return true
            }
        case .index(let t) where t.isScannedByEntity && prefix.count >= 16:
            return try related(t, prefix: prefix)
        case .rows(let t):
            try walk(t) { p, row in
                let key = Keys.position(p)
                if key.starts(with: prefix) { out.append((key, Array(row))) }
                return true
            }
        case .index(let t):
            let entries = try index(t)
            var i = lowerBound(entries, prefix)
            while i < entries.count, entries[i].key.starts(with: prefix) {
                out.append(entries[i])
                i += 1
            }
        }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        // In the proxy's order: a read with a limit stops after its first rows.
        if case .proxy(let i) = table { return try forEachProxyKey(i, body) }
        for (key, _) in try scan(table, prefix: []) where try !body(key) { return }
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try cachedRow(table, at: position).flatMap(R.init(cached:))
    }

    /// A row read by position, decoded once: a filter's related rows are read to find them,
    /// then to show them and to test them against a proxy, and a proxy's filter looks the
    /// same few plans up again and again. (Walks of whole tables read past this.)
    private func cachedRow(_ table: BaseTable, at position: UInt64) throws -> CachedRow? {
        if let known = looked[table]?[position] { return known }
        let row = try withRow(table, at: position) { try CachedRow(decoding: $0, table: table) }
        looked[table, default: [:]][position] = .some(row)
        return row
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try walk(table) { position, row in try body(position, try R.decode(row)) }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? {
        if let known = created[id] { return known }
        let position = try streams.creation(of: id, txn)
        created[id] = .some(position)
        return position
    }
}
