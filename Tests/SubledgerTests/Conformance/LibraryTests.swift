import Foundation
import Testing
@testable import Subledger

/// The library API beside the commands: declared proxies and their back-fill, low-level
/// appends with an expected version, reading events by range, stream and type.
@Suite struct LibraryTests {
    static let teamSubscriptions = Proxy.subscriptions("team_subscriptions",
                                                       order: { SortKey().ascending($0.created).ascending($0.id) }) { sub, lookup in
        try sub.isActive && (lookup.plan(sub.plan)?.isTeam ?? false)
    }

    @Test(arguments: Backend.all) func aNewProxyIsBackFilledWhenTheStoreOpens(_ backend: Backend) throws {
        let dir = TempStore.makeDirectory()
        defer {
            backend.remove(in: dir)
            try? FileManager.default.removeItem(atPath: dir)
        }
        do {
            let store = try backend.open(in: dir)
            for line in RulesTests.setup + [#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#] {
                #expect(try store.execute(line: line).isApplied, "\(line)")
            }
            #expect(throws: StoreError.unknownView("team_subscriptions")) { try store.rows(of: "team_subscriptions") }
            store.close()
        }
        let store = try backend.open(in: dir, options: StoreOptions(proxies: [Self.teamSubscriptions]))
        let rows = try store.rows(of: "team_subscriptions")
        #expect(rows.map { $0["user"]!.text } == ["00000000-0000-4000-8000-000000000002"])
        #expect(try store.projections().contains { $0.name == "team_subscriptions" && $0.kind == .proxy && $0.rows == 1 })
        // From now on it follows inline.
        #expect(try store.execute(line: #"{"command":"Cancel","user":"bob@example.com","plan":"team"}"#).isApplied)
        #expect(try store.rows(of: "team_subscriptions").isEmpty)
        #expect(try store.verify().fault == nil)
    }

    /// A proxy's condition on the plan alone, given apart (`onPlans`), keeps the rows a filter
    /// doing the same check keeps: for every plan filter (one the condition refuses answers at
    /// once), now and as of every position, whether the plan existed then or not.
    @Test(arguments: Backend.all) func aConditionOnThePlanAloneKeepsTheRowsTheFilterWould(_ backend: Backend) throws {
        let apart = Proxy.subscriptions("team_apart", onPlans: { $0.isTeam }) { sub, _ in sub.isActive }
        let inline = Proxy.subscriptions("team_inline") { sub, lookup in try sub.isActive && (lookup.plan(sub.plan)?.isTeam ?? false) }
        let t = try TempStore(backend: backend, proxies: [apart, inline], snapshotInterval: 3)
        let lines = RulesTests.setup + [
            #"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#,
            #"{"command":"Subscribe","user":"bob@example.com","plan":"free"}"#,
            #"{"command":"CreatePlan","name":"crew","price_cents":0,"seats":3}"#,
            #"{"command":"ChangePlan","user":"bob@example.com","plan":"team","to":"crew"}"#,
            #"{"command":"Subscribe","user":"ann@example.com","plan":"team"}"#,
            #"{"command":"Cancel","user":"ann@example.com","plan":"team"}"#,
            #"{"command":"DeletePlan","plan":"crew"}"#,
        ]
        for line in lines { #expect(try t.store.execute(line: line).isApplied, "\(line)") }
        let head = try t.store.head().position
        var seen = 0
        for asOf in [nil] + (1...head).map { AsOf.position($0) } {
            for plan in [nil, "pro", "team", "free", "crew"] {
                let filter = ViewFilter(plan: plan.map(Reference.init))
                let want = try? t.store.rows(of: "team_inline", filter: filter, asOf: asOf)
                #expect((try? t.store.rows(of: "team_apart", filter: filter, asOf: asOf)) == want, "\(plan ?? "-") as of \(String(describing: asOf))")
                seen += want?.count ?? 0
            }
        }
        #expect(seen > 0)
    }

    /// Rows by id, now and as of every position: those of the whole view then, in the order
    /// asked, an id of nothing (or of another kind, or not yet there) left out.
    @Test(arguments: Backend.all) func rowsByIDAreThoseOfTheWholeView(_ backend: Backend) throws {
        let t = try TempStore(backend: backend, snapshotInterval: 3)
        let lines = RulesTests.setup + [#"{"command":"RegisterUser","email":"cy@example.com","full_name":"Cy"}"#,
                                        #"{"command":"RenameUser","user":"bob@example.com","full_name":"Robert"}"#,
                                        #"{"command":"DeleteUser","user":"ann@example.com"}"#, #"{"command":"DeleteGroup","group":"admins"}"#]
        for line in lines { #expect(try t.store.execute(line: line).isApplied, "\(line)") }
        let head = try t.store.head().position
        for asOf in [nil] + (1...head).map { AsOf.position($0) } {
            for view in [BaseView.users, .plans, .groups] {
                let whole = try t.store.rows(of: view.rawValue, asOf: asOf)
                var ids = whole.compactMap { if case .id(let id)? = $0["id"] { id } else { nil } }.reversed() as [EntityID]
                ids.insert(EntityID(high: 7, low: 7), at: 0)
                if view != .plans { ids.append(EntityID(high: 0x4000, low: 0x8000_0000_0000_00a1)) }  // a plan's id
                let found = try t.store.rows(of: view, ids: ids, asOf: asOf)
                #expect(found == whole.reversed().filter { row in ids.contains { row["id"] == .id($0) } }, "\(view) as of \(String(describing: asOf))")
            }
        }
        #expect(try t.store.rows(of: .users, ids: [EntityID(high: 0x4000, low: 0x8000_0000_0000_0002)]).first?["full_name"] == .string("Robert"))
    }

    @Test(arguments: Backend.all) func appendChecksTheExpectedStreamVersion(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        let id = EntityID("00000000-0000-4000-8000-0000000000e1")!
        let created = try t.store.append(.groupCreated(id: id, name: "ops"), expectedVersion: .noStream)
        #expect(created.position == 1 && created.version == 1)
        #expect(throws: StoreError.wrongExpectedVersion(stream: StreamID(.group, id), expected: .noStream, actual: 1)) {
            try t.store.append(.groupCreated(id: id, name: "ops"), expectedVersion: .noStream)
        }
        #expect(throws: StoreError.wrongExpectedVersion(stream: StreamID(.group, id), expected: .exact(3), actual: 1)) {
            try t.store.append(.groupDeleted(group: id), expectedVersion: .exact(3))
        }
        let deleted = try t.store.append(.groupDeleted(group: id), expectedVersion: .exact(1))
        #expect(deleted.version == 2)
        _ = try t.store.append(.userRegistered(id: EntityID("00000000-0000-4000-8000-0000000000e2")!, email: "a@b", fullName: ""),
                               expectedVersion: .any)
        #expect(try t.store.head().position == 3)
        #expect(try t.store.rows(of: "groups").isEmpty)
        #expect(try t.store.rows(of: "users").count == 1)
        #expect(try t.store.verify().fault == nil)
    }

    @Test(arguments: Backend.all) func eventsReadByRangeStreamAndType(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        #expect(try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) }).allSatisfy { $0.isApplied })
        #expect(try t.store.events(from: 3, to: 5).map(\.position) == [3, 4, 5])
        let ann = StreamID(.user, EntityID("00000000-0000-4000-8000-000000000001")!)
        #expect(try t.store.execute(line: #"{"command":"RecordLogin","user":"ann@example.com"}"#).isApplied)
        #expect(try t.store.events(stream: ann).map(\.version) == [1, 2])
        #expect(try t.store.events(type: .planCreated).map(\.position) == [3, 4, 5])
        #expect(try t.store.events(from: 4, type: .planCreated).map(\.position) == [4, 5])
        var seen: [UInt64] = []
        try t.store.forEachEvent(batchSize: 2) { seen.append($0.position); return $0.position < 6 }
        #expect(seen == [1, 2, 3, 4, 5, 6])
    }

    /// The digest the properties compare stores by sees each kind of change: an event with its
    /// views, a view row alone (`last_login`), and `last_seen` beside the log.
    @Test(arguments: Backend.all) func theContentDigestSeesEveryChange(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        var digests = [try t.store.contentDigest()]
        try t.run(#"{"command":"RegisterUser","email":"ann@example.com"}"#)
        digests.append(try t.store.contentDigest())
        try t.run(#"{"command":"RecordLogin","user":"ann@example.com","at":"2026-02-01T00:00:00Z"}"#)
        digests.append(try t.store.contentDigest())
        try t.store.setLastSeen(user: Reference("ann@example.com"), at: Timestamp(microseconds: 1_800_000_000_000_000))
        digests.append(try t.store.contentDigest())
        #expect(Set(digests).count == digests.count, "a change left the digest as it was")
        #expect(try t.store.contentDigest() == digests.last, "the digest of the same contents is the same")
    }
}
