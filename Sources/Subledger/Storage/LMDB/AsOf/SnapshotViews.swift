import LMDB

/// The view tables as they were at snapshot position `at`: rows, relations and proxies read
/// from the snapshot table, each version found by one seek; the indexes of unique names
/// hinted by the live ones, or derived from the rows when asked for. Creation positions come
/// from the stream index.
final class SnapshotViews<Txn: ReadableTransaction>: KeyValueViews {
    let txn: Txn
    let snapshots: Database
    let streams: Database
    let at: UInt64
    private let cursor: Cursor
    /// Index tables of unique names derived whole so far, sorted by key.
    private var derived: [BaseTable: [(key: [UInt8], value: [UInt8])]] = [:]

    /// The view tables as they are now, whose unique-name indexes hint where a name's row is.
    private let live: [Database]?

    init(_ txn: Txn, snapshots: Database, streams: Database, at: UInt64, live: [Database]? = nil) throws {
        self.txn = txn
        self.snapshots = snapshots
        self.streams = streams
        self.at = at
        self.live = live
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

    /// Calls `body` with the entries of a table snapshots keep whose keys start with `prefix`,
    /// as they were at this snapshot, in key order, until it returns false.
    private func walkEntries(_ table: ViewTable, prefix: [UInt8], _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        guard at > 0 else { return }
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        try SnapshotKeys.walkEntries(table, prefix: prefix, at: at, cursor, body)
    }

    /// An entry of a table snapshots keep, as it was at this snapshot: one seek.
    private func entry(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        guard at > 0 else { return nil }
        let target = SnapshotKeys.key(table, key, at: at)
        guard let (found, value) = try cursor.seek(target), found.count == target.count,
              found.starts(with: target[0..<(target.count - 8)]) else { return nil }
        return try SnapshotKeys.row(value, key: found).map { Array($0) }
    }

    /// An index of unique names as the snapshot's rows give it, sorted by key.
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
        if SnapshotKeys.keepsEntries(table) { return try entry(table, key) }
        guard let t = table.base else { return nil }
        if t.holdsRows { return try withRow(t, at: Keys.readPosition(key)) { Array($0) } }
        if let hinted = try liveHint(t, key) { return hinted }
        let entries = try index(t)
        let i = lowerBound(entries, key)
        return i < entries.count && entries[i].key == key ? entries[i].value : nil
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        if SnapshotKeys.keepsEntries(table) {
            try walkEntries(table, prefix: prefix) { key, value in
                out.append((Array(key), Array(value)))
                return true
            }
            return out
        }
        guard let t = table.base else { return [] }
        if t.holdsRows {
            try walk(t) { p, row in
                let key = Keys.position(p)
                if key.starts(with: prefix) { out.append((key, Array(row))) }
                return true
            }
            return out
        }
        let entries = try index(t)
        var i = lowerBound(entries, prefix)
        while i < entries.count, entries[i].key.starts(with: prefix) {
            out.append(entries[i])
            i += 1
        }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        if SnapshotKeys.keepsEntries(table) {
            // In order as stored: a proxy read with a limit stops after its first rows.
            return try walkEntries(table, prefix: []) { key, _ in try body(Array(key)) }
        }
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
