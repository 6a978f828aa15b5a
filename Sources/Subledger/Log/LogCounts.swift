/// Running totals of the log, kept beside its head and updated once per write transaction.
struct LogCounts {
    var streams = 0
    var types = [Int](repeating: 0, count: EventType.allCases.count)

    init() {}

    /// Reads the counts as `encoded` wrote them (none stored: all zero).
    init(decoding bytes: UnsafeRawBufferPointer?) throws {
        guard let bytes else { return }
        var r = BinaryReader(bytes)
        streams = Int(try r.varint())
        for i in types.indices { types[i] = Int(try r.varint()) }
    }

    var encoded: [UInt8] {
        var w = BinaryWriter(capacity: 32)
        w.varint(UInt64(streams))
        for c in types { w.varint(UInt64(c)) }
        return w.bytes
    }

    mutating func count(_ e: RecordedEvent) {
        if e.version == 1 { streams += 1 }
        types[Int(e.type.rawValue) - 1] += 1
    }
}

