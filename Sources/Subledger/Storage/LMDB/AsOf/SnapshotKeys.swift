import LMDB

/// How view snapshots are stored: every `interval` events, the rows of the base views that
/// changed since the previous snapshot, each under its table, its position and the snapshot's
/// position. The rows after a snapshot's position are the newest version of each at or before
/// it, so one seek reads any row of any snapshot, and a snapshot costs only what changed in its
/// window. Index entries are not stored: they follow from the rows (`KeyLayout.indexEntries`).
///
/// - key: `[table][row position: 8][~S: 8]`, big-endian; the complement puts a row's newest
///   version first, so a seek to `~S` lands on the newest at or before S.
/// - value: `[1]` and the row's bytes, or `[0]` for a row deleted in the window.
///
/// Each row deleted in a window is also listed by window: `[0x80 | table][S: 8][row position: 8]`
/// → empty. A cascade folded after snapshot S finds the deleted entity's rows among those.
enum SnapshotKeys {
    static let size = 17
    /// The layout of the entries; bump it when what a snapshot stores changes.
    static let layout = 2
    /// What a store's snapshot record holds: the fold's version and this layout. Snapshots
    /// of another are taken again on open.
    static var version: Int { BaseViews.version << 8 | layout }
    private static let listed: UInt8 = 0x80

    static func key(_ table: BaseTable, position: UInt64, at snapshot: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(size)
        k.append(UInt8(table.rawValue))
        k += Keys.position(position)
        k += Keys.position(~snapshot)
        return k
    }

    static func value(_ row: [UInt8]?) -> [UInt8] {
        guard let row else { return [0] }
        return [1] + row
    }

    /// The key listing the row at `position` among those deleted in the window of `snapshot`.
    static func deletedKey(_ table: BaseTable, position: UInt64, at snapshot: UInt64) -> [UInt8] {
        [listed | UInt8(table.rawValue)] + Keys.position(snapshot) + Keys.position(position)
    }

    /// The entries a snapshot stores for the rows its window changed (nil: deleted).
    static func entries(_ changes: [(table: BaseTable, position: UInt64, row: [UInt8]?)],
                        at snapshot: UInt64) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(changes.count)
        for (table, position, row) in changes {
            out.append((key(table, position: position, at: snapshot), value(row)))
            if row == nil { out.append((deletedKey(table, position: position, at: snapshot), [])) }
        }
        return out
    }

    /// The row table a stored key belongs to, if it is a snapshot key at all.
    static func table(of key: UnsafeRawBufferPointer) -> BaseTable? {
        guard key.count == size, let table = BaseTable(rawValue: Int(key[0] & ~listed)), table.holdsRows else { return nil }
        return table
    }

    /// The snapshot position of a stored key.
    static func snapshot(of key: UnsafeRawBufferPointer) -> UInt64 {
        key[0] & listed != 0 ? Keys.readPosition(key, at: 1) : ~Keys.readPosition(key, at: 9)
    }

    /// The positions of the rows of `table` deleted in the window that ends at `snapshot`.
    static func deleted(_ table: BaseTable, at snapshot: UInt64, _ txn: some ReadableTransaction, _ db: Database) throws -> [UInt64] {
        let first = [listed | UInt8(table.rawValue)]
        return try txn.scan(db, from: first + Keys.position(snapshot), to: first + Keys.position(snapshot + 1), reverse: false)
            .map { Keys.readPosition($0.key, at: 9) }
    }

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
}
