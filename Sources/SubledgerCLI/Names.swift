import Subledger

/// How tables name related rows for people: a user by its email, a plan or a group by its name,
/// read from the views (as of the same point as the table they label). An id the views do not
/// hold (a deleted entity) stays an id; `--ids` keeps every id as it is.
struct RelatedNames {
    private var users: [EntityID: String] = [:]
    private var plans: [EntityID: String] = [:]
    private var groups: [EntityID: String] = [:]

    /// No names at all: every id stays an id.
    static let none = RelatedNames()

    private init() {}

    /// Reads the names of the kinds asked for, of the entities `rows` name (all of them when
    /// `rows` is nil).
    init(_ store: Store, asOf: AsOf? = nil, users: Bool = true, plans: Bool = true, groups: Bool = true,
         for rows: [ViewRow]? = nil) throws(StoreError) {
        func read(_ view: BaseView, _ column: String, _ key: String) throws(StoreError) -> [EntityID: String] {
            var out: [EntityID: String] = [:]
            let found: [ViewRow]
            if let rows {
                // The few entities the rows shown name, each found by id.
                var ids: [EntityID] = [], seen = Set<EntityID>()
                for row in rows { if case .id(let id)? = row[column], seen.insert(id).inserted { ids.append(id) } }
                found = try store.rows(of: view, ids: ids, asOf: asOf)
            } else {
                found = try store.rows(of: view.rawValue, asOf: asOf)
            }
            for row in found {
                if case .id(let id)? = row["id"], case .string(let name)? = row[key] { out[id] = name }
            }
            return out
        }
        if users { self.users = try read(.users, "user", "email") }
        if plans { self.plans = try read(.plans, "plan", "name") }
        if groups { self.groups = try read(.groups, "group", "name") }
    }

    func user(_ id: EntityID) -> String { users[id] ?? id.description }
    func plan(_ id: EntityID) -> String { plans[id] ?? id.description }
    func group(_ id: EntityID) -> String { groups[id] ?? id.description }

    /// A cell of a view's table: the `user`, `plan` and `group` columns by name, the rest as text.
    func cell(_ key: String, _ value: FieldValue) -> String {
        guard case .id(let id) = value else { return value.text }
        switch key {
        case "user": return user(id)
        case "plan": return plan(id)
        case "group": return group(id)
        default: return value.text
        }
    }
}

extension RecordedEvent {
    /// The `data` column of `replay` tables: ``summary`` with related users, plans and groups named.
    func summary(_ names: RelatedNames) -> String {
        switch data {
        case .subscribed(_, let user, let plan): "user \(names.user(user)) plan \(names.plan(plan))"
        case .planChanged(_, let from, let to): "plan \(names.plan(from)) → \(names.plan(to))"
        case .memberJoined(_, let user, let group), .memberLeft(_, let user, let group):
            "user \(names.user(user)) group \(names.group(group))"
        default: summary
        }
    }
}
