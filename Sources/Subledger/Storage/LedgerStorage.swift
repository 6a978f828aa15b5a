/// A place that keeps a ledger: the log and its indexes, the views, their snapshots, and
/// `last_seen`. `Store` runs on one; the rules, the fold and the log's format stay above it,
/// in the command handler, the projections and the log appender, which every backend shares.
///
/// Each call is its own transaction: a batch of commands commits whole, with its events,
/// index entries and view changes, or not at all.
protocol LedgerStorage: AnyObject, Sendable {
    /// Where the ledger lives, as a person names it (never with a password).
    var location: String { get }
    /// Every projection the views hold: the built-in proxies and the application's.
    var proxies: [Proxy] { get }
    func close()

    // MARK: Commands

    /// The most commands `exec` gives `execute` at once.
    var maxBatch: Int { get }
    /// Runs the commands in order in one transaction through `CommandHandler`, durably unless
    /// `durable` is false.
    func execute(batch: [Result<CommandEnvelope, Rejection>], durable: Bool) throws -> [Outcome]
    /// Appends one event below the rules, checking its stream's version.
    func append(_ data: EventData, expectedVersion: ExpectedVersion, at: Timestamp?, commandID: String?) throws -> RecordedEvent

    // MARK: The log

    func head() throws -> LogHead
    func event(at position: UInt64) throws -> RecordedEvent?
    /// Up to `limit` events from `from` through `to`, in order, from one consistent read.
    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent]
    /// The positions of an entity's stream, oldest first.
    func positions(ofStream id: EntityID) throws -> [UInt64]
    /// Blocks until the head is past `position`, without busy-waiting.
    func waitForAppend(after position: UInt64) throws
    /// Fills an empty ledger from exported lines, checking the chain, then builds the views.
    func importLog(from reader: LineReader, progress: ((_ done: UInt64) -> Void)?) throws -> UInt64

    // MARK: Views

    /// A view's rows in its order, filtered and limited; with `asOf`, as after that position.
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf: UInt64?) throws -> [ViewRow]
    /// The rows of base view `view` of the entities `ids`, in that order (those of nothing
    /// then left out); with `asOf`, as after that position.
    func rows(of view: BaseView, ids: [EntityID], asOf: UInt64?) throws -> [ViewRow]
    func projections() throws -> [ProjectionInfo]
    func setLastSeen(user: Reference, at: Timestamp) throws
    func forgetLastSeen(user: Reference) throws

    // MARK: Maintenance

    /// Rebuilds every view from the log while readers and writers go on; returns the events folded.
    func rebuild(progress: ((_ done: UInt64, _ total: UInt64) -> Void)?) throws -> UInt64
    /// Drops the snapshots and takes them again from the whole log.
    func rebuildSnapshots() throws
    /// Checks the chain, the indexes, the views and the snapshots against a fresh fold.
    func verify(progress: ((_ done: UInt64, _ total: UInt64) -> Void)?) throws -> VerifyReport
    func stats() throws -> StoreStats
    /// Writes a consistent copy of the ledger to `directory`; returns the events it holds.
    func backup(to directory: String) throws -> UInt64
    /// A digest of everything stored (the log, its indexes, the views, the snapshots,
    /// `last_seen`): two ledgers with equal digests hold the same.
    func contentDigest() throws -> [UInt8]
}

extension LedgerStorage {
    /// The whole view, kept where the ids are: a storage that can find a row by id does better.
    func rows(of view: BaseView, ids: [EntityID], asOf: UInt64?) throws -> [ViewRow] {
        var byID: [EntityID: ViewRow] = [:]
        for row in try rows(of: view.rawValue, filter: ViewFilter(), limit: nil, asOf: asOf) {
            if case .id(let id)? = row["id"] { byID[id] = row }
        }
        return ids.compactMap { byID[$0] }
    }

    /// Calls `body` with the events of `from...to` in log order, a batch (one read) at a time,
    /// until it returns false: a long replay never holds one read open.
    func forEachBatch(from: UInt64 = 1, to: UInt64? = nil, batchSize: Int = 4096,
                      _ body: ([RecordedEvent]) throws -> Bool) throws {
        var next = max(from, 1)
        let last = to ?? .max
        while next <= last {
            let events = try events(from: next, to: last, limit: batchSize)
            guard let end = events.last?.position, try body(events) else { return }
            next = end + 1
        }
    }

    /// Every view folded afresh in memory from the first `position` events. With `counts` (the
    /// log's, no larger than it), its tables are sized for them up front. With `versions`, the versions
    /// of rows the fold makes are handed to it after each batch of events.
    func foldedViews(through position: UInt64, reserving counts: LogCounts? = nil,
                     progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil,
                     versions: ((inout RowVersions) throws -> Void)? = nil) throws -> MemoryViews {
        var fold = ViewFold(proxies: proxies)
        let views = MemoryViews(proxies: proxies)
        guard position > 0 else { return views }
        if let counts { views.reserve(for: counts) }
        let recorder = versions.map { _ in VersionRecorder(views) }
        // Reading and decoding here, folding on a second core.
        try Pipeline<FoldBatch>.run(consume: { batch in
            try views.forEachEvent(in: batch) { event in
                if let recorder {
                    recorder.changing = event.position
                    try fold.apply(event, to: recorder)
                } else {
                    try fold.apply(event, to: views)
                }
            }
            if let recorder, let versions { try versions(&recorder.versions) }
        }) { send in
            var next: UInt64 = 1
            try forEachBatch(to: position) { events in
                try events.checkGapless(from: next, through: position)
                let first = events[0], last = events[events.count - 1]
                next = last.position + 1
                guard send(FoldBatch(events)) else { return false }
                if last.position / 65_536 > (first.position - 1) / 65_536 { progress?(last.position, position) }
                return true
            }
            if next <= position { throw StoreError.missingEvent(next, through: position) }
        }
        progress?(position, position)
        return views
    }
}
