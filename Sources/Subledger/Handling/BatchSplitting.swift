import Synchronization

/// A batch of commands too large for one write transaction of its storage (LMDB's limit on the
/// pages one transaction may change): nothing of it was written.
struct BatchTooLarge: Error {}

/// How many commands one write transaction of a storage takes: at most `limit`, which drops
/// to what fitted whenever a transaction of more was too large. The pages a command changes
/// only grow with the store, so a process never raises it again, and a refused transaction
/// (all its work undone) happens about once per halving, not once per batch.
final class TransactionSizing: Sendable {
    private let current: Atomic<Int>

    init(limit: Int) { current = Atomic(max(1, limit)) }

    /// The most commands the next transaction should take.
    var limit: Int { current.load(ordering: .relaxed) }

    /// A transaction of `count` commands was too large.
    func refused(_ count: Int) { current.min(max(1, count / 2), ordering: .relaxed) }
}

enum BatchSplitting {
    /// The outcomes of `batch` run by `run` as transactions of at most `sizing.limit` items, in
    /// order. A part `run` finds too large lowers the limit and runs again in smaller parts;
    /// a single item too large throws. Each part commits on its own: the caller reports
    /// results only after the last one has.
    static func inParts<Item>(_ batch: ArraySlice<Item>, sizing: TransactionSizing,
                              _ run: (ArraySlice<Item>) throws -> [Outcome]) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(batch.count)
        var rest = batch
        while !rest.isEmpty {
            let part = rest.prefix(sizing.limit)
            do {
                outcomes += try run(part)
                rest = rest[part.endIndex...]
            } catch is BatchTooLarge where part.count > 1 {
                sizing.refused(part.count)
            }
        }
        return outcomes
    }
}
