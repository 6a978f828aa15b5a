/// The rows of one `metrics` query, made in one pass: events go in in log order (`take`), each
/// period's row is closed as the first event past its end arrives (`at` never runs backwards in
/// the log), and `finish` closes the rest.
struct MetricsReport {
    let every: MetricsPeriod
    /// The first row's start, and the last row's end (exclusive).
    let first: Timestamp
    let end: Timestamp
    private var ledger: MetricsLedger
    private var rows: [MetricsRow] = []
    /// The open period (nil before the first and after the last).
    private var current: MetricsRow?
    /// The open period's end; before the first period, its start (so that the first event at
    /// or past it opens it). Kept apart from `current`, which is large to copy for a compare.
    private var currentEnd: Timestamp
    /// The `at` of the latest event taken: its movements are classified once the next `at` comes.
    private var instant: Timestamp?
    private let onMovement: ((MRRMovement) -> Void)?
    /// A sum of cents went past `Int64.max`: the report is refused rather than wrong.
    private var overflowed = false
    var overflow: Bool { overflowed || ledger.overflowed }

    init(every: MetricsPeriod, first: Timestamp, last: Timestamp, planFilter: EntityID?,
         onMovement: ((MRRMovement) -> Void)?) {
        self.every = every
        self.first = first
        end = every.end(ofPeriodStartingAt: last)
        currentEnd = first
        ledger = MetricsLedger(planFilter: planFilter)
        self.onMovement = onMovement
    }

    /// Folds one event; false once it lies past the last period (nothing later matters).
    mutating func take(_ event: RecordedEvent) -> Bool { take(at: event.at, event.data) }

    /// Folds the event with this `at` and data.
    mutating func take(at: Timestamp, _ data: EventData) -> Bool {
        if let instant, instant != at { endInstant(instant) }
        guard at < end else { return false }
        if at >= currentEnd { advance(to: at) }
        instant = at
        ledger.apply(data.upcast)
        return true
    }

    /// The rows, every period from the first to the last, once the log has been read.
    mutating func finish() -> [MetricsRow] {
        if let instant { endInstant(instant) }
        instant = nil
        advance(to: end)
        return rows
    }

    /// Closes the periods that end at or before `t` and opens the one containing it.
    private mutating func advance(to t: Timestamp) {
        if current == nil {
            // Before the first period: its opening figures are the state once the earlier events are in.
            guard t >= first, rows.isEmpty else { return }
            open(first)
        }
        while let row = current, t >= row.periodEnd {
            close()
            guard row.periodEnd < end else { return }
            open(row.periodEnd)
        }
    }

    private mutating func open(_ start: Timestamp) {
        current = MetricsRow(periodStart: start, periodEnd: every.end(ofPeriodStartingAt: start),
                             openingMRRCents: ledger.mrrCents, payingSubscribersAtStart: ledger.payingSubscribers)
        currentEnd = current!.periodEnd
    }

    private mutating func close() {
        guard var row = current else { return }
        row.subscribers = ledger.subscribers
        row.payingSubscribers = ledger.payingSubscribers
        row.activeSubscriptions = ledger.activeSubscriptions
        row.mrrCents = ledger.mrrCents
        row.teamSeats = ledger.teamSeats
        row.teamSeatsUsed = ledger.teamSeatsUsed
        rows.append(row)
        current = nil
    }

    /// Classifies the movements of `instant` into the open period (none is open before the first).
    private mutating func endInstant(_ instant: Timestamp) {
        guard ledger.touchedAny else { return }
        var row = current
        current = nil  // not borrowed twice while the ledger calls back
        var overflow = false
        ledger.endInstant(at: instant) { m in
            guard row != nil else { return }
            switch m.kind {
            case .new: row!.newMRRCents = sum(row!.newMRRCents, m.cents, &overflow); row!.newPayingSubscribers += 1
            case .reactivation:
                row!.reactivationMRRCents = sum(row!.reactivationMRRCents, m.cents, &overflow); row!.newPayingSubscribers += 1
            case .expansion: row!.expansionMRRCents = sum(row!.expansionMRRCents, m.cents, &overflow)
            case .contraction: row!.contractionMRRCents = sum(row!.contractionMRRCents, m.cents, &overflow)
            case .churn: row!.churnMRRCents = sum(row!.churnMRRCents, m.cents, &overflow); row!.churnedPayingSubscribers += 1
            }
            onMovement?(m)
        }
        overflowed = overflowed || overflow
        current = row
    }
}
