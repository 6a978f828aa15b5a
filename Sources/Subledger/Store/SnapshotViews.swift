import LMDB
import Synchronization

/// How view snapshots are stored: every `interval` events, the rows of the base views that
/// changed since the previous snapshot, each under its table, its position and the snapshot's
/// position. The rows after a snapshot's position are the newest version of each at or before
/// it, so one seek reads any row of any snapshot, and a snapshot costs only what changed in its
/// window. Index entries are not stored: they follow from the rows (`BaseViews.indexEntries`).
///
/// - key: `[table][row position: 8][~S: 8]`, big-endian; the complement puts a row's newest
///   version first, so a seek to `~S` lands on the newest at or before S.
/// - value: `[1]` and the row's bytes, or `[0]` for a row deleted in the window.
enum SnapshotKeys {
    static let size = 17

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
            // Rows are keyed by the position that created them: none after this snapshot existed in it.
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

/// The base view tables as they were at snapshot position `at`: rows read from the snapshot
/// table, index tables derived from them when first asked for (only `--as-of` folds whose
/// window deletes something, or filters, ask). Creation positions come from the stream index.
final class SnapshotViews<Txn: ReadableTransaction>: ViewReading {
    let txn: Txn
    let snapshots: Database
    let streams: Database
    let at: UInt64
    private let cursor: Cursor
    /// Index tables derived so far, sorted by key.
    private var derived: [BaseTable: [(key: [UInt8], value: [UInt8])]] = [:]

    /// Rows of one table being read on a second core, for `walk`.
    private let ahead: SnapshotReadAhead?

    init(_ txn: Txn, snapshots: Database, streams: Database, at: UInt64, ahead: SnapshotReadAhead? = nil) throws {
        self.txn = txn
        self.snapshots = snapshots
        self.streams = streams
        self.at = at
        self.ahead = ahead
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

    /// Calls `body` with every row of `table` at this snapshot, in position order. The rows
    /// the read-ahead holds are taken from it once the walk gets there.
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws {
        guard at > 0 else { return }
        // A cursor of its own: `body` may read other rows meanwhile.
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        guard let ahead, ahead.table == table, ahead.split < at else {
            _ = try SnapshotKeys.walk(table, 1...at, at: at, cursor, body)
            return
        }
        if ahead.split > 0, try !SnapshotKeys.walk(table, 1...ahead.split, at: at, cursor, body) { return }
        guard let rows = try ahead.rows() else {
            _ = try SnapshotKeys.walk(table, (ahead.split + 1)...at, at: at, cursor, body)
            return
        }
        for i in 0..<rows.count {
            guard try rows.withEntry(i, { key, row in try body(Keys.readPosition(key), row) }) else { return }
        }
    }

    /// An index table as the snapshot's rows give it, sorted by key.
    private func index(_ table: BaseTable) throws -> [(key: [UInt8], value: [UInt8])] {
        if let done = derived[table] { return done }
        let source = BaseViews.rowTable(of: table)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try walk(source) { position, bytes in
            let row = try CachedRow(decoding: bytes, table: source)
            for entry in BaseViews.indexEntries(of: row, at: position) where entry.table == table { entries.append((entry.key, entry.value)) }
            return true
        }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        derived[table] = entries
        return entries
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

    func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]? {
        guard let t = BaseTable(rawValue: table) else { return nil }
        if t.holdsRows { return try withRow(t, at: Keys.readPosition(key)) { Array($0) } }
        let entries = try index(t)
        let i = lowerBound(entries, key)
        return i < entries.count && entries[i].key == key ? entries[i].value : nil
    }

    func scan(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        guard let t = BaseTable(rawValue: table) else { return [] }
        if t.holdsRows {
            var out: [(key: [UInt8], value: [UInt8])] = []
            try walk(t) { p, row in
                let key = Keys.position(p)
                if key.starts(with: prefix) { out.append((key, Array(row))) }
                return true
            }
            return out
        }
        let entries = try index(t)
        var i = lowerBound(entries, prefix)
        var out: [(key: [UInt8], value: [UInt8])] = []
        while i < entries.count, entries[i].key.starts(with: prefix) {
            out.append(entries[i])
            i += 1
        }
        return out
    }

    func forEach(_ table: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws {
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

/// The rows of one table at a snapshot above `split`, read and copied out on a thread of
/// its own while the caller folds the events after the snapshot and reads the rows below.
/// Dropped unread (and the thread stopped at its next row) when the walk ends early.
final class SnapshotReadAhead {
    let table: BaseTable
    let split: UInt64
    private let stop = StopFlag()
    private let thread: JoinableThread<PackedTable?>

    /// Starts `read`, which returns the rows (nil: the caller reads them itself) and gives up
    /// once its flag says so; nil when no thread can be had.
    init?(table: BaseTable, split: UInt64, _ read: @escaping (StopFlag) throws -> PackedTable?) {
        let stop = self.stop
        guard let thread = JoinableThread.start({ try read(stop) }) else { return nil }
        self.table = table
        self.split = split
        self.thread = thread
    }

    /// The rows, once read (this waits for them).
    func rows() throws -> PackedTable? { try thread.join() }

    deinit { stop.set() }

    /// The rows of `table` at snapshot `at` in `range`, as (position, row bytes) in
    /// position order; nil when `stop` was set before the end.
    static func collect(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64, _ cursor: Cursor,
                        _ stop: StopFlag) throws -> PackedTable? {
        var rows = PackedTable.Builder(capacity: 0)
        let done = try SnapshotKeys.walk(table, range, at: at, cursor) { position, row in
            rows.append(position: position) { $0.bytes.append(contentsOf: row) }
            return !stop.isSet
        }
        return done ? rows.inOrder() : nil
    }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
