import Testing
@testable import Subledger

/// The fold skips index work for updates that `sameIndexEntries` calls equal: it must never
/// call two rows equal whose index entries differ.
@Suite struct IndexEntriesTests {
    static let a = EntityID(high: 1, low: 1), b = EntityID(high: 2, low: 2)
    static let t = Timestamp(microseconds: 1_000_000), u = Timestamp(microseconds: 2_000_000)

    static let variants: [[CachedRow]] = [
        [UserRow(id: a, email: "x@y", fullName: "X", registered: t, lastLogin: nil),
         UserRow(id: a, email: "x@y", fullName: "Y", registered: t, lastLogin: u),
         UserRow(id: a, email: "X@y", fullName: "X", registered: t, lastLogin: nil),
         UserRow(id: a, email: "z@y", fullName: "X", registered: t, lastLogin: nil)].map(\.cached),
        [PlanRow(id: a, name: "pro", priceCents: 1, isTeam: false, created: t),
         PlanRow(id: a, name: "pro", priceCents: 2, isTeam: false, created: t),
         PlanRow(id: a, name: "biz", priceCents: 1, isTeam: false, created: t)].map(\.cached),
        [GroupRow(id: a, name: "g", created: t, memberCount: 0), GroupRow(id: a, name: "g", created: t, memberCount: 3),
         GroupRow(id: a, name: "h", created: t, memberCount: 0)].map(\.cached),
        [MembershipRow(id: a, user: a, group: b, joined: t), MembershipRow(id: a, user: b, group: b, joined: t),
         MembershipRow(id: a, user: a, group: b, joined: u), MembershipRow(id: a, user: a, group: a, joined: t)].map(\.cached),
        [SubscriptionRow(id: a, user: a, plan: b, created: t, updated: t, cancelled: nil),
         SubscriptionRow(id: a, user: a, plan: b, created: t, updated: u, cancelled: nil),
         SubscriptionRow(id: a, user: a, plan: b, created: t, updated: u, cancelled: u),
         SubscriptionRow(id: a, user: a, plan: a, created: t, updated: u, cancelled: nil),
         SubscriptionRow(id: a, user: b, plan: b, created: t, updated: t, cancelled: nil)].map(\.cached),
        [TeamPlanRow(seats: 2, seatsUsed: 0), TeamPlanRow(seats: 2, seatsUsed: 1)].map(\.cached),
    ]

    @Test(arguments: variants)
    func sameEntriesMeansSameEntries(_ rows: [CachedRow]) {
        func entries(_ r: CachedRow) -> [String] { KeyLayout.indexEntries(of: r, at: 7).map { "\($0.table) \($0.key) \($0.value)" } }
        var equalPairs = 0
        for x in rows {
            for y in rows {
                if KeyLayout.sameIndexEntries(x, y) {
                    #expect(entries(x) == entries(y), "\(x) and \(y)")
                    equalPairs += 1
                }
            }
        }
        #expect(equalPairs > rows.count || rows.count == 2, "some distinct versions share their entries")
    }
}
