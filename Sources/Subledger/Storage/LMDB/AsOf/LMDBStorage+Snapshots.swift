import LMDB

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
}
