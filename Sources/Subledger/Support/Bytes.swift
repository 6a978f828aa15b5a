#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension UnsafeRawBufferPointer {
    /// Whether these bytes are `other`'s: one `memcmp`, where `elementsEqual` walks generically
    /// byte by byte (verify compares every stored entry this way).
    func sameBytes(as other: [UInt8]) -> Bool {
        other.withUnsafeBytes { sameBytes(as: $0) }
    }

    func sameBytes(as other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        guard let a = baseAddress, let b = other.baseAddress else { return true }
        return memcmp(a, b, count) == 0
    }

    /// Whether these bytes sort before `other`'s, as LMDB orders keys: `memcmp` over the
    /// shorter, then the shorter first.
    func precedes(_ other: UnsafeRawBufferPointer) -> Bool {
        let common = Swift.min(count, other.count)
        if common > 0, let a = baseAddress, let b = other.baseAddress {
            let c = memcmp(a, b, common)
            if c != 0 { return c < 0 }
        }
        return count < other.count
    }
}

extension Array where Element == UInt8 {
    /// Whether these bytes sort before `other`'s, as LMDB orders keys (`memcmp`).
    func precedes(_ other: [UInt8]) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in a.precedes(b) } }
    }

    /// Appends `v` big-endian, a byte at a time: `append(contentsOf:)` of a raw buffer takes the
    /// generic sequence path, about 180 instructions a call, and every id, key and row a fold
    /// writes is built from such words.
    @inlinable mutating func appendBigEndian(_ v: UInt64) {
        append(UInt8(truncatingIfNeeded: v >> 56))
        append(UInt8(truncatingIfNeeded: v >> 48))
        append(UInt8(truncatingIfNeeded: v >> 40))
        append(UInt8(truncatingIfNeeded: v >> 32))
        append(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }
}
