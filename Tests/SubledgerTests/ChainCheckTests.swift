import PropertyBased
import Testing
@testable import Subledger

/// The log's own rules as verify checks them, record by record: over random streams of
/// events, a sealed chain passes; a version skipped or repeated, or an id reused by a stream
/// of another kind, is a fault at that position and says which.
struct ChainCheckTests {
    /// One event of a stream: of `id`'s user stream, or of a plan stream with the same id.
    private static func data(_ id: EntityID, plan: Bool, first: Bool) -> EventData {
        switch (plan, first) {
        case (false, true): .userRegistered(id: id, email: "u\(id.low)@example.com", fullName: "U")
        case (false, false): .userLoggedIn(user: id)
        case (true, true): .planCreated(id: id, name: "p\(id.low)", priceCents: 100, seats: nil)
        case (true, false): .planDeleted(plan: id)
        }
    }

    /// Seals `events` as a log from position 1 and checks each record; returns the fault, if any.
    private static func check(_ events: [(id: EntityID, plan: Bool, version: UInt32)]) -> ChainCheck.Fault? {
        var chain = ChainCheck()
        var previous = EventCodec.genesisHash
        for (i, e) in events.enumerated() {
            var event = RecordedEvent(position: UInt64(i + 1), stream: data(e.id, plan: e.plan, first: e.version == 1).stream,
                                      version: e.version, eventID: EntityID(high: 1, low: UInt64(i)),
                                      at: Timestamp(microseconds: Int64(i)), recordedAt: Timestamp(microseconds: 0),
                                      commandID: nil, data: data(e.id, plan: e.plan, first: e.version == 1))
            let bytes = EventCodec.seal(&event, previousHash: previous)
            previous = event.hash
            do {
                let checked = try bytes.withUnsafeBytes { b throws(ChainCheck.Fault) in try chain.check(b, at: UInt64(i + 1)) }
                #expect(checked == event)
            } catch let fault as ChainCheck.Fault {
                return fault
            } catch {
                Issue.record(error)
            }
        }
        #expect(chain.previous.bytes == previous)
        return nil
    }

    @Test func aSealedChainPassesAndABrokenStreamIsNamed() async {
        await propertyCheck(count: 100, input: Gen.int(in: 0...7).array(of: 1...200), Gen.int(in: 0...(1 << 20))) { picks, pick in
            // Each event continues the stream of one of 8 ids (a user's, or for ids 6 and 7 a plan's).
            var versions: [UInt64: UInt32] = [:]
            let events = picks.map { n -> (id: EntityID, plan: Bool, version: UInt32) in
                versions[UInt64(n), default: 0] += 1
                return (EntityID(high: 7, low: UInt64(n)), n >= 6, versions[UInt64(n)]!)
            }
            #expect(ChainCheckTests.check(events) == nil)

            let at = pick % events.count
            var skipped = events
            skipped[at].version += 1
            let fault = ChainCheckTests.check(skipped)
            #expect(fault?.position == UInt64(at + 1))
            #expect(fault?.message.contains("has version \(events[at].version + 1), expected \(events[at].version)") == true)

            // The same id in a stream of the other kind, after its own stream began.
            guard let later = events.indices.first(where: { $0 > at && events[$0].id == events[at].id }) else { return }
            var moved = events
            moved[later].plan.toggle()
            let kindFault = ChainCheckTests.check(moved)
            #expect(kindFault?.position == UInt64(later + 1))
            #expect(kindFault?.message.contains("is in stream") == true)
        }
    }
}
