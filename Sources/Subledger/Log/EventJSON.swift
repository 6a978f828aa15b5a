/// The JSON form of events, as `replay --json` and `export` print them: every envelope field,
/// the hash in hex, and `data` in the schema the event is stored in. Deterministic bytes.
extension RecordedEvent {
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        w.key("position"); w.int(Int64(position))
        w.key("stream"); w.stream(stream)
        w.key("version"); w.int(Int64(version))
        w.key("type"); w.string(type.name)
        w.key("schema_version"); w.int(Int64(schemaVersion))
        w.key("event_id"); w.id(eventID)
        w.key("at"); w.time(at)
        w.key("recorded_at"); w.time(recordedAt)
        w.key("command_id")
        if let commandID { w.string(commandID) } else { w.null() }
        w.key("data")
        data.writeJSON(to: &w)
        w.key("hash"); w.hex(hash)
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
        func id(_ key: StaticString, _ v: EntityID) { w.key(key); w.id(v) }
        switch self {
        case .userRegistered(let i, let email, let fullName):
            id("id", i); w.key("email"); w.string(email); w.key("full_name"); w.string(fullName)
        case .userRegisteredV1(let i, let email, let fullname):
            id("id", i); w.key("email"); w.string(email); w.key("fullname")
            if let fullname { w.string(fullname) } else { w.null() }
        case .userRenamed(let u, let fullName): id("user", u); w.key("full_name"); w.string(fullName)
        case .userLoggedIn(let u), .userDeleted(let u): id("user", u)
        case .planCreated(let i, let name, let price, let seats):
            id("id", i); w.key("name"); w.string(name); w.key("price_cents"); w.int(price); w.key("seats")
            if let seats { w.int(seats) } else { w.null() }
        case .planDeleted(let p): id("plan", p)
        case .groupCreated(let i, let name): id("id", i); w.key("name"); w.string(name)
        case .groupDeleted(let g): id("group", g)
        case .subscribed(let i, let u, let p): id("id", i); id("user", u); id("plan", p)
        case .planChanged(let s, let from, let to): id("subscription", s); id("from", from); id("to", to)
        case .subscriptionCancelled(let s): id("subscription", s)
        case .memberJoined(let i, let u, let g): id("id", i); id("user", u); id("group", g)
        case .memberLeft(let m, let u, let g): id("membership", m); id("user", u); id("group", g)
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
