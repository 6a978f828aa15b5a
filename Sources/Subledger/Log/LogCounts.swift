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

    subscript(_ type: EventType) -> Int { types[Int(type.rawValue) - 1] }

    /// No count above `events`: the most a log of that many events can hold of anything
    /// (a damaged counts record then promises no more than the log has).
    func clamped(to events: Int) -> LogCounts {
        var out = self
        out.streams = min(max(streams, 0), events)
        out.types = types.map { min(max($0, 0), events) }
        return out
    }

    mutating func count(_ e: RecordedEvent) {
        if e.version == 1 { streams += 1 }
        types[Int(e.type.rawValue) - 1] += 1
    }
}

