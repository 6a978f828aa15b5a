import Dispatch
import LMDB
import Synchronization

/// The rows of one table at a snapshot, read in position ranges on two cores: a helper
/// thread, in a read transaction of its own, starts on the first range at once; the caller
/// joins in when it asks for the rows (once it has folded the window after the snapshot),
/// reading itself each range nobody has taken, and a later one while the helper finishes the
/// range it waits for. Each range comes as the rows the view shows, so a whole view is the
/// ranges appended.
final class SnapshotRowRanges {
    typealias Rows = (positions: [UInt64], rows: [ViewRow])

    let table: BaseTable
    private let shared: Shared
    private var thread: JoinableThread<Void>?
    /// The ranges taken so far (nil: not yet), kept for a second walk of the table.
    private var taken: [Rows?]

    /// What both threads see: the ranges, the next one nobody has taken, the helper's results.
    private final class Shared: @unchecked Sendable {
        let bounds: [ClosedRange<UInt64>]
        private let next = Atomic<Int>(0)
        let stop = StopFlag()
        /// The helper's result for each range it took, published by the slot's semaphore.
        let results: [Slot]

        final class Slot: @unchecked Sendable {
            let ready = DispatchSemaphore(value: 0)
            var result: Result<Rows, any Error>?
        }

        init(_ bounds: [ClosedRange<UInt64>]) {
            self.bounds = bounds
            results = bounds.map { _ in Slot() }
        }

        /// Takes the next range nobody has: its index, or nil when all are taken.
        func take() -> Int? {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            return i < bounds.count ? i : nil
        }

        var nextUntaken: Int { next.load(ordering: .relaxed) }
    }

    /// Starts `helper`, which opens its transaction and calls its argument with a reader of
    /// ranges in it (or returns without, when its transaction cannot serve: the caller then
    /// reads every range). `count` ranges of equal position spans, at most one a position.
    init(table: BaseTable, at: UInt64, count: Int,
         helper: @escaping (_ work: (_ read: (ClosedRange<UInt64>, StopFlag) throws -> Rows) -> Void) throws -> Void) {
        self.table = table
        let n = UInt64(max(1, min(UInt64(count), at)))
        let bounds = (0..<n).map { i in (at * i / n + 1)...(at * (i + 1) / n) }
        let shared = Shared(bounds)
        self.shared = shared
        taken = Array(repeating: nil, count: bounds.count)
        thread = JoinableThread.start {
            try helper { read in
                while !shared.stop.isSet, let i = shared.take() {
                    let slot = shared.results[i]
                    slot.result = Result { try read(shared.bounds[i], shared.stop) }
                    slot.ready.signal()
                }
            }
        }
    }

    deinit {
        shared.stop.set()
        _ = try? thread?.join()
    }

    /// Calls `body` with each range's rows in position order until it returns false; `read`
    /// reads a range here. With `dropping`, a range is let go once `body` has it (no second walk).
    func forEachRange(dropping: Bool = false, read: (ClosedRange<UInt64>) throws -> Rows,
                      _ body: (Rows) throws -> Bool) throws {
        for i in taken.indices {
            let rows = try self.rows(i, read)
            if dropping { taken[i] = nil }
            guard try body(rows) else { return }
        }
    }

    private func rows(_ i: Int, _ read: (ClosedRange<UInt64>) throws -> Rows) throws -> Rows {
        while true {
            if let rows = taken[i] { return rows }
            if shared.nextUntaken <= i, let mine = shared.take() {
                // Ranges are taken in order and the earlier ones are had: this is range i,
                // or a later one when the helper took i just now.
                taken[mine] = try read(shared.bounds[mine])
                continue
            }
            let slot = shared.results[i]
            if slot.ready.wait(timeout: .now()) == .timedOut {
                // The helper is on it: read a later range meanwhile, or wait when none is left.
                if let later = shared.take() {
                    taken[later] = try read(shared.bounds[later])
                    continue
                }
                slot.ready.wait()
            }
            guard let result = slot.result else { throw StoreError.corrupt("range \(i) of \(table.name) was never read") }
            taken[i] = try result.get()
        }
    }

    /// The rows of `table` at snapshot `at` in `range`, in position order, as a view shows
    /// them; stops early (with what it has) once `stop` is set.
    static func read(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64, _ cursor: Cursor,
                     stop: StopFlag? = nil) throws -> Rows {
        var positions: [UInt64] = [], rows: [ViewRow] = []
        _ = try SnapshotKeys.walk(table, range, at: at, cursor) { position, bytes in
            guard let row = try AnyRow(decoding: bytes, table: table) else {
                throw StoreError.corrupt("row \(position) of \(table.name) is not a view's row")
            }
            positions.append(position)
            rows.append(row.viewRow())
            return !(stop?.isSet ?? false)
        }
        return (positions, rows)
    }
}
