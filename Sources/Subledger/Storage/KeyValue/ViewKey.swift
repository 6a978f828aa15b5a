/// A view table's key as a cache holds it: up to 40 bytes inline, as five big-endian words
/// (the longest fixed key, two ids and a position, fits), longer ones (emails and names) kept
/// whole beside them. Hashing, comparing and sorting touch words, not bytes, and a key of the
/// fold's hot path never allocates.
struct ViewKey: Hashable, Comparable {
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0, w4: UInt64 = 0
    let count: Int
    /// The whole key, when it is longer than the words hold.
    private var long: [UInt8]?

    static let inlineBytes = 40

    init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ViewKey($0) }
    }

    init(_ b: UnsafeRawBufferPointer) {
        count = b.count
        if count > ViewKey.inlineBytes { long = Array(b) }
        func word(_ i: Int) -> UInt64 {
            if i * 8 + 8 <= b.count { return UInt64(bigEndian: b.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
            var v: UInt64 = 0
            for j in i * 8..<(i * 8 + 8) { v = v << 8 | (j < b.count ? UInt64(b[j]) : 0) }
            return v
        }
        w0 = word(0); w1 = word(1); w2 = word(2); w3 = word(3); w4 = word(4)
    }

    /// The id its first 16 bytes hold: what keys of a table scanned by entity are grouped by.
    var leadingID: EntityID { EntityID(high: w0, low: w1) }

    /// Byte `i` of an inline key.
    private func byte(_ i: Int) -> UInt8 {
        let word = switch i >> 3 {
        case 0: w0
        case 1: w1
        case 2: w2
        case 3: w3
        default: w4
        }
        return UInt8(truncatingIfNeeded: word >> UInt64(56 - (i & 7) * 8))
    }

    var bytes: [UInt8] {
        if let long { return long }
        return (0..<count).map(byte)
    }

    func starts(with prefix: [UInt8]) -> Bool {
        guard prefix.count <= count else { return false }
        if let long { return long.starts(with: prefix) }
        for (i, b) in prefix.enumerated() where byte(i) != b { return false }
        return true
    }

    /// Byte order: the words compare as the bytes do, and a key that is a prefix of another
    /// (zero-padded words equal) comes first.
    static func < (a: ViewKey, b: ViewKey) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        if a.w4 != b.w4 { return a.w4 < b.w4 }
        if let x = a.long, let y = b.long { return x.lexicographicallyPrecedes(y) }
        return a.count < b.count
    }
}
