import PostgresNIO

/// What a batch of commands will read, gathered before the batch runs so that the server is
/// asked in a few statements for all of it instead of once per command: the command ids, the
/// users, plans, groups and subscriptions the commands name (by id, email or name), whether
/// the ids they create were ever used, and then the subscriptions and memberships of the users
/// found and the stream versions of every entity found. What it does not foresee (a cascade of
/// a deleted plan or group) is still read when asked.
struct PostgresPrefetch {
    var commandIDs: Set<String> = []
    var ids: Set<EntityID> = []
    /// Ids the commands give their new entities: only whether they were ever used.
    var newIDs: Set<EntityID> = []
    var emails: Set<String> = []
    var planNames: Set<String> = []
    var groupNames: Set<String> = []
    /// Ids the store will hand out (`PostgresStorage.idPool`): only whether they were ever used.
    var fresh: [EntityID] = []

    init(_ batch: [Result<CommandEnvelope, Rejection>], fresh: [EntityID] = []) {
        self.fresh = fresh
        for case .success(let envelope) in batch {
            if let commandID = envelope.commandID { commandIDs.insert(commandID) }
            switch envelope.command {
            case .registerUser(let email, _, let id): emails.insert(email.emailKey); add(new: id)
            case .renameUser(let user, _), .recordLogin(let user), .deleteUser(let user): add(user: user)
            case .createPlan(let name, _, _, let id): planNames.insert(name); add(new: id)
            case .deletePlan(let plan): add(plan: plan)
            case .createGroup(let name, let id): groupNames.insert(name); add(new: id)
            case .deleteGroup(let group): add(group: group)
            case .subscribe(let user, let plan, let id): add(user: user); add(plan: plan); add(new: id)
            case .changePlan(let subscription, let to): add(subscription); add(plan: to)
            case .cancel(let subscription): add(subscription)
            case .joinGroup(let user, let group, let id): add(user: user); add(group: group); add(new: id)
            case .leaveGroup(let user, let group): add(user: user); add(group: group)
            }
        }
    }

    private mutating func add(new id: EntityID?) { if let id { newIDs.insert(id) } }

    private mutating func add(user: Reference) {
        switch user {
        case .id(let id): ids.insert(id)
        case .key(let email): emails.insert(email.emailKey)
        }
    }

    private mutating func add(plan: Reference) {
        switch plan {
        case .id(let id): ids.insert(id)
        case .key(let name): planNames.insert(name)
        }
    }

    private mutating func add(group: Reference) {
        switch group {
        case .id(let id): ids.insert(id)
        case .key(let name): groupNames.insert(name)
        }
    }

    private mutating func add(_ subscription: SubscriptionReference) {
        switch subscription {
        case .id(let id): ids.insert(id)
        case .userPlan(let user, let plan): add(user: user); add(plan: plan)
        }
    }

    /// Reads all of it into `txn`'s caches.
    func load(into txn: PostgresLedgerTransaction) throws {
        let session = txn.session, s = txn.s, views = txn.views
        if !commandIDs.isEmpty {
            var binds = PostgresBindings()
            binds.append(commandIDs.map(SQLValue.text))
            var found: [String: UInt64] = [:]
            for r in try session.query("SELECT command_id, position FROM \(s).events WHERE command_id = ANY($1::text[])", binds) {
                found[try r.string(0)] = UInt64(try r.int(1))
            }
            txn.knowCommands(commandIDs, found: found)
        }
        let uuids = ids.map(SQLValue.uuid)
        // The entities named, by id or by name, and whether the ids ever had an entity.
        var users: [UInt64: UserRow] = [:], plans: [UInt64: PlanRow] = [:], groups: [UInt64: GroupRow] = [:]
        func rows(_ table: BaseTable, _ condition: String, _ bind: (inout PostgresBindings) -> Void) throws -> [(UInt64, CachedRow)] {
            var binds = PostgresBindings()
            bind(&binds)
            return try session.query("\(PostgresRows.select(table, s)) WHERE \(condition)",
                                     binds).map { try PostgresRows.row(table, from: $0) }
        }
        if !ids.isEmpty || !emails.isEmpty {
            let found = try rows(.users, "id = ANY($1::uuid[]) OR email_key = ANY($2::text[])") {
                $0.append(uuids)
                $0.append(emails.map(SQLValue.text))
            }
            for case (let p, .user(let u)) in found { users[p] = u }
            views.know(.users, found, names: emails.map { UniqueName.email($0).key })
        }
        if !ids.isEmpty || !planNames.isEmpty {
            let found = try rows(.plans, "id = ANY($1::uuid[]) OR name = ANY($2::text[])") {
                $0.append(uuids)
                $0.append(planNames.map(SQLValue.text))
            }
            for case (let p, .plan(let plan)) in found { plans[p] = plan }
            views.know(.plans, found, names: planNames.map { UniqueName.planName($0).key })
        }
        if !ids.isEmpty || !groupNames.isEmpty {
            let found = try rows(.groups, "id = ANY($1::uuid[]) OR name = ANY($2::text[])") {
                $0.append(uuids)
                $0.append(groupNames.map(SQLValue.text))
            }
            for case (let p, .group(let g)) in found { groups[p] = g }
            views.know(.groups, found, names: groupNames.map { UniqueName.groupName($0).key })
        }
        var subscriptions: [(UInt64, CachedRow)] = []
        if !ids.isEmpty {
            subscriptions = try rows(.subscriptions, "id = ANY($1::uuid[])") { $0.append(uuids) }
            views.know(.subscriptions, subscriptions, names: [])
        }
        // The users' subscriptions and memberships, whole: a rule asks for one of them.
        var memberships: [(UInt64, CachedRow)] = []
        if !users.isEmpty {
            let userIDs = users.values.map { SQLValue.uuid($0.id) }
            let theirs = try rows(.subscriptions, "user_id = ANY($1::uuid[])") { $0.append(userIDs) }
            views.know(.subscriptions, theirs, names: [], wholeFor: users.values.map { ($0.id, Relation.subscriptionsOfUser) })
            subscriptions += theirs
            memberships = try rows(.memberships, "user_id = ANY($1::uuid[])") { $0.append(userIDs) }
            views.know(.memberships, memberships, names: [], wholeFor: users.values.map { ($0.id, Relation.membershipsOfUser) })
        }
        // A plan that is not a team plan has no team_plans row: known without asking.
        let teams = plans.filter { $0.value.isTeam }.map { Int64($0.key) }
        let teamRows = teams.isEmpty ? [] : try rows(.teamPlans, "position = ANY($1::int8[])") { $0.append(teams) }
        views.know(.teamPlans, teamRows, names: [], absentAt: plans.filter { !$0.value.isTeam }.map(\.key))
        // Every entity found was created at its row's position; the other ids named, never or
        // by a row gone since: the log says which.
        var created: [EntityID: UInt64] = [:]
        for (p, u) in users { created[u.id] = p }
        for (p, plan) in plans { created[plan.id] = p }
        for (p, g) in groups { created[g.id] = p }
        for case (let p, .subscription(let x)) in subscriptions { created[x.id] = p }
        for case (let p, .membership(let m)) in memberships { created[m.id] = p }
        // The stream versions of every entity an event may be appended to, and, in the same
        // statement, where each id not found above was created, if ever.
        let unknown = ids.union(fresh).union(newIDs).subtracting(created.keys)
        for (id, p) in created { views.knowCreation(of: id, at: p) }
        let streams = Set(created.keys).union(ids).union(fresh).union(newIDs)
        guard !streams.isEmpty else { return }
        var binds = PostgresBindings()
        binds.append(streams.map(SQLValue.uuid))
        var versions: [EntityID: UInt32] = [:], creations: [EntityID: UInt64] = [:]
        for r in try session.query("""
            SELECT stream_id, max(version)::int8, min(position) FILTER (WHERE version = 1)
            FROM \(s).events WHERE stream_id = ANY($1::uuid[]) GROUP BY stream_id
            """, binds) {
            let id = try r.id(0)
            versions[id] = UInt32(try r.int(1))
            if !r.isNull(2) { creations[id] = UInt64(try r.int(2)) }
        }
        for id in unknown { views.knowCreation(of: id, at: creations[id]) }
        txn.knowVersions(streams, found: versions)
    }
}
