/// What `metrics` reports on: the periods and, optionally, one plan.
///
/// ```swift
/// let query = try MetricsQuery(from: "2026-01-01T00:00:00Z", to: nil, every: "week", plan: "pro")
/// let rows = try store.metrics(query)
/// ```
public struct MetricsQuery: Sendable, Equatable {
    /// The first row is the period containing it; nil: the first event's period.
    public var from: Timestamp?
    /// The last row is the period containing it; nil: the newest event's period.
    public var to: Timestamp?
    public var every: MetricsPeriod
    /// Only subscriptions on this plan (an id, or the name of a plan that exists now).
    public var plan: Reference?

    public init(from: Timestamp? = nil, to: Timestamp? = nil, every: MetricsPeriod = .month, plan: Reference? = nil) {
        self.from = from
        self.to = to
        self.every = every
        self.plan = plan
    }

    /// A query from the command line's text: `--from`, `--to` (RFC 3339), `--every` (day, week,
    /// month) and `--plan` (an id or a name). Each error names its option.
    public init(from: String?, to: String?, every: String?, plan: String?) throws(MetricsError) {
        func time(_ text: String?, _ option: String) throws(MetricsError) -> Timestamp? {
            guard let text else { return nil }
            guard let t = Timestamp(rfc3339: text) else { throw MetricsError.invalidTime(option: option, text: text) }
            return t
        }
        self.init(from: try time(from, "--from"), to: try time(to, "--to"),
                  every: try every.map { text throws(MetricsError) in try MetricsPeriod(parsing: text) } ?? .month,
                  plan: plan.map(Reference.init))
        if let plan, plan.isEmpty { throw MetricsError.unknownPlan(plan) }
        if let f = self.from, let t = self.to, f > t { throw MetricsError.fromAfterTo(from: f, to: t) }
    }
}
