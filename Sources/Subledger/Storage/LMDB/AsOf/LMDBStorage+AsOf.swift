import LMDB

extension LMDBStorage {
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
