import Dispatch
import LMDB
import Synchronization

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

    /// The rows of one table, read in ranges on two cores, for `walk`.
    let ranges: SnapshotRowRanges?

    /// The view tables as they are now, whose unique-name indexes hint where a name's row is.
    private let live: [Database]?
    /// Where the rows changed after `at` are listed: the deletions of the next snapshot, when it
    /// is taken, else the rows waiting for it.
    private let changedAfter: ChangedAfter?

    enum ChangedAfter {
        case deletedIn(snapshot: UInt64)
        case pending(Database)
    }

    init(_ txn: Txn, snapshots: Database, streams: Database, at: UInt64, ranges: SnapshotRowRanges? = nil,
         live: [Database]? = nil, changedAfter: ChangedAfter? = nil) throws {
        self.txn = txn
        self.snapshots = snapshots
        self.streams = streams
        self.at = at
        self.live = live
        self.changedAfter = changedAfter
        self.ranges = ranges
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

    /// Calls `body` with every row of `table` at this snapshot, in position order (the rows
    /// read in ranges are encoded again for it).
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws {
        try walk(table, body) { position, row in try row.encoded.withUnsafeBytes { try body(position, $0) } }
    }

    /// `walk` with every row decoded: the ranges' as they come, the others here.
    private func walkRows(_ table: BaseTable, _ body: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws {
        try walk(table, { position, bytes in try body(position, try CachedRow(decoding: bytes, table: table)) }, decoded: body)
    }

    /// Calls `body` with every row of `table` at this snapshot, in position order; when the
    /// table is read in ranges, its rows go to `decoded` instead.
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool,
                      decoded: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws {
        guard at > 0 else { return }
        guard ranges?.table == table else {
            // A cursor of its own: `body` may read other rows meanwhile.
            let cursor = try txn.cursor(snapshots)
            defer { cursor.close() }
            _ = try SnapshotKeys.walk(table, 1...at, at: at, cursor, body)
            return
        }
        try forEachRange { positions, rows in
            for (position, row) in zip(positions, rows) {
                guard let cached = row.cachedRow else { throw StoreError.corrupt("row \(position) of \(table.name) has no stored form") }
                if try !decoded(position, cached) { return false }
            }
            return true
        }
    }

    /// Calls `body` with the rows of the table read in ranges (`ranges.table`), range by range,
    /// in position order, as the view shows them, until it returns false. With `dropping`,
    /// each range is let go once `body` has it.
    func forEachRange(dropping: Bool = false, _ body: (_ positions: [UInt64], _ rows: [ViewRow]) throws -> Bool) throws {
        guard let ranges else { return }
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        try ranges.forEachRange(dropping: dropping, read: { try SnapshotRowRanges.read(ranges.table, $0, at: at, cursor) }) {
            try body($0.positions, $0.rows)
        }
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
        try walk(table, { position, row in try body(position, try R.decode(row)) }, decoded: { position, row in
            guard let typed = R(cached: row) else { throw StoreError.corrupt("row \(position) of \(table.name) has another table's type") }
            return try body(position, typed)
        })
    }

    func creationPosition(of id: EntityID) throws -> UInt64? {
        guard let first = try txn.get(streams, id.raw) else { return nil }
        return Keys.readPosition(first)
    }
}

/// The rows of one table at a snapshot, read in position ranges on two cores: a helper
/// thread, in a read transaction of its own, starts on the first range at once; the caller
/// joins in when it asks for the rows (once it has folded the window after the snapshot),
/// reading itself each range nobody has taken, and a later one while the helper finishes the
/// range it waits for. Each range comes as the rows the view shows, so a whole view is the
/// ranges appended.
final class SnapshotRowRanges {
    typealias Rows = (positions: [UInt64], rows: [ViewRow])

    let table: BaseTable
    private let shared: Shared
    private var thread: JoinableThread<Void>?
    /// The ranges taken so far (nil: not yet), kept for a second walk of the table.
    private var taken: [Rows?]

    /// What both threads see: the ranges, the next one nobody has taken, the helper's results.
    private final class Shared: @unchecked Sendable {
        let bounds: [ClosedRange<UInt64>]
        private let next = Atomic<Int>(0)
        let stop = StopFlag()
        /// The helper's result for each range it took, published by the slot's semaphore.
        let results: [Slot]

        final class Slot: @unchecked Sendable {
            let ready = DispatchSemaphore(value: 0)
            var result: Result<Rows, any Error>?
        }

        init(_ bounds: [ClosedRange<UInt64>]) {
            self.bounds = bounds
            results = bounds.map { _ in Slot() }
        }

        /// Takes the next range nobody has: its index, or nil when all are taken.
        func take() -> Int? {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            return i < bounds.count ? i : nil
        }

        var nextUntaken: Int { next.load(ordering: .relaxed) }
    }

    /// Starts `helper`, which opens its transaction and calls its argument with a reader of
    /// ranges in it (or returns without, when its transaction cannot serve: the caller then
    /// reads every range). `count` ranges of equal position spans, at most one a position.
    init(table: BaseTable, at: UInt64, count: Int,
         helper: @escaping (_ work: (_ read: (ClosedRange<UInt64>, StopFlag) throws -> Rows) -> Void) throws -> Void) {
        self.table = table
        let n = UInt64(max(1, min(UInt64(count), at)))
        let bounds = (0..<n).map { i in (at * i / n + 1)...(at * (i + 1) / n) }
        let shared = Shared(bounds)
        self.shared = shared
        taken = Array(repeating: nil, count: bounds.count)
        thread = JoinableThread.start {
            try helper { read in
                while !shared.stop.isSet, let i = shared.take() {
                    let slot = shared.results[i]
                    slot.result = Result { try read(shared.bounds[i], shared.stop) }
                    slot.ready.signal()
                }
            }
        }
    }

    deinit {
        shared.stop.set()
        _ = try? thread?.join()
    }

    /// Calls `body` with each range's rows in position order until it returns false; `read`
    /// reads a range here. With `dropping`, a range is let go once `body` has it (no second walk).
    func forEachRange(dropping: Bool = false, read: (ClosedRange<UInt64>) throws -> Rows,
                      _ body: (Rows) throws -> Bool) throws {
        for i in taken.indices {
            let rows = try self.rows(i, read)
            if dropping { taken[i] = nil }
            guard try body(rows) else { return }
        }
    }

    private func rows(_ i: Int, _ read: (ClosedRange<UInt64>) throws -> Rows) throws -> Rows {
        while true {
            if let rows = taken[i] { return rows }
            if shared.nextUntaken <= i, let mine = shared.take() {
                // Ranges are taken in order and the earlier ones are had: this is range i,
                // or a later one when the helper took i just now.
                taken[mine] = try read(shared.bounds[mine])
                continue
            }
            let slot = shared.results[i]
            if slot.ready.wait(timeout: .now()) == .timedOut {
                // The helper is on it: read a later range meanwhile, or wait when none is left.
                if let later = shared.take() {
                    taken[later] = try read(shared.bounds[later])
                    continue
                }
                slot.ready.wait()
            }
            guard let result = slot.result else { throw StoreError.corrupt("range \(i) of \(table.name) was never read") }
            taken[i] = try result.get()
        }
    }

    /// The rows of `table` at snapshot `at` in `range`, in position order, as a view shows
    /// them; stops early (with what it has) once `stop` is set.
    static func read(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64, _ cursor: Cursor,
                     stop: StopFlag? = nil) throws -> Rows {
        var positions: [UInt64] = [], rows: [ViewRow] = []
        _ = try SnapshotKeys.walk(table, range, at: at, cursor) { position, bytes in
            guard let row = try AnyRow(decoding: bytes, table: table) else {
                throw StoreError.corrupt("row \(position) of \(table.name) is not a view's row")
            }
            positions.append(position)
            rows.append(row.viewRow())
            return !(stop?.isSet ?? false)
        }
        return (positions, rows)
    }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
