import LMDB

/// How view snapshots are stored: every `interval` events, what changed in the views since the
/// previous snapshot, each version under its key and the snapshot's position, so one seek
/// reads any row or entry of any snapshot, and a snapshot costs only what its window changed.
///
/// - a row: `[table][row position: 8][~S: 8]` → `[1]` and the row's bytes, or `[0]` (deleted);
/// - an entry of a relation's index or of a proxy's ordered index (`keepsEntries`):
///   `[0x40 | slot][its key][~S: 8]` → `[1]` and its value, or `[0]` (deleted). A table's keys
///   have one length (a proxy's sort keys too), so a key's versions lie together.
///
/// Big-endian; the complement puts a key's newest version first, so a seek to `~S` lands on
/// the newest at or before S. Unique names are not stored: the live index hints at them and
/// the rows give them (`KeyLayout.indexEntries`).
enum SnapshotKeys {
    static let size = 17
    /// The layout of the entries; bump it when what a snapshot stores changes.
    static let layout = 3
    /// What a store's snapshot record holds: the fold's version and this layout. Snapshots
    /// of another are taken again on open.
    static var version: Int { BaseViews.version << 8 | layout }
    private static let entryTag: UInt8 = 0x40

    /// Whether snapshots keep the entries of `table`: the relations (filters and cascades
    /// read them by entity) and the proxies (read in their own order).
    static func keepsEntries(_ table: ViewTable) -> Bool {
        switch table {
        case .rows: false
        case .index(let t): t.isScannedByEntity
        case .proxy(let i): ViewTable.proxy(i).slot < Int(entryTag)
        }
    }

    static func key(_ table: BaseTable, position: UInt64, at snapshot: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(size)
        k.append(UInt8(table.rawValue))
        k += Keys.position(position)
        k += Keys.position(~snapshot)
        return k
    }

    /// The first byte of the snapshot keys of a table's entries.
    static func tag(_ table: ViewTable) -> UInt8 { entryTag | UInt8(table.slot) }

    /// The key of an entry's version at `snapshot`.
    static func key(_ table: ViewTable, _ entry: [UInt8], at snapshot: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(entry.count + 9)
        k.append(tag(table))
        k += entry
        k += Keys.position(~snapshot)
        return k
    }

    static func value(_ row: [UInt8]?) -> [UInt8] {
        guard let row else { return [0] }
        return [1] + row
    }

    /// The entries a snapshot stores for what its window changed (nil: deleted).
    static func entries(_ changes: SnapshotChanges, at snapshot: UInt64) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(changes.rows.count + changes.entries.count)
        for (table, position, row) in changes.rows { out.append((key(table, position: position, at: snapshot), value(row))) }
        for (table, entry, v) in changes.entries { out.append((key(table, entry, at: snapshot), value(v))) }
        return out
    }

    /// Whether a stored key is a snapshot key: a row's, or an entry's of a table snapshots keep.
    static func isKey(_ key: UnsafeRawBufferPointer, tables: Int) -> Bool {
        guard let first = key.first else { return false }
        if first & entryTag == 0 {
            return key.count == size && BaseTable(rawValue: Int(first)).map(\.holdsRows) == true
        }
        let slot = Int(first & ~entryTag)
        return key.count > 9 && slot < tables && keepsEntries(ViewTable(slot: slot))
    }

    /// The snapshot position of a stored key.
    static func snapshot(of key: UnsafeRawBufferPointer) -> UInt64 { ~Keys.readPosition(key, at: key.count - 8) }

    /// The row a stored value holds (nil: deleted); corrupt bytes throw.
    static func row(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        switch value.first {
        case 1: return UnsafeRawBufferPointer(rebasing: value[1...])
        case 0 where value.count == 1: return nil
        default: throw StoreError.corrupt("snapshot entry \(hex(Array(key))) has a malformed value")
        }
    }

    /// Calls `body` with the rows of `table` at snapshot `at` whose positions lie in `range`, in
    /// position order; false when `body` stopped the walk.
    static func walk(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64, _ cursor: Cursor,
                     _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        var entry = try cursor.seek([UInt8(table.rawValue)] + Keys.position(range.lowerBound))
        var last: UInt64?
        while let (key, value) = entry, key.count == SnapshotKeys.size, key[0] == UInt8(table.rawValue) {
            // Versions of 10^5 rows, in a page's node order: warming each page once is cheaper
            // than a cache miss per entry (a tenth of the CPU time of a late --as-of).
            cursor.warmBlock(of: key)
            let position = Keys.readPosition(key, at: 1)
            // Rows are keyed by the position that created them, so the walk ends at the range's
            // end (at the latest the snapshot's: no row created after it existed in it).
            if position > range.upperBound { return true }
            entry = try cursor.next()
            guard SnapshotKeys.snapshot(of: key) <= at else { continue }
            if position == last { continue }  // an older version of a row already taken
            last = position
            if let row = try SnapshotKeys.row(value, key: key), try !body(position, row) { return false }
        }
        return true
    }

    /// Calls `body` with the entries of `table` at snapshot `at` whose keys start with
    /// `prefix`, in key order, until it returns false.
    static func walkEntries(_ table: ViewTable, prefix: [UInt8], at: UInt64, _ cursor: Cursor,
                            _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        let start = [tag(table)] + prefix
        var entry = try cursor.seek(start)
        // The key whose version at `at` was taken: its older versions follow it.
        var taken: [UInt8] = []
        while let (stored, value) = entry, stored.count >= start.count + 8, stored.starts(with: start) {
            cursor.warmBlock(of: stored)
            entry = try cursor.next()
            let key = UnsafeRawBufferPointer(rebasing: stored[1..<(stored.count - 8)])
            guard snapshot(of: stored) <= at, !key.elementsEqual(taken) else { continue }
            taken = Array(key)
            if let v = try row(value, key: stored), try !body(key, v) { return }
        }
    }
}

/// What a window of the log changed in the views, with the values at its end (nil: deleted):
/// the rows, and the entries of the tables whose entries snapshots keep.
struct SnapshotChanges {
    var rows: [(table: BaseTable, position: UInt64, row: [UInt8]?)] = []
    var entries: [(table: ViewTable, key: [UInt8], value: [UInt8]?)] = []
}
