import Foundation
import PropertyBased
import Testing
@testable import Subledger

/// Rebuild, as-of, the codec, export/import and verify, each held to a fresh replay of the log.
@Suite struct IntegrityProperties {
    /// Every view of a store, in order.
    static func allViews(_ store: Store, asOf: AsOf? = nil) throws -> [String: [ViewRow]] {
        var out: [String: [ViewRow]] = [:]
        for view in store.viewNames { out[view] = try store.rows(of: view, asOf: asOf) }
        return out
    }

    /// Property 2: a rebuild gives the same views as the incremental path, and both verify.
    @Test(arguments: Backend.all) func rebuildEqualsTheIncrementalViews(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 2, input: CommandStreams.steps) { steps in
            failOnThrow {
                var twin = try Twin(backend: backend)
                _ = try twin.run(CommandStreams.lines(steps))
                let store = twin.temp.store
                let before = try Self.allViews(store)
                #expect(try store.verify().fault == nil)
                try store.rebuild()
                #expect(try Self.allViews(store) == before)
                #expect(try store.verify().fault == nil)
                try store.rebuild()  // and back to the first generation
                #expect(try Self.allViews(store) == before)
            }
        }
    }

    /// Property 3: the views as of P equal those of a store that holds only the first P events;
    /// as of the time of event P, the same (or later events at that very time). Snapshots are
    /// taken every few events, so as-of folds from one (or from none, before the first). With
    /// an odd interval the rows of every snapshot are read in ranges on two cores.
    @Test(arguments: Backend.all) func asOfPositionEqualsReplayingThePrefix(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 3, input: CommandStreams.steps, Gen.int(in: 0...1_000).array(of: 1...3),
                            Gen.int(in: 1...9)) { steps, picks, interval in
            failOnThrow {
                var twin = try Twin(backend: backend, snapshotInterval: interval)
                _ = try twin.run(CommandStreams.lines(steps), batchSizes: [1, 3, 2])
                let store = twin.temp.store
                let head = try store.head().position
                guard head > 0 else { return }
                // The snapshots the writers took equal those of a fresh fold.
                #expect(try store.verify().fault == nil)
                let lines = try Self.exportLines(store)
                // Random positions, and the first deletions: their cascades, folded after a
                // snapshot, look rows up among those the next snapshot lists as deleted.
                let deletions = try store.events().filter { [.userDeleted, .planDeleted, .groupDeleted].contains($0.data.type) }
                for p in picks.map({ UInt64($0) % head + 1 }) + deletions.prefix(2).map(\.position) {
                    let prefix = try TempStore(backend: backend)
                    try Self.importLines(Array(lines.prefix(Int(p))), into: prefix.store)
                    let then = try Self.allViews(prefix.store)
                    #expect(try Self.allViews(store, asOf: .position(p)) == then, "as of \(p) of \(head)")
                    // Every view, every filter it takes, with and without a limit: the rows
                    // of the whole view then that relate to the entity named, in the view's order.
                    let k = Int(p)
                    let names = ViewNames(user: CommandStreams.emails[k % 4], plan: CommandStreams.planNames[(k / 4) % 4],
                                          group: CommandStreams.groupNames[k % 3])
                    for view in store.viewNames {
                        for filter in names.filters {
                            let expected = names.expected(view, filter, then)
                            for limit in [nil, 1, 2] {
                                let want = expected.map { Array($0.prefix(limit ?? .max)) }
                                let shown = try? store.rows(of: view, filter: filter, limit: limit, asOf: .position(p))
                                #expect(shown == want, "\(view) \(filter) limit \(limit ?? 0) as of \(p)")
                                // And the same read of the prefix's store now.
                                #expect((try? prefix.store.rows(of: view, filter: filter, limit: limit)) == want, "\(view) \(filter) limit \(limit ?? 0) now, at \(p)")
                            }
                        }
                    }
                    // As of a time: after the last event at or before it.
                    let at = try store.events(from: p, to: p)[0].at
                    let last = try store.events().last { $0.at <= at }!.position
                    #expect(try store.position(of: .time(at)) == last)
                    #expect(try store.position(of: .time(Timestamp(microseconds: at.microseconds - 1))) < p)
                }
            }
        }
    }

    /// References named by the filters of a property, and what each filter leaves of a view,
    /// worked out from the whole views alone (an oracle apart from the store's own filters).
    struct ViewNames {
        let user: String, plan: String, group: String

        var filters: [ViewFilter] {
            let (u, p, g) = (Reference(user), Reference(plan), Reference(group))
            return [ViewFilter(user: u), ViewFilter(plan: p), ViewFilter(group: g), ViewFilter(user: u, plan: p), ViewFilter(user: u, group: g)]
        }

        /// The rows of `view` that pass `filter`, in order; nil when `show` refuses it (a filter the
        /// view does not take, or a reference to nothing there then).
        func expected(_ view: String, _ filter: ViewFilter, _ views: [String: [ViewRow]]) -> [ViewRow]? {
            let taken: Set<String> = switch view {
            case "users": ["user", "plan", "group"]
            case "plans", "team_plans": ["user", "plan"]
            case "groups", "memberships", "recent_memberships": ["user", "group"]
            default: ["user", "plan"]
            }
            let given = [("user", filter.user), ("plan", filter.plan), ("group", filter.group)].filter { $0.1 != nil }.map(\.0)
            guard given.allSatisfy(taken.contains) else { return nil }
            func id(_ view: String, _ key: String, _ name: String) -> FieldValue? {
                views[view]?.first { $0[key]?.text.lowercased() == name }?["id"]
            }
            let u = filter.user.map { _ in id("users", "email", user) }, p = filter.plan.map { _ in id("plans", "name", plan) }
            let g = filter.group.map { _ in id("groups", "name", group) }
            if u == .some(nil) || p == .some(nil) || g == .some(nil) { return nil }
            let (userID, planID, groupID) = (u ?? nil, p ?? nil, g ?? nil)
            let subscriptions = views["subscriptions"] ?? [], memberships = views["memberships"] ?? []
            func subscribed(_ user: FieldValue?, _ plan: FieldValue?) -> Bool { subscriptions.contains { $0["user"] == user && $0["plan"] == plan } }
            func member(_ user: FieldValue?, _ group: FieldValue?) -> Bool { memberships.contains { $0["user"] == user && $0["group"] == group } }
            return (views[view] ?? []).filter { row in
                switch view {
                case "users":
                    (userID == nil || row["id"] == userID) && (planID == nil || subscribed(row["id"], planID))
                        && (groupID == nil || member(row["id"], groupID))
                case "plans", "team_plans": (planID == nil || row["id"] == planID) && (userID == nil || subscribed(userID, row["id"]))
                case "groups": (groupID == nil || row["id"] == groupID) && (userID == nil || member(userID, row["id"]))
                default: [("user", userID), ("plan", planID), ("group", groupID)].allSatisfy { $0.1 == nil || row[$0.0] == $0.1 }
                }
            }
        }
    }

    /// Property 4: decode(encode(e)) == e, and encoding is deterministic, for any event.
    @Test func codecRoundTripsAnyEvent() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...13), Gen.uint64(), Gen.uint64(), Self.text, Gen.int64(), Gen.int(in: 0...3)) {
            kind, a, b, text, n, variant in
            failOnThrow {
                let event = Self.event(kind: kind, a: a, b: b, text: text, n: n, variant: variant)
                var sealed = event
                let bytes = EventCodec.seal(&sealed, previousHash: EventCodec.genesisHash)
                var again = event
                #expect(EventCodec.seal(&again, previousHash: EventCodec.genesisHash) == bytes)
                let decoded = try bytes.withUnsafeBytes { b throws(DecodingError) in try EventCodec.decode(b) }
                #expect(decoded == sealed)
                // Through the export form as well.
                #expect(try ImportedEvent.parse(sealed.json) == sealed)
            }
        }
    }

    /// Property 5: export → import → export is byte-identical, and the views are equal.
    @Test(arguments: Backend.all) func exportImportExportIsByteIdentical(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 3, input: CommandStreams.steps) { steps in
            failOnThrow {
                var twin = try Twin(backend: backend)
                _ = try twin.run(CommandStreams.lines(steps))
                let first = try Self.export(twin.temp.store)
                let copy = try TempStore(backend: backend)
                try Self.importLines(try Self.exportLines(twin.temp.store), into: copy.store)
                #expect(try Self.export(copy.store) == first)
                #expect(try Self.allViews(copy.store) == Self.allViews(twin.temp.store))
                #expect(try copy.store.verify().fault == nil)
            }
        }
    }

    /// Property 6: changing any byte of any stored event makes verify fail at or before it.
    @Test(arguments: Backend.all) func anyChangedByteIsFound(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases / 2, input: CommandStreams.steps, Gen.int(in: 0...100_000), Gen.int(in: 1...255)) { steps, pick, mask in
            failOnThrow {
                var twin = try Twin(backend: backend)
                _ = try twin.run(CommandStreams.lines(steps))
                let store = twin.temp.store
                let head = try store.head().position
                guard head > 0 else { return }
                let p = UInt64(pick) % head + 1
                try store.changeStoredEvent(at: p, byte: pick, mask: UInt8(mask))
                let fault = try store.verify().fault
                #expect(fault != nil, "byte \(pick) of event \(p) changed, verify found nothing")
                if let fault { #expect(fault.position.map { $0 <= p } == true, "fault \(fault) for a change at \(p)") }
            }
        }
    }

    // MARK: Helpers

    static func export(_ store: Store) throws -> [UInt8] {
        var out: [UInt8] = []
        try store.export { out += $0 }
        return out
    }

    static func exportLines(_ store: Store) throws -> [String] {
        String(decoding: try export(store), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func importLines(_ lines: [String], into store: Store) throws {
        let path = FileManager.default.temporaryDirectory.path + "/import-\(UUID().uuidString).jsonl"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        try store.importLog(from: LineReader(fd: fd))
    }

    /// Any text: Unicode scalars of every plane, quotes and control characters included.
    static let text = Gen.uint32(in: 0...(0x10FFFF - 0x800))
        .map { v in Character(UnicodeScalar(v < 0xD800 ? v : v + 0x800)!) }  // no surrogates
        .string(of: 0...16)

    /// An event of any type and schema, with any text, integer, time and command id.
    static func event(kind: Int, a: UInt64, b: UInt64, text: String, n: Int64, variant: Int) -> RecordedEvent {
        let id = EntityID(high: a, low: b), other = EntityID(high: b, low: a), third = EntityID(high: a ^ b, low: a &+ b)
        let data: EventData = switch kind {
        case 0: .userRegistered(id: id, email: text, fullName: String(text.reversed()))
        case 1: .userRegisteredV1(id: id, email: text, fullname: variant == 0 ? nil : text)
        case 2: .userRenamed(user: id, fullName: text)
        case 3: .userLoggedIn(user: id)
        case 4: .userDeleted(user: id)
        case 5: .planCreated(id: id, name: text, priceCents: n, seats: variant == 0 ? nil : n)
        case 6: .planDeleted(plan: id)
        case 7: .groupCreated(id: id, name: text)
        case 8: .groupDeleted(group: id)
        case 9: .subscribed(id: id, user: other, plan: third)
        case 10: .planChanged(subscription: id, from: other, to: third)
        case 11: .subscriptionCancelled(subscription: id)
        case 12: .memberJoined(id: id, user: other, group: third)
        default: .memberLeft(membership: id, user: other, group: third)
        }
        // Times stay within what RFC 3339 can print (years 0001-9999).
        let at = Timestamp(microseconds: n % 253_402_300_799_000_000 < -62_135_596_800_000_000 ? 0 : n % 253_402_300_799_000_000)
        return RecordedEvent(position: a % 1_000_000 + 1, stream: data.stream, version: UInt32(b % 1000 + 1), eventID: third,
                             at: at, recordedAt: Timestamp(microseconds: Int64(b % 4_000_000_000_000_000)),
                             commandID: variant < 2 || text.isEmpty || text.utf8.count > 128 ? nil : text, data: data)
    }
}
