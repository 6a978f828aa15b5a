import FoundationEssentials
import PostgresNIO

/// How the ledger's values travel to and from SQL: ids as `uuid`, times as microseconds (see
/// `PostgresSchema`), missing times as the smallest `bigint`, bytes as `bytea`.
enum SQLValue {
    /// Stands for SQL NULL in a `bigint` array of times (`ts()` turns it into NULL).
    static let noTime = Int64.min

    static func uuid(_ id: EntityID) -> UUID {
        let b = id.raw
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    static func id(_ uuid: UUID) -> EntityID {
        withUnsafeBytes(of: uuid.uuid) { EntityID(raw: $0) }
    }

    static func time(_ t: Timestamp?) -> Int64 { t?.microseconds ?? noTime }

    static func bytes(_ b: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: b) }

    /// Text as a `text` column holds it. PostgreSQL's text cannot hold U+0000, which a
    /// ledger's names may: it is written as U+10FFFF "0", and U+10FFFF itself doubled, so
    /// every other string is stored as it is and equal strings stay equal.
    static func text(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value == 0 || $0 == escape }) else { return s }
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if scalar.value == 0 { out.append(escape); out.append("0") } else if scalar == escape { out.append(escape); out.append(escape) }
            else { out.append(scalar) }
        }
        return String(out)
    }

    /// The string a `text` column's value stands for (`text` undone).
    static func string(_ stored: String) -> String {
        guard stored.unicodeScalars.contains(escape) else { return stored }
        var out = String.UnicodeScalarView()
        var it = stored.unicodeScalars.makeIterator()
        while let scalar = it.next() {
            guard scalar == escape, let next = it.next() else { out.append(scalar); continue }
            out.append(next == "0" ? Unicode.Scalar(0) : next)
        }
        return String(out)
    }

    private static let escape = Unicode.Scalar(0x10FFFF)!
}

/// Reading columns of a result row by index.
extension PostgresRandomAccessRow {
    /// Column `i`, read as binary: every result is asked for in binary, and a prepared
    /// statement's rows come described as text (the description of its `Describe`).
    private func cell(_ i: Int) -> PostgresCell {
        var cell = self[i]
        cell.format = .binary
        return cell
    }
    func int(_ i: Int) throws -> Int64 { try cell(i).decode(Int64.self) }
    func text(_ i: Int) throws -> String { try cell(i).decode(String.self) }
    /// A ledger's string from a `text` column (see `SQLValue.text`).
    func string(_ i: Int) throws -> String { SQLValue.string(try text(i)) }
    func id(_ i: Int) throws -> EntityID { SQLValue.id(try cell(i).decode(UUID.self)) }
    func time(_ i: Int) throws -> Timestamp { Timestamp(microseconds: try int(i)) }
    func optionalTime(_ i: Int) throws -> Timestamp? {
        let us = try int(i)
        return us == SQLValue.noTime ? nil : Timestamp(microseconds: us)
    }
    func bytes(_ i: Int) throws -> [UInt8] {
        var buffer = try cell(i).decode(ByteBuffer.self)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
    func isNull(_ i: Int) -> Bool { self[i].bytes == nil }
}

/// The view tables as SQL: the columns each base table's rows are read with (position first,
/// the rest in the order `row(from:)` reads them) and the statements that write a batch's rows.
enum PostgresRows {
    static func table(_ t: BaseTable) -> String {
        switch t {
        case .users: "users"
        case .plans: "plans"
        case .teamPlans: "team_plans"
        case .groups: "groups"
        case .memberships: "memberships"
        case .subscriptions: "subscriptions"
        default: preconditionFailure("\(t.name) is not a row table")
        }
    }

    /// `SELECT` columns of a row table (position first), for `row(_:from:)`.
    static func columns(_ t: BaseTable, _ s: String) -> String {
        let noTime = String(SQLValue.noTime)
        return switch t {
        case .users: "position, id, email, full_name, \(s).us(registered), coalesce(\(s).us(last_login), \(noTime))"
        case .plans: "position, id, name, price_cents, kind, \(s).us(created)"
        case .teamPlans: "position, seats, seats_used"
        case .groups: "position, id, name, \(s).us(created), member_count"
        case .memberships: "position, id, user_id, group_id, \(s).us(joined)"
        case .subscriptions:
            "position, id, user_id, plan_id, \(s).us(created), \(s).us(updated), coalesce(\(s).us(cancelled), \(noTime))"
        default: preconditionFailure("\(t.name) is not a row table")
        }
    }

    /// `SELECT` of a row table's rows (then a `WHERE` or an `ORDER BY`), for `row(_:from:)`.
    static func select(_ t: BaseTable, _ s: String) -> String { "SELECT \(columns(t, s)) FROM \(s).\(table(t))" }

    /// The position and row of a result row read with `columns(t)`.
    static func row(_ t: BaseTable, from r: PostgresRandomAccessRow) throws -> (UInt64, CachedRow) {
        let p = UInt64(try r.int(0))
        let row: CachedRow = switch t {
        case .users:
            .user(UserRow(id: try r.id(1), email: try r.string(2), fullName: try r.string(3), registered: try r.time(4),
                          lastLogin: try r.optionalTime(5)))
        case .plans:
            .plan(PlanRow(id: try r.id(1), name: try r.string(2), priceCents: try r.int(3), isTeam: try r.text(4) == "team",
                          created: try r.time(5)))
        case .teamPlans: .teamPlan(TeamPlanRow(seats: try r.int(1), seatsUsed: try r.int(2)))
        case .groups: .group(GroupRow(id: try r.id(1), name: try r.string(2), created: try r.time(3), memberCount: try r.int(4)))
        case .memberships:
            .membership(MembershipRow(id: try r.id(1), user: try r.id(2), group: try r.id(3), joined: try r.time(4)))
        case .subscriptions:
            .subscription(SubscriptionRow(id: try r.id(1), user: try r.id(2), plan: try r.id(3), created: try r.time(4),
                                          updated: try r.time(5), cancelled: try r.optionalTime(6)))
        default: preconditionFailure("\(t.name) is not a row table")
        }
        return (p, row)
    }

    /// A column as a batch writes it: its name, the array type it travels in, and the SQL that
    /// makes the column's value of the travelled one (times through `ts()`).
    struct Written {
        let name: String
        let type: String
        let value: String
        /// The column's SQL type, with `NOT NULL` unless it may be missing.
        let declaration: String
    }

    /// The columns of `t` a batch writes, in the order `append(_:_:to:)` binds them; the key
    /// (`id`, or `plan_ptr_id`) first, then `position`.
    static func written(_ t: BaseTable, _ s: String) -> [Written] {
        func c(_ name: String, _ type: String) -> Written {
            Written(name: name, type: type, value: name, declaration: (type == "int8" ? "bigint" : type) + " NOT NULL")
        }
        func time(_ name: String, optional: Bool = false) -> Written {
            Written(name: name, type: "int8", value: "\(s).ts(\(name))", declaration: "timestamptz" + (optional ? "" : " NOT NULL"))
        }
        return switch t {
        case .users:
            [c("id", "uuid"), c("position", "int8"), c("email", "text"), c("full_name", "text"), time("registered"),
             time("last_login", optional: true), c("email_key", "text")]
        case .plans: [c("id", "uuid"), c("position", "int8"), c("name", "text"), c("price_cents", "int8"), c("kind", "text"), time("created")]
        case .teamPlans: [c("plan_ptr_id", "uuid"), c("position", "int8"), c("seats", "int8"), c("seats_used", "int8")]
        case .groups: [c("id", "uuid"), c("position", "int8"), c("name", "text"), time("created"), c("member_count", "int8")]
        case .memberships: [c("id", "uuid"), c("position", "int8"), c("user_id", "uuid"), c("group_id", "uuid"), time("joined")]
        case .subscriptions:
            [c("id", "uuid"), c("position", "int8"), c("user_id", "uuid"), c("plan_id", "uuid"), time("created"), time("updated"),
             time("cancelled", optional: true)]
        default: preconditionFailure("\(t.name) is not a row table")
        }
    }

    /// Binds the columns of `rows` as arrays, in the order of `written(t)`. `planID` gives a team
    /// plan's parent id; without it (a history table's rows) the key column is left out.
    static func append(_ t: BaseTable, _ rows: [(position: UInt64, row: CachedRow)], to binds: inout SQLBinds,
                       planID: ((UInt64) throws -> EntityID?)?) throws {
        let positions = rows.map { Int64($0.position) }
        switch t {
        case .users:
            let users = rows.compactMap { if case .user(let u) = $0.row { u } else { nil } }
            binds.append(users.map { SQLValue.uuid($0.id) })
            binds.append(positions)
            binds.append(users.map { SQLValue.text($0.email) })
            binds.append(users.map { SQLValue.text($0.fullName) })
            binds.append(users.map { SQLValue.time($0.registered) })
            binds.append(users.map { SQLValue.time($0.lastLogin) })
            binds.append(users.map { SQLValue.text($0.email.emailKey) })
        case .plans:
            let plans = rows.compactMap { if case .plan(let p) = $0.row { p } else { nil } }
            binds.append(plans.map { SQLValue.uuid($0.id) })
            binds.append(positions)
            binds.append(plans.map { SQLValue.text($0.name) })
            binds.append(plans.map(\.priceCents))
            binds.append(plans.map { $0.isTeam ? "team" : "plan" })
            binds.append(plans.map { SQLValue.time($0.created) })
        case .teamPlans:
            let teams = rows.compactMap { if case .teamPlan(let t) = $0.row { t } else { nil } }
            if let planID {
                binds.append(try rows.map { r in
                    guard let id = try planID(r.position) else { throw StoreError.corrupt("team plan row \(r.position) has no plans row") }
                    return SQLValue.uuid(id)
                })
            }
            binds.append(positions)
            binds.append(teams.map(\.seats))
            binds.append(teams.map(\.seatsUsed))
        case .groups:
            let groups = rows.compactMap { if case .group(let g) = $0.row { g } else { nil } }
            binds.append(groups.map { SQLValue.uuid($0.id) })
            binds.append(positions)
            binds.append(groups.map { SQLValue.text($0.name) })
            binds.append(groups.map { SQLValue.time($0.created) })
            binds.append(groups.map(\.memberCount))
        case .memberships:
            let memberships = rows.compactMap { if case .membership(let m) = $0.row { m } else { nil } }
            binds.append(memberships.map { SQLValue.uuid($0.id) })
            binds.append(positions)
            binds.append(memberships.map { SQLValue.uuid($0.user) })
            binds.append(memberships.map { SQLValue.uuid($0.group) })
            binds.append(memberships.map { SQLValue.time($0.joined) })
        case .subscriptions:
            let subscriptions = rows.compactMap { if case .subscription(let x) = $0.row { x } else { nil } }
            binds.append(subscriptions.map { SQLValue.uuid($0.id) })
            binds.append(positions)
            binds.append(subscriptions.map { SQLValue.uuid($0.user) })
            binds.append(subscriptions.map { SQLValue.uuid($0.plan) })
            binds.append(subscriptions.map { SQLValue.time($0.created) })
            binds.append(subscriptions.map { SQLValue.time($0.updated) })
            binds.append(subscriptions.map { SQLValue.time($0.cancelled) })
        default:
            preconditionFailure("\(t.name) is not a row table")
        }
    }

    /// `SELECT <values> FROM unnest($first::type[], ...) AS t(<names>)` over `columns`, bound from
    /// parameter `first` on.
    static func unnest(_ columns: [Written], from first: Int) -> String {
        let arrays = columns.enumerated().map { "$\(first + $0.offset)::\($0.element.type)[]" }.joined(separator: ", ")
        return "SELECT \(columns.map(\.value).joined(separator: ", ")) FROM unnest(\(arrays)) AS t(\(columns.map(\.name).joined(separator: ", ")))"
    }

    /// Adds the writes of the final state of `rows` (nil: deleted) into `t`: one `DELETE` and
    /// one upsert with array parameters, whatever the number of rows. `planID` gives a team
    /// plan's parent id.
    static func write(_ t: BaseTable, _ rows: [(position: UInt64, row: CachedRow?)], schema s: String,
                      planID: (UInt64) throws -> EntityID?, into statements: inout PostgresStatements) throws {
        let gone = rows.filter { $0.row == nil }.map { Int64($0.position) }
        if !gone.isEmpty {
            statements.add("DELETE FROM \(s).\(table(t)) WHERE position = ANY($1::int8[])") { $0.append(gone) }
        }
        let present = rows.compactMap { r in r.row.map { (position: r.position, row: $0) } }
        guard !present.isEmpty else { return }
        let columns = written(t, s)
        let key = columns[0].name
        let updates = columns.dropFirst(2).map { "\($0.name) = excluded.\($0.name)" }.joined(separator: ", ")
        try withoutActuallyEscaping(planID) { planID in
            try statements.add("""
                INSERT INTO \(s).\(table(t)) (\(columns.map(\.name).joined(separator: ", "))) \(unnest(columns, from: 1))
                ON CONFLICT (\(key)) DO UPDATE SET \(updates)
                """) { try append(t, present, to: &$0, planID: planID) }
        }
    }
}
