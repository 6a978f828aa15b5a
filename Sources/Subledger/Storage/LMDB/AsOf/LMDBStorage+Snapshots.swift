import LMDB

extension LogTables {
    static let snapshotsKey = Array("snapshots".utf8)

    func snapshotState(_ txn: some ReadableTransaction) throws -> SnapshotState? {
        guard let v = try txn.get(meta, LogTables.snapshotsKey) else { return nil }
        var r = BinaryReader(v)
        var state = SnapshotState(interval: try r.varint(), version: Int(try r.signed()), checkpoint: try r.bigEndian())
        // Records of layout 2 and before end here, of layout 4 after the proxies; their version
        // makes them taken again.
        if !r.isAtEnd { state.proxies = try r.bigEndian() }
        func runs() throws -> [SnapshotRun] {
            guard !r.isAtEnd else { return [] }
            return try (0..<(try r.varint())).map { _ in
                SnapshotRun(slot: Int(try r.varint()), through: try r.bigEndian(), count: try r.varint())
            }
        }
        state.runs = try runs()
        state.linkRuns = try runs()
        guard state.interval > 0, state.checkpoint % state.interval == 0 else {
            throw StoreError.corrupt("snapshot record: interval \(state.interval), checkpoint \(state.checkpoint)")
        }
        if let fault = SnapshotRuns.fault(in: state) { throw StoreError.corrupt("snapshot record: \(fault)") }
        return state
    }

    func setSnapshotState(_ state: SnapshotState, _ txn: WriteTransaction) throws {
        try txn.put(meta, LogTables.snapshotsKey, LogTables.encoded(state))
    }

    /// The bytes of a snapshot record.
    static func encoded(_ state: SnapshotState) -> [UInt8] {
        var w = BinaryWriter(capacity: 28)
        w.varint(state.interval)
        w.signed(Int64(state.version))
        w.bigEndian(state.checkpoint)
        w.bigEndian(state.proxies)
        for runs in [state.runs, state.linkRuns] {
            w.varint(UInt64(runs.count))
            for run in runs {
                w.varint(UInt64(run.slot))
                w.bigEndian(run.through)
                w.varint(run.count)
            }
        }
        return w.bytes
    }

    /// Where a writer that keeps the proxies of `signature` stands. Snapshots kept for other
    /// proxies (another process opened the store with another list since) are marked stale:
    /// this writer cannot keep them, and the next open takes them all again.
    func snapshotState(writingFor signature: UInt64, _ txn: WriteTransaction) throws -> SnapshotState? {
        guard var state = try snapshotState(txn) else { return nil }
        if state.proxies == signature { return state }
        if state.checkpoint > 0 || state.version != LogTables.staleSnapshots {
            state.version = LogTables.staleSnapshots
            state.checkpoint = 0
            // The runs stay in their slots, unlisted, until the next open takes them all again.
            state.runs = []
            state.linkRuns = []
            try setSnapshotState(state, txn)
        }
        return nil
    }

    /// The version of a snapshot record whose snapshots no longer hold.
    static let staleSnapshots = -1

    /// In a writer's transaction, right after the event at snapshot position `position`: adds
    /// to `taken` the entries of the snapshot, from the rows this transaction changed since its
    /// previous snapshot position and those waiting in `pending`, with their values now. When
    /// the previous snapshot is missing (another process is taking them all again), leaves this
    /// one to that process.
    func takeSnapshot(at position: UInt64, _ state: inout SnapshotState, _ views: LMDBViews<WriteTransaction>,
                      into taken: inout [(key: [UInt8], value: [UInt8])], _ txn: WriteTransaction) throws {
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
        taken += SnapshotKeys.entries(rows, at: position)
        state.checkpoint = position
    }

    /// Stores the snapshots taken (`taken`, then emptied) as the newest run, and the record
    /// that lists it.
    func storeSnapshots(_ taken: inout [(key: [UInt8], value: [UInt8])], _ state: inout SnapshotState,
                        _ txn: WriteTransaction) throws {
        try SnapshotRuns.add(&taken, through: state.checkpoint, to: &state.runs, snapshotSlots, txn)
        try setSnapshotState(state, txn)
    }

    /// Stores the links a writer's transaction put (any order, maybe repeated) as the newest
    /// run of links, those no run holds yet (a row may leave a relation more than once), and
    /// the record that lists it.
    func storeLinks(_ links: [[UInt8]], through head: UInt64, _ state: inout SnapshotState, _ txn: WriteTransaction) throws {
        var fresh: [(key: [UInt8], value: [UInt8])] = []
        for link in Set(links) where try !SnapshotRuns.contains(link, in: state.linkRuns, linkSlots, txn) { fresh.append((link, [])) }
        try SnapshotRuns.add(&fresh, through: head, to: &state.linkRuns, linkSlots, txn)
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
/// at that position. It links each row a relation or a proxy lists as it first does
/// (`SnapshotLinks`). No second fold: the cost is a put per changed row and per new link.
extension LMDBStorage {
    /// The signature of this store's proxies, as snapshot records hold it.
    var proxiesSignature: UInt64 { SnapshotState.signature(of: proxies) }

    /// On open: a new store records its interval; snapshots of another fold version, of
    /// another interval than the options ask for, or of other proxies are dropped; missing
    /// ones are taken.
    func prepareSnapshots(_ txn: WriteTransaction) throws {
        let stored = try log.snapshotState(txn)
        let asked = options.snapshotInterval ?? stored.map { Int($0.interval) } ?? StoreOptions.defaultSnapshotInterval
        guard asked > 0 else { throw StoreError.invalidArgument("the snapshot interval must be at least 1, not \(asked)") }
        let interval = UInt64(asked)
        if let stored, stored.version == SnapshotKeys.version, stored.interval == interval, stored.proxies == proxiesSignature {
            if stored.isBehind(head: try log.head(txn).position) { try takeAllSnapshots(txn) }
            return
        }
        try log.setSnapshotState(SnapshotState(interval: interval, version: SnapshotKeys.version, checkpoint: 0,
                                               proxies: proxiesSignature), txn)
        try takeAllSnapshots(txn)
    }

    /// Drops every snapshot and takes them again from the whole log.
    func rebuildSnapshots() throws {
        try env.write { txn in try takeAllSnapshots(txn) }
    }

    /// Folds the whole log afresh and stores every snapshot, the rows waiting after the
    /// newest, and every link, in `txn` (under the write lock, so no writer's snapshot can
    /// interleave).
    func takeAllSnapshots(_ txn: WriteTransaction) throws {
        guard var state = try log.snapshotState(txn) else { return }
        try SnapshotRuns.clear(log.snapshotSlots, &state.runs, txn)
        try SnapshotRuns.clear(log.linkSlots, &state.linkRuns, txn)
        try txn.clear(log.pendingSnapshot)
        state.checkpoint = 0
        state.version = SnapshotKeys.version
        state.proxies = proxiesSignature
        let head = try log.head(txn).position
        var fold = ViewFold(proxies: proxies)
        let views = MemoryViews(proxies: proxies, tracksChanges: true)
        var taken: [(key: [UInt8], value: [UInt8])] = []
        try log.forEachEvent(from: 1, through: head, txn) { event in
            views.noteCreation(of: event)
            try fold.apply(event, to: views)
            if event.position % state.interval == 0 {
                taken += SnapshotKeys.entries(views.takeChanges(), at: event.position)
                state.checkpoint = event.position
                // Runs of about a million entries bound the memory; the merges join them.
                if taken.count >= 1 << 20 { try SnapshotRuns.add(&taken, through: state.checkpoint, to: &state.runs, log.snapshotSlots, txn) }
            }
        }
        try SnapshotRuns.add(&taken, through: state.checkpoint, to: &state.runs, log.snapshotSlots, txn)
        for (table, position, _) in views.takeChanges() { try txn.put(log.pendingSnapshot, LogTables.pendingKey(table, position), []) }
        try SnapshotRuns.add(views.sortedLinks(), through: head, to: &state.linkRuns, log.linkSlots, txn)
        try log.setSnapshotState(state, txn)
    }
}
