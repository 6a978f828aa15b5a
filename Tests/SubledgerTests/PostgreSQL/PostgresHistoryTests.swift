import Foundation
import PostgresNIO
import Testing
@testable import Subledger

/// What only the PostgreSQL backend has: the history tables `--as-of` reads, checked by
/// `verify`; the blue/green rebuild's schema; the upgrade of a ledger made before the history.
@Suite(.enabled(if: Backend.postgresServer != nil)) struct PostgresHistoryTests {
    /// A seeded ledger and a session on its server, for SQL below the library.
    func seeded() throws -> (TempStore, PostgresSession, String) {
        let t = try TempStore(backend: .postgres)
        #expect(try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) }).allSatisfy { $0.isApplied })
        #expect(try t.run(#"{"command":"RenameUser","user":"bob@example.com","full_name":"Robert"}"#)[0].isApplied)
        #expect(try t.run(#"{"command":"DeleteUser","user":"ann@example.com"}"#)[0].isApplied)
        let location = try PostgresLocation(parsing: t.backend.location(in: t.dir))
        return (t, try PostgresSession(location), location.schema)
    }

    func count(_ session: PostgresSession, _ sql: String) throws -> Int64 {
        try session.query(sql).first?.int(0) ?? -1
    }

    @Test func historyHoldsEveryVersionAndVerifyChecksEach() throws {
        let (t, session, s) = try seeded()
        defer { session.close() }
        #expect(try t.store.verify().fault == nil)
        // bob: registered (+), renamed (~); ann: registered (+), deleted (-) with her last columns.
        let users = try session.query("SELECT change, email FROM \(s).users_history ORDER BY changed").map { (try $0.text(0), try $0.text(1)) }
        #expect(users.map(\.0) == ["+", "+", "~", "-"])
        #expect(users.last?.1 == "Ann@Example.com")
        // The delete took ann's subscription and membership with it: each has its `-`.
        #expect(try count(session, "SELECT count(*)::int8 FROM \(s).subscriptions_history WHERE change = '-'") == 1)
        #expect(try count(session, "SELECT count(*)::int8 FROM \(s).memberships_history WHERE change = '-'") == 1)

        // A version altered, then one removed: verify names the table each time.
        try session.execute("UPDATE \(s).users_history SET full_name = 'Mallory' WHERE change = '~'")
        #expect(try t.store.verify().fault?.area == "view users_history")
        try session.execute("UPDATE \(s).users_history SET full_name = 'Robert' WHERE change = '~'")
        #expect(try t.store.verify().fault == nil)
        try session.execute("DELETE FROM \(s).groups_history WHERE change = '~'")
        let fault = try t.store.verify().fault
        #expect(fault?.area == "view groups_history")
        #expect(fault?.message.contains("missing") == true)
        // A rebuild makes the history anew from the log.
        try t.store.rebuild()
        #expect(try t.store.verify().fault == nil)
    }

    @Test func rebuildSwapsNewTablesInAndLeavesNothingBeside() throws {
        let (t, session, s) = try seeded()
        defer { session.close() }
        let before = try IntegrityProperties.allViews(t.store)
        let asOf = try IntegrityProperties.allViews(t.store, asOf: .position(9))
        let oid = try count(session, "SELECT '\(s).users'::regclass::oid::int8")
        try t.store.rebuild()
        #expect(try count(session, "SELECT '\(s).users'::regclass::oid::int8") != oid)
        #expect(try IntegrityProperties.allViews(t.store) == before)
        #expect(try IntegrityProperties.allViews(t.store, asOf: .position(9)) == asOf)
        let ledger = String(s.dropFirst().dropLast())
        var binds = SQLBinds()
        binds.append(ledger + "-rebuild")
        #expect(try session.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", binds).isEmpty)
        // The proxies read as relations again, over the new tables.
        for proxy in Proxy.builtIn {
            #expect(try count(session, "SELECT count(*)::int8 FROM \(s).\(proxy.name)") == Int64(try t.store.rows(of: proxy.name).count))
        }
    }

    @Test func rebuildCatchesUpWithAWriterOnAnotherConnection() throws {
        let (t, session, s) = try seeded()
        defer { session.close() }
        let storage = try #require(t.store.storage as? PostgresStorage)
        let other = try t.backend.open(in: t.dir)
        defer { other.close() }
        let writer = Thread {
            for i in 0..<400 { _ = try? other.execute(line: #"{"command":"CreateGroup","name":"w\#(i)"}"#) }
        }
        writer.start()
        // No tail left for the transaction that holds the head: every event the writer
        // appended during the fold is caught up without it, a transaction at a time.
        var rebuilds = 0
        repeat {
            _ = try storage.rebuild(progress: nil, heldTail: 0)
            rebuilds += 1
        } while !writer.isFinished
        _ = try storage.rebuild(progress: nil, heldTail: 0)
        #expect(rebuilds >= 1)
        #expect(try t.store.verify().fault == nil)
        #expect(try count(session, "SELECT count(*)::int8 FROM \(s).groups") == 401)
        #expect(try count(session, "SELECT count(*)::int8 FROM \(s).groups_history WHERE change = '+'") == 401)
    }

    @Test func aLedgerWithoutHistoryIsUpgradedOnOpen() throws {
        let (t, session, s) = try seeded()
        defer { session.close() }
        let asOf = try IntegrityProperties.allViews(t.store, asOf: .position(9))
        t.store.close()
        // As the first PostgreSQL format left a ledger: no history tables.
        for table in ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] {
            try session.execute("DROP TABLE \(s).\(table)_history")
        }
        try session.execute("UPDATE \(s).ledger SET format = 1")
        let reopened = try t.backend.open(in: t.dir)
        defer { reopened.close() }
        #expect(try count(session, "SELECT format FROM \(s).ledger") == PostgresSchema.format)
        #expect(try IntegrityProperties.allViews(reopened, asOf: .position(9)) == asOf)
        #expect(try reopened.verify().fault == nil)
    }
}
