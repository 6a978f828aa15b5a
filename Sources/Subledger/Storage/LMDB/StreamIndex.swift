import LMDB

/// The log's stream index: entity id → the positions of its stream's events, as sorted
/// duplicates, so the first is its creation, the count its version, and "an id ever used" one
/// look-up.
///
/// Most commands add a position under an old entity: a random leaf of a tree of every event.
/// Like a view table's (`ViewDatabase`), a large index takes new positions in a delta, merged
/// into `main` in key order once it holds an eighth as many. A merge moves a prefix of the
/// delta in (id, position) order, and positions only grow, so each stream's positions in
/// `main` all come before its positions in the delta.
struct StreamIndex {
    let main: Database
    let delta: Database
    /// The size from which positions go to the delta.
    let directBelow: Int

    /// The position of the event that created `id` (its stream's first), if any.
    func creation(of id: EntityID, _ txn: some ReadableTransaction) throws -> UInt64? {
        if let first = try txn.get(main, id.raw) { return Keys.readPosition(first) }
        guard try Deltas.holdsChanges(delta, txn) else { return nil }
        return try txn.get(delta, id.raw).map { Keys.readPosition($0) }
    }

    /// The positions of an entity's stream, oldest first.
    func positions(of id: EntityID, _ txn: some ReadableTransaction) throws -> [UInt64] {
        let merged = try txn.duplicates(main, id.raw).map { Keys.readPosition($0) }
        guard try Deltas.holdsChanges(delta, txn) else { return merged }
        return merged + (try txn.duplicates(delta, id.raw).map { Keys.readPosition($0) })
    }

    /// How many events the entity's stream holds.
    func version(of id: EntityID, _ txn: some ReadableTransaction) throws -> UInt32 {
        UInt32(try txn.duplicateCount(main, id.raw) + (Deltas.holdsChanges(delta, txn) ? txn.duplicateCount(delta, id.raw) : 0))
    }

    /// Lists `position` (8 bytes) in the stream of `id`, after its other positions.
    func add(_ id: EntityID, _ position: [UInt8], _ txn: WriteTransaction) throws {
        let large = try Deltas.takesChanges(delta, of: main, directBelow: directBelow, txn)
        try txn.put(large ? delta : main, id.raw, position, flags: .appendDup)
    }

    /// Every (id, position) entry in key order, the delta's merged in: on a common id the tree's
    /// entries come first, and they are its stream's earlier positions.
    func scan(_ txn: some ReadableTransaction) throws -> MergedEntries {
        try MergedEntries([txn.scan(main, from: nil, to: nil, reverse: false), txn.scan(delta, from: nil, to: nil, reverse: false)])
    }

    func isMergeDue(floor: Int, _ txn: some ReadableTransaction) throws -> Bool {
        try Deltas.isMergeDue(delta, of: main, floor: floor, txn)
    }

    /// Moves up to `limit` entries of the delta into `main` (`Deltas.merge`). A plain put: a
    /// damaged index out of order is for verify to report, not a merge to refuse.
    func merge(limit: Int, _ txn: WriteTransaction) throws -> Bool {
        try Deltas.merge(delta, into: main, limit: limit, txn) { target, id, position in try target.put(id, position) }
    }
}
