/// A batch of events for a whole-log fold into `MemoryViews`, with the ids each event names,
/// taken out on the thread that reads the log: the fold's thread then loads what it will read
/// a few events ahead (`MemoryViews.prefetch`) without copying events to look into them.
struct FoldBatch: Sendable {
    let events: [RecordedEvent]
    /// `idsPerEvent` ids per event: its stream's, then those its data names (zero: none).
    let named: [EntityID]

    static let idsPerEvent = 3

    init(_ events: [RecordedEvent]) {
        self.events = events
        let none = EntityID(high: 0, low: 0)
        var named: [EntityID] = []
        named.reserveCapacity(events.count * FoldBatch.idsPerEvent)
        for event in events {
            named.append(event.stream.id)
            switch event.data {
            case .subscribed(_, let user, let plan): named += [user, plan]
            case .planChanged(_, let from, let to): named += [from, to]
            case .memberJoined(_, let user, let group), .memberLeft(_, let user, let group): named += [user, group]
            default: named += [none, none]
            }
        }
        self.named = named
    }
}
