/// The log's own rules, checked over its stored records in order, as `verify` reads them on any
/// backend: each record decodes, stands at its position, chains onto the previous hash, and its
/// stream keeps one kind and counts its versions up from 1.
struct ChainCheck {
    /// The hash the next record must chain onto.
    private(set) var previous = ChainHash.zero
    /// Each stream's kind and last version (0: a stream not seen before), kept in the stream
    /// id's bucket: one miss per event into a table larger than the caches, not two.
    private var streams = EntityIndex(initial: Stream(kind: 0, version: 0))

    private struct Stream: BitwiseCopyable {
        /// The `EntityKind`'s raw value (0: not seen yet).
        var kind: UInt8
        var version: UInt32
    }

    /// A check whose stream table holds `streams` without growing (each growth rehashes it all).
    init(reserving streams: Int = 0) {
        self.streams.reserve(streams)
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
        let stream = event.stream, version = event.version, kind = stream.kind.rawValue
        // The stream as it was; it moves on only when this record follows it.
        let known = streams.update(stream.id) { known, _ in
            defer { if known.kind == 0 || known.kind == kind, version == known.version + 1 { known = Stream(kind: kind, version: version) } }
            return known
        }
        if known.kind != 0, known.kind != kind, let kind = EntityKind(rawValue: known.kind) {
            throw Fault(position: position, area: "log", message: "id \(stream.id) is in stream \(kind)-… and \(stream)")
        }
        guard version == known.version + 1 else {
            throw Fault(position: position, area: "log", message: "stream \(stream) has version \(version), expected \(known.version + 1)")
        }
        return event
    }
}
