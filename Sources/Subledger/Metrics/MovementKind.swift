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
