import FoundationEssentials

/// A hash of the log's chain (SHA-256, 32 bytes), held inline: a decoded event allocates
/// nothing for its hash, and a copy of the event retains nothing for it. A whole-log fold
/// copies each event on another core than the one that decoded it; a retain there is a miss.
struct ChainHash: Hashable, Sendable, ContiguousBytes {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// 32 zero bytes: what the first event chains from.
    static let zero = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// The hash in `bytes`, which holds exactly 32.
    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == EventCodec.hashSize, "a chain hash is 32 bytes")
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// The hash in `bytes`; nil unless they are 32.
    init?(_ bytes: [UInt8]) {
        guard bytes.count == EventCodec.hashSize else { return nil }
        self = bytes.withUnsafeBytes { ChainHash($0) }
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    static func == (a: ChainHash, b: ChainHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
