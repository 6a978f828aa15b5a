import LMDB

/// The databases of the log and what lives beside it.
///
/// - `log.events`: position (8 bytes, big-endian) → stored event, written with append.
/// - `log.streams`: entity id → the positions of its stream's events (sorted duplicates), so
///   the first is its creation, the count its version, and "an id ever used" one look-up;
///   `log.streams.delta`: those not merged into it yet (`StreamIndex`).
/// - `log.commands`: `command_id` → the position its command appended.
/// - `meta`: the head record, the format version.
/// - `projections`: each projection's version and checkpoint.
/// - `last_seen`: the volatile property, outside the log.
/// - `snapshots`, `snapshots.1` and on: the runs of view snapshots of `--as-of` (see
///   `SnapshotKeys`, `SnapshotRuns`); `snapshots.pending`:
///   the rows changed since the newest snapshot position, for the next snapshot;
///   `snapshots.links`, `snapshots.links.1` and on: the runs of links, every row ever listed by
///   a relation or a proxy (`SnapshotLinks`).
struct LogTables {
    let events: Database
    let streams: StreamIndex
    let commands: Database
    let meta: Database
    let projections: Database
    let lastSeen: Database
    /// The databases snapshot runs live in, by slot (`SnapshotRuns`).
    let snapshotSlots: [Database]
    let pendingSnapshot: Database
    /// The databases runs of links live in, by slot.
    let linkSlots: [Database]

    init(_ txn: WriteTransaction, deltaThreshold: Int) throws {
        events = try txn.openDatabase("log.events", flags: [], create: true)
        streams = StreamIndex(main: try txn.openDatabase("log.streams", flags: [.dupSort, .dupFixed], create: true),
                              delta: try txn.openDatabase("log.streams.delta", flags: [.dupSort, .dupFixed], create: true),
                              directBelow: deltaThreshold)
        commands = try txn.openDatabase("log.commands", flags: [], create: true)
        meta = try txn.openDatabase("meta", flags: [], create: true)
        projections = try txn.openDatabase("projections", flags: [], create: true)
        lastSeen = try txn.openDatabase("last_seen", flags: [], create: true)
        snapshotSlots = try (0..<SnapshotRuns.slots).map { try txn.openDatabase(SnapshotRuns.name(ofSlot: $0), flags: [], create: true) }
        pendingSnapshot = try txn.openDatabase("snapshots.pending", flags: [], create: true)
        linkSlots = try (0..<SnapshotRuns.linkSlots).map { try txn.openDatabase(SnapshotRuns.name(ofLinkSlot: $0), flags: [], create: true) }
    }

    static let headKey = Array("head".utf8)
    static let generationKey = Array("views.generation".utf8)
    /// The token of the rebuild filling the inactive generation.
    static let rebuildKey = Array("views.rebuild".utf8)

    /// Which of the two view generations is active (0 or 1).
    func activeGeneration(_ txn: some ReadableTransaction) throws -> Int {
        guard let v = try txn.get(meta, LogTables.generationKey) else { return 0 }
        return v.first == 1 ? 1 : 0
    }

    func setActiveGeneration(_ g: Int, _ txn: WriteTransaction) throws {
        try txn.put(meta, LogTables.generationKey, [UInt8(g)])
    }
    static let formatKey = Array("format".utf8)
    /// The store format this code writes and reads. 2: relation and proxy indexes may have
    /// deltas (`ViewDatabase`), which a reader of format 1 would not see; 3: every view table
    /// may, rows included, which a reader of format 2 would not see.
    static let formatVersion: UInt32 = 3

    /// Writes the format version into a new store, and into a store of an older format (whose
    /// new deltas are empty: it reads the same); refuses a store of a newer format.
    func checkFormat(_ txn: WriteTransaction) throws {
        if let stored = try txn.get(meta, LogTables.formatKey) {
            guard stored.count == 4 else { throw StoreError.corrupt("format record has \(stored.count) bytes") }
            let version = stored.loadUnaligned(as: UInt32.self).bigEndian
            if version > LogTables.formatVersion { throw StoreError.newerFormat(found: version, supported: LogTables.formatVersion) }
            if version == LogTables.formatVersion { return }
        }
        try txn.put(meta, LogTables.formatKey, withUnsafeBytes(of: LogTables.formatVersion.bigEndian) { Array($0) })
    }

    func head(_ txn: some ReadableTransaction) throws -> LogHead {
        guard let bytes = try txn.get(meta, LogTables.headKey) else { return .empty }
        do { return try LogHead(decoding: bytes) } catch { throw StoreError.corrupt("head record: \(error)") }
    }

    func setHead(_ head: LogHead, _ txn: WriteTransaction) throws {
        try txn.put(meta, LogTables.headKey, head.encoded)
    }

    static let countsKey = Array("counts".utf8)

    func counts(_ txn: some ReadableTransaction) throws -> LogCounts {
        try LogCounts(decoding: try txn.get(meta, LogTables.countsKey))
    }

    /// The stored counts as a hint for sizing a whole-log fold: none above the log's entry
    /// count (a damaged record then sizes nothing), nil when they do not decode.
    func sizingCounts(_ txn: some ReadableTransaction) -> LogCounts? {
        try? counts(txn).clamped(to: txn.entries(events))
    }

    func setCounts(_ counts: LogCounts, _ txn: WriteTransaction) throws {
        try txn.put(meta, LogTables.countsKey, counts.encoded)
    }

    func event(at position: UInt64, _ txn: some ReadableTransaction) throws -> RecordedEvent? {
        guard let bytes = try txn.get(events, Keys.position(position)) else { return nil }
        return try decode(bytes, at: position)
    }

    func decode(_ bytes: UnsafeRawBufferPointer, at position: UInt64) throws -> RecordedEvent {
        do {
            let e = try EventCodec.decode(bytes)
            guard e.position == position else { throw StoreError.corrupt("event stored at position \(position) says \(e.position)") }
            return e
        } catch let e as DecodingError {
            throw StoreError.corrupt("event at position \(position): \(e)")
        }
    }

    /// Up to `limit` events from `from` through `to`.
    func events(from: UInt64, to: UInt64, limit: Int, _ txn: some ReadableTransaction) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        out.reserveCapacity(min(limit, 4096))
        for (key, value) in try txn.scan(events, from: Keys.position(from), to: nil, reverse: false) {
            let p = Keys.readPosition(key)
            if p > to || out.count == limit { break }
            out.append(try decode(value, at: p))
        }
        return out
    }

    /// Calls `body` with every event from `from` through `last`, read in batches; throws when the
    /// log lacks one (`checkGapless`).
    func forEachEvent(from: UInt64, through last: UInt64, _ txn: some ReadableTransaction,
                      _ body: (RecordedEvent) throws -> Void) throws {
        var p = from
        while p <= last {
            let batch = try events(from: p, to: last, limit: 4096, txn)
            try batch.checkGapless(from: p, through: last)
            for event in batch { try body(event) }
            p += UInt64(batch.count)
        }
    }

    /// The positions of an entity's stream, oldest first.
    func positions(of id: EntityID, _ txn: some ReadableTransaction) throws -> [UInt64] {
        try streams.positions(of: id, txn)
    }

    func streamVersion(of id: EntityID, _ txn: some ReadableTransaction) throws -> UInt32 {
        try streams.version(of: id, txn)
    }

    func commandPosition(_ commandID: String, _ txn: some ReadableTransaction) throws -> UInt64? {
        guard let v = try txn.get(commands, Array(commandID.utf8)) else { return nil }
        return Keys.readPosition(v)
    }

    struct ProjectionState {
        var version: Int
        var checkpoint: UInt64
    }

    func projectionState(_ name: String, _ txn: some ReadableTransaction) throws -> ProjectionState? {
        guard let v = try txn.get(projections, Array(name.utf8)) else { return nil }
        var r = BinaryReader(v)
        return ProjectionState(version: Int(try r.signed()), checkpoint: try r.bigEndian())
    }

    func setProjectionState(_ name: String, version: Int, checkpoint: UInt64, _ txn: WriteTransaction) throws {
        var w = BinaryWriter(capacity: 16)
        w.signed(Int64(version))
        w.bigEndian(checkpoint)
        try txn.put(projections, Array(name.utf8), w.bytes)
    }
}
