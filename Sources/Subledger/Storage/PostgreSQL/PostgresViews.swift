import PostgresNIO

/// The views on the server as one transaction sees and changes them. What the fold writes stays
/// here until `flush` sends it in a few statements, with the versions it made of each row
/// (`PostgresHistory`); reads ask the server once per row or relation and keep the answer, and
/// see this transaction's own changes over it: the rows a name or a relation leads to are the
/// server's and this transaction's, each judged by its current version.
///
/// With `asOf`, the views as they were after that position, read from the history tables.
final class PostgresViews: ViewStateWriting {
    let session: PostgresSession
    /// The schema of the views, quoted.
    let s: String
    /// The schema of the log, quoted: the views' own but while a rebuild fills new tables.
    let log: String
    let proxyNames: [String]
    /// The position the views are read as of; nil: as they are.
    let asOf: UInt64?
    /// The position of the event being folded, whose versions of rows `replaceRow` notes.
    var changing: UInt64 = 0
    private var versions = RowVersions()

    /// Rows known here, by table and position: read from the server or written here (nil: none).
    private var rows: [BaseTable: [UInt64: CachedRow?]] = [:]
    private var dirty: [BaseTable: Set<UInt64>] = [:]
    /// Positions of the rows written here, under each entity and name their versions name.
    private var touched: [Touch: Set<UInt64>] = [:]
    /// Creations: the entities created in this transaction, and those looked up on the server.
    private var creations: [EntityID: UInt64?] = [:]
    /// Proxy entries written here: present or removed, by proxy and key.
    private var proxyChanges: [Int: [[UInt8]: Bool]] = [:]
    /// The server's answer to each question asked so far (or foreseen by `PostgresPrefetch`):
    /// the positions of the rows it gave, all of them cached.
    private var fetched: [Question: [UInt64]] = [:]

    enum Question: Hashable {
        case name(UniqueName.Key)
        case membership(EntityID, EntityID)
        case subscriptions(EntityID, EntityID)
        case relation(Relation, EntityID)
    }

    /// Rows of a table that name an entity, or rows that hold a unique name.
    enum Touch: Hashable {
        case related(BaseTable, EntityID)
        case name(UniqueName.Key)
    }

    /// The server's head when the transaction began: a row created past it is this
    /// transaction's, and nothing on the server refers to it yet.
    var serverHead: UInt64 = .max

    init(session: PostgresSession, schema: String, log: String? = nil, proxies: [Proxy], asOf: UInt64? = nil) {
        self.session = session
        s = schema
        self.log = log ?? schema
        proxyNames = proxies.map(\.name)
        self.asOf = asOf
    }

    /// A `SELECT` of the rows of `table` (position first, as `PostgresRows.row` reads them) that
    /// match `condition`, whose parameters are in `binds`: the table's, or as of `asOf` its
    /// history's newest versions.
    /// With `after`, only the rows past the position bound as that parameter.
    private func select(_ table: BaseTable, where condition: String?, after: Int? = nil, _ binds: inout SQLBinds) -> String {
        guard let asOf else {
            let conditions = (condition.map { [$0] } ?? []) + (after.map { ["position > $\($0)"] } ?? [])
            return PostgresRows.select(table, s) + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
        }
        binds.append(Int64(clamping: asOf))
        return PostgresHistory.select(table, s, asOf: binds.count, where: condition, after: after)
    }

    func noteCreation(of event: RecordedEvent) {
        if event.data.createsEntity, creations[event.stream.id] ?? nil == nil { creations[event.stream.id] = event.position }
    }

    // MARK: ViewState

    func creationPosition(of id: EntityID) throws -> UInt64? {
        if let known = creations[id] { return known }
        var binds = SQLBinds()
        binds.append(SQLValue.uuid(id))
        binds.append(Int64(clamping: asOf ?? .max))
        let found = try session.query("SELECT position FROM \(log).events WHERE stream_id = $1 AND version = 1 AND position <= $2",
                                      binds).first.map { UInt64(try $0.int(0)) }
        creations[id] = found
        return found
    }

    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try cachedRow(table, at: position).flatMap(R.init(cached:))
    }

    private func cachedRow(_ table: BaseTable, at position: UInt64) throws -> CachedRow? {
        if let known = rows[table]?[position] { return known }
        var binds = SQLBinds()
        binds.append(Int64(position))
        let found = try session.query(select(table, where: "position = $1", &binds), binds).first
            .map { try PostgresRows.row(table, from: $0).1 }
        rows[table, default: [:]][position] = .some(found)
        return found
    }

    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        if dirty[table]?.isEmpty ?? true {
            // Nothing of this table changed here: the server's rows, a page at a time, so that a
            // reader wanting the first few reads few.
            var after: UInt64 = 0
            while true {
                var binds = SQLBinds()
                binds.append(Int64(after))
                let page = try session.query(select(table, where: nil, after: 1, &binds) + " ORDER BY position LIMIT 1000", binds)
                for r in page {
                    let (p, row) = try PostgresRows.row(table, from: r)
                    after = p
                    guard let typed = R(cached: row) else { continue }
                    if try !body(p, typed) { return }
                }
                if page.count < 1000 { return }
            }
        }
        var merged: [UInt64: CachedRow?] = [:]
        var binds = SQLBinds()
        for r in try session.query(select(table, where: nil, &binds) + " ORDER BY position", binds) {
            let (p, row) = try PostgresRows.row(table, from: r)
            merged[p] = row
        }
        for p in dirty[table] ?? [] { merged[p] = rows[table]?[p] ?? nil }
        for p in merged.keys.sorted() {
            guard let row = merged[p] ?? nil, let typed = R(cached: row) else { continue }
            if try !body(p, typed) { return }
        }
    }

    func position(of name: UniqueName) throws -> UInt64? {
        let (column, key) = name.column
        let table = name.table
        let fromServer = try fetch(.name(name.key), table, where: "\(column) = $1") { $0.append(SQLValue.text(key)) }
        return try current(table, fromServer, touched[.name(name.key)]) { Self.nameKey(of: $0) == name.key }.first
    }

    func membership(user: EntityID, group: EntityID) throws -> UInt64? {
        let fromServer = try fetched[.relation(.membershipsOfUser, user)] ?? fetch(.membership(user, group), .memberships,
                                                                                  where: "user_id = $1 AND group_id = $2") {
            $0.append(SQLValue.uuid(user))
            $0.append(SQLValue.uuid(group))
        }
        return try current(.memberships, fromServer, touched[.related(.memberships, user)]) {
            if case .membership(let m) = $0 { m.user == user && m.group == group } else { false }
        }.first
    }

    func subscriptions(user: EntityID, plan: EntityID) throws -> [(position: UInt64, isActive: Bool)] {
        let fromServer = try fetched[.relation(.subscriptionsOfUser, user)] ?? fetch(.subscriptions(user, plan), .subscriptions,
                                                                                    where: "user_id = $1 AND plan_id = $2") {
            $0.append(SQLValue.uuid(user))
            $0.append(SQLValue.uuid(plan))
        }
        return try current(.subscriptions, fromServer, touched[.related(.subscriptions, user)]) {
            if case .subscription(let x) = $0 { x.user == user && x.plan == plan } else { false }
        }.map { p in
            guard case .subscription(let x)? = try cachedRow(.subscriptions, at: p) else { return (p, false) }
            return (p, x.isActive)
        }
    }

    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        let column = switch relation {
        case .membershipsOfUser, .subscriptionsOfUser: "user_id"
        case .membershipsOfGroup: "group_id"
        case .subscriptionsOfPlan: "plan_id"
        }
        let touch = Touch.related(relation.rows, entity)
        let fromServer = try fetch(.relation(relation, entity), relation.rows, where: "\(column) = $1") {
            $0.append(SQLValue.uuid(entity))
        }
        return try current(relation.rows, fromServer, touched[touch]) { relation.entity(of: $0) == entity }
    }

    func forEachProxyEntry(_ proxy: Int, _ body: (UInt64) throws -> Bool) throws {
        var binds = SQLBinds()
        binds.append(proxyNames[proxy])
        var entries: [(key: [UInt8], position: UInt64)] = []
        for r in try session.query("SELECT sort_key, position FROM \(s).proxy_rows WHERE proxy = $1 ORDER BY sort_key", binds) {
            let key = try r.bytes(0)
            if proxyChanges[proxy]?[key] == false { continue }
            entries.append((key, UInt64(try r.int(1))))
        }
        if let changes = proxyChanges[proxy] {
            let server = Set(entries.map(\.key))
            for (key, present) in changes where present && !server.contains(key) {
                entries.append((key, Keys.readPosition(key, at: key.count - 8)))
            }
            entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        }
        for entry in entries where try !body(entry.position) { return }
    }

    /// The server's answer to `question`: asked once, then remembered. Reads the rows of
    /// `table` matching an SQL condition, keeps those not known here yet, and returns their
    /// positions.
    private func fetch(_ question: Question, _ table: BaseTable, where condition: String,
                       _ bind: (inout SQLBinds) -> Void) throws -> [UInt64] {
        if let known = fetched[question] { return known }
        var binds = SQLBinds()
        bind(&binds)
        let positions = try session.query(select(table, where: condition, &binds), binds).map { r in
            let (p, row) = try PostgresRows.row(table, from: r)
            if rows[table]?[p] == nil { rows[table, default: [:]][p] = .some(row) }
            return p
        }
        fetched[question] = positions
        return positions
    }

    // MARK: Foreseen answers (PostgresPrefetch)

    /// Keeps rows the server gave for a batch, as the answers to the questions they settle: the
    /// names asked for (found or not), the whole relation of each entity in `wholeFor`; and
    /// `absentAt`, positions the server has no row at.
    func know(_ table: BaseTable, _ found: [(UInt64, CachedRow)], names: [UniqueName.Key],
              wholeFor: [(EntityID, Relation)] = [], absentAt: [UInt64] = []) {
        for p in absentAt where rows[table]?[p] == nil { rows[table, default: [:]][p] = .some(nil) }
        for (p, row) in found where rows[table]?[p] == nil || rows[table]?[p] == .some(nil) {
            rows[table, default: [:]][p] = .some(row)
        }
        // Each found row's name and relations once, not once per name or entity asked.
        if !names.isEmpty {
            var byName: [UniqueName.Key: [UInt64]] = [:]
            for (p, row) in found { if let key = Self.nameKey(of: row) { byName[key, default: []].append(p) } }
            for key in names { fetched[.name(key)] = byName[key] ?? [] }
        }
        var byEntity: [Relation: [EntityID: [UInt64]]] = [:]
        for relation in Set(wholeFor.map(\.1)) {
            var positions: [EntityID: [UInt64]] = [:]
            for (p, row) in found { if let entity = relation.entity(of: row) { positions[entity, default: []].append(p) } }
            byEntity[relation] = positions
        }
        for (entity, relation) in wholeFor { fetched[.relation(relation, entity)] = byEntity[relation]?[entity] ?? [] }
    }

    /// Keeps whether an id ever had an entity, and where it was created.
    func knowCreation(of id: EntityID, at position: UInt64?) {
        if creations[id] == nil { creations[id] = .some(position) }
    }

    private static func nameKey(of row: CachedRow) -> UniqueName.Key? {
        switch row {
        case .user(let u): UniqueName.email(u.email).key
        case .plan(let p): UniqueName.planName(p.name).key
        case .group(let g): UniqueName.groupName(g.name).key
        default: nil
        }
    }

    /// The positions among the server's and this transaction's candidates whose current row
    /// passes `test`, in position order.
    private func current(_ table: BaseTable, _ fromServer: [UInt64], _ mine: Set<UInt64>?,
                         _ test: (CachedRow) -> Bool) throws -> [UInt64] {
        var candidates = Set(fromServer)
        if let mine { candidates.formUnion(mine) }
        return try candidates.sorted().filter { p in try cachedRow(table, at: p).map(test) ?? false }
    }

    // MARK: ViewStateWriting

    func replaceRow<R: StoredRow>(_ table: BaseTable, at p: UInt64, old: R?, new: R?) throws {
        if old == nil, p > serverHead, let created = new?.cached {
            // A new entity: the server holds no row that refers to it.
            switch created {
            case .user(let u):
                fetched[.relation(.subscriptionsOfUser, u.id)] = []
                fetched[.relation(.membershipsOfUser, u.id)] = []
            case .plan(let plan): fetched[.relation(.subscriptionsOfPlan, plan.id)] = []
            case .group(let g): fetched[.relation(.membershipsOfGroup, g.id)] = []
            default: break
            }
        }
        precondition(asOf == nil, "the views as of a position are read, not written")
        versions.record(table, at: p, changed: changing, old: old?.cached, new: new?.cached)
        rows[table, default: [:]][p] = .some(new?.cached)
        dirty[table, default: []].insert(p)
        for version in [old?.cached, new?.cached] {
            guard let version else { continue }
            for touch in Self.touches(version) { touched[touch, default: []].insert(p) }
        }
    }

    func setProxyEntry(_ proxy: Int, position: UInt64, present: Bool, key: () -> [UInt8]) throws {
        proxyChanges[proxy, default: [:]][key()] = present
    }

    /// The entities and names a row's version names.
    private static func touches(_ row: CachedRow) -> [Touch] {
        switch row {
        case .user, .plan, .group: nameKey(of: row).map { [.name($0)] } ?? []
        case .teamPlan: []
        case .membership(let m): [.related(.memberships, m.user), .related(.memberships, m.group)]
        case .subscription(let x): [.related(.subscriptions, x.user), .related(.subscriptions, x.plan)]
        }
    }

    // MARK: Writing out

    /// Adds the writes of every row, row version and proxy entry this transaction changed.
    func flush(into statements: inout PostgresStatements) throws {
        try versions.write(schema: s, into: &statements)
        for table in BaseTable.allCases where table.holdsRows {
            guard let positions = dirty[table], !positions.isEmpty else { continue }
            let changed = positions.sorted().map { p in (p, rows[table]?[p] ?? nil) }
            try PostgresRows.write(table, changed, schema: s, planID: { p in try self.row(PlanRow.self, .plans, at: p)?.id },
                                   into: &statements)
        }
        var removed: (names: [String], keys: [ByteBuffer]) = ([], [])
        var added: (names: [String], keys: [ByteBuffer], positions: [Int64]) = ([], [], [])
        for (proxy, changes) in proxyChanges {
            for (key, present) in changes {
                if present {
                    added.names.append(proxyNames[proxy])
                    added.keys.append(SQLValue.bytes(key))
                    added.positions.append(Int64(Keys.readPosition(key, at: key.count - 8)))
                } else {
                    removed.names.append(proxyNames[proxy])
                    removed.keys.append(SQLValue.bytes(key))
                }
            }
        }
        if !removed.names.isEmpty {
            statements.add("""
                DELETE FROM \(s).proxy_rows p USING unnest($1::text[], $2::bytea[]) AS d(proxy, sort_key)
                WHERE p.proxy = d.proxy AND p.sort_key = d.sort_key
                """) {
                $0.append(removed.names)
                $0.append(removed.keys)
            }
        }
        if !added.names.isEmpty {
            statements.add("""
                INSERT INTO \(s).proxy_rows (proxy, sort_key, position)
                SELECT * FROM unnest($1::text[], $2::bytea[], $3::int8[]) ON CONFLICT DO NOTHING
                """) {
                $0.append(added.names)
                $0.append(added.keys)
                $0.append(added.positions)
            }
        }
        dirty = [:]
        proxyChanges = [:]
    }
}

extension UniqueName {
    /// The name as compared: an email trimmed and lower-cased, a plan's or group's as it is.
    enum Key: Hashable {
        case email(String), plan(String), group(String)
    }

    var key: Key {
        switch self {
        case .email(let e): .email(e.emailKey)
        case .planName(let n): .plan(n)
        case .groupName(let n): .group(n)
        }
    }

    /// The column a name is looked up in, and the value to look for.
    var column: (String, String) {
        switch self {
        case .email(let e): ("email_key", e.emailKey)
        case .planName(let n): ("name", n)
        case .groupName(let n): ("name", n)
        }
    }
}
