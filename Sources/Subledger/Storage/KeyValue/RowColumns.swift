import CPrefetch

/// The rows of a `MemoryViews`, by slot, one typed column per row table (nil: no row).
///
/// A column of plain structs copies a membership or a subscription as a few words. A column
/// of `CachedRow` enums copied each row through the runtime's value witnesses, about 150
/// instructions a copy, and a fold copies a row several times per event.
///
/// Generic accessors pick the column by the row's type. Specialized for a row type, as the
/// fold's calls are, the type tests fold away and an access is an array subscript.
///
/// A class, so that reading one column from a closure does not copy (and retain) all six.
/// Its owner's thread alone uses it, hence no exclusivity checks (see `MemoryViews`).
final class RowColumns {
    @exclusivity(unchecked) private var users: [UserRow?] = []
    @exclusivity(unchecked) private var plans: [PlanRow?] = []
    @exclusivity(unchecked) private var teamPlans: [TeamPlanRow?] = []
    @exclusivity(unchecked) private var groups: [GroupRow?] = []
    @exclusivity(unchecked) private var memberships: [MembershipRow?] = []
    @exclusivity(unchecked) private var subscriptions: [SubscriptionRow?] = []

    /// The row of type `R` in slot `s`. `R` names its column: the column of `table` holds
    /// rows of that type only.
    @inline(__always) func row<R: StoredRow>(_: R.Type, _ s: Int) -> R? {
        if R.self == SubscriptionRow.self { return unsafeBitCast(subscriptions[s], to: R?.self) }
        if R.self == MembershipRow.self { return unsafeBitCast(memberships[s], to: R?.self) }
        if R.self == UserRow.self { return unsafeBitCast(users[s], to: R?.self) }
        if R.self == GroupRow.self { return unsafeBitCast(groups[s], to: R?.self) }
        if R.self == PlanRow.self { return unsafeBitCast(plans[s], to: R?.self) }
        if R.self == TeamPlanRow.self { return unsafeBitCast(teamPlans[s], to: R?.self) }
        preconditionFailure("\(R.self) is not a row type")
    }

    @inline(__always) func set<R: StoredRow>(_ row: R?, _ s: Int) {
        if R.self == SubscriptionRow.self { subscriptions[s] = unsafeBitCast(row, to: SubscriptionRow?.self) }
        else if R.self == MembershipRow.self { memberships[s] = unsafeBitCast(row, to: MembershipRow?.self) }
        else if R.self == UserRow.self { users[s] = unsafeBitCast(row, to: UserRow?.self) }
        else if R.self == GroupRow.self { groups[s] = unsafeBitCast(row, to: GroupRow?.self) }
        else if R.self == PlanRow.self { plans[s] = unsafeBitCast(row, to: PlanRow?.self) }
        else if R.self == TeamPlanRow.self { teamPlans[s] = unsafeBitCast(row, to: TeamPlanRow?.self) }
        else { preconditionFailure("\(R.self) is not a row type") }
    }

    /// Applies `change` to the row of type `R` in slot `s`, in place; false when there is none.
    @inline(__always) func update<R: StoredRow>(_: R.Type, _ s: Int, _ change: (inout R) -> Void) -> Bool {
        func apply<C>(_ column: inout [C?]) -> Bool {
            column.withUnsafeMutableBufferPointer { b in
                guard case .some = b[s] else { return false }
                // `C` is `R` (the caller picked the column by `R`).
                (b.baseAddress! + s).withMemoryRebound(to: R?.self, capacity: 1) { change(&$0.pointee!) }
                return true
            }
        }
        if R.self == UserRow.self { return apply(&users) }
        if R.self == GroupRow.self { return apply(&groups) }
        if R.self == TeamPlanRow.self { return apply(&teamPlans) }
        if R.self == PlanRow.self { return apply(&plans) }
        if R.self == MembershipRow.self { return apply(&memberships) }
        if R.self == SubscriptionRow.self { return apply(&subscriptions) }
        preconditionFailure("\(R.self) is not a row type")
    }

    /// Loads the cache line of slot `s` of `table`'s column, ahead of a read of it.
    @inline(__always) func prefetch(_ table: BaseTable, _ s: Int) {
        func load<C>(_ column: inout [C]) {
            column.withUnsafeBufferPointer { if s < $0.count { subledger_prefetch($0.baseAddress! + s) } }
        }
        switch table {
        case .users: load(&users)
        case .plans: load(&plans)
        case .groups: load(&groups)
        case .memberships: load(&memberships)
        case .subscriptions: load(&subscriptions)
        default: break
        }
    }

    /// The entity the row in slot `s` is listed under in `relation`, read in place.
    @inline(__always) func entity(_ relation: Relation, _ s: Int) -> EntityID? {
        switch relation {
        case .membershipsOfUser: memberships.withUnsafeBufferPointer { $0[s]?.user }
        case .membershipsOfGroup: memberships.withUnsafeBufferPointer { $0[s]?.group }
        case .subscriptionsOfUser: subscriptions.withUnsafeBufferPointer { $0[s]?.user }
        case .subscriptionsOfPlan: subscriptions.withUnsafeBufferPointer { $0[s]?.plan }
        }
    }

    /// The entity `row` is listed under in `relation`: nil when it is no row of the
    /// relation's table.
    @inline(__always) static func entity<R: StoredRow>(_ relation: Relation, of row: R?) -> EntityID? {
        if R.self == SubscriptionRow.self {
            let row = unsafeBitCast(row, to: SubscriptionRow?.self)
            return relation == .subscriptionsOfUser ? row?.user : relation == .subscriptionsOfPlan ? row?.plan : nil
        }
        if R.self == MembershipRow.self {
            let row = unsafeBitCast(row, to: MembershipRow?.self)
            return relation == .membershipsOfUser ? row?.user : relation == .membershipsOfGroup ? row?.group : nil
        }
        return nil
    }

    /// Whether slot `s` of `table` holds a row.
    func has(_ table: BaseTable, _ s: Int) -> Bool {
        switch table {
        case .users: users[s] != nil
        case .plans: plans[s] != nil
        case .teamPlans: teamPlans[s] != nil
        case .groups: groups[s] != nil
        case .memberships: memberships[s] != nil
        case .subscriptions: subscriptions[s] != nil
        default: false
        }
    }

    /// The row in slot `s` of `table` as a `CachedRow`, for the paths that take any row.
    func cached(_ table: BaseTable, _ s: Int) -> CachedRow? {
        switch table {
        case .users: users[s].map(CachedRow.user)
        case .plans: plans[s].map(CachedRow.plan)
        case .teamPlans: teamPlans[s].map(CachedRow.teamPlan)
        case .groups: groups[s].map(CachedRow.group)
        case .memberships: memberships[s].map(CachedRow.membership)
        case .subscriptions: subscriptions[s].map(CachedRow.subscription)
        default: nil
        }
    }

    /// The row in slot `s` of a base view, as proxies see it.
    func anyRow(_ view: BaseView, _ s: Int) -> AnyRow? {
        switch view {
        case .users: users[s].map(AnyRow.user)
        case .plans: plans[s].map { AnyRow.plan($0, teamPlans[s]) }
        case .groups: groups[s].map(AnyRow.group)
        case .memberships: memberships[s].map(AnyRow.membership)
        case .subscriptions: subscriptions[s].map(AnyRow.subscription)
        }
    }

    /// Writes the stored bytes of the row in slot `s` of `table`; false when there is none.
    func encode(_ table: BaseTable, _ s: Int, into w: inout BinaryWriter) -> Bool {
        func write(_ row: (some StoredRow)?) -> Bool {
            guard let row else { return false }
            row.encode(into: &w)
            return true
        }
        return switch table {
        case .users: write(users[s])
        case .plans: write(plans[s])
        case .teamPlans: write(teamPlans[s])
        case .groups: write(groups[s])
        case .memberships: write(memberships[s])
        case .subscriptions: write(subscriptions[s])
        default: false
        }
    }

    /// Adds an empty slot to each of `tables`.
    func appendSlot(_ tables: [BaseTable]) {
        for table in tables {
            switch table {
            case .users: users.append(nil)
            case .plans: plans.append(nil)
            case .teamPlans: teamPlans.append(nil)
            case .groups: groups.append(nil)
            case .memberships: memberships.append(nil)
            case .subscriptions: subscriptions.append(nil)
            default: preconditionFailure("table \(table.name) holds no rows")
            }
        }
    }

    func reserve(_ tables: [BaseTable], _ n: Int) {
        for table in tables {
            switch table {
            case .users: users.reserveCapacity(n)
            case .plans: plans.reserveCapacity(n)
            case .teamPlans: teamPlans.reserveCapacity(n)
            case .groups: groups.reserveCapacity(n)
            case .memberships: memberships.reserveCapacity(n)
            case .subscriptions: subscriptions.reserveCapacity(n)
            default: break
            }
        }
    }
}
