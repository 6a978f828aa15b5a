import LMDB

/// A sorted run in the database of slot `slot`: of snapshot entries, those of the snapshots
/// after the previous run's `through`, up to and including this one's; of links, those stored
/// by the log's position `through` and not by the previous run.
struct SnapshotRun: Equatable {
    var slot: Int
    var through: UInt64
    var count: UInt64
}

/// Where snapshot entries and links are kept: in runs, a log-structured merge. One table of every
/// version of every row, keyed by row, took a put on a random leaf per changed row, and so
/// more pages per command as the store grew (tools/benchmark/RESULTS.md, 2026-12-07); so did
/// one table of links. Now a writer sorts the entries its transaction took and appends them as
/// a run of their own;
/// the newest two runs are merged, sequentially, while the newer holds at least half as many
/// entries as the older (a cascade of such merges is one pass over all its runs). So runs
/// shrink by more than half from oldest to newest, there are about log₂ of the entries of
/// them, and each entry is rewritten at most as many times, a page at a time, never on a
/// random leaf.
///
/// Runs hold consecutive ranges of snapshots. A row's version at a snapshot is in the newest
/// run (of those not after the snapshot) that holds a version of it: one seek per run, newest
/// first; a walk merges the runs' cursors.
enum SnapshotRuns {
    /// The databases snapshot entries live in: `snapshots`, then `snapshots.1` and on.
    static let slots = 24
    /// The databases links live in: `snapshots.links`, then `snapshots.links.1` and on.
    static let linkSlots = 16

    static func name(ofSlot slot: Int) -> String { slot == 0 ? "snapshots" : "snapshots.\(slot)" }
    static func name(ofLinkSlot slot: Int) -> String { slot == 0 ? "snapshots.links" : "snapshots.links.\(slot)" }

    /// What is wrong with the runs a snapshot record lists, if anything.
    static func fault(in state: SnapshotState) -> String? {
        var through: UInt64 = 0
        for run in state.runs {
            guard run.through > through, run.through <= state.checkpoint, run.through % state.interval == 0 else {
                return "run through \(run.through) does not follow \(through) within the snapshots taken"
            }
            through = run.through
        }
        return fault(in: state.runs, slots: slots) ?? fault(in: state.linkRuns, slots: linkSlots).map { "links: \($0)" }
    }

    private static func fault(in runs: [SnapshotRun], slots: Int) -> String? {
        var used = Set<Int>()
        for run in runs {
            guard run.slot < slots, used.insert(run.slot).inserted else { return "run slot \(run.slot) is out of range or listed twice" }
            guard run.count > 0 else { return "run in slot \(run.slot) holds no entries" }
        }
        return nil
    }

    /// The runs that may hold versions at snapshot `at`, newest first.
    static func runs(at: UInt64, _ state: SnapshotState) -> [SnapshotRun] {
        var out: [SnapshotRun] = []
        var after: UInt64 = 0
        for run in state.runs {
            if after >= at { break }
            out.append(run)
            after = run.through
        }
        return out.reversed()
    }

    /// Adds `entries` (any order, no key in any run already) as the newest of `runs`, through
    /// `through`, then merges the newest runs as the policy says. Records the runs in `runs`
    /// only; the caller stores them.
    static func add(_ entries: inout [(key: [UInt8], value: [UInt8])], through: UInt64, to runs: inout [SnapshotRun],
                    _ databases: [Database], _ txn: WriteTransaction) throws {
        defer { entries.removeAll(keepingCapacity: true) }
        guard !entries.isEmpty else { return }
        entries.sort { $0.key.precedes($1.key) }
        try addRun(of: entries.count, through: through, to: &runs, databases, txn) { cursor in
            for (key, value) in entries {
                try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try cursor.append(k, v) } }
            }
        }
    }

    /// Adds `table` (sorted, each key once, none in any run already) as the newest of `runs`,
    /// as `add` does.
    static func add(_ table: PackedTable, through: UInt64, to runs: inout [SnapshotRun], _ databases: [Database],
                    _ txn: WriteTransaction) throws {
        guard table.count > 0 else { return }
        try addRun(of: table.count, through: through, to: &runs, databases, txn) { try $0.append(table, 0..<table.count) }
    }

    /// Writes a run of `count` entries through a cursor on a free slot, lists it, then merges
    /// the newest runs as the policy says.
    private static func addRun(of count: Int, through: UInt64, to runs: inout [SnapshotRun], _ databases: [Database],
                               _ txn: WriteTransaction, write: (Cursor) throws -> Void) throws {
        let slot = try freeSlot(runs, databases.count)
        let cursor = try txn.cursor(databases[slot])
        defer { cursor.close() }
        try write(cursor)
        runs.append(SnapshotRun(slot: slot, through: through, count: UInt64(count)))
        // The newest runs the policy merges, pair by pair, are merged at once: a cascade of pairs
        // rewrote the newest entries once per pair.
        var merging = 1, merged = runs[runs.count - 1].count
        while merging < runs.count {
            let older = runs[runs.count - 1 - merging]
            // At most slots - 2 runs stay, so that the next one and a merge find a slot.
            guard merged * 2 >= older.count || runs.count - merging + 1 > databases.count - 2 else { break }
            merged += older.count
            merging += 1
        }
        guard merging >= 2 else { return }
        let sources = Array(runs.suffix(merging))
        let into = try freeSlot(runs, databases.count)
        try merge(sources.map { databases[$0.slot] }, into: databases[into], txn)
        for run in sources { try txn.clear(databases[run.slot]) }
        runs.removeLast(merging)
        runs.append(SnapshotRun(slot: into, through: through, count: merged))
    }

    private static func freeSlot(_ runs: [SnapshotRun], _ slots: Int) throws -> Int {
        let used = Set(runs.map(\.slot))
        guard let slot = (0..<slots).first(where: { !used.contains($0) }) else {
            throw StoreError.corrupt("snapshot record lists a run in every slot")
        }
        return slot
    }

    /// Whether any of `runs` holds `key`.
    static func contains(_ key: [UInt8], in runs: [SnapshotRun], _ databases: [Database], _ txn: some ReadableTransaction) throws -> Bool {
        for run in runs where try txn.get(databases[run.slot], key) != nil { return true }
        return false
    }

    /// The entries of `runs` from `start` up to `end` (excluded), in key order, as one sequence.
    static func entries(of runs: [SnapshotRun], from start: [UInt8]? = nil, to end: [UInt8]? = nil, _ databases: [Database],
                        _ txn: some ReadableTransaction) throws -> MergedEntries {
        try MergedEntries(runs.map { try txn.scan(databases[$0.slot], from: start, to: end, reverse: false) })
    }

    /// Writes the entries of `runs` into an empty database, in key order. No key is in two:
    /// snapshot entries of two runs belong to different snapshots, and a link is stored once.
    private static func merge(_ runs: [Database], into: Database, _ txn: WriteTransaction) throws {
        // The entries point into pages of the runs, which the merge does not change and LMDB
        // does not spill while a cursor stands on them.
        let entries = try MergedEntries(runs.map { try txn.scan($0, from: nil, to: nil, reverse: false) })
        let out = try txn.cursor(into)
        defer { out.close() }
        while let (key, value) = try entries.nextEntry() { try out.append(key, value) }
    }

    /// Empties every slot: the runs listed and any a store of another layout left.
    static func clear(_ databases: [Database], _ runs: inout [SnapshotRun], _ txn: WriteTransaction) throws {
        for db in databases { try txn.clear(db) }
        runs = []
    }
}

/// The entries of runs in key order: the smallest of their heads next, and on a key two runs
/// share, the earlier run's entries first (the stream index's tree before its delta).
final class MergedEntries: OrderedEntries {
    private let sequences: [CursorSequence]
    private var heads: [Cursor.Entry?]

    init(_ sequences: [CursorSequence]) throws {
        self.sequences = sequences
        heads = try sequences.map { try $0.nextEntry() }
    }

    /// The next entry; its bytes last as long as a read transaction.
    func nextEntry() throws -> Cursor.Entry? {
        var lowest = -1
        for (i, head) in heads.enumerated() {
            guard let head else { continue }
            if lowest < 0 || head.key.precedes(heads[lowest]!.key) { lowest = i }
        }
        guard lowest >= 0 else {
            if let error = sequences.lazy.compactMap(\.error).first { throw error }
            return nil
        }
        let entry = heads[lowest]
        heads[lowest] = try sequences[lowest].nextEntry()
        return entry
    }
}

/// A row's versions across the runs of one snapshot, read with one cursor per run.
struct SnapshotRunCursors {
    /// Newest run first.
    let cursors: [Cursor]

    init(_ runs: [SnapshotRun], _ databases: [Database], _ txn: some ReadableTransaction) throws {
        cursors = try runs.map { try txn.cursor(databases[$0.slot]) }
    }

    func close() { for c in cursors { c.close() } }

    /// The bytes of the row at `position` at snapshot `at` (nil: it did not exist then): the
    /// newest version at or before it, in the newest run holding one.
    func withRow<T>(_ table: BaseTable, at position: UInt64, snapshot at: UInt64,
                    _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        let target = SnapshotKeys.key(table, position: position, at: at)
        for cursor in cursors {
            guard let (found, value) = try cursor.seek(target), found.count == SnapshotKeys.size,
                  found.starts(with: target[0..<9]) else { continue }
            guard let row = try SnapshotKeys.row(value, key: found) else { return nil }
            return try body(row)
        }
        return nil
    }

    /// Calls `body` with the rows of `table` at snapshot `at` whose positions lie in `range`,
    /// in position order; false when `body` stopped the walk.
    func walk(_ table: BaseTable, _ range: ClosedRange<UInt64>, at: UInt64,
              _ body: (_ position: UInt64, _ row: UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        let tag = UInt8(table.rawValue)
        /// The next version at or before `at` of a row in range, or nil past the range.
        func settle(_ cursor: Cursor, _ entry: Cursor.Entry?) throws -> (position: UInt64, value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer)? {
            var entry = entry
            while let (key, value) = entry, key.count == SnapshotKeys.size, key[0] == tag {
                // Versions of 10^5 rows, in a page's node order: warming each page once is cheaper
                // than a cache miss per entry (a tenth of the CPU time of a late --as-of).
                cursor.warmBlock(of: key)
                let position = Keys.readPosition(key, at: 1)
                // Rows are keyed by the position that created them, so the walk ends at the range's
                // end (at the latest the snapshot's: no row created after it existed in it).
                if position > range.upperBound { return nil }
                if SnapshotKeys.snapshot(of: key) <= at { return (position, value, key) }
                entry = try cursor.next()
            }
            return nil
        }
        let start = [tag] + Keys.position(range.lowerBound)
        var heads = try cursors.map { try settle($0, try $0.seek(start)) }
        while true {
            // The lowest position any run is at; the newest run at it holds the row's version.
            var lowest: UInt64?, newest = -1
            for (i, head) in heads.enumerated() {
                guard let head else { continue }
                if lowest == nil || head.position < lowest! { lowest = head.position; newest = i }
            }
            guard let position = lowest else { return true }
            let head = heads[newest]!
            if let row = try SnapshotKeys.row(head.value, key: head.key), try !body(position, row) { return false }
            // Every run at this row past its older versions (a row has few in a run: step, not seek).
            for (i, h) in heads.enumerated() where h?.position == position {
                var entry = try cursors[i].next()
                while let (key, _) = entry, key.count == SnapshotKeys.size, key[0] == tag, Keys.readPosition(key, at: 1) == position {
                    entry = try cursors[i].next()
                }
                heads[i] = try settle(cursors[i], entry)
            }
        }
    }
}
