import LMDB

/// The view tables of one generation, read or written through an LMDB transaction.
final class LMDBViews<Txn: ReadableTransaction>: KeyValueViews {
    let txn: Txn
    let tables: [ViewDatabase]
    let streams: StreamIndex
    /// With `tracksChanges`, the rows written since `takeChangedRows`: what a snapshot records.
    private var changedRows: [Set<UInt64>]?
    /// With `tracksChanges`, the links of the entries relations and proxies removed since
    /// `takeLinks` (`SnapshotLinks`), stored as a run when the transaction ends.
    private var links: [[UInt8]]?

    init(_ txn: Txn, tables: [ViewDatabase], streams: StreamIndex, tracksChanges: Bool = false) {
        self.txn = txn
        self.tables = tables
        self.streams = streams
        if tracksChanges {
            changedRows = Array(repeating: [], count: BaseTable.allCases.count)
            links = []
        }
    }

    /// The links of the entries removed since the last call (maybe repeated).
    func takeLinks() -> [[UInt8]] {
        defer { if links != nil { links = [] } }
        return links ?? []
    }

    /// The rows written since the last call, by table and position; tracking starts afresh.
    func takeChangedRows() -> [(table: BaseTable, position: UInt64)] {
        guard let changed = changedRows else { return [] }
        changedRows = Array(repeating: [], count: BaseTable.allCases.count)
        return changed.enumerated().flatMap { t, positions in positions.sorted().map { (BaseTable(rawValue: t)!, $0) } }
    }

    func get(_ table: ViewTable, _ key: [UInt8]) throws -> [UInt8]? {
        try tables[table.slot].getBytes(key, txn)
    }

    func scan(_ table: ViewTable, prefix: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        let entries = try tables[table.slot].scan(from: prefix, txn)
        while let (key, value) = try entries.nextEntry() {
            guard key.count >= prefix.count, key.starts(with: prefix) else { break }
            out.append((Array(key), Array(value)))
        }
        return out
    }

    func forEach(_ table: ViewTable, _ body: (_ key: [UInt8]) throws -> Bool) throws {
        let entries = try tables[table.slot].scan(txn)
        while let (key, _) = try entries.nextEntry() {
            if try !body(Array(key)) { return }
        }
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        guard let bytes = try tables[table.rawValue].get(Keys.position(position), txn) else { return nil }
        return try R.decode(bytes)
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        let entries = try tables[table.rawValue].scan(txn)
        while let (key, value) = try entries.nextEntry() {
            if try !body(Keys.readPosition(key), try R.decode(value)) { return }
        }
    }

    func creationPosition(of id: EntityID) throws -> UInt64? {
        try streams.creation(of: id, txn)
    }
}

extension LMDBViews: KeyValueViewWriting, ViewStateWriting where Txn == WriteTransaction {
    func put(_ table: ViewTable, _ key: [UInt8], _ value: [UInt8]) throws {
        try tables[table.slot].put(key, value, txn)
        if case .rows(let t) = table { changedRows?[t.rawValue].insert(Keys.readPosition(key)) }
    }

    func delete(_ table: ViewTable, _ key: [UInt8]) throws {
        if links != nil, SnapshotLinks.links(table), let value = try tables[table.slot].getBytes(key, txn) {
            links!.append(SnapshotLinks.link(table, key: key, value: value))
        }
        try tables[table.slot].delete(key, txn)
        if case .rows(let t) = table { changedRows?[t.rawValue].insert(Keys.readPosition(key)) }
    }

    func put<R: StoredRow>(_ table: BaseTable, at position: UInt64, _ row: R) throws {
        try tables[table.rawValue].put(Keys.position(position), row.encoded, txn)
        changedRows?[table.rawValue].insert(position)
    }
}

extension CachedViews {
    /// Writes what this cache changed into `tables` (one database per view table), in key order.
    func writeChanges(to tables: [ViewDatabase], _ txn: WriteTransaction) throws {
        for (t, table) in tables.enumerated() {
            for (key, value) in changes(in: ViewTable(slot: t)) {
                if let value { try table.put(key, value, txn) } else { try table.delete(key, txn) }
            }
        }
    }
}
