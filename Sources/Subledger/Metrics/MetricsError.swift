/// Why `metrics` could not run; each case reads as one line that names the option at fault.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    /// `--from` or `--to` is not an RFC 3339 time.
    case invalidTime(option: String, text: String)
    /// `--every` is not `day`, `week` or `month`.
    case invalidPeriod(String)
    /// `--from` is after `--to`.
    case fromAfterTo(from: Timestamp, to: Timestamp)
    /// `--plan` names no plan.
    case unknownPlan(String)
    /// The bounds span more periods than one report holds.
    case tooManyPeriods(count: Int, limit: Int)
    /// A sum of cents (or seats) exceeds `Int64.max`: prices too large for any figure to be right.
    case amountTooLarge
    /// The store failed while the log was read.
    case store(StoreError)

    public var description: String {
        switch self {
        case .invalidTime(let option, let text):
            "\(option) takes an RFC 3339 time with Z or an offset (2026-03-01T00:00:00Z), not \(quoted(text))"
        case .invalidPeriod(let text): "--every takes day, week or month, not \(quoted(text))"
        case .fromAfterTo(let from, let to): "--from \(from) is after --to \(to)"
        case .unknownPlan(let text):
            "--plan \(quoted(text)): no such plan (a name names a plan that has it now; a deleted plan is named by its id)"
        case .tooManyPeriods(let count, let limit):
            "--from/--to span \(count) periods, more than \(limit); choose a longer --every or closer bounds"
        case .amountTooLarge: "the prices in this log add up past 9,223,372,036,854,775,807 cents: no metric would be right"
        case .store(let e): e.description
        }
    }
}
