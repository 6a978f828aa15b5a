import Dispatch
import Synchronization
import Testing
@testable import Subledger

/// The two-core pass of verify and rebuild: every batch consumed once, in order; a consumer's
/// error stops the producer and is what the caller sees.
@Suite struct PipelineTests {
    struct Stop: Error, Equatable { let at: Int }

    @Test func everyBatchIsConsumedInOrder() throws {
        var seen: [Int] = []
        let sent = try Pipeline<[Int]>.run(depth: 2, consume: { seen += $0 }) { send -> Int in
            var count = 0
            for start in stride(from: 0, to: 10_000, by: 7) {
                #expect(send(Array(start..<min(start + 7, 10_000))))
                count += 1
            }
            return count
        }
        #expect(sent == (10_000 + 6) / 7)
        #expect(seen == Array(0..<10_000))
    }

    @Test func aConsumerErrorStopsTheProducerAndIsThrown() {
        let consumed = Mutex(0)
        var refusedAt: Int?
        #expect(throws: Stop(at: 5)) {
            try Pipeline<Int>.run(depth: 1, consume: { n in
                if n == 5 { throw Stop(at: n) }
                consumed.withLock { $0 += 1 }
            }) { send in
                for n in 0..<1_000 where !send(n) {
                    refusedAt = n
                    return
                }
            }
        }
        #expect(consumed.withLock { $0 } == 5, "nothing after the failing batch is consumed")
        #expect(refusedAt != nil, "the producer learns of the failure and stops early")
    }

    @Test func aProducerErrorWaitsForTheConsumer() {
        let consumed = Mutex(0)
        #expect(throws: Stop(at: 3)) {
            try Pipeline<Int>.run(consume: { _ in consumed.withLock { $0 += 1 } }) { send in
                for n in 0..<3 { _ = send(n) }
                throw Stop(at: 3)
            }
        }
        // The run returned only after the consumer took every batch sent before the error.
        #expect(consumed.withLock { $0 } == 3)
    }

    /// `trySend` never waits: it refuses a batch while the consumer is `depth` behind, and what
    /// it does send arrives in order with the rest.
    @Test func trySendRefusesWhileTheConsumerIsBehindAndKeepsTheOrder() throws {
        let gate = DispatchSemaphore(value: 0)
        var seen: [Int] = []
        let refused = try Pipeline<Int>.run(depth: 2, consume: { n in
            if n == 0 { gate.wait() }
            seen.append(n)
        }) { send -> Int in
            var refused = 0
            for n in 0..<3 { #expect(send(n)) }
            // 0 is held by the consumer, 1 and 2 fill the queue: no room until 0 is done.
            if send.trySend(3) == nil { refused += 1 }
            gate.signal()
            for n in 3..<100 {
                while true {
                    if let sent = send.trySend(n) {
                        #expect(sent)
                        break
                    }
                }
            }
            return refused
        }
        #expect(refused == 1)
        #expect(seen == Array(0..<100))
    }
}
