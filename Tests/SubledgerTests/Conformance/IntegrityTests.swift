import Foundation
import LMDB
import Testing
@testable import Subledger

/// Rebuild, as-of and import, case by case, on every backend.
@Suite struct IntegrityTests {
    func seeded(_ backend: Backend) throws -> TempStore {
        let t = try TempStore(backend: backend)
        let outcomes = try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) })
        #expect(outcomes.allSatisfy { $0.isApplied })
        return t
    }

    @Test(arguments: Backend.all) func asOfTakesPositionsAndTimesAndRefusesTheRest(_ backend: Backend) throws {
        let t = try seeded(backend)
        #expect(try t.run(#"{"command":"RenameUser","user":"bob@example.com","full_name":"Robert","at":"2026-02-01T00:00:00Z"}"#)[0].isApplied)
        #expect(try t.run(#"{"command":"DeleteUser","user":"ann@example.com","at":"2026-03-01T00:00:00+01:00"}"#)[0].isApplied)
        let names = { (asOf: AsOf?) in try t.store.rows(of: "users", asOf: asOf).map { $0["full_name"]!.text } }
        #expect(try names(nil) == ["Robert"])
        #expect(try names(.position(1)) == ["Ann"])
        #expect(try names(.position(8)) == ["Ann", ""])
        #expect(try names(.position(9)) == ["Ann", "Robert"])
        // Times: the setup ran at the store's clock, 2026-01-01T00:00:00Z.
        #expect(try names(.time(Timestamp(rfc3339: "2025-12-31T23:59:59.999999Z")!)) == [])
        #expect(try names(.time(Timestamp(rfc3339: "2026-01-01T00:00:00Z")!)) == ["Ann", ""])
        #expect(try names(.time(Timestamp(rfc3339: "2026-02-01T00:00:00Z")!)) == ["Ann", "Robert"])
        #expect(try names(.time(Timestamp(rfc3339: "2026-02-28T22:59:59Z")!)) == ["Ann", "Robert"])
        #expect(try names(.time(Timestamp(rfc3339: "2026-03-01T00:00:00+01:00")!)) == ["Robert"])
        // Cascades are part of history too: ann's subscription and membership come back as of 9.
        #expect(try t.store.rows(of: "subscriptions").isEmpty)
        #expect(try t.store.rows(of: "subscriptions", asOf: .position(9)).count == 1)
        #expect(try t.store.rows(of: "groups", asOf: .position(9))[0]["member_count"] == .int(1))
        for bad in ["0", "11", "99999999999999999999", "yesterday", "2026-13-01T00:00:00Z", ""] {
            #expect(throws: StoreError.self, "--as-of \(bad)") {
                _ = try t.store.rows(of: "users", asOf: try AsOf(parsing: bad))
            }
        }
    }

    @Test(arguments: Backend.all) func rebuildKeepsLastSeenAndFollowsFilters(_ backend: Backend) throws {
        let t = try seeded(backend)
        try t.store.setLastSeen(user: Reference("bob@example.com"), at: Timestamp(rfc3339: "2026-04-01T00:00:00Z"))
        let before = try IntegrityProperties.allViews(t.store)
        try t.store.rebuild(views: ["users"])
        #expect(try IntegrityProperties.allViews(t.store) == before)
        #expect(try t.column("users", "last_seen") == ["", "2026-04-01T00:00:00Z"])
        #expect(throws: StoreError.unknownView("nope")) { try t.store.rebuild(views: ["nope"]) }
        #expect(try t.column("subscriptions", "id", ViewFilter(user: Reference("ann@example.com"))) == ["00000000-0000-4000-8000-0000000000c1"])
    }

    @Test(arguments: Backend.all) func rebuildWhileAnotherThreadAppendsEndsWithExactViews(_ backend: Backend) throws {
        let t = try seeded(backend)
        for i in 0..<300 {
            _ = try t.run(#"{"command":"RegisterUser","email":"u\#(i)@example.com"}"#)
        }
        let store = t.store
        let writer = Thread {
            for i in 0..<300 {
                _ = try? store.execute(line: #"{"command":"CreateGroup","name":"g\#(i)"}"#)
            }
        }
        writer.start()
        for _ in 0..<5 { try t.store.rebuild() }
        while !writer.isFinished { usleep(10_000) }
        try t.store.rebuild()
        let report = try t.store.verify()
        #expect(report.fault == nil, "\(report)")
        #expect(try t.store.rows(of: "groups").count == 301)
    }

    /// Cascades folded after a snapshot (a user, a plan, a group deleted with their
    /// subscriptions and memberships) find their rows among those the relation lists now or
    /// removed since: as of every position, every view equals a replay of the log up to there.
    @Test(arguments: Backend.all) func asOfCascadesEqualReplayingThePrefix(_ backend: Backend) throws {
        var lines = RulesTests.setup
        for i in 0..<12 {
            lines.append(#"{"command":"RegisterUser","email":"c\#(i)@example.com","full_name":"C \#(i)"}"#)
            lines.append(#"{"command":"Subscribe","user":"c\#(i)@example.com","plan":"\#(i % 3 == 0 ? "team" : "pro")"}"#)
            lines.append(#"{"command":"JoinGroup","user":"c\#(i)@example.com","group":"admins"}"#)
            if i % 4 == 3 { lines.append(#"{"command":"DeleteUser","user":"c\#(i - 2)@example.com"}"#) }
        }
        lines.append(#"{"command":"ChangePlan","user":"c0@example.com","plan":"team","to":"pro"}"#)
        lines.append(#"{"command":"DeletePlan","plan":"team"}"#)
        lines.append(#"{"command":"DeleteGroup","group":"admins"}"#)
        lines.append(#"{"command":"DeleteUser","user":"c11@example.com"}"#)
        let t = try TempStore(backend: backend, snapshotInterval: 4)
        let results = try t.store.execute(batch: lines.map { CommandDecoder.decode(line: $0) })
        #expect(results.suffix(4).allSatisfy { $0.isApplied })
        let exported = try IntegrityProperties.exportLines(t.store)
        for p in UInt64(1)...UInt64(exported.count) {
            let prefix = try TempStore(backend: backend)
            try IntegrityProperties.importLines(Array(exported.prefix(Int(p))), into: prefix.store)
            #expect(try IntegrityProperties.allViews(t.store, asOf: .position(p)) == IntegrityProperties.allViews(prefix.store), "as of \(p)")
            // Filters look rows up among those the relation lists now or removed since.
            for (view, filter) in [("users", ViewFilter(plan: Reference("pro"))), ("users", ViewFilter(group: Reference("admins"))),
                                   ("plans", ViewFilter(user: Reference("c1@example.com"))), ("groups", ViewFilter(user: Reference("c2@example.com"))),
                                   ("subscriptions", ViewFilter(user: Reference("c0@example.com")))] {
                let then = try? t.store.rows(of: view, filter: filter, asOf: .position(p))
                #expect(then == (try? prefix.store.rows(of: view, filter: filter)), "\(view) \(filter) as of \(p)")
            }
        }
        #expect(try t.store.verify().fault == nil)
        // On LMDB the entries the cascades removed from the relations are linked; one lost is a fault.
        guard backend == .lmdb else { return }
        let relations = Relation.allCases.map { UInt8(ViewTable.index($0.index).slot) }
        let listed = try LMDBStorageTests.storedLinks(t.store).filter { relations.contains($0.key[0]) }
        #expect(listed.count >= 8)
        try t.store.env.write { txn in _ = try txn.delete(listed[0].db, listed[0].key) }
        #expect(try t.store.verify().fault?.area == "snapshot links")
    }

    /// `--as-of` filtered by an email finds the user who had it then: one still there (the
    /// index as it is now points at its row), and one deleted since whose email a later user
    /// took (the index now points at a later row, so the snapshot's own rows answer). Checked
    /// at every position against the unfiltered view as of then, filtered by hand.
    @Test(arguments: Backend.all) func asOfFilterByEmailFindsTheUserOfThatMoment(_ backend: Backend) throws {
        var lines = RulesTests.setup
        lines.append(#"{"command":"Subscribe","user":"bob@example.com","plan":"pro"}"#)
        for i in 0..<6 { lines.append(#"{"command":"RecordLogin","user":"bob@example.com","at":"2026-01-0\#(i + 1)T00:00:00Z"}"#) }
        lines.append(#"{"command":"DeleteUser","user":"bob@example.com"}"#)
        lines.append(#"{"command":"RegisterUser","email":"bob@example.com","full_name":"Bob Two"}"#)
        lines.append(#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#)
        for i in 0..<5 { lines.append(#"{"command":"RecordLogin","user":"ann@example.com","at":"2026-02-0\#(i + 1)T00:00:00Z"}"#) }
        let t = try TempStore(backend: backend, snapshotInterval: 4)
        _ = try t.store.execute(batch: lines.map { CommandDecoder.decode(line: $0) })
        let head = try t.store.head().position
        #expect(head > 20)
        for p in UInt64(1)...head {
            for email in ["ann@example.com", "bob@example.com"] {
                let users = try t.store.rows(of: "users", asOf: .position(p))
                guard let user = users.first(where: { $0["email"]?.text.trimmingCharacters(in: .whitespaces).lowercased() == email }),
                      case .id(let id)? = user["id"] else {
                    #expect(throws: StoreError.self) { _ = try t.store.rows(of: "subscriptions", filter: ViewFilter(user: Reference(email)), asOf: .position(p)) }
                    continue
                }
                let expected = try t.store.rows(of: "subscriptions", asOf: .position(p)).filter { $0["user"] == .id(id) }
                #expect(try t.store.rows(of: "subscriptions", filter: ViewFilter(user: Reference(email)), asOf: .position(p)) == expected,
                        "\(email) as of \(p)")
            }
        }
    }

    func importing(_ lines: [String], _ backend: Backend) throws -> (Store, Result<UInt64, StoreError>, TempStore) {
        let t = try TempStore(backend: backend)
        let result = Result { () throws(StoreError) in
            do { try IntegrityProperties.importLines(lines, into: t.store) } catch let e as StoreError { throw e } catch { fatalError("\(error)") }
            return try t.store.head().position
        }
        return (t.store, result, t)
    }

    @Test(arguments: Backend.all) func importRefusesABadLineAndLeavesTheStoreEmpty(_ backend: Backend) throws {
        let source = try seeded(backend)
        let lines = try IntegrityProperties.exportLines(source.store)
        #expect(try importing(lines, backend).1.get() == 8)
        func rejects(_ broken: [String], line: Int, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let (store, result, temp) = try importing(broken, backend)
            // The store closes with its temporary directory.
            defer { withExtendedLifetime(temp) {} }
            guard case .failure(.importFault(let at, let message)) = result else {
                Issue.record("accepted: \(result)", sourceLocation: sourceLocation)
                return
            }
            #expect(at == line, sourceLocation: sourceLocation)
            #expect(message.contains(words), "\(message)", sourceLocation: sourceLocation)
            #expect(try store.head().position == 0, sourceLocation: sourceLocation)
            #expect(try store.rows(of: "users").isEmpty, sourceLocation: sourceLocation)
        }
        func edit(_ i: Int, _ from: String, _ to: String) -> [String] {
            var copy = lines
            copy[i] = copy[i].replacingOccurrences(of: from, with: to)
            return copy
        }
        try rejects(Array(lines[0..<3] + lines[4...]), line: 4, "position 5, expected 4")
        try rejects(edit(5, "\"admins\"", "\"admin\""), line: 6, "does not match")
        try rejects(edit(2, "\"schema_version\":1", "\"schema_version\":7"), line: 3, "no schema version 7")
        try rejects(edit(1, "{\"position\"", "{\"extra\":1,\"position\""), line: 2, "unknown field")
        try rejects(lines[0..<2] + ["{not json"], line: 3, "malformed JSON")
        try rejects(lines + [lines[7]], line: 9, "position 8, expected 9")
        let target = try TempStore(backend: backend)
        try IntegrityProperties.importLines(lines, into: target.store)
        #expect(throws: StoreError.self) { try IntegrityProperties.importLines(lines, into: target.store) }
        #expect(try target.store.head().position == 8)
    }
}
