/// Resolves what commands and filters name (an id, an email or a name) to a live row: the one
/// place that reads a `Reference`. A reference to something missing or deleted is a rejection
/// that names it.
struct References {
    let state: any ViewState

    func user(_ ref: Reference) throws -> (position: UInt64, row: UserRow) {
        guard let found = try find(UserRow.self, .users, ref, named: UniqueName.email) else {
            throw Rejection.unknownUser(ref.description)
        }
        return found
    }

    func plan(_ ref: Reference) throws -> (position: UInt64, row: PlanRow) {
        guard let found = try find(PlanRow.self, .plans, ref, named: UniqueName.planName) else {
            throw Rejection.unknownPlan(ref.description)
        }
        return found
    }

    func group(_ ref: Reference) throws -> (position: UInt64, row: GroupRow) {
        guard let found = try find(GroupRow.self, .groups, ref, named: UniqueName.groupName) else {
            throw Rejection.unknownGroup(ref.description)
        }
        return found
    }

    func subscription(_ id: EntityID) throws -> (position: UInt64, row: SubscriptionRow) {
        guard let found = try state.row(SubscriptionRow.self, .subscriptions, id: id) else {
            throw Rejection.unknownSubscription(id.description)
        }
        return found
    }

    /// The id of the live entity `ref` names in a base view (users, plans or groups).
    func id(_ ref: Reference, in view: BaseView) throws -> EntityID {
        switch view {
        case .users: try user(ref).row.id
        case .plans: try plan(ref).row.id
        default: try group(ref).row.id
        }
    }

    /// A UUID-shaped reference is looked up by id only; anything else by its unique name.
    private func find<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ ref: Reference,
                                    named: (String) -> UniqueName) throws -> (position: UInt64, row: R)? {
        switch ref {
        case .id(let id): try state.row(type, table, id: id)
        case .key(let key): try state.row(type, named: named(key))
        }
    }
}
