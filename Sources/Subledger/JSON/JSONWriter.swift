/// Writes compact, deterministic JSON text into a byte buffer.
///
/// Commas are inserted automatically; there is no whitespace anywhere:
///
/// ```swift
/// var w = JSONWriter()
/// w.beginObject()
/// w.key("a"); w.int(1)
/// w.key("b"); w.beginArray(); w.bool(true); w.null(); w.endArray()
/// w.endObject()
/// // w.bytes == Array(#"{"a":1,"b":[true,null]}"#.utf8)
/// ```
///
/// Strings escape only `"`, `\` and control characters below U+0020
/// (`\b \f \n \r \t`, others as `\u00XX` with lowercase hex); `/`, DEL and
/// non-ASCII characters are written as raw UTF-8.
///
/// The writer does not check that calls are balanced or that every value in
/// an object follows a key; that is the caller's responsibility.
public struct JSONWriter {
    /// The JSON text written so far.
    public var bytes: [UInt8]
    /// Whether the next value or key must be preceded by a comma.
    @usableFromInline var needsComma = false

    /// A writer with an empty buffer of the given initial capacity.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) @usableFromInline
    mutating func separate() {
        if needsComma { bytes.append(0x2C) }
    }

    /// Writes `{`.
    public mutating func beginObject() {
        separate()
        bytes.append(0x7B)
        needsComma = false
    }

    /// Writes `}`.
    public mutating func endObject() {
        bytes.append(0x7D)
        needsComma = true
    }

    /// Writes `[`.
    public mutating func beginArray() {
        separate()
        bytes.append(0x5B)
        needsComma = false
    }

    /// Writes `]`.
    public mutating func endArray() {
        bytes.append(0x5D)
        needsComma = true
    }

    /// Writes an object key and the following `:`.
    public mutating func key(_ k: String) {
        separate()
        appendQuoted(k)
        bytes.append(0x3A)
        needsComma = false
    }

    /// Writes a string value.
    public mutating func string(_ s: String) {
        separate()
        appendQuoted(s)
        needsComma = true
    }

    /// Writes an integer value.
    public mutating func int(_ v: Int64) {
        separate()
        appendInt(v)
        needsComma = true
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ b: Bool) {
        separate()
        appendStatic(b ? "true" : "false")
        needsComma = true
    }

    /// Writes `null`.
    public mutating func null() {
        separate()
        appendStatic("null")
        needsComma = true
    }

    /// Writes pre-encoded JSON text verbatim as one value (a comma is inserted
    /// before it if needed). The bytes are not checked.
    public mutating func raw(_ bytes: some Sequence<UInt8>) {
        separate()
        self.bytes.append(contentsOf: bytes)
        needsComma = true
    }

    /// Writes a JSON value; ``JSONValue/bigInteger(_:)`` and
    /// ``JSONValue/number(_:)`` texts are written verbatim, object members in
    /// their stored order.
    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .bigInteger(let t), .number(let t):
            separate()
            var t = t
            t.withUTF8 { bytes.append(contentsOf: $0) }
            needsComma = true
        case .string(let s): string(s)
        case .array(let a):
            beginArray()
            for e in a { value(e) }
            endArray()
        case .object(let o):
            beginObject()
            for e in o.entries {
                key(e.key)
                value(e.value)
            }
            endObject()
        }
    }

    // MARK: Encoding

    @inline(__always)
    mutating func appendStatic(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func appendInt(_ v: Int64) {
        if v >= 0 && v < 10 {
            bytes.append(0x30 &+ UInt8(truncatingIfNeeded: v))
            return
        }
        var magnitude = v.magnitude
        if v < 0 { bytes.append(0x2D) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var k = 20
            repeat {
                k -= 1
                let (q, r) = magnitude.quotientAndRemainder(dividingBy: 10)
                buf[k] = 0x30 &+ UInt8(truncatingIfNeeded: r)
                magnitude = q
            } while magnitude != 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[k...]))
        }
    }

    mutating func appendQuoted(_ s: String) {
        var s = s
        s.withUTF8 { appendQuoted(utf8: $0) }
    }

    mutating func appendQuoted(utf8 src: UnsafeBufferPointer<UInt8>) {
        bytes.append(0x22)
        var runStart = 0
        var k = 0
        let n = src.count
        while k < n {
            let c = src[k]
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                k += 1
                continue
            }
            if runStart < k {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: src[runStart..<k]))
            }
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x08: bytes.append(0x5C); bytes.append(0x62)
            case 0x0C: bytes.append(0x5C); bytes.append(0x66)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            default:
                let hex: StaticString = "0123456789abcdef"
                let h = hex.utf8Start
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, h[Int(c >> 4)], h[Int(c & 0xF)]] as [UInt8])
            }
            k += 1
            runStart = k
        }
        if runStart < n {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: src[runStart..<n]))
        }
        bytes.append(0x22)
    }
}
