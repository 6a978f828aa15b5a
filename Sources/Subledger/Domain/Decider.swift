/// The domain rules: a pure function of (current views, command) → one event or a rejection.
///
/// It reads the views through `ViewState`, so the same rules run on any storage of the fold.
struct Decider {
    let state: any ViewState
    /// Makes the id of a created entity when the command names none.
    var newID: () -> EntityID

    init(state: any ViewState, newID: @escaping () -> EntityID) {
        self.state = state
        self.newID = newID
        references = References(state: state)
    }

    private let references: References

    func decide(_ command: Command) throws -> Result<EventData, Rejection> {
        do { return .success(try decideThrowing(command)) } catch let r as Rejection { return .failure(r) }
    }

    private func decideThrowing(_ command: Command) throws -> EventData {
        switch command {
        case .registerUser(let email, let fullName, let id):
            let id = try fresh(id)
            if try state.position(of: .email(email)) != nil { throw Rejection.emailTaken(email) }
            return .userRegistered(id: id, email: email, fullName: fullName)
        case .renameUser(let user, let fullName):
            return .userRenamed(user: try references.user(user).row.id, fullName: fullName)
        case .recordLogin(let user):
            return .userLoggedIn(user: try references.user(user).row.id)
        case .deleteUser(let user):
            return .userDeleted(user: try references.user(user).row.id)
        case .createPlan(let name, let price, let seats, let id):
            let id = try fresh(id)
            if try state.position(of: .planName(name)) != nil { throw Rejection.planNameTaken(name) }
            return .planCreated(id: id, name: name, priceCents: price, seats: seats)
        case .deletePlan(let plan):
            return .planDeleted(plan: try references.plan(plan).row.id)
        case .createGroup(let name, let id):
            let id = try fresh(id)
            if try state.position(of: .groupName(name)) != nil { throw Rejection.groupNameTaken(name) }
            return .groupCreated(id: id, name: name)
        case .deleteGroup(let group):
            return .groupDeleted(group: try references.group(group).row.id)
        case .subscribe(let userRef, let planRef, let id):
            let user = try references.user(userRef).row, plan = try references.plan(planRef)
            let id = try fresh(id)
            if try state.activeSubscription(user: user.id, plan: plan.row.id) != nil {
                throw Rejection.alreadySubscribed(user: user.id, plan: plan.row.id)
            }
            try checkSeat(plan)
            return .subscribed(id: id, user: user.id, plan: plan.row.id)
        case .changePlan(let reference, let toRef):
            // Every reference must exist before any state rule is looked at.
            let target = try subscriptionTarget(reference)
            let to = try references.plan(toRef)
            let subscription = try active(target)
            if to.row.id == subscription.plan { throw Rejection.samePlan }
            if try state.activeSubscription(user: subscription.user, plan: to.row.id) != nil {
                throw Rejection.alreadySubscribed(user: subscription.user, plan: to.row.id)
            }
            try checkSeat(to)
            return .planChanged(subscription: subscription.id, from: subscription.plan, to: to.row.id)
        case .cancel(let reference):
            return .subscriptionCancelled(subscription: try active(subscriptionTarget(reference)).id)
        case .joinGroup(let userRef, let groupRef, let id):
            let user = try references.user(userRef).row, group = try references.group(groupRef).row
            let id = try fresh(id)
            if try state.membership(user: user.id, group: group.id) != nil {
                throw Rejection.alreadyMember(user: user.id, group: group.id)
            }
            return .memberJoined(id: id, user: user.id, group: group.id)
        case .leaveGroup(let userRef, let groupRef):
            let user = try references.user(userRef).row, group = try references.group(groupRef).row
            guard let mp = try state.membership(user: user.id, group: group.id) else {
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

    private enum SubscriptionTarget {
        case row(SubscriptionRow)
        case userPlan(user: EntityID, plan: EntityID)
    }

    /// What a `ChangePlan` or `Cancel` names, with its references resolved.
    private func subscriptionTarget(_ ref: SubscriptionReference) throws -> SubscriptionTarget {
        switch ref {
        case .id(let id):
            return .row(try references.subscription(id).row)
        case .userPlan(let userRef, let planRef):
            return .userPlan(user: try references.user(userRef).row.id, plan: try references.plan(planRef).row.id)
        }
    }

    /// The named subscription, which must be active.
    private func active(_ target: SubscriptionTarget) throws -> SubscriptionRow {
        switch target {
        case .row(let row):
            guard row.isActive else { throw Rejection.subscriptionNotActive(row.id.description) }
            return row
        case .userPlan(let user, let plan):
            guard let sp = try state.activeSubscription(user: user, plan: plan),
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
