/// A point of the log to read a view at: after position P, or after the last event whose
/// `at` is at or before a time.
public enum AsOf: Sendable, Equatable, CustomStringConvertible {
    case position(UInt64)
    case time(Timestamp)

    /// Parses `--as-of`: a position (digits only) or an RFC 3339 time with `Z` or an offset.
    ///
    /// ```swift
    /// let point = try AsOf(parsing: "2026-03-01T00:00:00+01:00")
    /// ```
    public init(parsing text: String) throws(StoreError) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let p = UInt64(text) else { throw StoreError.invalidArgument("--as-of \(text) is not a position of this log") }
            self = .position(p)
        } else if let t = Timestamp(rfc3339: text) {
            self = .time(t)
        } else {
            throw StoreError.invalidArgument("--as-of takes a position or an RFC 3339 time, not \(quoted(text))")
        }
    }

    public var description: String {
        switch self {
        case .position(let p): "\(p)"
        case .time(let t): t.rfc3339
        }
    }
}

