/// The view tables in memory: what `verify` and `--as-of` fold the log into, and what a
/// rebuild folds before writing its tables sorted. Same fold, same keys, no LMDB.
final class MemoryViews: ViewWriting {
    private(set) var tables: [[Key: [UInt8]]]
    /// Keys of at least 16 bytes, grouped by their first 16 (an entity id): the prefix scans of
    /// the fold (a user's memberships, a plan's subscriptions) touch one group, not the table.
    private var groups: [[Key: Set<Key>]]

    /// A byte-string key hashed in one call (`[UInt8]` hashes byte by byte, which dominated folds).
    struct Key: Hashable {
        var bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        init(_ bytes: ArraySlice<UInt8>) { self.bytes = Array(bytes) }
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }
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

    func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]? { tables[table][Key(key)] }

    func scan(_ table: Int, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        let keys: [Key]
        if prefix.count >= 16 {
            keys = groups[table][Key(prefix[0..<16])].map { $0.filter { $0.bytes.starts(with: prefix) } } ?? []
        } else {
            keys = tables[table].keys.filter { $0.bytes.starts(with: prefix) }
        }
        return keys.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }.map { ($0.bytes, tables[table][$0]!) }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { created[id] }

    func forEach(_ table: Int, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        for key in tables[table].keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) where try !body(key.bytes) { return }
    }

    func put(_ table: Int, _ key: [UInt8], _ value: [UInt8]) throws {
        let key = Key(key)
        // Only tables scanned by prefix need the groups: keys longer than a position.
        if tables[table].updateValue(value, forKey: key) == nil, key.bytes.count > 16 {
            groups[table][Key(key.bytes[0..<16]), default: []].insert(key)
        }
    }

    func delete(_ table: Int, _ key: [UInt8]) throws {
        let key = Key(key)
        guard tables[table].removeValue(forKey: key) != nil, key.bytes.count > 16 else { return }
        let group = Key(key.bytes[0..<16])
        groups[table][group]?.remove(key)
        if groups[table][group]?.isEmpty == true { groups[table][group] = nil }
    }

    /// A table's entries in key order, as LMDB would list them.
    func sorted(_ table: Int) -> [(key: [UInt8], value: [UInt8])] {
        tables[table].sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }.map { ($0.key.bytes, $0.value) }
    }
}
