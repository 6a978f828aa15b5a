import Foundation
import Testing
@testable import Subledger

/// `Store.metrics`: periods, classification, cascades, bounds, the plan filter, formatting and
/// errors, on small hand-made ledgers whose figures are worked out by hand.
@Suite struct MetricsTests {
    /// A command line of `c` with fields `f` at time `at`.
    func l(_ c: String, _ f: String, at: String) -> String { MetricsTests.line(c, f, at: at) }

    static func t(_ s: String) -> Timestamp { Timestamp(rfc3339: s)! }

    // MARK: Periods

    @Test func periodsAreUTCCalendarDaysISOWeeksAndMonths() {
        let t = MetricsTests.t
        #expect(MetricsPeriod.day.start(containing: t("2026-03-05T23:59:59.999999Z")) == t("2026-03-05T00:00:00Z"))
        #expect(MetricsPeriod.day.start(containing: t("2026-03-06T00:30:00+01:00")) == t("2026-03-05T00:00:00Z"))
        // 2026-03-05 is a Thursday; its ISO week starts on Monday 2026-03-02. A Sunday is the week's last day.
        #expect(MetricsPeriod.week.start(containing: t("2026-03-05T10:00:00Z")) == t("2026-03-02T00:00:00Z"))
        #expect(MetricsPeriod.week.start(containing: t("2026-03-08T23:00:00Z")) == t("2026-03-02T00:00:00Z"))
        #expect(MetricsPeriod.week.start(containing: t("2026-03-09T00:00:00Z")) == t("2026-03-09T00:00:00Z"))
        // A week across a year's end, and one before 1970.
        #expect(MetricsPeriod.week.start(containing: t("2027-01-01T12:00:00Z")) == t("2026-12-28T00:00:00Z"))
        #expect(MetricsPeriod.week.start(containing: t("1969-12-31T12:00:00Z")) == t("1969-12-29T00:00:00Z"))
        #expect(MetricsPeriod.month.start(containing: t("2026-12-31T23:00:00Z")) == t("2026-12-01T00:00:00Z"))
        #expect(MetricsPeriod.month.end(ofPeriodStartingAt: t("2026-12-01T00:00:00Z")) == t("2027-01-01T00:00:00Z"))
        #expect(MetricsPeriod.month.end(ofPeriodStartingAt: t("2028-02-01T00:00:00Z")) == t("2028-03-01T00:00:00Z"))
        #expect(MetricsPeriod.week.end(ofPeriodStartingAt: t("2026-03-02T00:00:00Z")) == t("2026-03-09T00:00:00Z"))
        #expect(MetricsPeriod.day.end(ofPeriodStartingAt: t("2028-02-28T00:00:00Z")) == t("2028-02-29T00:00:00Z"))
    }

    // MARK: Formatting

    @Test func theChurnRateIsPrintedWithAtMostFourDecimals() {
        func text(_ churned: Int, _ paying: Int) -> String? {
            MetricsRow(periodStart: .init(microseconds: 0), periodEnd: .init(microseconds: 1), churnedPayingSubscribers: churned,
                       payingSubscribersAtStart: paying).subscriberChurnRateText
        }
        #expect(text(1, 3) == "0.3333")
        #expect(text(2, 3) == "0.6667")
        #expect(text(0, 5) == "0")
        #expect(text(4, 4) == "1")
        #expect(text(5, 4) == "1.25")
        #expect(text(1, 8) == "0.125")
        #expect(text(1, 20_000) == "0.0001")
        #expect(text(1, 30_000) == "0")
        #expect(text(3, 0) == nil)
    }

    @Test func amountsAreInCurrencyUnitsWithThousandsSeparators() {
        #expect(MetricsRow.amount(0) == "0.00")
        #expect(MetricsRow.amount(5) == "0.05")
        #expect(MetricsRow.amount(123_456) == "1,234.56")
        #expect(MetricsRow.amount(-900) == "-9.00")
        #expect(MetricsRow.amount(100_000_000) == "1,000,000.00")
        #expect(MetricsRow.amount(149, cents: false) == "1")
        #expect(MetricsRow.amount(150, cents: false) == "2")
        #expect(MetricsRow.amount(123_456_789, cents: false) == "1,234,568")
    }

    // MARK: Query errors

    @Test func badOptionsAreErrorsThatNameTheOption() {
        #expect(throws: MetricsError.invalidTime(option: "--from", text: "yesterday")) {
            try MetricsQuery(from: "yesterday", to: nil, every: nil, plan: nil)
        }
        #expect(throws: MetricsError.invalidTime(option: "--to", text: "2026-02-30T00:00:00Z")) {
            try MetricsQuery(from: nil, to: "2026-02-30T00:00:00Z", every: nil, plan: nil)
        }
        #expect(throws: MetricsError.invalidPeriod("quarter")) { try MetricsQuery(from: nil, to: nil, every: "quarter", plan: nil) }
        #expect(throws: MetricsError.fromAfterTo(from: MetricsTests.t("2026-02-01T00:00:00Z"), to: MetricsTests.t("2026-01-01T00:00:00Z"))) {
            try MetricsQuery(from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z", every: nil, plan: nil)
        }
        #expect(throws: MetricsError.unknownPlan("")) { try MetricsQuery(from: nil, to: nil, every: nil, plan: "") }
        #expect(MetricsError.invalidPeriod("quarter").description == #"--every takes day, week or month, not "quarter""#)
        #expect(MetricsError.invalidTime(option: "--to", text: "x").description.hasPrefix("--to takes an RFC 3339 time"))
    }

    @Test func aPlanThatDoesNotExistIsAnError() throws {
        let s = try MetricsTests.store()
        #expect(throws: MetricsError.unknownPlan("nope")) { try s.store.metrics(MetricsQuery(plan: Reference("nope"))) }
        let missing = "00000000-0000-4000-8000-0000000000ff"
        #expect(throws: MetricsError.unknownPlan(missing)) { try s.store.metrics(MetricsQuery(plan: Reference(missing))) }
        // A user's id is not a plan's.
        #expect(throws: MetricsError.unknownPlan(MetricsTests.ann)) { try s.store.metrics(MetricsQuery(plan: Reference(MetricsTests.ann))) }
    }

    @Test func tooManyPeriodsIsAnError() throws {
        let temp = try TempStore()
        let query = MetricsQuery(from: MetricsTests.t("1700-01-01T00:00:00Z"), to: MetricsTests.t("2100-01-01T00:00:00Z"), every: .day)
        #expect(throws: MetricsError.tooManyPeriods(count: 146_098, limit: Store.metricsPeriodLimit)) { try temp.store.metrics(query) }
    }

    // MARK: A ledger worked out by hand

    static let ann = "a0000000-0000-4000-8000-000000000001", bob = "a0000000-0000-4000-8000-000000000002"
    static let cy = "a0000000-0000-4000-8000-000000000003"
    static let basic = "b0000000-0000-4000-8000-000000000001", pro = "b0000000-0000-4000-8000-000000000002"
    static let team = "b0000000-0000-4000-8000-000000000003"

    /// Plans basic 10.00, pro 30.00 and a team plan 50.00 with 2 seats; users ann, bob, cy.
    static func store(_ lines: [String] = []) throws -> TempStore {
        let temp = try TempStore()
        let setup = [
            #"{"command":"CreatePlan","name":"basic","price_cents":1000,"id":"\#(basic)","at":"2026-01-01T00:00:00Z"}"#,
            #"{"command":"CreatePlan","name":"pro","price_cents":3000,"id":"\#(pro)","at":"2026-01-01T00:00:00Z"}"#,
            #"{"command":"CreatePlan","name":"team","price_cents":5000,"seats":2,"id":"\#(team)","at":"2026-01-01T00:00:00Z"}"#,
            #"{"command":"RegisterUser","email":"ann@example.com","id":"\#(ann)","at":"2026-01-01T00:00:00Z"}"#,
            #"{"command":"RegisterUser","email":"bob@example.com","id":"\#(bob)","at":"2026-01-01T00:00:00Z"}"#,
            #"{"command":"RegisterUser","email":"cy@example.com","id":"\#(cy)","at":"2026-01-01T00:00:00Z"}"#,
        ]
        for outcome in try temp.store.execute(batch: (setup + lines).map { CommandDecoder.decode(line: $0) }) {
            #expect(outcome.isApplied, "\(outcome)")
        }
        return temp
    }

    static func line(_ command: String, _ fields: String, at: String) -> String {
        #"{"command":"\#(command)",\#(fields),"at":"\#(at)"}"#
    }

    static func movements(_ temp: TempStore, _ query: MetricsQuery = MetricsQuery()) throws -> [String] {
        var out: [String] = []
        _ = try temp.store.metrics(query) { m in
            let who = [ann: "ann", bob: "bob", cy: "cy"][m.user.description] ?? m.user.description
            out.append("\(m.at.rfc3339.prefix(10)) \(who) \(m.kind) \(m.fromCents)→\(m.toCents)")
        }
        return out
    }

    @Test func eachKindOfMovementIsClassified() throws {
        let temp = try MetricsTests.store([
            l("Subscribe", #""user":"ann@example.com","plan":"basic""#, at: "2026-01-10T00:00:00Z"),
            l("ChangePlan", #""user":"ann@example.com","plan":"basic","to":"pro""#, at: "2026-01-11T00:00:00Z"),
            l("ChangePlan", #""user":"ann@example.com","plan":"pro","to":"basic""#, at: "2026-01-12T00:00:00Z"),
            l("Cancel", #""user":"ann@example.com","plan":"basic""#, at: "2026-01-13T00:00:00Z"),
            l("Subscribe", #""user":"ann@example.com","plan":"pro""#, at: "2026-02-01T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"team""#, at: "2026-02-02T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"basic""#, at: "2026-02-03T00:00:00Z"),
            l("DeletePlan", #""plan":"team""#, at: "2026-02-04T00:00:00Z"),
            l("DeleteUser", #""user":"bob@example.com""#, at: "2026-02-05T00:00:00Z"),
        ])
        #expect(try MetricsTests.movements(temp) == [
            "2026-01-10 ann new 0→1000", "2026-01-11 ann expansion 1000→3000", "2026-01-12 ann contraction 3000→1000",
            "2026-01-13 ann churn 1000→0", "2026-02-01 ann reactivation 0→3000", "2026-02-02 bob new 0→5000",
            "2026-02-03 bob expansion 5000→6000", "2026-02-04 bob contraction 6000→1000", "2026-02-05 bob churn 1000→0",
        ])
        let rows = try temp.store.metrics(MetricsQuery())
        #expect(rows.count == 2)
        let jan = rows[0], feb = rows[1]
        #expect((jan.newMRRCents, jan.expansionMRRCents, jan.contractionMRRCents, jan.churnMRRCents) == (1000, 2000, 2000, 1000))
        #expect((jan.mrrCents, jan.subscribers, jan.payingSubscribers, jan.activeSubscriptions) == (0, 0, 0, 0))
        #expect((jan.newPayingSubscribers, jan.churnedPayingSubscribers, jan.subscriberChurnRate) == (1, 1, nil))
        #expect((feb.openingMRRCents, feb.reactivationMRRCents, feb.newMRRCents, feb.expansionMRRCents) == (0, 3000, 5000, 1000))
        #expect((feb.contractionMRRCents, feb.churnMRRCents, feb.mrrCents, feb.netMRRChangeCents) == (5000, 1000, 3000, 3000))
        // The team plan is gone with its 2 seats.
        #expect((feb.teamSeats, feb.teamSeatsUsed, jan.teamSeats) == (0, 0, 2))
    }

    @Test func eventsAtOneInstantMakeOneMovement() throws {
        let temp = try MetricsTests.store([
            l("Subscribe", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-10T00:00:00Z"),
            // Cancel and subscribe again at once: no movement at all.
            l("Cancel", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-11T00:00:00Z"),
            l("Subscribe", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-11T00:00:00Z"),
            // Cancel and take a cheaper plan at once: a contraction, not a churn and a reactivation.
            l("Cancel", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-12T00:00:00Z"),
            l("Subscribe", #""user":"ann@example.com","plan":"basic""#, at: "2026-01-12T00:00:00Z"),
            // Paying for a moment inside an instant is not paying: bob's later start is new.
            l("Subscribe", #""user":"bob@example.com","plan":"basic""#, at: "2026-01-13T00:00:00Z"),
            l("Cancel", #""user":"bob@example.com","plan":"basic""#, at: "2026-01-13T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"pro""#, at: "2026-01-14T00:00:00Z"),
        ])
        #expect(try MetricsTests.movements(temp) == [
            "2026-01-10 ann new 0→3000", "2026-01-12 ann contraction 3000→1000", "2026-01-14 bob new 0→3000",
        ])
    }

    @Test func aMovementAtAPeriodsFirstInstantBelongsToThatPeriod() throws {
        let temp = try MetricsTests.store([
            l("Subscribe", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-31T23:59:59.999999Z"),
            l("Cancel", #""user":"ann@example.com","plan":"pro""#, at: "2026-02-01T00:00:00Z"),
        ])
        let rows = try temp.store.metrics(MetricsQuery())
        #expect(rows.map(\.periodStart.rfc3339) == ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"])
        #expect(rows.map(\.periodEnd.rfc3339) == ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"])
        #expect((rows[0].newMRRCents, rows[0].mrrCents, rows[0].payingSubscribers) == (3000, 3000, 1))
        #expect((rows[1].churnMRRCents, rows[1].mrrCents, rows[1].subscriberChurnRate) == (3000, 0, 1.0))
    }

    @Test func boundsChooseThePeriodsContainingThem() throws {
        let temp = try MetricsTests.store([
            l("Subscribe", #""user":"ann@example.com","plan":"pro""#, at: "2026-01-10T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"basic""#, at: "2026-03-10T00:00:00Z"),
            l("Cancel", #""user":"ann@example.com","plan":"pro""#, at: "2026-04-10T00:00:00Z"),
        ])
        let t = MetricsTests.t
        func starts(_ q: MetricsQuery) throws -> [String] { try temp.store.metrics(q).map { String($0.periodStart.rfc3339.prefix(10)) } }
        #expect(try starts(MetricsQuery()) == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"])
        #expect(try starts(MetricsQuery(from: t("2026-02-15T00:00:00Z"))) == ["2026-02-01", "2026-03-01", "2026-04-01"])
        #expect(try starts(MetricsQuery(to: t("2026-02-01T00:00:00Z"))) == ["2026-01-01", "2026-02-01"])
        #expect(try starts(MetricsQuery(from: t("2026-06-15T00:00:00Z"))) == ["2026-06-01"])
        #expect(try starts(MetricsQuery(to: t("2025-11-15T00:00:00Z"))) == ["2025-11-01"])
        #expect(try starts(MetricsQuery(from: t("2026-03-01T01:00:00+02:00"), to: t("2026-03-03T00:00:00Z"), every: .day))
                == ["2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03"])
        // A first row after earlier movements opens with their MRR; the bridge holds from there.
        let march = try temp.store.metrics(MetricsQuery(from: t("2026-03-05T00:00:00Z"), to: t("2026-03-05T00:00:00Z")))
        #expect(march.count == 1)
        #expect((march[0].openingMRRCents, march[0].newMRRCents, march[0].mrrCents, march[0].payingSubscribersAtStart) == (3000, 1000, 4000, 1))
        // An empty log: no rows without bounds, zero rows with them.
        let empty = try TempStore()
        #expect(try empty.store.metrics(MetricsQuery()).isEmpty)
        let zeros = try empty.store.metrics(MetricsQuery(from: t("2026-01-01T00:00:00Z"), to: t("2026-02-01T00:00:00Z")))
        #expect(zeros.count == 2 && zeros.allSatisfy { $0.mrrCents == 0 && $0.subscriberChurnRate == nil })
    }

    @Test func aPlanFilterCountsThatPlansSubscriptionsOnly() throws {
        let temp = try MetricsTests.store([
            l("Subscribe", #""user":"ann@example.com","plan":"basic""#, at: "2026-01-10T00:00:00Z"),
            l("ChangePlan", #""user":"ann@example.com","plan":"basic","to":"pro""#, at: "2026-01-11T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"pro""#, at: "2026-01-12T00:00:00Z"),
            l("Subscribe", #""user":"bob@example.com","plan":"team""#, at: "2026-01-13T00:00:00Z"),
            l("ChangePlan", #""user":"ann@example.com","plan":"pro","to":"basic""#, at: "2026-01-14T00:00:00Z"),
            l("DeletePlan", #""plan":"team""#, at: "2026-01-15T00:00:00Z"),
        ])
        #expect(try MetricsTests.movements(temp, MetricsQuery(plan: Reference("pro"))) == [
            "2026-01-11 ann new 0→3000", "2026-01-12 bob new 0→3000", "2026-01-14 ann churn 3000→0",
        ])
        #expect(try MetricsTests.movements(temp, MetricsQuery(plan: Reference(MetricsTests.basic))) == [
            "2026-01-10 ann new 0→1000", "2026-01-11 ann churn 1000→0", "2026-01-14 ann reactivation 0→1000",
        ])
        // A deleted plan, by id: its seats while it lived, and the churn of its cascade.
        let team = try temp.store.metrics(MetricsQuery(every: .day, plan: Reference(MetricsTests.team)))
        #expect(team.map(\.teamSeats) == Array(repeating: 2, count: 14) + [0])
        #expect(team.last!.churnMRRCents == 5000 && team.last!.mrrCents == 0)
        #expect(try temp.store.metrics(MetricsQuery(plan: Reference("pro")))[0].subscribers == 1)
    }

    /// Prices near `Int64.max` cents are valid commands; their sums are refused, not trapped on.
    @Test func pricesThatAddUpPastInt64AreAnErrorNotACrash() throws {
        let temp = try MetricsTests.store([
            l("CreatePlan", #""name":"huge","price_cents":9223372036854775807"#, at: "2026-01-02T00:00:00Z"),
            l("Subscribe", #""user":"ann@example.com","plan":"huge""#, at: "2026-01-03T00:00:00Z"),
        ])
        // One such subscription fits, and so does its chart.
        let rows = try temp.store.metrics(MetricsQuery())
        #expect(rows[0].mrrCents == .max && rows[0].newMRRCents == .max)
        #expect(MetricsChart.svg(rows, every: .month, title: "t").contains("class=\"point\""))
        _ = try temp.run(l("Subscribe", #""user":"bob@example.com","plan":"huge""#, at: "2026-01-04T00:00:00Z"))
        #expect(throws: MetricsError.amountTooLarge) { try temp.store.metrics(MetricsQuery()) }
        #expect(throws: MetricsError.amountTooLarge) { try temp.store.metrics(MetricsQuery(plan: Reference("huge"))) }
        // Without the plan that overflows, the rest is fine.
        #expect(try temp.store.metrics(MetricsQuery(plan: Reference("pro")))[0].mrrCents == 0)
    }

    /// What the fold keeps follows the live entities: cancelled subscriptions, deleted plans and
    /// users, and users with nothing to remember are dropped.
    @Test func theLedgerHoldsLiveEntitiesOnly() throws {
        var ledger = MetricsLedger(planFilter: nil)
        let plan = EntityID(MetricsTests.pro)!, free = EntityID(MetricsTests.basic)!
        ledger.apply(.planCreated(id: plan, name: "pro", priceCents: 3000, seats: nil))
        ledger.apply(.planCreated(id: free, name: "free", priceCents: 0, seats: nil))
        var t: Int64 = 0
        for i in 0..<1000 {
            let user = EntityID(high: 1, low: UInt64(i)), sub = EntityID(high: 2, low: UInt64(i))
            ledger.apply(.subscribed(id: sub, user: user, plan: i % 2 == 0 ? plan : free))
            t += 1
            ledger.endInstant(at: Timestamp(microseconds: t)) { _ in }
            ledger.apply(.subscriptionCancelled(subscription: sub))
            t += 1
            ledger.endInstant(at: Timestamp(microseconds: t)) { _ in }
            if i % 4 == 0 { ledger.apply(.userDeleted(user: user)) }
            t += 1
            ledger.endInstant(at: Timestamp(microseconds: t)) { _ in }
        }
        #expect(ledger.liveCounts.subscriptions == 0)
        // Only the payers who were not deleted are remembered (for reactivation): 250 of them.
        #expect(ledger.liveCounts.users == 250)
        ledger.apply(.planDeleted(plan: plan))
        #expect(ledger.liveCounts.plans == 1)
        #expect(ledger.mrrCents == 0 && ledger.subscribers == 0 && ledger.payingSubscribers == 0)
    }
}
