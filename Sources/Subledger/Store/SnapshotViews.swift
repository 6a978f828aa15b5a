import LMDB

/// How view snapshots are stored: every `interval` events, the entries of the base view tables
/// that changed since the previous snapshot, each under its table, its key and the snapshot's
/// position. The state of the views after a snapshot's position is the newest version of every
/// key at or before it, so one seek reads any entry of any snapshot, and a snapshot costs only
/// what changed in its window.
///
/// - key: `[table][the view table's key][~S: 8 bytes, big-endian]`; the complement makes a
///   key's newest version come first, so a seek to `~S` lands on the newest at or before S.
///   Every view key has a fixed length per table, or is text that never holds the byte 0xFF
///   the complement starts with, so one key's versions are never interleaved with another's.
/// - value: `[1]` and the entry's value, or `[0]` for an entry deleted in the window.
enum SnapshotKeys {
    static func key(table: Int, _ key: [UInt8], at snapshot: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(key.count + 9)
        k.append(UInt8(table))
        k += key
        k += Keys.position(~snapshot)
        return k
    }

    static func value(_ value: [UInt8]?) -> [UInt8] {
        guard let value else { return [0] }
        return [1] + value
    }

    /// The snapshot position of a stored key.
    static func snapshot(of key: UnsafeRawBufferPointer) -> UInt64 { ~Keys.readPosition(key, at: key.count - 8) }
}

/// The base view tables as they were at snapshot position `at`, read from the snapshot table.
/// What a fold needs from the log (creation positions) comes from the stream index.
final class SnapshotViews<Txn: ReadableTransaction>: ViewReading {
    let txn: Txn
    let snapshots: Database
    let streams: Database
    let at: UInt64
    private let cursor: Cursor

    init(_ txn: Txn, snapshots: Database, streams: Database, at: UInt64) throws {
        self.txn = txn
        self.snapshots = snapshots
        self.streams = streams
        self.at = at
        cursor = try txn.cursor(snapshots)
    }

    func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]? {
        guard at > 0 else { return nil }
        let target = SnapshotKeys.key(table: table, key, at: at)
        guard let (found, value) = try cursor.seek(target), found.count == target.count,
              found.starts(with: target[0..<(target.count - 8)]) else { return nil }
        return try Self.entry(value, at: found)
    }

    /// Decodes a stored version: its value, or nil for a deletion.
    private static func entry(_ value: UnsafeRawBufferPointer, at key: UnsafeRawBufferPointer) throws -> [UInt8]? {
        switch value.first {
        case 1: return Array(value[1...])
        case 0 where value.count == 1: return nil
        default: throw StoreError.corrupt("snapshot entry \(hex(Array(key))) has a malformed value")
        }
    }

    /// Calls `body` with the entry of every key of `table` under `prefix` as of this snapshot,
    /// in key order: the newest version of each key at or before it, deletions left out.
    private func walk(_ table: Int, prefix: [UInt8], _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool) throws {
        guard at > 0 else { return }
        let start = [UInt8(table)] + prefix
        // A cursor of its own: `body` may read other entries through `get` meanwhile.
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        var entry = try cursor.seek(start)
        var last: [UInt8]?
        while let (key, value) = entry, key.count >= start.count + 8, key.starts(with: start) {
            entry = try cursor.next()
            guard SnapshotKeys.snapshot(of: key) <= at else { continue }
            let viewKey = Array(key[1..<(key.count - 8)])
            if viewKey == last { continue }  // an older version of a key already taken
            last = viewKey
            if let value = try Self.entry(value, at: key), try !body(viewKey, value) { return }
        }
    }

    func scan(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        try walk(table, prefix: prefix) { out.append(($0, $1)); return true }
        return out
    }

    func forEach(_ table: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        try walk(table, prefix: []) { key, _ in try body(key) }
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try get(table.rawValue, Keys.position(position)).map { try R.decode($0) }
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try walk(table.rawValue, prefix: []) { key, value in try body(Keys.readPosition(key), try R.decode(value)) }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? {
        guard let first = try txn.get(streams, id.raw) else { return nil }
        return Keys.readPosition(first)
    }
}
