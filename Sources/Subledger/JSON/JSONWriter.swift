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
///
/// Each key and scalar value (with the comma before it) is formatted straight
/// into `bytes` in one reservation: no `String` or array in between. `field`
/// writes a literal key and its value in one: `w.field("a", 1)` is `w.key("a"); w.int(1)`.
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
    ///
    /// Disfavored so that literal keys take the `StaticString` overload; keys made at run time come here.
    @_disfavoredOverload
    public mutating func key(_ k: String) {
        appendQuoted(k, asKey: true)
        needsComma = false
    }

    /// Writes an object key known when compiling (every literal key) and the following `:`.
    ///
    /// The key's bytes need no `String`: they are only scanned for characters to escape
    /// (there are none in a plain key) and then copied in one piece.
    public mutating func key(_ k: StaticString) {
        k.withUTF8Buffer { appendQuoted(utf8: $0, asKey: true) }
        needsComma = false
    }

    /// Writes a string value.
    public mutating func string(_ s: String) {
        appendQuoted(s, asKey: false)
        needsComma = true
    }

    /// Writes an integer value.
    public mutating func int(_ v: Int64) {
        appendSeparated(maxCount: 20) { $0.appendDecimal(v) }
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

    /// Ends a JSON Lines record: writes `\n`, after which the next value starts afresh (no comma).
    public mutating func endLine() {
        bytes.append(0x0A)
        needsComma = false
    }

    // MARK: Encoding

    @inline(__always)
    mutating func appendStatic(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Reserves room for the comma (when one is due) and `maxCount` more bytes, which `body`
    /// writes straight into the buffer: one capacity check for the whole value.
    @inline(__always) @usableFromInline
    mutating func appendSeparated(maxCount: Int, _ body: (inout OutputSpan<UInt8>) -> Void) {
        let comma = needsComma
        bytes.append(addingCapacity: maxCount + 1) { out in
            if comma { out.append(0x2C) }
            body(&out)
        }
    }

    mutating func appendQuoted(_ s: String, asKey: Bool) {
        var s = s
        s.withUTF8 { appendQuoted(utf8: $0, asKey: asKey) }
    }

    /// Writes the comma when due, `src` as a JSON string and, for a key, the `:`.
    mutating func appendQuoted(utf8 src: UnsafeBufferPointer<UInt8>, asKey: Bool) {
        // Nearly every string has nothing to escape: copy it whole, in one reservation.
        if !JSONWriter.needsEscaping(src) {
            appendSeparated(maxCount: src.count + 3) { out in
                out.appendQuoted(plain: src)
                if asKey { out.append(0x3A) }
            }
            return
        }
        separate()
        appendEscaped(utf8: src)
        if asKey { bytes.append(0x3A) }
    }

    /// Whether `text` holds a byte that strings escape (`"`, `\` or a control character), tested
    /// eight bytes at a time, the last word overlapping the one before when the count is not a multiple of 8.
    @inline(__always)
    static func needsEscaping(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let raw = UnsafeRawBufferPointer(text)
        guard raw.count >= 8 else {
            return raw.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
        }
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Nonzero exactly when some byte of `x` is below `n` (for n <= 128): Bit Twiddling Hacks' `hasless`.
        @inline(__always) func hasByte(below n: UInt64, in x: UInt64) -> Bool {
            (x &- ones &* n) & ~x & (ones &* 0x80) != 0
        }
        @inline(__always) func escapes(_ x: UInt64) -> Bool {
            hasByte(below: 0x20, in: x) || hasByte(below: 1, in: x ^ (ones &* 0x22)) || hasByte(below: 1, in: x ^ (ones &* 0x5C))
        }
        var k = 0
        while k + 8 < raw.count {
            if escapes(raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)) { return true }
            k += 8
        }
        return escapes(raw.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self))
    }

    /// Writes `src` quoted, escaping `"`, `\` and control characters.
    mutating func appendEscaped(utf8 src: UnsafeBufferPointer<UInt8>) {
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

// MARK: Ledger values

extension JSONWriter {
    /// Writes an id as a string of its lower-case UUID text (``EntityID/description``).
    public mutating func id(_ id: EntityID) {
        appendSeparated(maxCount: 38) { $0.appendQuoted(id) }
        needsComma = true
    }

    /// Writes a timestamp as a string of its RFC 3339 text in UTC (``Timestamp/rfc3339``).
    public mutating func time(_ t: Timestamp) {
        appendSeparated(maxCount: Timestamp.maxFormattedLength + 2) { $0.appendQuoted(t) }
        needsComma = true
    }

    /// Writes bytes as a string of lower-case hex, two digits a byte.
    public mutating func hex(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            appendSeparated(maxCount: 2 * raw.count + 2) { $0.appendQuotedHex(raw) }
        }
        needsComma = true
    }
}

// MARK: Members

/// `field(k, v)` writes the same bytes as `key(k)` and then the value, in one reservation
/// instead of two (members like these make most of an event line).
extension JSONWriter {
    /// `key(k)` then ``int(_:)``.
    public mutating func field(_ k: StaticString, _ v: Int64) {
        member(k, maxCount: 20) { $0.appendDecimal(v) }
    }

    /// `key(k)` then ``string(_:)``.
    public mutating func field(_ k: StaticString, _ s: String) {
        var s = s
        s.withUTF8 { text in
            guard !JSONWriter.needsEscaping(text) else {
                key(k)
                appendQuoted(utf8: text, asKey: false)
                needsComma = true
                return
            }
            member(k, maxCount: text.count + 2) { $0.appendQuoted(plain: text) }
        }
    }

    /// `key(k)` then ``id(_:)``.
    public mutating func field(_ k: StaticString, _ id: EntityID) {
        member(k, maxCount: 38) { $0.appendQuoted(id) }
    }

    /// `key(k)` then ``time(_:)``.
    public mutating func field(_ k: StaticString, _ t: Timestamp) {
        member(k, maxCount: Timestamp.maxFormattedLength + 2) { $0.appendQuoted(t) }
    }

    /// `key(k)` then ``hex(_:)``.
    public mutating func field(_ k: StaticString, hex bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            member(k, maxCount: 2 * raw.count + 2) { $0.appendQuotedHex(raw) }
        }
    }

    /// Writes the comma when due, `"k":` and the value that `body` writes (at most `maxCount` bytes).
    @inline(__always)
    mutating func member(_ k: StaticString, maxCount: Int, _ body: (inout OutputSpan<UInt8>) -> Void) {
        k.withUTF8Buffer { key in
            if JSONWriter.needsEscaping(key) {
                appendQuoted(utf8: key, asKey: true)
                needsComma = false
                appendSeparated(maxCount: maxCount, body)
            } else {
                appendSeparated(maxCount: key.count + 3 + maxCount) { out in
                    out.appendQuoted(plain: key)
                    out.append(0x3A)
                    body(&out)
                }
            }
        }
        needsComma = true
    }
}

/// The quoted values, written into a reservation.
extension OutputSpan<UInt8> {
    /// `"text"`, for text that needs no escapes.
    @inline(__always)
    mutating func appendQuoted(plain text: UnsafeBufferPointer<UInt8>) {
        append(0x22)
        append(copying: text)
        append(0x22)
    }

    @inline(__always)
    mutating func appendQuoted(_ id: EntityID) {
        append(0x22)
        id.writeText(to: &self)
        append(0x22)
    }

    @inline(__always)
    mutating func appendQuoted(_ t: Timestamp) {
        append(0x22)
        t.writeRFC3339(to: &self)
        append(0x22)
    }

    @inline(__always)
    mutating func appendQuotedHex(_ bytes: UnsafeRawBufferPointer) {
        append(0x22)
        appendHex(bytes)
        append(0x22)
    }
}
