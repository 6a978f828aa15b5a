/// A batch of events for a whole-log fold into `MemoryViews`, with the ids each event names,
/// taken out on the thread that reads the log: the fold's thread then loads what it will read
/// a few events ahead (`MemoryViews.prefetch`) without copying events to look into them.
struct FoldBatch: Sendable {
    private(set) var events: [RecordedEvent] = []
    /// `idsPerEvent` ids per event: its stream's, then those its data names (zero: none).
    private(set) var named: [EntityID] = []

    static let idsPerEvent = 3

    init(capacity: Int = 0) {
        events.reserveCapacity(capacity)
        named.reserveCapacity(capacity * FoldBatch.idsPerEvent)
    }

    /// A batch of events read whole: they are shared, not copied again.
    init(_ events: [RecordedEvent]) {
        self.events = events
        named.reserveCapacity(events.count * FoldBatch.idsPerEvent)
        for i in events.indices { noteIDs(events[i]) }
    }

    var count: Int { events.count }

    mutating func append(_ event: RecordedEvent) {
        events.append(event)
        noteIDs(event)
    }

    private mutating func noteIDs(_ event: RecordedEvent) {
        named.append(event.stream.id)
        let none = EntityID(high: 0, low: 0)
        switch event.data {
        case .subscribed(_, let user, let plan): named.append(user); named.append(plan)
        case .planChanged(_, let from, let to): named.append(from); named.append(to)
        case .memberJoined(_, let user, let group), .memberLeft(_, let user, let group): named.append(user); named.append(group)
        default: named.append(none); named.append(none)
        }
    }
}
