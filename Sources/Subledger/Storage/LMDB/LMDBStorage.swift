import LMDB
import Synchronization

/// A ledger in one LMDB environment (a directory): the embedded backend, and the default.
///
/// The log, its indexes, the views of two generations (blue/green), the snapshots and
/// `last_seen` are LMDB databases of one environment, written in one transaction per batch.
final class LMDBStorage: LedgerStorage, @unchecked Sendable {
    let env: Environment
    let options: StoreOptions
    let proxies: [Proxy]
    let log: LogTables
    /// The view tables of both generations (blue/green): base tables, then one per proxy.
    /// `meta` says which one is active; a rebuild fills the other, then switches.
    let generations: [[ViewDatabase]]
    /// Unmaps the pages that reading the log in batches (`events(from:to:limit:)`) leaves mapped.
    private let pageRelease: Mutex<PageRelease>
    /// Commands per write transaction: `Store.maxBatch`, less once a transaction of that many
    /// changed more pages than LMDB allows.
    private let transactionSizing = TransactionSizing(limit: Store.maxBatch)

    /// See `Store.setDamagedFileExit`.
    static func setDamagedFileExit(line: String, code: Int32) { Environment.setDamagedPageExit(line: line, code: code) }

    /// Opens (or, with `options.create`, creates) the store at `path`.
    init(path: String, options: StoreOptions) throws {
        if !options.create && !StoreFiles.exists(path) { throw StoreError.noStore(path: path) }
        var seen = Set<String>()
        let proxies = (Proxy.builtIn + options.proxies).filter { seen.insert($0.name).inserted }
        var envOptions = EnvironmentOptions()
        envOptions.mapSize = options.initialMapSize
        // The log's and snapshots' 49; in each of two generations, 13 base tables and a delta
        // each (52 in all), and 2 per proxy: room to spare, however many proxies are declared.
        envOptions.maxDatabases = 256 + 4 * proxies.count
        env = try Environment.open(path: path, options: envOptions)
        pageRelease = Mutex(PageRelease(env))
        self.options = options
        self.proxies = proxies
        do {
            (log, generations) = try Self.openTables(env, proxies: proxies, options: options)
        } catch LMDBError.incompatible {
            // LMDB's catalog records each named table with its flags, and a store opens each
            // table with the flags it made it with: other flags there are damage, or another
            // program's file. LMDB's own words name neither.
            throw StoreError.corrupt("a table in the file has other flags than subledger gives it: the file is damaged, or is not a subledger store")
        }
        try catchUpProjections()
    }

    /// Opens (creating where missing) the log's tables and both generations of view tables.
    private static func openTables(_ env: Environment, proxies: [Proxy], options: StoreOptions) throws -> (LogTables, [[ViewDatabase]]) {
        try env.write { txn in
            // The stream index takes a position per event, about three times the changes a batch
            // makes to the busiest view index: its delta pays from a larger tree (measured at 10^5
            // and 10^6 events, tools/benchmark/RESULTS.md).
            let log = try LogTables(txn, deltaThreshold: options.deltaThreshold * 4)
            try log.checkFormat(txn)
            let generations = try (1...2).map { g in
                let names = BaseTable.allCases.map(\.name) + proxies.map { "proxy.\($0.name)" }
                return try names.map { name in
                    ViewDatabase(main: try txn.openDatabase("g\(g).\(name)", flags: [], create: true),
                                 delta: try txn.openDatabase("g\(g).\(name).delta", flags: [], create: true),
                                 directBelow: options.deltaThreshold)
                }
            }
            return (log, generations)
        }
    }

    var location: String { env.path }

    func close() { env.close() }

    // MARK: Executing commands

    var maxBatch: Int { Store.maxBatch }

    func execute(batch: [Result<CommandEnvelope, Rejection>], durable: Bool) throws -> [Outcome] {
        try mergeDueDeltas()
        // A batch of `Store.maxBatch` commands on a very large store may change more pages than
        // one transaction can hold: it is then run in parts.
        return try BatchSplitting.inParts(batch[...], sizing: transactionSizing) { part in
            do {
                return try env.write(durable: durable) { txn in
                    var handler = try commandHandler(txn)
                    // On a small store the look-ups find their pages in the cache anyway, and the
                    // second core is left to decoding the next batch (10^5 commands into an empty
                    // store ran 9% slower beside a read-ahead; tools/benchmark/RESULTS.md).
                    let small = handler.head.position < options.readAheadEvents
                    let readAhead = small ? nil : ReadAhead.start(part, minimumBatch: options.readAheadBatch) { [self] body in
                        _ = try env.readWithoutWaiting { txn in
                            try body(LMDBViews(txn, tables: try viewTables(txn), streams: log.streams))
                        }
                    }
                    defer { readAhead?.stop() }
                    let outcomes = try handler.execute(part, readAhead: readAhead)
                    try handler.finish()
                    return outcomes
                }
            } catch LMDBError.transactionFull {
                throw BatchTooLarge()
            }
        }
    }

    func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp?, commandID: String?) throws -> RecordedEvent {
        try mergeDueDeltas()
        return try env.write { txn in
            var handler = try commandHandler(txn)
            let event = try handler.append(data, expectedVersion: expectedVersion, at: at, commandID: commandID)
            try handler.finish()
            return event
        }
    }

    /// Merges the deltas of the stream index and the active views that have grown enough
    /// (`StreamIndex`, `ViewDatabase`) before a batch rather than after it: a failure then stops
    /// the batch before it applies anything, never after it was acknowledged. A merge changes no
    /// table's contents, so a crash between its transactions loses nothing.
    ///
    /// A delta due is merged whole, so that every leaf it lands on takes an eighth of its
    /// entries' worth of changes at once: a part taken from the front each time sweeps the same
    /// low keys again and again (3×10^6 commands from empty wrote 14.1 GB that way, 9.5 GB
    /// merging whole; tools/benchmark/RESULTS.md). It is merged in write transactions of
    /// `options.deltaMergeChunk` entries a table: LMDB keeps a transaction's dirty pages in a
    /// sorted array, whose inserts cost more the longer it is, and spills pages past its room.
    private func mergeDueDeltas() throws {
        let floor = options.deltaMergeFloor, chunk = options.deltaMergeChunk
        func due(_ txn: some ReadableTransaction) throws -> Bool {
            try log.streams.isMergeDue(floor: floor, txn) || viewTables(txn).contains { try $0.isMergeDue(floor: floor, txn) }
        }
        guard try env.read({ try due($0) }) else { return }
        var merge: DeltaMerge?
        repeat {
            merge = try env.write { txn in
                let tables = try viewTables(txn)
                var m = try merge ?? DeltaMerge(streams: log.streams, tables: tables, floor: floor, chunk: chunk, txn)
                if m.streams { m.streams = try !log.streams.merge(limit: chunk, txn) }
                m.tables = try m.tables.filter { try !tables[$0].merge(limit: chunk, txn) }
                m.rounds -= 1
                return m
            }
        } while merge?.isDone == false
    }

    /// The deltas one `mergeDueDeltas` empties, decided in its first transaction, under the write
    /// lock, and how many transactions it may take: other processes' batches between them must
    /// not keep it going.
    private struct DeltaMerge {
        var streams: Bool
        /// The due view tables, by slot.
        var tables: [Int]
        var rounds: Int

        init(streams index: StreamIndex, tables views: [ViewDatabase], floor: Int, chunk: Int, _ txn: WriteTransaction) throws {
            streams = try index.isMergeDue(floor: floor, txn)
            tables = try views.indices.filter { try views[$0].isMergeDue(floor: floor, txn) }
            let largest = try (tables.map { views[$0].delta } + (streams ? [index.delta] : [])).map { try txn.entries($0) }.max() ?? 0
            rounds = 2 * (largest / max(chunk, 1) + 1)
        }

        var isDone: Bool { (!streams && tables.isEmpty) || rounds <= 0 }
    }

    /// The command handler of a write transaction on the active views.
    private func commandHandler(_ txn: WriteTransaction) throws -> CommandHandler<LMDBLedgerTransaction<WriteTransaction>> {
        let ledger = try LMDBLedgerTransaction(txn, log: log, viewTables: try viewTables(txn), snapshotsFor: proxiesSignature)
        return try CommandHandler(ledger, proxies: proxies, clock: options.clock, newID: options.newID)
    }

    // MARK: Reading the log

    func head() throws -> LogHead { try env.read { txn in try log.head(txn) } }

    func event(at position: UInt64) throws -> RecordedEvent? { try env.read { txn in try log.event(at: position, txn) } }

    func positions(ofStream id: EntityID) throws -> [UInt64] { try env.read { txn in try log.positions(of: id, txn) } }

    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        let events = try env.read { txn in try log.events(from: from, to: to, limit: limit, txn) }
        // A replay, export or fold of the whole log reads it in batches: without this, all of it
        // would stay mapped into the process (see `PageRelease`).
        try pageRelease.withLock { try $0.read(events.count) }
        return events
    }

    // MARK: last_seen, the volatile property

    /// Sets a user's `last_seen` (outside the log: not hashed, exported or replayed).
    func setLastSeen(user: Reference, at when: Timestamp) throws {
        try env.write { txn in
            let id = try resolve(user: user, txn)
            var w = BinaryWriter(capacity: 10)
            w.time(when)
            try txn.put(log.lastSeen, id.raw, w.bytes)
        }
    }

    /// Deletes a user's `last_seen`; reading it falls back to `last_login` again.
    func forgetLastSeen(user: Reference) throws {
        try env.write { txn in
            let id = try resolve(user: user, txn)
            _ = try txn.delete(log.lastSeen, id.raw)
        }
    }

    func resolve(user: Reference, _ txn: some ReadableTransaction) throws -> EntityID {
        let views = LMDBViews(txn, tables: try viewTables(txn), streams: log.streams)
        return try References(state: views).user(user).row.id
    }

    // MARK: Projections

    /// The view tables of the generation active in `txn`'s snapshot.
    func viewTables(_ txn: some ReadableTransaction) throws -> [ViewDatabase] {
        generations[try log.activeGeneration(txn)]
    }

    /// Back-fills proxies the store has not seen (new name or version) and folds the log into
    /// the views when they are behind it (after an import, or a new fold version).
    func catchUpProjections() throws {
        try env.write { txn in
            let head = try log.head(txn)
            let tables = try viewTables(txn)
            let views = LMDBViews(txn, tables: tables, streams: log.streams)
            let base = try log.projectionState(BaseViews.name, txn)
            if base?.version != BaseViews.version || base!.checkpoint < head.position {
                // Fold from where the views stand, or afresh when their fold changed.
                let from = base?.version == BaseViews.version ? base!.checkpoint + 1 : 1
                if from == 1 { for table in tables { try table.clear(txn) } }
                let cache = CachedViews(base: views, tableCount: tables.count)
                var fold = ViewFold(proxies: proxies)
                try log.forEachEvent(from: from, through: head.position, txn) { try fold.apply($0, to: cache) }
                try cache.writeChanges(to: tables, txn)
                try log.setProjectionState(BaseViews.name, version: BaseViews.version, checkpoint: head.position, txn)
            }
            for (i, proxy) in proxies.enumerated() {
                let state = try log.projectionState(proxy.name, txn)
                if state?.version == proxy.version && state!.checkpoint == head.position { continue }
                try backfill(proxy, index: i, views)
                try log.setProjectionState(proxy.name, version: proxy.version, checkpoint: head.position, txn)
            }
            try prepareSnapshots(txn)
        }
    }

    /// Rebuilds a proxy's index from the current rows of its base view.
    func backfill(_ proxy: Proxy, index: Int, _ views: LMDBViews<WriteTransaction>) throws {
        try views.tables[ViewTable.proxy(index).slot].clear(views.txn)
        var rows: [(UInt64, AnyRow)] = []
        try views.forEachRow(of: proxy.base) { rows.append(($0, $1)); return true }
        for (p, row) in rows {
            try proxy.follow(RowChange(view: proxy.base, position: p, old: nil, new: row), index: index, views)
        }
    }

    /// A digest of every table's bytes: the log, its indexes, the active views, the snapshots.
    /// Two stores with equal digests hold the same bytes. Snapshot entries and links count as
    /// the tables their runs make up: how they lie in runs follows from the transactions that
    /// wrote them, not from what they hold.
    func contentDigest() throws -> [UInt8] {
        try env.read { txn in
            var all: [UInt8] = []
            func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
                all += withUnsafeBytes(of: UInt32(key.count)) { Array($0) } + Array(key)
                all += withUnsafeBytes(of: UInt32(value.count)) { Array($0) } + Array(value)
            }
            let snapshots = try log.snapshotState(txn)
            for db in [log.events, log.commands, log.meta, log.projections, log.lastSeen, log.pendingSnapshot] {
                for (key, value) in try txn.scan(db) {
                    if db == log.meta, key.sameBytes(as: LogTables.snapshotsKey), var state = snapshots {
                        state.runs = []
                        state.linkRuns = []
                        LogTables.encoded(state).withUnsafeBytes { add(key, $0) }
                    } else {
                        add(key, value)
                    }
                }
                all.append(0xFF)
            }
            // The stream index and a view table with a delta count as the entries the two make up.
            let streams = try log.streams.scan(txn)
            while let (key, value) = try streams.nextEntry() { add(key, value) }
            all.append(0xFF)
            for table in try viewTables(txn) {
                let entries = try table.scan(txn)
                while let (key, value) = try entries.nextEntry() { add(key, value) }
                all.append(0xFF)
            }
            for (runs, slots) in [(snapshots?.runs ?? [], log.snapshotSlots), (snapshots?.linkRuns ?? [], log.linkSlots)] {
                let entries = try SnapshotRuns.entries(of: runs, slots, txn)
                while let (key, value) = try entries.nextEntry() { add(key, value) }
                all.append(0xFF)
            }
            return EventCodec.chainHash(previous: [UInt8](), body: all)
        }
    }
}

/// Where a store keeps its files.
enum StoreFiles {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path + "/data.mdb", &st) == 0
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension LMDBError: StorageFailure {}

extension Cursor {
    /// Appends entries `range` of a sorted table after the last entry of the cursor's
    /// database. The cursor stays at the end: a put with `.append` would descend from the root
    /// for each entry (half of its instructions, in a rebuild).
    func append(_ table: PackedTable, _ range: Range<Int>) throws {
        for i in range { try table.withEntry(i) { key, value in try append(key, value) } }
    }
}

/// Watches a long scan and unmaps the store's pages (`Environment.releaseMappedPages`) once the
/// process holds more than `budget` bytes of mapped file pages. LMDB maps the whole file, and
/// the kernel maps up to 16 pages around each page read: without this, a scan of a few tables
/// leaves most of the file resident in the process. Releasing on a budget rather than every N
/// entries keeps what a dense scan maps for as long as it is cheap to keep. It has a price: at
/// 10^6 events, replay takes 15–20% longer than with every page left mapped (61 MB of peak RSS
/// against 619 MB), the reads faulting in again what a release unmapped.
struct PageRelease {
    static let budget = 32 << 20
    private let env: Environment
    private var count = 0
    private var baseline: Int

    init(_ env: Environment) {
        self.env = env
        baseline = Self.residentFileBytes() ?? 0
    }

    /// Counts `entries` read; every 1,024 entries, checks the budget.
    mutating func read(_ entries: Int = 1) throws {
        let before = count
        count &+= entries
        if count >> 10 != before >> 10 { try check() }
    }

    /// Unmaps the store's pages if the process holds more than the budget of file pages beyond
    /// what it held at the start or after the last release.
    private mutating func check() throws {
        guard let resident = Self.residentFileBytes(), resident - baseline > Self.budget else { return }
        try env.releaseMappedPages()
        baseline = Self.residentFileBytes() ?? 0
    }

    /// The process's resident pages of mapped files, in bytes (`/proc/self/statm`, third field).
    private static func residentFileBytes() -> Int? {
        #if os(Linux)
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let fields = buffer[..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 2, let pages = Int(String(decoding: fields[2], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return nil
        #endif
    }
}
