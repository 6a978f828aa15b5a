/// Why a JSON text was rejected, and where.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The byte offset in the input at which the problem was found.
    public var offset: Int
    /// A one-line human-readable message, without the offset
    /// (for example `unterminated string` or `duplicate key "email"`).
    public var message: String

    /// An error at `offset` with `message`.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// The message followed by the offset, e.g. `invalid UTF-8 at byte 17`.
    public var description: String { "\(message) at byte \(offset)" }
}

/// A strict RFC 8259 JSON parser working directly on UTF-8 bytes.
///
/// - Whitespace is only space, tab, CR and LF.
/// - The input is exactly one value, optionally surrounded by whitespace.
/// - No comments, trailing commas, `NaN`/`Infinity`, leading zeros or leading `+`.
/// - Strings must be valid UTF-8 and contain no raw control characters
///   (below U+0020); escapes are `\" \\ \/ \b \f \n \r \t \uXXXX`, with
///   UTF-16 surrogate pairs combined and lone surrogates rejected.
/// - Duplicate keys in one object are rejected. Keys are compared as Swift
///   `String`s, i.e. by canonical equivalence, so `"é"` and `"e\u0301"` are
///   duplicates, just as they would be for ``JSONObject/subscript(_:)``.
/// - Nesting deeper than `maxDepth` arrays/objects is rejected. The parser is
///   iterative, so no input can exhaust the stack.
///
/// The parser never traps: every malformed input produces a ``JSONParseError``.
public enum JSONParser {
    /// Parses one JSON value from UTF-8 bytes.
    /// - Parameters:
    ///   - bytes: The complete JSON text.
    ///   - maxDepth: The maximum number of nested arrays and objects (default 64).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONParseError(offset: 0, message: "unexpected end of input")
        }
        var parser = _JSONParserCore(
            base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses one JSON value from UTF-8 bytes.
    /// - Parameters:
    ///   - bytes: The complete JSON text.
    ///   - maxDepth: The maximum number of nested arrays and objects (default 64).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) {
                return .success(try parse(raw, maxDepth: maxDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one JSON value from a string (its UTF-8 encoding).
    /// - Parameters:
    ///   - string: The complete JSON text.
    ///   - maxDepth: The maximum number of nested arrays and objects (default 64).
    public static func parse(_ string: String, maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        var string = string
        let result: Result<JSONValue, JSONParseError> = string.withUTF8 { buffer in
            do throws(JSONParseError) {
                return .success(try parse(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

// MARK: - Implementation

private let _quote: UInt8 = 0x22  // "
private let _backslash: UInt8 = 0x5C  // \
private let _comma: UInt8 = 0x2C
private let _colon: UInt8 = 0x3A
private let _openBracket: UInt8 = 0x5B
private let _closeBracket: UInt8 = 0x5D
private let _openBrace: UInt8 = 0x7B
private let _closeBrace: UInt8 = 0x7D
private let _minus: UInt8 = 0x2D
private let _plus: UInt8 = 0x2B
private let _dot: UInt8 = 0x2E
private let _zero: UInt8 = 0x30

/// One open array or object.
private struct _Frame {
    var isObject: Bool
    /// Where this container's values start in the value stack.
    var valueStart: Int
    /// Where this object's keys start in the key stack.
    var keyStart: Int
}

/// A cheap summary of a key, so that most duplicate checks avoid comparing Strings.
///
/// For a plain-ASCII key, `length` is its byte count and `head`/`tail` hold
/// its first and last (up to) 8 bytes: two ASCII keys of at most 16 bytes are
/// equal exactly when their prints are. Other keys (non-ASCII or with
/// escapes) have `length == -1` and are always compared as Strings, which
/// also catches canonically equivalent spellings.
private struct _KeyPrint: Equatable {
    var length: Int
    var head: UInt64
    var tail: UInt64

    static let opaque = _KeyPrint(length: -1, head: 0, tail: 0)
}

/// A growable stack in manually managed memory, so that finished containers
/// can be moved out of it without reference-counting traffic.
private struct _Stack<Element>: ~Copyable {
    var base: UnsafeMutablePointer<Element>
    var count = 0
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count &+= 1
    }

    @inline(never)
    mutating func grow() {
        let newCapacity = capacity * 2
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func removeLast() -> Element {
        count &-= 1
        return (base + count).move()
    }

    /// Moves the elements from `start` to the top (at least one) into an array.
    @inline(__always)
    mutating func moveOut(from start: Int) -> [Element] {
        let n = count - start
        let source = base + start
        // (`Array(unsafeUninitializedCapacity:)` would be simpler, but it calls
        // an unspecialized stdlib entry point that looks up metadata on every call.)
        var result: [Element] = []
        result.reserveCapacity(n)
        for k in 0..<n { result.append((source + k).move()) }
        count = start
        return result
    }
}

/// Keys are checked for duplicates by a linear scan (mostly comparing
/// ``_KeyPrint``s) up to this many members, then with a hash set.
private let _linearKeyCheckLimit = 32

private struct _JSONParserCore: ~Copyable {
    let base: UnsafePointer<UInt8>
    let end: Int
    let maxDepth: Int
    var i = 0
    /// Completed values of all open containers, innermost last.
    var values = _Stack<JSONValue>(capacity: 32)
    /// Keys of all open objects, innermost last (one per value in an object).
    var keys = _Stack<String>(capacity: 16)
    /// The print of each key in `keys`.
    var prints = _Stack<_KeyPrint>(capacity: 16)
    var frames = _Stack<_Frame>(capacity: 8)
    /// Hash sets of keys for large objects, by frame index.
    var seenKeys: [Int: Set<String>] = [:]
    /// Buffer for strings with escapes.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.base = base
        self.end = count
        self.maxDepth = maxDepth
    }

    @inline(__always)
    func error(_ offset: Int, _ message: String) -> JSONParseError {
        JSONParseError(offset: offset, message: message)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < end {
            let c = base[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                i &+= 1
            } else {
                return
            }
        }
    }

    func unexpected(_ at: Int, expecting: String) -> JSONParseError {
        guard at < end else { return error(at, "unexpected end of input, expected \(expecting)") }
        let c = base[at]
        if c >= 0x21 && c < 0x7F {
            return error(at, "unexpected character '\(Character(Unicode.Scalar(c)))', expected \(expecting)")
        }
        return error(at, "unexpected byte 0x\(_hex2(c)), expected \(expecting)")
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        var current: JSONValue
        expectValue: while true {
            skipWhitespace()
            guard i < end else { throw error(i, "unexpected end of input, expected a value") }
            switch base[i] {
            case _openBrace:
                try push(isObject: true)
                i &+= 1
                skipWhitespace()
                if i < end && base[i] == _closeBrace {
                    i &+= 1
                    _ = frames.removeLast()
                    current = .object(JSONObject())
                } else {
                    try parseKeyAndColon()
                    continue expectValue
                }
            case _openBracket:
                try push(isObject: false)
                i &+= 1
                skipWhitespace()
                if i < end && base[i] == _closeBracket {
                    i &+= 1
                    _ = frames.removeLast()
                    current = .array([])
                } else {
                    continue expectValue
                }
            case _quote:
                current = .string(try parseString())
            case _minus, 0x30...0x39:
                current = try parseNumber()
            case 0x74:  // t
                try literal(0x74, 0x72, 0x75, 0x65, length: 4)
                current = .bool(true)
            case 0x66:  // f
                guard end - i >= 5, base[i + 4] == 0x65 else { throw error(i, "invalid literal") }
                try literal(0x66, 0x61, 0x6C, 0x73, length: 5)
                current = .bool(false)
            case 0x6E:  // n
                try literal(0x6E, 0x75, 0x6C, 0x6C, length: 4)
                current = .null
            default:
                throw unexpected(i, expecting: "a value")
            }

            // A value is complete: attach it to the enclosing container,
            // closing containers for as long as their closing bracket follows.
            while true {
                guard frames.count > 0 else {
                    skipWhitespace()
                    if i != end { throw unexpected(i, expecting: "end of input") }
                    return current
                }
                values.push(current)
                skipWhitespace()
                let isObject = frames.base[frames.count &- 1].isObject
                guard i < end else {
                    throw error(i, isObject ? "unterminated object" : "unterminated array")
                }
                let c = base[i]
                if c == _comma {
                    i &+= 1
                    if isObject {
                        skipWhitespace()
                        try parseKeyAndColon()
                    }
                    continue expectValue
                }
                if isObject {
                    guard c == _closeBrace else { throw unexpected(i, expecting: "',' or '}'") }
                    i &+= 1
                    current = .object(JSONObject(popObject()))
                } else {
                    guard c == _closeBracket else { throw unexpected(i, expecting: "',' or ']'") }
                    i &+= 1
                    let frame = frames.removeLast()
                    current = .array(values.moveOut(from: frame.valueStart))
                }
            }
        }
    }

    /// Removes the innermost (non-empty) object's frame, keys and values; returns its members.
    @inline(__always)
    mutating func popObject() -> [(key: String, value: JSONValue)] {
        let frame = frames.removeLast()
        if !seenKeys.isEmpty { seenKeys[frames.count] = nil }
        let n = values.count - frame.valueStart
        let valueSource = values.base + frame.valueStart
        let keySource = keys.base + frame.keyStart
        var entries: [(key: String, value: JSONValue)] = []
        entries.reserveCapacity(n)
        for k in 0..<n {
            entries.append((key: (keySource + k).move(), value: (valueSource + k).move()))
        }
        values.count = frame.valueStart
        keys.count = frame.keyStart
        prints.count = frame.keyStart
        return entries
    }

    @inline(__always)
    mutating func push(isObject: Bool) throws(JSONParseError) {
        guard frames.count < maxDepth else { throw error(i, "nesting deeper than \(maxDepth)") }
        frames.push(_Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count))
    }

    @inline(__always)
    mutating func literal(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, length: Int) throws(JSONParseError) {
        guard end - i >= length, base[i] == a, base[i + 1] == b, base[i + 2] == c, base[i + 3] == d else {
            throw error(i, "invalid literal")
        }
        i &+= length
    }

    // MARK: Keys

    /// Parses `"key"` and the following `:`; `i` is at the opening quote.
    mutating func parseKeyAndColon() throws(JSONParseError) {
        guard i < end, base[i] == _quote else {
            throw unexpected(i, expecting: "a string key")
        }
        let keyOffset = i
        let start = i &+ 1
        var ascii = true
        let stop = try scanString(from: start, openQuote: start &- 1, ascii: &ascii)
        let key: String
        let print: _KeyPrint
        if base[stop] == _quote {
            i = stop &+ 1
            key = text(start, stop)
            print = ascii ? keyPrint(start, stop &- start) : .opaque
        } else {
            key = try parseEscapedString(from: start, firstEscape: stop)
            print = .opaque
        }

        let keyStart = frames.base[frames.count &- 1].keyStart
        let n = keys.count &- keyStart
        if n < _linearKeyCheckLimit {
            var k = keyStart
            while k < keys.count {
                let other = prints.base[k]
                if other == print {
                    if print.length >= 0 && print.length <= 16 { throw duplicate(key, at: keyOffset) }
                    if keys.base[k] == key { throw duplicate(key, at: keyOffset) }
                } else if other.length < 0 || print.length < 0 {
                    if keys.base[k] == key { throw duplicate(key, at: keyOffset) }
                }
                k &+= 1
            }
        } else {
            let depth = frames.count &- 1
            if seenKeys[depth] == nil {
                seenKeys[depth] = Set(UnsafeBufferPointer(start: keys.base + keyStart, count: n))
            }
            if !seenKeys[depth]!.insert(key).inserted { throw duplicate(key, at: keyOffset) }
        }
        keys.push(key)
        prints.push(print)

        skipWhitespace()
        guard i < end, base[i] == _colon else { throw unexpected(i, expecting: "':'") }
        i &+= 1
    }

    @inline(__always)
    func keyPrint(_ start: Int, _ length: Int) -> _KeyPrint {
        let p = UnsafeRawPointer(base + start)
        if length >= 8 {
            return _KeyPrint(
                length: length, head: p.loadUnaligned(as: UInt64.self),
                tail: p.loadUnaligned(fromByteOffset: length &- 8, as: UInt64.self))
        }
        var head: UInt64 = 0
        var k = 0
        while k < length {
            head |= UInt64(base[start &+ k]) << (UInt64(k) &* 8)
            k &+= 1
        }
        return _KeyPrint(length: length, head: head, tail: 0)
    }

    func duplicate(_ key: String, at offset: Int) -> JSONParseError {
        var shown = String(key.prefix(64))
        if shown.count < key.count { shown += "…" }
        var w = JSONWriter(capacity: shown.utf8.count + 8)
        w.string(shown)
        return error(offset, "duplicate key \(String(decoding: w.bytes, as: UTF8.self))")
    }

    // MARK: Strings

    /// Parses a string; `i` is at the opening quote. Leaves `i` after the closing quote.
    @inline(__always)
    mutating func parseString() throws(JSONParseError) -> String {
        let start = i &+ 1
        var ascii = true
        let stop = try scanString(from: start, openQuote: start &- 1, ascii: &ascii)
        if base[stop] == _quote {
            i = stop &+ 1
            return text(start, stop)
        }
        return try parseEscapedString(from: start, firstEscape: stop)
    }

    /// Scans string content from `start` up to the closing quote or the first
    /// backslash, whose index it returns, validating UTF-8 and rejecting
    /// control characters. Clears `ascii` if it sees a non-ASCII byte.
    @inline(__always)
    func scanString(from start: Int, openQuote: Int, ascii: inout Bool) throws(JSONParseError) -> Int {
        var j = start
        while true {
            // Skip 8 plain ASCII bytes at a time: none < 0x20, '"', '\' or >= 0x80.
            while j &+ 8 <= end {
                let w = UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                let q = w ^ (ones &* 0x22)
                let b = w ^ (ones &* 0x5C)
                let special = (w | ((w &- ones &* 0x20) & ~w) | ((q &- ones) & ~q) | ((b &- ones) & ~b)) & highs
                if special != 0 { break }
                j &+= 8
            }
            guard j < end else { throw error(openQuote, "unterminated string") }
            let c = base[j]
            if c == _quote || c == _backslash { return j }
            if c < 0x20 { throw controlCharacter(at: j) }
            if c >= 0x80 {
                ascii = false
                j = try validateUTF8Sequence(at: j)
            } else {
                j &+= 1
            }
        }
    }

    func controlCharacter(at j: Int) -> JSONParseError {
        error(j, "unescaped control character 0x\(_hex2(base[j])) in string")
    }

    /// Checks the multi-byte UTF-8 sequence whose lead byte is at `j`; returns the index after it.
    @inline(__always)
    func validateUTF8Sequence(at j: Int) throws(JSONParseError) -> Int {
        let b0 = base[j]
        let remaining = end &- j
        @inline(__always) func cont(_ k: Int) -> Bool { base[j &+ k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            if remaining >= 2 && cont(1) { return j &+ 2 }
        case 0xE0...0xEF:
            if remaining >= 3 {
                let b1 = base[j &+ 1]
                let ok1: Bool
                switch b0 {
                case 0xE0: ok1 = b1 >= 0xA0 && b1 <= 0xBF  // no overlongs
                case 0xED: ok1 = b1 >= 0x80 && b1 <= 0x9F  // no surrogates
                default: ok1 = b1 & 0xC0 == 0x80
                }
                if ok1 && cont(2) { return j &+ 3 }
            }
        case 0xF0...0xF4:
            if remaining >= 4 {
                let b1 = base[j &+ 1]
                let ok1: Bool
                switch b0 {
                case 0xF0: ok1 = b1 >= 0x90 && b1 <= 0xBF  // no overlongs
                case 0xF4: ok1 = b1 >= 0x80 && b1 <= 0x8F  // nothing above U+10FFFF
                default: ok1 = b1 & 0xC0 == 0x80
                }
                if ok1 && cont(2) && cont(3) { return j &+ 4 }
            }
        default:
            break
        }
        throw error(j, "invalid UTF-8")
    }

    /// The slow path for strings with escapes: decodes into `scratch`.
    mutating func parseEscapedString(from start: Int, firstEscape: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: firstEscape - start))
        var j = firstEscape
        var ascii = true
        while true {
            // j is at a backslash.
            j = try decodeEscape(at: j, openQuote: start &- 1)
            let runStart = j
            let stop = try scanString(from: runStart, openQuote: start &- 1, ascii: &ascii)
            if runStart < stop {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: stop - runStart))
            }
            j = stop
            if base[stop] == _quote {
                i = stop &+ 1
                return String(decoding: scratch, as: UTF8.self)
            }
        }
    }

    /// Decodes the escape at `j` (a backslash) into `scratch`; returns the index after it.
    mutating func decodeEscape(at j: Int, openQuote start: Int) throws(JSONParseError) -> Int {
        guard j + 1 < end else { throw error(start, "unterminated string") }
        let e = base[j + 1]
        switch e {
        case _quote: scratch.append(_quote)
        case _backslash: scratch.append(_backslash)
        case 0x2F: scratch.append(0x2F)  // /
        case 0x62: scratch.append(0x08)  // b
        case 0x66: scratch.append(0x0C)  // f
        case 0x6E: scratch.append(0x0A)  // n
        case 0x72: scratch.append(0x0D)  // r
        case 0x74: scratch.append(0x09)  // t
        case 0x75:  // u
            let unit = try hex4(at: j + 2, escapeAt: j)
            var scalar = UInt32(unit)
            var next = j + 6
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard end - next >= 6, base[next] == _backslash, base[next + 1] == 0x75 else {
                    throw error(j, "unpaired UTF-16 surrogate in \\u escape")
                }
                let low = try hex4(at: next + 2, escapeAt: next)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error(j, "unpaired UTF-16 surrogate in \\u escape")
                }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                next += 6
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw error(j, "unpaired UTF-16 surrogate in \\u escape")
            }
            appendUTF8(scalar)
            return next
        default:
            throw error(j, "invalid escape sequence")
        }
        return j + 2
    }

    func hex4(at k: Int, escapeAt: Int) throws(JSONParseError) -> UInt16 {
        guard end - k >= 4 else { throw error(escapeAt, "invalid \\u escape") }
        var v: UInt16 = 0
        for n in 0..<4 {
            let c = base[k + n]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c &- 0x30
            case 0x41...0x46: d = c &- 0x41 &+ 10
            case 0x61...0x66: d = c &- 0x61 &+ 10
            default: throw error(escapeAt, "invalid \\u escape")
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    @inline(__always)
    mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else {
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    // MARK: Numbers

    @inline(__always)
    func isDigit(_ k: Int) -> Bool { k < end && base[k] &- _zero < 10 }

    /// Parses a number; `i` is at `-` or a digit.
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = i
        var j = i
        let negative = base[j] == _minus
        if negative { j += 1 }
        let digitsStart = j
        guard isDigit(j) else { throw unexpected(j, expecting: "a digit") }
        if base[j] == _zero {
            j += 1
            if isDigit(j) { throw error(start, "leading zero in number") }
        } else {
            repeat { j += 1 } while isDigit(j)
        }
        let digitsEnd = j
        var isInteger = true
        if j < end && base[j] == _dot {
            j += 1
            guard isDigit(j) else { throw unexpected(j, expecting: "a digit after '.'") }
            repeat { j += 1 } while isDigit(j)
            isInteger = false
        }
        if j < end && base[j] | 0x20 == 0x65 {  // e or E
            j += 1
            if j < end && (base[j] == _plus || base[j] == _minus) { j += 1 }
            guard isDigit(j) else { throw unexpected(j, expecting: "a digit in the exponent") }
            repeat { j += 1 } while isDigit(j)
            isInteger = false
        }
        i = j
        if isInteger {
            let digitCount = digitsEnd - digitsStart
            if digitCount <= 18 {
                var v: Int64 = 0
                for k in digitsStart..<digitsEnd { v = v &* 10 &+ Int64(base[k] &- _zero) }
                return .int(negative ? -v : v)
            }
            if digitCount == 19 {
                // Accumulate negatively so that Int64.min fits.
                var v: Int64 = 0
                var overflow = false
                for k in digitsStart..<digitsEnd {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.subtractingReportingOverflow(Int64(base[k] &- _zero))
                    v = s
                    overflow = overflow || o1 || o2
                }
                if !overflow {
                    if negative { return .int(v) }
                    if v != .min { return .int(-v) }
                }
            }
            return .bigInteger(text(start, j))
        }
        return .number(text(start, j))
    }

    @inline(__always)
    func text(_ from: Int, _ to: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + from, count: to - from), as: UTF8.self)
    }
}

/// Two lowercase hex digits.
private func _hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
