import Testing
@testable import Subledger

struct EntityIDTests {
    @Test func timeOrderedIdsAreVersion7AndSortInTheOrderMade() {
        let before = Timestamp.now()
        let ids = (0..<50_000).map { _ in EntityID.timeOrdered() }
        let after = Timestamp.now()
        for id in ids {
            #expect((id.high >> 12) & 0xF == 7, "version")
            #expect(id.low >> 62 == 0b10, "variant")
            // The first 48 bits are the Unix time in milliseconds (a full counter may borrow one).
            let millis = Int64(id.high >> 16)
            #expect(millis >= before.microseconds / 1000 && millis <= after.microseconds / 1000 + 50)
        }
        // 50,000 ids take a few milliseconds: the counter orders those of one millisecond.
        for (a, b) in zip(ids, ids.dropFirst()) { #expect(a < b) }
        #expect(Set(ids).count == ids.count)
        // Their text sorts as they do: what the LMDB keys and a SQL index see.
        #expect(ids.map(\.description) == ids.map(\.description).sorted())
    }
}
