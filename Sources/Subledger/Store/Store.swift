import LMDB

/// How a store is opened.
public struct StoreOptions: Sendable {
    /// Proxies declared by the application, beside the built-in ones.
    public var proxies: [Proxy]
    /// The initial map size; the map grows by itself when full.
    public var initialMapSize: Int
    /// Wall-clock time: the default `at` and every event's `recorded_at`.
    public var clock: @Sendable () -> Timestamp
    /// Create the store when it does not exist.
    public var create: Bool
    /// Makes the ids of created entities (and events) that commands do not name; random by default.
    public var newID: @Sendable () -> EntityID
    /// Events between two view snapshots (what `--as-of` folds from). nil: the store's own
    /// (`Store.defaultSnapshotInterval` for a new store); another value drops the store's
    /// snapshots and takes them again at the new interval.
    public var snapshotInterval: Int?
    /// From this snapshot position on, `--as-of` reads the upper part of a view's rows on a
    /// second core (below it the rows are too few to be worth a thread). Tests lower it.
    var readAheadMinimum: UInt64 = 32_768

    public init(proxies: [Proxy] = [], initialMapSize: Int = 64 << 20,
                clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }, create: Bool = true,
                newID: @escaping @Sendable () -> EntityID = { EntityID.random() }, snapshotInterval: Int? = nil) {
        self.snapshotInterval = snapshotInterval
        self.proxies = proxies
        self.initialMapSize = initialMapSize
        self.clock = clock
        self.create = create
        self.newID = newID
    }
}

/// An event-sourced subscription ledger in one LMDB environment (a directory).
///
/// ```swift
/// let store = try Store.open(path: "shop.db")
/// let outcome = try store.execute(line: #"{"command":"RegisterUser","email":"ann@example.com"}"#)
/// let users = try store.rows(of: "users")
/// ```
/// Commands that pass the rules append one event each; the views are updated in the same
/// write transaction, so they never lag the log.
public final class Store: @unchecked Sendable {
    /// The store format this code writes and reads.
    public static let formatVersion: UInt32 = 1

    let env: Environment
    let options: StoreOptions
    let proxies: [Proxy]
    let log: LogTables
    /// The view tables of both generations (blue/green): base tables, then one per proxy.
    /// `meta` says which one is active; a rebuild fills the other, then switches.
    let generations: [[Database]]

    /// Opens (or, with `options.create`, creates) the store at `path`.
    public static func open(path: String, options: StoreOptions = .init()) throws(StoreError) -> Store {
        do { return try Store(path: path, options: options) } catch { throw StoreError.wrap(error) }
    }

    private init(path: String, options: StoreOptions) throws {
        if !options.create && !StoreFiles.exists(path) { throw StoreError.noStore(path: path) }
        var envOptions = EnvironmentOptions()
        envOptions.mapSize = options.initialMapSize
        env = try Environment.open(path: path, options: envOptions)
        self.options = options
        var seen = Set<String>()
        proxies = (Proxy.builtIn + options.proxies).filter { seen.insert($0.name).inserted }
        let proxies = self.proxies
        (log, generations) = try env.write { txn in
            let log = try LogTables(txn)
            try log.checkFormat(txn)
            let generations = try (1...2).map { g in
                try BaseTable.allCases.map { try txn.openDatabase("g\(g).\($0.name)", flags: [], create: true) }
                    + proxies.map { try txn.openDatabase("g\(g).proxy.\($0.name)", flags: [], create: true) }
            }
            return (log, generations)
        }
        try catchUpProjections()
    }

    /// The filesystem path of the store.
    public var path: String { env.path }

    /// Closes the store's environment (shared by every `Store` of this path in the process);
    /// later calls on it fail. Opening the path again opens it anew.
    public func close() { env.close() }

    // MARK: Executing commands

    /// Parses, validates and executes one JSON command line, durably.
    public func execute(line: String) throws(StoreError) -> Outcome {
        try execute(batch: [CommandDecoder.decode(line: line)])[0]
    }

    /// Executes one command, durably.
    public func execute(_ command: CommandEnvelope) throws(StoreError) -> Outcome {
        try execute(batch: [.success(command)])[0]
    }

    /// Executes commands in order in one write transaction, synced once at the end (unless
    /// `durable` is false). A rejected command appends nothing and does not undo the others.
    /// Items that failed to parse are passed through as rejections, so outcomes line up with input.
    public func execute(batch: [Result<CommandEnvelope, Rejection>], durable: Bool = true) throws(StoreError) -> [Outcome] {
        do {
            return try env.write(durable: durable) { txn in
                var handler = try commandHandler(txn)
                let outcomes = try batch.map { item in
                    switch item {
                    case .failure(let r): Outcome.rejected(r)
                    case .success(let command): try handler.execute(command)
                    }
                }
                try handler.finish()
                return outcomes
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Appends one event to its stream below the domain rules, checking the stream's version.
    /// The views follow it like any other event.
    public func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp? = nil,
                       commandID: String? = nil) throws(StoreError) -> RecordedEvent {
        do {
            return try env.write { txn in
                var handler = try commandHandler(txn)
                let event = try handler.append(data, expectedVersion: expectedVersion, at: at, commandID: commandID)
                try handler.finish()
                return event
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// The command handler of a write transaction on the active views.
    private func commandHandler(_ txn: WriteTransaction) throws -> CommandHandler<LMDBLedgerTransaction<WriteTransaction>> {
        let ledger = try LMDBLedgerTransaction(txn, log: log, viewTables: try viewTables(txn), tracksChanges: true)
        return try CommandHandler(ledger, proxies: proxies, clock: options.clock, newID: options.newID)
    }

    // MARK: Reading the log

    /// The newest position, hash and `at`.
    public func head() throws(StoreError) -> LogHead {
        do { return try env.read { txn in try log.head(txn) } } catch { throw StoreError.wrap(error) }
    }

    /// Calls `body` with each event in log order that matches, reading in bounded batches
    /// (each its own read transaction) so a long replay never pins old pages. Return false to stop.
    public func forEachEvent(from: UInt64 = 1, to: UInt64? = nil, stream: StreamID? = nil, type: EventType? = nil,
                             batchSize: Int = 4096, _ body: (RecordedEvent) throws -> Bool) throws {
        if let stream {
            let positions = try env.read { txn in try log.positions(of: stream.id, txn) }
            for chunk in stride(from: 0, to: positions.count, by: batchSize) {
                let events = try env.read { txn in
                    try positions[chunk..<min(chunk + batchSize, positions.count)].compactMap { p -> RecordedEvent? in
                        guard p >= from, p <= (to ?? .max) else { return nil }
                        let e = try log.event(at: p, txn)
                        return e.flatMap { $0.stream == stream && (type == nil || $0.type == type) ? $0 : nil }
                    }
                }
                for e in events where try !body(e) { return }
            }
            return
        }
        try forEachBatch(from: from, to: to, batchSize: batchSize) { events in
            for e in events where type == nil || e.type == type {
                if try !body(e) { return false }
            }
            return true
        }
    }

    /// Calls `body` with the events of `from...to` in log order, a batch (one read transaction)
    /// at a time, until it returns false.
    func forEachBatch(from: UInt64 = 1, to: UInt64? = nil, batchSize: Int = 4096,
                      _ body: ([RecordedEvent]) throws -> Bool) throws {
        var next = max(from, 1)
        let last = to ?? .max
        while next <= last {
            let events = try env.read { txn in try log.events(from: next, to: last, limit: batchSize, txn) }
            guard let end = events.last?.position, try body(events) else { return }
            next = end + 1
        }
    }

    /// The events in `from...to`, in order.
    public func events(from: UInt64 = 1, to: UInt64? = nil, stream: StreamID? = nil, type: EventType? = nil) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try forEachEvent(from: from, to: to, stream: stream, type: type) { out.append($0); return true }
        return out
    }

    // MARK: last_seen, the volatile property

    /// Sets a user's `last_seen` (outside the log: not hashed, exported or replayed).
    public func setLastSeen(user: Reference, at: Timestamp? = nil) throws(StoreError) {
        let when = at ?? options.clock()
        do {
            try env.write { txn in
                let id = try resolve(user: user, txn)
                var w = BinaryWriter(capacity: 10)
                w.time(when)
                try txn.put(log.lastSeen, id.raw, w.bytes)
            }
        } catch { throw StoreError.wrap(error) }
    }

    /// Deletes a user's `last_seen`; reading it falls back to `last_login` again.
    public func forgetLastSeen(user: Reference) throws(StoreError) {
        do {
            try env.write { txn in
                let id = try resolve(user: user, txn)
                _ = try txn.delete(log.lastSeen, id.raw)
            }
        } catch { throw StoreError.wrap(error) }
    }

    func resolve(user: Reference, _ txn: some ReadableTransaction) throws -> EntityID {
        let views = LMDBViews(txn, tables: try viewTables(txn), streams: log.streams)
        return try References(state: views).user(user).row.id
    }

    // MARK: Projections

    /// The view tables of the generation active in `txn`'s snapshot.
    func viewTables(_ txn: some ReadableTransaction) throws -> [Database] {
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
                if from == 1 { for table in tables { try txn.clear(table) } }
                let cache = CachedViews(base: views, tableCount: tables.count)
                var fold = ViewFold(proxies: proxies)
                var p = from
                while p <= head.position {
                    for event in try log.events(from: p, to: head.position, limit: 4096, txn) {
                        try fold.apply(event, to: cache)
                        p = event.position + 1
                    }
                }
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
        try views.txn.clear(views.tables[ViewTable.proxy(index).slot])
        var rows: [(UInt64, AnyRow)] = []
        try views.forEachRow(of: proxy.base) { rows.append(($0, $1)); return true }
        for (p, row) in rows {
            try proxy.follow(RowChange(view: proxy.base, position: p, old: nil, new: row), index: index, views)
        }
    }

    /// A digest of every table's bytes: the log, its indexes, the active views. Two stores with
    /// equal digests hold the same bytes.
    func contentDigest() throws -> [UInt8] {
        try env.read { txn in
            var all: [UInt8] = []
            for db in [log.events, log.streams, log.commands, log.meta, log.projections, log.lastSeen, log.snapshots,
                       log.pendingSnapshot] + (try viewTables(txn)) {
                for (key, value) in try txn.scan(db) {
                    all += withUnsafeBytes(of: UInt32(key.count)) { Array($0) } + Array(key)
                    all += withUnsafeBytes(of: UInt32(value.count)) { Array($0) } + Array(value)
                }
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
