import ArgumentParser
import Subledger

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a view.",
        discussion: """
        Views: users, plans, team_plans, groups, memberships, subscriptions, and the proxies
        active_subscriptions, paying_subscriptions, recent_memberships.
        Tables show a related user by its email and a plan or group by its name (an id when it
        has been deleted); --ids shows the ids. --json rows always hold ids.
        --user/--plan/--group follow related lookups (a user's subscriptions and groups, a plan's
        subscribers, a group's members); each takes an id, an email or a name.

        Examples:
          subledger show users
          subledger show subscriptions --user ann@example.com --json
          subledger show users --as-of 120
          subledger show active_subscriptions --as-of 2026-03-01T00:00:00Z
        """)

    @OptionGroup var location: StoreLocation
    @Argument(help: "The view.") var view: String
    @Option(help: "Only rows related to this user.") var user: String?
    @Option(help: "Only rows related to this plan.") var plan: String?
    @Option(help: "Only rows related to this group.") var group: String?
    @Option(help: "At most N rows.") var limit: Int?
    @Option(name: .customLong("as-of"), help: "The view after position P, or after the last event whose at <= TIME.")
    var asOf: String?
    @Flag(help: "Machine output: one JSON array.") var json = false
    @Flag(help: "In the table, related users, plans and groups as ids (by default: by email or name).") var ids = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let store = try location.open()
        let filter = ViewFilter(user: user.map(Reference.init), plan: plan.map(Reference.init), group: group.map(Reference.init))
        let rows: [ViewRow]
        var names = RelatedNames.none
        do {
            let point = try asOf.map { text throws(StoreError) in try AsOf(parsing: text) }
            rows = try store.rows(of: view, filter: filter, limit: limit, asOf: point)
            if !json, !ids, let keys = rows.first?.fields.map(\.key) {
                // Names as of the same point as the rows, read only for the columns the view has.
                names = try RelatedNames(store, asOf: point, users: keys.contains("user"), plans: keys.contains("plan"),
                                         groups: keys.contains("group"), for: rows)
            }
        } catch {
            throw Failure(message: error.description)
        }
        if json {
            Output.jsonArray(rows) { row, w in row.write(to: &w) }
        } else {
            let header = rows.first?.fields.map(\.key) ?? []
            if rows.isEmpty { Output.info("(no rows)") } else {
                Output.table(header, rows.map { $0.fields.map { names.cell($0.key, $0.value) } })
            }
        }
        Output.flush()
    }
}

struct Seen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seen",
        abstract: "Set a user's volatile last_seen (appends nothing to the log).",
        discussion: "Example:\n  subledger seen --user ann@example.com --at 2026-01-01T10:00:00Z")

    @OptionGroup var location: StoreLocation
    @Option(help: "The user: id or email.") var user: String
    @Option(help: "The time (RFC 3339); default now.") var at: String?

    func run() throws {
        let store = try location.open()
        var when: Timestamp?
        if let at {
            guard let t = Timestamp(rfc3339: at) else { throw Failure(message: "--at must be an RFC 3339 time with Z or an offset") }
            when = t
        }
        do { try store.setLastSeen(user: Reference(user), at: when) } catch { throw Failure(message: error.description) }
    }
}

struct ForgetSeen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget-seen",
        abstract: "Delete a user's volatile last_seen; it falls back to last_login.",
        discussion: "Example:\n  subledger forget-seen --user ann@example.com")

    @OptionGroup var location: StoreLocation
    @Option(help: "The user: id or email.") var user: String

    func run() throws {
        let store = try location.open()
        do { try store.forgetLastSeen(user: Reference(user)) } catch { throw Failure(message: error.description) }
    }
}
