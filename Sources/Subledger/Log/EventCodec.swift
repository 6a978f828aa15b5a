import Crypto
import FoundationEssentials

/// The compact, versioned binary form of an event, and its hash chain.
///
/// Layout of a stored value: `[format=1][type][schema][position:8 BE][stream kind][stream id:16]
/// [version varint][event id:16][at zigzag][recorded_at zigzag][command_id len+bytes][data...]
/// [hash:32]`. The hash covers the previous hash and every byte before it. The same event
/// always gives the same bytes.
public enum EventCodec {
    public static let recordFormat: UInt8 = 1
    public static let hashSize = 32
    /// The hash the first event chains from.
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    /// The bytes that get hashed and stored (without the hash).
    public static func encodeBody(_ e: RecordedEvent) -> [UInt8] {
        var w = BinaryWriter(capacity: 160)
        w.byte(recordFormat)
        w.byte(e.data.type.rawValue)
        w.byte(e.data.schemaVersion)
        w.bigEndian(e.position)
        w.byte(e.stream.kind.rawValue)
        w.id(e.stream.id)
        w.varint(UInt64(e.version))
        w.id(e.eventID)
        w.time(e.at)
        w.time(e.recordedAt)
        if let c = e.commandID { w.string(c) } else { w.varint(0) }
        encodeData(e.data, into: &w)
        return w.bytes
    }

    /// SHA-256 of the previous hash followed by the body.
    public static func chainHash(previous: some ContiguousBytes, body: some ContiguousBytes) -> [UInt8] {
        digest(previous: previous, body: body).bytes
    }

    /// `chainHash`, held inline.
    static func digest(previous: some ContiguousBytes, body: some ContiguousBytes) -> ChainHash {
        var h = SHA256()
        previous.withUnsafeBytes { h.update(bufferPointer: $0) }
        body.withUnsafeBytes { h.update(bufferPointer: $0) }
        return h.finalize().withUnsafeBytes { ChainHash($0) }
    }

    /// Body followed by its chained hash; sets `event.hash`.
    public static func seal(_ event: inout RecordedEvent, previousHash: [UInt8]) -> [UInt8] {
        var bytes = encodeBody(event)
        let hash = digest(previous: previousHash, body: bytes)
        event.chainHash = hash
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    static func encodeData(_ data: EventData, into w: inout BinaryWriter) {
        switch data {
        case .userRegistered(let id, let email, let fullName):
            w.id(id); w.string(email); w.string(fullName)
        case .userRegisteredV1(let id, let email, let fullname):
            w.id(id); w.string(email); w.optionalString(fullname)
        case .userRenamed(let user, let fullName):
            w.id(user); w.string(fullName)
        case .userLoggedIn(let id), .userDeleted(let id), .planDeleted(let id), .groupDeleted(let id),
             .subscriptionCancelled(let id):
            w.id(id)
        case .planCreated(let id, let name, let price, let seats):
            w.id(id); w.string(name); w.signed(price)
            if let seats { w.byte(1); w.signed(seats) } else { w.byte(0) }
        case .groupCreated(let id, let name):
            w.id(id); w.string(name)
        case .subscribed(let a, let b, let c), .planChanged(let a, let b, let c), .memberJoined(let a, let b, let c),
             .memberLeft(let a, let b, let c):
            w.id(a); w.id(b); w.id(c)
        }
    }

    /// Decodes a stored value (body and hash). Corrupt bytes throw, never trap.
    public static func decode(_ stored: UnsafeRawBufferPointer) throws(DecodingError) -> RecordedEvent {
        guard stored.count > hashSize else { throw DecodingError(offset: 0, reason: "record shorter than its hash") }
        let bodyCount = stored.count - hashSize
        var r = BinaryReader(UnsafeRawBufferPointer(rebasing: stored[..<bodyCount]))
        let format = try r.byte()
        guard format == recordFormat else { throw DecodingError(offset: 0, reason: "unknown record format \(format)") }
        let typeCode = try r.byte()
        guard let type = EventType(rawValue: typeCode) else { throw DecodingError(offset: 1, reason: "unknown event type \(typeCode)") }
        let schema = try r.byte()
        let position = try r.bigEndian()
        let kindCode = try r.byte()
        guard let kind = EntityKind(rawValue: kindCode) else { throw DecodingError(offset: 11, reason: "unknown stream kind \(kindCode)") }
        let streamID = try r.id()
        let version = try r.varint()
        guard version >= 1, version <= UInt64(UInt32.max) else { throw DecodingError(offset: r.offset, reason: "bad stream version \(version)") }
        let eventID = try r.id()
        let at = try r.time()
        let recordedAt = try r.time()
        let commandIDLength = try r.varint()
        var commandID: String?
        if commandIDLength > 0 {
            guard commandIDLength <= 128 else { throw DecodingError(offset: r.offset, reason: "command_id too long") }
            guard let s = String(validUTF8: try r.bytes(Int(commandIDLength))) else {
                throw DecodingError(offset: r.offset, reason: "invalid UTF-8")
            }
            commandID = s
        }
        let data = try decodeData(type: type, schema: schema, &r)
        try r.expectEnd()
        guard data.stream == StreamID(kind, streamID) else {
            throw DecodingError(offset: 11, reason: "stream \(StreamID(kind, streamID)) does not match the event's entity")
        }
        let hash = ChainHash(UnsafeRawBufferPointer(rebasing: stored[bodyCount...]))
        return RecordedEvent(position: position, stream: StreamID(kind, streamID), version: UInt32(version),
                             eventID: eventID, at: at, recordedAt: recordedAt, commandID: commandID, data: data, chainHash: hash)
    }

    static func decodeData(type: EventType, schema: UInt8, _ r: inout BinaryReader) throws(DecodingError) -> EventData {
        switch (type, schema) {
        case (.userRegistered, 2): return .userRegistered(id: try r.id(), email: try r.string(), fullName: try r.string())
        case (.userRegistered, 1): return .userRegisteredV1(id: try r.id(), email: try r.string(), fullname: try r.optionalString())
        case (.userRenamed, 1): return .userRenamed(user: try r.id(), fullName: try r.string())
        case (.userLoggedIn, 1): return .userLoggedIn(user: try r.id())
        case (.userDeleted, 1): return .userDeleted(user: try r.id())
        case (.planCreated, 1):
            let id = try r.id(), name = try r.string(), price = try r.signed()
            let seats: Int64?
            switch try r.byte() {
            case 0: seats = nil
            case 1: seats = try r.signed()
            case let b: throw DecodingError(offset: r.offset, reason: "bad presence byte \(b)")
            }
            return .planCreated(id: id, name: name, priceCents: price, seats: seats)
        case (.planDeleted, 1): return .planDeleted(plan: try r.id())
        case (.groupCreated, 1): return .groupCreated(id: try r.id(), name: try r.string())
        case (.groupDeleted, 1): return .groupDeleted(group: try r.id())
        case (.subscribed, 1): return .subscribed(id: try r.id(), user: try r.id(), plan: try r.id())
        case (.planChanged, 1): return .planChanged(subscription: try r.id(), from: try r.id(), to: try r.id())
        case (.subscriptionCancelled, 1): return .subscriptionCancelled(subscription: try r.id())
        case (.memberJoined, 1): return .memberJoined(id: try r.id(), user: try r.id(), group: try r.id())
        case (.memberLeft, 1): return .memberLeft(membership: try r.id(), user: try r.id(), group: try r.id())
        default: throw DecodingError(offset: 2, reason: "unknown schema \(schema) of \(type.name)")
        }
    }
}
