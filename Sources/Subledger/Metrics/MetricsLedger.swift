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
        /// Its active subscriptions (counted or not).
        var active = 0
    }

    struct User {
        let id: EntityID
        var mrrCents: Int64 = 0
        /// Active subscriptions that count.
        var active = 0
        var everPaid = false
        var deleted = false
        /// Whether the current instant touched it, and its MRR before that instant.
        var touched = false
        var mrrBeforeInstant: Int64 = 0
        /// Every active subscription, counted or not, which a `DeleteUser` takes with it.
        var subscriptions: [EntityID] = []

        init(id: EntityID) { self.id = id }
    }

    /// An active subscription: the slots of its user and plan.
    struct Subscription {
        var user: Int
        var plan: Int
    }

    // Hashing ids is most of this fold's cost, so users and plans live in arrays of slots, found
    // by id once (at a subscribe, a plan change's target, a delete); an active subscription
    // holds its user's and plan's slots, so a cancel and the end of an instant hash nothing
    // but the subscription's id. Freed slots are reused: the arrays follow the live entities.

    /// nil: every plan counts.
    let planFilter: EntityID?
    private var planSlots: [EntityID: Int] = [:]
    private var plans: [Plan] = []
    private var freePlans: [Int] = []
    private var userSlots: [EntityID: Int] = [:]
    private var users: [User] = []
    private var freeUsers: [Int] = []
    /// Active subscriptions only.
    private var subscriptions: [EntityID: Subscription] = [:]
    /// Slots of the users touched in the current instant, in the order first touched.
    private var touched: [Int] = []

    private(set) var mrrCents: Int64 = 0
    private(set) var subscribers = 0
    private(set) var payingSubscribers = 0
    private(set) var activeSubscriptions = 0
    private(set) var teamSeats: Int64 = 0
    private(set) var teamSeatsUsed: Int64 = 0
    /// Whether a sum of cents or seats went past `Int64.max` (absurd prices): no figure is right then.
    private(set) var overflowed = false

    init(planFilter: EntityID?) { self.planFilter = planFilter }

    /// What the fold holds: live plans, users it remembers, active subscriptions.
    var liveCounts: (plans: Int, users: Int, subscriptions: Int) { (planSlots.count, userSlots.count, subscriptions.count) }
    var touchedAny: Bool { !touched.isEmpty }

    /// Whether `apply` does anything with events of this type.
    static func reads(_ type: EventType) -> Bool {
        switch type {
        case .planCreated, .planDeleted, .subscribed, .planChanged, .subscriptionCancelled, .userDeleted: true
        default: false
        }
    }

    mutating func apply(_ data: EventData) {
        switch data {
        case .planCreated(let id, _, let price, let seats):
            let counted = planFilter.map { $0 == id } ?? true
            let plan = Plan(priceCents: price, seats: seats, counted: counted)
            if let slot = freePlans.popLast() { plans[slot] = plan; planSlots[id] = slot } else {
                planSlots[id] = plans.count
                plans.append(plan)
            }
            if counted, let seats { teamSeats = sum(teamSeats, seats, &overflowed) }
        case .planDeleted(let id):
            guard let slot = planSlots.removeValue(forKey: id) else { return }
            // Plans are deleted rarely: their subscriptions are found by a walk of the active ones
            // rather than by an index that every subscribe and cancel would pay for.
            if plans[slot].active > 0 {
                for (sub, s) in subscriptions where s.plan == slot { end(sub, s) }
            }
            if plans[slot].counted, let seats = plans[slot].seats { teamSeats = sum(teamSeats, -seats, &overflowed) }
            freePlans.append(slot)
        case .subscribed(let id, let user, let plan):
            guard let p = planSlots[plan] else { return }
            let u: Int
            if let slot = userSlots[user] { u = slot } else if let slot = freeUsers.popLast() {
                users[slot] = User(id: user)
                userSlots[user] = slot
                u = slot
            } else {
                u = users.count
                users.append(User(id: user))
                userSlots[user] = u
            }
            subscriptions[id] = Subscription(user: u, plan: p)
            users[u].subscriptions.append(id)
            count(user: u, plan: p, 1)
        case .planChanged(let sub, _, let to):
            guard let p = planSlots[to], let s = subscriptions[sub] else { return }
            count(user: s.user, plan: s.plan, -1)
            subscriptions[sub]!.plan = p
            count(user: s.user, plan: p, 1)
        case .subscriptionCancelled(let sub):
            guard let s = subscriptions[sub] else { return }
            end(sub, s)
        case .userDeleted(let id):
            guard let u = userSlots[id] else { return }
            for sub in users[u].subscriptions {
                if let s = subscriptions.removeValue(forKey: sub) { count(user: u, plan: s.plan, -1) }
            }
            users[u].subscriptions = []
            users[u].deleted = true
            touch(u)
        default:
            break
        }
    }

    /// A subscription stops being active: cancelled, or removed by a cascade.
    private mutating func end(_ sub: EntityID, _ s: Subscription) {
        subscriptions[sub] = nil
        count(user: s.user, plan: s.plan, -1)
        if let i = users[s.user].subscriptions.firstIndex(of: sub) { users[s.user].subscriptions.remove(at: i) }
    }

    /// Adds (`sign` 1) or takes away (-1) an active subscription of a user on a plan (slots).
    private mutating func count(user u: Int, plan p: Int, _ sign: Int) {
        plans[p].active += sign
        guard plans[p].counted else { return }
        touch(u)
        let price = plans[p].priceCents * Int64(sign)
        let was = users[u].active > 0
        users[u].active += sign
        users[u].mrrCents = sum(users[u].mrrCents, price, &overflowed)
        if was != (users[u].active > 0) { subscribers += sign }
        mrrCents = sum(mrrCents, price, &overflowed)
        activeSubscriptions += sign
        if plans[p].seats != nil { teamSeatsUsed += Int64(sign) }
    }

    /// Notes a user's MRR before the instant's first change to it.
    private mutating func touch(_ u: Int) {
        guard !users[u].touched else { return }
        users[u].touched = true
        users[u].mrrBeforeInstant = users[u].mrrCents
        touched.append(u)
    }

    /// Ends the instant `at`: each touched user whose MRR differs from before it makes one
    /// movement, given to `movement`; the users deleted in it are dropped.
    mutating func endInstant(at: Timestamp, _ movement: (MRRMovement) -> Void) {
        guard !touched.isEmpty else { return }
        for u in touched where overflowed {
            users[u].touched = false  // the figures are past repair: the report is refused
        }
        if overflowed { touched.removeAll(keepingCapacity: true) }
        for u in touched {
            let before = users[u].mrrBeforeInstant, after = users[u].mrrCents
            users[u].touched = false
            if after != before {
                movement(MRRMovement(at: at, user: users[u].id,
                                     kind: MovementKind.of(before: before, after: after, everPaid: users[u].everPaid),
                                     fromCents: before, toCents: after))
                if (before > 0) != (after > 0) { payingSubscribers += after > 0 ? 1 : -1 }
                if after > 0 { users[u].everPaid = true }
            }
            // A user with nothing active and no paid past has nothing metrics need to remember.
            if users[u].deleted || (users[u].subscriptions.isEmpty && !users[u].everPaid) {
                userSlots[users[u].id] = nil
                users[u].subscriptions = []
                freeUsers.append(u)
            }
        }
        touched.removeAll(keepingCapacity: true)
    }
}

/// `a + b`, noting an overflow in `overflowed` rather than trapping.
@inline(__always)
func sum(_ a: Int64, _ b: Int64, _ overflowed: inout Bool) -> Int64 {
    let (value, overflow) = a.addingReportingOverflow(b)
    if overflow { overflowed = true }
    return value
}
