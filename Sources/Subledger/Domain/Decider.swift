/// The domain rules: a pure function of (current views, command) → one event or a rejection.
///
/// It reads the views through `ViewReading`, so the same rules run on the store and on any
/// other storage of the same fold.
struct Decider {
    let state: any ViewReading
    /// Makes the id of a created entity when the command names none.
    var newID: () -> EntityID

    func decide(_ command: Command) throws -> Result<EventData, Rejection> {
        do { return .success(try decideThrowing(command)) } catch let r as Rejection { return .failure(r) }
    }

    private func decideThrowing(_ command: Command) throws -> EventData {
        switch command {
        case .registerUser(let email, let fullName, let id):
            let id = try fresh(id)
            if try state.get(.usersByEmail, Keys.natural(email.emailKey)) != nil { throw Rejection.emailTaken(email) }
            return .userRegistered(id: id, email: email, fullName: fullName)
        case .renameUser(let user, let fullName):
            return .userRenamed(user: try self.user(user).id, fullName: fullName)
        case .recordLogin(let user):
            return .userLoggedIn(user: try self.user(user).id)
        case .deleteUser(let user):
            return .userDeleted(user: try self.user(user).id)
        case .createPlan(let name, let price, let seats, let id):
            let id = try fresh(id)
            if try state.get(.plansByName, Keys.natural(name)) != nil { throw Rejection.planNameTaken(name) }
            return .planCreated(id: id, name: name, priceCents: price, seats: seats)
        case .deletePlan(let plan):
            return .planDeleted(plan: try self.plan(plan).row.id)
        case .createGroup(let name, let id):
            let id = try fresh(id)
            if try state.get(.groupsByName, Keys.natural(name)) != nil { throw Rejection.groupNameTaken(name) }
            return .groupCreated(id: id, name: name)
        case .deleteGroup(let group):
            return .groupDeleted(group: try self.group(group).id)
        case .subscribe(let userRef, let planRef, let id):
            let user = try self.user(userRef), plan = try self.plan(planRef)
            let id = try fresh(id)
            if try activeSubscription(user: user.id, plan: plan.row.id) != nil {
                throw Rejection.alreadySubscribed(user: user.id, plan: plan.row.id)
            }
            try checkSeat(plan)
            return .subscribed(id: id, user: user.id, plan: plan.row.id)
        case .changePlan(let reference, let toRef):
            // Every reference must exist before any state rule is looked at.
            let target = try subscriptionTarget(reference)
            let to = try self.plan(toRef)
            let subscription = try active(target)
            if to.row.id == subscription.plan { throw Rejection.samePlan }
            if try activeSubscription(user: subscription.user, plan: to.row.id) != nil {
                throw Rejection.alreadySubscribed(user: subscription.user, plan: to.row.id)
            }
            try checkSeat(to)
            return .planChanged(subscription: subscription.id, from: subscription.plan, to: to.row.id)
        case .cancel(let reference):
            return .subscriptionCancelled(subscription: try active(subscriptionTarget(reference)).id)
        case .joinGroup(let userRef, let groupRef, let id):
            let user = try self.user(userRef), group = try self.group(groupRef)
            let id = try fresh(id)
            if try state.get(.membershipsByUser, Keys.ids(user.id, group.id)) != nil {
                throw Rejection.alreadyMember(user: user.id, group: group.id)
            }
            return .memberJoined(id: id, user: user.id, group: group.id)
        case .leaveGroup(let userRef, let groupRef):
            let user = try self.user(userRef), group = try self.group(groupRef)
            guard let mp = try state.position(.membershipsByUser, Keys.ids(user.id, group.id)) else {
                throw Rejection.notAMember(user: user.id, group: group.id)
            }
            guard let membership = try state.row(MembershipRow.self, .memberships, at: mp) else {
                throw Rejection.notAMember(user: user.id, group: group.id)
            }
            return .memberLeft(membership: membership.id, user: user.id, group: group.id)
        }
    }

    /// The given id if no entity ever had it, else a new one.
    private func fresh(_ id: EntityID?) throws -> EntityID {
        guard let id else {
            var generated = newID()
            while try state.creationPosition(of: generated) != nil { generated = newID() }
            return generated
        }
        if try state.creationPosition(of: id) != nil { throw Rejection.idTaken(id) }
        return id
    }

    private func user(_ ref: Reference) throws -> UserRow {
        switch ref {
        case .id(let id):
            guard let (_, row) = try state.row(UserRow.self, .users, id: id) else { throw Rejection.unknownUser(ref.description) }
            return row
        case .key(let email):
            guard let p = try state.position(.usersByEmail, Keys.natural(email.emailKey)),
                  let row = try state.row(UserRow.self, .users, at: p) else { throw Rejection.unknownUser(email) }
            return row
        }
    }

    private func plan(_ ref: Reference) throws -> (position: UInt64, row: PlanRow) {
        switch ref {
        case .id(let id):
            guard let found = try state.row(PlanRow.self, .plans, id: id) else { throw Rejection.unknownPlan(ref.description) }
            return found
        case .key(let name):
            guard let p = try state.position(.plansByName, Keys.natural(name)),
                  let row = try state.row(PlanRow.self, .plans, at: p) else { throw Rejection.unknownPlan(name) }
            return (p, row)
        }
    }

    private func group(_ ref: Reference) throws -> GroupRow {
        switch ref {
        case .id(let id):
            guard let (_, row) = try state.row(GroupRow.self, .groups, id: id) else { throw Rejection.unknownGroup(ref.description) }
            return row
        case .key(let name):
            guard let p = try state.position(.groupsByName, Keys.natural(name)),
                  let row = try state.row(GroupRow.self, .groups, at: p) else { throw Rejection.unknownGroup(name) }
            return row
        }
    }

    /// The user's active subscription on the plan, if any.
    private func activeSubscription(user: EntityID, plan: EntityID) throws -> UInt64? {
        for entry in try state.scan(.subscriptionsByUser, prefix: Keys.ids(user, plan)) where entry.value == [1] {
            return Keys.readPosition(entry.key, at: 32)
        }
        return nil
    }

    private enum SubscriptionTarget {
        case row(SubscriptionRow)
        case userPlan(user: EntityID, plan: EntityID)
    }

    /// What a `ChangePlan` or `Cancel` names, with its references resolved.
    private func subscriptionTarget(_ ref: SubscriptionReference) throws -> SubscriptionTarget {
        switch ref {
        case .id(let id):
            guard let (_, row) = try state.row(SubscriptionRow.self, .subscriptions, id: id) else {
                throw Rejection.unknownSubscription(id.description)
            }
            return .row(row)
        case .userPlan(let userRef, let planRef):
            return .userPlan(user: try self.user(userRef).id, plan: try self.plan(planRef).row.id)
        }
    }

    /// The named subscription, which must be active.
    private func active(_ target: SubscriptionTarget) throws -> SubscriptionRow {
        switch target {
        case .row(let row):
            guard row.isActive else { throw Rejection.subscriptionNotActive(row.id.description) }
            return row
        case .userPlan(let user, let plan):
            guard let sp = try activeSubscription(user: user, plan: plan),
                  let row = try state.row(SubscriptionRow.self, .subscriptions, at: sp) else {
                throw Rejection.subscriptionNotActive("of user \(user) on plan \(plan)")
            }
            return row
        }
    }

    private func checkSeat(_ plan: (position: UInt64, row: PlanRow)) throws {
        guard plan.row.isTeam, let team = try state.row(TeamPlanRow.self, .teamPlans, at: plan.position) else { return }
        if team.seatsUsed >= team.seats { throw Rejection.teamPlanFull(plan: plan.row.id, seats: team.seats) }
    }
}
