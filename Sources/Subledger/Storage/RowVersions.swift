/// One version of a view row: what the event at position `changed` made of the row at
/// `position` (for a deletion, the row as it last was).
struct RowVersion: Equatable {
    enum Change: String {
        case created = "+", changed = "~", deleted = "-"
    }

    let table: BaseTable
    let position: UInt64
    let changed: UInt64
    var change: Change
    var row: CachedRow
}

/// The versions a run of events makes, one per row and event: a row written twice by one
/// event (a team plan's seats, say) has one version, its last.
struct RowVersions {
    private(set) var list: [RowVersion] = []
    private var slots: [Slot: Int] = [:]

    private struct Slot: Hashable {
        let table: BaseTable
        let position: UInt64
        let changed: UInt64
    }

    /// Notes that the event at `changed` replaced `old` with `new` at `position` of `table`.
    mutating func record(_ table: BaseTable, at position: UInt64, changed: UInt64, old: CachedRow?, new: CachedRow?) {
        let slot = Slot(table: table, position: position, changed: changed)
        if let i = slots[slot] {
            // Created by this event: still a creation, or nothing if gone again.
            if list[i].change == .created, new == nil {
                list[i].change = .deleted
                list[i].row = old ?? list[i].row
            } else {
                if list[i].change != .created { list[i].change = new == nil ? .deleted : .changed }
                list[i].row = new ?? old ?? list[i].row
            }
            return
        }
        guard let row = new ?? old else { return }
        slots[slot] = list.count
        list.append(RowVersion(table: table, position: position, changed: changed,
                               change: old == nil ? .created : new == nil ? .deleted : .changed, row: row))
    }

    /// Hands out the versions noted so far, and forgets them.
    mutating func take() -> [RowVersion] {
        defer {
            list = []
            slots = [:]
        }
        return list
    }
}

/// A fold's views with the versions it makes noted: for folds in memory (a rebuild, `verify`).
final class VersionRecorder<Base: ViewStateWriting>: ViewStateWriting {
    let base: Base
    var versions = RowVersions()
    /// The position of the event being folded.
    var changing: UInt64 = 0

    init(_ base: Base) { self.base = base }

    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        versions.record(table, at: p, changed: changing, old: old?.cached, new: new?.cached)
        try base.replaceRow(table, at: p, old: old, new: new)
    }

    func setProxyEntry(_ proxy: Int, position: UInt64, present: Bool, key: () -> [UInt8]) throws {
        try base.setProxyEntry(proxy, position: position, present: present, key: key)
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { try base.creationPosition(of: id) }
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try base.row(type, table, at: position)
    }
    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try base.forEachRow(type, table, body)
    }
    func position(of name: UniqueName) throws -> UInt64? { try base.position(of: name) }
    func membership(user: EntityID, group: EntityID) throws -> UInt64? { try base.membership(user: user, group: group) }
    func subscriptions(user: EntityID, plan: EntityID) throws -> [(position: UInt64, isActive: Bool)] {
        try base.subscriptions(user: user, plan: plan)
    }
    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] { try base.positions(relation, of: entity) }
    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        try base.candidatePositions(relation, of: entity)
    }
    func hasProxyEntry(_ proxy: Int, key: [UInt8]) throws -> Bool? { try base.hasProxyEntry(proxy, key: key) }
    func forEachProxyEntry(_ proxy: Int, _ body: (UInt64) throws -> Bool) throws { try base.forEachProxyEntry(proxy, body) }
}
