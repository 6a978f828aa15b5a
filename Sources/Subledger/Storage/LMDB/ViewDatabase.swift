import LMDB

/// One view table of a generation, in LMDB: its database, and a delta beside it that takes the
/// table's changes once it is large.
///
/// Most commands change a row, a relation's index (keyed by the related entity) or a proxy's
/// (keyed by its sort order) at a random key. As the store grows, a batch of commands dirties
/// most leaves of each such tree, and so writes the whole tree again (tools/benchmark/RESULTS.md,
/// 2026-12-07). Their changes go to the delta instead, a small tree, and move into the main
/// database in key order once the delta holds an eighth as many entries as it: each leaf of the
/// main tree is then written once per merge rather than once per batch. A table smaller than
/// `directBelow` entries is written in place while its delta is empty: a batch that dirties
/// every leaf of a small tree costs little, and each change would be written twice.
///
/// A delta entry is the key with `[1] + value` (put) or `[0]` (removed). A read asks the delta
/// first (a small tree, whose pages the batch keeps warm); a walk merges the two in key order,
/// the delta's entry winning.
struct ViewDatabase {
    let main: Database
    /// Changes not yet merged into `main`.
    let delta: Database
    /// The size from which changes go to the delta.
    let directBelow: Int

    static let putTag: UInt8 = 1
    static let removedTag: UInt8 = 0

    /// The value a delta entry gives its key: nil when it removes the key.
    static func value(ofChange change: UnsafeRawBufferPointer) throws(StoreError) -> UnsafeRawBufferPointer? {
        switch change.first {
        case putTag?: return UnsafeRawBufferPointer(rebasing: change[1...])
        case removedTag? where change.count == 1: return nil
        default: throw .corrupt("a view delta entry is neither a put nor a removal")
        }
    }

    // MARK: Reading

    /// The value of `key`, valid while the transaction lives.
    func get(_ key: [UInt8], _ txn: some ReadableTransaction) throws -> UnsafeRawBufferPointer? {
        if try Deltas.holdsChanges(delta, txn), let change = try txn.get(delta, key) { return try Self.value(ofChange: change) }
        return try txn.get(main, key)
    }

    func getBytes(_ key: [UInt8], _ txn: some ReadableTransaction) throws -> [UInt8]? {
        try get(key, txn).map(Array.init)
    }

    /// The entries from `from` on (all: nil), in key order.
    func scan(from: [UInt8]? = nil, _ txn: some ReadableTransaction) throws -> ViewEntries {
        let changes = try Deltas.holdsChanges(delta, txn) ? try txn.scan(delta, from: from, to: nil, reverse: false) : nil
        return try ViewEntries(main: try txn.scan(main, from: from, to: nil, reverse: false), delta: changes)
    }

    /// How many entries the table holds: the main database's count, corrected by the delta's.
    func entries(_ txn: some ReadableTransaction) throws -> Int {
        var count = try txn.entries(main)
        guard try Deltas.holdsChanges(delta, txn) else { return count }
        let changes = try txn.scan(delta, from: nil, to: nil, reverse: false)
        while let (key, change) = try changes.nextEntry() {
            let inMain = try txn.get(main, key) != nil
            switch try Self.value(ofChange: change) {
            case .some where !inMain: count += 1
            case .none where inMain: count -= 1
            default: break
            }
        }
        return count
    }

    // MARK: Writing

    func put(_ key: [UInt8], _ value: [UInt8], _ txn: WriteTransaction) throws {
        guard let delta = try changesGo(txn) else { return try txn.put(main, key, value) }
        var change = [Self.putTag]
        change.append(contentsOf: value)
        try txn.put(delta, key, change)
    }

    func delete(_ key: [UInt8], _ txn: WriteTransaction) throws {
        guard let delta = try changesGo(txn) else { _ = try txn.delete(main, key); return }
        try txn.put(delta, key, [Self.removedTag])
    }

    /// The delta, when a change goes there (`Deltas.takesChanges`).
    private func changesGo(_ txn: WriteTransaction) throws -> Database? {
        try Deltas.takesChanges(delta, of: main, directBelow: directBelow, txn) ? delta : nil
    }

    /// Empties the table.
    func clear(_ txn: WriteTransaction) throws {
        try txn.clear(main)
        try txn.clear(delta)
    }

    func isMergeDue(floor: Int, _ txn: some ReadableTransaction) throws -> Bool {
        try Deltas.isMergeDue(delta, of: main, floor: floor, txn)
    }

    /// Moves up to `limit` changes from the delta into the main database (`Deltas.merge`); the
    /// table's contents do not change.
    func merge(limit: Int, _ txn: WriteTransaction) throws -> Bool {
        try Deltas.merge(delta, into: main, limit: limit, txn) { target, key, change in
            if let value = try Self.value(ofChange: change) {
                try target.put(key, value)
            } else {
                try target.remove(key)
            }
        }
    }
}

/// What the deltas of view tables and of the stream index share: when a change goes to the
/// delta, when the delta is merged, and how.
enum Deltas {
    /// Whether `delta` holds anything: reads ask first, as a look-up in an empty delta (every
    /// small table's) costs more than asking its size.
    static func holdsChanges(_ delta: Database, _ txn: some ReadableTransaction) throws -> Bool {
        try txn.entries(delta) > 0
    }

    /// Whether a change goes to `delta`: it holds changes already (a key's newest change must be
    /// there), or `main` is large.
    static func takesChanges(_ delta: Database, of main: Database, directBelow: Int, _ txn: WriteTransaction) throws -> Bool {
        try holdsChanges(delta, txn) || txn.entries(main) >= directBelow
    }

    /// Whether `delta` holds enough to merge: an eighth of `main`, and at least `floor` entries.
    static func isMergeDue(_ delta: Database, of main: Database, floor: Int, _ txn: some ReadableTransaction) throws -> Bool {
        let pending = try txn.entries(delta)
        let size = try txn.entries(main)
        return pending > 0 && pending >= max(floor, size / 8)
    }

    /// Hands up to `limit` entries of `delta` to `apply`, in key order, so that each leaf of
    /// `main` they land on is written once, then removes them from the delta's front; true when
    /// the delta is then empty.
    static func merge(_ delta: Database, into main: Database, limit: Int, _ txn: WriteTransaction,
                      apply: (_ target: inout MergeTarget, _ key: UnsafeRawBufferPointer, _ change: UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let changes = try txn.cursor(delta)
        var target = MergeTarget(main, txn)
        defer { changes.close(); target.close() }
        // The delta does not change until the moved entries are removed, so the entries read
        // stay valid while `apply` writes `main`.
        var moved = 0
        var next = try changes.first()
        while moved < limit, let (key, change) = next {
            try apply(&target, key, change)
            moved += 1
            next = try changes.next()
        }
        guard next != nil else {
            try txn.clear(delta)
            return true
        }
        for _ in 0..<moved {
            guard try changes.first() != nil else { throw StoreError.corrupt("a delta lost entries during its merge") }
            try changes.deleteCurrent()
        }
        return false
    }
}

/// Where a merge writes `main`, in key order. Puts go through one cursor, which finds most keys
/// on the leaf it stands on where `WriteTransaction.put` descends from the root for each
/// (merges were 16% of a late tenth of 10^7 commands). Removals are few: each goes through
/// `WriteTransaction.delete` with the cursor closed, so that no cursor of ours has to follow
/// the tree as a delete rebalances it, and the next put opens a new one.
struct MergeTarget {
    private let main: Database
    private let txn: WriteTransaction
    private var cursor: Cursor?

    init(_ main: Database, _ txn: WriteTransaction) {
        self.main = main
        self.txn = txn
    }

    mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        let cursor = try self.cursor ?? txn.cursor(main)
        self.cursor = cursor
        try cursor.put(key, value)
    }

    mutating func remove(_ key: UnsafeRawBufferPointer) throws {
        close()
        _ = try txn.delete(main, key)
    }

    mutating func close() {
        cursor?.close()
        cursor = nil
    }
}

/// The entries of a view table in key order: its main database's merged with its delta's
/// changes (a change wins over the main entry of its key; a removal hides it).
final class ViewEntries: OrderedEntries {
    private let main: CursorSequence
    private let delta: CursorSequence?
    private var nextMain: Cursor.Entry?
    private var nextChange: Cursor.Entry?

    init(main: CursorSequence, delta: CursorSequence?) throws {
        self.main = main
        self.delta = delta
        nextMain = try main.nextEntry()
        nextChange = try delta?.nextEntry()
    }

    /// The next entry; its bytes last as long as the transaction.
    func nextEntry() throws -> Cursor.Entry? {
        while true {
            guard let change = nextChange else {
                guard let entry = nextMain else { return nil }
                nextMain = try main.nextEntry()
                return entry
            }
            if let entry = nextMain, entry.key.precedes(change.key) {
                nextMain = try main.nextEntry()
                return entry
            }
            if let entry = nextMain, entry.key.sameBytes(as: change.key) { nextMain = try main.nextEntry() }
            nextChange = try delta!.nextEntry()
            if let value = try ViewDatabase.value(ofChange: change.value) { return (change.key, value) }
        }
    }
}

/// Entries read in key order, their bytes valid while the transaction lives.
protocol OrderedEntries {
    func nextEntry() throws -> Cursor.Entry?
}
