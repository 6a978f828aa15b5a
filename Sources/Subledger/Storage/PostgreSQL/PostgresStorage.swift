import Dispatch
import PostgresNIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A ledger on a PostgreSQL server: one schema, shared by every process on every host that
/// names it. Each batch of commands is one transaction that holds the ledger's head row while
/// it decides, appends and folds, so the order is one and the chain is one; an `ok` is
/// reported only after the commit (synchronous commit: it survives a crash of the server).
final class PostgresStorage: LedgerStorage, @unchecked Sendable {
    let server: PostgresLocation
    let options: StoreOptions
    let proxies: [Proxy]
    /// The schema, quoted.
    let s: String
    /// Ids made ahead of the batches that will hand them out, in the order made, so that a
    /// batch learns in one statement that none was ever used (instead of one per new entity).
    /// Kept across batches: the ids handed out are the same, in the same order, as without it.
    private let idPool = Mutex<[EntityID]>([])

    /// The connection of this store, made again after it is lost; the calls of one store are
    /// serialized on it.
    private let connection: Mutex<PostgresSession?>

    init(location: PostgresLocation, options: StoreOptions) throws {
        server = location
        self.options = options
        var seen = Set<String>()
        proxies = (Proxy.builtIn + options.proxies).filter { seen.insert($0.name).inserted }
        s = location.schema
        let session = try PostgresSession(location)
        connection = Mutex(session)
        let format: Int64
        do {
            format = try checkFormat()
        } catch StoreError.noStore where options.create {
            // Made once: a ledger that exists is not altered by each process that opens it
            // (writers use its functions meanwhile).
            try session.transaction {
                // One creator at a time: CREATE … IF NOT EXISTS races with itself.
                try session.execute("SELECT pg_advisory_xact_lock(hashtext('subledger.init'))")
                for statement in PostgresSchema.create(s, proxies: proxies) { try session.execute(statement) }
            }
            format = try checkFormat()
        }
        if format < PostgresSchema.format {
            try upgrade()
        } else {
            try catchUpProjections()
        }
    }

    /// Brings a ledger of format 1 to this one: the history tables, filled by a rebuild.
    private func upgrade() throws {
        try withSession { session in
            try session.transaction {
                try session.execute("SELECT pg_advisory_xact_lock(hashtext('subledger.init'))")
                for statement in PostgresSchema.views(s) { try session.execute(statement) }
            }
        }
        _ = try rebuild(progress: nil)
        try withSession { try $0.execute("UPDATE \(s).ledger SET format = \(PostgresSchema.format) WHERE format < \(PostgresSchema.format)") }
    }

    var location: String { server.description }

    func close() {
        connection.withLock { session in
            session?.close()
            session = nil
        }
    }

    /// Runs `body` with the connection, one call of this store at a time. A lost connection is
    /// dropped, and made again for the next call; a read (`retry`) is tried once more at once.
    func withSession<T>(retry: Bool = false, _ body: (PostgresSession) throws -> T) throws -> T {
        try connection.withLock { session in
            for attempt in 0...(retry ? 1 : 0) {
                let current: PostgresSession
                if let session { current = session } else {
                    current = try PostgresSession(server)
                    session = current
                }
                // A read answers quickly; one that does not is on a dead connection.
                current.answerTimeout = retry ? .seconds(20) : .seconds(330)
                do { return try body(current) } catch let failure as PostgresFailure where failure.isConnectionLost {
                    current.close()
                    session = nil
                    if attempt == (retry ? 1 : 0) { throw failure }
                }
            }
            preconditionFailure("the last attempt returns or throws")
        }
    }

    /// The ledger's format, if this code can read it.
    @discardableResult
    func checkFormat() throws -> Int64 {
        let rows: [PostgresRandomAccessRow]
        do {
            rows = try withSession { try $0.query("SELECT format FROM \(s).ledger") }
        } catch let failure as PostgresFailure where failure.sqlState == "42P01" || failure.sqlState == "3F000" {
            throw StoreError.noStore(path: server.description)
        }
        guard let format = try rows.first?.int(0) else { throw StoreError.corrupt("the ledger has no head row") }
        if format > PostgresSchema.format {
            throw StoreError.newerFormat(found: UInt32(clamping: format), supported: UInt32(PostgresSchema.format))
        }
        return format
    }

    /// The channel writers notify on each commit, per ledger.
    static func channel(_ location: PostgresLocation) -> String { "subledger_\(location.ledger)" }

    static func decode(_ bytes: [UInt8], at position: UInt64) throws -> RecordedEvent {
        do {
            let e = try bytes.withUnsafeBytes { try EventCodec.decode($0) }
            guard e.position == position else { throw StoreError.corrupt("event stored at position \(position) says \(e.position)") }
            return e
        } catch let e as DecodingError {
            throw StoreError.corrupt("event at position \(position): \(e)")
        }
    }

    /// Adds the write of the projections' versions and checkpoints.
    static func setCheckpoints(_ projections: [(name: String, version: Int)], through: UInt64, schema s: String,
                               into statements: inout PostgresStatements) {
        statements.add("""
            INSERT INTO \(s).projections (name, version, checkpoint) SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])
            ON CONFLICT (name) DO UPDATE SET version = excluded.version, checkpoint = excluded.checkpoint
            """) { binds in
            binds.append(projections.map(\.name))
            binds.append(projections.map { Int64($0.version) })
            binds.append(projections.map { _ in Int64(through) })
        }
    }

    // MARK: Commands

    /// A batch's writes go as one statement: 4,096 commands keep it, and the memory the server
    /// plans it in, moderate (the bench workload ran no faster in larger ones).
    var maxBatch: Int { 4096 }

    func execute(batch: [Result<CommandEnvelope, Rejection>], durable: Bool) throws -> [Outcome] {
        // A command makes at most two ids: its entity's and its event's.
        let fresh = idPool.withLock { pool in
            while pool.count < 2 * batch.count + 8 { pool.append(options.newID()) }
            return pool
        }
        return try write(durable: durable, small: batch.count <= Self.smallBatch) { txn in
            try PostgresPrefetch(batch, fresh: fresh).load(into: txn)
            let newID: () -> EntityID = { [self] in
                idPool.withLock { $0.isEmpty ? options.newID() : $0.removeFirst() }
            }
            var handler = try CommandHandler(txn, proxies: proxies, clock: options.clock, newID: newID)
            let outcomes = try handler.execute(batch)
            try handler.finish()
            return outcomes
        }
    }

    func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp?, commandID: String?) throws -> RecordedEvent {
        try write(durable: true, small: true) { txn in
            var handler = try CommandHandler(txn, proxies: proxies, clock: options.clock, newID: options.newID)
            let event = try handler.append(data, expectedVersion: expectedVersion, at: at, commandID: commandID)
            try handler.finish()
            return event
        }
    }

    /// Up to this many commands, a batch runs its prepared statements on their generic plans.
    static let smallBatch = 32

    /// One write transaction on the head row: `body` runs the handler, then everything it
    /// did is written and committed. A `small` batch runs on the prepared statements' generic
    /// plans, made once: planning each run for its parameters was most of a single command's
    /// time on the server. A big one is planned for its arrays at each run (a generic plan,
    /// made for arrays of any size, made an `exec` of 4,096-command batches half as fast, and
    /// the server would switch to it after five runs).
    private func write<T>(durable: Bool, small: Bool, _ body: (PostgresLedgerTransaction) throws -> T) throws -> T {
        try withSession { session in
            try session.transaction {
                if !durable { try session.send("SET LOCAL synchronous_commit = off") }
                try session.send("SET LOCAL plan_cache_mode = " + (small ? "force_generic_plan" : "force_custom_plan"))
                let txn = try PostgresLedgerTransaction(session, schema: s, proxies: proxies)
                let result = try body(txn)
                try txn.flush()
                return result
            }
        }
    }

    // MARK: The log

    func head() throws -> LogHead {
        try withSession(retry: true) { try PostgresLedgerTransaction.head($0, schema: s, lock: false).0 }
    }

    func event(at position: UInt64) throws -> RecordedEvent? {
        try events(from: position, to: position, limit: 1).first
    }

    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        try withSession(retry: true) { try readEvents($0, from: from, to: to, limit: limit) }
    }

    func positions(ofStream id: EntityID) throws -> [UInt64] {
        try withSession(retry: true) { session in
            var binds = SQLBinds()
            binds.append(SQLValue.uuid(id))
            return try session.query("SELECT position FROM \(s).events WHERE stream_id = $1 ORDER BY version", binds)
                .map { UInt64(try $0.int(0)) }
        }
    }

    /// Sleeps on the ledger's notifications (LISTEN, on a connection of its own), with a poll
    /// every second as a fallback. A lost connection, or a server restarting, is waited out:
    /// both connections are made again once the server answers.
    func waitForAppend(after position: UInt64) throws {
        let woken = DispatchSemaphore(value: 0)
        var listener: PostgresSession?
        defer { listener?.close() }
        while true {
            do {
                if try head().position > position { return }
            } catch let failure as PostgresFailure where failure.isConnectionLost {
                listener?.close()
                listener = nil
            }
            if listener == nil, let opened = try? PostgresSession(server) {
                if (try? opened.listen(Self.channel(server), { woken.signal() })) != nil { listener = opened } else { opened.close() }
            }
            _ = woken.wait(timeout: .now() + 1)
        }
    }

    func importLog(from reader: LineReader, progress: ((UInt64) -> Void)?) throws -> UInt64 {
        let imported: UInt64 = try withSession { session in
            try session.transaction {
                let txn = try PostgresLedgerTransaction(session, schema: s, proxies: proxies)
                var appender = try LogAppender(txn)
                let imported = try appender.importLines(from: reader, progress: progress)
                // The views follow once the whole log is in (a rebuild, below).
                try appender.finish()
                try txn.flush()
                return imported
            }
        }
        progress?(imported)
        if imported > 0 { _ = try rebuild(progress: nil) }
        return imported
    }

    /// For the verifier: a read on this store's connection.
    func read<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try withSession { session in try session.transaction(readOnly: true) { try body(session) } }
    }
}
