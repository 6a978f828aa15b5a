import LMDB

/// The ledger as one LMDB transaction sees it: the log's tables and the active views. With a
/// write transaction, it is what the command handler appends through (`LedgerWriting`).
final class LMDBLedgerTransaction<Txn: ReadableTransaction>: LogReading {
    let txn: Txn
    let log: LogTables
    let views: LMDBViews<Txn>
    /// Where the snapshots stand, moved on as this transaction takes them.
    private var snapshots: SnapshotState?
    /// The snapshot entries this transaction took, stored as one run at its end.
    private var taken: [(key: [UInt8], value: [UInt8])] = []
    private var tookSnapshot = false

    private init(_ txn: Txn, log: LogTables, viewTables: [ViewDatabase], snapshots: SnapshotState?) {
        self.txn = txn
        self.log = log
        self.snapshots = snapshots
        views = LMDBViews(txn, tables: viewTables, streams: log.streams, tracksChanges: snapshots != nil)
    }

    convenience init(_ txn: Txn, log: LogTables, viewTables: [ViewDatabase]) {
        self.init(txn, log: log, viewTables: viewTables, snapshots: nil)
    }

    func head() throws -> LogHead { try log.head(txn) }
    func event(at position: UInt64) throws -> RecordedEvent? { try log.event(at: position, txn) }
    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        try log.events(from: from, to: to, limit: limit, txn)
    }
    func positions(ofStream id: EntityID) throws -> [UInt64] { try log.positions(of: id, txn) }
    func streamVersion(of id: EntityID) throws -> UInt32 { try log.streamVersion(of: id, txn) }
    func commandPosition(_ commandID: String) throws -> UInt64? { try log.commandPosition(commandID, txn) }
    func counts() throws -> LogCounts { try log.counts(txn) }
}

extension LMDBLedgerTransaction: LogWriting, LedgerWriting where Txn == WriteTransaction {
    /// A writer's view of the ledger, taking the snapshots for proxies of `signature`.
    convenience init(_ txn: WriteTransaction, log: LogTables, viewTables: [ViewDatabase], snapshotsFor signature: UInt64) throws {
        self.init(txn, log: log, viewTables: viewTables, snapshots: try log.snapshotState(writingFor: signature, txn))
    }

    func record(_ event: RecordedEvent, bytes: [UInt8]) throws {
        let key = Keys.position(event.position)
        try txn.put(log.events, key, bytes, flags: .append)
        try log.streams.add(event.stream.id, key, txn)
        if let commandID = event.commandID { try txn.put(log.commands, Array(commandID.utf8), key, flags: .noOverwrite) }
    }

    func setHead(_ head: LogHead, counts: LogCounts) throws {
        try log.setCounts(counts, txn)
        try log.setHead(head, txn)
    }

    var snapshotInterval: UInt64? { snapshots?.interval }

    func takeSnapshot(at position: UInt64) throws {
        guard var state = snapshots else { return }
        try log.takeSnapshot(at: position, &state, views, into: &taken, txn)
        snapshots = state
        tookSnapshot = true
    }

    func viewsFollowed(through head: UInt64, projections: [(name: String, version: Int)]) throws {
        if var state = snapshots {
            if tookSnapshot { try log.storeSnapshots(&taken, &state, txn) }
            let links = views.takeLinks()
            if !links.isEmpty { try log.storeLinks(links, through: head, &state, txn) }
            snapshots = state
            tookSnapshot = false
            try log.keepPendingRows(views, txn)
        }
        for (name, version) in projections { try log.setProjectionState(name, version: version, checkpoint: head, txn) }
    }
}
