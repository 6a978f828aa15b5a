/// A table's entries in key order, packed into one buffer: how a whole-log fold hands a table
/// over to be written or compared, with no allocation per entry (a table of a long log holds
/// hundreds of thousands).
struct PackedTable: Sendable {
    private var bytes: [UInt8] = []
    /// Where each entry's key and value start and where it ends in `bytes`, in key order.
    private var spans: [Span] = []

    struct Span: Sendable {
        var key: Int, value: Int, end: Int
    }

    var count: Int { spans.count }

    /// Calls `body` with the bytes of entry `i` (valid only inside it).
    func withEntry<T>(_ i: Int, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let s = spans[i]
        return try bytes.withUnsafeBytes { b in
            try body(UnsafeRawBufferPointer(rebasing: b[s.key..<s.value]), UnsafeRawBufferPointer(rebasing: b[s.value..<s.end]))
        }
    }

    /// Entry `i`, copied out.
    func entry(_ i: Int) -> (key: [UInt8], value: [UInt8]) {
        withEntry(i) { (Array($0), Array($1)) }
    }

    /// Builds a table entry by entry: in key order already, or sorted at the end.
    struct Builder {
        /// The buffer, written through directly by `encode` callers.
        private var w = BinaryWriter(capacity: 0)
        private var spans: [Span] = []

        /// Room for `capacity` entries of up to `bytesPerEntry` bytes each: a buffer grown by
        /// doubling copies itself into fresh pages again and again (7% of a rebuild at 10^6),
        /// and room never written to costs no memory.
        init(capacity: Int, bytesPerEntry: Int = 96) {
            w = BinaryWriter(capacity: capacity * bytesPerEntry)
            spans.reserveCapacity(capacity)
        }

        mutating func append(key: [UInt8], value: [UInt8]) {
            append({ $0.bytes += key }, { $0.bytes += value })
        }

        /// Appends an entry whose key and value the closures write, in place.
        mutating func append(key: (inout [UInt8]) -> Void, value: (inout [UInt8]) -> Void) {
            append({ key(&$0.bytes) }, { value(&$0.bytes) })
        }

        /// Appends an entry keyed by a position (big-endian) whose value `encode` writes.
        mutating func append(position: UInt64, encode: (inout BinaryWriter) -> Void) {
            append({ $0.bigEndian(position) }, encode)
        }

        private mutating func append(_ key: (inout BinaryWriter) -> Void, _ value: (inout BinaryWriter) -> Void) {
            let k = w.bytes.count
            key(&w)
            let v = w.bytes.count
            value(&w)
            spans.append(Span(key: k, value: v, end: w.bytes.count))
        }

        /// The entries as appended (the caller appended them in key order).
        func inOrder() -> PackedTable { PackedTable(bytes: w.bytes, spans: spans) }

        /// The entries sorted by key, as LMDB orders them; keys compare as `ViewKey` words.
        /// With `unique`, of entries with equal keys only the first appended is kept.
        func sorted(unique: Bool = false) -> PackedTable {
            let keys = w.bytes.withUnsafeBytes { b in
                spans.map { ViewKey(UnsafeRawBufferPointer(rebasing: b[$0.key..<$0.value])) }
            }
            // Stable, so the first appended of equal keys comes first.
            var order = keys.indices.sorted { keys[$0] < keys[$1] }
            if unique { order = order.indices.filter { $0 == 0 || keys[order[$0 - 1]] != keys[order[$0]] }.map { order[$0] } }
            return PackedTable(bytes: w.bytes, spans: order.map { spans[$0] })
        }
    }
}
