import LMDB

/// Where the view snapshots stand: one every `interval` events, taken through `checkpoint`,
/// by the fold of `version`.
struct SnapshotState: Equatable {
    var interval: UInt64
    var version: Int
    var checkpoint: UInt64

    /// The newest snapshot at or before `position` (0: none, the empty views).
    func snapshot(atOrBefore position: UInt64) -> UInt64 { min(position / interval * interval, checkpoint) }

    /// Whether snapshots are missing that the log has grown past.
    func isBehind(head: UInt64) -> Bool { checkpoint < head / interval * interval }
}

extension LogTables {
    static let snapshotsKey = Array("snapshots".utf8)

    func snapshotState(_ txn: some ReadableTransaction) throws -> SnapshotState? {
        guard let v = try txn.get(meta, LogTables.snapshotsKey) else { return nil }
        var r = BinaryReader(v)
        let state = SnapshotState(interval: try r.varint(), version: Int(try r.signed()), checkpoint: try r.bigEndian())
        guard state.interval > 0, state.checkpoint % state.interval == 0 else {
            throw StoreError.corrupt("snapshot record: interval \(state.interval), checkpoint \(state.checkpoint)")
        }
        return state
    }

    func setSnapshotState(_ state: SnapshotState, _ txn: WriteTransaction) throws {
        var w = BinaryWriter(capacity: 20)
        w.varint(state.interval)
        w.signed(Int64(state.version))
        w.bigEndian(state.checkpoint)
        try txn.put(meta, LogTables.snapshotsKey, w.bytes)
    }

    func storeSnapshot(_ changes: [(table: BaseTable, position: UInt64, row: [UInt8]?)], at snapshot: UInt64,
                       _ txn: WriteTransaction) throws {
        for (key, value) in SnapshotKeys.entries(changes, at: snapshot) { try txn.put(snapshots, key, value) }
    }

    /// In a writer's transaction, right after the event at snapshot position `position`: stores
    /// the snapshot from the rows this transaction changed since its previous snapshot position
    /// and those waiting in `pending`, with their values now. When the previous snapshot is
    /// missing (another process is taking them all again), leaves this one to that process.
    func takeSnapshot(at position: UInt64, _ state: inout SnapshotState, _ views: LMDBViews<WriteTransaction>,
                      _ txn: WriteTransaction) throws {
        let mine = views.takeChangedRows()
        var changed = Set(mine.map { LogTables.pendingKey($0.table, $0.position) })
        for (key, _) in try txn.scan(pendingSnapshot) { changed.insert(Array(key)) }
        try txn.clear(pendingSnapshot)
        guard state.checkpoint + state.interval == position else { return }
        var rows: [(table: BaseTable, position: UInt64, row: [UInt8]?)] = []
        rows.reserveCapacity(changed.count)
        for key in changed {
            guard key.count == 9, let table = BaseTable(rawValue: Int(key[0])), table.holdsRows else {
                throw StoreError.corrupt("pending snapshot entry \(hex(key)) is not a row key")
            }
            let p = Keys.readPosition(key, at: 1)
            rows.append((table, p, try views.get(.rows(table), Keys.position(p))))
        }
        try storeSnapshot(rows, at: position, txn)
        state.checkpoint = position
        try setSnapshotState(state, txn)
    }

    /// At the end of a writer's transaction: the rows it changed after its last snapshot
    /// position wait in `pending` for the next one.
    func keepPendingRows(_ views: LMDBViews<WriteTransaction>, _ txn: WriteTransaction) throws {
        for (table, position) in views.takeChangedRows() { try txn.put(pendingSnapshot, LogTables.pendingKey(table, position), []) }
    }

    /// A row changed since the newest snapshot position, waiting for the next snapshot.
    static func pendingKey(_ table: BaseTable, _ position: UInt64) -> [UInt8] { [UInt8(table.rawValue)] + Keys.position(position) }
}

/// Snapshots are taken by the writers themselves: every write transaction tracks the rows it
/// changes; at a snapshot position it stores those, and the ones changed by earlier
/// transactions since the previous snapshot (kept in `snapshots.pending`), with their values
/// at that position. No second fold: the cost is a put per changed row.
extension LMDBStorage {
    /// On open: a new store records its interval; snapshots of another fold version, or of
    /// another interval than the options ask for, are dropped; missing ones are taken.
    func prepareSnapshots(_ txn: WriteTransaction) throws {
        let stored = try log.snapshotState(txn)
        let asked = options.snapshotInterval ?? stored.map { Int($0.interval) } ?? StoreOptions.defaultSnapshotInterval
        guard asked > 0 else { throw StoreError.invalidArgument("the snapshot interval must be at least 1, not \(asked)") }
        let interval = UInt64(asked)
        if let stored, stored.version == SnapshotKeys.version, stored.interval == interval {
            if stored.isBehind(head: try log.head(txn).position) { try takeAllSnapshots(txn) }
            return
        }
        try log.setSnapshotState(SnapshotState(interval: interval, version: SnapshotKeys.version, checkpoint: 0), txn)
        try takeAllSnapshots(txn)
    }

    /// Drops every snapshot and takes them again from the whole log.
    func rebuildSnapshots() throws {
        try env.write { txn in try takeAllSnapshots(txn) }
    }

    /// Folds the whole log afresh and stores every snapshot, and the pending rows after the
    /// newest, in `txn` (under the write lock, so no writer's snapshot can interleave).
    func takeAllSnapshots(_ txn: WriteTransaction) throws {
        guard var state = try log.snapshotState(txn) else { return }
        try txn.clear(log.snapshots)
        try txn.clear(log.pendingSnapshot)
        state.checkpoint = 0
        let head = try log.head(txn).position
        let views = MemoryViews(tableCount: BaseTable.allCases.count, tracksChanges: true)
        var fold = ViewFold(proxies: [])
        var p: UInt64 = 1
        while p <= head {
            let events = try log.events(from: p, to: head, limit: 4096, txn)
            guard let last = events.last else { break }
            for event in events {
                views.noteCreation(of: event)
                try fold.apply(event, to: views)
                if event.position % state.interval == 0 {
                    try log.storeSnapshot(views.takeChanges(), at: event.position, txn)
                    state.checkpoint = event.position
                }
            }
            p = last.position + 1
        }
        for (table, position, _) in views.takeChanges() { try txn.put(log.pendingSnapshot, LogTables.pendingKey(table, position), []) }
        try log.setSnapshotState(state, txn)
    }


    /// The base views after `position`: the newest snapshot at or before it, and the events
    /// since, folded in memory over it. Proxies are not folded: `collectRows` derives them.
    /// With `readingAhead`, the rows of that table in a large snapshot are read in ranges on a
    /// second core meanwhile (`SnapshotRowRanges`).
    func viewsAsOf(_ position: UInt64, _ txn: ReadTransaction,
                   readingAhead table: BaseTable? = nil) throws -> CachedViews<SnapshotViews<ReadTransaction>> {
        let state = try log.snapshotState(txn)
        let from = state?.snapshot(atOrBefore: position) ?? 0
        let ranges = table.flatMap { table in state.flatMap { readAhead(table, at: from, $0) } }
        let next = from + (state?.interval ?? 0)
        let changedAfter: SnapshotViews<ReadTransaction>.ChangedAfter? = state.map {
            next <= $0.checkpoint ? .deletedIn(snapshot: next) : .pending(log.pendingSnapshot)
        }
        let snapshot = try SnapshotViews(txn, snapshots: log.snapshots, streams: log.streams, at: from, ranges: ranges,
                                         live: try viewTables(txn), changedAfter: changedAfter)
        let views = CachedViews(base: snapshot, tableCount: BaseTable.allCases.count)
        var fold = ViewFold(proxies: [])
        var p = from + 1
        while p <= position {
            let events = try log.events(from: p, to: position, limit: 4096, txn)
            guard let last = events.last else { break }
            for event in events { try fold.apply(event, to: views) }
            p = last.position + 1
        }
        return views
    }

    /// How many ranges a snapshot's rows are read in: enough that two threads taking them in
    /// turn end close together, few enough that a range's set-up is nothing beside its rows.
    static let snapshotRanges = 32

    /// Starts reading the rows of `table` at snapshot `at` in ranges on a thread and in a read
    /// transaction of its own, while this thread folds the events after the snapshot; this
    /// thread then reads the ranges nobody has taken. The helper's rows are used only if its
    /// transaction sees the same snapshots: `rebuildSnapshots` may have taken them again
    /// meanwhile, and with another interval they would differ.
    private func readAhead(_ table: BaseTable, at: UInt64, _ state: SnapshotState) -> SnapshotRowRanges? {
        guard at > 0, at >= options.readAheadMinimum, table != .teamPlans else { return nil }
        let env = self.env, log = self.log
        return SnapshotRowRanges(table: table, at: at, count: LMDBStorage.snapshotRanges) { work in
            // Never a wait for the gate: a resize pending in this process waits for the caller's
            // transaction, and the caller may wait for these rows.
            _ = try env.readWithoutWaiting { txn in
                guard let seen = try log.snapshotState(txn), seen.interval == state.interval, seen.version == state.version,
                      seen.checkpoint >= at else { return }
                let cursor = try txn.cursor(log.snapshots)
                defer { cursor.close() }
                work { range, stop in try SnapshotRowRanges.read(table, range, at: at, cursor, stop: stop) }
            }
        }
    }
}
