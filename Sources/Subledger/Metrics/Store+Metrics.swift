extension Store {
    /// At most this many rows a query: a day a row over 270 years.
    public static let metricsPeriodLimit = 100_000

    /// Subscription metrics: one row per UTC calendar period (`query.every`), from the period
    /// containing `query.from` (default: the first event's) to the one containing `query.to`
    /// (default: the newest event's), in one pass over the log. `movements`, when given, is
    /// called with every movement of MRR inside those periods, in log order.
    ///
    /// ```swift
    /// let rows = try store.metrics(MetricsQuery(every: .week))
    /// for row in rows { print(row.periodStart, row.mrrCents, row.churnMRRCents) }
    /// ```
    /// See docs/metrics.md for the definitions.
    public func metrics(_ query: MetricsQuery,
                        movements: ((MRRMovement) -> Void)? = nil) throws(MetricsError) -> [MetricsRow] {
        if let f = query.from, let t = query.to, f > t { throw MetricsError.fromAfterTo(from: f, to: t) }
        do {
            let planFilter = try query.plan.map { ref throws(MetricsError) in try metricsPlan(ref) }
            let head = try head()
            var firstAt: Timestamp?
            if head.position > 0 { try forEachEvent(from: 1, to: 1) { firstAt = $0.at; return false } }
            guard let from = query.from ?? firstAt ?? query.to, let to = query.to ?? head.newestAt ?? query.from else {
                return []  // an empty log and no bounds: no period to show
            }
            var first = query.every.start(containing: from), last = query.every.start(containing: to)
            // One bound given: the rows reach from it to the log's other end, or cover it alone.
            if query.to == nil { last = max(last, first) }
            if query.from == nil { first = min(first, last) }
            var count = 0, start = first
            while start <= last {
                count += 1
                if count > Self.metricsPeriodLimit {
                    var total = count
                    while start <= last { total += 1; start = query.every.end(ofPeriodStartingAt: start) }
                    throw MetricsError.tooManyPeriods(count: total - 1, limit: Self.metricsPeriodLimit)
                }
                start = query.every.end(ofPeriodStartingAt: start)
            }

            var report = MetricsReport(every: query.every, first: first, last: last, planFilter: planFilter,
                                       onMovement: movements)
            let end = report.end
            guard head.position > 0 else { return report.finish() }
            // Reading and decoding here, folding on a second core, as a rebuild does. Only the
            // events that change plans, subscriptions or users cross over, as (at, data): the
            // others move no figure, and an instant is only ever ended by a later `at`.
            try Pipeline<[(at: Timestamp, data: EventData)]>.run(consume: { batch in
                for e in batch where !report.take(at: e.at, e.data) { break }
            }) { send in
                var batch: [(at: Timestamp, data: EventData)] = []
                batch.reserveCapacity(1024)
                try forEachEvent { event in
                    // `at` never runs backwards: past the last period, nothing more is needed.
                    guard event.at < end else { return false }
                    guard MetricsLedger.reads(event.type) else { return true }
                    batch.append((event.at, event.data))
                    if batch.count == 1024 {
                        guard send(batch) else { return false }
                        batch = []
                        batch.reserveCapacity(1024)
                    }
                    return true
                }
                if !batch.isEmpty { _ = send(batch) }
            }
            let rows = report.finish()
            if report.overflow { throw MetricsError.amountTooLarge }
            return rows
        } catch let e as MetricsError {
            throw e
        } catch {
            throw MetricsError.store(StoreError.wrap(error))
        }
    }

    /// The plan `--plan` names: an id of any plan the log created (deleted ones too), or the
    /// name of a plan that exists now.
    private func metricsPlan(_ ref: Reference) throws(MetricsError) -> EntityID {
        do {
            switch ref {
            case .id(let id):
                var created = false
                try forEachEvent(stream: StreamID(.plan, id)) { created = $0.data.createsEntity; return false }
                guard created else { throw MetricsError.unknownPlan(ref.description) }
                return id
            case .key(let name):
                let rows = try rows(of: "plans")
                guard let row = rows.first(where: { $0["name"] == .string(name) }), case .id(let id)? = row["id"] else {
                    throw MetricsError.unknownPlan(name)
                }
                return id
            }
        } catch let e as MetricsError {
            throw e
        } catch {
            throw MetricsError.store(StoreError.wrap(error))
        }
    }
}
