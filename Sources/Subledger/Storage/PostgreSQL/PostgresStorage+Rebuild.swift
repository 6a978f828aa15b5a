import PostgresNIO

/// `rebuild` on PostgreSQL, blue/green: the views and their history are made anew in a schema
/// beside the ledger's (`NAME-rebuild`) from a fold of the log in memory, while writers go on;
/// then caught up with what they appended, and at last, holding the head row for the few
/// events appended since, moved into the ledger's schema in place of the old tables. Readers
/// see the old views or the new ones, never a mix; writers wait only for that last step.
extension PostgresStorage {
    /// The schema a rebuild fills, quoted. A ledger's name has no `-`: no ledger is called so.
    var rebuildSchema: String { PostgresSchema.quotedIdentifier(server.ledger + "-rebuild") }

    func rebuild(progress: ((UInt64, UInt64) -> Void)?) throws -> UInt64 {
        try rebuild(progress: progress, heldTail: 4096)
    }

    /// `rebuild`, catching up without the head until no more than `heldTail` events are left
    /// for the transaction that holds it.
    func rebuild(progress: ((UInt64, UInt64) -> Void)?, heldTail: UInt64) throws -> UInt64 {
        let green = rebuildSchema
        // One rebuild of a ledger at a time, on any host: the lock is the connection's, so a
        // rebuild that dies lets go of it.
        func rebuildLock(_ function: String) throws {
            try withSession { session in
                var binds = SQLBinds()
                binds.append(server.ledger)
                try session.execute("SELECT \(function)(hashtext('subledger.rebuild.' || $1))", binds)
            }
        }
        try rebuildLock("pg_advisory_lock")
        defer { try? rebuildLock("pg_advisory_unlock") }
        try withSession { session in
            try session.transaction {
                try session.execute("DROP SCHEMA IF EXISTS \(green) CASCADE")
                for statement in PostgresSchema.functions(green) + PostgresSchema.views(green) { try session.execute(statement) }
            }
        }
        do {
            // The bulk, in memory, its versions written as it goes.
            let start = try head().position
            let folded = try foldedViews(through: start, progress: progress) { [self] versions in
                try withSession { try versions.write(schema: green, $0) }
            }
            try withSession { session in try session.transaction { try writeAll(folded, schema: green, session) } }
            // What writers appended meanwhile, a batch a transaction, until little is left.
            var done = start
            while true {
                let head = try head().position
                if head - done <= heldTail { break }
                done = try withSession { session in
                    try session.transaction { try catchUp(green, from: done, to: min(head, done + 65_536), session) }
                }
                progress?(done, head)
            }
            // The rest, and the swap, holding the head.
            let head = try withSession { session in
                try session.transaction {
                    let (head, _) = try PostgresLedgerTransaction.head(session, schema: s, lock: true)
                    _ = try catchUp(green, from: done, to: head.position, session)
                    try session.execute("DROP TABLE IF EXISTS "
                                        + PostgresSchema.viewTables.map { "\(s).\($0)" }.joined(separator: ", ") + " CASCADE")
                    for table in PostgresSchema.viewTables { try session.execute("ALTER TABLE \(green).\(table) SET SCHEMA \(s)") }
                    for statement in PostgresSchema.proxyViews(s, proxies: proxies) { try session.execute(statement) }
                    var checkpoints = PostgresStatements()
                    Self.setCheckpoints(ViewFold(proxies: proxies).projections, through: head.position, schema: s, into: &checkpoints)
                    try checkpoints.execute(session)
                    return head.position
                }
            }
            progress?(head, head)
            try? withSession { try $0.execute("DROP SCHEMA IF EXISTS \(green) CASCADE") }
            return head
        } catch {
            try? withSession { try $0.execute("DROP SCHEMA IF EXISTS \(green) CASCADE") }
            throw error
        }
    }

    /// Folds the events after `from` through `to` into the views of schema `green`, as a
    /// writer folds them into the ledger's, and returns the last position folded.
    private func catchUp(_ green: String, from: UInt64, to: UInt64, _ session: PostgresSession) throws -> UInt64 {
        guard to > from else { return from }
        let views = PostgresViews(session: session, schema: green, log: s, proxies: proxies)
        views.serverHead = from
        var fold = ViewFold(proxies: proxies)
        var next = from + 1
        while next <= to {
            let batch = try readEvents(session, from: next, to: to, limit: 4096)
            try batch.checkGapless(from: next, through: to)
            for event in batch {
                views.changing = event.position
                views.noteCreation(of: event)
                try fold.apply(event, to: views)
            }
            next += UInt64(batch.count)
        }
        var statements = PostgresStatements()
        try views.flush(into: &statements)
        try statements.execute(session)
        return next - 1
    }
}
