/// Appends to the log inside one write transaction: seals each event into the hash chain,
/// records it with its indexes, and moves the head and the counts once at the end. Everything
/// about the log's format and order lives here; what an event means does not.
struct LogAppender<Log: LogWriting> {
    let log: Log
    private(set) var head: LogHead
    private(set) var counts: LogCounts
    /// The head when the transaction began.
    let start: LogHead

    init(_ log: Log) throws {
        self.log = log
        head = try log.head()
        start = head
        counts = try log.counts()
    }

    /// Whether anything was appended in this transaction.
    var appended: Bool { head.position != start.position }

    /// Seals a new event at the next position of the log and of its stream, and records it.
    mutating func append(_ data: EventData, eventID: EntityID, at: Timestamp, recordedAt: Timestamp,
                         commandID: String?) throws -> RecordedEvent {
        let version = try log.streamVersion(of: data.stream.id) + 1
        var event = RecordedEvent(position: head.position + 1, stream: data.stream, version: version, eventID: eventID,
                                  at: at, recordedAt: recordedAt, commandID: commandID, data: data)
        let bytes = EventCodec.seal(&event, previousHash: head.hash)
        try record(event, bytes: bytes)
        return event
    }

    /// Appends an exported event as it is, after the chain's checks (`checkImported`): its
    /// hash must be what sealing its bytes onto the head gives.
    mutating func appendImported(_ event: RecordedEvent) throws {
        try checkImported(event)
        var sealed = event
        let bytes = EventCodec.seal(&sealed, previousHash: head.hash)
        guard sealed.chainHash == event.chainHash else {
            throw ImportFault("hash \(hex(event.hash)) does not match the event's bytes and the previous hash (\(hex(sealed.hash)))")
        }
        try record(sealed, bytes: bytes)
    }

    /// Appends every line of an export (blank lines skipped), checking each; the first fault
    /// names its line. Returns the head's position at the end.
    mutating func importLines(from reader: LineReader, progress: ((_ done: UInt64) -> Void)?) throws -> UInt64 {
        guard head.position == 0 else {
            throw StoreError.invalidArgument("import fills an empty store only; this one holds \(head.position) events")
        }
        while let line = try reader.next() {
            guard let bytes = line.bytes else {
                throw StoreError.importFault(line: line.number, message: "line longer than \(reader.maxLineBytes) bytes")
            }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                try appendImported(try ImportedEvent.parse(bytes))
            } catch let fault as ImportFault {
                throw StoreError.importFault(line: line.number, message: fault.message)
            }
            if line.number % 65_536 == 0 { progress?(head.position) }
        }
        return head.position
    }

    private mutating func record(_ event: RecordedEvent, bytes: [UInt8]) throws {
        try log.record(event, bytes: bytes)
        head = LogHead(position: event.position, hash: event.hash, newestAt: max(event.at, head.newestAt ?? event.at))
        counts.count(event)
    }

    /// Writes the head and the counts, when anything was appended.
    func finish() throws {
        guard appended else { return }
        try log.setHead(head, counts: counts)
    }

    /// The business time of a new event: the given `at`, which may not go back past the
    /// newest one, or the clock's now clamped to it.
    func at(_ given: Timestamp?, now: @autoclosure () -> Timestamp) throws(Rejection) -> Timestamp {
        let newest = head.newestAt ?? Timestamp(microseconds: .min)
        guard let given else { return max(now(), newest) }
        if given < newest { throw Rejection.atBeforeNewest(at: given, newest: newest) }
        return given
    }

    /// The chain's rules for an imported event: the next position, the stream's next version,
    /// an id of one kind of stream only, a command id not seen before, business time not going back.
    func checkImported(_ event: RecordedEvent) throws {
        guard event.position == head.position + 1 else {
            throw ImportFault("position \(event.position), expected \(head.position + 1) (positions are gapless from 1)")
        }
        guard event.data.stream == event.stream else {
            throw ImportFault("stream \(event.stream) does not match its data (\(event.data.stream))")
        }
        let positions = try log.positions(ofStream: event.stream.id)
        guard event.version == positions.count + 1 else {
            throw ImportFault("stream \(event.stream) version \(event.version), expected \(positions.count + 1)")
        }
        if let first = positions.first, let creator = try log.event(at: first), creator.stream.kind != event.stream.kind {
            throw ImportFault("id \(event.stream.id) already belongs to stream \(creator.stream)")
        }
        if event.version == 1 && !event.data.createsEntity {
            throw ImportFault("stream \(event.stream) starts with \(event.type.name), which creates nothing")
        }
        if let commandID = event.commandID, try log.commandPosition(commandID) != nil {
            throw ImportFault("command_id \(quoted(commandID)) appears twice")
        }
        if let newest = head.newestAt, event.at < newest {
            throw ImportFault("at \(event.at.rfc3339) is before the previous event's \(newest.rfc3339)")
        }
    }
}

/// Why one imported line was refused.
struct ImportFault: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
