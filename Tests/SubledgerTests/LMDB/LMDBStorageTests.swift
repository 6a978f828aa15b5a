import Foundation
import LMDB
import PropertyBased
import Testing
@testable import Subledger

/// What the LMDB backend keeps below the storage boundary: verify finds each kind of damage
/// to its tables, and its snapshots are taken, read in ranges and taken again as they should.
@Suite struct LMDBStorageTests {
    func seeded() throws -> TempStore {
        let t = try TempStore(backend: .lmdb)
        let outcomes = try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) })
        #expect(outcomes.allSatisfy { $0.isApplied })
        return t
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
            let users = try s.viewTables(txn)[BaseTable.users.rawValue]
            var bytes = try users.getBytes(Keys.position(1), txn)!
            bytes[bytes.count - 1] ^= 1
            try users.put(Keys.position(1), bytes, txn)
        }
        #expect(row?.area == "view users")
        let extra = try tampered { s, txn in try txn.put(try s.viewTables(txn)[BaseTable.groupsByName.rawValue].main, [0, 0x41], Keys.position(6)) }
        #expect(extra?.area == "view groups.name")
        let stream = try tampered { s, txn in
            for db in [s.log.streams.main, s.log.streams.delta] { _ = try txn.delete(db, EntityID("00000000-0000-4000-8000-000000000002")!.raw) }
        }
        #expect(stream == VerifyFault(position: 2, area: "stream index", message: "stream user-00000000-0000-4000-8000-000000000002 does not list this event"))
        let gap = try tampered { s, txn in _ = try txn.delete(s.log.events, Keys.position(4)) }
        #expect(gap?.position == 4 && gap?.area == "log")
        let head = try tampered { s, txn in
            var h = try s.log.head(txn)
            h.position = 9
            try s.log.setHead(h, txn)
        }
        #expect(head?.area == "head")
        // A head damaged to name a huge position sizes nothing: the fault is found as quickly.
        let huge = try tampered { s, txn in
            var h = try s.log.head(txn)
            h.position = 1 << 50
            try s.log.setHead(h, txn)
        }
        #expect(huge?.area == "head")
        let truncated = try tampered { s, txn in
            let bytes = try txn.getBytes(s.log.events, Keys.position(3))!
            try txn.put(s.log.events, Keys.position(3), Array(bytes.prefix(10)))
        }
        #expect(truncated?.position == 3)
    }

    /// A table whose record in LMDB's catalog has other flags (a damaged catalog, or a file
    /// another program made) stops the open with one line that says so, in the store's words.
    @Test func aTableWithOtherFlagsIsACorruptStoreOnOpen() throws {
        let t = try seeded()
        let path = t.store.path
        try t.store.env.write { txn in
            try txn.drop(try txn.openDatabase("g2.groups", create: false))
            _ = try txn.openDatabase("g2.groups", flags: .dupSort, create: true)
        }
        t.store.close()
        let error = #expect(throws: StoreError.self) { _ = try Store.open(path: path) }
        #expect(error?.description == "corrupt store: a table in the file has other flags than subledger gives it: the file is damaged, or is not a subledger store")
    }

    /// A log that ends below its head is damaged. Each fold that reads up to a position says so in
    /// one line, where a loop waiting for the missing events used to spin forever: the views'
    /// catch-up on open, as-of, rebuild, and the snapshots taken afresh.
    @Test func aLogEndingBelowItsHeadIsCorruptNotAHang() throws {
        func isCorrupt(_ error: StoreError?, at position: UInt64) -> Bool {
            guard let error, case .corrupt = error else { return false }
            return error.description.hasPrefix("corrupt store: the log is missing position \(position) ")
        }
        // Views behind the log, and the log's last three events gone: open catches up from 6.
        let behind = try seeded()
        let path = behind.store.path
        try behind.store.env.write { txn in
            try behind.store.log.setProjectionState(BaseViews.name, version: BaseViews.version, checkpoint: 5, txn)
            for p: UInt64 in 6...8 { _ = try txn.delete(behind.store.log.events, Keys.position(p)) }
        }
        behind.store.close()
        #expect(isCorrupt(#expect(throws: StoreError.self) { _ = try Store.open(path: path) }, at: 6))
        // A gap inside what it reads is found as well, at the gap.
        let gapped = try seeded()
        let gappedPath = gapped.store.path
        try gapped.store.env.write { txn in
            try gapped.store.log.setProjectionState(BaseViews.name, version: BaseViews.version, checkpoint: 5, txn)
            _ = try txn.delete(gapped.store.log.events, Keys.position(7))
        }
        gapped.store.close()
        #expect(isCorrupt(#expect(throws: StoreError.self) { _ = try Store.open(path: gappedPath) }, at: 7))

        // As of the head, with no snapshot to start from, folds the whole log.
        let asOf = try seeded()
        try asOf.store.env.write { txn in _ = try txn.delete(asOf.store.log.events, Keys.position(8)) }
        #expect(isCorrupt(#expect(throws: StoreError.self) { _ = try asOf.store.rows(of: "users", asOf: .position(8)) }, at: 8))

        // Rebuild folds the whole log: a gap in it stops the rebuild rather than hiding in the views.
        let gap = try seeded()
        try gap.store.env.write { txn in _ = try txn.delete(gap.store.log.events, Keys.position(4)) }
        #expect(isCorrupt(#expect(throws: StoreError.self) { _ = try gap.store.rebuild() }, at: 4))
        #expect(try gap.store.verify().fault?.position == 4)

        // Snapshots of another interval are taken afresh from the whole log on open.
        let snapshots = try snapshotted()
        let snapshotsPath = snapshots.store.path
        try snapshots.store.env.write { txn in _ = try txn.delete(snapshots.store.log.events, Keys.position(8)) }
        snapshots.store.close()
        #expect(isCorrupt(#expect(throws: StoreError.self) {
            _ = try Store.open(path: snapshotsPath, options: StoreOptions(snapshotInterval: 4))
        }, at: 8))
    }

    /// A merge in parts (`Deltas.merge` with a limit, one transaction each): each part moves the
    /// delta's first changes into the table and removes exactly those, and between parts every
    /// table and the stream index read as before.
    @Test func aMergeInPartsMovesEachChangeOnceAndReadsTheSameBetweenParts() throws {
        let t = try TempStore(deltaMergeFloor: 1 << 30)  // nothing merges by itself
        var script = [#"{"command":"CreatePlan","name":"p"}"#, #"{"command":"CreateGroup","name":"g"}"#]
        for u in 0..<20 {
            script += [#"{"command":"RegisterUser","email":"u\#(u)@example.com"}"#,
                       #"{"command":"Subscribe","user":"u\#(u)@example.com","plan":"p"}"#,
                       #"{"command":"JoinGroup","user":"u\#(u)@example.com","group":"g"}"#]
        }
        script += (0..<20).map { #"{"command":"RecordLogin","user":"u\#($0)@example.com"}"# }
        script += [#"{"command":"LeaveGroup","user":"u3@example.com","group":"g"}"#, #"{"command":"DeleteUser","user":"u5@example.com"}"#]
        #expect(try t.store.execute(batch: script.map { CommandDecoder.decode(line: $0) }).allSatisfy(\.isApplied))
        let store = t.store
        func entries(_ sequence: some OrderedEntries) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            while let (key, value) = try sequence.nextEntry() { out.append(Array(key) + [0xff] + Array(value)) }
            return out
        }
        func contents() throws -> [[[UInt8]]] {
            try store.env.read { txn in
                try store.viewTables(txn).map { try entries($0.scan(txn)) } + [entries(store.log.streams.scan(txn))]
            }
        }
        func pending() throws -> [Int] {
            try store.env.read { txn in try (store.viewTables(txn).map(\.delta) + [store.log.streams.delta]).map { try txn.entries($0) } }
        }
        let before = try contents()
        var left = try pending()
        #expect(left.filter { $0 > 5 }.count >= 3, "several deltas need more than one part: \(left)")
        while left.contains(where: { $0 > 0 }) {
            try store.env.write { txn in
                for table in try store.viewTables(txn) { _ = try table.merge(limit: 5, txn) }
                _ = try store.log.streams.merge(limit: 5, txn)
            }
            let now = try pending()
            #expect(now == left.map { max(0, $0 - 5) }, "each part moves 5 changes of each delta")
            #expect(try contents() == before)
            left = now
        }
    }

    /// A merge leaves a table's main database holding exactly what a dictionary given the same
    /// puts and removals holds: puts go through one cursor in key order with removals between
    /// them (`MergeTarget`), in parts of any size, over a table of many leaves that split and
    /// merge as values grow, shrink and go.
    @Test func aMergeLeavesTheTableItsChangesDescribe() async {
        let changes = Gen.int(in: 0...(1 << 40)).array(of: 1...3_000)
        // The second number picks the part's size and the share of removals, in tenths.
        await propertyCheck(count: 25, input: changes, Gen.int(in: 0...43_999)) { changes, config in
            failOnThrow {
                let limit = 1 + config % 4_000, removals = config / 4_000
                let t = try TempStore(deltaMergeFloor: 1 << 30)
                let env = t.store.env
                let table = try env.read { try t.store.viewTables($0)[BaseTable.users.rawValue] }
                func key(_ n: Int) -> [UInt8] { Keys.position(UInt64(n)) }
                func value(_ n: Int) -> [UInt8] { Array(repeating: UInt8(truncatingIfNeeded: n), count: 8 + n % 120) }
                var model: [[UInt8]: [UInt8]] = [:]
                try env.write { txn in
                    try txn.clear(table.main)
                    for n in stride(from: 0, to: 4_000, by: 2) {
                        model[key(n)] = value(n)
                        try txn.put(table.main, key(n), value(n))
                    }
                    for change in changes {
                        let k = key(change % 4_001)
                        if change % 10 < removals {
                            model[k] = nil
                            try table.delete(k, txn)
                        } else {
                            model[k] = value(change >> 12)
                            try table.put(k, value(change >> 12), txn)
                        }
                    }
                }
                while try !env.write({ try table.merge(limit: limit, $0) }) {}
                let stored = try env.read { txn in
                    #expect(try txn.entries(table.delta) == 0)
                    return try txn.scan(table.main, from: nil, to: nil, reverse: false).map { (Array($0.key), Array($0.value)) }
                }
                #expect(stored.map(\.0) == model.keys.sorted { $0.lexicographicallyPrecedes($1) })
                #expect(stored.allSatisfy { model[$0.0] == $0.1 })
            }
        }
    }

    /// Verify compares a snapshot with a fresh fold's through `SnapshotDigest`: the digest of a
    /// set of entries does not depend on their order, and changing one byte of one entry,
    /// adding a zero byte to it or moving a byte from its key to its value changes it.
    @Test func aSnapshotDigestSeesAnyChangeOfOneEntry() async {
        let entries = Gen.int(in: 0...255).map { UInt8($0) }.array(of: 0...40).array(of: 1...30)
        await propertyCheck(count: 200, input: entries, Gen.int(in: 0...(1 << 30))) { entries, pick in
            // Each entry split into a key and a value at its middle, or one byte later at `shifted`.
            func digest(_ entries: [[UInt8]], shifted: Int? = nil) -> SnapshotDigest {
                var d = SnapshotDigest()
                for (i, e) in entries.enumerated() {
                    let split = e.count / 2 + (i == shifted ? 1 : 0)
                    d.add(Array(e[..<split]), Array(e[split...]))
                }
                return d
            }
            let original = digest(entries)
            let shuffled = entries.indices.sorted { ($0 * 7_919 + pick) % 1_009 < ($1 * 7_919 + pick) % 1_009 }.map { entries[$0] }
            #expect(digest(shuffled) == original)
            let i = pick % entries.count
            var changed = entries
            if changed[i].isEmpty {
                changed[i] = [0]
            } else {
                changed[i][pick % changed[i].count] ^= UInt8(1 + pick % 255)
            }
            #expect(digest(changed) != original)
            var longer = entries
            longer[i].append(0)
            #expect(digest(longer) != original)
            if entries[i].count >= 2 { #expect(digest(entries, shifted: i) != original) }
        }
    }

    /// The changes of every view table wait in deltas (`ViewDatabase`) until merged. A
    /// store that never merges and one that merges whenever it may hold the same views, byte for
    /// byte once deltas are read over their tables, and so does a rebuild; verify reads through
    /// the deltas and finds damage in them.
    @Test func deltasReadAsTheirTablesAndMergesChangeNothing() throws {
        // 60 users on 4 plans and in 3 groups; then cancels, plan changes, logins, a user and a
        // group leave.
        var script = (0..<4).map { #"{"command":"CreatePlan","name":"p\#($0)","price_cents":\#($0 * 500)}"# }
            + (0..<3).map { #"{"command":"CreateGroup","name":"g\#($0)"}"# }
        for u in 0..<60 {
            script += [#"{"command":"RegisterUser","email":"u\#(u)@example.com"}"#,
                       #"{"command":"Subscribe","user":"u\#(u)@example.com","plan":"p\#(u % 4)"}"#,
                       #"{"command":"JoinGroup","user":"u\#(u)@example.com","group":"g\#(u % 3)"}"#]
        }
        for u in stride(from: 0, to: 60, by: 3) {
            script.append(#"{"command":"Cancel","user":"u\#(u)@example.com","plan":"p\#(u % 4)"}"#)
            script.append(#"{"command":"ChangePlan","user":"u\#(u + 1)@example.com","plan":"p\#((u + 1) % 4)","to":"p\#((u + 2) % 4)"}"#)
            script.append(#"{"command":"LeaveGroup","user":"u\#(u + 2)@example.com","group":"g\#((u + 2) % 3)"}"#)
        }
        script += (0..<60).map { #"{"command":"RecordLogin","user":"u\#($0)@example.com"}"# }
        script += [#"{"command":"DeleteUser","user":"u7@example.com"}"#, #"{"command":"DeleteGroup","group":"g1"}"#]
        let lines = script.map { CommandDecoder.decode(line: $0) }
        func filled(deltaMergeFloor: Int) throws -> TempStore {
            let t = try TempStore(deltaMergeFloor: deltaMergeFloor)
            for start in stride(from: 0, to: lines.count, by: 25) {
                #expect(try t.store.execute(batch: Array(lines[start..<min(start + 25, lines.count)])).allSatisfy(\.isApplied))
            }
            return t
        }
        let waiting = try filled(deltaMergeFloor: 1 << 30), merging = try filled(deltaMergeFloor: 2)
        func pending(_ store: Store) throws -> Int {
            try store.env.read { txn in try store.viewTables(txn).map(\.delta).reduce(0) { $0 + (try txn.entries($1)) } }
        }
        func pendingPositions(_ store: Store) throws -> Int { try store.env.read { txn in try txn.entries(store.log.streams.delta) } }
        let held = try pending(waiting.store), merged = try pending(merging.store)
        #expect(held > 200 && merged < held, "\(held) changes wait in deltas, \(merged) with merges")
        let positions = try pendingPositions(waiting.store), mergedPositions = try pendingPositions(merging.store)
        #expect(positions == lines.count && mergedPositions < positions, "\(positions) positions wait, \(mergedPositions) with merges")
        // Each stream reads the same through the two (`--stream`), and its version counts both.
        for user in try waiting.store.rows(of: "users") {
            guard case .id(let id)? = user["id"] else { continue }
            let stream = StreamID(.user, id)
            #expect(try waiting.store.events(stream: stream) == merging.store.events(stream: stream))
            #expect(try waiting.store.events(stream: stream).count > 1)
        }
        let u0 = try waiting.store.rows(of: "users")[0]
        guard case .id(let u0id)? = u0["id"] else { Issue.record("no id"); return }
        let version = try waiting.store.events(stream: StreamID(.user, u0id)).count
        #expect(throws: StoreError.wrongExpectedVersion(stream: StreamID(.user, u0id), expected: .exact(UInt32(version - 1)), actual: UInt32(version))) {
            _ = try waiting.store.append(.userLoggedIn(user: u0id), expectedVersion: .exact(UInt32(version - 1)))
        }
        #expect(try waiting.store.contentDigest() == merging.store.contentDigest())
        #expect(try IntegrityProperties.allViews(waiting.store) == IntegrityProperties.allViews(merging.store))
        #expect(try waiting.store.projections().map(\.rows) == merging.store.projections().map(\.rows))
        #expect(try waiting.store.verify().fault == nil)
        // A rebuild writes each table whole, into its main database.
        let views = try IntegrityProperties.allViews(waiting.store)
        try waiting.store.rebuild()
        let afterRebuild = try pending(waiting.store)
        #expect(afterRebuild == 0)
        #expect(try IntegrityProperties.allViews(waiting.store) == views)

        // Damage in a delta: a change that is neither a put nor a removal, a removal of what the
        // fold holds, an entry the fold does not hold.
        func damaged(_ change: (ViewDatabase, WriteTransaction) throws -> Void) throws -> VerifyFault? {
            let t = try filled(deltaMergeFloor: 1 << 30)
            try t.store.env.write { txn in try change(try t.store.viewTables(txn)[BaseTable.subscriptionsByUser.rawValue], txn) }
            return try t.store.verify().fault
        }
        func firstKey(_ table: ViewDatabase, _ txn: WriteTransaction) throws -> [UInt8] {
            Array(try table.scan(txn).nextEntry()!.key)
        }
        let tag = try damaged { table, txn in try txn.put(table.delta, try firstKey(table, txn), [7]) }
        #expect(tag?.area == "view subscriptions.user" && tag?.message.contains("neither a put nor a removal") == true)
        let removed = try damaged { table, txn in try table.delete(try firstKey(table, txn), txn) }
        #expect(removed?.area == "view subscriptions.user" && removed?.message.contains("is missing") == true)
        let added = try damaged { table, txn in try table.put([0xFF] + [UInt8](repeating: 0, count: 39), [1], txn) }
        #expect(added?.area == "view subscriptions.user" && added?.message.contains("not in a fresh fold") == true)
    }

    /// A store of an older format (format 1 had no deltas, format 2 none for rows and names)
    /// opens and is marked format 3; a newer one is refused.
    @Test func olderFormatsAreUpgradedAndANewerFormatRefused() throws {
        let t = try seeded()
        let path = t.store.path
        func setFormat(_ version: UInt32) throws {
            let store = try Store.open(path: path)
            try store.env.write { txn in try txn.put(store.log.meta, LogTables.formatKey, withUnsafeBytes(of: version.bigEndian) { Array($0) }) }
            store.close()
        }
        func format() throws -> UInt32 {
            let store = try Store.open(path: path)
            defer { store.close() }
            return try store.env.read { txn in try txn.get(store.log.meta, LogTables.formatKey)!.loadUnaligned(as: UInt32.self).bigEndian }
        }
        t.store.close()
        for older: UInt32 in [1, 2] {
            try setFormat(older)
            #expect(try format() == 3)
        }
        try setFormat(4)
        #expect(throws: StoreError.newerFormat(found: 4, supported: 3)) { _ = try Store.open(path: path) }
    }

    /// Each proxy takes named databases of its own (a table and a delta in each generation):
    /// a store declaring many of them opens, follows them all and verifies.
    @Test func manyProxiesOpenAndFollow() throws {
        let proxies = (0..<60).map { i in Proxy.subscriptions("active_\(i)") { sub, _ in sub.isActive } }
        let t = try TempStore(backend: .lmdb, proxies: proxies)
        #expect(try t.store.execute(batch: (RulesTests.setup + [#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#])
            .map { CommandDecoder.decode(line: $0) }).allSatisfy { $0.isApplied })
        #expect(try t.store.rows(of: "active_59").count == 2)  // ann on pro, bob on team
        #expect(try t.store.verify().fault == nil)
    }

    /// Rebuild and verify size their tables by the stored counts of the log: counts damaged to
    /// claim 2^50 of everything reserve no more than the log holds, and both still work.
    @Test func damagedCountsSizeNothing() throws {
        let t = try seeded()
        try t.store.env.write { txn in
            var counts = try t.store.log.counts(txn)
            counts.streams = 1 << 50
            counts.types = counts.types.map { _ in 1 << 50 }
            try t.store.log.setCounts(counts, txn)
        }
        #expect(try t.store.verify() == VerifyReport(events: 8, tables: 16, fault: nil))
        #expect(try t.store.rebuild() == 8)
        #expect(try t.store.verify().fault == nil)
        #expect(LogCounts().clamped(to: 5).types.allSatisfy { $0 == 0 })
        var some = LogCounts()
        some.streams = 9
        some.types[0] = -1
        #expect(some.clamped(to: 5).streams == 5 && some.clamped(to: 5).types[0] == 0)
    }

    /// Verify reads the stream and command indexes in their own order (not one look-up per
    /// event): an entry missing, pointing at the wrong event or added is each found, at its event.
    @Test func verifyFindsEachFaultOfTheLogIndexes() throws {
        func tampered(_ change: (Store, WriteTransaction) throws -> Void) throws -> VerifyFault? {
            let t = try seeded()
            for (i, email) in ["cy@example.com", "di@example.com"].enumerated() {
                #expect(try t.store.execute(line: #"{"command":"RegisterUser","email":"\#(email)","command_id":"c-\#(i + 1)"}"#).isApplied)
            }
            // The nil UUID is an id like any other: it marks nothing in the check.
            #expect(try t.store.execute(line: #"{"command":"RegisterUser","email":"nil@example.com","id":"00000000-0000-0000-0000-000000000000"}"#).isApplied)
            #expect(try t.store.verify().fault == nil)
            try t.store.env.write { txn in try change(t.store, txn) }
            return try t.store.verify().fault
        }
        let missing = try tampered { s, txn in _ = try txn.delete(s.log.commands, Array("c-2".utf8)) }
        #expect(missing == VerifyFault(position: 10, area: "command index", message: #"command_id "c-2" does not point at this event"#))
        let moved = try tampered { s, txn in try txn.put(s.log.commands, Array("c-2".utf8), Keys.position(3)) }
        #expect(moved?.area == "command index" && moved?.position == 3)
        let twice = try tampered { s, txn in try txn.put(s.log.commands, Array("c-0".utf8), Keys.position(9)) }
        #expect(twice?.area == "command index" && twice?.position == 9)
        let beyond = try tampered { s, txn in try txn.put(s.log.commands, Array("c-9".utf8), Keys.position(1_000)) }
        #expect(beyond?.area == "command index" && beyond?.position == 1_000)
        let ann = EntityID("00000000-0000-4000-8000-000000000001")!
        let wrongStream = try tampered { s, txn in
            for db in [s.log.streams.main, s.log.streams.delta] {
                _ = try txn.delete(db, EntityID("00000000-0000-4000-8000-000000000002")!.raw, value: Keys.position(2))
            }
            try txn.put(s.log.streams.main, ann.raw, Keys.position(2))
        }
        #expect(wrongStream?.area == "stream index" && wrongStream?.position == 2)
        let stray = try tampered { s, txn in try txn.put(s.log.streams.delta, ann.raw, Keys.position(12)) }
        #expect(stray?.area == "stream index" && stray?.position == 12)
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
        #expect(state.map(Self.withoutRuns) == SnapshotState(interval: 3, version: SnapshotKeys.version, checkpoint: 6, proxies: SnapshotState.signature(of: Proxy.builtIn)))
        #expect(state?.runs.count == 1 && state?.runs.first?.through == 6, "one batch, one run")
        #expect(try t.store.verify().fault == nil)
        // Each stored row version belongs to snapshot 3 or 6; snapshot 6 holds only what changed
        // after 3; the rows changed by events 7 and 8 wait for snapshot 9.
        let versions = try Self.snapshotEntries(t.store).map { $0.key.withUnsafeBytes { SnapshotKeys.snapshot(of: $0) } }
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
        func tamper(extra: [String] = [], _ change: (Store, WriteTransaction, [SnapshotEntry]) throws -> Void) throws -> VerifyFault? {
            let t = try snapshotted()
            for line in extra { #expect(try t.store.execute(line: line).isApplied, "\(line)") }
            let entries = try Self.snapshotEntries(t.store)
            try t.store.env.write { txn in try change(t.store, txn, entries) }
            return try t.store.verify().fault
        }
        let changed = try tamper { s, txn, entries in
            let last = entries.last!
            try txn.put(last.db, last.key, last.value + [0])
        }
        #expect(changed?.area == "snapshot" && changed?.position == 6)
        // The links of the entries relations and proxies removed are checked against the fresh
        // fold: one lost, one more (a row the relation never listed) are faults.
        let removing = [#"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"free"}"#,
                        #"{"command":"LeaveGroup","user":"ann@example.com","group":"admins"}"#]
        for table in [ViewTable.index(.subscriptionsByUser), .index(.subscriptionsByPlan), .index(.membershipsByUser),
                      .index(.membershipsByGroup), .proxy(1), .proxy(2)] {
            var deleted: [UInt8] = []
            let lostLink = try tamper(extra: removing) { s, txn, _ in
                let link = try Self.storedLinks(s, txn).first { $0.key[0] == UInt8(table.slot) }!
                deleted = link.key
                _ = try txn.delete(link.db, deleted)
            }
            #expect(lostLink?.area == "snapshot links", "\(table)")
            #expect(lostLink?.message == "link \(hex(deleted)) of a fresh fold of the log is missing", "\(table)")
        }
        let strayKey = SnapshotLinks.link(.index(.membershipsByGroup), key: Keys.id(EntityID(high: 1, low: 2), position: 3), value: [])
        let strayLink = try tamper(extra: removing) { s, txn, _ in try txn.put(Self.storedLinks(s, txn)[0].db, strayKey, []) }
        #expect(strayLink?.area == "snapshot links")
        #expect(strayLink?.message == "link \(hex(strayKey)) is not in a fresh fold of the log")
        let lost = try tamper { s, txn, entries in _ = try txn.delete(entries.first!.db, entries.first!.key) }
        #expect(lost?.area == "snapshot" && lost?.position == 3)
        let stray = try tamper { s, txn, entries in
            try txn.put(entries[0].db, SnapshotKeys.key(.users, position: 1, at: 9), [0])
        }
        #expect(stray?.area == "snapshot")
        let forgotten = try tamper { s, txn, _ in try txn.clear(s.log.pendingSnapshot) }
        #expect(forgotten?.area == "snapshot" && forgotten?.message.contains("wait for the next snapshot") == true)
        // A rebuild of the snapshots gives the same bytes.
        let before = try Self.snapshotEntries(t.store).map { $0.key + $0.value }
        try t.store.rebuildSnapshots()
        #expect(try Self.snapshotEntries(t.store).map { $0.key + $0.value } == before)
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
            for db in t.store.log.snapshotSlots { try txn.clear(db) }
        }
        t.store.close()
        let reopened = try Store.open(path: path)
        #expect(try reopened.env.read { txn in try reopened.log.snapshotState(txn) }.map(Self.withoutRuns)
                == SnapshotState(interval: 3, version: SnapshotKeys.version, checkpoint: 6, proxies: SnapshotState.signature(of: Proxy.builtIn)))
        #expect(try Self.snapshotEntries(reopened).count > 0)
        #expect(try reopened.verify().fault == nil)
    }

    /// Snapshots keep the proxies of the process that took them: a store opened with another
    /// list takes them again; a writer finding another list marks them stale, and as-of folds
    /// from the log until the next open takes them again.
    @Test func snapshotsFollowTheProxiesOfTheStore() throws {
        let t = try snapshotted()
        let path = t.store.path
        let expected = try IntegrityProperties.allViews(t.store, asOf: .position(7))
        t.store.close()
        let team = Proxy.subscriptions("team_subscriptions", order: { SortKey().descending($0.created).ascending($0.id) }) { s, lookup in
            try s.isActive && (lookup.plan(s.plan)?.isTeam ?? false)
        }
        let custom = try Store.open(path: path, options: StoreOptions(proxies: [team]))
        let signature = SnapshotState.signature(of: Proxy.builtIn + [team])
        #expect(try custom.env.read { txn in try custom.log.snapshotState(txn) }?.proxies == signature)
        #expect(try custom.verify().fault == nil)
        // The new proxy as of every position equals its rows derived from the base view then.
        for p in UInt64(1)...8 {
            let teams = Set(try custom.rows(of: "team_plans", asOf: .position(p)).map { $0["id"] })
            let derived = try custom.rows(of: "subscriptions", asOf: .position(p)).filter { $0["cancelled"] == .null && teams.contains($0["plan"]) }
            let shown = try custom.rows(of: "team_subscriptions", asOf: .position(p))
            #expect(shown.map { $0["id"] } == derived.sorted { $0["created"]!.text > $1["created"]!.text || ($0["created"] == $1["created"] && $0["id"]!.text < $1["id"]!.text) }.map { $0["id"] }, "as of \(p)")
        }
        #expect(try IntegrityProperties.allViews(custom, asOf: .position(7)).filter { $0.key != "team_subscriptions" } == expected)
        // Another list recorded (as another process would): the next write marks them stale.
        try custom.env.write { txn in
            var state = try custom.log.snapshotState(txn)!
            state.proxies = 1
            try custom.log.setSnapshotState(state, txn)
        }
        #expect(try custom.execute(line: #"{"command":"RegisterUser","email":"late@example.com"}"#).isApplied)
        let stale = try custom.env.read { txn in try custom.log.snapshotState(txn) }
        #expect(stale?.version == LogTables.staleSnapshots && stale?.checkpoint == 0)
        #expect(try IntegrityProperties.allViews(custom, asOf: .position(7)).filter { $0.key != "team_subscriptions" } == expected)
        custom.close()
        let reopened = try Store.open(path: path, options: StoreOptions(proxies: [team]))
        #expect(try reopened.env.read { txn in try reopened.log.snapshotState(txn) }.map(Self.withoutRuns)
                == SnapshotState(interval: 3, version: SnapshotKeys.version, checkpoint: 9, proxies: signature))
        #expect(try reopened.verify().fault == nil)
    }

    /// One stored snapshot entry and the database of the run holding it.
    struct SnapshotEntry {
        let db: Database
        let key: [UInt8]
        let value: [UInt8]
    }

    /// The entries of every run the snapshot record lists, in key order.
    static func snapshotEntries(_ store: Store) throws -> [SnapshotEntry] {
        try store.env.read { txn in
            let runs = try store.log.snapshotState(txn)?.runs ?? []
            return try runs.flatMap { run in
                let db = store.log.snapshotSlots[run.slot]
                return try txn.scan(db).map { SnapshotEntry(db: db, key: Array($0.key), value: Array($0.value)) }
            }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        }
    }

    /// The links of every run the snapshot record lists, in key order, with their databases.
    static func storedLinks(_ store: Store, _ txn: some ReadableTransaction) throws -> [SnapshotEntry] {
        let runs = try store.log.snapshotState(txn)?.linkRuns ?? []
        return try runs.flatMap { run in
            let db = store.log.linkSlots[run.slot]
            return try txn.scan(db, from: nil, to: nil, reverse: false).map { SnapshotEntry(db: db, key: Array($0.key), value: Array($0.value)) }
        }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    static func storedLinks(_ store: Store) throws -> [SnapshotEntry] {
        try store.env.read { txn in try storedLinks(store, txn) }
    }

    static func withoutRuns(_ state: SnapshotState) -> SnapshotState {
        var s = state
        s.runs = []
        s.linkRuns = []
        return s
    }

    /// Writers one command at a time, a snapshot after every event: each transaction adds a
    /// run, and merges keep them few, each older one more than twice the size of the next. The
    /// runs read as one table: verify and as-of agree with a fresh fold, and taking every
    /// snapshot again stores the same entries. An entry in a slot no run lists is a fault.
    @Test func snapshotRunsMergeAndReadAsOneTable() throws {
        let t = try TempStore(snapshotInterval: 1)
        var lines = RulesTests.setup
        for i in 0..<40 {
            lines.append(#"{"command":"RegisterUser","email":"u\#(i)@example.com"}"#)
            lines.append(#"{"command":"RenameUser","user":"ann@example.com","full_name":"Ann \#(i)"}"#)
            // The same subscription leaves plan pro again and again: one link, however often.
            lines.append(#"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"free"}"#)
            lines.append(#"{"command":"ChangePlan","user":"ann@example.com","plan":"free","to":"pro"}"#)
        }
        for line in lines { #expect(try t.store.execute(line: line).isApplied, "\(line)") }
        let state = try #require(try t.store.env.read { txn in try t.store.log.snapshotState(txn) })
        let head = try t.store.head().position
        #expect(state.checkpoint == head && state.runs.last?.through == head)
        #expect(state.runs.count >= 2 && state.runs.count <= 8, "\(state.runs)")
        for (older, newer) in zip(state.runs, state.runs.dropFirst()) { #expect(older.count > 2 * newer.count, "\(state.runs)") }
        let entries = try Self.snapshotEntries(t.store)
        #expect(UInt64(entries.count) == state.runs.reduce(0) { $0 + $1.count })
        // Links: each in one run only, the runs few.
        let links = try Self.storedLinks(t.store).map(\.key)
        #expect(Set(links).count == links.count && links.count >= 2, "\(links.count) links")
        #expect(UInt64(links.count) == state.linkRuns.reduce(0) { $0 + $1.count })
        #expect(state.linkRuns.count >= 1 && state.linkRuns.count <= 4, "\(state.linkRuns)")
        #expect(try t.store.verify().fault == nil)
        let lineOut = try IntegrityProperties.exportLines(t.store)
        for p in [UInt64(1), 9, 30, head - 1, head] {
            let prefix = try TempStore()
            try IntegrityProperties.importLines(Array(lineOut.prefix(Int(p))), into: prefix.store)
            #expect(try IntegrityProperties.allViews(t.store, asOf: .position(p)) == IntegrityProperties.allViews(prefix.store), "as of \(p)")
        }
        try t.store.rebuildSnapshots()
        #expect(try Self.snapshotEntries(t.store).map { $0.key + $0.value } == entries.map { $0.key + $0.value })
        #expect(try Self.storedLinks(t.store).map(\.key) == links)
        #expect(try t.store.verify().fault == nil)
        let used = Set(try t.store.env.read { txn in try t.store.log.snapshotState(txn) }!.runs.map(\.slot))
        let unlisted = try #require((0..<SnapshotRuns.slots).first { !used.contains($0) })
        try t.store.env.write { txn in try txn.put(t.store.log.snapshotSlots[unlisted], entries[0].key, entries[0].value) }
        let fault = try t.store.verify().fault
        #expect(fault?.area == "snapshot" && fault?.message.contains("lists no run there") == true, "\(String(describing: fault))")
        try t.store.rebuildSnapshots()
        let linked = Set(try t.store.env.read { txn in try t.store.log.snapshotState(txn) }!.linkRuns.map(\.slot))
        let stray = try #require((0..<SnapshotRuns.linkSlots).first { !linked.contains($0) })
        try t.store.env.write { txn in try txn.put(t.store.log.linkSlots[stray], links[0], []) }
        #expect(try t.store.verify().fault?.area == "snapshot links")
    }
}
