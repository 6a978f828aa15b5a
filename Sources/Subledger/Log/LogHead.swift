/// The newest point of the log: what the next append chains from.
public struct LogHead: Equatable, Sendable {
    /// Newest position (0 when the log is empty).
    public var position: UInt64
    /// Hash of the newest event (32 zero bytes when empty).
    public var hash: [UInt8]
    /// The newest `at`: business time never runs backwards past it.
    public var newestAt: Timestamp?

    public static let empty = LogHead(position: 0, hash: EventCodec.genesisHash, newestAt: nil)

    var encoded: [UInt8] {
        var w = BinaryWriter(capacity: 50)
        w.bigEndian(position)
        w.bytes += hash
        w.optionalTime(newestAt)
        return w.bytes
    }

    init(position: UInt64, hash: [UInt8], newestAt: Timestamp?) {
        self.position = position
        self.hash = hash
        self.newestAt = newestAt
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws(DecodingError) {
        var r = BinaryReader(bytes)
        position = try r.bigEndian()
        hash = Array(try r.bytes(32))
        newestAt = try r.optionalTime()
        try r.expectEnd()
    }
}
