/// The fold of every view: the base views, then each proxy following the rows that changed.
/// Live appends, open-time catch-up, rebuild, verify and `--as-of` all run this one fold.
struct ViewFold {
    /// The proxies, each held by reference: following a change borrows it, where an element
    /// of a `[Proxy]` was copied for each call, retaining each of its closures.
    private let followers: [Follower]
    private var changes: RowChanges

    private final class Follower {
        let proxy: Proxy
        init(_ proxy: Proxy) { self.proxy = proxy }
    }

    init(proxies: [Proxy]) {
        followers = proxies.map(Follower.init)
        changes = RowChanges(following: proxies.map(\.base))
    }

    /// Tables the fold writes: the base tables, then one per proxy.
    var tableCount: Int { ViewTable.count(proxies: followers.count) }

    /// The projections this fold keeps, with their versions: the base views and each proxy.
    var projections: [(name: String, version: Int)] {
        [(BaseViews.name, BaseViews.version)] + followers.map { ($0.proxy.name, $0.proxy.version) }
    }

    mutating func apply(_ event: RecordedEvent, to views: some ViewStateWriting) throws {
        changes.removeAll()
        try BaseViews.apply(event, to: views, changes: &changes)
        for change in changes.list {
            for (i, follower) in followers.enumerated() { try follower.proxy.follow(change, index: i, views) }
        }
    }
}
