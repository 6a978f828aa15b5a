import Testing

@testable import Subledger

/// The byte-at-a-time formatting that the JSON fast paths replaced, kept here as the reference
/// they must match byte for byte.
private enum Reference {
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }

    static func uuid(_ id: EntityID) -> String {
        let h = hex(id.raw)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { r in
            String(h[h.index(h.startIndex, offsetBy: r.lowerBound)..<h.index(h.startIndex, offsetBy: r.upperBound)])
        }
        return groups.joined(separator: "-")
    }

    static func quoted(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for c in s.utf8 {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case ..<0x20: out += Array(("\\u00" + (c < 0x10 ? "0" : "") + String(c, radix: 16)).utf8)
            default: out.append(c)
            }
        }
        out.append(0x22)
        return out
    }
}

@Suite struct FastPathTests {
    /// Every byte that needs escaping, at every position of strings of 0 to 40 bytes, so that the
    /// word-at-a-time scan sees it in every lane, in the overlapping last word and in short strings.
    @Test func escapeScanFindsEverySpecialByteAtEveryPosition() throws {
        let specials: [UInt8] = Array(0..<0x20) + [0x22, 0x5C]
        let plain: [UInt8] = [0x61, 0x7E, 0x21, 0x23, 0x5B, 0x5D, 0x2F, 0x7F, 0x20]
        for n in 0...40 {
            let base = (0..<n).map { plain[$0 % plain.count] }
            let s = String(decoding: base, as: UTF8.self)
            var w = JSONWriter(capacity: 0)
            w.string(s)
            #expect(w.bytes == Reference.quoted(s))
            for i in 0..<n {
                for c in specials {
                    var bytes = base
                    bytes[i] = c
                    let text = String(decoding: bytes, as: UTF8.self)
                    var v = JSONWriter(capacity: 0)
                    v.string(text)
                    v.key(text)
                    #expect(v.bytes == Reference.quoted(text) + [0x2C] + Reference.quoted(text) + [0x3A], "\(bytes)")
                    #expect(try JSONParser.parse(Reference.quoted(text)) == .string(text))
                }
            }
        }
    }

    @Test func nonASCIIIsCopiedAsItIs() {
        for s in ["é", "héllo wörld, 日本語のテキスト", "😀😀😀😀", "\u{7F}\u{80}x", "ÿÿÿÿÿÿÿÿÿÿ"] {
            var w = JSONWriter(capacity: 0)
            w.string(s)
            #expect(w.bytes == Reference.quoted(s))
        }
    }

    @Test func staticAndStringKeysWriteTheSameBytes() {
        var a = JSONWriter(), b = JSONWriter()
        a.beginObject(); a.key("position"); a.int(1); a.key("a\"b\\c\n"); a.null(); a.key(""); a.int(2); a.endObject()
        let keys = ["position", "a\"b\\c\n", ""]
        b.beginObject(); b.key(keys[0]); b.int(1); b.key(keys[1]); b.null(); b.key(keys[2]); b.int(2); b.endObject()
        #expect(a.bytes == b.bytes)
        #expect(String(decoding: a.bytes, as: UTF8.self) == #"{"position":1,"a\"b\\c\n":null,"":2}"#)
    }

    /// `field(k, v)` writes exactly `key(k)` and then the value, escapes or not.
    @Test func fieldsAreKeysAndValues() {
        let id = EntityID("6f9619ff-8b86-d011-b42d-00cf4fc964ff")!
        let t = Timestamp(microseconds: 1_700_000_000_123_456)
        for s in ["", "plain", "needs \"escapes\"\n", "a longer plain string with no escapes at all", "é€😀"] {
            var a = JSONWriter(), b = JSONWriter()
            a.beginObject()
            a.field("n", -42); a.field("s", s); a.field("id", id); a.field("stream", StreamID(.membership, id))
            a.field("at", t); a.field("hash", hex: [0xDE, 0xAD, 0xBE, 0xEF, 0x01]); a.field("k\"ey", s)
            a.endObject()
            b.beginObject()
            b.key("n"); b.int(-42); b.key("s"); b.string(s); b.key("id"); b.id(id); b.key("stream"); b.stream(StreamID(.membership, id))
            b.key("at"); b.time(t); b.key("hash"); b.hex([0xDE, 0xAD, 0xBE, 0xEF, 0x01]); b.key("k\"ey"); b.string(s)
            b.endObject()
            #expect(a.bytes == b.bytes)
            var c = JSONWriter()
            c.beginObject()
            c.key("n"); c.int(-42); c.key("s"); c.string(s); c.key("id"); c.string(id.description)
            c.key("stream"); c.string(StreamID(.membership, id).description); c.key("at"); c.string(t.rfc3339)
            c.key("hash"); c.string("deadbeef01"); c.key("k\"ey"); c.string(s)
            c.endObject()
            #expect(a.bytes == c.bytes)
        }
    }

    @Test func integersMatchTheirDescription() {
        var values: [Int64] = [0, 1, 9, 10, 11, 99, 100, -1, -9, -10, .max, .min, .max - 1, .min + 1]
        var p: Int64 = 1
        for _ in 0..<18 {
            p *= 10
            values += [p - 1, p, p + 1, -p + 1, -p, -p - 1]
        }
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 { values.append(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)) }
        var w = JSONWriter(capacity: 0)
        w.beginArray()
        for v in values { w.int(v) }
        w.endArray()
        #expect(String(decoding: w.bytes, as: UTF8.self) == "[" + values.map(String.init).joined(separator: ",") + "]")
    }

    @Test func idsStreamsAndHashesMatchTheReference() {
        var rng = SplitMix64(seed: 5)
        var ids = [EntityID(high: 0, low: 0), EntityID(high: .max, low: .max),
                   EntityID("6F9619FF-8B86-D011-B42D-00CF4FC964FF")!,
                   EntityID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)]
        for _ in 0..<500 { ids.append(EntityID(high: rng.next(), low: rng.next())) }
        for id in ids {
            #expect(id.description == Reference.uuid(id))
            var text: [UInt8] = [0x78]
            id.appendText(to: &text)
            #expect(text == [0x78] + Array(Reference.uuid(id).utf8))
            #expect(EntityID(id.description) == id)
            for kind in EntityKind.allCases {
                var w = JSONWriter()
                w.beginArray(); w.id(id); w.stream(StreamID(kind, id)); w.endArray()
                #expect(String(decoding: w.bytes, as: UTF8.self) == "[\"\(Reference.uuid(id))\",\"\(kind)-\(Reference.uuid(id))\"]")
            }
        }
        for n in [0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 32, 33] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(hex(bytes) == Reference.hex(bytes))
            var w = JSONWriter()
            w.hex(bytes)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"" + Reference.hex(bytes) + "\"")
        }
        #expect(hex(Array(0...255)) == Reference.hex(Array(0...255)))
    }

    @Test func timestampsMatchTheirText() {
        var rng = SplitMix64(seed: 9)
        var times: [Int64] = [0, -1, 1, 999_999, 1_000_000, -1_000_000, 120_000, .max, .min, 253_402_300_799_999_999]
        for _ in 0..<3000 { times.append(Int64(bitPattern: rng.next()) >> Int64(8 + rng.next() % 56)) }
        for m in times {
            let t = Timestamp(microseconds: m)
            var w = JSONWriter()
            w.time(t)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"" + t.rfc3339 + "\"")
            var bytes: [UInt8] = []
            t.write(into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == t.rfc3339)
        }
    }

    @Test func rowsAndExecLinesWriteIdsAndTimesAsText() {
        let id = EntityID("6f9619ff-8b86-d011-b42d-00cf4fc964ff")!
        let row = ViewRow([("id", .id(id)), ("at", .time(Timestamp(microseconds: 1_500_000))), ("n", .int(-3)),
                           ("s", .string("a\"b")), ("none", .null)])
        var w = JSONWriter()
        row.write(to: &w)
        #expect(String(decoding: w.bytes, as: UTF8.self)
            == #"{"id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff","at":"1970-01-01T00:00:01.500Z","n":-3,"s":"a\"b","none":null}"#)
        let result = ExecResult(line: 7, outcome: .applied(position: 12, created: id))
        #expect(String(decoding: result.json, as: UTF8.self)
            == #"{"line":7,"status":"ok","positions":[12],"id":"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}"#)
        var lines = JSONWriter()
        result.writeJSON(to: &lines); lines.endLine()
        result.writeJSON(to: &lines); lines.endLine()
        #expect(lines.bytes == result.json + [0x0A] + result.json + [0x0A])
    }

    /// `String(validUTF8:)` answers exactly as `String(validating:as:)` does.
    @Test func utf8ValidationAgreesWithTheStandardLibrary() {
        var rng = SplitMix64(seed: 11)
        var cases: [[UInt8]] = [[], [0x41], [0x80], [0xC3, 0xA9], [0xC3], [0xED, 0xA0, 0x80], [0xF0, 0x90, 0x80],
                                [0xEF, 0xBF, 0xBD], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0x80], Array("plain ascii, 8+ bytes".utf8)]
        let pool: [UInt8] = [0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xFF, 0xA9, 0x20]
        for _ in 0..<5000 {
            let n = Int(rng.next() % 24)
            cases.append((0..<n).map { _ in rng.next() % 3 == 0 ? pool[Int(rng.next() % UInt64(pool.count))] : UInt8(0x21 + rng.next() % 90) })
        }
        for bytes in cases {
            bytes.withUnsafeBytes { raw in
                #expect(String(validUTF8: raw) == String(validating: raw, as: UTF8.self), "\(bytes)")
            }
        }
    }

    @Test func entityIDReadsItsRawBytesAtAnOffset() {
        let id = EntityID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)
        let bytes: [UInt8] = [0xAA, 0xBB, 0xCC] + id.raw + [0xDD]
        bytes.withUnsafeBytes { raw in
            #expect(EntityID(raw: raw, at: 3) == id)
            #expect(EntityID(raw: UnsafeRawBufferPointer(rebasing: raw[3..<19])) == id)
        }
    }

    /// The byte-at-a-time varint reader that `BinaryReader.varint` replaced: value or error,
    /// and the offset after it.
    private func referenceVarint(_ bytes: [UInt8]) -> (Result<UInt64, DecodingError>, offset: Int) {
        var offset = 0, result: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { return (.failure(DecodingError(offset: offset, reason: "truncated")), offset) }
            let b = bytes[offset]
            offset += 1
            if shift == 63 && b > 1 { return (.failure(DecodingError(offset: offset, reason: "varint overflow")), offset) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return (.success(result), offset) }
            shift += 7
            if shift > 63 { return (.failure(DecodingError(offset: offset, reason: "varint overflow")), offset) }
        }
    }

    private func readVarint(_ bytes: [UInt8]) -> (Result<UInt64, DecodingError>, offset: Int) {
        bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            let result = Result { () throws(DecodingError) in try r.varint() }
            return (result, r.offset)
        }
    }

    @Test func varintsReadAsTheByteAtATimeReaderDid() {
        var values: [UInt64] = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, UInt64(Int64.max), .max - 1, .max]
        for shift in 0..<64 { values += [1 << shift, (1 << shift) - 1] }
        var inputs: [[UInt8]] = [[], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
                                 [UInt8](repeating: 0x80, count: 9) + [0x7F], [UInt8](repeating: 0x80, count: 12)]
        for v in values {
            var w = BinaryWriter(capacity: 10)
            w.varint(v)
            // Every prefix (truncated ones included), alone and followed by more bytes: ending
            // within a word load, and with 8 more continuation bytes after it.
            for n in 0...w.bytes.count {
                let prefix = Array(w.bytes[..<n])
                inputs += [prefix, prefix + [0xAA, 0x01], prefix + [UInt8](repeating: 0x80, count: 8) + [0x00]]
            }
        }
        for input in inputs {
            let (expected, expectedOffset) = referenceVarint(input)
            let (got, offset) = readVarint(input)
            #expect(got == expected, "\(input)")
            #expect(offset == expectedOffset, "\(input)")
        }
    }
}
