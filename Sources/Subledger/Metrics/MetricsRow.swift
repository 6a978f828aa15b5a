/// One period of `metrics`: the ledger at the period's end, and the movements of MRR during it.
///
/// The bridge holds in every row: `openingMRRCents + newMRRCents + reactivationMRRCents +
/// expansionMRRCents - contractionMRRCents - churnMRRCents == mrrCents`, where
/// `openingMRRCents` is the previous row's `mrrCents` (for the first row, the MRR at its start).
public struct MetricsRow: Equatable, Sendable {
    /// The period's first instant (UTC midnight).
    public var periodStart: Timestamp
    /// The next period's first instant: the period holds the instants before it.
    public var periodEnd: Timestamp

    /// Users with at least one active subscription at the end.
    public var subscribers: Int
    /// Users whose MRR is above 0 at the end.
    public var payingSubscribers: Int
    public var activeSubscriptions: Int
    /// The sum of every user's MRR at the end.
    public var mrrCents: Int64
    /// The seats of the team plans that exist at the end, and their active subscriptions.
    public var teamSeats: Int64
    public var teamSeatsUsed: Int64

    /// Movements during the period, summed by kind; each is 0 or more.
    public var newMRRCents: Int64
    public var reactivationMRRCents: Int64
    public var expansionMRRCents: Int64
    public var contractionMRRCents: Int64
    public var churnMRRCents: Int64

    /// Changes of a user's MRR from 0 to above 0 (new and reactivation movements), and to 0 (churn).
    public var newPayingSubscribers: Int
    public var churnedPayingSubscribers: Int

    /// The MRR and the paying subscribers at the period's start (not printed: the previous
    /// row's figures, or what the first row starts from).
    public var openingMRRCents: Int64
    public var payingSubscribersAtStart: Int

    public init(periodStart: Timestamp, periodEnd: Timestamp, subscribers: Int = 0, payingSubscribers: Int = 0,
                activeSubscriptions: Int = 0, mrrCents: Int64 = 0, teamSeats: Int64 = 0, teamSeatsUsed: Int64 = 0,
                newMRRCents: Int64 = 0, reactivationMRRCents: Int64 = 0, expansionMRRCents: Int64 = 0,
                contractionMRRCents: Int64 = 0, churnMRRCents: Int64 = 0, newPayingSubscribers: Int = 0,
                churnedPayingSubscribers: Int = 0, openingMRRCents: Int64 = 0, payingSubscribersAtStart: Int = 0) {
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.subscribers = subscribers
        self.payingSubscribers = payingSubscribers
        self.activeSubscriptions = activeSubscriptions
        self.mrrCents = mrrCents
        self.teamSeats = teamSeats
        self.teamSeatsUsed = teamSeatsUsed
        self.newMRRCents = newMRRCents
        self.reactivationMRRCents = reactivationMRRCents
        self.expansionMRRCents = expansionMRRCents
        self.contractionMRRCents = contractionMRRCents
        self.churnMRRCents = churnMRRCents
        self.newPayingSubscribers = newPayingSubscribers
        self.churnedPayingSubscribers = churnedPayingSubscribers
        self.openingMRRCents = openingMRRCents
        self.payingSubscribersAtStart = payingSubscribersAtStart
    }

    /// MRR gained minus MRR lost during the period: `mrrCents - openingMRRCents` (the bridge).
    public var netMRRChangeCents: Int64 { mrrCents - openingMRRCents }

    /// Churned paying subscribers over those paying at the start; nil when none paid then. It
    /// may exceed 1 when users who started paying during the period also churned in it.
    public var subscriberChurnRate: Double? {
        payingSubscribersAtStart > 0 ? Double(churnedPayingSubscribers) / Double(payingSubscribersAtStart) : nil
    }

    /// The rate as printed: at most 4 decimals, no trailing zeros (`0.25`, `0.3333`, `0`); nil as `null`.
    public var subscriberChurnRateText: String? {
        guard payingSubscribersAtStart > 0 else { return nil }
        // Exact integer rounding, half up, so that the text never depends on floating point.
        let scaled = (Int64(churnedPayingSubscribers) * 20_000 / Int64(payingSubscribersAtStart) + 1) / 2
        var text = String(scaled / 10_000)
        let fraction = scaled % 10_000
        if fraction > 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 4 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    /// The JSON keys (and CSV columns), in order.
    public static let keys = [
        "period_start", "period_end", "subscribers", "paying_subscribers", "active_subscriptions", "mrr_cents",
        "team_seats", "team_seats_used", "new_mrr_cents", "reactivation_mrr_cents", "expansion_mrr_cents",
        "contraction_mrr_cents", "churn_mrr_cents", "new_paying_subscribers", "churned_paying_subscribers",
        "subscriber_churn_rate",
    ]

    /// The values of ``keys`` as plain text (CSV cells): times in RFC 3339, the rate empty when null.
    public var cells: [String] {
        [periodStart.rfc3339, periodEnd.rfc3339, String(subscribers), String(payingSubscribers),
         String(activeSubscriptions), String(mrrCents), String(teamSeats), String(teamSeatsUsed), String(newMRRCents),
         String(reactivationMRRCents), String(expansionMRRCents), String(contractionMRRCents), String(churnMRRCents),
         String(newPayingSubscribers), String(churnedPayingSubscribers), subscriberChurnRateText ?? ""]
    }

    /// The row as one JSON object with ``keys`` in order.
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        w.field("period_start", periodStart)
        w.field("period_end", periodEnd)
        w.field("subscribers", Int64(subscribers))
        w.field("paying_subscribers", Int64(payingSubscribers))
        w.field("active_subscriptions", Int64(activeSubscriptions))
        w.field("mrr_cents", mrrCents)
        w.field("team_seats", teamSeats)
        w.field("team_seats_used", teamSeatsUsed)
        w.field("new_mrr_cents", newMRRCents)
        w.field("reactivation_mrr_cents", reactivationMRRCents)
        w.field("expansion_mrr_cents", expansionMRRCents)
        w.field("contraction_mrr_cents", contractionMRRCents)
        w.field("churn_mrr_cents", churnMRRCents)
        w.field("new_paying_subscribers", Int64(newPayingSubscribers))
        w.field("churned_paying_subscribers", Int64(churnedPayingSubscribers))
        w.key("subscriber_churn_rate")
        if let rate = subscriberChurnRateText { w.raw(rate.utf8) } else { w.null() }
        w.endObject()
    }
}

extension MetricsRow {
    /// Cents as an amount in currency units, for people: `123456` → `1,234.56`, `-900` → `-9.00`;
    /// without `cents`, rounded to whole units (`1,235`).
    public static func amount(_ cents: Int64, cents showCents: Bool = true) -> String {
        let negative = cents < 0
        let magnitude = cents.magnitude
        let units = showCents ? magnitude / 100 : (magnitude + 50) / 100
        var digits = String(units)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        grouped = digits + grouped
        if showCents {
            let rest = magnitude % 100
            grouped += "." + (rest < 10 ? "0" : "") + String(rest)
        }
        return (negative ? "-" : "") + grouped
    }

    /// The period as people name it: `2026-03` for a month, `2026-03-02` for a day, and for a
    /// week its Monday, `2026-03-02`.
    public func periodLabel(_ every: MetricsPeriod) -> String {
        let text = periodStart.rfc3339
        return every == .month ? String(text.prefix(7)) : String(text.prefix(10))
    }
}
