import Foundation
import Testing

@testable import Subledger

private func parse(_ s: String, maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
    try JSONParser.parse(s, maxDepth: maxDepth)
}

private func parseError(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func written(_ v: JSONValue) -> [UInt8] {
    var w = JSONWriter()
    w.value(v)
    return w.bytes
}

@Suite struct JSONParserTests {
    static let validCases: [(String, JSONValue)] = [
        ("null", .null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        (" \t\r\n 0 \n", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("123456789012345678", .int(123_456_789_012_345_678)),
        ("9223372036854775807", .int(.max)),
        ("-9223372036854775808", .int(.min)),
        ("9223372036854775808", .bigInteger("9223372036854775808")),
        ("-9223372036854775809", .bigInteger("-9223372036854775809")),
        ("99999999999999999999", .bigInteger("99999999999999999999")),
        ("123456789012345678901234567890", .bigInteger("123456789012345678901234567890")),
        ("1.5", .number("1.5")),
        ("-0.0", .number("-0.0")),
        ("1e5", .number("1e5")),
        ("1E+5", .number("1E+5")),
        ("2.5e-10", .number("2.5e-10")),
        ("0e0", .number("0e0")),
        (#""""#, .string("")),
        (#""hello""#, .string("hello")),
        (#""a\"b\\c\/d\be\ff\ng\rh\ti""#, .string("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti")),
        (#""\u0041\u00e9\u20AC""#, .string("Aé€")),
        (#""\u0000""#, .string("\u{0}")),
        (#""\uD83D\uDE00""#, .string("😀")),
        (#""x\ud83d\ude00y""#, .string("x😀y")),
        ("\"héllo €𝄞 日本\"", .string("héllo €𝄞 日本")),
        ("\"\u{7F}\"", .string("\u{7F}")),
        ("[]", .array([])),
        ("[ ]", .array([])),
        ("{}", .object([:])),
        ("{ \n }", .object([:])),
        ("[1,\"a\",null,true,[],{}]", .array([.int(1), .string("a"), .null, .bool(true), .array([]), .object([:])])),
        (
            #" { "b" : 1 , "a" : [ 2 , { "c" : null } ] } "#,
            .object(["b": .int(1), "a": .array([.int(2), .object(["c": .null])])])
        ),
        (#"{"":""}"#, .object(["": .string("")])),
        (#"[[[[]]]]"#, .array([.array([.array([.array([])])])])),
    ]

    @Test(arguments: validCases)
    func parsesValid(_ text: String, _ expected: JSONValue) throws {
        #expect(try parse(text) == expected)
        // All three entry points agree.
        #expect(try JSONParser.parse(Array(text.utf8)) == expected)
        let viaRaw = Array(text.utf8).withUnsafeBytes { raw in try? JSONParser.parse(raw) }
        #expect(viaRaw == expected)
    }

    @Test func objectKeepsOrderAndLooksUp() throws {
        let v = try parse(#"{"z":1,"a":2,"m":3}"#)
        let o = try #require(v.objectValue)
        #expect(o.keys == ["z", "a", "m"])
        #expect(o["a"] == .int(2))
        #expect(o["nope"] == nil)
        #expect(o.entries.map(\.value) == [.int(1), .int(2), .int(3)])
        // Order matters for equality (it is what the writer emits).
        #expect(v != .object(["a": .int(2), "z": .int(1), "m": .int(3)]))
    }

    static let invalidCases: [(String, String)] = [
        ("", "unexpected end of input"),
        ("   ", "unexpected end of input"),
        ("nul", "invalid literal"),
        ("nulll", "unexpected character"),
        ("True", "unexpected character"),
        ("fals", "invalid literal"),
        ("NaN", "unexpected character"),
        ("Infinity", "unexpected character"),
        ("-Infinity", "expected a digit"),
        ("+1", "unexpected character '+'"),
        ("01", "leading zero"),
        ("-01", "leading zero"),
        ("00", "leading zero"),
        ("1.", "digit after '.'"),
        (".5", "unexpected character '.'"),
        ("1.e5", "digit after '.'"),
        ("1e", "digit in the exponent"),
        ("1e+", "digit in the exponent"),
        ("-", "expected a digit"),
        ("0x10", "unexpected character 'x'"),
        ("1 2", "expected end of input"),
        ("[1,]", "expected a value"),
        ("[,1]", "expected a value"),
        ("[1 2]", "expected ',' or ']'"),
        ("[1", "unterminated array"),
        ("[", "unexpected end of input"),
        ("]", "unexpected character ']'"),
        (#"{"a":1,}"#, "expected a string key"),
        (#"{"a" 1}"#, "expected ':'"),
        (#"{"a":1"#, "unterminated object"),
        (#"{a:1}"#, "expected a string key"),
        (#"{1:1}"#, "expected a string key"),
        (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
        (#"{"a":1]"#, "expected ',' or '}'"),
        (#"[1}"#, "expected ',' or ']'"),
        (#"{"a"}"#, "expected ':'"),
        (#"{"a":}"#, "expected a value"),
        (#"{"email":1,"email":2}"#, #"duplicate key "email""#),
        (#"{"a":{"x":1,"x":1}}"#, #"duplicate key "x""#),
        (#"{"\u00e9":1,"é":2}"#, "duplicate key"),
        (#""abc"#, "unterminated string"),
        (#""abc\"#, "unterminated string"),
        (#""abc\""#, "unterminated string"),
        (#""\x""#, "invalid escape"),
        (#""\'""#, "invalid escape"),
        (#""\u12""#, "invalid \\u escape"),
        (#""\u12G4""#, "invalid \\u escape"),
        (#""\uD83D""#, "unpaired"),
        (#""\uD83Dx""#, "unpaired"),
        (#""\uD83D\u0041""#, "unpaired"),
        (#""\uDE00""#, "unpaired"),
        (#""\uDE00\uD83D""#, "unpaired"),
        ("\"a\nb\"", "control character"),
        ("\"a\tb\"", "control character"),
        ("\"\u{0}\"", "control character"),
        ("\"a\\n\u{1F}\"", "control character"),
        ("/* c */ 1", "unexpected character '/'"),
        ("1 // c", "unexpected character '/'"),
        ("\u{C}1", "unexpected byte 0x0c"),
        ("\u{A0}1", "unexpected byte 0xc2"),
        ("[1]x", "expected end of input"),
        ("{}{}", "expected end of input"),
        ("'a'", "unexpected character"),
    ]

    @Test(arguments: invalidCases)
    func rejectsInvalid(_ text: String, _ message: String) {
        let e = parseError(Array(text.utf8))
        #expect(e != nil, "accepted \(text)")
        #expect(e?.message.contains(message) == true, "\(text): \(String(describing: e))")
        #expect(e.map { !$0.description.contains("\n") } ?? true)
    }

    @Test func errorOffsetsAndDescription() {
        let e = parseError(Array(#"{"a":"x\u0041",  "b":"\q"}"#.utf8))
        #expect(e == JSONParseError(offset: 22, message: "invalid escape sequence"))
        #expect(e?.description == "invalid escape sequence at byte 22")
        let dup = parseError(Array(#"{"email":1, "email":2}"#.utf8))
        #expect(dup?.offset == 12)
        #expect(dup?.description == #"duplicate key "email" at byte 12"#)
        let bad = parseError(Array(#"["abc", "déf"]"#.utf8).map { $0 == 0xA9 ? 0xFF : $0 })
        #expect(bad?.description == "invalid UTF-8 at byte 10")
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x80],  // lone continuation byte
        [0xBF],
        [0xC0, 0x80],  // overlong NUL
        [0xC1, 0xBF],  // overlong
        [0xC2],  // truncated
        [0xC2, 0x41],  // bad continuation
        [0xE0, 0x80, 0x80],  // overlong 3-byte
        [0xE0, 0x9F, 0xBF],  // overlong 3-byte
        [0xE2, 0x82],  // truncated
        [0xE2, 0x28, 0xA1],
        [0xED, 0xA0, 0x80],  // UTF-8-encoded surrogate U+D800
        [0xED, 0xBF, 0xBF],  // U+DFFF
        [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
        [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
        [0xF0, 0x9F, 0x98],  // truncated
        [0xF4, 0x90, 0x80, 0x80],  // > U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xFF],
        [0xFE],
    ]

    @Test(arguments: invalidUTF8)
    func rejectsInvalidUTF8(_ seq: [UInt8]) {
        for (prefix, suffix) in [("\"", "\""), ("\"ab", "cd\""), ("{\"k", "\":1}"), ("[\"\\n", "\"]")] {
            let input = Array(prefix.utf8) + seq + Array(suffix.utf8)
            let e = parseError(input)
            #expect(e?.message == "invalid UTF-8", "\(input): \(String(describing: e))")
            #expect(e?.offset == prefix.utf8.count)
        }
        // Truncated at the very end of the input, too.
        #expect(parseError(Array("\"x".utf8) + seq) != nil)
    }

    @Test func acceptsUTF8Boundaries() throws {
        let scalars: [UInt32] = [0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF]
        for s in scalars {
            let str = String(Character(Unicode.Scalar(s)!))
            #expect(try parse("\"\(str)\"") == .string(str))
            #expect(try parse("\"\\n\(str)\"") == .string("\n" + str))
        }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try parse(ok)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(parseError(Array(tooDeep.utf8))?.message == "nesting deeper than 64")
        #expect(parseError(Array(tooDeep.utf8))?.offset == 64)
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(parseError(Array(objects.utf8))?.message == "nesting deeper than 64")
        _ = try parse(objects, maxDepth: 65)
        #expect(parseError(Array("[[1]]".utf8), maxDepth: 1)?.message == "nesting deeper than 1")
        #expect(try parse("1", maxDepth: 0) == .int(1))
    }

    @Test func millionOpenBracketsIsAnErrorNotACrash() {
        let e = parseError([UInt8](repeating: 0x5B, count: 1_000_000))
        #expect(e?.message == "nesting deeper than 64")
        let deepOK = [UInt8](repeating: 0x5B, count: 100_000)
        #expect(parseError(deepOK, maxDepth: 200_000)?.message.contains("unexpected end of input") == true)
    }

    @Test func manyKeysAndDuplicateDetectionInLargeObjects() throws {
        var text = "{"
        for k in 0..<500 { text += "\"k\(k)\":\(k)," }
        text += "\"last\":true}"
        let o = try #require(try parse(text).objectValue)
        #expect(o.count == 501)
        #expect(o["k250"] == .int(250))
        for dupIndex in [0, 5, 11, 12, 13, 499] {
            let bad = text.replacingOccurrences(of: "\"last\"", with: "\"k\(dupIndex)\"")
            #expect(parseError(Array(bad.utf8))?.message == "duplicate key \"k\(dupIndex)\"")
        }
        // Same key in sibling and nested objects is fine.
        _ = try parse(#"[{"a":1},{"a":2,"b":{"a":3}}]"#)
    }

    @Test func duplicateKeysOfEveryLength() throws {
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 24, 40] {
            let a = String(repeating: "a", count: length)
            #expect(parseError(Array("{\"\(a)\":1,\"x\":2,\"\(a)\":3}".utf8))?.message.hasPrefix("duplicate key") == true)
            // Same length, same first and last 8 bytes, different middle: not duplicates.
            if length >= 17 {
                var b = Array(a.utf8)
                b[8] = UInt8(ascii: "b")
                let bs = String(decoding: b, as: UTF8.self)
                #expect(try parse("{\"\(a)\":1,\"\(bs)\":2}").objectValue?.count == 2)
            }
            if length >= 1 {
                var c = Array(a.utf8)
                c[length - 1] = UInt8(ascii: "c")
                #expect(try parse("{\"\(a)\":1,\"\(String(decoding: c, as: UTF8.self))\":2}").objectValue?.count == 2)
            }
        }
        // An escaped spelling of the same key is a duplicate.
        #expect(parseError(Array(#"{"ab":1,"a\u0062":2}"#.utf8))?.message == #"duplicate key "ab""#)
        #expect(parseError(Array(#"{"a\u0062":1,"ab":2}"#.utf8))?.message == #"duplicate key "ab""#)
        // Canonically equivalent keys are duplicates (as Swift Strings they are equal),
        // including a non-ASCII spelling of an ASCII key (U+212A KELVIN SIGN is "K").
        #expect(parseError(Array("{\"K\":1,\"\u{212A}\":2}".utf8))?.message.hasPrefix("duplicate key") == true)
        #expect(parseError(Array("{\"e\u{301}\":1,\"\u{E9}\":2}".utf8))?.message.hasPrefix("duplicate key") == true)
        #expect(try parse(#"{"a":1,"A":2,"a ":3," a":4}"#).objectValue?.count == 4)
    }

    @Test func unterminatedStringPointsAtItsQuote() {
        #expect(parseError(Array(#"["x", "ab"#.utf8)) == JSONParseError(offset: 6, message: "unterminated string"))
        #expect(parseError(Array(#"["x", "ab\ncd"#.utf8)) == JSONParseError(offset: 6, message: "unterminated string"))
        #expect(parseError(Array(#"["x", "ab\"#.utf8)) == JSONParseError(offset: 6, message: "unterminated string"))
        #expect(parseError(Array(#"{"abcdefghijklmnopq"#.utf8)) == JSONParseError(offset: 1, message: "unterminated string"))
    }

    @Test func longStringsWithEverything() throws {
        // Exercise the 8-byte scanning across many alignments.
        for n in 0..<40 {
            let plain = String(repeating: "abcdefg", count: n / 7 + 1).prefix(n)
            for special in ["", "\\n", "é", "😀", "\\u00e9", "\\\""] {
                let body = plain + special + plain
                let text = "\"" + body + "\""
                let expected = body.replacingOccurrences(of: "\\n", with: "\n")
                    .replacingOccurrences(of: "\\u00e9", with: "é").replacingOccurrences(of: "\\\"", with: "\"")
                #expect(try parse(text) == .string(expected))
                var bad = Array(text.utf8)
                bad.insert(0x01, at: bad.count - 1 - n / 2)
                #expect(parseError(bad)?.message.contains("control character") == true)
            }
        }
    }

    @Test func longDuplicateKeyMessageStaysShortAndOneLine() {
        let key = String(repeating: "x\n", count: 200)
        var w = JSONWriter()
        w.beginObject(); w.key(key); w.int(1); w.key(key); w.int(2); w.endObject()
        let e = parseError(w.bytes)
        #expect(e?.message.hasPrefix("duplicate key \"x\\nx\\n") == true)
        #expect((e?.message.count ?? 0) < 200)
        #expect(e?.message.contains("\n") == false)
    }
}

@Suite struct JSONWriterTests {
    @Test func exactBytes() {
        var w = JSONWriter()
        w.beginObject()
        w.key("a"); w.int(1)
        w.key("b"); w.beginArray(); w.bool(true); w.null(); w.endArray()
        w.endObject()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":1,"b":[true,null]}"#)

        var v = JSONWriter(capacity: 0)
        v.beginArray()
        v.int(0); v.int(-1); v.int(.max); v.int(.min); v.bool(false)
        v.string("q\"b\\s/\u{8}\u{C}\n\r\t\u{0}\u{1F}\u{7F}é😀")
        v.beginObject(); v.endObject(); v.beginArray(); v.endArray()
        v.raw(Array("{\"pre\":1}".utf8))
        v.beginObject(); v.key("k\"\n"); v.raw("2.50".utf8); v.key("e"); v.beginArray(); v.endArray(); v.endObject()
        v.endArray()
        #expect(
            String(decoding: v.bytes, as: UTF8.self)
                == #"[0,-1,9223372036854775807,-9223372036854775808,false,"q\"b\\s/\b\f\n\r\t\u0000\u001f"#
                + "\u{7F}é😀\"" + #",{},[],{"pre":1},{"k\"\n":2.50,"e":[]}]"#)
    }

    @Test func writesParsedValuesVerbatim() throws {
        let text = #"{"big":123456789012345678901234567890,"n":-1.50E+03,"s":"\u00e9\/","a":[]}"#
        let v = try JSONParser.parse(text)
        #expect(String(decoding: written(v), as: UTF8.self)
            == #"{"big":123456789012345678901234567890,"n":-1.50E+03,"s":"é/","a":[]}"#)
        var w = JSONWriter()
        w.value(.string("x")); w.value(.int(3)); w.value(.null)
        #expect(String(decoding: w.bytes, as: UTF8.self) == #""x",3,null"#)
    }

    @Test func allControlCharactersEscaped() throws {
        for c in 0..<0x20 {
            let s = String(Character(Unicode.Scalar(UInt8(c))))
            let bytes = written(.string(s))
            #expect(!bytes.contains { $0 < 0x20 })
            #expect(try JSONParser.parse(bytes) == .string(s))
        }
        #expect(written(.string("\u{1}")) == Array(#""\u0001""#.utf8))
        #expect(written(.string("\u{1B}")) == Array(#""\u001b""#.utf8))
    }

    fileprivate static func randomString(_ rng: inout SplitMix64) -> String {
        let pool: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "日", "\u{FFFF}", "key"]
        let n = Int.random(in: 0...8, using: &rng)
        return (0..<n).map { _ in pool.randomElement(using: &rng)! }.joined()
    }

    fileprivate static func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        let kind = Int.random(in: 0..<(depth > 5 ? 7 : 9), using: &rng)
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            let choices: [Int64] = [0, -1, .max, .min, Int64.random(in: .min ... .max, using: &rng), Int64.random(in: -1000...1000, using: &rng)]
            return .int(choices.randomElement(using: &rng)!)
        case 3:
            return .bigInteger(["9223372036854775808", "-9223372036854775809", "123456789012345678901234567890"].randomElement(using: &rng)!)
        case 4: return .number(["1.5", "-0.0", "1e10", "2.5E-3", "0.1", "-12.75e+2"].randomElement(using: &rng)!)
        case 5, 6: return .string(randomString(&rng))
        case 7:
            let n = Int.random(in: 0...5, using: &rng)
            return .array((0..<n).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            let n = Int.random(in: 0...20, using: &rng)
            var seen = Set<String>()
            var o = JSONObject()
            for _ in 0..<n {
                let k = randomString(&rng)
                if seen.insert(k).inserted { o.entries.append((key: k, value: randomValue(&rng, depth: depth + 1))) }
            }
            return .object(o)
        }
    }

    @Test func roundTripsGeneratedValues() throws {
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<3000 {
            let v = Self.randomValue(&rng, depth: 0)
            let bytes = written(v)
            let back = try JSONParser.parse(bytes)
            #expect(back == v)
            // Deterministic: writing again gives the same bytes.
            #expect(written(back) == bytes)
            // No whitespace outside strings, and the same as Foundation understands.
            if case .object = v {
                let obj = try JSONSerialization.jsonObject(with: Data(bytes))
                #expect(obj is [String: Any])
            }
        }
    }
}

@Suite struct JSONFuzzTests {
    static let seeds: [String] = [
        #"{"a":1,"b":[true,null,false],"c":{"d":"e\u00e9\n","f":-1.5e3}}"#,
        #"[1,-0,123456789012345678901234567890,"x\ud83d\ude00y","日本",{},[],[[{"k":"v"}]]]"#,
        #"{"account":"acct_123","amount":-4200,"currency":"EUR","memo":"r\u00e9f. \"x\"","tags":["a","b"],"at":"2024-01-02T03:04:05Z"}"#,
        "\"\u{7F}é€😀\"",
    ]

    /// Parses without trapping; any accepted input must survive a write/parse round trip.
    static func check(_ bytes: [UInt8]) {
        // An exactly sized allocation, so that an address sanitizer run
        // (`swift test --sanitize=address`) catches any read past the end.
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { exact.deallocate() }
        bytes.withUnsafeBytes { exact.copyMemory(from: $0) }
        do {
            let v = try JSONParser.parse(UnsafeRawBufferPointer(exact))
            let w = written(v)
            #expect((try? JSONParser.parse(w)) == v, "\(bytes)")
        } catch {
            #expect(error.offset >= 0 && error.offset <= bytes.count)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func randomBytes() {
        var rng = SplitMix64(seed: 1)
        let alphabet = Array("{}[],:\"\\ \n0123456789-+.eEtrufalsn".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        let deadline = ContinuousClock.now + .seconds(2)
        var count = 0
        while ContinuousClock.now < deadline {
            let n = Int.random(in: 0...40, using: &rng)
            let bytes: [UInt8] = (0..<n).map { _ in
                Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            Self.check(bytes)
            count += 1
        }
        #expect(count > 1000)
    }

    @Test func mutationsOfValidJSON() {
        var rng = SplitMix64(seed: 2)
        let interesting: [UInt8] = Array("{}[],:\"\\u 0-.e".utf8) + [0x00, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        let deadline = ContinuousClock.now + .seconds(2)
        var count = 0
        var accepted = 0
        while ContinuousClock.now < deadline {
            var bytes = Array(Self.seeds.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let op = Int.random(in: 0..<5, using: &rng)
                let at = Int.random(in: 0...bytes.count, using: &rng)
                switch op {
                case 0 where at < bytes.count: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1 where at < bytes.count: bytes[at] = interesting.randomElement(using: &rng)!
                case 2 where at < bytes.count: bytes.remove(at: at)
                case 3: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                default: bytes.removeSubrange(at...)  // truncation
                }
            }
            do {
                _ = try JSONParser.parse(bytes)
                accepted += 1
            } catch {}
            Self.check(bytes)
            count += 1
        }
        #expect(count > 1000)
        #expect(accepted > 0)
    }
}
