#if canImport(Glibc)
import Glibc
#endif
import Subledger

/// One line of the results: a measurement's runs and its baseline's.
struct ResultRow {
    var name: String
    var unit: String
    var runs: [Double] = []
    var baselineName: String = ""
    var baselineUnit: String = ""
    var baselineRuns: [Double] = []
    var rssKiB: [Double] = []
    var baselineRSSKiB: [Double] = []
    /// Shown instead of numbers (e.g. "n/a (not yet implemented)").
    var unavailable: String?
    /// Shown in the median column instead of `median unit` (p50/p99 rows).
    var display: String?
    var baselineDisplay: String?
    /// For latencies: the ratio is baseline / measurement (below 1: slower than raw).
    var invertRatio = false
    var extra: [(String, Double)] = []

    var medianValue: Double { median(runs) }
    var baselineMedianValue: Double { median(baselineRuns) }
    var ratio: Double {
        guard !baselineRuns.isEmpty, !runs.isEmpty else { return .nan }
        return invertRatio ? baselineMedianValue / medianValue : medianValue / baselineMedianValue
    }
    var peakRSS: Double { rssKiB.max() ?? .nan }
}

final class Suite {
    let args: Arguments
    let runs: Int
    let large: Bool
    let huge: Bool
    let n: Int
    let grownN: Int
    let singleN: Int
    let asOfN: Int
    let seed: UInt64
    let work: String
    var rows: [ResultRow] = []
    var notes: [String] = []
    var workloadInfo: [(String, String)] = []
    var jsonExtra: [(String, String)] = []

    init(_ args: Arguments) throws {
        self.args = args
        runs = max(args.int("runs") ?? 5, 1)
        large = args.has("large")
        huge = args.has("huge")
        n = args.int("n") ?? (huge ? 10_000_000 : large ? 1_000_000 : 100_000)
        grownN = args.int("grown") ?? 100_000
        singleN = args.int("single") ?? 2000
        asOfN = args.int("asof") ?? 20
        seed = UInt64(args.int("seed") ?? 42)
        work = args.values["work"] ?? ".build-bench/bench-work"
    }

    func path(_ name: String) -> String { work + "/" + name }

    func progress(_ s: String) { printErr("bench: " + s) }

    func run() throws {
        _ = runTool(["/bin/mkdir", "-p", work])
        if huge { return try runHuge() }
        let workload = path("workload-\(n).jsonl")
        let grownWorkload = path("workload-grown-\(grownN).jsonl")
        let smallWorkload = path("workload-first-\(grownN).jsonl")

        // The workload: seeded, so every run and every machine executes the same commands.
        let started = monotonicSeconds()
        let generator = WorkloadGenerator(seed: seed)
        try generator.write(count: n, to: workload)
        if large {
            try generator.write(count: grownN, to: grownWorkload)
            try WorkloadGenerator(seed: seed).write(count: grownN, to: smallWorkload)
        }
        progress("wrote \(format(Double(n))) commands (\(formatMB(Double(fileSize(workload)) / 1024))) in \(format(monotonicSeconds() - started, decimals: 1)) s: \(workload)")
        func share(_ k: Int) -> String { format(100 * Double(k) / Double(generator.sequence), decimals: 1) + "%" }
        let sorted = generator.counts.sorted { $0.value > $1.value }
        let valid = sorted.filter { !$0.key.hasSuffix("(reject)") }.map { "\($0.key) \(share($0.value))" }
        let broken = sorted.filter { $0.key.hasSuffix("(reject)") }.map { "\($0.key.split(separator: " ")[0]) \(share($0.value))" }
        let mix = valid + ["rejected on purpose \(share(generator.intendedRejections)) (\(broken.joined(separator: ", ")))"]
        workloadInfo = [
            ("commands", format(Double(n))),
            ("seed", String(seed)),
            ("file_bytes", String(fileSize(workload))),
            ("mix", mix.joined(separator: ", ")),
        ]

        try measureLimits()
        let fixture = path("fixture.db"), rawFixture = path("raw-fixture.db")
        let sizes = path("sizes.bin")
        try measureExec(name: "exec \(format(Double(n))) commands, empty store", input: workload, commands: n,
                        fixture: fixture, rawFixture: rawFixture, sizes: sizes)
        if large {
            try measureExec(name: "exec \(format(Double(grownN))) commands, empty store", input: smallWorkload,
                            commands: grownN, fixture: nil, rawFixture: nil, sizes: nil)
            try measureGrown(input: grownWorkload, fixture: fixture, rawFixture: rawFixture)
        }
        try measureSingle(input: workload, sizes: sizes)
        try measureReplay(fixture: fixture, rawFixture: rawFixture)
        try measureLibraryCall("rebuild", name: "rebuild (every view)", fixture: fixture, rawFixture: rawFixture)
        try measureLibraryCall("verify", name: "verify (chain, index, views)", fixture: fixture, rawFixture: rawFixture)
        try measureAsOf(fixture: fixture, rawFixture: rawFixture)
        try measureAsOfMatrix(fixture: fixture)
        try measureMetrics(fixture: fixture, rawFixture: rawFixture)

        if !args.has("keep") {
            for p in [fixture, rawFixture, workload, grownWorkload, smallWorkload, sizes,
                      path("sizes-\(grownN).bin"), path("sizes-grown.bin")] { removeTree(p) }
        }
        if args.has("json") { print(jsonReport()) } else { print(table()) }
    }

    // MARK: the growth curve

    /// `--huge`: `n` commands (10^7) appended to one store a tenth at a time, each tenth's
    /// `exec` beside raw appends of the same event sizes to one raw environment growing alike;
    /// then rebuild, verify and `--as-of` on the store holding them all. One run of each (17
    /// minutes on the 2-core host). A tenth's workload is written just before it runs, and removed.
    func runHuge() throws {
        let started = monotonicSeconds()
        let store = path("huge.db"), raw = path("raw-huge.db")
        removeTree(store)
        removeTree(raw)
        let generator = WorkloadGenerator(seed: seed)
        let tenth = max(n / 10, 1)
        workloadInfo = [("commands", format(Double(10 * tenth))), ("seed", String(seed)), ("tenths", format(Double(tenth)) + " commands each")]
        var curve: [Double] = []
        for i in 1...10 {
            let input = path("huge-\(i).jsonl"), sizes = path("huge-sizes-\(i).bin")
            try generator.write(count: tenth, to: input)
            let head = i == 1 ? 0 : try headOf(store)
            let rep = try runChild(["--only", "exec", "--store", store, "--input", input])
            _ = try runChild(["--only", "sizes", "--store", store, "--out", sizes, "--after", String(head)])
            let base = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizes])
            removeTree(input)
            removeTree(sizes)
            let events = head + UInt64(rep.double("events"))
            var row = ResultRow(name: "exec, tenth \(i) (store \(format(Double(head))) → \(format(Double(events))) events)",
                                unit: "cmd/s", baselineName: "raw appends", baselineUnit: "puts/s")
            row.runs = [rep.double("commands") / rep.double("seconds")]
            row.rssKiB = [rep.maxRSSKiB]
            row.baselineRuns = [base.double("entries") / base.double("seconds")]
            row.baselineRSSKiB = [base.maxRSSKiB]
            row.extra = [("store_events", Double(events)), ("store_bytes", rep.double("store_bytes")),
                         ("written_bytes_per_command", rep.double("written_bytes") / rep.double("commands"))]
            rows.append(row)
            curve.append(row.medianValue)
            progress("tenth \(i)/10: \(format(row.medianValue)) cmd/s, raw \(format(row.baselineMedianValue)) puts/s, store \(formatMB(rep.double("store_bytes") / 1024)), \(format((monotonicSeconds() - started) / 60, decimals: 1)) min so far")
        }
        let ratio = curve.last! / curve.first!
        notes.append("growth: the last tenth ran at \(format(ratio, decimals: 2)) of the first tenth's commands/s (target: at least 0.5)")
        try measureLibraryCall("rebuild", name: "rebuild (every view)", fixture: store, rawFixture: raw)
        try measureLibraryCall("verify", name: "verify (chain, index, views)", fixture: store, rawFixture: raw)
        try measureAsOf(fixture: store, rawFixture: raw)
        let took = monotonicSeconds() - started
        notes.append("the whole --huge run took \(format(took)) s (\(format(took / 60, decimals: 1)) min)")
        if !args.has("keep") {
            removeTree(store)
            removeTree(raw)
        }
        if args.has("json") { print(jsonReport()) } else { print(table()) }
    }

    // MARK: raw limits

    /// The raw limits of LMDB on this machine, which every figure below is set beside: 10^6
    /// appends of 100-byte values in one transaction, a cursor scan of them, and 1-put synced
    /// commits.
    func measureLimits() throws {
        let count = 1_000_000
        let sizes = path("sizes-limits.bin"), raw = path("raw-limits.db")
        try writeSizes(sizes, Array(repeating: 100, count: count))
        var puts = ResultRow(name: "raw LMDB: 10^6 appends of 100 bytes, 1 txn", unit: "puts/s")
        var scan = ResultRow(name: "raw LMDB: cursor scan of them", unit: "entries/s")
        var commits = ResultRow(name: "raw LMDB: 1-put synced commits (\(format(Double(singleN))))", unit: "commits/s")
        for r in 1...runs {
            removeTree(raw)
            let put = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizes, "--per-txn", String(count)])
            puts.runs.append(put.double("entries") / put.double("seconds"))
            puts.rssKiB.append(put.maxRSSKiB)
            let read = try runChild(["--only", "raw-scan", "--raw", raw])
            scan.runs.append(read.double("entries") / read.double("seconds"))
            scan.rssKiB.append(read.maxRSSKiB)
            removeTree(raw)
            let single = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizes, "--limit", String(singleN), "--per-txn", "1"])
            commits.runs.append(single.double("entries") / single.double("seconds"))
            commits.rssKiB.append(single.maxRSSKiB)
            removeTree(raw)
            progress("raw limits run \(r)/\(runs): \(format(puts.runs.last!)) puts/s, scan \(format(scan.runs.last!)) entries/s, \(format(commits.runs.last!)) synced commits/s")
        }
        removeTree(sizes)
        rows += [puts, scan, commits]
    }

    // MARK: exec

    /// Runs `input` through `exec` on fresh stores, and the raw appends of the same event sizes.
    /// With `fixture`, the first run's store (and raw environment) is kept for the later measurements.
    func measureExec(name: String, input: String, commands: Int, fixture: String?, rawFixture: String?,
                     sizes: String?) throws {
        var row = ResultRow(name: name, unit: "cmd/s", baselineName: "raw appends", baselineUnit: "puts/s")
        let store = path("exec.db"), raw = path("raw.db")
        let sizesFile = sizes ?? path("sizes-\(commands).bin")
        var first = ChildReport(), firstBase = ChildReport()
        for r in 1...runs {
            removeTree(store)
            let rep = try runChild(["--only", "exec", "--store", store, "--input", input])
            row.runs.append(rep.double("commands") / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            if r == 1 {
                first = rep
                _ = try runChild(["--only", "sizes", "--store", store, "--out", sizesFile])
            }
            if r == 1, let fixture {
                removeTree(fixture)
                rename(store, fixture)
            } else {
                removeTree(store)
            }
            removeTree(raw)
            let base = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizesFile])
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            if r == 1 { firstBase = base }
            if r == 1, let rawFixture {
                removeTree(rawFixture)
                rename(raw, rawFixture)
                notes.append("raw environment for \(format(base.double("entries"))) entries: \(formatMB(Double(storeBytes(rawFixture)) / 1024)) on disk")
            } else {
                removeTree(raw)
            }
            progress("\(name) run \(r)/\(runs): \(format(row.runs.last!)) cmd/s; raw \(format(row.baselineRuns.last!)) puts/s")
        }
        addExecDetails(&row, first, commands: commands, baselineWritten: firstBase.double("written_bytes") / firstBase.double("entries"))
        rows.append(row)
    }

    func addExecDetails(_ row: inout ResultRow, _ rep: ChildReport, commands: Int, baselineWritten: Double) {
        let total = rep.double("commands"), events = rep.double("events")
        func per(_ key: String) -> Double { rep.double(key) / total }
        row.extra = [
            ("commands", total), ("ok", rep.double("ok")), ("rejected", rep.double("rejected")),
            ("duplicate", rep.double("duplicate")), ("events", events),
            ("puts_per_command", per("puts")), ("gets_per_command", per("gets")), ("dels_per_command", per("dels")),
            ("cursor_gets_per_command", per("cursor_gets")), ("cursor_opens_per_command", per("cursor_opens")),
            ("puts_per_event", rep.double("puts") / events),
            ("store_bytes", rep.double("store_bytes")), ("map_bytes", rep.double("map_bytes")),
            ("written_bytes_per_command", per("written_bytes")),
        ]
        // Calls per command by database: `db.NAME` = "puts dels gets".
        var tables: [(name: String, writes: Double, gets: Double)] = []
        for (key, value) in rep.values where key.hasPrefix("db.") {
            let n = value.split(separator: " ").compactMap { Double($0) }
            guard n.count == 3 else { continue }
            tables.append((String(key.dropFirst(3)), (n[0] + n[1]) / total, n[2] / total))
            row.extra.append(("writes_per_command." + key.dropFirst(3), (n[0] + n[1]) / total))
            row.extra.append(("gets_per_command." + key.dropFirst(3), n[2] / total))
        }
        tables.sort { $0.writes + $0.gets > $1.writes + $1.gets }
        let byTable = tables.filter { $0.writes >= 0.005 || $0.gets >= 0.005 }.map {
            "\($0.name) \(format($0.writes, decimals: 2))/\(format($0.gets, decimals: 2))"
        }
        notes.append("""
            \(row.name): \(format(total)) commands, \(format(rep.double("ok"))) ok, \(format(rep.double("rejected"))) rejected \
            (\(format(100 * rep.double("rejected") / total, decimals: 1))%); LMDB calls per command (counted): \
            \(format(per("puts"), decimals: 2)) mdb_put, \(format(per("dels"), decimals: 2)) mdb_del, \
            \(format(per("gets"), decimals: 2)) mdb_get, \(format(per("cursor_gets"), decimals: 2)) mdb_cursor_get, \
            \(format(per("cursor_opens"), decimals: 2)) mdb_cursor_open (\(format(rep.double("puts") / events, decimals: 2)) puts per appended event; \
            the baseline does 1 put per event); pages written by commits: \(format(per("written_bytes") / 1024, decimals: 1)) KiB \
            per command (pwrite bytes; the raw baseline: \(format(baselineWritten / 1024, decimals: 2)) KiB per put); \
            store \(formatMB(rep.double("store_bytes") / 1024)) on disk. Per command by table, \
            puts+dels/mdb_get (cursor reads not split): \(byTable.joined(separator: ", "))
            """)
    }

    /// exec on a copy of the store that holds the large log, beside raw appends to a copy of the
    /// raw environment that holds the same entries.
    func measureGrown(input: String, fixture: String, rawFixture: String) throws {
        let head = try headOf(fixture)
        var row = ResultRow(name: "exec \(format(Double(grownN))) commands, store holding \(format(Double(head))) events",
                            unit: "cmd/s", baselineName: "raw appends", baselineUnit: "puts/s")
        let store = path("grown.db"), raw = path("raw-grown.db"), sizes = path("sizes-grown.bin")
        var first = ChildReport(), firstBase = ChildReport()
        for r in 1...runs {
            try copyTree(fixture, store)
            let rep = try runChild(["--only", "exec", "--store", store, "--input", input])
            row.runs.append(rep.double("commands") / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            if r == 1 {
                first = rep
                _ = try runChild(["--only", "sizes", "--store", store, "--out", sizes, "--after", String(head)])
            }
            removeTree(store)
            try copyTree(rawFixture, raw)
            let base = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizes])
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            if r == 1 { firstBase = base }
            removeTree(raw)
            progress("grown exec run \(r)/\(runs): \(format(row.runs.last!)) cmd/s; raw \(format(row.baselineRuns.last!)) puts/s")
        }
        addExecDetails(&row, first, commands: grownN, baselineWritten: firstBase.double("written_bytes") / firstBase.double("entries"))
        rows.append(row)
    }

    func headOf(_ store: String) throws -> UInt64 {
        try Store.open(path: store, options: StoreOptions(create: false)).head().position
    }

    // MARK: single durable commands

    func measureSingle(input: String, sizes: String) throws {
        var row = ResultRow(name: "single durable commands (\(format(Double(singleN))), 1 txn each)", unit: "cmd/s",
                            baselineName: "raw 1-put synced commits", baselineUnit: "commits/s")
        let store = path("single.db"), raw = path("raw-single.db")
        var p50: [Double] = [], p99: [Double] = []
        for r in 1...runs {
            removeTree(store)
            let rep = try runChild(["--only", "single", "--store", store, "--input", input, "--count", String(singleN)])
            row.runs.append(rep.double("commands") / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            p50.append(rep.double("p50_ms"))
            p99.append(rep.double("p99_ms"))
            removeTree(store)
            removeTree(raw)
            let base = try runChild(["--only", "raw-put", "--raw", raw, "--sizes", sizes, "--limit", String(singleN),
                                     "--per-txn", "1"])
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            removeTree(raw)
            progress("single run \(r)/\(runs): \(format(row.runs.last!)) cmd/s; raw \(format(row.baselineRuns.last!)) commits/s")
        }
        row.extra = [("latency_p50_ms", median(p50)), ("latency_p99_ms", median(p99))]
        notes.append("\(row.name): latency p50 \(format(median(p50), decimals: 2)) ms, p99 \(format(median(p99), decimals: 2)) ms (medians over runs)")
        rows.append(row)
    }

    // MARK: replay

    func measureReplay(fixture: String, rawFixture: String) throws {
        var decode = ResultRow(name: "replay, decode only", unit: "events/s", baselineName: "raw cursor scan",
                               baselineUnit: "entries/s")
        var row = ResultRow(name: "replay --json", unit: "events/s", baselineName: "raw cursor scan", baselineUnit: "entries/s")
        var events = 0.0, jsonBytes = 0.0
        for r in 1...runs {
            let rep = try runChild(["--only", "replay", "--store", fixture])
            events = rep.double("events")
            jsonBytes = rep.double("json_bytes")
            row.runs.append(events / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            let base = try runChild(["--only", "raw-scan", "--raw", rawFixture])
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            let d = try runChild(["--only", "replay-decode", "--store", fixture])
            decode.runs.append(d.double("events") / d.double("seconds"))
            decode.rssKiB.append(d.maxRSSKiB)
            decode.baselineRuns.append(row.baselineRuns.last!)
            decode.baselineRSSKiB.append(base.maxRSSKiB)
            progress("replay run \(r)/\(runs): \(format(row.runs.last!)) events/s, decode only \(format(decode.runs.last!)) events/s; raw scan \(format(row.baselineRuns.last!)) entries/s")
        }
        row.name = "replay --json (\(format(events)) events)"
        row.extra = [("events", events), ("json_bytes", jsonBytes)]
        notes.append("\(row.name): \(formatMB(jsonBytes / 1024)) of JSON lines per replay, discarded; the raw scan reads every value byte")
        rows.append(row)
        decode.name = "replay, decode only (\(format(events)) events)"
        rows.append(decode)
    }

    // MARK: rebuild, verify, show --as-of

    /// A whole-log library call (rebuild, verify), beside a raw scan of the same events.
    func measureLibraryCall(_ only: String, name: String, fixture: String, rawFixture: String) throws {
        var row = ResultRow(name: name, unit: "events/s", baselineName: "raw cursor scan", baselineUnit: "entries/s")
        for r in 1...runs {
            let rep = try runChild(["--only", only, "--store", fixture])
            if rep.values["unavailable"] != nil {
                row.unavailable = "n/a (not yet implemented)"
                break
            }
            if let fault = rep.values["fault"], !notes.contains(where: { $0.contains(fault) }) {
                notes.append("\(name) found a FAULT: \(fault)")
            }
            row.runs.append(rep.double("events") / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            let base = try runChild(["--only", "raw-scan", "--raw", rawFixture])
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            progress("\(only) run \(r)/\(runs): \(format(row.runs.last!)) events/s")
        }
        rows.append(row)
    }

    /// `metrics --every day` over the whole log (one pass: reading and decoding on one core, the
    /// fold of MRR on the other), beside a raw cursor scan of the same number of entries.
    func measureMetrics(fixture: String, rawFixture: String) throws {
        var row = ResultRow(name: "metrics --every day (whole log)", unit: "events/s", baselineName: "raw cursor scan",
                            baselineUnit: "entries/s")
        var seconds: [Double] = [], baseSeconds: [Double] = []
        var events = 0.0, periods = 0.0, movements = 0.0
        for r in 1...runs {
            let rep = try runChild(["--only", "metrics", "--store", fixture])
            events = rep.double("events")
            periods = rep.double("rows")
            movements = rep.double("movements")
            seconds.append(rep.double("seconds"))
            row.runs.append(events / rep.double("seconds"))
            row.rssKiB.append(rep.maxRSSKiB)
            let base = try runChild(["--only", "raw-scan", "--raw", rawFixture])
            baseSeconds.append(base.double("seconds"))
            row.baselineRuns.append(base.double("entries") / base.double("seconds"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            progress("metrics run \(r)/\(runs): \(format(seconds.last!, decimals: 3)) s, \(format(row.runs.last!)) events/s")
        }
        row.name = "metrics --every day (\(format(events)) events, \(format(periods)) rows)"
        row.extra = [("seconds", median(seconds)), ("baseline_seconds", median(baseSeconds)), ("rows", periods),
                     ("movements", movements)]
        notes.append("\(row.name): \(format(median(seconds), decimals: 3)) s a run (median), the raw scan of the same entries \(format(median(baseSeconds), decimals: 3)) s; \(format(movements)) MRR movements classified")
        rows.append(row)
    }

    /// `show --as-of` latencies, beside raw scans of the same log prefixes. For latencies the
    /// ratio is baseline / measurement, so that below 1 means slower than raw, as for the rates.
    func measureAsOf(fixture: String, rawFixture: String) throws {
        var row = ResultRow(name: "show subscriptions --as-of (\(asOfN) random positions)", unit: "ms",
                            baselineName: "raw scan of the prefix", baselineUnit: "ms")
        var p99: [Double] = [], baseP99: [Double] = [], first: [Double] = []
        // The largest view, and the one whose rows hold strings: the same positions.
        var users = ResultRow(name: "show users --as-of (the same positions)", unit: "ms",
                              baselineName: "raw scan of the prefix", baselineUnit: "ms")
        var usersP99: [Double] = [], usersFirst: [Double] = []
        var now = ResultRow(name: "show subscriptions now, whole view (no --as-of)", unit: "ms")
        var nowNext: [Double] = [], nowRows = 0.0
        let head = try headOf(fixture)
        for r in 1...runs {
            let seedText = String(seed &+ UInt64(r))
            let rep = try runChild(["--only", "asof", "--store", fixture, "--count", String(asOfN), "--seed", seedText])
            if rep.values["unavailable"] != nil {
                row.unavailable = "n/a (not yet implemented)"
                break
            }
            row.runs.append(rep.double("p50_ms"))
            p99.append(rep.double("p99_ms"))
            first.append(rep.double("first_ms"))
            row.rssKiB.append(rep.maxRSSKiB)
            let u = try runChild(["--only", "asof", "--store", fixture, "--count", String(asOfN), "--seed", seedText, "--view", "users"])
            users.runs.append(u.double("p50_ms"))
            usersP99.append(u.double("p99_ms"))
            usersFirst.append(u.double("first_ms"))
            users.rssKiB.append(u.maxRSSKiB)
            let shown = try runChild(["--only", "show-now", "--store", fixture])
            now.runs.append(shown.double("first_ms"))
            nowNext.append(shown.double("next_p50_ms"))
            nowRows = shown.double("rows")
            now.rssKiB.append(shown.maxRSSKiB)
            let base = try runChild(["--only", "raw-scan-prefix", "--raw", rawFixture, "--count", String(asOfN),
                                     "--seed", seedText, "--head", String(head)])
            row.baselineRuns.append(base.double("p50_ms"))
            baseP99.append(base.double("p99_ms"))
            row.baselineRSSKiB.append(base.maxRSSKiB)
            users.baselineRuns.append(base.double("p50_ms"))
            users.baselineRSSKiB.append(base.maxRSSKiB)
            progress("as-of run \(r)/\(runs): p50 \(format(row.runs.last!, decimals: 2)) ms, p99 \(format(p99.last!, decimals: 2)) ms")
        }
        if !row.runs.isEmpty {
            row.display = "p50 \(format(median(row.runs), decimals: 1)) ms, p99 \(format(median(p99), decimals: 1)) ms, first query \(format(median(first), decimals: 1)) ms"
            row.baselineDisplay = "p50 \(format(median(row.baselineRuns), decimals: 2)) ms, p99 \(format(median(baseP99), decimals: 2)) ms (\(row.baselineName))"
            row.invertRatio = true
            row.extra = [("p50_ms", median(row.runs)), ("p99_ms", median(p99)),
                         ("baseline_p50_ms", median(row.baselineRuns)), ("baseline_p99_ms", median(baseP99)),
                         ("first_query_ms", median(first))]
            users.display = "p50 \(format(median(users.runs), decimals: 1)) ms, p99 \(format(median(usersP99), decimals: 1)) ms, first query \(format(median(usersFirst), decimals: 1)) ms"
            users.baselineDisplay = row.baselineDisplay
            users.invertRatio = true
            users.extra = [("p50_ms", median(users.runs)), ("p99_ms", median(usersP99)), ("first_query_ms", median(usersFirst))]
            now.name = "show subscriptions now, whole view of \(format(nowRows)) rows (no --as-of)"
            now.display = "first query \(format(median(now.runs), decimals: 1)) ms, next p50 \(format(median(nowNext), decimals: 1)) ms"
            now.extra = [("first_query_ms", median(now.runs)), ("next_p50_ms", median(nowNext)), ("rows", nowRows)]
        }
        rows.append(row)
        if !users.runs.isEmpty { rows.append(users) }
        if !now.runs.isEmpty { rows.append(now) }
    }

    /// `show VIEW --as-of` for every view and filter kind, `--limit 10` and whole: one child
    /// (its `--asof` seeded positions, the same for every case), in-process and as `subledger`
    /// processes, beside the process floor.
    func measureAsOfMatrix(fixture: String) throws {
        let rep = try runChild(["--only", "asof-matrix", "--store", fixture, "--count", String(asOfN), "--seed", String(seed)])
        if let floor = rep.values["floor"]?.split(separator: " ").compactMap({ Double($0) }), floor.count == 3 {
            var row = ResultRow(name: "subledger stats (process floor, \(asOfN) processes)", unit: "ms")
            row.runs = [floor[0]]
            row.display = "p50 \(format(floor[0], decimals: 1)) ms, p95 \(format(floor[1], decimals: 1)) ms, p99 \(format(floor[2], decimals: 1)) ms"
            row.extra = [("p50_ms", floor[0]), ("p95_ms", floor[1]), ("p99_ms", floor[2])]
            rows.append(row)
        }
        for (view, filters) in AsOfMatrix.cases {
            for f in filters {
                for limit in ["10", "all"] {
                    guard let v = rep.values["case.\(view).\(f).\(limit)"]?.split(separator: " ").compactMap({ Double($0) }), v.count == 6 else { continue }
                    // "paid" is `--plan` of the first paid plan (AsOfMatrix.cases).
                    let filter = f == "-" ? "" : f == "paid" ? " --plan Y" : " --\(f) X"
                    let shown = limit == "all" ? "" : " --limit 10"
                    var row = ResultRow(name: "show \(view) --as-of P\(filter)\(shown) (\(format(v[5], decimals: 0)) rows)", unit: "ms")
                    row.runs = [v[0]]
                    row.rssKiB = [rep.maxRSSKiB]
                    row.display = "p50 \(format(v[0], decimals: 1)), p99 \(format(v[1], decimals: 1)); process p50 \(format(v[2], decimals: 1)), p95 \(format(v[3], decimals: 1)), p99 \(format(v[4], decimals: 1)) ms"
                    row.extra = [("p50_ms", v[0]), ("p99_ms", v[1]), ("process_p50_ms", v[2]), ("process_p95_ms", v[3]),
                                 ("process_p99_ms", v[4]), ("rows", v[5])]
                    rows.append(row)
                }
            }
        }
        progress("as-of matrix: \(rep.values.count) cases measured")
    }

    // MARK: Output

    func table() -> String {
        let header = ["measurement", "median", "baseline (raw LMDB, median)", "ratio", "peak RSS"]
        var cells: [[String]] = [header]
        for row in rows {
            if let unavailable = row.unavailable {
                cells.append([row.name, unavailable, "", "", ""])
                continue
            }
            let value = row.display ?? "\(format(row.medianValue)) \(row.unit)"
            let base = row.baselineRuns.isEmpty ? "-"
                : row.baselineDisplay ?? "\(format(row.baselineMedianValue)) \(row.baselineUnit) (\(row.baselineName))"
            cells.append([row.name, value, base, row.baselineRuns.isEmpty ? "-" : formatRatio(row.ratio), formatMB(row.peakRSS)])
        }
        let widths = header.indices.map { c in cells.map { $0[c].count }.max()! }
        var out = ""
        for (i, line) in cells.enumerated() {
            out += line.indices.map { c in pad(line[c], widths[c], right: c == 1 || c == 3 || c == 4) }
                .joined(separator: "  ").trailingSpacesRemoved + "\n"
            if i == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        out += "\n"
        out += "Median of \(runs) runs each. ratio = median / baseline median (for latencies baseline / median), so\n"
        out += "below 1 is slower than raw LMDB. Peak RSS = the largest ru_maxrss of the measurement's child\n"
        out += "processes (one process per run; it includes the LMDB map pages the process touched).\n"
        out += "Workload: \(workloadInfo.map { "\($0.0) \($0.1)" }.joined(separator: "; "))\n"
        for note in notes { out += "- " + note + "\n" }
        return out
    }

    func jsonReport() -> String {
        var out = "{"
        out += "\"machine\":{\"cores\":\(sysconf(Int32(_SC_NPROCESSORS_ONLN))),\"cpu\":\(jsonString(cpuModel()))},"
        out += "\"config\":{\"runs\":\(runs),\"n\":\(n),\"large\":\(large),\"grown\":\(grownN),\"single\":\(singleN),\"asof\":\(asOfN),\"seed\":\(seed)},"
        out += "\"workload\":{" + workloadInfo.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "},"
        out += "\"measurements\":[" + rows.map { row in
            var o = "{\"name\":\(jsonString(row.name))"
            if let u = row.unavailable {
                return o + ",\"unavailable\":\(jsonString(u))}"
            }
            o += ",\"unit\":\(jsonString(row.unit)),\"median\":\(jsonNumber(row.medianValue))"
            o += ",\"runs\":[" + row.runs.map(jsonNumber).joined(separator: ",") + "]"
            o += ",\"peak_rss_kib\":\(jsonNumber(row.peakRSS))"
            if !row.baselineRuns.isEmpty {
                o += ",\"baseline\":{\"name\":\(jsonString(row.baselineName)),\"unit\":\(jsonString(row.baselineUnit))"
                o += ",\"median\":\(jsonNumber(row.baselineMedianValue)),\"runs\":[" + row.baselineRuns.map(jsonNumber).joined(separator: ",") + "]"
                o += ",\"peak_rss_kib\":\(jsonNumber(row.baselineRSSKiB.max() ?? .nan))}"
                o += ",\"ratio\":\(jsonNumber(row.ratio))"
            }
            if !row.extra.isEmpty {
                o += ",\"details\":{" + row.extra.map { "\(jsonString($0.0)):\(jsonNumber($0.1))" }.joined(separator: ",") + "}"
            }
            return o + "}"
        }.joined(separator: ",") + "],"
        out += "\"notes\":[" + notes.map(jsonString).joined(separator: ",") + "]"
        return out + "}"
    }
}

func cpuModel() -> String {
    guard let lines = try? readLines("/proc/cpuinfo", limit: 200) else { return "unknown" }
    for line in lines where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") { return String(line[line.index(after: colon)...].drop { $0 == " " }) }
    }
    return "unknown"
}

extension String {
    var trailingSpacesRemoved: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
