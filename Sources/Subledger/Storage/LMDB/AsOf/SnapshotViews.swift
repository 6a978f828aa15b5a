import LMDB

/// The base view tables as they were at snapshot position `at`: rows read from the snapshot
/// table, index entries derived from them when asked for (only `--as-of` folds whose window
/// deletes something, or filters, ask). Creation positions come from the stream index.
final class SnapshotViews<Txn: ReadableTransaction>: KeyValueViews {
    let txn: Txn
    let snapshots: Database
    let streams: Database
    let at: UInt64
    private let cursor: Cursor
    /// Index tables derived whole so far, sorted by key.
    private var derived: [BaseTable: [(key: [UInt8], value: [UInt8])]] = [:]
    /// Indexes scanned by entity, derived so far for filters, grouped by their leading entity.
    private var grouped: [BaseTable: [EntityID: [(key: [UInt8], value: [UInt8])]]] = [:]

    /// The view tables as they are now, whose unique-name indexes hint where a name's row is.
    private let live: [Database]?
    /// Where the rows changed after `at` are listed: the deletions of the next snapshot, when it
    /// is taken, else the rows waiting for it.
    private let changedAfter: ChangedAfter?

    enum ChangedAfter {
        case deletedIn(snapshot: UInt64)
        case pending(Database)
    }

    init(_ txn: Txn, snapshots: Database, streams: Database, at: UInt64,
         live: [Database]? = nil, changedAfter: ChangedAfter? = nil) throws {
        self.txn = txn
        self.snapshots = snapshots
        self.streams = streams
        self.at = at
        self.live = live
        self.changedAfter = changedAfter
        cursor = try txn.cursor(snapshots)
    }

    /// Calls `body` with the bytes of the row at `position`, if it exists at this snapshot.
    private func withRow<T>(_ table: BaseTable, at position: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        guard at > 0 else { return nil }
        let target = SnapshotKeys.key(table, position: position, at: at)
        guard let (found, value) = try cursor.seek(target), found.count == SnapshotKeys.size,
              found.starts(with: target[0..<9]), let row = try SnapshotKeys.row(value, key: found) else { return nil }
        return try body(row)
    }

    /// Calls `body` with every row of `table` at this snapshot, in position order.
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws {
        guard at > 0 else { return }
        // A cursor of its own: `body` may read other rows meanwhile.
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        _ = try SnapshotKeys.walk(table, 1...at, at: at, cursor, body)
    }

    /// `walk` with every row decoded.
    private func walkRows(_ table: BaseTable, _ body: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws {
        try walk(table) { position, bytes in try body(position, try CachedRow(decoding: bytes, table: table)) }
    }

    /// An index table as the snapshot's rows give it, sorted by key.
    private func index(_ table: BaseTable) throws -> [(key: [UInt8], value: [UInt8])] {
        if let done = derived[table] { return done }
        let source = table.rowTable
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try walkRows(source) { position, row in
            for entry in KeyLayout.indexEntries(of: row, at: position) where entry.table == table { entries.append((entry.key, entry.value)) }
            return true
        }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        derived[table] = entries
        return entries
    }

    /// The entries of an index scanned by entity that start with `prefix` (16 bytes or more:
    /// one entity's), sorted by key. The index is derived once from the rows, grouped by the
    /// entity that leads its keys, so each look-up of a filter (one per row shown) takes one
    /// group instead of a pass over every row.
    private func entries(_ table: BaseTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        if grouped[table] == nil {
            var groups: [EntityID: [(key: [UInt8], value: [UInt8])]] = [:]
            try walkRows(table.rowTable) { position, row in
                for entry in KeyLayout.indexEntries(of: row, at: position) where entry.table == table {
                    groups[entry.key.withUnsafeBytes { EntityID(raw: $0) }, default: []].append((entry.key, entry.value))
                }
                return true
            }
            grouped[table] = groups.mapValues { $0.sorted { $0.key.lexicographicallyPrecedes($1.key) } }
        }
        let id = prefix.withUnsafeBytes { EntityID(raw: $0) }
        return (grouped[table]?[id] ?? []).filter { $0.key.starts(with: prefix) }
    }

    /// A cascade's scan: the entries under an entity the fold deletes in the window after this
    /// snapshot. Every row naming it here is gone by the end of the window (deleted with it,
    /// or earlier), so the rows listed as deleted in the window (or waiting for the next
    /// snapshot) hold them all; a row the window changed instead (a subscription moved to
    /// another plan) has its entry overwritten in the fold's cache, so leaving it out changes
    /// nothing. Without that list, the look-up of `scan`.
    func scanDeleted(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        guard case .index(let t) = table, t.isScannedByEntity, prefix.count >= 16, let changedAfter else {
            return try scan(table, prefix: prefix)
        }
        let source = t.rowTable
        let positions: [UInt64] = switch changedAfter {
        case .deletedIn(let snapshot): try SnapshotKeys.deleted(source, at: snapshot, txn, snapshots)
        case .pending(let pending):
            try txn.scan(pending, from: [UInt8(source.rawValue)], to: [UInt8(source.rawValue + 1)], reverse: false)
                .map { Keys.readPosition($0.key, at: 1) }
        }
        var out: [(key: [UInt8], value: [UInt8])] = []
        // The candidates are one window's deleted (or changed) rows: few enough to take their
        // index entries whole.
        for position in positions {
            guard let row = try withRow(source, at: position, { try CachedRow(decoding: $0, table: source) }) else { continue }
            for entry in KeyLayout.indexEntries(of: row, at: position) where entry.table == t && entry.key.starts(with: prefix) {
                out.append((entry.key, entry.value))
            }
        }
        out.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return out
    }

    /// A unique name's entry (an email, a plan's or group's name) found through the index as it
    /// is now: the row it names there, if that row existed at this snapshot under the same
    /// name. Names are unique among the rows of one moment, so that row is the answer; nil
    /// (ask the snapshot's own rows) when the name now names nothing, or a later row.
    private func liveHint(_ table: BaseTable, _ key: [UInt8]) throws -> [UInt8]? {
        guard let live, table.rawValue < live.count, let value = try txn.get(live[table.rawValue], key),
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
        guard let t = table.base else { return nil }
        if t.holdsRows { return try withRow(t, at: Keys.readPosition(key)) { Array($0) } }
        if t.isScannedByEntity, key.count >= 16 { return try entries(t, prefix: key).first { $0.key == key }?.value }
        if let hinted = try liveHint(t, key) { return hinted }
        let entries = try index(t)
        let i = lowerBound(entries, key)
        return i < entries.count && entries[i].key == key ? entries[i].value : nil
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        guard let t = table.base else { return [] }
        if t.holdsRows {
            var out: [(key: [UInt8], value: [UInt8])] = []
            try walk(t) { p, row in
                let key = Keys.position(p)
                if key.starts(with: prefix) { out.append((key, Array(row))) }
                return true
            }
            return out
        }
        if t.isScannedByEntity, prefix.count >= 16 { return try entries(t, prefix: prefix) }
        let entries = try index(t)
        var i = lowerBound(entries, prefix)
        var out: [(key: [UInt8], value: [UInt8])] = []
        while i < entries.count, entries[i].key.starts(with: prefix) {
            out.append(entries[i])
            i += 1
        }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        for (key, _) in try scan(table, prefix: []) where try !body(key) { return }
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try withRow(table, at: position) { try R.decode($0) }
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try walk(table) { position, row in try body(position, try R.decode(row)) }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? {
        guard let first = try txn.get(streams, id.raw) else { return nil }
        return Keys.readPosition(first)
    }
}
