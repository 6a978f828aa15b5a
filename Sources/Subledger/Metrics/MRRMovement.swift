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
