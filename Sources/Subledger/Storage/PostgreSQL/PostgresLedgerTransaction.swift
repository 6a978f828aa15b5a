import PostgresNIO

/// The ledger as one PostgreSQL transaction sees it, for the command handler (`LedgerWriting`):
/// it holds the ledger's head row (`SELECT … FOR UPDATE`), so writers on any host append one
/// after another onto the head they read, and positions are gapless without a sequence. The
/// events and view changes of the batch stay here until `flush` writes them, in a few statements.
final class PostgresLedgerTransaction: LedgerWriting {
    let session: PostgresSession
    let s: String
    let views: PostgresViews
    private var storedHead: LogHead
    private var storedCounts: LogCounts
    /// This transaction's events and their stored bytes, in order.
    private var appended: [(event: RecordedEvent, bytes: [UInt8])] = []
    private var appendedByCommand: [String: UInt64] = [:]
    private var appendedByStream: [EntityID: [UInt64]] = [:]
    private var newHead: (head: LogHead, counts: LogCounts)?
    private var checkpoints: (through: UInt64, projections: [(name: String, version: Int)])?
    /// The server's answers about command ids and stream versions, asked once.
    private var knownCommands: [String: UInt64?] = [:]
    private var knownVersions: [EntityID: UInt32] = [:]

    /// Begins on an open transaction of `session`, locking the head row.
    init(_ session: PostgresSession, schema: String, proxies: [Proxy]) throws {
        self.session = session
        s = schema
        views = PostgresViews(session: session, schema: schema, proxies: proxies)
        (storedHead, storedCounts) = try Self.head(session, schema: schema, lock: true)
        views.serverHead = storedHead.position
    }

    /// The head and counts as stored; with `lock`, the row is held until the transaction ends.
    static func head(_ session: PostgresSession, schema s: String, lock: Bool) throws -> (LogHead, LogCounts) {
        let sql = "SELECT position, hash, coalesce(\(s).us(newest_at), \(SQLValue.noTime)), counts FROM \(s).ledger"
            + (lock ? " FOR UPDATE" : "")
        guard let r = try session.query(sql).first else { throw StoreError.corrupt("the ledger has no head row") }
        let counts = try r.bytes(3)
        return (LogHead(position: UInt64(try r.int(0)), hash: try r.bytes(1), newestAt: try r.optionalTime(2)),
                try counts.withUnsafeBytes { try LogCounts(decoding: counts.isEmpty ? nil : $0) })
    }

    // MARK: LogReading

    func head() throws -> LogHead { storedHead }
    func counts() throws -> LogCounts { storedCounts }

    func event(at position: UInt64) throws -> RecordedEvent? {
        if position > storedHead.position {
            let i = Int(position - storedHead.position - 1)
            return i < appended.count ? appended[i].event : nil
        }
        var binds = SQLBinds()
        binds.append(Int64(position))
        return try session.query("SELECT record FROM \(s).events WHERE position = $1", binds).first
            .map { try PostgresStorage.decode(try $0.bytes(0), at: position) }
    }

    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        var p = from
        while p <= to, out.count < limit, let e = try event(at: p) {
            out.append(e)
            p += 1
        }
        return out
    }

    func positions(ofStream id: EntityID) throws -> [UInt64] {
        var binds = SQLBinds()
        binds.append(SQLValue.uuid(id))
        let stored = try session.query("SELECT position FROM \(s).events WHERE stream_id = $1 ORDER BY version", binds)
            .map { UInt64(try $0.int(0)) }
        return stored + (appendedByStream[id] ?? [])
    }

    func streamVersion(of id: EntityID) throws -> UInt32 {
        if let mine = appendedByStream[id], let last = mine.last, let e = try event(at: last) { return e.version }
        if let known = knownVersions[id] { return known }
        var binds = SQLBinds()
        binds.append(SQLValue.uuid(id))
        let version = UInt32(try session.query("SELECT coalesce(max(version), 0)::int8 FROM \(s).events WHERE stream_id = $1", binds)
            .first?.int(0) ?? 0)
        knownVersions[id] = version
        return version
    }

    func commandPosition(_ commandID: String) throws -> UInt64? {
        if let p = appendedByCommand[commandID] { return p }
        if let known = knownCommands[commandID] { return known }
        var binds = SQLBinds()
        binds.append(SQLValue.text(commandID))
        let found = try session.query("SELECT position FROM \(s).events WHERE command_id = $1", binds).first.map { UInt64(try $0.int(0)) }
        knownCommands[commandID] = .some(found)
        return found
    }

    /// Keeps the server's answers for `asked` command ids (`found`: those applied, and where).
    func knowCommands(_ asked: Set<String>, found: [String: UInt64]) {
        for commandID in asked { knownCommands[commandID] = .some(found[commandID]) }
    }

    /// Keeps the server's stream versions of `asked` (0 for a stream not in `found`).
    func knowVersions(_ asked: Set<EntityID>, found: [EntityID: UInt32]) {
        for id in asked { knownVersions[id] = found[id] ?? 0 }
    }

    // MARK: LogWriting, LedgerWriting

    func record(_ event: RecordedEvent, bytes: [UInt8]) throws {
        appended.append((event, bytes))
        if let commandID = event.commandID { appendedByCommand[commandID] = event.position }
        appendedByStream[event.stream.id, default: []].append(event.position)
        views.changing = event.position
        views.noteCreation(of: event)
    }

    func setHead(_ head: LogHead, counts: LogCounts) throws { newHead = (head, counts) }

    var snapshotInterval: UInt64? { nil }
    func takeSnapshot(at position: UInt64) throws {}

    func viewsFollowed(through head: UInt64, projections: [(name: String, version: Int)]) throws {
        checkpoints = (head, projections)
    }

    /// Writes what the batch did, in one statement: its events, the views' changes and their
    /// versions, the head, the checkpoints, and a notification for followers (delivered when
    /// the transaction commits). The statement is sent, not waited for: the `COMMIT` that
    /// follows waits for it, and fails with its failure.
    func flush() throws {
        var statements = PostgresStatements()
        if !appended.isEmpty {
            statements.add("""
                INSERT INTO \(s).events (position, stream, stream_id, version, type, at, command_id, record)
                SELECT position, stream, stream_id, version, type, \(s).ts(at), nullif(command_id, ''), record
                FROM unnest($1::int8[], $2::text[], $3::uuid[], $4::int4[], $5::text[], $6::int8[], $7::text[], $8::bytea[])
                  AS t(position, stream, stream_id, version, type, at, command_id, record)
                """) { binds in
                binds.append(appended.map { Int64($0.event.position) })
                binds.append(appended.map { $0.event.stream.description })
                binds.append(appended.map { SQLValue.uuid($0.event.stream.id) })
                binds.append(appended.map { Int32($0.event.version) })
                binds.append(appended.map { $0.event.type.name })
                binds.append(appended.map { $0.event.at.microseconds })
                binds.append(appended.map { $0.event.commandID.map(SQLValue.text) ?? "" })
                binds.append(appended.map { SQLValue.bytes($0.bytes) })
            }
        }
        try views.flush(into: &statements)
        if let (head, counts) = newHead {
            statements.add("UPDATE \(s).ledger SET position = $1, hash = $2, newest_at = \(s).ts($3), counts = $4") { binds in
                binds.append(Int64(head.position))
                binds.append(SQLValue.bytes(head.hash))
                binds.append(SQLValue.time(head.newestAt))
                binds.append(SQLValue.bytes(counts.encoded))
            }
            statements.add("SELECT pg_notify($1, $2)", isQuery: true) { binds in
                binds.append(PostgresStorage.channel(session.location))
                binds.append(String(head.position))
            }
        }
        if let (through, projections) = checkpoints {
            PostgresStorage.setCheckpoints(projections, through: through, schema: s, into: &statements)
        }
        try statements.send(session)
    }
}
