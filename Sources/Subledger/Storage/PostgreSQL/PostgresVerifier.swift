import PostgresNIO

/// `verify` on PostgreSQL, in one consistent read: the chain recomputed from position 1 over
/// the stored records, positions gapless, stream versions counting up, each row's index columns
/// (stream, version, command id) agreeing with its record, the head; then every view table, its
/// history and every proxy, row by row, against a fresh fold of the log. Stops at the first fault.
struct PostgresVerifier {
    let storage: PostgresStorage

    func verify(progress: ((UInt64, UInt64) -> Void)?) throws -> VerifyReport {
        let s = storage.s
        return try storage.read { session in
            var report = VerifyReport(events: 0, tables: 0, fault: nil)
            func fault(_ position: UInt64?, _ area: String, _ message: String) -> VerifyReport {
                report.fault = VerifyFault(position: position, area: area, message: message)
                return report
            }
            let (head, _) = try PostgresLedgerTransaction.head(session, schema: s, lock: false)
            var fold = ViewFold(proxies: storage.proxies)
            let folded = MemoryViews(proxies: storage.proxies)
            let recorder = VersionRecorder(folded)
            var chain = ChainCheck()
            var expected: UInt64 = 1
            while true {
                var binds = SQLBinds()
                binds.append(Int64(expected))
                let rows = try session.query("""
                    SELECT position, record, stream, version, coalesce(command_id, '') FROM \(s).events
                    WHERE position >= $1 ORDER BY position LIMIT 4096
                    """, binds)
                if rows.isEmpty { break }
                for r in rows {
                    let p = UInt64(try r.int(0))
                    guard p == expected else {
                        return fault(expected, "log", "position \(expected) is missing (the next stored event is at \(p))")
                    }
                    let record = try r.bytes(1)
                    let event: RecordedEvent
                    do { event = try record.withUnsafeBytes { try chain.check($0, at: p) } } catch let f as ChainCheck.Fault {
                        return fault(f.position, f.area, f.message)
                    }
                    guard try r.text(2) == event.stream.description, try r.int(3) == Int64(event.version) else {
                        return fault(p, "stream index", "the row's stream and version columns do not match its event")
                    }
                    guard try r.string(4) == (event.commandID ?? "") else {
                        return fault(p, "command index", "the row's command_id column does not match its event")
                    }
                    folded.noteCreation(of: event)
                    recorder.changing = p
                    try fold.apply(event, to: recorder)
                    report.events = p
                    if p % 65_536 == 0 { progress?(p, head.position) }
                    expected += 1
                }
            }
            guard report.events == head.position else {
                return fault(nil, "head", "the head record says position \(head.position), the log ends at \(report.events)")
            }
            guard head.hash == chain.previous.bytes else { return fault(head.position, "head", "the head record's hash is not the last event's") }
            progress?(head.position, head.position)
            // Every view table, row by row, against the fresh fold.
            for table in BaseTable.allCases where table.holdsRows {
                var want: [(UInt64, CachedRow)] = []
                try folded.forEachCachedRow(table) { want.append(($0, $1)) }
                let stored = try session.query("\(PostgresRows.select(table, s)) ORDER BY position")
                    .map { try PostgresRows.row(table, from: $0) }
                let name = PostgresRows.table(table)
                for (i, (p, row)) in stored.enumerated() {
                    guard i < want.count else { return fault(p, "view \(name)", "stored row is not in a fresh fold of the log") }
                    guard want[i].0 == p else {
                        return p < want[i].0 ? fault(p, "view \(name)", "stored row is not in a fresh fold of the log")
                            : fault(want[i].0, "view \(name)", "a row of a fresh fold is missing")
                    }
                    guard want[i].1 == row else { return fault(p, "view \(name)", "the row differs from a fresh fold of the log") }
                }
                if stored.count < want.count { return fault(want[stored.count].0, "view \(name)", "a row of a fresh fold is missing") }
                // The unique and relation indexes of the LMDB store are the server's indexes of
                // this table here, kept with its rows: they count as the same tables.
                report.tables += BaseTable.allCases.filter { $0.rowTable == table }.count
            }
            // Every version of every row, against the versions the fresh fold made.
            let versions = recorder.versions.take()
            for table in BaseTable.allCases where table.holdsRows {
                let want = versions.filter { $0.table == table }.sorted { ($0.position, $0.changed) < ($1.position, $1.changed) }
                let name = PostgresHistory.table(table)
                let stored = try session.query("""
                    SELECT \(PostgresRows.columns(table, s)), changed, change FROM \(s).\(name) ORDER BY position, changed
                    """)
                for (i, r) in stored.enumerated() {
                    let (p, row) = try PostgresRows.row(table, from: r)
                    let changed = UInt64(try r.int(r.count - 2)), change = try r.text(r.count - 1)
                    guard i < want.count, want[i].position == p, want[i].changed == changed else {
                        let missing = i < want.count && (want[i].position, want[i].changed) < (p, changed)
                        return missing ? fault(want[i].changed, "view \(name)", "a version of the row at \(want[i].position) is missing")
                            : fault(changed, "view \(name)", "a stored version of the row at \(p) is not in a fresh fold of the log")
                    }
                    guard want[i].change.rawValue == change, want[i].row == row else {
                        return fault(changed, "view \(name)", "the version of the row at \(p) differs from a fresh fold of the log")
                    }
                }
                if stored.count < want.count {
                    let first = want[stored.count]
                    return fault(first.changed, "view \(name)", "a version of the row at \(first.position) is missing")
                }
                // Not counted among the tables: they are the snapshots, which LMDB's count leaves
                // out too, so that both backends report the same.
            }
            for (i, proxy) in storage.proxies.enumerated() {
                let packed = folded.packed(.proxy(i))
                var binds = SQLBinds()
                binds.append(proxy.name)
                let stored = try session.query("SELECT sort_key FROM \(s).proxy_rows WHERE proxy = $1 ORDER BY sort_key", binds)
                    .map { try $0.bytes(0) }
                guard stored.count == packed.count, stored.indices.allSatisfy({ stored[$0] == packed.entry($0).key }) else {
                    return fault(nil, "view \(proxy.name)", "its rows differ from a fresh fold of the log")
                }
                report.tables += 1
            }
            return report
        }
    }
}
