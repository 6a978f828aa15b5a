import PostgresNIO

extension PostgresStorage {
    /// Each projection's version and checkpoint, by name.
    func projectionStates(_ session: PostgresSession) throws -> [String: (version: Int, checkpoint: UInt64)] {
        var out: [String: (version: Int, checkpoint: UInt64)] = [:]
        for r in try session.query("SELECT name, version, checkpoint FROM \(s).projections") {
            out[try r.text(0)] = (Int(try r.int(1)), UInt64(try r.int(2)))
        }
        return out
    }

    /// Up to `limit` events from `from` through `to`, read on `session`.
    func readEvents(_ session: PostgresSession, from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        var binds = SQLBinds()
        binds.append(Int64(from))
        binds.append(Int64(clamping: to))
        binds.append(Int64(limit))
        return try session.query("SELECT position, record FROM \(s).events WHERE position BETWEEN $1 AND $2 ORDER BY position LIMIT $3",
                                 binds).map { try Self.decode(try $0.bytes(1), at: UInt64(try $0.int(0))) }
    }

    /// Writes every row and proxy entry of a fold into the (empty) view tables of schema `s`, in chunks.
    func writeAll(_ folded: MemoryViews, schema s: String, _ session: PostgresSession) throws {
        var plans: [UInt64: EntityID] = [:]
        for table in BaseTable.allCases where table.holdsRows {
            var rows: [(position: UInt64, row: CachedRow?)] = []
            try folded.forEachCachedRow(table) { p, row in
                rows.append((p, row))
                if case .plan(let plan) = row { plans[p] = plan.id }
            }
            for chunk in stride(from: 0, to: rows.count, by: 10_000) {
                var statements = PostgresStatements()
                try PostgresRows.write(table, Array(rows[chunk..<min(chunk + 10_000, rows.count)]), schema: s,
                                       planID: { plans[$0] }, into: &statements)
                try statements.execute(session)
            }
        }
        for (i, proxy) in proxies.enumerated() {
            let packed = folded.packed(.proxy(i))
            for chunk in stride(from: 0, to: packed.count, by: 10_000) {
                let entries = (chunk..<min(chunk + 10_000, packed.count)).map { packed.entry($0).key }
                var binds = SQLBinds()
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
    func catchUpProjections() throws {
        // The checkpoints and the head of one moment: a writer moves both in one commit.
        let (states, head) = try read { session in
            (try projectionStates(session), try PostgresLedgerTransaction.head(session, schema: s, lock: false).0.position)
        }
        let behind = ViewFold(proxies: proxies).projections.contains { p in
            guard let state = states[p.name] else { return true }
            return state.version != p.version || state.checkpoint < head
        }
        guard behind else { return }
        _ = try rebuild(progress: nil)
    }

    func rebuildSnapshots() throws {}

    func verify(progress: ((UInt64, UInt64) -> Void)?) throws -> VerifyReport {
        try PostgresVerifier(storage: self).verify(progress: progress)
    }

    func stats() throws -> StoreStats {
        try withSession { session in
            let (head, counts) = try PostgresLedgerTransaction.head(session, schema: s, lock: false)
            var binds = SQLBinds()
            binds.append(server.ledger)
            let size = try session.query("""
                SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')
                """, binds).first?.int(0) ?? 0
            return StoreStats(events: Int(head.position), streams: counts.streams, head: head.position, storeBytes: Int(size),
                              mapBytes: 0, mapUsedBytes: 0,
                              typeCounts: EventType.allCases.map { ($0.name, counts.types[Int($0.rawValue) - 1]) },
                              snapshotInterval: 1, snapshotsThrough: head.position)
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
            } + BaseTable.allCases.filter(\.holdsRows).map { t in
                "SELECT ROW(changed, change, \(PostgresRows.columns(t, s)))::text FROM \(s).\(PostgresHistory.table(t)) ORDER BY position, changed"
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
}
