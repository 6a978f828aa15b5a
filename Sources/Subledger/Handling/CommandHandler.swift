/// Runs commands inside one write transaction: the checks of a command's envelope
/// (`command_id`, then business time), the rules, then the append of its event, the fold of
/// the views and, at a snapshot position, the snapshot. It is given what it needs: the
/// transaction, the proxies, a clock and a maker of ids.
struct CommandHandler<Txn: LedgerWriting> {
    let txn: Txn
    private var appender: LogAppender<Txn>
    private var fold: ViewFold
    private let clock: () -> Timestamp
    private let newID: () -> EntityID

    init(_ txn: Txn, proxies: [Proxy], clock: @escaping () -> Timestamp, newID: @escaping () -> EntityID) throws {
        self.txn = txn
        appender = try LogAppender(txn)
        fold = ViewFold(proxies: proxies)
        self.clock = clock
        self.newID = newID
    }

    /// The log's head: as the transaction found it, until a command appends.
    var head: LogHead { appender.head }

    /// Runs commands in order; items that failed to parse pass through as rejections, so
    /// outcomes line up with the input. A rejected command appends nothing and undoes nothing.
    /// `readAhead`, if any, is told which command it is on.
    mutating func execute(_ batch: some Collection<Result<CommandEnvelope, Rejection>>, readAhead: ReadAhead? = nil) throws -> [Outcome] {
        try batch.enumerated().map { (index, item) -> Outcome in
            readAhead?.writerReached(index)
            switch item {
            case .failure(let r): return .rejected(r)
            case .success(let command): return try execute(command)
            }
        }
    }

    /// Runs one command through the checks, in order: (validation happened when it was
    /// decoded) → `command_id` → monotonic `at` → domain rules.
    mutating func execute(_ envelope: CommandEnvelope) throws -> Outcome {
        if let commandID = envelope.commandID, let p = try txn.commandPosition(commandID) {
            return .duplicate(positions: [p], created: try txn.event(at: p).flatMap(\.createdID))
        }
        let at: Timestamp
        do { at = try appender.at(envelope.at, now: clock()) } catch { return .rejected(error) }
        switch try Decider(state: txn.views, newID: newID).decide(envelope.command) {
        case .failure(let rejection):
            return .rejected(rejection)
        case .success(let data):
            let event = try append(data, at: at, commandID: envelope.commandID)
            return .applied(position: event.position, created: event.createdID)
        }
    }

    /// The low-level append below the rules: checks the stream's expected version, then appends.
    mutating func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp?,
                         commandID: String?) throws -> RecordedEvent {
        let stream = data.stream
        let version = try txn.streamVersion(of: stream.id)
        switch expectedVersion {
        case .any: break
        case .noStream where version == 0: break
        case .exact(let v) where v == version: break
        default: throw StoreError.wrongExpectedVersion(stream: stream, expected: expectedVersion, actual: version)
        }
        if version > 0, let first = try txn.positions(ofStream: stream.id).first,
           let creator = try txn.event(at: first), creator.stream.kind != stream.kind {
            throw StoreError.invalidArgument("id \(stream.id) belongs to stream \(creator.stream), not \(stream)")
        }
        if let commandID, try txn.commandPosition(commandID) != nil {
            throw StoreError.invalidArgument("command_id \(quoted(commandID)) was already applied")
        }
        return try append(data, at: try appender.at(at, now: clock()), commandID: commandID)
    }

    /// Appends one event, folds it into every view, and takes the snapshot when one is due.
    private mutating func append(_ data: EventData, at: Timestamp, commandID: String?) throws -> RecordedEvent {
        let event = try appender.append(data, eventID: newID(), at: at, recordedAt: clock(), commandID: commandID)
        try fold.apply(event, to: txn.views)
        if let interval = txn.snapshotInterval, event.position % interval == 0 { try txn.takeSnapshot(at: event.position) }
        return event
    }

    /// Writes the head, and the projections' checkpoints with it.
    func finish() throws {
        guard appender.appended else { return }
        try appender.finish()
        try txn.viewsFollowed(through: appender.head.position, projections: fold.projections)
    }
}

extension RecordedEvent {
    /// The id of the entity this event created, if it created one.
    var createdID: EntityID? { data.createsEntity ? stream.id : nil }
}
