import Testing
@testable import Subledger

struct BatchSplittingTests {
    /// A storage that can take at most `capacity` commands a transaction: every part it is
    /// given fits, the parts come in order, the outcomes line up with the input, each refusal
    /// at least halves the limit, and the next batch starts at the size that fitted.
    @Test(arguments: [1, 2, 3, 7, 64])
    func aBatchTooLargeRunsInOrderedSmallerParts(capacity: Int) throws {
        let sizing = TransactionSizing(limit: 40)
        var parts: [[Int]] = []
        var refused = 0
        func run(_ batch: [Int]) throws -> [Outcome] {
            try BatchSplitting.inParts(batch[...], sizing: sizing) { part in
                guard part.count <= capacity else {
                    refused += 1
                    throw BatchTooLarge()
                }
                parts.append(Array(part))
                return part.map { .applied(position: UInt64($0), created: nil) }
            }
        }
        let batch = Array(1...50)
        let outcomes = try run(batch)
        #expect(parts.joined().elementsEqual(batch))
        #expect(parts.allSatisfy { $0.count <= capacity })
        #expect(outcomes.map { if case .applied(let p, _) = $0 { Int(p) } else { -1 } } == batch)
        // 40 → 20 → 10 → 5 → 2 → 1: at most one refusal per halving.
        var halvings = 0
        while 40 >> halvings > capacity { halvings += 1 }
        #expect(refused == halvings)
        #expect(sizing.limit == min(40, 40 >> halvings))

        // The limit that fitted is kept: the next batch is refused nothing.
        refused = 0
        parts = []
        _ = try run(Array(51...100))
        #expect(refused == 0)
        #expect(parts.joined().elementsEqual(51...100))
    }

    @Test func anotherErrorIsNotSplit() {
        var calls = 0
        #expect(throws: StoreError.self) {
            try BatchSplitting.inParts([1, 2, 3, 4][...], sizing: TransactionSizing(limit: 4)) { _ -> [Outcome] in
                calls += 1
                throw StoreError.storage("disk full")
            }
        }
        #expect(calls == 1)
    }

    @Test func aSingleItemTooLargeThrows() {
        let sizing = TransactionSizing(limit: 8)
        #expect(throws: BatchTooLarge.self) {
            try BatchSplitting.inParts([1, 2, 3][...], sizing: sizing) { _ -> [Outcome] in throw BatchTooLarge() }
        }
        #expect(sizing.limit == 1)
    }
}
