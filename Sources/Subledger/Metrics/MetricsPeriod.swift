/// The length of one row of `metrics`: a UTC calendar day, an ISO week (Monday to Sunday) or a
/// calendar month.
///
/// ```swift
/// let start = MetricsPeriod.week.start(containing: Timestamp(rfc3339: "2026-03-05T10:00:00Z")!)
/// start.rfc3339 // "2026-03-02T00:00:00Z", a Monday
/// ```
public enum MetricsPeriod: String, Sendable, CaseIterable, CustomStringConvertible {
    case day, week, month

    /// Parses `day`, `week` or `month`.
    public init(parsing text: String) throws(MetricsError) {
        guard let period = MetricsPeriod(rawValue: text) else { throw MetricsError.invalidPeriod(text) }
        self = period
    }

    public var description: String { rawValue }

    static let microsecondsPerDay: Int64 = 86_400_000_000

    /// The first instant of the period that contains `t`.
    public func start(containing t: Timestamp) -> Timestamp {
        // Floor division: instants before 1970 fall in the day they are in.
        var days = t.microseconds / Self.microsecondsPerDay
        if t.microseconds % Self.microsecondsPerDay < 0 { days -= 1 }
        switch self {
        case .day:
            break
        case .week:
            // 1970-01-01 was a Thursday: Monday is 0 in (days + 3) mod 7.
            let weekday = ((days + 3) % 7 + 7) % 7
            days -= weekday
        case .month:
            let (year, month, _) = Timestamp.civilFromDays(days)
            days = Timestamp.daysFromCivil(year: year, month: month, day: 1)
        }
        return Timestamp(microseconds: days * Self.microsecondsPerDay)
    }

    /// The first instant of the period after the one that starts at `start` (a value of
    /// ``start(containing:)``): the exclusive end of that period.
    public func end(ofPeriodStartingAt start: Timestamp) -> Timestamp {
        switch self {
        case .day: return Timestamp(microseconds: start.microseconds + Self.microsecondsPerDay)
        case .week: return Timestamp(microseconds: start.microseconds + 7 * Self.microsecondsPerDay)
        case .month:
            let days = start.microseconds / Self.microsecondsPerDay
            let (year, month, _) = Timestamp.civilFromDays(days)
            let next = month == 12 ? Timestamp.daysFromCivil(year: year + 1, month: 1, day: 1)
                                   : Timestamp.daysFromCivil(year: year, month: month + 1, day: 1)
            return Timestamp(microseconds: next * Self.microsecondsPerDay)
        }
    }
}
