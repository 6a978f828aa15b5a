import PostgresNIO

/// The snapshots of a PostgreSQL ledger: each view table has a `_history` table beside it, in
/// the shape django-simple-history gives its historical models, holding every version of every
/// row: the row's columns, `changed` (the position of the event that made the version) and
/// `change` (`+` created, `~` changed, `-` deleted, with the row's last columns). Writers add a
/// batch's versions in the same transaction as its rows, so the history is never behind the log.
///
/// A view as of position P is then SQL alone: the newest version of each row at or before P,
/// unless it is a deletion. No fold, whatever P is, and any SQL tool can ask the same.
enum PostgresHistory {
    static func table(_ t: BaseTable) -> String { PostgresRows.table(t) + "_history" }

    /// The history's columns as a batch writes them: those of the view table, without a team
    /// plan's `plan_ptr_id` (its `position` is the plan's).
    static func columns(_ t: BaseTable, _ s: String) -> [PostgresRows.Written] {
        let all = PostgresRows.written(t, s)
        return t == .teamPlans ? Array(all.dropFirst()) : all
    }

    /// The statements that make the history tables of schema `s`: a version is found by its row
    /// and position (newest first), a row by the names and relations the views are searched by.
    static func create(_ s: String) -> [String] {
        BaseTable.allCases.filter(\.holdsRows).flatMap { t -> [String] in
            let name = table(t)
            let types = columns(t, s).map { "\($0.name) \($0.declaration)" }
            let searched: [String] = switch t {
            case .users: ["email_key"]
            case .plans, .groups: ["name"]
            case .memberships: ["user_id", "group_id"]
            case .subscriptions: ["user_id", "plan_id"]
            default: []
            }
            return ["""
                CREATE TABLE IF NOT EXISTS \(s).\(name) (
                  changed bigint NOT NULL,
                  change text NOT NULL CHECK (change IN ('+', '~', '-')),
                  \(types.joined(separator: ",\n  ")))
                """,
                "CREATE UNIQUE INDEX IF NOT EXISTS \(name)_version ON \(s).\(name) (position, changed DESC)"]
                + searched.map { "CREATE INDEX IF NOT EXISTS \(name)_\($0) ON \(s).\(name) (\($0), changed)" }
        }
    }

    /// Adds the insert of `versions` (all of one table) into its history table.
    static func write(_ t: BaseTable, _ versions: [RowVersion], schema s: String, into statements: inout PostgresStatements) throws {
        guard !versions.isEmpty else { return }
        let columns = [PostgresRows.Written(name: "changed", type: "int8", value: "changed", declaration: ""),
                       PostgresRows.Written(name: "change", type: "text", value: "change", declaration: "")] + columns(t, s)
        try statements.add("""
            INSERT INTO \(s).\(table(t)) (\(columns.map(\.name).joined(separator: ", "))) \(PostgresRows.unnest(columns, from: 1))
            """) { binds in
            binds.append(versions.map { Int64($0.changed) })
            binds.append(versions.map(\.change.rawValue))
            try PostgresRows.append(t, versions.map { ($0.position, $0.row) }, to: &binds, planID: nil)
        }
    }

    /// `SELECT` of the rows of `t` as they were after `position` (bound as `$\(parameter)`),
    /// columns as `PostgresRows.columns` gives them; `condition` (on the history's columns)
    /// picks the rows any of whose versions by then matched it: the caller tests the newest.
    /// With `after`, only rows past the position bound as that parameter.
    static func select(_ t: BaseTable, _ s: String, asOf parameter: Int, where condition: String? = nil, after: Int? = nil) -> String {
        let name = "\(s).\(table(t))"
        let candidates = condition.map {
            " AND position IN (SELECT position FROM \(name) WHERE (\($0)) AND changed <= $\(parameter))"
        } ?? ""
        let past = after.map { " AND position > $\($0)" } ?? ""
        return """
            SELECT \(PostgresRows.columns(t, s)) FROM (SELECT DISTINCT ON (position) * FROM \(name)
              WHERE changed <= $\(parameter)\(past)\(candidates) ORDER BY position, changed DESC) AS h WHERE change <> '-'
            """
    }
}

extension RowVersions {
    /// Adds the writes of the versions noted so far into schema `s`, and forgets them.
    mutating func write(schema s: String, into statements: inout PostgresStatements) throws {
        let versions = take()
        for t in BaseTable.allCases where t.holdsRows {
            try PostgresHistory.write(t, versions.filter { $0.table == t }, schema: s, into: &statements)
        }
    }

    /// Writes the versions noted so far into schema `s` in one statement, and forgets them.
    mutating func write(schema s: String, _ session: PostgresSession) throws {
        var statements = PostgresStatements()
        try write(schema: s, into: &statements)
        try statements.execute(session)
    }
}
