import LMDB

/// A point of the log to read a view at: after position P, or after the last event whose
/// `at` is at or before a time.
public enum AsOf: Sendable, Equatable, CustomStringConvertible {
    case position(UInt64)
    case time(Timestamp)

    /// Parses `--as-of`: a position (digits only) or an RFC 3339 time with `Z` or an offset.
    ///
    /// ```swift
    /// let point = try AsOf(parsing: "2026-03-01T00:00:00+01:00")
    /// ```
    public init(parsing text: String) throws(StoreError) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let p = UInt64(text) else { throw StoreError.invalidArgument("--as-of \(text) is not a position of this log") }
            self = .position(p)
        } else if let t = Timestamp(rfc3339: text) {
            self = .time(t)
        } else {
            throw StoreError.invalidArgument("--as-of takes a position or an RFC 3339 time, not \(quoted(text))")
        }
    }

    public var description: String {
        switch self {
        case .position(let p): "\(p)"
        case .time(let t): t.rfc3339
        }
    }
}

extension Store {
    /// The position `asOf` names: 1...head for a position (anything else is an error), and for a
    /// time the last event at or before it (0 when none is that old). `at` never runs backwards
    /// in the log, so a binary search finds it.
    public func position(of asOf: AsOf) throws(StoreError) -> UInt64 {
        let head = try head().position
        switch asOf {
        case .position(let p):
            guard head > 0 else { throw StoreError.invalidArgument("--as-of \(p): the log is empty") }
            guard p >= 1, p <= head else { throw StoreError.invalidArgument("--as-of \(p) is outside the log (1...\(head))") }
            return p
        case .time(let t):
            do {
                return try env.read { txn in
                    var low: UInt64 = 0, high = head  // invariant: event low has at <= t (0: none), high+1 has at > t
                    while low < high {
                        let mid = low + (high - low + 1) / 2
                        guard let e = try log.event(at: mid, txn) else { throw StoreError.corrupt("no event at position \(mid)") }
                        if e.at <= t { low = mid } else { high = mid - 1 }
                    }
                    return low
                }
            } catch {
                throw StoreError.wrap(error)
            }
        }
    }

    /// Every view folded afresh in memory from the first `position` events.
    func foldedViews(through position: UInt64,
                     progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil) throws -> MemoryViews {
        var fold = ViewFold(proxies: proxies)
        let views = MemoryViews(tableCount: fold.tableCount)
        guard position > 0 else { return views }
        // Reading and decoding here, folding on a second core.
        try Pipeline<[RecordedEvent]>.run(consume: { batch in
            for event in batch {
                views.noteCreation(of: event)
                try fold.apply(event, to: views)
            }
        }) { send in
            try forEachBatch(to: position) { events in
                guard let first = events.first, let last = events.last, send(events) else { return false }
                if last.position / 65_536 > (first.position - 1) / 65_536 { progress?(last.position, position) }
                return true
            }
        }
        progress?(position, position)
        return views
    }
}
