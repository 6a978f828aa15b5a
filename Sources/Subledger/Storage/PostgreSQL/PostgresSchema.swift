/// The tables of one ledger, a schema of its own: the log, the views in the shape of Django's
/// models (`team_plans` keyed by a reference to `plans`, as multi-table inheritance stores it),
/// each proxy as a relation in its own order, `last_seen` beside them. Readable with plain SQL.
///
/// Times are `timestamptz`; the store reads and writes them as microseconds through `ts()` and
/// `us()` so that no value is rounded on the way. Unique and foreign-key constraints are
/// checked at commit: a batch may free a name and take it again, or delete a user with its rows.
enum PostgresSchema {
    /// The layout this code writes; a ledger of a newer one is refused.
    /// Format 2 added the history tables.
    static let format: Int64 = 2

    /// Every statement that makes the ledger, each idempotent: `init` may run it again.
    static func create(_ s: String, proxies: [Proxy]) -> [String] {
        functions(s) + log(s) + views(s) + proxyViews(s, proxies: proxies)
    }

    /// The schema and the functions its statements use.
    static func functions(_ s: String) -> [String] {
        [
            "CREATE SCHEMA IF NOT EXISTS \(s)",
            """
            CREATE OR REPLACE FUNCTION \(s).ts(us bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
              SELECT CASE WHEN us = -9223372036854775808 THEN NULL
                          ELSE timestamptz 'epoch' + (us / 1000000) * interval '1 second' + (us % 1000000) * interval '1 microsecond' END
            $$
            """,
            """
            CREATE OR REPLACE FUNCTION \(s).us(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
              SELECT (extract(epoch FROM t) * 1000000)::bigint
            $$
            """,
        ]
    }

    /// The log, its head and the projections' checkpoints, and `last_seen`.
    static func log(_ s: String) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(s).ledger (
              one boolean PRIMARY KEY DEFAULT true CHECK (one),
              format bigint NOT NULL,
              position bigint NOT NULL,
              hash bytea NOT NULL,
              newest_at timestamptz,
              counts bytea NOT NULL)
            """,
            """
            INSERT INTO \(s).ledger (one, format, position, hash, newest_at, counts)
            VALUES (true, \(format), 0, '\\x\(String(repeating: "00", count: 32))', NULL, '\\x') ON CONFLICT DO NOTHING
            """,
            """
            CREATE TABLE IF NOT EXISTS \(s).events (
              position bigint PRIMARY KEY,
              stream text NOT NULL,
              stream_id uuid NOT NULL,
              version integer NOT NULL,
              type text NOT NULL,
              at timestamptz NOT NULL,
              command_id text UNIQUE,
              record bytea NOT NULL,
              UNIQUE (stream_id, version))
            """,
            "CREATE TABLE IF NOT EXISTS \(s).projections (name text PRIMARY KEY, version bigint NOT NULL, checkpoint bigint NOT NULL)",
            "CREATE TABLE IF NOT EXISTS \(s).last_seen (user_id uuid PRIMARY KEY, seen_at timestamptz NOT NULL)",
        ]
    }

    /// The tables a rebuild makes anew: the views, their history, the proxies' entries.
    static func views(_ s: String) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(s).users (
              id uuid PRIMARY KEY,
              position bigint NOT NULL UNIQUE,
              email text NOT NULL,
              full_name text NOT NULL,
              registered timestamptz NOT NULL,
              last_login timestamptz,
              email_key text NOT NULL CONSTRAINT users_email_unique UNIQUE DEFERRABLE INITIALLY DEFERRED)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(s).plans (
              id uuid PRIMARY KEY,
              position bigint NOT NULL UNIQUE,
              name text NOT NULL CONSTRAINT plans_name_unique UNIQUE DEFERRABLE INITIALLY DEFERRED,
              price_cents bigint NOT NULL,
              kind text NOT NULL,
              created timestamptz NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(s).team_plans (
              plan_ptr_id uuid PRIMARY KEY REFERENCES \(s).plans (id) DEFERRABLE INITIALLY DEFERRED,
              position bigint NOT NULL UNIQUE,
              seats bigint NOT NULL,
              seats_used bigint NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(s).groups (
              id uuid PRIMARY KEY,
              position bigint NOT NULL UNIQUE,
              name text NOT NULL CONSTRAINT groups_name_unique UNIQUE DEFERRABLE INITIALLY DEFERRED,
              created timestamptz NOT NULL,
              member_count bigint NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(s).memberships (
              id uuid PRIMARY KEY,
              position bigint NOT NULL UNIQUE,
              user_id uuid NOT NULL REFERENCES \(s).users (id) DEFERRABLE INITIALLY DEFERRED,
              group_id uuid NOT NULL REFERENCES \(s).groups (id) DEFERRABLE INITIALLY DEFERRED,
              joined timestamptz NOT NULL,
              CONSTRAINT memberships_user_group_unique UNIQUE (user_id, group_id) DEFERRABLE INITIALLY DEFERRED)
            """,
            "CREATE INDEX IF NOT EXISTS memberships_group ON \(s).memberships (group_id)",
            """
            CREATE TABLE IF NOT EXISTS \(s).subscriptions (
              id uuid PRIMARY KEY,
              position bigint NOT NULL UNIQUE,
              user_id uuid NOT NULL REFERENCES \(s).users (id) DEFERRABLE INITIALLY DEFERRED,
              plan_id uuid NOT NULL REFERENCES \(s).plans (id) DEFERRABLE INITIALLY DEFERRED,
              created timestamptz NOT NULL,
              updated timestamptz NOT NULL,
              cancelled timestamptz,
              CONSTRAINT subscriptions_one_active EXCLUDE USING btree (user_id WITH =, plan_id WITH =)
                WHERE (cancelled IS NULL) DEFERRABLE INITIALLY DEFERRED)
            """,
            "CREATE INDEX IF NOT EXISTS subscriptions_user_plan ON \(s).subscriptions (user_id, plan_id)",
            "CREATE INDEX IF NOT EXISTS subscriptions_plan ON \(s).subscriptions (plan_id)",
            """
            CREATE TABLE IF NOT EXISTS \(s).proxy_rows (
              proxy text NOT NULL,
              sort_key bytea NOT NULL,
              position bigint NOT NULL,
              PRIMARY KEY (proxy, sort_key))
            """,
        ] + PostgresHistory.create(s)
    }

    /// The tables `views` makes, as they are dropped or moved: those referred to last.
    static let viewTables = ["proxy_rows", "team_plans", "memberships", "subscriptions", "users", "plans", "groups"]
        + BaseTable.allCases.filter(\.holdsRows).map(PostgresHistory.table)

    /// Each proxy reads as a relation of its base view's columns, in its own order.
    static func proxyViews(_ s: String, proxies: [Proxy]) -> [String] {
        proxies.map { proxy in
            """
            CREATE OR REPLACE VIEW \(s).\(quotedIdentifier(proxy.name)) AS
              SELECT b.* FROM \(s).proxy_rows p JOIN \(s).\(proxy.base.rawValue) b ON b.position = p.position
              WHERE p.proxy = \(quotedLiteral(proxy.name)) ORDER BY p.sort_key
            """
        }
    }

    /// A name as an SQL identifier: in double quotes, a quote doubled.
    static func quotedIdentifier(_ name: String) -> String { "\"" + name.replacingAll("\"", with: "\"\"") + "\"" }

    /// Text as an SQL string literal: in single quotes, a quote doubled.
    static func quotedLiteral(_ text: String) -> String { "'" + text.replacingAll("'", with: "''") + "'" }
}

extension String {
    /// Every occurrence of `target` replaced (a Foundation-free `replacingOccurrences`).
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
