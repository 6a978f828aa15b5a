import Testing
@testable import Subledger

struct BatchSplittingTests {
    /// A storage that can take at most `limit` commands a transaction: every part it is given
    /// fits, the parts come in order, and the outcomes line up with the input.
    @Test(arguments: [1, 2, 3, 7, 64])
    func aBatchTooLargeRunsInOrderedHalves(limit: Int) throws {
        let batch = Array(1...50)
        var parts: [[Int]] = []
        var refused = 0
        let outcomes = try BatchSplitting.inHalves(batch[...]) { part in
            guard part.count <= limit else {
                refused += 1
                throw BatchTooLarge()
            }
            parts.append(Array(part))
            return part.map { .applied(position: UInt64($0), created: nil) }
        }
        #expect(parts.joined().elementsEqual(batch))
        #expect(parts.allSatisfy { $0.count <= limit })
        #expect(outcomes.map { if case .applied(let p, _) = $0 { Int(p) } else { -1 } } == batch)
        #expect((refused == 0) == (limit >= batch.count))
    }

    @Test func anotherErrorIsNotSplit() {
        var calls = 0
        #expect(throws: StoreError.self) {
            try BatchSplitting.inHalves([1, 2, 3, 4][...]) { _ -> [Outcome] in
                calls += 1
                throw StoreError.storage("disk full")
            }
        }
        #expect(calls == 1)
    }
}
