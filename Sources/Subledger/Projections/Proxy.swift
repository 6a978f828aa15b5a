/// A proxy model: an alternate projection of a base view. It adds no event type; it differs
/// in filter, order and derived fields, and keeps its own ordered index so reading it never sorts.
///
/// Declaring one takes a few lines:
/// ```swift
/// let teamSubscriptions = Proxy.subscriptions("team_subscriptions") { sub, lookup in
///     try sub.isActive && (lookup.plan(sub.plan)?.isTeam ?? false)
/// }
/// let store = try Store.open(path: "shop.db", options: .init(proxies: [teamSubscriptions]))
/// ```
/// A proxy the store has not seen (new name or version) is back-filled when the store opens.
public struct Proxy: Sendable {
    public var name: String { definition.name }
    public var version: Int { definition.version }
    public var base: BaseView { definition.base }
    var filter: @Sendable (AnyRow, ProxyLookup) throws -> Bool { definition.filter }
    var orderKey: @Sendable (AnyRow) -> [UInt8] { definition.orderKey }
    /// False when every row's sort key is empty: an index key is then the row's position alone.
    var ordered: Bool { definition.ordered }
    /// A condition on a subscription's plan alone (`subscriptions(_:onPlans:…)`). A plan's row never
    /// changes, so when a read names a plan that fails it, the proxy holds none of its rows.
    var planCondition: (@Sendable (PlanRow) -> Bool)? { definition.planCondition }
    var derived: [(name: String, value: @Sendable (AnyRow, ProxyLookup) throws -> FieldValue)] { definition.derived }

    /// The fields, held by reference: a fold copies a proxy for each row change it follows,
    /// and a copy of six closures and a name was six retains and releases, not one.
    private let definition: Definition

    private final class Definition: Sendable {
        let name: String
        let version: Int
        let base: BaseView
        let filter: @Sendable (AnyRow, ProxyLookup) throws -> Bool
        let orderKey: @Sendable (AnyRow) -> [UInt8]
        let ordered: Bool
        let planCondition: (@Sendable (PlanRow) -> Bool)?
        let derived: [(name: String, value: @Sendable (AnyRow, ProxyLookup) throws -> FieldValue)]

        init(name: String, version: Int, base: BaseView, filter: @escaping @Sendable (AnyRow, ProxyLookup) throws -> Bool,
             orderKey: (@Sendable (AnyRow) -> [UInt8])?, planCondition: (@Sendable (PlanRow) -> Bool)?,
             derived: [(name: String, value: @Sendable (AnyRow, ProxyLookup) throws -> FieldValue)]) {
            self.name = name
            self.version = version
            self.base = base
            self.filter = filter
            self.orderKey = orderKey ?? { _ in [] }
            ordered = orderKey != nil
            self.planCondition = planCondition
            self.derived = derived
        }
    }

    init(name: String, version: Int, base: BaseView, filter: @escaping @Sendable (AnyRow, ProxyLookup) throws -> Bool,
         orderKey: (@Sendable (AnyRow) -> [UInt8])? = nil, planCondition: (@Sendable (PlanRow) -> Bool)? = nil,
         derived: [(name: String, value: @Sendable (AnyRow, ProxyLookup) throws -> FieldValue)] = []) {
        definition = Definition(name: name, version: version, base: base, filter: filter, orderKey: orderKey,
                                planCondition: planCondition, derived: derived)
    }

    /// A proxy over `subscriptions`. `order` gives a sort key (see `SortKey`); rows with equal keys,
    /// or all rows when `order` is nil, come in creation order. A row is in the proxy
    /// when `filter` holds and so does `onPlans`, a condition on its plan alone: given apart, it
    /// lets a read filtered to a plan that fails it answer at once, at any point in time.
    public static func subscriptions(_ name: String, version: Int = 1, order: (@Sendable (SubscriptionRow) -> SortKey)? = nil,
                                     derived: [(name: String, value: @Sendable (SubscriptionRow, ProxyLookup) throws -> FieldValue)] = [],
                                     onPlans: (@Sendable (PlanRow) -> Bool)? = nil,
                                     where filter: @escaping @Sendable (SubscriptionRow, ProxyLookup) throws -> Bool) -> Proxy {
        Proxy(name: name, version: version, base: .subscriptions,
              filter: { row, lookup in
                  guard case .subscription(let s) = row else { return false }
                  guard try filter(s, lookup) else { return false }
                  guard let onPlans else { return true }
                  return try lookup.plan(s.plan).map(onPlans) ?? false
              },
              orderKey: order.map { order -> @Sendable (AnyRow) -> [UInt8] in
                  { row in
                      guard case .subscription(let s) = row else { return [] }
                      return order(s).bytes
                  }
              },
              planCondition: onPlans,
              derived: derived.map { d in (d.name, { row, lookup in
                  guard case .subscription(let s) = row else { return .null }
                  return try d.value(s, lookup)
              }) })
    }

    /// A proxy over `memberships`.
    public static func memberships(_ name: String, version: Int = 1, order: (@Sendable (MembershipRow) -> SortKey)? = nil,
                                   where filter: @escaping @Sendable (MembershipRow, ProxyLookup) throws -> Bool = { _, _ in true }) -> Proxy {
        Proxy(name: name, version: version, base: .memberships,
              filter: { row, lookup in
                  guard case .membership(let m) = row else { return false }
                  return try filter(m, lookup)
              },
              orderKey: order.map { order -> @Sendable (AnyRow) -> [UInt8] in
                  { row in
                      guard case .membership(let m) = row else { return [] }
                      return order(m).bytes
                  }
              })
    }

    /// The built-in proxies (docs/views.md).
    public static let builtIn: [Proxy] = [
        .subscriptions("active_subscriptions", order: { SortKey().ascending($0.created).ascending($0.id) }) { s, _ in s.isActive },
        .subscriptions("paying_subscriptions", onPlans: { $0.priceCents > 0 }) { s, _ in s.isActive },
        .memberships("recent_memberships", order: { SortKey().descending($0.joined).ascending($0.id) }),
    ]
}

/// A sort key built field by field; bytes compare as the fields do.
public struct SortKey: Sendable {
    /// Room for the usual key (a time and an id) and the position a proxy appends, so building
    /// one allocates once.
    var bytes: [UInt8] = { var b = [UInt8](); b.reserveCapacity(40); return b }()

    public init() {}

    // Consuming: in a chain (`SortKey().ascending(a).ascending(b)`) each step takes the bytes
    // over instead of copying them, so a key costs one allocation, not one per field.
    private consuming func appending(_ word: UInt64) -> SortKey {
        var k = self
        k.bytes.appendBigEndian(word)
        return k
    }

    public consuming func ascending(_ t: Timestamp) -> SortKey { appending(UInt64(bitPattern: t.microseconds) ^ (1 << 63)) }

    public consuming func descending(_ t: Timestamp) -> SortKey { appending(~(UInt64(bitPattern: t.microseconds) ^ (1 << 63))) }

    public consuming func ascending(_ id: EntityID) -> SortKey {
        var k = self
        id.append(to: &k.bytes)
        return k
    }

    public consuming func ascending(_ v: Int64) -> SortKey { appending(UInt64(bitPattern: v) ^ (1 << 63)) }
}

/// What a proxy's filter may look up: the current rows of related entities.
public struct ProxyLookup {
    let reader: any ViewState

    /// The plan with this id, if it exists now.
    public func plan(_ id: EntityID) throws -> PlanRow? { try reader.plan(id) }
    /// The user with this id, if it exists now.
    public func user(_ id: EntityID) throws -> UserRow? { try reader.user(id) }
    /// The group with this id, if it exists now.
    public func group(_ id: EntityID) throws -> GroupRow? { try reader.group(id) }
}

extension Proxy {
    /// The index key of a row of this proxy: its sort key, then its position.
    func indexKey(_ row: AnyRow, position: UInt64) -> [UInt8] {
        var key = orderKey(row)
        key.appendBigEndian(position)
        return key
    }

    /// The index key of the row at `position` when the proxy has no order: known without the row.
    func unorderedKey(position: UInt64) -> [UInt8]? {
        ordered ? nil : withUnsafeBytes(of: position.bigEndian) { Array($0) }
    }

    /// Follows one change of its base view.
    func follow(_ change: RowChange, index: Int, _ s: some ViewStateWriting) throws {
        guard change.view == base else { return }
        let p = change.position
        // Delete whatever the old row indexed, even if a related row changed since it passed.
        if let old = change.old { try s.setProxyEntry(index, position: p, present: false) { indexKey(old, position: p) } }
        if let new = change.new, try filter(new, ProxyLookup(reader: s)) {
            try s.setProxyEntry(index, position: p, present: true) { indexKey(new, position: p) }
        }
    }
}
