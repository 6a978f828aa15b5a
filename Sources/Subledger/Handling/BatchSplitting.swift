/// A batch of commands too large for one write transaction of its storage (LMDB's limit on the
/// pages one transaction may change): nothing of it was written.
struct BatchTooLarge: Error {}

enum BatchSplitting {
    /// The outcomes of `batch` run by `run` as one transaction, or, when `run` finds it too
    /// large, as two halves one after the other (each split again as needed), in order. Each
    /// part commits on its own: the caller reports results only after the last one has.
    static func inHalves<Item>(_ batch: ArraySlice<Item>, _ run: (ArraySlice<Item>) throws -> [Outcome]) throws -> [Outcome] {
        do {
            return try run(batch)
        } catch is BatchTooLarge where batch.count > 1 {
            let middle = batch.startIndex + batch.count / 2
            return try inHalves(batch[..<middle], run) + inHalves(batch[middle...], run)
        }
    }
}
