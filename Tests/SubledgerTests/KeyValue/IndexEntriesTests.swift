import PropertyBased
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

    /// The layout, spelled out: the keys and values every stored index holds.
    @Test func theIndexLayout() {
        let p: UInt64 = 0x0102_0304_0506_0708
        let position: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let (a, b) = (Self.a.raw, Self.b.raw)
        func entries(_ row: some StoredRow) -> [String] {
            KeyLayout.indexEntries(of: row.cached, at: p).map { "\($0.table.name) \($0.key) \($0.value)" }
        }
        #expect(entries(UserRow(id: Self.a, email: " Ann@X.org\t", fullName: "Ann", registered: Self.t, lastLogin: nil))
                == ["users.email \([0] + Array("ann@x.org".utf8)) \(position)"])
        #expect(entries(PlanRow(id: Self.a, name: "Pro", priceCents: 1, isTeam: false, created: Self.t))
                == ["plans.name \([0] + Array("Pro".utf8)) \(position)"])
        #expect(entries(MembershipRow(id: Self.a, user: Self.a, group: Self.b, joined: Self.t))
                == ["memberships.user \(a + b) \(position)", "memberships.group \(b + position) []"])
        #expect(entries(SubscriptionRow(id: Self.a, user: Self.a, plan: Self.b, created: Self.t, updated: Self.t, cancelled: nil))
                == ["subscriptions.user \(a + b + position) [1]", "subscriptions.plan \(b + position) []"])
        #expect(entries(TeamPlanRow(seats: 1, seatsUsed: 0)) == [])
    }

    /// An email's key built byte by byte (plain ASCII) is the key of its trimmed, lower-cased
    /// text, whatever the email holds.
    @Test func anEmailKeyIsItsTrimmedLowerCasedText() async {
        let alphabet: [String] = ["a", "Z", "q", "@", ".", "0", " ", "\t", "\n", "\u{0B}", "\u{1C}", "é", "É", "ß", "\u{2003}", "İ", "K"]
        let text = Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...12).map { $0.map { alphabet[$0] }.joined() }
        await propertyCheck(count: 300, input: text, Gen.int(in: 0...2)) { email, length in
            // Now and then past the 400 bytes a natural key holds before it is hashed.
            let email = length == 0 ? String(repeating: "Ab", count: 201) + email : email
            var key: [UInt8] = []
            Keys.appendEmail(email, to: &key)
            #expect(key == Keys.natural(email.emailKey), "\(email.debugDescription)")
        }
    }
}
