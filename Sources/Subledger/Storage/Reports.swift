/// Filters of `show`: Django's related lookups. Each is a reference (id, email or name).
public struct ViewFilter: Sendable, Equatable {
    public var user: Reference?
    public var plan: Reference?
    public var group: Reference?

    public init(user: Reference? = nil, plan: Reference? = nil, group: Reference? = nil) {
        self.user = user
        self.plan = plan
        self.group = group
    }

    public var isEmpty: Bool { user == nil && plan == nil && group == nil }
}

/// What kind of projection a view is.
public enum ProjectionKind: String, Sendable {
    /// Folded from the events.
    case base
    /// A child table of a base view (multi-table inheritance).
    case child
    /// An alternate projection of a base view.
    case proxy
}

/// One line of `subledger projections`.
public struct ProjectionInfo: Equatable, Sendable {
    public var name: String
    public var kind: ProjectionKind
    public var checkpoint: UInt64
    public var rows: Int
    public var version: Int
}

/// What `subledger stats` shows.
public struct StoreStats: Sendable {
    public var events: Int
    public var streams: Int
    public var head: UInt64
    /// Bytes of the store's files on disk.
    public var storeBytes: Int
    public var mapBytes: Int
    public var mapUsedBytes: Int
    /// Events per type, in type order.
    public var typeCounts: [(name: String, count: Int)]
    /// Events between two view snapshots, and the position of the newest snapshot taken (on
    /// PostgreSQL, 1 and the head: the history tables hold a version at every change).
    public var snapshotInterval: Int
    public var snapshotsThrough: UInt64
}

/// The first fault `verify` found: where, and what.
public struct VerifyFault: Sendable, Equatable, CustomStringConvertible {
    /// The log position the fault is at, when it is at an event.
    public var position: UInt64?
    /// What was checked: `log`, `hash chain`, `stream index`, `command index`, `head`, `view <name>`.
    public var area: String
    public var message: String

    public init(position: UInt64? = nil, area: String, message: String) {
        self.position = position
        self.area = area
        self.message = message
    }

    public var description: String {
        (position.map { "position \($0): " } ?? "") + "\(area): \(message)"
    }
}

/// What `verify` checked and found.
public struct VerifyReport: Sendable, Equatable {
    /// Events checked.
    public var events: UInt64
    /// View tables compared with a fresh fold.
    public var tables: Int
    /// The first fault, or nil when the store is sound.
    public var fault: VerifyFault?
}

