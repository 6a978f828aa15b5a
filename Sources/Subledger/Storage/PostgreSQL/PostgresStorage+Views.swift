import PostgresNIO

extension PostgresStorage {
    func rows(of view: String, filter: ViewFilter, limit: Int?, asOf position: UInt64?) throws -> [ViewRow] {
        let query = ViewQuery(view: view, filter: filter, limit: limit, proxies: proxies)
        if let position {
            // The views after `position`, from the history tables: no fold.
            return try withSession(retry: true) { session in
                try session.transaction(readOnly: true) {
                    let views = PostgresViews(session: session, schema: s, proxies: proxies, asOf: position)
                    return try query.rows(views, expected: 0, proxiesIndexed: false) { _ in nil }
                }
            }
        }
        return try withSession { session in
            try session.transaction(readOnly: true) {
                let views = PostgresViews(session: session, schema: s, proxies: proxies)
                let seen = view == "users" || proxies.first { $0.name == view }?.base == .users ? try lastSeen(session) : [:]
                return try query.rows(views, expected: 0, proxiesIndexed: true) { seen[$0] }
            }
        }
    }

    func lastSeen(_ session: PostgresSession) throws -> [EntityID: Timestamp] {
        var out: [EntityID: Timestamp] = [:]
        for r in try session.query("SELECT user_id, \(s).us(seen_at) FROM \(s).last_seen") { out[try r.id(0)] = try r.time(1) }
        return out
    }

    func projections() throws -> [ProjectionInfo] {
        try withSession { session in
            let states = try projectionStates(session)
            var out: [ProjectionInfo] = []
            for name in ["users", "plans", "team_plans", "groups", "memberships", "subscriptions"] {
                let rows = try session.query("SELECT count(*)::int8 FROM \(s).\(name)").first?.int(0) ?? 0
                out.append(ProjectionInfo(name: name, kind: name == "team_plans" ? .child : .base,
                                          checkpoint: states[BaseViews.name]?.checkpoint ?? 0, rows: Int(rows), version: BaseViews.version))
            }
            for proxy in proxies {
                var binds = SQLBinds()
                binds.append(proxy.name)
                let rows = try session.query("SELECT count(*)::int8 FROM \(s).proxy_rows WHERE proxy = $1", binds).first?.int(0) ?? 0
                out.append(ProjectionInfo(name: proxy.name, kind: .proxy, checkpoint: states[proxy.name]?.checkpoint ?? 0,
                                          rows: Int(rows), version: proxy.version))
            }
            return out
        }
    }

    func setLastSeen(user: Reference, at when: Timestamp) throws {
        try withSession { session in
            try session.transaction {
                let id = try References(state: PostgresViews(session: session, schema: s, proxies: proxies)).user(user).row.id
                var binds = SQLBinds()
                binds.append(SQLValue.uuid(id))
                binds.append(when.microseconds)
                try session.execute("""
                    INSERT INTO \(s).last_seen (user_id, seen_at) VALUES ($1, \(s).ts($2))
                    ON CONFLICT (user_id) DO UPDATE SET seen_at = excluded.seen_at
                    """, binds)
            }
        }
    }

    func forgetLastSeen(user: Reference) throws {
        try withSession { session in
            try session.transaction {
                let id = try References(state: PostgresViews(session: session, schema: s, proxies: proxies)).user(user).row.id
                var binds = SQLBinds()
                binds.append(SQLValue.uuid(id))
                try session.execute("DELETE FROM \(s).last_seen WHERE user_id = $1", binds)
            }
        }
    }
}
