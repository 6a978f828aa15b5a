/// The JSON form of events, as `replay --json` and `export` print them: every envelope field,
/// the hash in hex, and `data` in the schema the event is stored in. Deterministic bytes.
extension RecordedEvent {
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        w.field("position", Int64(position))
        w.field("stream", stream)
        w.field("version", Int64(version))
        w.field("type", type.name)
        w.field("schema_version", Int64(schemaVersion))
        w.field("event_id", eventID)
        w.field("at", at)
        w.field("recorded_at", recordedAt)
        if let commandID { w.field("command_id", commandID) } else { w.key("command_id"); w.null() }
        w.key("data")
        data.writeJSON(to: &w)
        w.field("hash", hex: hash)
        w.endObject()
    }

    /// One JSON line (without the newline). To write many, call ``writeJSON(to:)`` and
    /// ``JSONWriter/endLine()`` on one writer instead: no array per event.
    public var json: [UInt8] {
        // Room for a typical line (about 460 bytes), so that it is not copied as it grows.
        var w = JSONWriter(capacity: 640)
        writeJSON(to: &w)
        return w.bytes
    }

    /// A short summary of the data, for tables.
    public var summary: String {
        switch data {
        case .userRegistered(_, let email, let name): name.isEmpty ? email : "\(email) \(quoted(name))"
        case .userRegisteredV1(_, let email, let name): name.map { "\(email) \(quoted($0))" } ?? email
        case .userRenamed(_, let name): "full_name \(quoted(name))"
        case .userLoggedIn, .userDeleted, .planDeleted, .groupDeleted, .subscriptionCancelled: ""
        case .planCreated(_, let name, let price, let seats):
            "\(quoted(name)) \(price) cents" + (seats.map { ", \($0) seats" } ?? "")
        case .groupCreated(_, let name): quoted(name)
        case .subscribed(_, let user, let plan): "user \(user) plan \(plan)"
        case .planChanged(_, let from, let to): "plan \(from) → \(to)"
        case .memberJoined(_, let user, let group), .memberLeft(_, let user, let group): "user \(user) group \(group)"
        }
    }
}

extension EventData {
    /// The data object, keyed as the stored schema names its fields.
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        switch self {
        case .userRegistered(let i, let email, let fullName):
            w.field("id", i); w.field("email", email); w.field("full_name", fullName)
        case .userRegisteredV1(let i, let email, let fullname):
            w.field("id", i); w.field("email", email)
            if let fullname { w.field("fullname", fullname) } else { w.key("fullname"); w.null() }
        case .userRenamed(let u, let fullName): w.field("user", u); w.field("full_name", fullName)
        case .userLoggedIn(let u), .userDeleted(let u): w.field("user", u)
        case .planCreated(let i, let name, let price, let seats):
            w.field("id", i); w.field("name", name); w.field("price_cents", price)
            if let seats { w.field("seats", seats) } else { w.key("seats"); w.null() }
        case .planDeleted(let p): w.field("plan", p)
        case .groupCreated(let i, let name): w.field("id", i); w.field("name", name)
        case .groupDeleted(let g): w.field("group", g)
        case .subscribed(let i, let u, let p): w.field("id", i); w.field("user", u); w.field("plan", p)
        case .planChanged(let s, let from, let to): w.field("subscription", s); w.field("from", from); w.field("to", to)
        case .subscriptionCancelled(let s): w.field("subscription", s)
        case .memberJoined(let i, let u, let g): w.field("id", i); w.field("user", u); w.field("group", g)
        case .memberLeft(let m, let u, let g): w.field("membership", m); w.field("user", u); w.field("group", g)
        }
        w.endObject()
    }
}

/// Lower-case hex.
func hex(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    bytes.withUnsafeBytes { raw in out.append(addingCapacity: 2 * raw.count) { $0.appendHex(raw) } }
    return String(decoding: out, as: UTF8.self)
}

/// Reading one exported line back into an event.
enum ImportedEvent {
    static let keys: Set<String> = ["position", "stream", "version", "type", "schema_version", "event_id", "at",
                                    "recorded_at", "command_id", "data", "hash"]

    static func parse(_ bytes: [UInt8]) throws -> RecordedEvent {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch { throw ImportFault("malformed JSON: \(error.message)") }
        guard let object = value.objectValue else { throw ImportFault("not a JSON object") }
        for key in object.keys where !keys.contains(key) { throw ImportFault("unknown field \(quoted(key))") }
        func field(_ key: String) throws -> JSONValue {
            guard let v = object[key] else { throw ImportFault("missing field \(quoted(key))") }
            return v
        }
        func int(_ key: String) throws -> Int64 {
            guard let v = try field(key).intValue else { throw ImportFault("\(key) must be an integer") }
            return v
        }
        func string(_ key: String) throws -> String {
            guard let v = try field(key).stringValue else { throw ImportFault("\(key) must be a string") }
            return v
        }
        func time(_ key: String) throws -> Timestamp {
            guard let t = Timestamp(rfc3339: try string(key)) else { throw ImportFault("\(key) is not an RFC 3339 time") }
            return t
        }
        let position = try int("position")
        guard position >= 1 else { throw ImportFault("position must be at least 1") }
        guard let stream = StreamID(try string("stream")) else { throw ImportFault("stream is not <kind>-<uuid>") }
        let version = try int("version")
        guard version >= 1, version <= Int64(UInt32.max) else { throw ImportFault("version out of range") }
        guard let type = EventType(name: try string("type")) else { throw ImportFault("unknown event type") }
        let schema = try int("schema_version")
        guard let eventID = EntityID(try string("event_id")) else { throw ImportFault("event_id is not a UUID") }
        let commandID: String?
        switch try field("command_id") {
        case .null: commandID = nil
        case .string(let s) where !s.isEmpty && s.utf8.count <= 128: commandID = s
        default: throw ImportFault("command_id must be null or a string of 1 to 128 bytes")
        }
        guard let dataObject = try field("data").objectValue else { throw ImportFault("data must be an object") }
        let data = try EventDataJSON.decode(type: type, schema: schema, dataObject)
        let hashText = try string("hash")
        guard let hash = unhex(hashText), hash.count == EventCodec.hashSize else { throw ImportFault("hash must be 64 hex digits") }
        return RecordedEvent(position: UInt64(position), stream: stream, version: UInt32(version), eventID: eventID,
                             at: try time("at"), recordedAt: try time("recorded_at"), commandID: commandID, data: data, hash: hash)
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// `data` objects back into events, schema by schema: the inverse of `EventData.writeJSON`.
enum EventDataJSON {
    static func decode(type: EventType, schema: Int64, _ o: JSONObject) throws -> EventData {
        var used: Set<String> = []
        func id(_ key: String) throws -> EntityID {
            used.insert(key)
            guard let text = o[key]?.stringValue, let id = EntityID(text) else { throw ImportFault("data.\(key) must be a UUID") }
            return id
        }
        func string(_ key: String) throws -> String {
            used.insert(key)
            guard let s = o[key]?.stringValue else { throw ImportFault("data.\(key) must be a string") }
            return s
        }
        func optionalString(_ key: String) throws -> String? {
            used.insert(key)
            switch o[key] {
            case .null?: return nil
            case .string(let s)?: return s
            default: throw ImportFault("data.\(key) must be a string or null")
            }
        }
        func int(_ key: String) throws -> Int64 {
            used.insert(key)
            guard let v = o[key]?.intValue else { throw ImportFault("data.\(key) must be an integer") }
            return v
        }
        func optionalInt(_ key: String) throws -> Int64? {
            used.insert(key)
            switch o[key] {
            case .null?: return nil
            case .int(let v)?: return v
            default: throw ImportFault("data.\(key) must be an integer or null")
            }
        }
        let known: Set<UInt8> = type == .userRegistered ? [1, 2] : [1]
        guard schema >= 0, schema <= 255, known.contains(UInt8(schema)) else {
            throw ImportFault("\(type.name) has no schema version \(schema)")
        }
        let data: EventData
        switch type {
        case .userRegistered where schema == 1:
            data = .userRegisteredV1(id: try id("id"), email: try string("email"), fullname: try optionalString("fullname"))
        case .userRegistered: data = .userRegistered(id: try id("id"), email: try string("email"), fullName: try string("full_name"))
        case .userRenamed: data = .userRenamed(user: try id("user"), fullName: try string("full_name"))
        case .userLoggedIn: data = .userLoggedIn(user: try id("user"))
        case .userDeleted: data = .userDeleted(user: try id("user"))
        case .planCreated:
            data = .planCreated(id: try id("id"), name: try string("name"), priceCents: try int("price_cents"),
                                seats: try optionalInt("seats"))
        case .planDeleted: data = .planDeleted(plan: try id("plan"))
        case .groupCreated: data = .groupCreated(id: try id("id"), name: try string("name"))
        case .groupDeleted: data = .groupDeleted(group: try id("group"))
        case .subscribed: data = .subscribed(id: try id("id"), user: try id("user"), plan: try id("plan"))
        case .planChanged: data = .planChanged(subscription: try id("subscription"), from: try id("from"), to: try id("to"))
        case .subscriptionCancelled: data = .subscriptionCancelled(subscription: try id("subscription"))
        case .memberJoined: data = .memberJoined(id: try id("id"), user: try id("user"), group: try id("group"))
        case .memberLeft: data = .memberLeft(membership: try id("membership"), user: try id("user"), group: try id("group"))
        }
        for key in o.keys where !used.contains(key) { throw ImportFault("data has an unknown field \(quoted(key))") }
        return data
    }
}

/// Streams in JSON: a string of the stream's name (`user-<uuid>`).
extension JSONWriter {
    /// Writes a stream as a string of its name (``StreamID/description``: `user-<uuid>`).
    public mutating func stream(_ stream: StreamID) {
        appendSeparated(maxCount: StreamID.maxTextLength + 2) { $0.appendQuoted(stream) }
        needsComma = true
    }

    /// `key(k)` then ``stream(_:)``.
    public mutating func field(_ k: StaticString, _ stream: StreamID) {
        member(k, maxCount: StreamID.maxTextLength + 2) { $0.appendQuoted(stream) }
    }
}

extension OutputSpan<UInt8> {
    @inline(__always)
    mutating func appendQuoted(_ stream: StreamID) {
        var kind = stream.kind.description
        kind.withUTF8 { kind in
            append(0x22)
            append(copying: kind)
            append(0x2D)
            stream.id.writeText(to: &self)
            append(0x22)
        }
    }
}
