/// Appends the compact binary encoding used by events, rows and keys.
///
/// Integers are little-endian varints (signed ones zig-zagged), strings a varint length and
/// their UTF-8 bytes. Keys that must sort use the big-endian helpers instead.
public struct BinaryWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public mutating func byte(_ v: UInt8) { bytes.append(v) }

    @inlinable public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable public mutating func signed(_ v: Int64) {
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    @inlinable public mutating func bigEndian(_ v: UInt64) {
        bytes.appendBigEndian(v)
    }

    /// A timestamp as a key that sorts in time order (sign bit flipped, big-endian).
    @inlinable public mutating func sortableTime(_ t: Timestamp) {
        bigEndian(UInt64(bitPattern: t.microseconds) ^ (1 << 63))
    }

    @inlinable public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    @inlinable public mutating func optionalString(_ s: String?) {
        if let s { byte(1); string(s) } else { byte(0) }
    }

    @inlinable public mutating func id(_ v: EntityID) { v.append(to: &bytes) }

    @inlinable public mutating func optionalID(_ v: EntityID?) {
        if let v { byte(1); id(v) } else { byte(0) }
    }

    @inlinable public mutating func time(_ t: Timestamp) { signed(t.microseconds) }

    @inlinable public mutating func optionalTime(_ t: Timestamp?) {
        if let t { byte(1); time(t) } else { byte(0) }
    }
}

/// Why bytes could not be decoded: corrupt or truncated data is an error, never a trap.
public struct DecodingError: Error, Equatable, CustomStringConvertible, Sendable {
    public var offset: Int
    public var reason: String
    public var description: String { "undecodable bytes at offset \(offset): \(reason)" }
}

/// Reads what `BinaryWriter` wrote, bounds-checked.
public struct BinaryReader: ~Copyable {
    @usableFromInline let base: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        base = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset == base.count }
    public var remaining: Int { base.count - offset }

    func fail(_ reason: String) -> DecodingError { DecodingError(offset: offset, reason: reason) }

    @inline(__always)
    public mutating func byte() throws(DecodingError) -> UInt8 {
        guard offset < base.count else { throw fail("truncated") }
        defer { offset += 1 }
        return base[offset]
    }

    public mutating func varint() throws(DecodingError) -> UInt64 {
        // Times take 8 bytes and a row holds two or three: reading them a byte at a time through
        // `byte()` showed in profiles of `--as-of`.
        guard let p = base.baseAddress else { throw fail("truncated") }
        // Up to 8 bytes (values below 2^56: every time of this era) from one word load: the
        // first byte with its top bit clear ends the varint, the 7-bit groups are packed by
        // halving steps.
        if base.count - offset >= 8 {
            let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let ends = ~word & 0x8080_8080_8080_8080
            if ends != 0 {
                let bits = ends.trailingZeroBitCount + 1  // through the last byte's top bit
                var x = (bits == 64 ? word : word & ((1 &<< UInt64(bits)) &- 1)) & 0x7F7F_7F7F_7F7F_7F7F
                x = ((x & 0x7F00_7F00_7F00_7F00) &>> 1) | (x & 0x007F_007F_007F_007F)
                x = ((x & 0x3FFF_0000_3FFF_0000) &>> 2) | (x & 0x0000_3FFF_0000_3FFF)
                x = ((x & 0x0FFF_FFFF_0000_0000) &>> 4) | (x & 0x0000_0000_0FFF_FFFF)
                offset += bits / 8
                return x
            }
        }
        var i = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < base.count {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            // At shift 63 only 0 or 1 fits; either ends the varint, so it is never longer than 10 bytes.
            if shift == 63 && b > 1 { offset = i; throw fail("varint overflow") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { offset = i; return result }
            shift += 7
        }
        offset = i
        throw fail("truncated")
    }

    public mutating func signed() throws(DecodingError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    public mutating func bigEndian() throws(DecodingError) -> UInt64 {
        guard remaining >= 8 else { throw fail("truncated") }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(base[offset + i]) }
        offset += 8
        return v
    }

    public mutating func sortableTime() throws(DecodingError) -> Timestamp {
        Timestamp(microseconds: Int64(bitPattern: try bigEndian() ^ (1 << 63)))
    }

    @inline(__always)
    public mutating func bytes(_ n: Int) throws(DecodingError) -> UnsafeRawBufferPointer {
        guard n >= 0, remaining >= n else { throw fail("truncated") }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: base[offset..<offset + n])
    }

    public mutating func string() throws(DecodingError) -> String {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw fail("string length \(n) past the end") }
        guard let s = String(validUTF8: try bytes(Int(n))) else { throw fail("invalid UTF-8") }
        return s
    }

    public mutating func optionalString() throws(DecodingError) -> String? {
        switch try byte() {
        case 0: return nil
        case 1: return try string()
        case let b: throw fail("bad presence byte \(b)")
        }
    }

    @inline(__always)
    public mutating func id() throws(DecodingError) -> EntityID {
        EntityID(raw: try bytes(16))
    }

    public mutating func optionalID() throws(DecodingError) -> EntityID? {
        switch try byte() {
        case 0: return nil
        case 1: return try id()
        case let b: throw fail("bad presence byte \(b)")
        }
    }

    public mutating func time() throws(DecodingError) -> Timestamp { Timestamp(microseconds: try signed()) }

    public mutating func optionalTime() throws(DecodingError) -> Timestamp? {
        switch try byte() {
        case 0: return nil
        case 1: return try time()
        case let b: throw fail("bad presence byte \(b)")
        }
    }

    public func expectEnd() throws(DecodingError) {
        guard isAtEnd else { throw fail("\(remaining) trailing bytes") }
    }
}

extension String {
    /// The text of `utf8`, or nil when it is not valid UTF-8: `String(validating: utf8, as: UTF8.self)`,
    /// which on raw bytes copies them into an array and looks up generic metadata on every call
    /// (a third of decoding an event). ASCII, which is always valid, skips that.
    init?(validUTF8 utf8: UnsafeRawBufferPointer) {
        if utf8.isASCII {
            self = utf8.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
        } else {
            guard let s = String(validating: utf8, as: UTF8.self) else { return nil }
            self = s
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether every byte is below 0x80, checked eight bytes at a time.
    var isASCII: Bool {
        var k = 0
        while k + 8 <= count {
            if loadUnaligned(fromByteOffset: k, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            k += 8
        }
        while k < count {
            if self[k] >= 0x80 { return false }
            k += 1
        }
        return true
    }
}
