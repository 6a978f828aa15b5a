/// An event-sourced subscription ledger.
///
/// ```swift
/// let store = try Store.open(path: "shop.db")
/// let outcome = try store.execute(line: #"{"command":"RegisterUser","email":"ann@example.com"}"#)
/// let users = try store.rows(of: "users")
/// ```
/// Commands that pass the rules append one event each; the views are updated in the same
/// transaction, so they never lag the log.
public final class Store: @unchecked Sendable {
    /// The store format this code writes and reads.
    public static let formatVersion: UInt32 = LogTables.formatVersion
    /// The snapshot interval of a new store (see `StoreOptions.snapshotInterval`).
    public static let defaultSnapshotInterval = StoreOptions.defaultSnapshotInterval

    let storage: any LedgerStorage
    let options: StoreOptions

    init(storage: any LedgerStorage, options: StoreOptions) {
        self.storage = storage
        self.options = options
    }

    /// Opens (or, with `options.create`, creates) the store in the directory `path`.
    public static func open(path: String, options: StoreOptions = .init()) throws(StoreError) -> Store {
        do { return Store(storage: try LMDBStorage(path: path, options: options), options: options) } catch {
            throw StoreError.wrap(error)
        }
    }

    /// How the process ends when an embedded store's file turns out damaged where it is being
    /// read (LMDB trusts its pages and cannot go on): `line` written to stderr, then exit with
    /// `code`. Unset, the process aborts silently (`SIGABRT`), which suits a parent that
    /// watches it. Set it once, before opening a store.
    public static func setDamagedFileExit(line: String, code: Int32) {
        LMDBStorage.setDamagedFileExit(line: line, code: code)
    }

    /// Opens (or, with `options.create`, creates) the store at `location`: a directory, for the
    /// embedded LMDB store, or a PostgreSQL connection URI (`postgresql://…` or `postgres://…`,
    /// read as libpq reads it, with `ledger=NAME` choosing the ledger's schema, `subledger` by
    /// default).
    ///
    /// ```swift
    /// let local = try Store.open("shop.db")
    /// let shared = try Store.open("postgresql://app@db.internal/shop?ledger=tenant_42")
    /// ```
    public static func open(_ location: String, options: StoreOptions = .init()) throws(StoreError) -> Store {
        guard PostgresLocation.isURI(location) else { return try open(path: location, options: options) }
        let server = try PostgresLocation(parsing: location)
        do { return Store(storage: try PostgresStorage(location: server, options: options), options: options) } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Where the store lives (a PostgreSQL location without its password).
    public var path: String { storage.location }

    /// Closes the store (an LMDB environment is shared by every `Store` of its path in the
    /// process); later calls on it fail. Opening the path again opens it anew.
    public func close() { storage.close() }

    /// Runs `body`, turning whatever the storage throws into a `StoreError`.
    func run<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch { throw StoreError.wrap(error) }
    }

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
        try run { try storage.execute(batch: batch, durable: durable) }
    }

    /// Appends one event to its stream below the domain rules, checking the stream's version.
    /// The views follow it like any other event.
    public func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp? = nil,
                       commandID: String? = nil) throws(StoreError) -> RecordedEvent {
        try run { try storage.append(data, expectedVersion: expectedVersion, at: at, commandID: commandID) }
    }

    // MARK: Reading the log

    /// The newest position, hash and `at`.
    public func head() throws(StoreError) -> LogHead {
        try run { try storage.head() }
    }

    /// Calls `body` with each event in log order that matches, reading in bounded batches
    /// (each its own read transaction) so a long replay never pins old pages. Return false to stop.
    public func forEachEvent(from: UInt64 = 1, to: UInt64? = nil, stream: StreamID? = nil, type: EventType? = nil,
                             batchSize: Int = 4096, _ body: (RecordedEvent) throws -> Bool) throws {
        if let stream {
            let positions = try storage.positions(ofStream: stream.id).filter { $0 >= from && $0 <= (to ?? .max) }
            for p in positions {
                guard let e = try storage.event(at: p), e.stream == stream, type == nil || e.type == type else { continue }
                if try !body(e) { return }
            }
            return
        }
        try storage.forEachBatch(from: from, to: to, batchSize: batchSize) { events in
            for e in events where type == nil || e.type == type {
                if try !body(e) { return false }
            }
            return true
        }
    }

    /// The events in `from...to`, in order.
    public func events(from: UInt64 = 1, to: UInt64? = nil, stream: StreamID? = nil, type: EventType? = nil) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try forEachEvent(from: from, to: to, stream: stream, type: type) { out.append($0); return true }
        return out
    }

    /// Blocks until the log's head is past `position`, without busy-waiting.
    public func waitForAppend(after position: UInt64) throws(StoreError) {
        try run { try storage.waitForAppend(after: position) }
    }

    /// The position `asOf` names: 1...head for a position (anything else is an error), and for a
    /// time the last event at or before it (0 when none is that old). `at` never runs backwards
    /// in the log, so a binary search finds it.
    public func position(of asOf: AsOf) throws(StoreError) -> UInt64 {
        let head = try head().position
        switch asOf {
        case .position(let p):
            guard head > 0 else { throw StoreError.invalidArgument("--as-of \(p): the log is empty") }
            guard p >= 1, p <= head else { throw StoreError.invalidArgument("--as-of \(p) is outside the log (1...\(head))") }
            return p
        case .time(let t):
            return try run {
                var low: UInt64 = 0, high = head  // invariant: event low has at <= t (0: none), high+1 has at > t
                while low < high {
                    let mid = low + (high - low + 1) / 2
                    guard let e = try storage.event(at: mid) else { throw StoreError.corrupt("no event at position \(mid)") }
                    if e.at <= t { low = mid } else { high = mid - 1 }
                }
                return low
            }
        }
    }

    // MARK: Views

    /// Every view's name, base views first.
    public var viewNames: [String] {
        ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] + storage.proxies.map(\.name)
    }

    /// The rows of a view in its order, optionally filtered and limited; with `asOf`, the view
    /// as it was after that point of the log: the nearest snapshot at or before it, with the
    /// events since folded in (`last_seen` then falls back to `last_login`, since the volatile
    /// value has no history).
    ///
    /// ```swift
    /// let subs = try store.rows(of: "subscriptions", filter: ViewFilter(user: Reference("ann@example.com")))
    /// let before = try store.rows(of: "users", asOf: .position(10))
    /// ```
    public func rows(of view: String, filter: ViewFilter = .init(), limit: Int? = nil,
                     asOf: AsOf? = nil) throws(StoreError) -> [ViewRow] {
        guard viewNames.contains(view) else { throw StoreError.unknownView(view) }
        let position = try asOf.map { p throws(StoreError) in try self.position(of: p) }
        return try run { try storage.rows(of: view, filter: filter, limit: limit, asOf: position) }
    }

    /// The rows of a base view for the entities `ids`, in that order, leaving out ids of
    /// nothing (then): a few rows found by id, where a filter would walk the view. With
    /// `asOf`, as after that point of the log.
    ///
    /// ```swift
    /// let owners = try store.rows(of: .users, ids: subs.compactMap { if case .id(let u)? = $0["user"] { u } else { nil } },
    ///                             asOf: .position(10))
    /// ```
    public func rows(of view: BaseView, ids: [EntityID], asOf: AsOf? = nil) throws(StoreError) -> [ViewRow] {
        let position = try asOf.map { p throws(StoreError) in try self.position(of: p) }
        return try run { try storage.rows(of: view, ids: ids, asOf: position) }
    }

    /// Every projection: kind, checkpoint, rows, version.
    public func projections() throws(StoreError) -> [ProjectionInfo] {
        try run { try storage.projections() }
    }

    // MARK: last_seen, the volatile property

    /// Sets a user's `last_seen` (outside the log: not hashed, exported or replayed).
    public func setLastSeen(user: Reference, at: Timestamp? = nil) throws(StoreError) {
        let when = at ?? options.clock()
        try run { try storage.setLastSeen(user: user, at: when) }
    }

    /// Deletes a user's `last_seen`; reading it falls back to `last_login` again.
    public func forgetLastSeen(user: Reference) throws(StoreError) {
        try run { try storage.forgetLastSeen(user: user) }
    }
}
