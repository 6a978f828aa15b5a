import ArgumentParser
import Subledger

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print events in log order.",
        discussion: """
        Examples:
          subledger replay --from 100 --to 200
          subledger replay --stream user-6f9619ff-8b86-d011-b42d-00cf4fc964ff --json
          subledger replay --type Subscribed | head -3
        """)

    @OptionGroup var location: StoreLocation
    @Option(help: "First position.") var from: UInt64 = 1
    @Option(help: "Last position.") var to: UInt64?
    @Option(help: "Only this stream (e.g. user-<uuid>).") var stream: String?
    @Option(help: "Only this event type (e.g. Subscribed).") var type: String?
    @Flag(help: "Keep printing events as they are appended, until interrupted.") var follow = false
    @Flag(help: "One JSON object per event, with every envelope field and data.") var json = false
    @Flag(help: "In the table's data column, related users, plans and groups as ids (by default: by email or name).")
    var ids = false

    func run() throws {
        let store = try location.open()
        var streamID: StreamID?
        if let stream {
            guard let s = StreamID(stream) else { throw Failure(message: "--stream must look like user-<uuid>, plan-<uuid>, ...") }
            streamID = s
        }
        var eventType: EventType?
        if let type {
            guard let t = EventType(name: type) else {
                throw Failure(message: "unknown event type \"\(type)\" (one of \(EventType.allCases.map(\.name).joined(separator: ", ")))")
            }
            eventType = t
        }
        var rows: [[String]] = []
        var next = from
        // The table names related users, plans and groups as the views hold them now.
        var names = RelatedNames.none
        if !json && !follow && !ids {
            do { names = try RelatedNames(store) } catch { throw Failure(message: error.description) }
        }
        // Read once: each read of an ArgumentParser @Flag costs hundreds of instructions, per event.
        let json = self.json, follow = self.follow
        func emit(_ e: RecordedEvent) {
            if json { Output.jsonLine { e.writeJSON(to: &$0) } } else if follow {
                Output.line("\(e.position)  \(e.at)  \(e.stream)  \(e.version)  \(e.type.name)  \(e.summary)")
            } else {
                rows.append([String(e.position), e.at.rfc3339, e.stream.description, String(e.version), e.type.name, e.summary(names)])
            }
            next = e.position + 1
        }
        do {
            try store.forEachEvent(from: from, to: to, stream: streamID, type: eventType) { emit($0); return true }
            if !json && !follow {
                if rows.isEmpty { Output.info("(no events)") } else {
                    Output.table(["position", "at", "stream", "version", "type", "data"], rows)
                }
            }
            Output.flush()
            guard follow else { return }
            var seen = try store.head().position
            while to.map({ next <= $0 }) ?? true {
                try store.waitForAppend(after: seen)
                let head = try store.head().position
                try store.forEachEvent(from: max(next, seen + 1), to: to.map { min($0, head) } ?? head, stream: streamID, type: eventType) {
                    emit($0)
                    return true
                }
                seen = head
                Output.flush()
            }
        } catch let e as StoreError {
            throw Failure(message: e.description)
        }
    }
}

struct Projections: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "List every projection: kind, checkpoint, rows, version.",
        discussion: "Example:\n  subledger projections --json")

    @OptionGroup var location: StoreLocation
    @Flag(help: "Machine output: one JSON array.") var json = false

    func run() throws {
        let store = try location.open()
        let list: [ProjectionInfo]
        do { list = try store.projections() } catch { throw Failure(message: error.description) }
        if json {
            var w = JSONWriter()
            w.beginArray()
            for p in list {
                w.beginObject()
                w.key("name"); w.string(p.name)
                w.key("kind"); w.string(p.kind.rawValue)
                w.key("checkpoint"); w.int(Int64(p.checkpoint))
                w.key("rows"); w.int(Int64(p.rows))
                w.key("version"); w.int(Int64(p.version))
                w.endObject()
            }
            w.endArray()
            Output.line(w.bytes)
        } else {
            Output.table(["name", "kind", "checkpoint", "rows", "version"],
                         list.map { [$0.name, $0.kind.rawValue, String($0.checkpoint), String($0.rows), String($0.version)] })
        }
        Output.flush()
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Events, streams, store size, map size and use, per-type counts.",
        discussion: "Example:\n  subledger stats --json")

    @OptionGroup var location: StoreLocation
    @Flag(help: "Machine output: one JSON object.") var json = false

    func run() throws {
        let store = try location.open()
        let s: StoreStats
        do { s = try store.stats() } catch { throw Failure(message: error.description) }
        if json {
            var w = JSONWriter()
            w.beginObject()
            w.key("events"); w.int(Int64(s.events))
            w.key("streams"); w.int(Int64(s.streams))
            w.key("head"); w.int(Int64(s.head))
            w.key("store_bytes"); w.int(Int64(s.storeBytes))
            w.key("map_bytes"); w.int(Int64(s.mapBytes))
            w.key("map_used_bytes"); w.int(Int64(s.mapUsedBytes))
            w.key("snapshot_interval"); w.int(Int64(s.snapshotInterval))
            w.key("snapshots_through"); w.int(Int64(s.snapshotsThrough))
            w.key("types"); w.beginObject()
            for (name, count) in s.typeCounts { w.key(name); w.int(Int64(count)) }
            w.endObject()
            w.endObject()
            Output.line(w.bytes)
        } else {
            var rows = [["events", String(s.events)], ["streams", String(s.streams)],
                        ["store size", bytesText(s.storeBytes)]]
            // A PostgreSQL ledger has no map and (yet) no snapshots: as-of folds from the log.
            if s.mapBytes > 0 {
                rows.append(["map size", bytesText(s.mapBytes)])
                rows.append(["map used", bytesText(s.mapUsedBytes) + " (\(oneDecimal(100 * Double(s.mapUsedBytes) / Double(s.mapBytes)))%)"])
            }
            if s.snapshotInterval > 0 {
                rows.append(["snapshots", (s.snapshotInterval == 1 ? "every event (row history), " : "every \(s.snapshotInterval) events, ")
                    + (s.snapshotsThrough == 0 ? "none taken yet" : "through position \(s.snapshotsThrough)")])
            }
            Output.table(["measure", "value"], rows + s.typeCounts.map { ["  \($0.name)", String($0.count)] })
        }
        Output.flush()
    }

    func bytesText(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : "\(oneDecimal(v)) \(units[u])"
    }

    func oneDecimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
