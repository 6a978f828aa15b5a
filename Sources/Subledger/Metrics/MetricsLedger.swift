/// The ledger as `metrics` sees it, folded event by event: the live plans, the active
/// subscriptions and each subscribed user's MRR, with the totals kept up to date. It holds
/// live entities only (a deleted plan or user, a cancelled subscription is dropped), so its
/// memory follows what is live, not the length of the log.
///
/// MRR changes are classified per instant: `endInstant` compares each user touched since the
/// last call with what it had before, so several events at one `at` make one movement.
struct MetricsLedger {
    struct Plan {
        var priceCents: Int64
        var seats: Int64?
        /// Whether its subscriptions count (every plan, or the one `--plan` names).
        var counted: Bool
        /// Its active subscriptions, which a `DeletePlan` takes with it.
        var active: Set<EntityID> = []
    }

    struct User {
        var mrrCents: Int64 = 0
        /// Active subscriptions that count.
        var active = 0
        var everPaid = false
        var deleted = false
        /// Every active subscription, counted or not, which a `DeleteUser` takes with it.
        var subscriptions: [EntityID] = []
    }

    /// nil: every plan counts.
    let planFilter: EntityID?
    private(set) var plans: [EntityID: Plan] = [:]
    /// Active subscriptions only: user and plan.
    private(set) var subscriptions: [EntityID: (user: EntityID, plan: EntityID)] = [:]
    private(set) var users: [EntityID: User] = [:]
    /// Users touched in the current instant, in the order first touched, with their MRR before it.
    private var touched: [(user: EntityID, before: Int64)] = []
    private var touchedSet: Set<EntityID> = []

    private(set) var mrrCents: Int64 = 0
    private(set) var subscribers = 0
    private(set) var payingSubscribers = 0
    private(set) var activeSubscriptions = 0
    private(set) var teamSeats: Int64 = 0
    private(set) var teamSeatsUsed: Int64 = 0

    init(planFilter: EntityID?) { self.planFilter = planFilter }

    mutating func apply(_ data: EventData) {
        switch data {
        case .planCreated(let id, _, let price, let seats):
            let counted = planFilter.map { $0 == id } ?? true
            plans[id] = Plan(priceCents: price, seats: seats, counted: counted)
            if counted, let seats { teamSeats += seats }
        case .planDeleted(let id):
            guard let plan = plans[id] else { return }
            for sub in plan.active { end(sub) }
            plans[id] = nil
            if plan.counted, let seats = plan.seats { teamSeats -= seats }
        case .subscribed(let id, let user, let plan):
            guard plans[plan] != nil else { return }
            subscriptions[id] = (user, plan)
            plans[plan]!.active.insert(id)
            users[user, default: User()].subscriptions.append(id)
            count(user: user, plan: plan, 1)
        case .planChanged(let sub, let from, let to):
            guard let s = subscriptions[sub], plans[to] != nil else { return }
            count(user: s.user, plan: from, -1)
            plans[from]?.active.remove(sub)
            plans[to]!.active.insert(sub)
            subscriptions[sub] = (s.user, to)
            count(user: s.user, plan: to, 1)
        case .subscriptionCancelled(let sub):
            end(sub)
        case .userDeleted(let id):
            guard let user = users[id] else { return }
            touch(id)
            for sub in user.subscriptions { end(sub) }
            users[id]!.deleted = true
        default:
            break
        }
    }

    /// A subscription stops being active: cancelled, or removed by a cascade.
    private mutating func end(_ sub: EntityID) {
        guard let s = subscriptions.removeValue(forKey: sub) else { return }
        count(user: s.user, plan: s.plan, -1)
        plans[s.plan]?.active.remove(sub)
        if let i = users[s.user]?.subscriptions.firstIndex(of: sub) { users[s.user]!.subscriptions.remove(at: i) }
    }

    /// Adds (`sign` 1) or takes away (-1) an active subscription of `user` on `plan`, when the plan counts.
    private mutating func count(user: EntityID, plan: EntityID, _ sign: Int) {
        guard let p = plans[plan], p.counted else { return }
        touch(user)
        let price = p.priceCents * Int64(sign)
        let wasSubscriber = users[user]!.active > 0
        users[user]!.active += sign
        users[user]!.mrrCents += price
        if wasSubscriber != (users[user]!.active > 0) { subscribers += sign }
        mrrCents += price
        activeSubscriptions += sign
        if p.seats != nil { teamSeatsUsed += Int64(sign) }
    }

    private mutating func touch(_ user: EntityID) {
        guard touchedSet.insert(user).inserted else { return }
        touched.append((user, users[user]?.mrrCents ?? 0))
    }

    /// Ends the instant `at`: each touched user whose MRR differs from before it makes one
    /// movement, given to `movement`; the users deleted in it are dropped.
    mutating func endInstant(at: Timestamp, _ movement: (MRRMovement) -> Void) {
        guard !touched.isEmpty else { return }
        for (id, before) in touched {
            guard var user = users[id] else { continue }
            let after = user.mrrCents
            if after != before {
                movement(MRRMovement(at: at, user: id, kind: MovementKind.of(before: before, after: after, everPaid: user.everPaid),
                                     fromCents: before, toCents: after))
                if (before > 0) != (after > 0) { payingSubscribers += after > 0 ? 1 : -1 }
                if after > 0 { user.everPaid = true }
            }
            // A user with nothing active and no paid past has nothing metrics need to remember.
            if user.deleted || (user.subscriptions.isEmpty && !user.everPaid) { users[id] = nil } else { users[id] = user }
        }
        touched.removeAll(keepingCapacity: true)
        touchedSet.removeAll(keepingCapacity: true)
    }
}
