/// One result line of `exec`: which input line, and what became of its command.
public struct ExecResult: Sendable {
    public var line: Int
    public var outcome: Outcome

    /// The result of the command on input line `line` (1-based).
    public init(line: Int, outcome: Outcome) {
        self.line = line
        self.outcome = outcome
    }

    /// The `exec --json` line: `{"line":N,"status":"ok","positions":[P],"id":"..."}`;
    /// a rejection adds `"error"`. `id` is the created entity's, when the command created one.
    public var json: [UInt8] {
        var w = JSONWriter(capacity: 96)
        writeJSON(to: &w)
        return w.bytes
    }

    /// Writes the ``json`` object into `w`, for callers that write many lines into one buffer.
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        w.field("line", Int64(line))
        w.field("status", outcome.status)
        w.key("positions"); w.beginArray()
        switch outcome {
        case .applied(let p, _): w.int(Int64(p))
        case .duplicate(let ps, _): for p in ps { w.int(Int64(p)) }
        case .rejected: break
        }
        w.endArray()
        switch outcome {
        case .applied(_, let id?), .duplicate(_, let id?): w.field("id", id)
        case .rejected(let r): w.field("error", r.description)
        default: break
        }
        w.endObject()
    }

    /// The line for people: `line 3: ok, position 17, id ...`.
    public var text: String {
        switch outcome {
        case .applied(let p, let id): "line \(line): ok, position \(p)" + (id.map { ", id \($0)" } ?? "")
        case .duplicate(let ps, _): "line \(line): duplicate of position \(ps.map(String.init).joined(separator: ", "))"
        case .rejected(let r): "line \(line): rejected: \(r)"
        }
    }
}

/// Counts of an `exec` run.
public struct ExecSummary: Sendable {
    public var ok = 0, duplicate = 0, rejected = 0
    public var total: Int { ok + duplicate + rejected }

    mutating func count(_ o: Outcome) {
        switch o {
        case .applied: ok += 1
        case .duplicate: duplicate += 1
        case .rejected: rejected += 1
        }
    }
}

extension Store {
    /// The most commands one write transaction takes on the embedded store. Larger batches
    /// share more of the pages they change: 32,768 a batch wrote 31% fewer bytes and ran 20%
    /// faster than 16,384 at 10^6 commands, and no slower at 10^5; 65,536 was slower at 10^5
    /// (decoding the first batch waits longer) and at 10^7 (LMDB spills dirty pages to disk
    /// mid-transaction). tools/benchmark/RESULTS.md, 2026-12-07.
    public static let maxBatch = 32768

    /// Runs JSON Lines commands from `reader`, many per write transaction, each transaction
    /// synced before `report` sees its results: a reported `ok` is durable. A batch closes early
    /// when no more input is ready, so interactive input is answered at once. Blank lines are skipped.
    ///
    /// Two cores share the work: this thread reads and decodes the next batch while another
    /// applies, syncs and reports the one before (`report` is called there, in order). Before
    /// waiting for input that is not there yet, every result read so far is reported.
    public func exec(_ reader: LineReader, report: ([ExecResult]) throws -> Void) throws -> ExecSummary {
        try withoutActuallyEscaping(report) { report in
            var summary = ExecSummary()
            try Pipeline<DecodedBatch>.run(depth: 2, consume: { batch in
                let outcomes = try self.execute(batch: batch.commands)
                var results: [ExecResult] = []
                results.reserveCapacity(outcomes.count)
                for (line, outcome) in zip(batch.lines, outcomes) {
                    summary.count(outcome)
                    results.append(ExecResult(line: line, outcome: outcome))
                }
                try report(results)
            }, produce: { send in
                var batch = DecodedBatch()
                while let line = try reader.next() {
                    if let bytes = line.bytes {
                        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                        batch.commands.append(bytes.withUnsafeBytes { CommandDecoder.decode(line: $0) })
                    } else {
                        batch.commands.append(.failure(.lineTooLong(limit: reader.maxLineBytes)))
                    }
                    batch.lines.append(line.number)
                    let waiting = !reader.hasReadyInput
                    if batch.commands.count >= storage.maxBatch || waiting {
                        // False once a batch failed to apply: stop reading, its error is thrown.
                        guard send(batch) else { return }
                        batch = DecodedBatch()
                        // Before waiting for input, the results so far are out (and a failure
                        // ends the run now, not at the next line).
                        if waiting, !send.settle() { return }
                    }
                }
                if !batch.commands.isEmpty { _ = send(batch) }
            })
            return summary
        }
    }
}

/// Commands decoded for one write transaction, with their input lines.
private struct DecodedBatch: Sendable {
    var lines: [Int] = []
    var commands: [Result<CommandEnvelope, Rejection>] = []

    init() {
        lines.reserveCapacity(64)
        commands.reserveCapacity(64)
    }
}
