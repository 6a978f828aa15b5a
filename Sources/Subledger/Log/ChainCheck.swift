/// The log's own rules, checked over its stored records in order, as `verify` reads them on any
/// backend: each record decodes, stands at its position, chains onto the previous hash, and its
/// stream keeps one kind and counts its versions up from 1.
struct ChainCheck {
    /// The hash the next record must chain onto.
    private(set) var previous = ChainHash.zero
    /// Each stream's kind and last version, by its number in `streams`.
    private var streams = EntityIndex()
    private var known: [(kind: EntityKind, version: UInt32)] = []

    /// A check whose stream table holds `streams` without growing (each growth rehashes it all).
    init(reserving streams: Int = 0) {
        self.streams.reserve(streams)
        known.reserveCapacity(streams)
    }

    /// A fault of the log: where, which area, and what is wrong.
    struct Fault: Error {
        let position: UInt64
        let area: String
        let message: String
    }

    /// Checks the record stored at `position` (its bytes end with its hash) and returns its event.
    mutating func check(_ stored: UnsafeRawBufferPointer, at position: UInt64) throws(Fault) -> RecordedEvent {
        let event: RecordedEvent
        do { event = try EventCodec.decode(stored) } catch {
            throw Fault(position: position, area: "log", message: "the stored event does not decode: \(error)")
        }
        guard event.position == position else {
            throw Fault(position: position, area: "log", message: "the event stored here says position \(event.position)")
        }
        let body = UnsafeRawBufferPointer(rebasing: stored[0..<(stored.count - EventCodec.hashSize)])
        let computed = EventCodec.digest(previous: previous, body: body)
        guard computed == event.chainHash else {
            throw Fault(position: position, area: "hash chain",
                        message: "stored hash \(hex(event.hash)) but the bytes and the previous hash give \(hex(computed.bytes))")
        }
        previous = computed
        let n = streams.insert(event.stream.id)
        if n == known.count { known.append((event.stream.kind, 0)) }
        if known[n].kind != event.stream.kind {
            throw Fault(position: position, area: "log", message: "id \(event.stream.id) is in stream \(known[n].kind)-… and \(event.stream)")
        }
        guard event.version == known[n].version + 1 else {
            throw Fault(position: position, area: "log",
                        message: "stream \(event.stream) has version \(event.version), expected \(known[n].version + 1)")
        }
        known[n].version = event.version
        return event
    }
}
