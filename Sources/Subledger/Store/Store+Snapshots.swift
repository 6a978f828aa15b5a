import LMDB

/// Where the view snapshots stand: one every `interval` events, taken through `checkpoint`,
/// by the fold of `version`.
struct SnapshotState: Equatable {
    var interval: UInt64
    var version: Int
    var checkpoint: UInt64

    /// The newest snapshot at or before `position` (0: none, the empty views).
    func snapshot(atOrBefore position: UInt64) -> UInt64 { min(position / interval * interval, checkpoint) }
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
}

extension Store {
    /// The snapshot interval of a new store, unless `StoreOptions.snapshotInterval` says otherwise.
    public static let defaultSnapshotInterval = 4096

    /// On open: a new store records its interval; snapshots of another fold version, or of
    /// another interval than the options ask for, are dropped and taken again as the log grows.
    func prepareSnapshots(_ txn: WriteTransaction) throws -> SnapshotState {
        let stored = try log.snapshotState(txn)
        let asked = options.snapshotInterval ?? stored.map { Int($0.interval) } ?? Store.defaultSnapshotInterval
        guard asked > 0 else { throw StoreError.invalidArgument("the snapshot interval must be at least 1, not \(asked)") }
        let interval = UInt64(asked)
        if let stored, stored.version == BaseViews.version, stored.interval == interval { return stored }
        let fresh = SnapshotState(interval: interval, version: BaseViews.version, checkpoint: 0)
        try txn.clear(log.snapshots)
        try log.setSnapshotState(fresh, txn)
        return fresh
    }

    /// Takes the snapshots that the log has grown past, oldest first, each in a write
    /// transaction of its own, at most `limit` of them. Each folds the events of its window
    /// into the previous snapshot and stores what changed. Returns how many were taken.
    ///
    /// Writers call this as the log crosses a snapshot position; it is also safe to call at any
    /// time, from any process.
    @discardableResult
    public func updateSnapshots(limit: Int = .max) throws(StoreError) -> Int {
        var taken = 0
        do {
            while taken < limit, try env.write({ txn in try takeSnapshot(txn) }) { taken += 1 }
        } catch {
            throw StoreError.wrap(error)
        }
        return taken
    }

    /// Takes the next snapshot in `txn` when the log has grown past it; false when none is due.
    func takeSnapshot(_ txn: WriteTransaction) throws -> Bool {
        guard var state = try log.snapshotState(txn) else { return false }
        let next = state.checkpoint + state.interval
        guard next <= (try log.head(txn).position) else { return false }
        let views = CachedViews(base: try SnapshotViews(txn, snapshots: log.snapshots, streams: log.streams, at: state.checkpoint),
                                tableCount: BaseTable.allCases.count, tracksChanges: true)
        var fold = ViewFold(proxies: [])
        for event in try log.events(from: state.checkpoint + 1, to: next, limit: Int(state.interval), txn) {
            try fold.apply(event, to: views)
        }
        for (table, key, value) in views.takeChanges() {
            try txn.put(log.snapshots, SnapshotKeys.key(table: table, key, at: next), SnapshotKeys.value(value))
        }
        state.checkpoint = next
        try log.setSnapshotState(state, txn)
        return true
    }

    /// Drops every snapshot and takes them again from the whole log.
    public func rebuildSnapshots() throws(StoreError) {
        do {
            try env.write { txn in
                guard var state = try log.snapshotState(txn) else { return }
                try txn.clear(log.snapshots)
                state.checkpoint = 0
                try log.setSnapshotState(state, txn)
            }
        } catch {
            throw StoreError.wrap(error)
        }
        try updateSnapshots()
    }

    /// The base views after `position`: the newest snapshot at or before it, and the events
    /// since, folded in memory over it. Proxies are not folded: `collectRows` derives them.
    func viewsAsOf(_ position: UInt64, _ txn: ReadTransaction) throws -> CachedViews<SnapshotViews<ReadTransaction>> {
        let from = try log.snapshotState(txn)?.snapshot(atOrBefore: position) ?? 0
        let views = CachedViews(base: try SnapshotViews(txn, snapshots: log.snapshots, streams: log.streams, at: from),
                                tableCount: BaseTable.allCases.count)
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
}
