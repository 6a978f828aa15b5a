import LMDB
import Subledger
#if canImport(Glibc)
import Glibc
#endif

/// The measurements, each run in a child process of its own (`--only NAME`), so that its peak
/// RSS is its own. A child prints `key value` lines on stdout for the parent.
enum Child {
    static func run(_ name: String, _ args: Arguments) throws {
        switch name {
        case "exec": try exec(args)
        case "generate": try generate(args)
        case "sizes": try sizes(args)
        case "raw-put": try rawPut(args)
        case "raw-scan": try rawScan(args)
        case "raw-scan-prefix": try rawScanPrefix(args)
        case "single": try single(args)
        case "replay": try replay(args)
        case "replay-decode": try replayDecode(args)
        case "rebuild": try rebuild(args)
        case "verify": try verify(args)
        case "metrics": try metrics(args)
        case "asof": try asOf(args)
        case "show-now": try showNow(args)
        case "asof-matrix": try AsOfMatrix.run(args)
        default: throw BenchError("unknown measurement \(name)")
        }
    }

    /// Writes a workload file: `--n` commands after skipping `--skip` (default 0), from `--seed`.
    /// (For profiling: `subledger-bench --only generate --n 20000 --out w.jsonl`.)
    static func generate(_ args: Arguments) throws {
        let generator = WorkloadGenerator(seed: UInt64(args.int("seed") ?? 42))
        let out = args.require("out")
        if let skip = args.int("skip"), skip > 0 { try generator.write(count: skip, to: "/dev/null") }
        let skipped = generator.intendedRejections
        try generator.write(count: args.int("n") ?? 100_000, to: out)
        report("commands", args.int("n") ?? 100_000)
        report("rejected_on_purpose", generator.intendedRejections - skipped)
    }

    /// `exec`: the CLI's path. `Store.exec` over a `LineReader` on the file; every batch (up to
    /// `Store.maxBatch` commands) one write transaction, synced before its results are reported;
    /// each result written as its `exec --json` line into a buffer that is discarded.
    static func exec(_ args: Arguments) throws {
        try preopen(args)
        let store = try Store.open(path: args.require("store"), options: StoreOptions(snapshotInterval: args.int("snapshot-interval")))
        let input = args.require("input")
        let fd = open(input, O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open \(input)") }
        defer { close(fd) }
        let before = try store.head().position
        var output = JSONWriter(capacity: 1 << 17)
        var discarded = 0
        LMDBCalls.reset()
        let ioBefore = processIO()
        let start = monotonicSeconds()
        let summary = try store.exec(LineReader(fd: fd)) { results in
            for r in results {
                r.writeJSON(to: &output)
                output.endLine()
            }
            discarded += output.bytes.count
            output.bytes.removeAll(keepingCapacity: true)
        }
        let seconds = monotonicSeconds() - start
        let ioAfter = processIO()
        let calls = LMDBCalls.self
        let (puts, dels, gets, cursorGets, cursorOpens) = (calls.puts, calls.dels, calls.gets, calls.cursorGets, calls.cursorOpens)
        let byDatabase = LMDBCalls.byDatabase()
        let stats = try store.stats()
        for d in byDatabase {
            report("db.\(d.name)", "\(d.puts) \(d.dels) \(d.gets)")
        }
        report("seconds", seconds)
        report("commands", summary.total)
        report("ok", summary.ok)
        report("rejected", summary.rejected)
        report("duplicate", summary.duplicate)
        report("events", stats.head - before)
        report("puts", puts)
        report("dels", dels)
        report("gets", gets)
        report("cursor_gets", cursorGets)
        report("cursor_opens", cursorOpens)
        report("store_bytes", stats.storeBytes)
        report("map_bytes", stats.mapBytes)
        report("output_bytes", discarded)
        report("written_bytes", (ioAfter["wchar"] ?? 0) - (ioBefore["wchar"] ?? 0))
    }

    /// Experiments: `--lmdb-flags noReadAhead,noMetaSync,noMemoryInit,writeMap` opens the environment with
    /// these flags before the store does; `Environment.open` returns the same instance to the store
    /// (the first open's options apply), so the library runs on them unchanged.
    static func preopen(_ args: Arguments) throws {
        guard let names = args.values["lmdb-flags"] else { return }
        var options = EnvironmentOptions()
        for name in names.split(separator: ",") {
            switch name {
            case "noReadAhead": options.flags.insert(.noReadAhead)
            case "noMetaSync": options.flags.insert(.noMetaSync)
            case "noMemoryInit": options.flags.insert(.noMemoryInit)
            case "writeMap": options.flags.insert(EnvironmentFlags(rawValue: 0x80000)) // MDB_WRITEMAP
            default: throw BenchError("unknown LMDB flag \(name)")
            }
        }
        _ = try Environment.open(path: args.require("store"), options: options)
    }

    /// The sizes of the stored events after position `after` (for the raw baselines).
    static func sizes(_ args: Arguments) throws {
        let env = try Environment.open(path: args.require("store"))
        let events = try env.database("log.events", create: false)
        let after = UInt64(args.int("after") ?? 0)
        var sizes: [UInt32] = []
        var bytes = 0
        try env.read { txn in
            for (key, value) in try txn.scan(events) {
                let p = key.loadUnaligned(as: UInt64.self).bigEndian
                guard p > after else { continue }
                sizes.append(UInt32(value.count))
                bytes += value.count
            }
        }
        try writeSizes(args.require("out"), sizes)
        report("events", sizes.count)
        report("bytes", bytes)
    }

    /// Raw appends: big-endian keys, values of the stored events' sizes, `per-txn` to a synced commit.
    static func rawPut(_ args: Arguments) throws {
        var sizes = try readSizes(args.require("sizes"))
        if let limit = args.int("limit"), limit < sizes.count { sizes = Array(sizes[0..<limit]) }
        let env = try RawEnvironment(path: args.require("raw"))
        let ioBefore = processIO()
        let seconds = try env.append(sizes: sizes, perTransaction: args.int("per-txn") ?? Store.maxBatch)
        report("seconds", seconds)
        report("written_bytes", (processIO()["wchar"] ?? 0) - (ioBefore["wchar"] ?? 0))
        report("entries", sizes.count)
        report("bytes", sizes.reduce(0) { $0 + Int($1) })
    }

    /// A raw cursor scan over every entry.
    static func rawScan(_ args: Arguments) throws {
        let env = try RawEnvironment(path: args.require("raw"))
        let r = try env.scan()
        report("seconds", r.seconds)
        report("entries", r.entries)
        report("bytes", r.bytes)
        report("checksum", r.checksum)
    }

    /// The baseline of `--as-of P`: raw scans of the first P entries, at the same positions as `asof`.
    static func rawScanPrefix(_ args: Arguments) throws {
        let env = try RawEnvironment(path: args.require("raw"))
        let head = UInt64(args.int("head") ?? 1)
        var rng = SplitMix64(seed: UInt64(args.int("seed") ?? 1))
        var latencies: [Double] = []
        for _ in 0..<(args.int("count") ?? 20) {
            let p = args.int("at").map(UInt64.init) ?? 1 + rng.next() % head
            latencies.append(try env.scan(limit: Int(p)).seconds)
        }
        report("p50_ms", percentile(latencies, 50) * 1000)
        report("p99_ms", percentile(latencies, 99) * 1000)
    }

    /// Single durable commands: one `execute(line:)` per command, each its own synced transaction.
    static func single(_ args: Arguments) throws {
        let lines = try readLines(args.require("input"), limit: args.int("count") ?? 2000)
        let store = try Store.open(path: args.require("store"))
        var ok = 0, rejected = 0
        var latencies: [Double] = []
        latencies.reserveCapacity(lines.count)
        let start = monotonicSeconds()
        for line in lines {
            let t = monotonicSeconds()
            switch try store.execute(line: line) {
            case .applied: ok += 1
            case .rejected: rejected += 1
            case .duplicate: break
            }
            latencies.append(monotonicSeconds() - t)
        }
        let seconds = monotonicSeconds() - start
        report("seconds", seconds)
        report("commands", lines.count)
        report("ok", ok)
        report("rejected", rejected)
        report("p50_ms", percentile(latencies, 50) * 1000)
        report("p99_ms", percentile(latencies, 99) * 1000)
    }

    /// `replay --json`: every event decoded by `forEachEvent` and written as its JSON line straight
    /// into a 64 KiB buffer that is discarded when full (as the CLI writes into its output buffer).
    static func replay(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        var buffer = JSONWriter(capacity: 1 << 17)
        var events = 0, bytes = 0
        let start = monotonicSeconds()
        try store.forEachEvent { e in
            e.writeJSON(to: &buffer)
            buffer.endLine()
            events += 1
            if buffer.bytes.count >= 1 << 16 {
                bytes += buffer.bytes.count
                buffer.bytes.removeAll(keepingCapacity: true)
            }
            return true
        }
        bytes += buffer.bytes.count
        let seconds = monotonicSeconds() - start
        report("seconds", seconds)
        report("events", events)
        report("json_bytes", bytes)
    }

    /// Replay without the JSON: every event decoded by `forEachEvent`, one field read.
    static func replayDecode(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        var events = 0
        var sum: UInt64 = 0
        let start = monotonicSeconds()
        try store.forEachEvent { e in
            events += 1
            sum &+= UInt64(e.version)
            return true
        }
        report("seconds", monotonicSeconds() - start)
        report("events", events)
        report("checksum", sum)
    }

    // MARK: rebuild, verify, show --as-of

    /// `rebuild`: every view rebuilt from the log (blue/green) on the fixture store.
    static func rebuild(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        let start = monotonicSeconds()
        let folded = try store.rebuild(views: [], progress: nil)
        report("seconds", monotonicSeconds() - start)
        report("events", folded)
    }

    /// `verify`: hash chain, indexes, and every view against a fresh fold, on the fixture store.
    static func verify(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        let start = monotonicSeconds()
        let result = try store.verify(progress: nil)
        report("seconds", monotonicSeconds() - start)
        report("events", result.events)
        if let fault = result.fault { report("fault", fault.description) }
    }

    /// `metrics --every day` over the whole log of the fixture store: one pass, the rows kept.
    static func metrics(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        let events = try store.head().position
        var movements = 0
        let start = monotonicSeconds()
        let rows = try store.metrics(MetricsQuery(every: .day)) { _ in movements += 1 }
        report("seconds", monotonicSeconds() - start)
        report("events", events)
        report("rows", rows.count)
        report("movements", movements)
        report("mrr_cents", rows.last?.mrrCents ?? 0)
    }

    /// `show subscriptions --as-of P` at `count` seeded random positions: p50 and p99 latency.
    static func asOf(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        let head = try store.head().position
        var rng = SplitMix64(seed: UInt64(args.int("seed") ?? 1))
        var latencies: [Double] = []
        var rows = 0
        for _ in 0..<(args.int("count") ?? 20) {
            let p = args.int("at").map(UInt64.init) ?? 1 + rng.next() % head
            let start = monotonicSeconds()
            let filter = ViewFilter(user: args.values["user"].map { Reference($0) }, plan: args.values["plan"].map { Reference($0) })
            rows += try store.rows(of: args.values["view"] ?? "subscriptions", filter: filter, asOf: .position(p)).count
            latencies.append(monotonicSeconds() - start)
            if args.has("verbose") { printErr("as-of \(p): \(format((monotonicSeconds() - start) * 1000, decimals: 1)) ms") }
        }
        report("p50_ms", percentile(latencies, 50) * 1000)
        report("p99_ms", percentile(latencies, 99) * 1000)
        report("first_ms", (latencies.first ?? .nan) * 1000)
        report("rows", rows)
    }

    /// `show subscriptions` as it is now, the whole view, `count` times in one process: what
    /// reading the view costs without time travel, first (cold: the process maps the pages and
    /// the result's memory afresh) and after.
    static func showNow(_ args: Arguments) throws {
        let store = try Store.open(path: args.require("store"), options: StoreOptions(create: false))
        var latencies: [Double] = []
        var rows = 0
        for _ in 0..<max(args.int("count") ?? 5, 2) {
            let start = monotonicSeconds()
            rows = try store.rows(of: "subscriptions").count
            latencies.append(monotonicSeconds() - start)
        }
        report("first_ms", latencies[0] * 1000)
        report("next_p50_ms", percentile(Array(latencies.dropFirst()), 50) * 1000)
        report("rows", rows)
    }
}

/// This process's I/O counters (`/proc/self/io`): `wchar` counts the bytes handed to write
/// calls (LMDB writes its dirty pages with `pwrite`). Its `write_bytes` is not used: on this
/// ext4 host it counted 3.84 GB for 834 MB of `pwrite`, when the block device wrote 834 MB.
func processIO() -> [String: Int] {
    var out: [String: Int] = [:]
    guard let lines = try? readLines("/proc/self/io", limit: 20) else { return out }
    for line in lines {
        let parts = line.split(separator: ":")
        if parts.count == 2, let v = Int(parts[1].trimmingPrefix(" ")) { out[String(parts[0])] = v }
    }
    return out
}

/// `--key value` arguments.
struct Arguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []

    static let flagNames: Set<String> = ["large", "huge", "json", "keep", "help", "no-build", "verbose", "postgres", "no-cli"]

    init(_ argv: [String]) throws {
        var i = 0
        while i < argv.count {
            let a = argv[i]
            guard a.hasPrefix("--") else { throw BenchError("unexpected argument \(a)") }
            var name = String(a.dropFirst(2))
            if let eq = name.firstIndex(of: "=") {
                values[String(name[..<eq])] = String(name[name.index(after: eq)...])
                i += 1
                continue
            }
            if Arguments.flagNames.contains(name) {
                flags.insert(name)
                i += 1
                continue
            }
            guard i + 1 < argv.count else { throw BenchError("--\(name) needs a value") }
            name = name.lowercased()
            values[name] = argv[i + 1]
            i += 2
        }
    }

    func require(_ key: String) -> String {
        guard let v = values[key] else { fatalError("missing --\(key)") }
        return v
    }

    func int(_ key: String) -> Int? {
        values[key].flatMap { Int($0.replacingOccurrences("_", "")) }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: String) -> String {
        var out = ""
        for c in self { if c == a { out += b } else { out.append(c) } }
        return out
    }
}
