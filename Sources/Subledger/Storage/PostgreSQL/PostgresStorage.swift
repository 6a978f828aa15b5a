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
        do {
            try checkFormat()
        } catch StoreError.noStore where options.create {
            // Made once: a ledger that exists is not altered by each process that opens it
            // (writers use its functions meanwhile).
            try session.transaction {
                // One creator at a time: CREATE … IF NOT EXISTS races with itself.
                try session.execute("SELECT pg_advisory_xact_lock(hashtext('subledger.init'))")
                for statement in PostgresSchema.create(s, proxies: proxies) { try session.execute(statement) }
            }
            try checkFormat()
        }
        try catchUpProjections()
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
    private func withSession<T>(retry: Bool = false, _ body: (PostgresSession) throws -> T) throws -> T {
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

    private func checkFormat() throws {
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

    static func setCheckpoints(_ projections: [(name: String, version: Int)], through: UInt64,
                               _ session: PostgresSession, schema s: String) throws {
        var binds = PostgresBindings()
        binds.append(projections.map(\.name))
        binds.append(projections.map { Int64($0.version) })
        binds.append(projections.map { _ in Int64(through) })
        try session.execute("""
            INSERT INTO \(s).projections (name, version, checkpoint) SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])
            ON CONFLICT (name) DO UPDATE SET version = excluded.version, checkpoint = excluded.checkpoint
            """, binds)
    }

    // MARK: Commands

    func execute(batch: [Result<CommandEnvelope, Rejection>], durable: Bool) throws -> [Outcome] {
        // A command makes at most two ids: its entity's and its event's.
        let fresh = idPool.withLock { pool in
            while pool.count < 2 * batch.count + 8 { pool.append(options.newID()) }
            return pool
        }
        return try write(durable: durable) { txn in
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
        try write(durable: true) { txn in
            var handler = try CommandHandler(txn, proxies: proxies, clock: options.clock, newID: options.newID)
            let event = try handler.append(data, expectedVersion: expectedVersion, at: at, commandID: commandID)
            try handler.finish()
            return event
        }
    }

    /// One write transaction on the head row: `body` runs the handler, then everything it
    /// did is written and committed.
    private func write<T>(durable: Bool, _ body: (PostgresLedgerTransaction) throws -> T) throws -> T {
        try withSession { session in
            try session.transaction {
                if !durable { try session.execute("SET LOCAL synchronous_commit = off") }
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
        try withSession(retry: true) { session in
            var binds = PostgresBindings()
            binds.append(Int64(from))
            binds.append(Int64(clamping: to))
            binds.append(Int64(limit))
            return try session.query("""
                SELECT position, record FROM \(s).events WHERE position BETWEEN $1 AND $2 ORDER BY position LIMIT $3
                """, binds).map { try Self.decode(try $0.bytes(1), at: UInt64(try $0.int(0))) }
        }
    }

    func positions(ofStream id: EntityID) throws -> [UInt64] {
        try withSession(retry: true) { session in
            var binds = PostgresBindings()
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

    // MARK: Views

    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64?) throws -> [ViewRow] {
        let query = ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
        if let position {
            // The views after `position`, folded afresh from the log.
            let views = try foldedViews(through: position)
            return try query.rows(views, expected: 0, proxiesIndexed: false) { _ in nil }
        }
        return try withSession { session in
            try session.transaction(readOnly: true) {
                let views = PostgresViews(session: session, schema: s, proxies: proxies)
                let seen = view == "users" || proxies.first { $0.name == view }?.base == .users ? try lastSeen(session) : [:]
                return try query.rows(views, expected: 0, proxiesIndexed: true) { seen[$0] }
            }
        }
    }

    private func lastSeen(_ session: PostgresSession) throws -> [EntityID: Timestamp] {
        var out: [EntityID: Timestamp] = [:]
        for r in try session.query("SELECT user_id, \(s).us(seen_at) FROM \(s).last_seen") { out[try r.id(0)] = try r.time(1) }
        return out
    }

    /// Every view folded afresh in memory from the first `position` events.
    func foldedViews(through position: UInt64, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> MemoryViews {
        var fold = ViewFold(proxies: proxies)
        let views = MemoryViews(tableCount: fold.tableCount)
        try forEachBatch(to: position) { events in
            for event in events {
                views.noteCreation(of: event)
                try fold.apply(event, to: views)
            }
            if let last = events.last, last.position / 65_536 > (events[0].position - 1) / 65_536 { progress?(last.position, position) }
            return true
        }
        return views
    }

    func projections() throws -> [ProjectionInfo] {
        try withSession { session in
            var states: [String: (version: Int, checkpoint: UInt64)] = [:]
            for r in try session.query("SELECT name, version, checkpoint FROM \(s).projections") {
                states[try r.text(0)] = (Int(try r.int(1)), UInt64(try r.int(2)))
            }
            var out: [ProjectionInfo] = []
            for name in ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] {
                let rows = try session.query("SELECT count(*)::int8 FROM \(s).\(name)").first?.int(0) ?? 0
                out.append(ProjectionInfo(name: name, kind: name == "team_plans" ? .child : .base,
                                          checkpoint: states[BaseViews.name]?.checkpoint ?? 0, rows: Int(rows), version: BaseViews.version))
            }
            for proxy in proxies {
                var binds = PostgresBindings()
                binds.append(proxy.name)
                let rows = try session.query("SELECT count(*)::int8 FROM \(s).proxy_rows WHERE proxy = $1", binds).first?.int(0) ?? 0
                out.append(ProjectionInfo(name: proxy.name, kind: .proxy, checkpoint: states[proxy.name]?.checkpoint ?? 0,
                                          rows: Int(rows), version: proxy.version))
            }
            return out
        }
    }

    func setLastSeen(user: Reference, at when: Timestamp) throws {
        try withSession { session in
            try session.transaction {
                let id = try References(state: PostgresViews(session: session, schema: s, proxies: proxies)).user(user).row.id
                var binds = PostgresBindings()
                binds.append(SQLValue.uuid(id))
                binds.append(when.microseconds)
                try session.execute("""
                    INSERT INTO \(s).last_seen (user_id, seen_at) VALUES ($1, \(s).ts($2))
                    ON CONFLICT (user_id) DO UPDATE SET seen_at = excluded.seen_at
                    """, binds)
            }
        }
    }

    func forgetLastSeen(user: Reference) throws {
        try withSession { session in
            try session.transaction {
                let id = try References(state: PostgresViews(session: session, schema: s, proxies: proxies)).user(user).row.id
                var binds = PostgresBindings()
                binds.append(SQLValue.uuid(id))
                try session.execute("DELETE FROM \(s).last_seen WHERE user_id = $1", binds)
            }
        }
    }

    // MARK: Maintenance

    /// Folds the log afresh, then, holding the head row, folds what was appended meanwhile and
    /// writes every view table anew in the same transaction: readers see the old views or the
    /// new ones, never a mix.
    func rebuild(progress: ((UInt64, UInt64) -> Void)?) throws -> UInt64 {
        let start = try head().position
        let folded = try foldedViews(through: start, progress: progress)
        var fold = ViewFold(proxies: proxies)
        return try withSession { session in
            try session.transaction {
                let (head, _) = try PostgresLedgerTransaction.head(session, schema: s, lock: true)
                var next = start + 1
                while next <= head.position {
                    let batch = try readEvents(session, from: next, to: head.position, limit: 4096)
                    for event in batch {
                        folded.noteCreation(of: event)
                        try fold.apply(event, to: folded)
                    }
                    next = (batch.last?.position ?? head.position) + 1
                }
                try session.execute("TRUNCATE \(s).proxy_rows, \(s).team_plans, \(s).memberships, \(s).subscriptions, "
                                    + "\(s).users, \(s).plans, \(s).groups")
                try writeAll(folded, session)
                try Self.setCheckpoints(ViewFold(proxies: proxies).projections, through: head.position, session, schema: s)
                progress?(head.position, head.position)
                return head.position
            }
        }
    }

    private func readEvents(_ session: PostgresSession, from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        var binds = PostgresBindings()
        binds.append(Int64(from))
        binds.append(Int64(to))
        binds.append(Int64(limit))
        return try session.query("SELECT position, record FROM \(s).events WHERE position BETWEEN $1 AND $2 ORDER BY position LIMIT $3",
                                 binds).map { try Self.decode(try $0.bytes(1), at: UInt64(try $0.int(0))) }
    }

    /// Writes every row and proxy entry of a fold into the (empty) view tables, in chunks.
    private func writeAll(_ folded: MemoryViews, _ session: PostgresSession) throws {
        var plans: [UInt64: EntityID] = [:]
        for table in BaseTable.allCases where table.holdsRows {
            var rows: [(position: UInt64, row: CachedRow?)] = []
            try folded.forEachCachedRow(table) { p, row in
                rows.append((p, row))
                if case .plan(let plan) = row { plans[p] = plan.id }
            }
            for chunk in stride(from: 0, to: rows.count, by: 10_000) {
                try PostgresRows.write(table, Array(rows[chunk..<min(chunk + 10_000, rows.count)]), schema: s,
                                       planID: { plans[$0] }, session)
            }
        }
        for (i, proxy) in proxies.enumerated() {
            let packed = folded.packed(.proxy(i))
            for chunk in stride(from: 0, to: packed.count, by: 10_000) {
                let entries = (chunk..<min(chunk + 10_000, packed.count)).map { packed.entry($0).key }
                var binds = PostgresBindings()
                binds.append(proxy.name)
                binds.append(entries.map(SQLValue.bytes))
                binds.append(entries.map { Int64(Keys.readPosition($0, at: $0.count - 8)) })
                try session.execute("""
                    INSERT INTO \(s).proxy_rows (proxy, sort_key, position) SELECT $1, * FROM unnest($2::bytea[], $3::int8[])
                    """, binds)
            }
        }
    }

    /// Back-fills the proxies the ledger has not seen (new name or version) and folds the log
    /// into the views when they are behind it (after an import, or a new fold version).
    private func catchUpProjections() throws {
        // The checkpoints and the head of one moment: a writer moves both in one commit.
        let (states, head) = try read { session in
            var out: [String: (version: Int, checkpoint: UInt64)] = [:]
            for r in try session.query("SELECT name, version, checkpoint FROM \(s).projections") {
                out[try r.text(0)] = (Int(try r.int(1)), UInt64(try r.int(2)))
            }
            return (out, try PostgresLedgerTransaction.head(session, schema: s, lock: false).0.position)
        }
        let behind = ViewFold(proxies: proxies).projections.contains { p in
            guard let state = states[p.name] else { return true }
            return state.version != p.version || state.checkpoint < head
        }
        guard behind else { return }
        // A proxy the ledger has not seen gets its relation too.
        try withSession { session in
            for statement in PostgresSchema.proxyViews(s, proxies: proxies) { try session.execute(statement) }
        }
        _ = try rebuild(progress: nil)
    }

    func rebuildSnapshots() throws {}

    func verify(progress: ((UInt64, UInt64) -> Void)?) throws -> VerifyReport {
        try PostgresVerifier(storage: self).verify(progress: progress)
    }

    func stats() throws -> StoreStats {
        try withSession { session in
            let (head, counts) = try PostgresLedgerTransaction.head(session, schema: s, lock: false)
            var binds = PostgresBindings()
            binds.append(server.ledger)
            let size = try session.query("""
                SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')
                """, binds).first?.int(0) ?? 0
            return StoreStats(events: Int(head.position), streams: counts.streams, head: head.position, storeBytes: Int(size),
                              mapBytes: 0, mapUsedBytes: 0,
                              typeCounts: EventType.allCases.map { ($0.name, counts.types[Int($0.rawValue) - 1]) },
                              snapshotInterval: 0, snapshotsThrough: 0)
        }
    }

    func backup(to directory: String) throws -> UInt64 {
        throw StoreError.invalidArgument(
            "a PostgreSQL ledger is backed up by the server: pg_dump --schema=\(server.ledger) \(server.database), "
                + "or subledger export for the log alone")
    }

    func contentDigest() throws -> [UInt8] {
        try withSession { session in
            var all: [UInt8] = []
            let statements = [
                "SELECT position::text || ':' || encode(record, 'hex') FROM \(s).events ORDER BY position",
                "SELECT position::text || encode(hash, 'hex') || coalesce(\(s).us(newest_at)::text, '-') || encode(counts, 'hex') FROM \(s).ledger",
            ] + BaseTable.allCases.filter(\.holdsRows).map { t in
                // A row's columns as one record's text form.
                "SELECT ROW(\(PostgresRows.columns(t, s)))::text FROM \(s).\(PostgresRows.table(t)) ORDER BY position"
            } + [
                "SELECT proxy || encode(sort_key, 'hex') || position::text FROM \(s).proxy_rows ORDER BY proxy, sort_key",
                "SELECT user_id::text || \(s).us(seen_at)::text FROM \(s).last_seen ORDER BY user_id",
                "SELECT name || version::text || checkpoint::text FROM \(s).projections ORDER BY name",
            ]
            for statement in statements {
                for r in try session.query(statement) { all += Array(try r.text(0).utf8) + [0x0A] }
                all.append(0xFF)
            }
            return EventCodec.chainHash(previous: [UInt8](), body: all)
        }
    }

    /// For the verifier: a read on this store's connection.
    func read<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try withSession { session in try session.transaction(readOnly: true) { try body(session) } }
    }
}
