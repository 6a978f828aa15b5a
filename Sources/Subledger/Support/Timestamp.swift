#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Microseconds since the Unix epoch, UTC.
///
/// Parses and formats RFC 3339 date-times without Foundation:
///
/// - Parsing (``init(rfc3339:)``, ``init(rfc3339Bytes:)``) accepts exactly
///   `YYYY-MM-DD` `T`|`t` `HH:MM:SS` [`.` digits] (`Z`|`z`|`+HH:MM`|`-HH:MM`),
///   with years 0000–9999, real calendar days (proleptic Gregorian leap years),
///   hours 00–23, minutes 00–59, seconds 00–60 and offsets up to ±23:59.
///   Fraction digits beyond microseconds are truncated (not rounded).
///   A leap second (`:60`) is accepted only as the last second of a UTC day (`23:59:60Z`,
///   or `15:59:60-08:00`), and read as one second after `:59`: midnight of the next day.
///   The offset is subtracted to give UTC, which must lie in years 0000–9999 too, so that
///   every accepted time formats back to RFC 3339 (`9999-12-31T23:30:00-01:00` is refused).
/// - Formatting (``rfc3339``, ``write(into:)``) gives UTC with `Z`:
///   `2024-01-02T03:04:05Z` when there are no sub-second digits,
///   `2024-01-02T03:04:05.120Z` for whole milliseconds, otherwise
///   `2024-01-02T03:04:05.000001Z`. Every timestamp in years 0000–9999 formats
///   to text that parses back to it. Instants outside those years (possible
///   with extreme `microseconds`) are formatted with a longer year, or `-` and
///   the year for years before 0 (ISO 8601 expanded style); such text is not
///   RFC 3339 and is rejected by the parser.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z (negative before it).
    public var microseconds: Int64

    /// The instant `microseconds` after the Unix epoch.
    @inlinable public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// The current time, from `clock_gettime(CLOCK_REALTIME)`.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
    }

    /// Earlier instants order first.
    @inlinable public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }

    /// Parses an RFC 3339 date-time (see the type's documentation); `nil` if
    /// the text is not exactly one.
    @inlinable public init?(rfc3339 text: some StringProtocol) {
        let parsed = text.utf8.withContiguousStorageIfAvailable { buffer in
            Timestamp(rfc3339Bytes: UnsafeRawBufferPointer(buffer))
        }
        if let parsed {
            guard let parsed else { return nil }
            self = parsed
        } else {
            let copy = Array(text.utf8)
            guard let t = copy.withUnsafeBytes({ Timestamp(rfc3339Bytes: $0) }) else { return nil }
            self = t
        }
    }

    /// Parses an RFC 3339 date-time from UTF-8 bytes (see the type's
    /// documentation); `nil` if the bytes are not exactly one. Does not allocate.
    public init?(rfc3339Bytes bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n >= 20, let raw = bytes.baseAddress else { return nil }
        let p = raw.assumingMemoryBound(to: UInt8.self)

        @inline(__always) func digit(_ k: Int) -> Int64 {
            let d = p[k] &- 0x30
            return d < 10 ? Int64(d) : -1_000_000
        }
        @inline(__always) func two(_ k: Int) -> Int64 { digit(k) * 10 + digit(k + 1) }

        let year = two(0) * 100 + two(2)
        let month = two(5)
        let day = two(8)
        let hour = two(11)
        let minute = two(14)
        let second = two(17)
        guard year >= 0, p[4] == 0x2D, month >= 1, month <= 12,
              p[7] == 0x2D, day >= 1, day <= 31,
              p[10] | 0x20 == 0x74,  // T or t
              hour >= 0, hour <= 23, p[13] == 0x3A, minute >= 0, minute <= 59,
              p[16] == 0x3A, second >= 0, second <= 60
        else { return nil }
        if day > 28 {
            let limit: Int64
            switch month {
            case 2: limit = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
            case 4, 6, 9, 11: limit = 30
            default: limit = 31
            }
            guard day <= limit else { return nil }
        }

        var k = 19
        var fraction: Int64 = 0
        if p[k] == 0x2E {  // .
            k += 1
            let fractionStart = k
            while k < n, p[k] &- 0x30 < 10 {
                if k - fractionStart < 6 { fraction = fraction * 10 + Int64(p[k] &- 0x30) }
                k += 1
            }
            let count = k - fractionStart
            guard count > 0 else { return nil }
            var c = count
            while c < 6 {
                fraction *= 10
                c += 1
            }
        }
        guard k < n else { return nil }

        var offsetSeconds: Int64 = 0
        let z = p[k]
        if z | 0x20 == 0x7A {  // Z or z
            guard k + 1 == n else { return nil }
        } else if z == 0x2B || z == 0x2D {  // + or -
            guard k + 6 == n, p[k + 3] == 0x3A else { return nil }
            let oh = two(k + 1)
            let om = two(k + 4)
            guard oh >= 0, oh <= 23, om >= 0, om <= 59 else { return nil }
            offsetSeconds = oh * 3600 + om * 60
            if z == 0x2D { offsetSeconds = -offsetSeconds }
        } else {
            return nil
        }

        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // A leap second ends a UTC day: the second before it is a day's last.
        if second == 60, (seconds - 1) % 86_400 != 86_399, (seconds - 1) % 86_400 != -1 { return nil }
        let microseconds = seconds * 1_000_000 + fraction
        guard microseconds >= Timestamp.earliest, microseconds <= Timestamp.latest else { return nil }
        self.microseconds = microseconds
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the instants RFC 3339 can write.
    static let earliest: Int64 = -62_167_219_200_000_000
    static let latest: Int64 = 253_402_300_799_999_999

    /// The RFC 3339 text in UTC (see the type's documentation).
    public var rfc3339: String {
        String(unsafeUninitializedCapacity: Timestamp.maxFormattedLength) { buffer in
            format(into: buffer.baseAddress!)
        }
    }

    /// ``rfc3339``.
    public var description: String { rfc3339 }

    /// Appends the RFC 3339 text in UTC to `bytes`, without creating a `String`.
    public func write(into bytes: inout [UInt8]) {
        bytes.append(addingCapacity: Timestamp.maxFormattedLength) { writeRFC3339(to: &$0) }
    }

    /// Writes the RFC 3339 text in UTC (at most ``maxFormattedLength`` bytes) straight into `out`.
    @inline(__always)
    func writeRFC3339(to out: inout OutputSpan<UInt8>) {
        out.append(upTo: Timestamp.maxFormattedLength) { format(into: $0) }
    }

    // MARK: Calendar arithmetic (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms")

    /// A sign, up to 6 year digits, and `-MM-DDTHH:MM:SS.uuuuuuZ`.
    static let maxFormattedLength = 40

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    @inline(__always)
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01).
    @inline(__always)
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// "00" through "99".
    static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// Writes the text at `p` (at least ``maxFormattedLength`` bytes); returns its length.
    func format(into p: UnsafeMutablePointer<UInt8>) -> Int {
        // Floor division, so that instants before 1970 work.
        var seconds = microseconds / 1_000_000
        var micros = microseconds % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Timestamp.civilFromDays(days)

        var k = 0
        @inline(__always) func put(_ c: UInt8) {
            p[k] = c
            k += 1
        }
        // Two digits (0-99) with one look-up rather than a division and a remainder.
        let pairs = Timestamp.digitPairs.utf8Start
        @inline(__always) func put2(_ v: Int64) {
            let i = 2 * Int(truncatingIfNeeded: v)
            precondition(i >= 0 && i < 200, "two digits")  // every caller passes 0-99; never read past the table
            put(pairs[i])
            put(pairs[i + 1])
        }

        if year >= 0 && year <= 9999 {
            put2(year / 100)
            put2(year % 100)
        } else {
            if year < 0 { put(0x2D) }
            var magnitude = year.magnitude
            var digits: [UInt8] = []
            repeat {
                digits.append(0x30 &+ UInt8(truncatingIfNeeded: magnitude % 10))
                magnitude /= 10
            } while magnitude != 0
            while digits.count < 4 { digits.append(0x30) }
            for d in digits.reversed() { put(d) }
        }
        put(0x2D)
        put2(month)
        put(0x2D)
        put2(day)
        put(0x54)  // T
        put2(secondOfDay / 3600)
        put(0x3A)
        put2(secondOfDay / 60 % 60)
        put(0x3A)
        put2(secondOfDay % 60)
        if micros != 0 {
            put(0x2E)
            if micros % 1000 == 0 {
                let millis = micros / 1000
                put(0x30 &+ UInt8(truncatingIfNeeded: millis / 100))
                put2(millis % 100)
            } else {
                put2(micros / 10_000)
                put2(micros / 100 % 100)
                put2(micros % 100)
            }
        }
        put(0x5A)  // Z
        return k
    }
}
