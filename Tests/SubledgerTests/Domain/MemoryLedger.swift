@testable import Subledger

/// The command handler's port (`LedgerWriting`) held in memory: a log as arrays and
/// dictionaries, the views as `MemoryViews`. The rules and the fold run on it exactly as they run
/// on a store, with nothing stored; what it gives back is what the domain alone decides.
final class MemoryLedger: LedgerWriting {
    private(set) var log: [RecordedEvent] = []
    private var streams: [EntityID: [UInt64]] = [:]
    private var commands: [String: UInt64] = [:]
    private var storedHead = LogHead.empty
    private var storedCounts = LogCounts()
    let views = MemoryViews(proxies: Proxy.builtIn)
    var snapshotInterval: UInt64? { nil }

    private let ids = IDCounter()
    private let clock: () -> Timestamp

    init(clock: @escaping () -> Timestamp = { Timestamp(microseconds: 1_767_225_600_000_000) }) {
        self.clock = clock
    }

    /// Runs lines through the command handler in one batch, as a store's `execute` would.
    func execute(_ lines: [String]) throws -> [Outcome] {
        var handler = try CommandHandler(self, proxies: Proxy.builtIn, clock: clock, newID: { self.ids.next() })
        let outcomes = try handler.execute(lines.map { CommandDecoder.decode(line: $0) })
        try handler.finish()
        return outcomes
    }

    /// What the rules say of `line` on the state now, without applying it.
    func decide(_ line: String) throws -> Result<EventData, Rejection> {
        let envelope = try CommandDecoder.decode(line: line).get()
        return try Decider(state: views, newID: { self.ids.next() }).decide(envelope.command)
    }

    func head() throws -> LogHead { storedHead }
    func event(at position: UInt64) throws -> RecordedEvent? {
        position >= 1 && position <= UInt64(log.count) ? log[Int(position - 1)] : nil
    }
    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent] {
        Array(log.dropFirst(Int(from - 1)).prefix { $0.position <= to }.prefix(limit))
    }
    func positions(ofStream id: EntityID) throws -> [UInt64] { streams[id] ?? [] }
    func streamVersion(of id: EntityID) throws -> UInt32 { UInt32(streams[id]?.count ?? 0) }
    func commandPosition(_ commandID: String) throws -> UInt64? { commands[commandID] }
    func counts() throws -> LogCounts { storedCounts }

    func record(_ event: RecordedEvent, bytes: [UInt8]) throws {
        log.append(event)
        streams[event.stream.id, default: []].append(event.position)
        if let commandID = event.commandID { commands[commandID] = event.position }
        views.noteCreation(of: event)
    }

    func setHead(_ head: LogHead, counts: LogCounts) throws {
        storedHead = head
        storedCounts = counts
    }

    func takeSnapshot(at position: UInt64) throws {}
    func viewsFollowed(through head: UInt64, projections: [(name: String, version: Int)]) throws {}

    /// A view's rows as the store shows them, read from the memory views.
    func rows(of view: BaseView) throws -> [AnyRow] {
        var out: [AnyRow] = []
        try views.forEachRow(of: view) { out.append($1); return true }
        return out
    }
}
