import Foundation
import LMDB
import Testing
@testable import Subledger

/// Rebuild, as-of, verify and import, case by case.
@Suite struct IntegrityTests {
    func seeded() throws -> TempStore {
        let t = try TempStore()
        let outcomes = try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) })
        #expect(outcomes.allSatisfy { $0.isApplied })
        return t
    }

    @Test func asOfTakesPositionsAndTimesAndRefusesTheRest() throws {
        let t = try seeded()
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

    @Test func rebuildKeepsLastSeenAndFollowsFilters() throws {
        let t = try seeded()
        try t.store.setLastSeen(user: Reference("bob@example.com"), at: Timestamp(rfc3339: "2026-04-01T00:00:00Z"))
        let before = try IntegrityProperties.allViews(t.store)
        try t.store.rebuild(views: ["users"])
        #expect(try IntegrityProperties.allViews(t.store) == before)
        #expect(try t.column("users", "last_seen") == ["", "2026-04-01T00:00:00Z"])
        #expect(throws: StoreError.unknownView("nope")) { try t.store.rebuild(views: ["nope"]) }
        #expect(try t.column("subscriptions", "id", ViewFilter(user: Reference("ann@example.com"))) == ["00000000-0000-4000-8000-0000000000c1"])
    }

    @Test func rebuildWhileAnotherThreadAppendsEndsWithExactViews() throws {
        let t = try seeded()
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

    /// Tampers with the store below the API, then expects verify to name the fault.
    func tampered(_ change: (Store, WriteTransaction) throws -> Void) throws -> VerifyFault? {
        let t = try seeded()
        try t.store.env.write { txn in try change(t.store, txn) }
        return try t.store.verify().fault
    }

    @Test func verifyFindsEachKindOfFault() throws {
        let clean = try seeded()
        #expect(try clean.store.verify() == VerifyReport(events: 8, tables: 16, fault: nil))
        let row = try tampered { s, txn in
            let tables = try s.viewTables(txn)
            var bytes = try txn.getBytes(tables[BaseTable.users.rawValue], Keys.position(1))!
            bytes[bytes.count - 1] ^= 1
            try txn.put(tables[BaseTable.users.rawValue], Keys.position(1), bytes)
        }
        #expect(row?.area == "view users")
        let extra = try tampered { s, txn in try txn.put(try s.viewTables(txn)[BaseTable.groupsByName.rawValue], [0, 0x41], Keys.position(6)) }
        #expect(extra?.area == "view groups.name")
        let stream = try tampered { s, txn in _ = try txn.delete(s.log.streams, EntityID("00000000-0000-4000-8000-000000000002")!.raw) }
        #expect(stream == VerifyFault(position: 2, area: "stream index", message: "stream user-00000000-0000-4000-8000-000000000002 does not list this event"))
        let gap = try tampered { s, txn in _ = try txn.delete(s.log.events, Keys.position(4)) }
        #expect(gap?.position == 4 && gap?.area == "log")
        let head = try tampered { s, txn in
            var h = try s.log.head(txn)
            h.position = 9
            try s.log.setHead(h, txn)
        }
        #expect(head?.area == "head")
        let truncated = try tampered { s, txn in
            let bytes = try txn.getBytes(s.log.events, Keys.position(3))!
            try txn.put(s.log.events, Keys.position(3), Array(bytes.prefix(10)))
        }
        #expect(truncated?.position == 3)
    }

    /// The seeded store with a snapshot every 3 events: 2 snapshots (at 3 and 6), then 2 events.
    func snapshotted() throws -> TempStore {
        let t = try TempStore(snapshotInterval: 3)
        #expect(try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) }).allSatisfy { $0.isApplied })
        return t
    }

    @Test func snapshotsAreTakenAsTheLogGrowsAndVerified() throws {
        let t = try snapshotted()
        let state = try t.store.env.read { txn in try t.store.log.snapshotState(txn) }
        #expect(state == SnapshotState(interval: 3, version: SnapshotKeys.version, checkpoint: 6))
        #expect(try t.store.verify().fault == nil)
        // Each stored row version belongs to snapshot 3 or 6; snapshot 6 holds only what changed
        // after 3; the rows changed by events 7 and 8 wait for snapshot 9.
        let versions = try t.store.env.read { txn in try txn.scan(t.store.log.snapshots).map { SnapshotKeys.snapshot(of: $0.key) } }
        #expect(Set(versions) == [3, 6] && versions.count >= 6)
        let pending = try t.store.env.read { txn in try txn.entries(t.store.log.pendingSnapshot) }
        #expect(pending > 0)
        // As of every position, through the snapshots, the views equal a fresh fold's.
        for p in UInt64(1)...8 {
            let prefix = try TempStore()
            try IntegrityProperties.importLines(Array(try IntegrityProperties.exportLines(t.store).prefix(Int(p))), into: prefix.store)
            #expect(try IntegrityProperties.allViews(t.store, asOf: .position(p)) == IntegrityProperties.allViews(prefix.store), "as of \(p)")
        }
        // A changed byte, a lost entry, an entry of a snapshot never taken: each a fault at its snapshot.
        func tamper(_ change: (Store, WriteTransaction, [(key: [UInt8], value: [UInt8])]) throws -> Void) throws -> VerifyFault? {
            let t = try snapshotted()
            try t.store.env.write { txn in
                let entries = try txn.scan(t.store.log.snapshots).map { (Array($0.key), Array($0.value)) }
                try change(t.store, txn, entries)
            }
            return try t.store.verify().fault
        }
        let changed = try tamper { s, txn, entries in
            let last = entries.last!
            try txn.put(s.log.snapshots, last.key, last.value + [0])
        }
        #expect(changed?.area == "snapshot" && changed?.position == 6)
        let lost = try tamper { s, txn, entries in _ = try txn.delete(s.log.snapshots, entries.first!.key) }
        #expect(lost?.area == "snapshot" && lost?.position == 3)
        let stray = try tamper { s, txn, entries in
            try txn.put(s.log.snapshots, SnapshotKeys.key(.users, position: 1, at: 9), [0])
        }
        #expect(stray?.area == "snapshot")
        let forgotten = try tamper { s, txn, _ in try txn.clear(s.log.pendingSnapshot) }
        #expect(forgotten?.area == "snapshot" && forgotten?.message.contains("wait for the next snapshot") == true)
        // A rebuild of the snapshots gives the same bytes.
        let before = try t.store.env.read { txn in try txn.scan(t.store.log.snapshots).map { Array($0.key) + Array($0.value) } }
        try t.store.rebuildSnapshots()
        #expect(try t.store.env.read { txn in try txn.scan(t.store.log.snapshots).map { Array($0.key) + Array($0.value) } } == before)
    }

    /// `--as-of` reading a snapshot's rows in ranges on two cores gives the rows of one core,
    /// for every view at every position (the window's changes land inside ranges, between
    /// them and after them), and a limit stops it early (its thread too); a second walk of
    /// the same table takes the ranges again.
    @Test func readAheadGivesTheRowsOfOneCore() throws {
        var lines = RulesTests.setup
        for i in 0..<40 {
            lines.append(#"{"command":"RegisterUser","email":"r\#(i)@example.com","full_name":"R \#(i)"}"#)
            lines.append(#"{"command":"Subscribe","user":"r\#(i)@example.com","plan":"\#(i % 2 == 0 ? "pro" : "free")"}"#)
            if i % 3 == 0 { lines.append(#"{"command":"Cancel","user":"r\#(i)@example.com","plan":"\#(i % 2 == 0 ? "pro" : "free")"}"#) }
            // A deletion cascades through an index derived from the rows read ahead: that walk
            // takes the batches first, the view's own walk then takes them again.
            if i % 7 == 6 { lines.append(#"{"command":"DeleteUser","user":"r\#(i - 3)@example.com"}"#) }
        }
        let ahead = try TempStore(snapshotInterval: 4, readAheadMinimum: 1)
        let single = try TempStore(snapshotInterval: 4)
        for t in [ahead, single] { _ = try t.store.execute(batch: lines.map { CommandDecoder.decode(line: $0) }) }
        let head = try ahead.store.head().position
        let singleHead = try single.store.head().position
        #expect(head > 100 && head == singleHead)
        for p in UInt64(1)...head {
            #expect(try IntegrityProperties.allViews(ahead.store, asOf: .position(p)) == IntegrityProperties.allViews(single.store, asOf: .position(p)),
                    "as of \(p)")
            for view in ["users", "subscriptions"] {
                let all = try ahead.store.rows(of: view, asOf: .position(p))
                for limit in [2, all.count / 2] {
                    #expect(try ahead.store.rows(of: view, limit: limit, asOf: .position(p)) == Array(all.prefix(limit)), "\(view) as of \(p)")
                }
            }
        }
    }

    /// Cascades folded after a snapshot (a user, a plan, a group deleted with their
    /// subscriptions and memberships) find their rows among those the next snapshot lists as
    /// deleted, or among the rows waiting for it: as of every position, every view equals a
    /// replay of the log up to there.
    @Test func asOfCascadesEqualReplayingThePrefix() throws {
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
        let t = try TempStore(snapshotInterval: 4)
        let results = try t.store.execute(batch: lines.map { CommandDecoder.decode(line: $0) })
        #expect(results.suffix(4).allSatisfy { $0.isApplied })
        let exported = try IntegrityProperties.exportLines(t.store)
        for p in UInt64(1)...UInt64(exported.count) {
            let prefix = try TempStore()
            try IntegrityProperties.importLines(Array(exported.prefix(Int(p))), into: prefix.store)
            #expect(try IntegrityProperties.allViews(t.store, asOf: .position(p)) == IntegrityProperties.allViews(prefix.store), "as of \(p)")
            // Filters look rows up through indexes derived from the snapshot's rows.
            for (view, filter) in [("users", ViewFilter(plan: Reference("pro"))), ("users", ViewFilter(group: Reference("admins"))),
                                   ("plans", ViewFilter(user: Reference("c1@example.com"))), ("groups", ViewFilter(user: Reference("c2@example.com"))),
                                   ("subscriptions", ViewFilter(user: Reference("c0@example.com")))] {
                let then = try? t.store.rows(of: view, filter: filter, asOf: .position(p))
                #expect(then == (try? prefix.store.rows(of: view, filter: filter)), "\(view) \(filter) as of \(p)")
            }
        }
        #expect(try t.store.verify().fault == nil)
        // The deletions are listed by snapshot; one lost is a fault at its snapshot.
        let listed = try t.store.env.read { txn in try txn.scan(t.store.log.snapshots).filter { $0.key[0] & 0x80 != 0 }.map { Array($0.key) } }
        #expect(listed.count >= 8)
        try t.store.env.write { txn in _ = try txn.delete(t.store.log.snapshots, listed[0]) }
        #expect(try t.store.verify().fault?.area == "snapshot")
    }

    /// `--as-of` filtered by an email finds the user who had it then: one still there (the
    /// index as it is now points at its row), and one deleted since whose email a later user
    /// took (the index now points at a later row, so the snapshot's own rows answer). Checked
    /// at every position against the unfiltered view as of then, filtered by hand.
    @Test func asOfFilterByEmailFindsTheUserOfThatMoment() throws {
        var lines = RulesTests.setup
        lines.append(#"{"command":"Subscribe","user":"bob@example.com","plan":"pro"}"#)
        for i in 0..<6 { lines.append(#"{"command":"RecordLogin","user":"bob@example.com","at":"2026-01-0\#(i + 1)T00:00:00Z"}"#) }
        lines.append(#"{"command":"DeleteUser","user":"bob@example.com"}"#)
        lines.append(#"{"command":"RegisterUser","email":"bob@example.com","full_name":"Bob Two"}"#)
        lines.append(#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#)
        for i in 0..<5 { lines.append(#"{"command":"RecordLogin","user":"ann@example.com","at":"2026-02-0\#(i + 1)T00:00:00Z"}"#) }
        let t = try TempStore(snapshotInterval: 4)
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

    @Test func aChangedIntervalTakesTheSnapshotsAgain() throws {
        let t = try snapshotted()
        let path = t.store.path
        t.store.close()
        let reopened = try Store.open(path: path, options: StoreOptions(snapshotInterval: 4))
        #expect(try reopened.env.read { txn in try reopened.log.snapshotState(txn) }?.checkpoint == 8)
        #expect(try reopened.verify().fault == nil)
        #expect(throws: StoreError.self) { _ = try Store.open(path: path, options: StoreOptions(snapshotInterval: 0)) }
    }

    /// Snapshots of an older layout (version 1 listed no deletions) are taken again on open.
    @Test func snapshotsOfAnOlderLayoutAreTakenAgain() throws {
        let t = try snapshotted()
        let path = t.store.path
        try t.store.env.write { txn in
            try t.store.log.setSnapshotState(SnapshotState(interval: 3, version: BaseViews.version, checkpoint: 6), txn)
            try txn.clear(t.store.log.snapshots)
        }
        t.store.close()
        let reopened = try Store.open(path: path)
        #expect(try reopened.env.read { txn in try reopened.log.snapshotState(txn) } == SnapshotState(interval: 3, version: SnapshotKeys.version, checkpoint: 6))
        #expect(try reopened.env.read { txn in try txn.entries(reopened.log.snapshots) } > 0)
        #expect(try reopened.verify().fault == nil)
    }

    func importing(_ lines: [String]) throws -> (Store, Result<UInt64, StoreError>, TempStore) {
        let t = try TempStore()
        let result = Result { () throws(StoreError) in
            do { try IntegrityProperties.importLines(lines, into: t.store) } catch let e as StoreError { throw e } catch { fatalError("\(error)") }
            return try t.store.head().position
        }
        return (t.store, result, t)
    }

    @Test func importRefusesABadLineAndLeavesTheStoreEmpty() throws {
        let source = try seeded()
        let lines = try IntegrityProperties.exportLines(source.store)
        #expect(try importing(lines).1.get() == 8)
        func rejects(_ broken: [String], line: Int, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let (store, result, temp) = try importing(broken)
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
        let target = try TempStore()
        try IntegrityProperties.importLines(lines, into: target.store)
        #expect(throws: StoreError.self) { try IntegrityProperties.importLines(lines, into: target.store) }
        #expect(try target.store.head().position == 8)
    }
}
