import LMDB

extension Store {
    /// Writes the whole log as JSON Lines, one event a line, exactly as `replay --json` prints
    /// it: every envelope field, positions, hashes in hex, and `data` in its stored schema.
    /// The bytes are deterministic, so export → import → export gives the same file.
    ///
    /// ```swift
    /// try store.export { line in output.append(contentsOf: line) }
    /// ```
    public func export(progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil,
                       _ write: ([UInt8]) throws -> Void) throws {
        let total = try head().position
        // Every line is written straight into this one buffer: no array per event.
        var out = JSONWriter(capacity: 1 << 17)
        try forEachEvent { event in
            event.writeJSON(to: &out)
            out.endLine()
            if out.bytes.count >= 1 << 16 {
                try write(out.bytes)
                out.bytes.removeAll(keepingCapacity: true)
            }
            if event.position % 65_536 == 0 { progress?(event.position, total) }
            return true
        }
        if !out.bytes.isEmpty { try write(out.bytes) }
    }

    /// Writes a consistent, compacted copy of the store (log, views, snapshots, `last_seen`)
    /// into `directory`, a hot backup: it reads one snapshot of the store while other
    /// processes keep reading and writing, and the copy opens as a store of its own.
    /// `directory` is created if missing and must not hold a store yet. Returns the number
    /// of events the copy holds.
    ///
    /// ```swift
    /// let events = try store.backup(to: "/backups/shop-2026-12-01.db")
    /// ```
    @discardableResult
    public func backup(to directory: String) throws(StoreError) -> UInt64 {
        if StoreFiles.exists(directory) { throw StoreError.invalidArgument("\(directory) already holds a store; back up into a new directory") }
        do {
            try env.copy(to: directory, compact: true)
            let copy = try Environment.open(path: directory)
            defer { copy.close() }
            let meta = try copy.database("meta", create: false)
            return try copy.read { txn in try txn.get(meta, LogTables.headKey).map { try LogHead(decoding: $0).position } ?? 0 }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Fills an empty store with an exported log, all or nothing: every line is checked (JSON,
    /// gapless positions from 1, the hash recomputed from the bytes and equal to the one given,
    /// stream versions consecutive, command ids unique, `at` never going back, a known event
    /// schema) inside one write transaction, and the first fault names its line and leaves the
    /// store empty. Then the views and the snapshots are built. Returns the number of events imported.
    ///
    /// ```swift
    /// let count = try store.importLog(from: LineReader(fd: fileDescriptor))
    /// ```
    @discardableResult
    public func importLog(from reader: LineReader,
                          progress: ((_ done: UInt64) -> Void)? = nil) throws(StoreError) -> UInt64 {
        do {
            let imported: UInt64 = try env.write { txn in
                let head = try log.head(txn)
                guard head.position == 0 else {
                    throw StoreError.invalidArgument("import fills an empty store only; this one holds \(head.position) events")
                }
                var appender = try LogAppender(LMDBLedgerTransaction(txn, log: log, viewTables: try viewTables(txn)))
                var lastLine = 0
                while let line = try reader.next() {
                    lastLine = line.number
                    guard let bytes = line.bytes else {
                        throw StoreError.importFault(line: line.number, message: "line longer than \(reader.maxLineBytes) bytes")
                    }
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                    do {
                        try appender.appendImported(try ImportedEvent.parse(bytes))
                    } catch let fault as ImportFault {
                        throw StoreError.importFault(line: line.number, message: fault.message)
                    }
                    if line.number % 65_536 == 0 { progress?(appender.head.position) }
                }
                _ = lastLine
                // The views follow once the whole log is in (a rebuild, below).
                try appender.finish()
                return appender.head.position
            }
            progress?(imported)
            if imported > 0 {
                try rebuild()
                try rebuildSnapshots()
            }
            return imported
        } catch {
            throw StoreError.wrap(error)
        }
    }
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
