import LMDB

/// Verify's check of the log's two indexes on LMDB, the stream index and the command index.
///
/// The log scan records each event's stream and command id by position; each index is read in
/// its own key order, a slice at a time while the producer would otherwise wait on the fold,
/// into the same shape; then the two are compared position by position. A look-up per event
/// instead lands on a random page of a large tree each time: slower, and it maps pages all
/// over the file into the process.
struct LogIndexCheck {
    /// Positions the log holds, or its head names if fewer: the index entries up to there are
    /// kept in arrays. (A damaged head may name any position: it sizes nothing by itself.)
    private let head: Int
    /// By `position - 1`: the event's stream, and the stream the index lists it under (nil: not
    /// listed; any id, the nil UUID included, can be a stream's).
    private var logStreams: [EntityID] = []
    private var indexStreams: [EntityID?]
    /// By `position - 1`: a hash of the event's `command_id`, and of the id the index points there (0: none).
    private var logCommands: [UInt64] = []
    private var indexCommands: [UInt64]
    /// Index entries past the head (a damaged head or index): few, kept aside.
    private var streamsPastHead: [UInt64: EntityID?] = [:]
    private var commandsPastHead: [UInt64: UInt64] = [:]
    private var streamEntries: MergedEntries?
    private var commandEntries: CursorSequence?
    /// A fault found while reading an index (an entry that cannot be right wherever it points).
    private var fault: VerifyFault?

    init(head: UInt64, _ log: LogTables, _ txn: ReadTransaction) throws {
        self.head = min(Int(clamping: head), try txn.entries(log.events))
        logStreams.reserveCapacity(self.head)
        logCommands.reserveCapacity(self.head)
        indexStreams = Array(repeating: nil, count: self.head)
        indexCommands = Array(repeating: 0, count: self.head)
        streamEntries = try log.streams.scan(txn)
        commandEntries = try txn.scan(log.commands, from: nil, to: nil, reverse: false)
    }

    /// Records the event at the next position.
    mutating func record(_ event: RecordedEvent) {
        logStreams.append(event.stream.id)
        if var id = event.commandID {
            logCommands.append(id.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) })
        } else {
            logCommands.append(0)
        }
    }

    /// Reads up to `count` more index entries; false once both indexes are read (or one is
    /// found damaged).
    mutating func step(_ count: Int, _ release: inout PageRelease) throws -> Bool {
        guard fault == nil else { return false }
        for _ in 0..<count {
            if let entries = streamEntries {
                guard let (key, value) = try entries.nextEntry() else {
                    streamEntries = nil
                    continue
                }
                guard key.count == 16, value.count == 8 else {
                    fault = VerifyFault(area: "stream index", message: "an entry of a \(key.count)-byte key and a \(value.count)-byte value is not a stream and a position")
                    return false
                }
                let p = Keys.readPosition(value), id = EntityID(raw: key)
                guard p >= 1, !Self.claim(p, id, in: &indexStreams, pastHead: &streamsPastHead, head: head, empty: nil) else {
                    fault = VerifyFault(position: p, area: "stream index", message: "it lists position \(p) under id \(id), and under another one or as position 0")
                    return false
                }
            } else if let entries = commandEntries {
                guard let (key, value) = try entries.nextEntry() else {
                    commandEntries = nil
                    return false
                }
                guard value.count == 8 else {
                    fault = VerifyFault(area: "command index", message: "command_id \(Self.name(key)) has a \(value.count)-byte value, not a position")
                    return false
                }
                let p = Keys.readPosition(value)
                guard p >= 1, !Self.claim(p, Self.hash(key), in: &indexCommands, pastHead: &commandsPastHead, head: head, empty: 0) else {
                    fault = VerifyFault(position: p, area: "command index", message: "command_id \(Self.name(key)) points at position \(p), as another one does, or at position 0")
                    return false
                }
            } else {
                return false
            }
            try release.read()
        }
        return true
    }

    /// Sets the index's entry for position `p`; true if it already had one.
    private static func claim<T: Equatable>(_ p: UInt64, _ value: T, in slots: inout [T], pastHead: inout [UInt64: T], head: Int, empty: T) -> Bool {
        if p <= UInt64(head) {
            if slots[Int(p - 1)] != empty { return true }
            slots[Int(p - 1)] = value
            return false
        }
        return pastHead.updateValue(value, forKey: p) != nil
    }

    /// After the log scan: reads what is left of the indexes, then compares them with the log,
    /// position by position. The first fault, or nil.
    mutating func finish(_ log: LogTables, _ txn: ReadTransaction, _ release: inout PageRelease) throws -> VerifyFault? {
        while try step(4096, &release) {}
        if let fault { return fault }
        defer { (logStreams, indexStreams, logCommands, indexCommands) = ([], [], [], []) }
        // Every position the log or the head has, then those only a damaged index names.
        let known = UInt64(max(logStreams.count, head))
        for p in UInt64(1)..<known + 1 {
            if let fault = try compare(at: p, log, txn) { return fault }
        }
        for p in Set(streamsPastHead.keys).union(commandsPastHead.keys).filter({ $0 > known }).sorted() {
            if let fault = try compare(at: p, log, txn) { return fault }
        }
        return nil
    }

    /// What the log has at `p` against what the indexes say it has.
    private func compare(at p: UInt64, _ log: LogTables, _ txn: ReadTransaction) throws -> VerifyFault? {
        let i = Int(p - 1)
        let inLog = i < logStreams.count ? logStreams[i] : nil
        let listed = i < head ? indexStreams[i] : streamsPastHead[p] ?? nil
        if inLog != listed {
            guard let listed else {
                let stream = try log.event(at: p, txn)?.stream.description ?? "\(inLog!)"
                return VerifyFault(position: p, area: "stream index", message: "stream \(stream) does not list this event")
            }
            return VerifyFault(position: p, area: "stream index", message: "it lists position \(p) under id \(listed), not the stream of an event there")
        }
        let command = i < logCommands.count ? logCommands[i] : 0
        let pointed = i < head ? indexCommands[i] : commandsPastHead[p] ?? 0
        guard command != pointed else { return nil }
        guard pointed != 0 else {
            let id = try log.event(at: p, txn)?.commandID.map(quoted) ?? "?"
            return VerifyFault(position: p, area: "command index", message: "command_id \(id) does not point at this event")
        }
        return VerifyFault(position: p, area: "command index", message: "a command_id points at position \(p), an event without it")
    }

    /// Never 0, which stands for no `command_id`. Keyed afresh in each process.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(bytes: bytes)
        return UInt64(bitPattern: Int64(h.finalize())) | 1
    }

    private static func name(_ key: UnsafeRawBufferPointer) -> String { quoted(String(decoding: key, as: UTF8.self)) }
}
