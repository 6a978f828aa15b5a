import PostgresNIO

/// Writes gathered to be sent as one statement: each is added with parameters numbered from
/// `$1` as if alone, and they go as the data-modifying parts of one `WITH`, so that a batch's
/// events, rows, versions, proxy entries, head and checkpoints cost one round trip.
///
/// The parts run on one snapshot and see none of each other's changes, which these writes do not
/// need: each row is written once (deleted, or upserted), and the constraints that tie rows
/// together are checked at commit.
struct PostgresStatements {
    private var parts: [(sql: String, isQuery: Bool)] = []
    private var binds = SQLBinds()

    /// Adds a statement; `bind` appends its parameters in the order of `$1`, `$2`, ... `isQuery`
    /// marks a `SELECT` run for its effect (a notification), which must be read to run.
    mutating func add(_ sql: String, isQuery: Bool = false, _ bind: (inout SQLBinds) throws -> Void) rethrows {
        let offset = binds.count
        try bind(&binds)
        parts.append((offset == 0 ? sql : Self.shift(sql, by: offset), isQuery))
    }

    /// Sends everything added as one statement and waits for it, then forgets it.
    mutating func execute(_ session: PostgresSession) throws {
        guard let sql = take() else { return }
        try session.execute(sql.text, sql.binds)
    }

    /// Sends everything added as one statement without waiting (`PostgresSession.send`: the
    /// next statement, the `COMMIT`, waits for it), then forgets it.
    mutating func send(_ session: PostgresSession) throws {
        guard let sql = take() else { return }
        try session.send(sql.text, sql.binds)
    }

    /// The one statement, if any, and forgets it.
    private mutating func take() -> (text: String, binds: SQLBinds)? {
        defer {
            parts = []
            binds = SQLBinds()
        }
        switch parts.count {
        case 0: return nil
        case 1: return (parts[0].sql, binds)
        default:
            let with = parts.enumerated().map { "w\($0.offset) AS (\($0.element.sql))" }.joined(separator: ",\n")
            let read = parts.indices.filter { parts[$0].isQuery }.map { "(SELECT count(*) FROM w\($0))" }
            return ("WITH \(with)\nSELECT \(read.isEmpty ? "1" : read.joined(separator: " + "))", binds)
        }
    }

    /// `sql` with each parameter `$n` renumbered `$(n + offset)`.
    static func shift(_ sql: String, by offset: Int) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var i = sql.startIndex
        while i < sql.endIndex {
            let c = sql[i]
            out.append(c)
            i = sql.index(after: i)
            guard c == "$" else { continue }
            var j = i
            while j < sql.endIndex, sql[j].isASCII, sql[j].isNumber { j = sql.index(after: j) }
            if j > i, let n = Int(sql[i..<j]) {
                out += String(n + offset)
                i = j
            }
        }
        return out
    }
}
