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
}
