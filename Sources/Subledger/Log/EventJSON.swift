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
