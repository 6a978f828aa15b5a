/// The current state of the views, read in the domain's terms: what the rules, the fold's
/// cascades, `show`'s filters and reference resolution ask. How the state is stored (LMDB
/// keys, rows in memory, a snapshot, SQL tables) is the implementation's business.
protocol ViewState {
    /// The position of the event that created entity `id` (the first of its stream), if any
    /// entity ever had that id.
    func creationPosition(of id: EntityID) throws -> UInt64?
    /// The row stored at `position` of a row table.
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R?
    /// Calls `body` with every row of a row table in position order until it returns false.
    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (_ position: UInt64, _ row: R) throws -> Bool) throws
    /// The position of the live row holding a unique name (an email, a plan or group name).
    func position(of name: UniqueName) throws -> UInt64?
    /// The position of the user's membership of the group, if it is a member.
    func membership(user: EntityID, group: EntityID) throws -> UInt64?
    /// The user's subscriptions to the plan (cancelled ones too), oldest first.
    func subscriptions(user: EntityID, plan: EntityID) throws -> [(position: UInt64, isActive: Bool)]
    /// The positions of the rows related to `entity` through `relation`, in no set order.
    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64]
    /// Calls `body` with the position of each row of the n-th proxy, in the proxy's order,
    /// until it returns false.
    func forEachProxyEntry(_ proxy: Int, _ body: (_ position: UInt64) throws -> Bool) throws
    /// The positions of rows that may relate to `entity` through `relation`, in no set order:
    /// every related row, and maybe some that no longer (or not yet) do. Cheaper than
    /// `positions` where relations are derived (a snapshot); a caller re-checks each row.
    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64]
    /// Whether the n-th proxy's ordered index holds `key`; nil when this storage cannot say
    /// in one look-up (ask the proxy's filter).
    func hasProxyEntry(_ proxy: Int, key: [UInt8]) throws -> Bool?
    /// The live rows a proxy's filter looks up (`ProxyLookup`). Not generic, so a call through
    /// `any ViewState` runs code specialized for the storage (a generic one cost about 2,000
    /// instructions a call, a tenth of a whole-log fold).
    func plan(_ id: EntityID) throws -> PlanRow?
    func user(_ id: EntityID) throws -> UserRow?
    func group(_ id: EntityID) throws -> GroupRow?
}

/// What a fold writes: rows, and the entries of the proxies' ordered indexes.
protocol ViewStateWriting: ViewState {
    /// Writes `new` at position `p` of a row table in place of `old` (nil: no row). The
    /// storage keeps whatever it derives from rows (unique names, relations) in step.
    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws
    /// Applies `change` to the live row of entity `id`, if there is one. The default reads the
    /// row and writes the changed copy back through `replaceRow`; a storage that derives
    /// nothing from the old row may change it in place.
    func updateRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID, _ change: (inout R) -> Void) throws
    /// Adds (or with `present` false removes) the entry of the row at `position` in the n-th
    /// proxy's ordered index. `key` makes the entry's key from the row as it is (or was, for a
    /// removal): a storage that derives the keys of its entries from its rows need not call it.
    func setProxyEntry(_ proxy: Int, position: UInt64, present: Bool, key: () -> [UInt8]) throws
}

/// A name that at most one live row holds.
enum UniqueName: Equatable {
    /// A user's email, compared trimmed and lower-cased.
    case email(String)
    case planName(String)
    case groupName(String)

    /// The row table of the rows holding such names.
    var table: BaseTable {
        switch self {
        case .email: .users
        case .planName: .plans
        case .groupName: .groups
        }
    }
}

extension ViewStateWriting {
    func updateRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID, _ change: (inout R) -> Void) throws {
        try rewriteRow(type, table, id: id, change)
    }

    /// `updateRow` by reading the row and writing a changed copy back; returns both versions.
    @discardableResult
    func rewriteRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID,
                                  _ change: (inout R) -> Void) throws -> (position: UInt64, old: R, new: R)? {
        guard let (p, old) = try row(type, table, id: id) else { return nil }
        var new = old
        change(&new)
        try replaceRow(table, at: p, old: old, new: new)
        return (p, old, new)
    }
}

extension ViewState {
    func hasProxyEntry(_ proxy: Int, key: [UInt8]) throws -> Bool? { nil }

    func plan(_ id: EntityID) throws -> PlanRow? { try row(PlanRow.self, .plans, id: id)?.row }
    func user(_ id: EntityID) throws -> UserRow? { try row(UserRow.self, .users, id: id)?.row }
    func group(_ id: EntityID) throws -> GroupRow? { try row(GroupRow.self, .groups, id: id)?.row }

    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] { try positions(relation, of: entity) }

    /// The live row of entity `id` in `table`, with its position: nil when it never existed or is gone.
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, id: EntityID) throws -> (position: UInt64, row: R)? {
        guard let p = try creationPosition(of: id), let row = try row(type, table, at: p) else { return nil }
        return (p, row)
    }

    /// The live row holding a unique name, with its position.
    func row<R: StoredRow>(_ type: R.Type, named name: UniqueName) throws -> (position: UInt64, row: R)? {
        guard let p = try position(of: name), let row = try row(type, name.table, at: p) else { return nil }
        return (p, row)
    }

    /// The position of the user's active subscription to the plan, if any (at most one).
    func activeSubscription(user: EntityID, plan: EntityID) throws -> UInt64? {
        try subscriptions(user: user, plan: plan).first(where: \.isActive)?.position
    }
}
