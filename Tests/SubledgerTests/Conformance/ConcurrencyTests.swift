import Foundation
import Testing
@testable import Subledger

/// Threads of one process sharing a store through the library API: writers with their own
/// and with shared command ids, readers all along.
@Suite struct ConcurrencyTests {
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var outcomes: [String: [Outcome]] = [:]
        private(set) var readerFaults: [String] = []

        func record(_ id: String, _ outcome: Outcome) { lock.withLock { outcomes[id, default: []].append(outcome) } }
        func fault(_ what: String) { lock.withLock { readerFaults.append(what) } }
    }

    @Test(arguments: Backend.all) func writerAndReaderThreadsAgreeOnOneLog(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        let store = t.store
        let writers = 4, own = 150, shared = own / 3
        let results = Results()
        var threads: [Thread] = []
        for w in 0..<writers {
            threads.append(Thread {
                for i in 0..<own {
                    // Own commands, and every third step a shared one that all writers race for.
                    let line = #"{"command":"CreateGroup","name":"w\#(w)-\#(i)","command_id":"w\#(w)-\#(i)"}"#
                    if let o = try? store.execute(line: line) { results.record("w\(w)-\(i)", o) }
                    if i % 3 == 0 {
                        let s = i / 3
                        let line = #"{"command":"CreatePlan","name":"s\#(s)","command_id":"s\#(s)"}"#
                        if let o = try? store.execute(batch: [CommandDecoder.decode(line: line)], durable: false).first {
                            results.record("s\(s)", o)
                        }
                    }
                }
            })
        }
        let done = Shared(false)
        let reader = Thread {
            var lastHead: UInt64 = 0, lastGroups = 0
            while !done.value {
                guard let head = try? store.head().position, let groups = try? store.rows(of: "groups").count else {
                    results.fault("a read failed")
                    return
                }
                if head < lastHead { results.fault("the head went back from \(lastHead) to \(head)") }
                if groups < lastGroups { results.fault("groups went from \(lastGroups) to \(groups) rows") }
                (lastHead, lastGroups) = (head, groups)
            }
        }
        reader.start()
        for thread in threads { thread.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(5_000) }
        done.value = true
        while !reader.isFinished { usleep(5_000) }

        #expect(results.readerFaults.isEmpty, "\(results.readerFaults)")
        // Every own command applied once; every shared one applied by exactly one writer,
        // and the others were told it was a duplicate at that very position.
        for w in 0..<writers { for i in 0..<own { #expect(results.outcomes["w\(w)-\(i)"]?.map(\.status) == ["ok"]) } }
        for s in 0..<shared {
            let answers = results.outcomes["s\(s)"] ?? []
            #expect(answers.count == writers)
            let applied = answers.compactMap(\.position)
            #expect(applied.count == 1, "s\(s): \(answers)")
            #expect(answers.allSatisfy { $0.position == applied.first || $0 == .duplicate(positions: applied, created: $0.createdOrDuplicate) })
        }
        let events = try store.events()
        #expect(events.map(\.position) == Array(1...UInt64(writers * own + shared)))
        #expect(Set(events.compactMap(\.commandID)).count == events.count)
        #expect(try store.verify().fault == nil)
    }
}

extension Outcome {
    /// The created id a duplicate reports.
    var createdOrDuplicate: EntityID? { if case .duplicate(_, let id) = self { id } else { nil } }
}
