/// How one user's MRR changed at one instant.
public enum MovementKind: String, Sendable, CaseIterable {
    /// From 0 to above 0, never above 0 before.
    case new
    /// From 0 to above 0, above 0 at some earlier instant.
    case reactivation
    /// Up, from above 0.
    case expansion
    /// Down, to above 0.
    case contraction
    /// Down to 0.
    case churn

    /// The kind of a change from `before` to `after` (which differ), given whether the user's
    /// MRR was ever above 0 before.
    static func of(before: Int64, after: Int64, everPaid: Bool) -> MovementKind {
        if before == 0 { return everPaid ? .reactivation : .new }
        if after == 0 { return .churn }
        return after > before ? .expansion : .contraction
    }
}

/// One movement of MRR: a user's MRR at `at` differs from what it was just before `at`.
///
/// ```swift
/// try store.metrics(MetricsQuery()) { movement in print(movement.at, movement.kind, movement.cents) }
/// ```
public struct MRRMovement: Equatable, Sendable {
    /// The business time of the events that moved it.
    public var at: Timestamp
    public var user: EntityID
    public var kind: MovementKind
    /// The user's MRR just before `at`, and at `at` (after every event of that instant).
    public var fromCents: Int64
    public var toCents: Int64

    public init(at: Timestamp, user: EntityID, kind: MovementKind, fromCents: Int64, toCents: Int64) {
        self.at = at
        self.user = user
        self.kind = kind
        self.fromCents = fromCents
        self.toCents = toCents
    }

    /// The size of the movement, always above 0.
    public var cents: Int64 { abs(toCents - fromCents) }
}
