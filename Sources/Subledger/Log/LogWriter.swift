import LMDB

/// Appends within one write transaction: runs commands through the rules, seals events into
/// the hash chain, indexes them, and folds them into the views before the transaction commits.
///
/// The views are written straight through to the LMDB tables (a write-back cache in front
/// measured slower here: most keys of a batch are touched once), tracking the rows changed
/// for the next snapshot.
struct LogWriter {
    let store: Store
    let txn: WriteTransaction
    let views: LMDBViews<WriteTransaction>
    var head: LogHead
    var fold: ViewFold
    var counts: LogCounts
    let headAtStart: UInt64
    var snapshots: SnapshotState?

    init(store: Store, txn: WriteTransaction) throws {
        self.store = store
        self.txn = txn
        fold = ViewFold(proxies: store.proxies)
        snapshots = try store.log.snapshotState(txn)
        views = LMDBViews(txn, tables: try store.viewTables(txn), streams: store.log.streams, tracksChanges: snapshots != nil)
        head = try store.log.head(txn)
        headAtStart = head.position
        counts = try LogCounts(txn, meta: store.log.meta)
    }

    /// Runs one command through the checks of SPEC §5, in order: (validation happened when it
    /// was decoded) → `command_id` → monotonic `at` → domain rules.
    mutating func execute(_ envelope: CommandEnvelope) throws -> Outcome {
        let log = store.log
        if let commandID = envelope.commandID, let p = try log.commandPosition(commandID, txn) {
            return .duplicate(positions: [p], created: try log.event(at: p, txn).flatMap(createdID))
        }
        let at: Timestamp
        if let given = envelope.at {
            if let newest = head.newestAt, given < newest { return .rejected(.atBeforeNewest(at: given, newest: newest)) }
            at = given
        } else {
            at = max(store.options.clock(), head.newestAt ?? Timestamp(microseconds: .min))
        }
        let decider = Decider(state: views, newID: store.options.newID)
        switch try decider.decide(envelope.command) {
        case .failure(let rejection):
            return .rejected(rejection)
        case .success(let data):
            let event = try append(data, at: at, commandID: envelope.commandID)
            return .applied(position: event.position, created: createdID(event))
        }
    }

    /// The low-level append: checks the stream's expected version, then appends.
    mutating func appendChecked(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp?,
                                commandID: String?) throws -> RecordedEvent {
        let stream = data.stream
        let version = try store.log.streamVersion(of: stream.id, txn)
        switch expectedVersion {
        case .any: break
        case .noStream where version == 0: break
        case .exact(let v) where v == version: break
        default: throw StoreError.wrongExpectedVersion(stream: stream, expected: expectedVersion, actual: version)
        }
        if version > 0, let first = try store.log.positions(of: stream.id, txn).first,
           let creator = try store.log.event(at: first, txn), creator.stream.kind != stream.kind {
            throw StoreError.invalidArgument("id \(stream.id) belongs to stream \(creator.stream), not \(stream)")
        }
        if let commandID, try store.log.commandPosition(commandID, txn) != nil {
            throw StoreError.invalidArgument("command_id \(quoted(commandID)) was already applied")
        }
        let newest = head.newestAt ?? Timestamp(microseconds: .min)
        if let at, at < newest { throw Rejection.atBeforeNewest(at: at, newest: newest) }
        return try append(data, at: at ?? max(store.options.clock(), newest), commandID: commandID)
    }

    /// Seals and stores one event, indexes it, and folds it into every view.
    mutating func append(_ data: EventData, at: Timestamp, commandID: String?) throws -> RecordedEvent {
        let log = store.log
        let position = head.position + 1
        let stream = data.stream
        let version = try log.streamVersion(of: stream.id, txn) + 1
        var event = RecordedEvent(position: position, stream: stream, version: version, eventID: store.options.newID(),
                                  at: at, recordedAt: store.options.clock(), commandID: commandID, data: data)
        let bytes = EventCodec.seal(&event, previousHash: head.hash)
        try record(event, bytes: bytes)
        try fold.apply(event, to: views)
        if var state = snapshots, position % state.interval == 0 {
            try store.takeSnapshot(at: position, &state, views, txn)
            snapshots = state
        }
        return event
    }

    /// Writes a sealed event into the log and its indexes, and moves the head; the views are
    /// the caller's business (live appends fold at once, an import rebuilds at the end).
    mutating func record(_ event: RecordedEvent, bytes: [UInt8]) throws {
        let log = store.log
        let key = Keys.position(event.position)
        try txn.put(log.events, key, bytes, flags: .append)
        try txn.put(log.streams, event.stream.id.raw, key, flags: .appendDup)
        if let commandID = event.commandID { try txn.put(log.commands, Array(commandID.utf8), key, flags: .noOverwrite) }
        head = LogHead(position: event.position, hash: event.hash, newestAt: max(event.at, head.newestAt ?? event.at))
        counts.count(event)
    }

    /// Writes the views' changes, the new head and every projection's checkpoint.
    func finish(viewsFollowed: Bool = true) throws {
        guard head.position != headAtStart else { return }
        let log = store.log
        try counts.write(txn, meta: log.meta)
        try log.setHead(head, txn)
        guard viewsFollowed else { return }
        if snapshots != nil { try store.keepPendingRows(views, txn) }
        try log.setProjectionState(BaseViews.name, version: BaseViews.version, checkpoint: head.position, txn)
        for proxy in store.proxies {
            try log.setProjectionState(proxy.name, version: proxy.version, checkpoint: head.position, txn)
        }
    }

    func createdID(_ event: RecordedEvent) -> EntityID? {
        event.data.createsEntity ? event.stream.id : nil
    }
}
