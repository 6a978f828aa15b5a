/// The fold of every view: the base views, then each proxy following the rows that changed.
/// Live appends, open-time catch-up, rebuild, verify and `--as-of` all run this one fold.
struct ViewFold {
    private let proxies: [Proxy]
    private var changes: RowChanges

    init(proxies: [Proxy]) {
        self.proxies = proxies
        changes = RowChanges(following: proxies.map(\.base))
    }

    /// Tables the fold writes: the base tables, then one per proxy.
    var tableCount: Int { ViewTable.count(proxies: proxies.count) }

    /// The projections this fold keeps, with their versions: the base views and each proxy.
    var projections: [(name: String, version: Int)] {
        [(BaseViews.name, BaseViews.version)] + proxies.map { ($0.name, $0.version) }
    }

    mutating func apply(_ event: RecordedEvent, to views: some ViewStateWriting) throws {
        changes.removeAll()
        try BaseViews.apply(event, to: views, changes: &changes)
        for change in changes.list {
            for (i, proxy) in proxies.enumerated() { try proxy.follow(change, index: i, views) }
        }
    }
}
