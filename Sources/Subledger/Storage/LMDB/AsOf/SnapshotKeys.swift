import LMDB

/// How view snapshots are stored: every `interval` events, the rows of the base views that
/// changed since the previous snapshot, each under its table, its position and the snapshot's
/// position, in sorted runs (`SnapshotRuns`). Within a run, the entries after a snapshot's key
/// are the newest version of each row at or before it, so one seek per run reads any row of
/// any snapshot, and a snapshot costs only what changed in its window. Index entries are not stored: they follow from the rows (`KeyLayout.indexEntries`),
/// and `SnapshotLinks` says which rows to derive them from.
///
/// - key: `[table][row position: 8][~S: 8]`, big-endian; the complement puts a row's newest
///   version first, so a seek to `~S` lands on the newest at or before S.
/// - value: `[1]` and the row's bytes, or `[0]` for a row deleted in the window.
enum SnapshotKeys {
    static let size = 17
    /// The layout of the entries; bump it when what a snapshot stores changes.
    static let layout = 6
    /// What a store's snapshot record holds: the fold's version and this layout. Snapshots
    /// of another are taken again on open.
    static var version: Int { BaseViews.version << 8 | layout }

    static func key(_ table: BaseTable, position: UInt64, at snapshot: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(size)
        appendKey(table, position: position, at: snapshot, to: &k)
        return k
    }

    static func appendKey(_ table: BaseTable, position: UInt64, at snapshot: UInt64, to k: inout [UInt8]) {
        k.append(UInt8(table.rawValue))
        k.appendBigEndian(position)
        k.appendBigEndian(~snapshot)
    }

    static func value(_ row: [UInt8]?) -> [UInt8] {
        var v = [UInt8]()
        if let row { row.withUnsafeBytes { appendValue($0, to: &v) } } else { appendValue(nil, to: &v) }
        return v
    }

    static func appendValue(_ row: UnsafeRawBufferPointer?, to v: inout [UInt8]) {
        guard let row else { return v.append(0) }
        v.append(1)
        v.append(contentsOf: row)
    }

    /// The entries a snapshot stores for the rows its window changed (nil: deleted).
    static func entries(_ changes: [(table: BaseTable, position: UInt64, row: [UInt8]?)],
                        at snapshot: UInt64) -> [(key: [UInt8], value: [UInt8])] {
        changes.map { (key($0.table, position: $0.position, at: snapshot), value($0.row)) }
    }

    /// The row table a stored key belongs to, if it is a snapshot key at all.
    static func table(of key: UnsafeRawBufferPointer) -> BaseTable? {
        guard key.count == size, let table = BaseTable(rawValue: Int(key[0])), table.holdsRows else { return nil }
        return table
    }

    /// The snapshot position of a stored key.
    static func snapshot(of key: UnsafeRawBufferPointer) -> UInt64 { ~Keys.readPosition(key, at: 9) }

    /// The row a stored value holds (nil: deleted); corrupt bytes throw.
    static func row(_ value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        switch value.first {
        case 1: return UnsafeRawBufferPointer(rebasing: value[1...])
        case 0 where value.count == 1: return nil
        default: throw StoreError.corrupt("snapshot entry \(hex(Array(key))) has a malformed value")
        }
    }
}

/// The entries relations and proxies removed, so that a snapshot's entries can be derived
/// from a few of its rows: those the live index lists now, and those it listed once and
/// removed since, hold every row the index listed at any snapshot. The rows decide; the
/// links only say where to look. A writer notes one as it removes an entry (a membership
/// left, a subscription moved to another plan, cancelled out of a proxy) and stores those
/// of its transaction as a run (`SnapshotRuns`); a snapshot stores no index at all.
///
/// - a relation's: `[slot][entity id: 16][row position: 8]` → empty (a user's subscription,
///   a group's membership, ...);
/// - a proxy's: `[slot]` and its index key (sort key, row position) → empty, in its order.
enum SnapshotLinks {
    /// Whether `table`'s removed entries are linked: the relations (filters and cascades read
    /// them by entity) and the proxies (read in their own order).
    static func links(_ table: ViewTable) -> Bool {
        switch table {
        case .rows: false
        case .index(let t): t.isScannedByEntity
        case .proxy: table.slot < 255
        }
    }

    /// The link an entry of `table` stands for: a relation's entity (its key's first 16
    /// bytes) and row, a proxy's key whole.
    static func link(_ table: ViewTable, key: [UInt8], value: [UInt8]) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(key.count + 1)
        k.append(UInt8(table.slot))
        if case .index(let t) = table {
            k += key[0..<16]
            k += Keys.position(KeyLayout.position(in: t, key: key, value: value))
        } else {
            k += key
        }
        return k
    }

    /// The first bytes of the links of `table`, under `prefix` (an entity's id, or nothing).
    static func prefix(_ table: ViewTable, _ prefix: [UInt8] = []) -> [UInt8] { [UInt8(table.slot)] + prefix }

    /// Whether a stored key is a link of one of `tables` tables.
    static func isLink(_ key: UnsafeRawBufferPointer, tables: Int) -> Bool {
        guard let first = key.first, Int(first) < tables, links(ViewTable(slot: Int(first))) else { return false }
        if case .index = ViewTable(slot: Int(first)) { return key.count == 25 }
        return key.count >= 9
    }
}
