import Foundation
@testable import Subledger

/// An independent, deliberately naive computation of the metrics of a log, the oracle of the
/// metrics properties: it keeps every plan and subscription it has seen, and after each
/// instant recomputes every user's MRR from scratch (a sum over all active subscriptions), so
/// it shares no incremental bookkeeping with `MetricsLedger`. Periods are walked by calendar
/// arithmetic of Foundation's Gregorian UTC calendar, not by `MetricsPeriod`.
struct MetricsReference {
    struct Sub { var user: EntityID; var plan: EntityID; var active: Bool }
    struct Movement: Equatable, CustomStringConvertible {
        var at: Timestamp, user: EntityID, kind: MovementKind, from: Int64, to: Int64
        var description: String { "\(at) \(user) \(kind) \(from)→\(to)" }
    }

    var plans: [EntityID: (price: Int64, seats: Int64?)] = [:]
    var subs: [EntityID: Sub] = [:]
    var lastMRR: [EntityID: Int64] = [:]
    var everPaid: Set<EntityID> = []
    var movements: [Movement] = []
    let plan: EntityID?

    init(plan: EntityID?) { self.plan = plan }

    func counts(_ p: EntityID) -> Bool { plan == nil || plan == p }

    mutating func apply(_ data: EventData) {
        switch data.upcast {
        case .planCreated(let id, _, let price, let seats): plans[id] = (price, seats)
        case .planDeleted(let id):
            plans[id] = nil
            subs = subs.filter { $0.value.plan != id }
        case .userDeleted(let u): subs = subs.filter { $0.value.user != u }
        case .subscribed(let id, let u, let p): subs[id] = Sub(user: u, plan: p, active: true)
        case .planChanged(let s, _, let to): subs[s]?.plan = to
        case .subscriptionCancelled(let s): subs[s]?.active = false
        default: break
        }
    }

    /// Every user's MRR now, from scratch.
    func mrrByUser() -> [EntityID: Int64] {
        var out: [EntityID: Int64] = [:]
        for s in subs.values where s.active && counts(s.plan) { out[s.user, default: 0] += plans[s.plan]?.price ?? 0 }
        return out
    }

    /// After every event of instant `at`: a movement for each user whose MRR differs.
    mutating func endInstant(_ at: Timestamp) {
        let now = mrrByUser()
        for user in Set(now.keys).union(lastMRR.keys).sorted(by: { $0.description < $1.description }) {
            let before = lastMRR[user] ?? 0, after = now[user] ?? 0
            guard before != after else { continue }
            let kind: MovementKind = before == 0 ? (everPaid.contains(user) ? .reactivation : .new)
                : after == 0 ? .churn : after > before ? .expansion : .contraction
            movements.append(Movement(at: at, user: user, kind: kind, from: before, to: after))
            if after > 0 { everPaid.insert(user) }
        }
        lastMRR = now.filter { $0.value != 0 }
    }

    /// The end-of-period figures of the state now.
    func snapshot() -> (subscribers: Int, paying: Int, active: Int, mrr: Int64, seats: Int64, used: Int64) {
        let active = subs.values.filter { $0.active && counts($0.plan) }
        let mrr = mrrByUser()
        let seats = plans.filter { counts($0.key) }.compactMap(\.value.seats).reduce(0, +)
        let used = Int64(active.filter { plans[$0.plan]?.seats != nil }.count)
        return (Set(active.map(\.user)).count, mrr.values.filter { $0 > 0 }.count, active.count,
                mrr.values.reduce(0, +), seats, used)
    }

    /// The rows for `events` between the periods containing `from` and `to` (as `metrics`
    /// defaults them), and every movement inside them.
    static func compute(_ events: [RecordedEvent], every: MetricsPeriod, from: Timestamp?, to: Timestamp?,
                        plan: EntityID?) -> (rows: [MetricsRow], movements: [Movement]) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2  // ISO weeks start on Monday
        calendar.minimumDaysInFirstWeek = 4
        func date(_ t: Timestamp) -> Date { Date(timeIntervalSince1970: Double(t.microseconds) / 1e6) }
        func stamp(_ d: Date) -> Timestamp { Timestamp(microseconds: Int64((d.timeIntervalSince1970 * 1e6).rounded())) }
        let component: Calendar.Component = every == .day ? .day : every == .week ? .weekOfYear : .month
        func start(_ t: Timestamp) -> Timestamp {
            let interval = calendar.dateInterval(of: component, for: date(t))!
            return stamp(interval.start)
        }
        func next(_ s: Timestamp) -> Timestamp { stamp(calendar.date(byAdding: component, value: 1, to: date(s))!) }

        guard let lo = from ?? events.first?.at ?? to, let hi = to ?? events.last?.at ?? from else { return ([], []) }
        var first = start(lo), last = start(hi)
        if to == nil { last = max(last, first) }
        if from == nil { first = min(first, last) }

        var model = MetricsReference(plan: plan)
        var rows: [MetricsRow] = []
        var periodStart = first
        var i = 0
        var previous: (mrr: Int64, paying: Int)?
        while periodStart <= last {
            let end = next(periodStart)
            // Everything before the period's start (the state it opens with), then its events.
            func run(until limit: Timestamp, recording: Bool) {
                while i < events.count, events[i].at < limit {
                    let at = events[i].at
                    while i < events.count, events[i].at == at {
                        model.apply(events[i].data)
                        i += 1
                    }
                    let before = model.movements.count
                    model.endInstant(at)
                    if !recording { model.movements.removeSubrange(before...) }
                }
            }
            run(until: periodStart, recording: false)
            let opening = model.snapshot()
            let startAt = model.movements.count
            run(until: end, recording: true)
            let inside = model.movements[startAt...]
            func sum(_ k: MovementKind) -> Int64 { inside.filter { $0.kind == k }.map { abs($0.to - $0.from) }.reduce(0, +) }
            let s = model.snapshot()
            rows.append(MetricsRow(periodStart: periodStart, periodEnd: end, subscribers: s.subscribers, payingSubscribers: s.paying,
                                   activeSubscriptions: s.active, mrrCents: s.mrr, teamSeats: s.seats, teamSeatsUsed: s.used,
                                   newMRRCents: sum(.new), reactivationMRRCents: sum(.reactivation),
                                   expansionMRRCents: sum(.expansion), contractionMRRCents: sum(.contraction),
                                   churnMRRCents: sum(.churn),
                                   newPayingSubscribers: inside.filter { $0.kind == .new || $0.kind == .reactivation }.count,
                                   churnedPayingSubscribers: inside.filter { $0.kind == .churn }.count,
                                   openingMRRCents: previous?.mrr ?? opening.mrr, payingSubscribersAtStart: previous?.paying ?? opening.paying))
            previous = (s.mrr, s.paying)
            periodStart = end
        }
        return (rows, model.movements)
    }
}
