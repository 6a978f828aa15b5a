/// An event as it stands in the log: its envelope and its data.
public struct RecordedEvent: Equatable, Sendable {
    /// Global position, gapless from 1.
    public var position: UInt64
    public var stream: StreamID
    /// Version within the stream, from 1.
    public var version: UInt32
    public var eventID: EntityID
    /// Business time.
    public var at: Timestamp
    /// When the store appended it.
    public var recordedAt: Timestamp
    public var commandID: String?
    /// The data as stored (possibly an older schema); projectors read `data.upcast`.
    public var data: EventData
    /// SHA-256 over the previous event's hash and this event's stored bytes (32 zero bytes
    /// before the event is sealed).
    public var hash: [UInt8] { chainHash.bytes }
    /// `hash`, held inline.
    var chainHash: ChainHash

    /// `hash` is 32 bytes, or empty for an event not sealed yet.
    public init(position: UInt64, stream: StreamID, version: UInt32, eventID: EntityID, at: Timestamp,
                recordedAt: Timestamp, commandID: String?, data: EventData, hash: [UInt8] = []) {
        precondition(hash.isEmpty || hash.count == EventCodec.hashSize, "an event's hash is 32 bytes")
        self.init(position: position, stream: stream, version: version, eventID: eventID, at: at, recordedAt: recordedAt,
                  commandID: commandID, data: data, chainHash: ChainHash(hash) ?? .zero)
    }

    init(position: UInt64, stream: StreamID, version: UInt32, eventID: EntityID, at: Timestamp,
         recordedAt: Timestamp, commandID: String?, data: EventData, chainHash: ChainHash) {
        self.position = position
        self.stream = stream
        self.version = version
        self.eventID = eventID
        self.at = at
        self.recordedAt = recordedAt
        self.commandID = commandID
        self.data = data
        self.chainHash = chainHash
    }

    public var type: EventType { data.type }
    public var schemaVersion: UInt8 { data.schemaVersion }
}

extension [RecordedEvent] {
    /// Throws unless this batch, read from position `next` on, holds each position once and in
    /// order, and is not empty. The log holds every position through its head; a fold reading
    /// through `last` over a gap would be wrong without a word, or wait for it forever.
    func checkGapless(from next: UInt64, through last: UInt64) throws(StoreError) {
        guard !isEmpty else { throw .missingEvent(next, through: last) }
        var expected = next
        for event in self {
            guard event.position == expected else { throw .missingEvent(expected, through: last) }
            expected += 1
        }
    }
}
