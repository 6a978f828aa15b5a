import Foundation
import Testing

@testable import Subledger

/// An independent, deliberately naive calendar: day counts by summing years and months.
private enum NaiveCalendar {
    static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }
    static func monthLengths(_ y: Int) -> [Int] { [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] }

    /// yearStart[y] = days from 1970-01-01 to y-01-01, for y in 0...10000.
    static let yearStart: [Int] = {
        var starts = [Int](repeating: 0, count: 10_002)
        for y in 1...10_001 { starts[y] = starts[y - 1] + (isLeap(y - 1) ? 366 : 365) }
        let epoch = starts[1970]
        return starts.map { $0 - epoch }
    }()

    static func days(_ y: Int, _ m: Int, _ d: Int) -> Int {
        yearStart[y] + monthLengths(y)[..<(m - 1)].reduce(0, +) + d - 1
    }

    static func microseconds(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int, _ us: Int = 0) -> Int64 {
        Int64(days(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000 + Int64(us)
    }

    static func format(_ micro: Int64) -> String {
        let secs = Int(micro >= 0 ? micro / 1_000_000 : (micro - 999_999) / 1_000_000)
        let us = Int(micro - Int64(secs) * 1_000_000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = secs - days * 86_400
        var y = 0
        while yearStart[y + 1] <= days { y += 1 }
        var rest = days - yearStart[y]
        var m = 0
        let lengths = monthLengths(y)
        while rest >= lengths[m] {
            rest -= lengths[m]
            m += 1
        }
        var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", y, m + 1, rest + 1, sod / 3600, sod / 60 % 60, sod % 60)
        if us != 0 {
            text += us % 1000 == 0 ? String(format: ".%03d", us / 1000) : String(format: ".%06d", us)
        }
        return text + "Z"
    }
}

private func ts(_ s: String) -> Timestamp? { Timestamp(rfc3339: s) }

@Suite struct TimestampTests {
    static let valid: [(String, Int64)] = [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.000001Z", 1),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("1969-12-31T23:59:59Z", -1_000_000),
        ("2024-01-02T03:04:05Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02t03:04:05z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05.12Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 120_000)),
        ("2024-01-02T03:04:05.1Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 100_000)),
        ("2024-01-02T03:04:05.123456Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 123_456)),
        // Digits beyond microseconds are truncated, never rounded.
        ("2024-01-02T03:04:05.123456789Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 123_456)),
        ("2024-01-02T03:04:05.9999999Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 999_999)),
        ("2024-01-02T03:04:05.000000999999999999999999Z", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5)),
        ("1969-12-31T23:59:59.9999999Z", -1),
        // Offsets are converted to UTC.
        ("2024-01-01T01:00:00+01:00", NaiveCalendar.microseconds(2024, 1, 1, 0, 0, 0)),
        ("2024-01-01T00:00:00-00:30", NaiveCalendar.microseconds(2024, 1, 1, 0, 30, 0)),
        ("2024-01-01T00:00:00+00:30", NaiveCalendar.microseconds(2023, 12, 31, 23, 30, 0)),
        ("2023-12-31T23:30:00-01:00", NaiveCalendar.microseconds(2024, 1, 1, 0, 30, 0)),
        ("2024-03-01T00:00:00+23:59", NaiveCalendar.microseconds(2024, 2, 29, 0, 1, 0)),
        ("2024-01-02T03:04:05.5+00:00", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5, 500_000)),
        ("2024-01-02T03:04:05-00:00", NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5)),
        // Leap years.
        ("2024-02-29T12:00:00Z", NaiveCalendar.microseconds(2024, 2, 29, 12, 0, 0)),
        ("2000-02-29T00:00:00Z", NaiveCalendar.microseconds(2000, 2, 29, 0, 0, 0)),
        ("1600-02-29T00:00:00Z", NaiveCalendar.microseconds(1600, 2, 29, 0, 0, 0)),
        ("2023-04-30T00:00:00Z", NaiveCalendar.microseconds(2023, 4, 30, 0, 0, 0)),
        // Leap second: read as :59 plus one second.
        ("2016-12-31T23:59:60Z", NaiveCalendar.microseconds(2017, 1, 1, 0, 0, 0)),
        ("1998-12-31T23:59:60.5Z", NaiveCalendar.microseconds(1999, 1, 1, 0, 0, 0, 500_000)),
        ("2015-07-01T00:59:60+01:00", NaiveCalendar.microseconds(2015, 7, 1, 0, 0, 0)),
        ("2015-06-30T15:59:60-08:00", NaiveCalendar.microseconds(2015, 7, 1, 0, 0, 0)),
        // Range ends.
        ("0000-01-01T00:00:00Z", NaiveCalendar.microseconds(0, 1, 1, 0, 0, 0)),
        ("0001-01-01T00:00:00Z", NaiveCalendar.microseconds(1, 1, 1, 0, 0, 0)),
        ("9999-12-31T23:59:59.999999Z", NaiveCalendar.microseconds(9999, 12, 31, 23, 59, 59, 999_999)),
        ("9999-12-31T23:59:59.999999+23:59", NaiveCalendar.microseconds(9999, 12, 31, 23, 59, 59, 999_999) - 86_340_000_000),
        ("0000-01-01T23:59:00+23:59", NaiveCalendar.microseconds(0, 1, 1, 0, 0, 0)),
    ]

    @Test(arguments: valid)
    func parsesValid(_ text: String, _ expected: Int64) {
        #expect(ts(text)?.microseconds == expected)
        #expect(Timestamp(rfc3339: Substring("[" + text + "]").dropFirst().dropLast())?.microseconds == expected)
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { Timestamp(rfc3339Bytes: $0) }?.microseconds == expected)
    }

    static let invalid: [String] = [
        "",
        "T",
        "2024-01-02",
        "2024-01-02 03:04:05Z",  // space separator
        "2024-01-02_03:04:05Z",
        "2024-01-02T03:04Z",  // missing seconds
        "2024-01-02T03:04:05",  // missing offset
        "2024-01-02T03:04:05.5",
        "2024-1-02T03:04:05Z",  // 1-digit fields
        "2024-01-2T03:04:05Z",
        "2024-01-02T3:04:05Z",
        "2024-01-02T03:4:05Z",
        "2024-01-02T03:04:5Z",
        "24-01-02T03:04:05Z",
        "02024-01-02T03:04:05Z",
        "+2024-01-02T03:04:05Z",
        "-2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05Zx",  // trailing garbage
        "2024-01-02T03:04:05Z ",
        " 2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05+01:00x",
        "2024-01-02T03:04:05+01:00Z",
        "2024-01-02T03:04:05Z\u{0}",
        "2024-01-02T03:04:05.Z",  // no digit after '.'
        "2024-01-02T03:04:05.",
        "2024-01-02T03:04:05.+01:00",
        "2024-01-02T03:04:05,5Z",
        "2024-01-02T03:04:05.5.5Z",
        "2024-00-02T03:04:05Z",  // field ranges
        "2024-13-02T03:04:05Z",
        "2024-01-00T03:04:05Z",
        "2024-01-32T03:04:05Z",
        "2024-04-31T03:04:05Z",
        "2024-06-31T03:04:05Z",
        "2024-09-31T03:04:05Z",
        "2024-11-31T03:04:05Z",
        "2024-02-30T03:04:05Z",
        "2023-02-29T03:04:05Z",  // not leap years
        "1900-02-29T03:04:05Z",
        "2100-02-29T03:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:60:05Z",
        "2024-01-02T03:04:61Z",
        "2024-01-02T03:04:99Z",
        "2024-01-02T03:04:05+24:00",  // offsets
        "2024-01-02T03:04:05+01:60",
        "2024-01-02T03:04:05+0100",
        "2024-01-02T03:04:05+01",
        "2024-01-02T03:04:05+1:00",
        "2024-01-02T03:04:05+01:0",
        "2024-01-02T03:04:05+01-00",
        "2024-01-02T03:04:05 +01:00",
        "2024-01-02T03:04:05UTC",
        "2024/01/02T03:04:05Z",
        "2024-01-02T03-04-05Z",
        "2024-01-02X03:04:05Z",
        "2O24-01-02T03:04:05Z",
        "２０２４-01-02T03:04:05Z",
        "2024-01-02T03:04:05.1a2Z",
        "2024-01-02T03:04:05.-1Z",
        "2024-01-02T12:34:60Z",  // a leap second ends a UTC day only
        "2015-06-30T23:59:60+01:00",
        "2024-01-02T23:58:60Z",
        "9999-12-31T23:59:60Z",  // UTC outside years 0000-9999
        "9999-12-31T23:30:00-01:00",
        "9999-12-31T23:59:59.999999-23:59",
        "0000-01-01T00:00:00+01:00",
    ]

    @Test(arguments: invalid)
    func rejectsInvalid(_ text: String) {
        #expect(ts(text) == nil, "accepted \(text)")
        #expect(Array(text.utf8).withUnsafeBytes { Timestamp(rfc3339Bytes: $0) } == nil)
    }

    @Test func offsetsConvertToUTC() {
        #expect(ts("2024-01-01T01:00:00+01:00") == ts("2024-01-01T00:00:00Z"))
        #expect(ts("2024-01-01T00:00:00-00:30") == ts("2024-01-01T00:30:00Z"))
        #expect(ts("2023-12-31T23:45:00-00:30") == ts("2024-01-01T00:15:00Z"))
        #expect(ts("2024-01-01T00:15:00+00:30")?.rfc3339 == "2023-12-31T23:45:00Z")
        #expect(ts("2024-02-28T22:00:00-03:00")?.rfc3339 == "2024-02-29T01:00:00Z")
        #expect(ts("2023-02-28T22:00:00-03:00")?.rfc3339 == "2023-03-01T01:00:00Z")
    }

    @Test func formatsWithMinimalFraction() {
        let base = NaiveCalendar.microseconds(2024, 1, 2, 3, 4, 5)
        #expect(Timestamp(microseconds: base).rfc3339 == "2024-01-02T03:04:05Z")
        #expect(Timestamp(microseconds: base + 120_000).rfc3339 == "2024-01-02T03:04:05.120Z")
        #expect(Timestamp(microseconds: base + 1).rfc3339 == "2024-01-02T03:04:05.000001Z")
        #expect(Timestamp(microseconds: base + 1000).rfc3339 == "2024-01-02T03:04:05.001Z")
        #expect(Timestamp(microseconds: base + 999_999).rfc3339 == "2024-01-02T03:04:05.999999Z")
        #expect(Timestamp(microseconds: base + 123_400).rfc3339 == "2024-01-02T03:04:05.123400Z")
        #expect(Timestamp(microseconds: 0).description == "1970-01-01T00:00:00Z")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microseconds: -1000).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(microseconds: -1_000_000).rfc3339 == "1969-12-31T23:59:59Z")
        #expect(ts("2016-12-31T23:59:60Z")?.rfc3339 == "2017-01-01T00:00:00Z")
        #expect(ts("2024-01-02T03:04:05.123456789Z")?.rfc3339 == "2024-01-02T03:04:05.123456Z")

        var out = Array("x=".utf8)
        Timestamp(microseconds: base + 120_000).write(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x=2024-01-02T03:04:05.120Z")
    }

    @Test func extremeValuesDoNotTrap() {
        for m in [Int64.max, .min, .max - 1, .min + 1] {
            let t = Timestamp(microseconds: m)
            let s = t.rfc3339
            #expect(!s.isEmpty && s.hasSuffix("Z"))
            #expect(ts(s) == nil)  // outside years 0000-9999
            var bytes: [UInt8] = []
            t.write(into: &bytes)
            #expect(bytes == Array(s.utf8))
        }
        #expect(Timestamp(microseconds: .max).rfc3339 == "294247-01-10T04:00:54.775807Z")
        // Year 0000 with a positive offset would land in year -1: refused, it could not be written back.
        #expect(ts("0000-01-01T00:00:00+01:00") == nil)
    }

    @Test func roundTripsRandomValuesAgainstNaiveCalendar() throws {
        var rng = SplitMix64(seed: 42)
        let lo = NaiveCalendar.microseconds(1, 1, 1, 0, 0, 0)
        let hi = NaiveCalendar.microseconds(9999, 12, 31, 23, 59, 59, 999_999)
        for n in 0..<20_000 {
            var m = Int64.random(in: lo...hi, using: &rng)
            switch n % 4 {
            case 0: m -= m % 1_000_000  // whole seconds
            case 1: m -= m % 1000  // whole milliseconds
            default: break
            }
            let t = Timestamp(microseconds: m)
            let text = t.rfc3339
            #expect(text == NaiveCalendar.format(m))
            #expect(ts(text) == t)
            var bytes: [UInt8] = []
            t.write(into: &bytes)
            #expect(bytes == Array(text.utf8))
        }
    }

    @Test func randomComponentsParseLikeNaiveCalendar() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let y = Int.random(in: 0...9999, using: &rng)
            let mo = Int.random(in: 1...12, using: &rng)
            let d = Int.random(in: 1...NaiveCalendar.monthLengths(y)[mo - 1], using: &rng)
            let h = Int.random(in: 0...23, using: &rng)
            let mi = Int.random(in: 0...59, using: &rng)
            let s = Int.random(in: 0...59, using: &rng)
            let ns = Int.random(in: 0...999_999_999, using: &rng)
            let oh = Int.random(in: 0...23, using: &rng)
            let om = Int.random(in: 0...59, using: &rng)
            let sign = Bool.random(using: &rng) ? 1 : -1
            let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09d%@%02d:%02d", y, mo, d, h, mi, s, ns, sign > 0 ? "+" : "-", oh, om)
            let expected = NaiveCalendar.microseconds(y, mo, d, h, mi, s, ns / 1000) - Int64(sign * (oh * 3600 + om * 60)) * 1_000_000
            #expect(ts(text)?.microseconds == expected, "\(text)")
        }
    }

    @Test func agreesWithFoundation() throws {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var rng = SplitMix64(seed: 99)
        let lo = NaiveCalendar.microseconds(1600, 1, 1, 0, 0, 0) / 1_000_000
        let hi = NaiveCalendar.microseconds(9999, 12, 31, 23, 59, 59) / 1_000_000
        for _ in 0..<2000 {
            let secs = Int64.random(in: lo...hi, using: &rng)
            let date = Date(timeIntervalSince1970: TimeInterval(secs))
            let t = Timestamp(microseconds: secs * 1_000_000)
            #expect(t.rfc3339 == formatter.string(from: date))
            let parsed = try #require(formatter.date(from: t.rfc3339))
            #expect(Int64(parsed.timeIntervalSince1970) == secs)
        }
    }

    @Test func nowIsCloseToFoundation() {
        let foundation = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let ours = Timestamp.now().microseconds
        #expect(abs(ours - foundation) < 1_000_000)
        let a = Timestamp.now()
        let b = Timestamp.now()
        #expect(a <= b)
    }

    @Test func comparableAndHashable() {
        let a = Timestamp(microseconds: -5)
        let b = Timestamp(microseconds: 7)
        #expect(a < b && !(b < a) && a != b)
        #expect(Set([a, b, Timestamp(microseconds: 7)]).count == 2)
    }
}
