import PropertyBased
import Testing
@testable import Subledger

/// The dense state of a whole-log fold: an entity index that numbers ids as a dictionary
/// would, and relation lists that answer with the rows related now, however the rows moved.
@Suite struct MemoryViewsTests {
    /// Ids drawn from a small pool (so they repeat), some sharing their high or low half.
    static let ids = Gen.int(in: 0...4_000).array(of: 0...3_000)

    @Test func anEntityIndexNumbersIdsAsADictionaryWould() async {
        await propertyCheck(count: 40, input: Self.ids, Gen.int(in: 0...64)) { draws, capacity in
            var index = EntityIndex(capacity: capacity)
            var want: [EntityID: Int] = [:]
            func id(_ n: Int) -> EntityID { EntityID(high: UInt64(n % 7), low: UInt64(n / 7) << 40) }
            for (i, n) in draws.enumerated() {
                if i % 3 == 0 {
                    #expect(index.number(of: id(n)) == want[id(n)], "look-up before insert of \(n)")
                    continue
                }
                let expected = want[id(n)] ?? want.count
                want[id(n)] = expected
                #expect(index.insert(id(n)) == expected, "insert of \(n)")
                #expect(index.count == want.count)
            }
            for (key, number) in want { #expect(index.number(of: key) == number) }
            #expect(index.number(of: EntityID(high: 99, low: 99)) == nil)
        }
    }

    private func membership(_ id: EntityID, user: EntityID, group: EntityID) -> MembershipRow {
        MembershipRow(id: id, user: user, group: group, joined: Timestamp(microseconds: 0))
    }

    @Test func aRelationListsTheRowsRelatedNowOnceEach() throws {
        let views = MemoryViews(proxies: [])
        let (ann, bob, staff) = (EntityID.random(), EntityID.random(), EntityID.random())
        let m1 = membership(.random(), user: ann, group: staff), m2 = membership(.random(), user: ann, group: staff)
        try views.replaceRow(.memberships, at: 3, old: nil, new: m1)
        try views.replaceRow(.memberships, at: 7, old: nil, new: m2)
        // Row 3 moves to bob and back: ann's list holds it twice, the read once.
        var moved = m1
        moved.user = bob
        try views.replaceRow(.memberships, at: 3, old: m1, new: moved)
        #expect(try views.positions(.membershipsOfUser, of: ann) == [7])
        #expect(try views.positions(.membershipsOfUser, of: bob) == [3])
        try views.replaceRow(.memberships, at: 3, old: moved, new: m1)
        #expect(try views.positions(.membershipsOfUser, of: ann) == [3, 7])
        #expect(try views.positions(.membershipsOfUser, of: bob) == [])
        #expect(try views.positions(.membershipsOfGroup, of: staff) == [3, 7])
        // Deleted rows leave every list; a scan by entity derives its keys from the rows.
        try views.replaceRow(.memberships, at: 7, old: m2, new: nil)
        #expect(try views.positions(.membershipsOfGroup, of: staff) == [3])
        #expect(try views.scan(.index(.membershipsByUser), prefix: Keys.ids(ann)).map(\.key) == [Keys.ids(ann, staff)])
        #expect(try views.positions(.membershipsOfUser, of: EntityID.random()) == [])
    }

    @Test func rowsPutOutOfOrderAreListedInPositionOrder() throws {
        let views = MemoryViews(proxies: [])
        let (user, group) = (EntityID.random(), EntityID.random())
        for p: UInt64 in [40, 9, 25] { try views.put(.memberships, at: p, membership(.random(), user: user, group: group)) }
        try views.delete(.rows(.memberships), Keys.position(25))
        // A delete where no row ever was changes nothing.
        try views.delete(.rows(.memberships), Keys.position(11))
        var listed: [UInt64] = []
        try views.forEachCachedRow(.memberships) { p, _ in listed.append(p) }
        #expect(listed == [9, 40])
        let packed = views.packed(.rows(.memberships))
        #expect((0..<packed.count).map { Keys.readPosition(packed.entry($0).key) } == [9, 40])
        #expect(try views.row(MembershipRow.self, .memberships, at: 25) == nil)
        #expect(try views.row(MembershipRow.self, .subscriptions, at: 9) == nil, "a position is one table's")
        #expect(try views.positions(.membershipsOfGroup, of: group) == [9, 40])
    }

    @Test func aRowByIdIsFoundInItsEntitysTablesOnly() throws {
        let views = MemoryViews(proxies: [])
        let (team, ann) = (EntityID.random(), EntityID.random())
        let at = Timestamp(microseconds: 0)
        func created(_ data: EventData, at p: UInt64) {
            views.noteCreation(of: RecordedEvent(position: p, stream: data.stream, version: 1, eventID: .random(),
                                                 at: at, recordedAt: at, commandID: nil, data: data))
        }
        created(.planCreated(id: team, name: "team", priceCents: 100, seats: 5), at: 1)
        created(.userRegistered(id: ann, email: "ann@example.com", fullName: "Ann"), at: 2)
        // Created, but no row put yet.
        #expect(try views.row(PlanRow.self, .plans, id: team) == nil)
        let plan = PlanRow(id: team, name: "team", priceCents: 100, isTeam: true, created: at)
        try views.replaceRow(.plans, at: 1, old: nil, new: plan)
        try views.replaceRow(.teamPlans, at: 1, old: nil, new: TeamPlanRow(seats: 5, seatsUsed: 0))
        // Asked in another kind's table: not found there, found in its own.
        #expect(try views.row(UserRow.self, .users, id: team) == nil)
        #expect(try views.row(PlanRow.self, .plans, id: team)?.row == plan)
        #expect(try views.row(TeamPlanRow.self, .teamPlans, id: team)?.position == 1, "a plan's team row shares its slot")
        #expect(try views.row(PlanRow.self, .plans, id: ann) == nil)
        #expect(try views.row(PlanRow.self, .plans, id: .random()) == nil)
        // A deleted row is gone by id too, though its slot stays.
        try views.replaceRow(.plans, at: 1, old: plan, new: nil)
        #expect(try views.row(PlanRow.self, .plans, id: team) == nil)
        #expect(try views.plan(team) == nil)
    }
}
