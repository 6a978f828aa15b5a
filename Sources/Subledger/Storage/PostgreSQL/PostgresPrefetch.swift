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

    /// Reads all of it into `txn`'s caches, in two rounds of statements sent without waiting
    /// between them: what the commands name, then what depends on the rows found.
    func load(into txn: PostgresLedgerTransaction) throws {
        let session = txn.session, s = txn.s, views = txn.views
        let uuids = ids.map(SQLValue.uuid)
        var round = Round()
        // The command ids, and the entities named, by id or by name.
        let commands = commandIDs.isEmpty ? nil : round.add("SELECT command_id, position FROM \(s).events WHERE command_id = ANY($1::text[])") {
            $0.append(commandIDs.map(SQLValue.text))
        }
        func named(_ table: BaseTable, _ names: Set<String>, column: String) -> Int? {
            guard !ids.isEmpty || !names.isEmpty else { return nil }
            return round.add("\(PostgresRows.select(table, s)) WHERE id = ANY($1::uuid[]) OR \(column) = ANY($2::text[])") {
                $0.append(uuids)
                $0.append(names.map(SQLValue.text))
            }
        }
        let usersAt = named(.users, emails, column: "email_key")
        let plansAt = named(.plans, planNames, column: "name")
        let groupsAt = named(.groups, groupNames, column: "name")
        let subscriptionsAt = ids.isEmpty ? nil : round.add("\(PostgresRows.select(.subscriptions, s)) WHERE id = ANY($1::uuid[])") {
            $0.append(uuids)
        }
        var answers = try round.run(session)

        if let commands {
            var found: [String: UInt64] = [:]
            for r in answers[commands] { found[try r.string(0)] = UInt64(try r.int(1)) }
            txn.knowCommands(commandIDs, found: found)
        }
        func rows(_ table: BaseTable, _ at: Int?) throws -> [(UInt64, CachedRow)] {
            try at.map { try answers[$0].map { try PostgresRows.row(table, from: $0) } } ?? []
        }
        var users: [UInt64: UserRow] = [:], plans: [UInt64: PlanRow] = [:], groups: [UInt64: GroupRow] = [:]
        let foundUsers = try rows(.users, usersAt), foundPlans = try rows(.plans, plansAt), foundGroups = try rows(.groups, groupsAt)
        for case (let p, .user(let u)) in foundUsers { users[p] = u }
        for case (let p, .plan(let plan)) in foundPlans { plans[p] = plan }
        for case (let p, .group(let g)) in foundGroups { groups[p] = g }
        if usersAt != nil { views.know(.users, foundUsers, names: emails.map { UniqueName.email($0).key }) }
        if plansAt != nil { views.know(.plans, foundPlans, names: planNames.map { UniqueName.planName($0).key }) }
        if groupsAt != nil { views.know(.groups, foundGroups, names: groupNames.map { UniqueName.groupName($0).key }) }
        var subscriptions = try rows(.subscriptions, subscriptionsAt)
        if subscriptionsAt != nil { views.know(.subscriptions, subscriptions, names: []) }

        // Every entity found was created at its row's position.
        var created: [EntityID: UInt64] = [:]
        for (p, u) in users { created[u.id] = p }
        for (p, plan) in plans { created[plan.id] = p }
        for (p, g) in groups { created[g.id] = p }
        for case (let p, .subscription(let x)) in subscriptions { created[x.id] = p }

        // The users' subscriptions and memberships, whole (a rule asks for one of them); the team
        // plans' rows (a plan that is not a team plan has none: known without asking); the
        // stream versions of every entity an event may be appended to (the users' subscriptions
        // and memberships among them), and where each id not found above was created, if ever.
        round = Round()
        let userIDs = users.values.map { SQLValue.uuid($0.id) }
        let theirSubscriptionsAt = users.isEmpty ? nil : round.add("\(PostgresRows.select(.subscriptions, s)) WHERE user_id = ANY($1::uuid[])") {
            $0.append(userIDs)
        }
        let membershipsAt = users.isEmpty ? nil : round.add("\(PostgresRows.select(.memberships, s)) WHERE user_id = ANY($1::uuid[])") {
            $0.append(userIDs)
        }
        let teams = plans.filter { $0.value.isTeam }.map { Int64($0.key) }
        let teamsAt = teams.isEmpty ? nil : round.add("\(PostgresRows.select(.teamPlans, s)) WHERE position = ANY($1::int8[])") {
            $0.append(teams)
        }
        let streams = Set(created.keys).union(ids).union(fresh).union(newIDs)
        let streamsAt = streams.isEmpty ? nil : round.add("""
            SELECT stream_id, max(version)::int8, min(position) FILTER (WHERE version = 1)
            FROM \(s).events WHERE stream_id = ANY($1::uuid[])
              OR stream_id IN (SELECT id FROM \(s).memberships WHERE user_id = ANY($2::uuid[]))
              OR stream_id IN (SELECT id FROM \(s).subscriptions WHERE user_id = ANY($2::uuid[]))
            GROUP BY stream_id
            """) {
            $0.append(streams.map(SQLValue.uuid))
            $0.append(userIDs)
        }
        answers = try round.run(session)

        if theirSubscriptionsAt != nil {
            let theirs = try rows(.subscriptions, theirSubscriptionsAt)
            views.know(.subscriptions, theirs, names: [], wholeFor: users.values.map { ($0.id, Relation.subscriptionsOfUser) })
            subscriptions += theirs
            for case (let p, .subscription(let x)) in theirs { created[x.id] = p }
        }
        if membershipsAt != nil {
            let memberships = try rows(.memberships, membershipsAt)
            views.know(.memberships, memberships, names: [], wholeFor: users.values.map { ($0.id, Relation.membershipsOfUser) })
            for case (let p, .membership(let m)) in memberships { created[m.id] = p }
        }
        views.know(.teamPlans, try rows(.teamPlans, teamsAt), names: [], absentAt: plans.filter { !$0.value.isTeam }.map(\.key))
        for (id, p) in created { views.knowCreation(of: id, at: p) }
        guard let streamsAt else { return }
        var versions: [EntityID: UInt32] = [:], creations: [EntityID: UInt64] = [:]
        for r in answers[streamsAt] {
            let id = try r.id(0)
            versions[id] = UInt32(try r.int(1))
            if !r.isNull(2) { creations[id] = UInt64(try r.int(2)) }
        }
        for id in ids.union(fresh).union(newIDs).subtracting(created.keys) { views.knowCreation(of: id, at: creations[id]) }
        txn.knowVersions(streams.union(created.keys), found: versions)
    }

    /// Statements gathered to be sent together (`PostgresSession.pipeline`).
    private struct Round {
        var statements: [(sql: String, binds: SQLBinds)] = []

        /// Adds a statement; returns the index of its answer.
        mutating func add(_ sql: String, _ bind: (inout SQLBinds) -> Void) -> Int {
            var binds = SQLBinds()
            bind(&binds)
            statements.append((sql, binds))
            return statements.count - 1
        }

        func run(_ session: PostgresSession) throws -> [[PostgresRandomAccessRow]] {
            statements.isEmpty ? [] : try session.pipeline(statements)
        }
    }
}
