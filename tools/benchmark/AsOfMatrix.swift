import Subledger
#if canImport(Glibc)
import Glibc
#endif

/// `show VIEW --as-of P` for every view and each filter it takes, with `--limit 10` and whole,
/// at the same seeded positions: in this process (the library call), and as whole `subledger`
/// processes (output to /dev/null), beside the process floor (`subledger stats`).
enum AsOfMatrix {
    /// The views and the filters each takes (docs/cli.md's filter table); "-" is none. "plan"
    /// is the first plan (the workload's free one), "paid" `--plan` of the first paid plan.
    static let cases: [(view: String, filters: [String])] = [
        ("subscriptions", ["-", "user", "plan", "paid"]), ("users", ["-", "user", "plan", "paid", "group"]),
        ("plans", ["-", "user", "plan"]), ("team_plans", ["-", "user", "plan"]), ("groups", ["-", "user", "group"]),
        ("memberships", ["-", "user", "group"]), ("active_subscriptions", ["-", "user", "plan", "paid"]),
        ("paying_subscriptions", ["-", "user", "plan", "paid"]), ("recent_memberships", ["-", "user", "group"]),
    ]

    /// The CLI beside this binary (tools/bench builds both).
    static func cli() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "subledger-bench"
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/subledger"
    }

    /// Runs `argv` with stdout and stderr to /dev/null: its wall time in seconds, or nil when it failed.
    static func timeProcess(_ argv: [String]) -> Double? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid = pid_t()
        let start = monotonicSeconds()
        guard posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let seconds = monotonicSeconds() - start
        return status == 0 ? seconds : nil
    }

    /// `--only asof-matrix --store S [--count 20] [--seed N] [--no-cli]`: one line per case,
    /// `case.VIEW.FILTER.LIMIT p50 p99 cli_p50 cli_p95 cli_p99 rows` (ms), and `floor p50 p95 p99`.
    static func run(_ args: Arguments) throws {
        let path = args.require("store")
        let store = try Store.open(path: path, options: StoreOptions(create: false))
        let head = try store.head().position
        let count = args.int("count") ?? 20
        // The first user, plan and group: they exist at every position measured.
        func first(_ view: String) throws -> String {
            guard let id = try store.rows(of: view, limit: 1).first?["id"]?.text else { throw BenchError("no \(view) to filter by") }
            return id
        }
        guard let paid = try store.rows(of: "plans").first(where: { ($0["price_cents"]?.text).flatMap { Int($0) } ?? 0 > 0 })?["id"]?.text else {
            throw BenchError("no paid plan to filter by")
        }
        let refs = ["user": try first("users"), "plan": try first("plans"), "paid": paid, "group": try first("groups")]
        var rng = SplitMix64(seed: UInt64(args.int("seed") ?? 1))
        let low = head / 100 + 1
        let positions = (0..<count).map { _ in low + rng.next() % (head - low + 1) }
        // The process's first query maps the store's pages afresh: reported apart, as the
        // base view's "first query" is.
        let first = monotonicSeconds()
        _ = try store.rows(of: "users", limit: 10, asOf: .position(low))
        report("first_ms", (monotonicSeconds() - first) * 1000)
        let cli = cli(), withCLI = !args.has("no-cli")
        if withCLI {
            var floor: [Double] = []
            for _ in 0..<count { if let s = timeProcess([cli, "--store", path, "stats"]) { floor.append(s * 1000) } }
            report("floor", "\(percentile(floor, 50)) \(percentile(floor, 95)) \(percentile(floor, 99))")
        }
        for (view, filters) in cases {
            for f in filters {
                let flag = f == "paid" ? "plan" : f
                let filter = ViewFilter(user: flag == "user" ? Reference(refs[f]!) : nil,
                                        plan: flag == "plan" ? Reference(refs[f]!) : nil,
                                        group: flag == "group" ? Reference(refs[f]!) : nil)
                for limit in [10, nil] as [Int?] {
                    var inProcess: [Double] = [], process: [Double] = []
                    var rows = 0
                    for p in positions {
                        let start = monotonicSeconds()
                        rows += try store.rows(of: view, filter: filter, limit: limit, asOf: .position(p)).count
                        inProcess.append((monotonicSeconds() - start) * 1000)
                    }
                    if withCLI {
                        for p in positions {
                            var argv = [cli, "--store", path, "show", view, "--as-of", String(p)]
                            if f != "-" { argv += ["--\(flag)", refs[f]!] }
                            if let limit { argv += ["--limit", String(limit)] }
                            guard let s = timeProcess(argv) else { throw BenchError("\(argv.joined(separator: " ")) failed") }
                            process.append(s * 1000)
                        }
                    }
                    let cliFigures = withCLI ? "\(percentile(process, 50)) \(percentile(process, 95)) \(percentile(process, 99))" : "nan nan nan"
                    report("case.\(view).\(f).\(limit.map(String.init) ?? "all")",
                           "\(percentile(inProcess, 50)) \(percentile(inProcess, 99)) \(cliFigures) \(rows / max(count, 1))")
                }
            }
        }
    }
}
