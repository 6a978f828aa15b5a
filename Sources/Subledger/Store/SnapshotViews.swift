import Dispatch
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

    /// Calls `body` with every row of `table` at this snapshot, in position order (the rows the
    /// read-ahead decoded are encoded again for it).
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws {
        try walk(table, body) { position, row in try row.encoded.withUnsafeBytes { try body(position, $0) } }
    }

    /// `walk` with every row decoded: the read-ahead's as they come, the others here.
    private func walkRows(_ table: BaseTable, _ body: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws {
        try walk(table, { position, bytes in try body(position, try CachedRow(decoding: bytes, table: table)) }, decoded: body)
    }

    /// Calls `body` with every row of `table` at this snapshot, in position order; the rows the
    /// read-ahead holds, decoded already, go to `decoded` once the walk gets there.
    private func walk(_ table: BaseTable, _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool,
                      decoded: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws {
        guard at > 0 else { return }
        // A cursor of its own: `body` may read other rows meanwhile.
        let cursor = try txn.cursor(snapshots)
        defer { cursor.close() }
        guard let ahead, ahead.table == table, ahead.split < at else {
            _ = try SnapshotKeys.walk(table, 1...at, at: at, cursor, body)
            return
        }
        if ahead.split > 0, try !SnapshotKeys.walk(table, 1...ahead.split, at: at, cursor, body) { return }
        let usable = try ahead.forEachRow(decoded)
        if !usable { _ = try SnapshotKeys.walk(table, (ahead.split + 1)...at, at: at, cursor, body) }
    }

    /// An index table as the snapshot's rows give it, sorted by key.
    private func index(_ table: BaseTable) throws -> [(key: [UInt8], value: [UInt8])] {
        if let done = derived[table] { return done }
        let source = BaseViews.rowTable(of: table)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try walkRows(source) { position, row in
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

/// The rows of one table at a snapshot above `split`, read and decoded on a thread of its
/// own and handed over in batches as they are ready: the caller folds the events after the
/// snapshot and reads the rows below meanwhile, then takes these while the rest are read.
/// Dropped (and the thread stopped at its next row) when the walk ends early.
final class SnapshotReadAhead {
    typealias Rows = [(position: UInt64, row: CachedRow)]
    enum Message {
        case rows(Rows)
        /// The thread's transaction saw other snapshots: the caller reads the rows itself.
        case unusable
        case failed(any Error)
        case end
    }

    let table: BaseTable
    let split: UInt64
    private let stop = StopFlag()
    private let channel = Channel()
    private let thread: JoinableThread<Void>
    /// The batches taken so far, kept for a second walk of the table.
    private var taken: [Rows] = []
    private var ended: Message?

    /// Starts `read`, which sends the rows in batches (or `.unusable` first) and gives up once
    /// the flag is set; nil when no thread can be had.
    init?(table: BaseTable, split: UInt64, _ read: @escaping (_ send: (Message) -> Void, _ stop: StopFlag) throws -> Void) {
        self.table = table
        self.split = split
        let stop = self.stop, channel = self.channel
        guard let thread = JoinableThread.start({
            do { try read(channel.send, stop) } catch { channel.send(.failed(error)) }
            channel.send(.end)
        }) else { return nil }
        self.thread = thread
    }

    /// Calls `body` with each row in order, waiting for batches not yet read; false when the
    /// rows are unusable (the caller then reads them itself).
    func forEachRow(_ body: (_ position: UInt64, _ row: CachedRow) throws -> Bool) throws -> Bool {
        for rows in taken { for (p, row) in rows where try !body(p, row) { return true } }
        while ended == nil {
            switch channel.receive() {
            case .rows(let rows):
                taken.append(rows)
                for (p, row) in rows where try !body(p, row) { return true }
            case let message: ended = message
            }
        }
        switch ended {
        case .unusable: return false
        case .failed(let error): throw error
        default: return true
        }
    }

    deinit {
        stop.set()
        _ = try? thread.join()
    }

    /// Sends the rows of `table` at snapshot `at` in `range`, decoded, in position order, in
    /// batches of 4,096; stops early once `stop` is set.
    static func collect(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64, _ cursor: Cursor,
                        _ send: (Message) -> Void, _ stop: StopFlag) throws {
        var rows: Rows = []
        rows.reserveCapacity(4096)
        _ = try SnapshotKeys.walk(table, range, at: at, cursor) { position, row in
            rows.append((position, try CachedRow(decoding: row, table: table)))
            if rows.count == 4096 {
                send(.rows(rows))
                rows.removeAll(keepingCapacity: true)
            }
            return !stop.isSet
        }
        if !rows.isEmpty { send(.rows(rows)) }
    }

    /// Messages from the reading thread, unbounded: a view's rows are held whole anyway.
    private final class Channel: @unchecked Sendable {
        private let queue = Mutex<[Message]>([])
        private let ready = DispatchSemaphore(value: 0)

        func send(_ message: Message) {
            queue.withLock { $0.append(message) }
            ready.signal()
        }

        func receive() -> Message {
            ready.wait()
            return queue.withLock { $0.removeFirst() }
        }
    }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
