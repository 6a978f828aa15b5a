/// The view tables in memory: what `verify` and `--as-of` fold the log into, and what a
/// rebuild folds before writing its tables sorted. Same fold, same keys, no LMDB.
final class MemoryViews: ViewWriting {
    private(set) var tables: [[[UInt8]: [UInt8]]]
    /// Keys of at least 16 bytes, grouped by their first 16 (an entity id): the prefix scans of
    /// the fold (a user's memberships, a plan's subscriptions) touch one group, not the table.
    private var groups: [[[UInt8]: Set<[UInt8]>]]
    /// The creation position of every entity created so far.
    private var created: [EntityID: UInt64] = [:]

    init(tableCount: Int) {
        tables = Array(repeating: [:], count: tableCount)
        groups = Array(repeating: [:], count: tableCount)
    }

    /// Records an event's stream before the fold reads it, as the log's stream index would.
    func noteStream(of event: RecordedEvent) {
        if event.data.createsEntity, created[event.stream.id] == nil { created[event.stream.id] = event.position }
    }

    func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]? { tables[table][key] }

    func scan(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        let keys: [[UInt8]]
        if prefix.count >= 16 {
            keys = groups[table][Array(prefix[0..<16])].map { $0.filter { $0.starts(with: prefix) } } ?? []
        } else {
            keys = tables[table].keys.filter { $0.starts(with: prefix) }
        }
        return keys.sorted { $0.lexicographicallyPrecedes($1) }.map { ($0, tables[table][$0]!) }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { created[id] }

    func forEach(_ table: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        for key in tables[table].keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) where try !body(key) { return }
    }

    func put(_ table: Int, _ key: [UInt8], _ value: [UInt8]) throws {
        if tables[table].updateValue(value, forKey: key) == nil, key.count >= 16 {
            groups[table][Array(key[0..<16]), default: []].insert(key)
        }
    }

    func delete(_ table: Int, _ key: [UInt8]) throws {
        guard tables[table].removeValue(forKey: key) != nil, key.count >= 16 else { return }
        let group = Array(key[0..<16])
        groups[table][group]?.remove(key)
        if groups[table][group]?.isEmpty == true { groups[table][group] = nil }
    }

    /// A table's entries in key order, as LMDB would list them.
    func sorted(_ table: Int) -> [(key: [UInt8], value: [UInt8])] {
        tables[table].sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
    }
}
