import Dispatch
import PostgresNIO
import Subledger
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `subledger-bench --postgres`: the PostgreSQL backend beside raw PostgreSQL on the same
/// server, in the same run (`tools/bench --postgres` starts a private server). Each row is the
/// median of `--runs` runs in this process; the raw baselines use the same event bytes:
///
/// - bulk inserts of the ledger's stored records into a bare table (`position`, `record`), 4,096
///   rows a statement with array parameters (what the backend's batches do; COPY is not used);
/// - one-row inserts, each its own synced commit;
/// - a scan of the bare table in position order.
struct PostgresBench {
    let server: String
    let n: Int
    let runs: Int
    let single: Int
    let seed: UInt64
    let work: String

    init(_ args: Arguments) throws {
        guard let server = getenv("SUBLEDGER_TEST_POSTGRES").map({ String(cString: $0) }) else {
            throw BenchError("--postgres needs a server: run it as tools/bench --postgres")
        }
        self.server = server
        n = args.int("n") ?? 20_000
        runs = args.int("runs") ?? 3
        single = args.int("single") ?? 500
        seed = UInt64(args.int("seed") ?? 42)
        work = args.values["work"] ?? ".build-bench/bench-work"
    }

    func ledger(_ name: String) -> String { server + "&ledger=" + name }

    func run() throws {
        _ = mkdir(work, 0o755)
        let input = work + "/pg-workload.jsonl"
        try WorkloadGenerator(seed: seed).write(count: n, to: input)
        var rows: [(String, String, String, String)] = []
        func add(_ name: String, _ value: Double, _ unit: String, _ base: Double?, _ baseText: String) {
            let ratio = base.map { format(value / $0, decimals: 3) } ?? "-"
            rows.append((name, "\(format(value)) \(unit)", baseText, ratio))
        }

        var exec: [Double] = [], rawBulk: [Double] = [], events = 0
        var replay: [Double] = [], scan: [Double] = [], rebuild: [Double] = [], asOfP50: [Double] = [], asOfP99: [Double] = []
        var singles: [Double] = [], rawCommits: [Double] = [], writers: [Double] = []
        let raw = try RawPostgres(server)
        for r in 1...runs {
            // exec of the workload into a fresh ledger, then reads of it.
            let name = "bench_exec_\(r)"
            try raw.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE")
            let store = try Store.open(ledger(name))
            let fd = open(input, O_RDONLY)
            var start = monotonicSeconds()
            let summary = try store.exec(LineReader(fd: fd)) { _ in }
            close(fd)
            exec.append(Double(summary.total) / (monotonicSeconds() - start))
            events = Int(try store.head().position)

            start = monotonicSeconds()
            var seen = 0
            try store.forEachEvent { _ in seen += 1; return true }
            replay.append(Double(seen) / (monotonicSeconds() - start))

            start = monotonicSeconds()
            try store.rebuild()
            rebuild.append(Double(events) / (monotonicSeconds() - start))

            var rng = SplitMix64(seed: seed &+ UInt64(r))
            var latencies: [Double] = []
            for _ in 0..<20 {
                let p = 1 + rng.next() % UInt64(events)
                start = monotonicSeconds()
                _ = try store.rows(of: "subscriptions", asOf: .position(p))
                latencies.append((monotonicSeconds() - start) * 1000)
            }
            asOfP50.append(percentile(latencies, 50))
            asOfP99.append(percentile(latencies, 99))

            // The raw baselines on the same bytes.
            let records = try raw.records(schema: name)
            rawBulk.append(try raw.bulkInsert(records))
            scan.append(try raw.scan())
            store.close()
            try raw.execute("DROP SCHEMA \"\(name)\" CASCADE")

            // Single durable commands, each its own transaction, beside one-row synced commits.
            let one = try Store.open(ledger("bench_single_\(r)"))
            start = monotonicSeconds()
            for i in 0..<single {
                _ = try one.execute(line: #"{"command":"CreateGroup","name":"g\#(i)"}"#)
            }
            singles.append(Double(single) / (monotonicSeconds() - start))
            one.close()
            try raw.execute("DROP SCHEMA \"bench_single_\(r)\" CASCADE")
            rawCommits.append(try raw.oneRowCommits(single))

            // 4 writers on one ledger at once, each its own connection and names, batches of 100.
            let shared = "bench_writers_\(r)"
            try Store.open(ledger(shared)).close()
            let each = n / 4
            let done = DispatchGroup()
            let failures = Mutex<[String]>([])
            start = monotonicSeconds()
            for w in 0..<4 {
                done.enter()
                DispatchQueue.global().async { [self] in
                    defer { done.leave() }
                    do {
                        let s = try Store.open(ledger(shared))
                        for b in stride(from: 0, to: each, by: 100) {
                            _ = try s.execute(batch: (b..<min(b + 100, each)).map {
                                CommandDecoder.decode(line: #"{"command":"RegisterUser","email":"w\#(w)-\#($0)@example.com"}"#)
                            })
                        }
                        s.close()
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            done.wait()
            writers.append(Double(each * 4) / (monotonicSeconds() - start))
            if let failure = failures.withLock({ $0.first }) { throw BenchError("a writer failed: \(failure)") }
            try raw.execute("DROP SCHEMA \"\(shared)\" CASCADE")
            printErr("bench postgres run \(r)/\(runs): exec \(format(exec.last!)) cmd/s, raw bulk \(format(rawBulk.last!)) rows/s")
        }
        add("exec \(format(Double(n))) commands (batches of up to 4,096), empty ledger", median(exec), "cmd/s",
            median(rawBulk), "\(format(median(rawBulk))) rows/s (raw bulk inserts of the same records)")
        add("single durable commands (\(single), 1 transaction each)", median(singles), "cmd/s",
            median(rawCommits), "\(format(median(rawCommits))) commits/s (raw one-row synced inserts)")
        add("4 writers on one ledger, batches of 100", median(writers), "cmd/s", nil, "-")
        add("replay (\(format(Double(events))) events, decoded)", median(replay), "events/s",
            median(scan), "\(format(median(scan))) rows/s (raw scan of the records)")
        add("rebuild (every view)", median(rebuild), "events/s", median(scan), "raw scan")
        rows.append(("show subscriptions --as-of (20 random positions)",
                     "p50 \(format(median(asOfP50), decimals: 1)) ms, p99 \(format(median(asOfP99), decimals: 1)) ms", "-", "-"))
        let header = ("measurement", "median", "baseline (raw PostgreSQL, same run)", "ratio")
        let all = [header] + rows
        let widths = [all.map(\.0.count).max()!, all.map(\.1.count).max()!, all.map(\.2.count).max()!, all.map(\.3.count).max()!]
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        for row in all {
            print([pad(row.0, widths[0]), pad(row.1, widths[1]), pad(row.2, widths[2]), row.3].joined(separator: "  "))
        }
        print("\nMedian of \(runs) runs in one process, against a private server on a unix socket (fsync and synchronous_commit on).")
    }
}

/// Raw PostgreSQL on the same server: the baselines.
final class RawPostgres {
    let connection: PostgresConnection
    let logger = Logger(label: "bench")

    init(_ url: String) throws {
        // The test server's URL: postgresql:///postgres?host=DIR&user=postgres
        let host = url.split(separator: "host=").last.map { String($0.split(separator: "&").first ?? "") } ?? "/tmp"
        let configuration = PostgresConnection.Configuration(unixSocketPath: host + "/.s.PGSQL.5432", username: "postgres",
                                                             password: nil, database: "postgres")
        connection = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                    id: 1, logger: logger).wait()
        try execute("DROP TABLE IF EXISTS bench_raw")
        try execute("CREATE TABLE bench_raw (position bigint PRIMARY KEY, record bytea NOT NULL)")
    }

    deinit { try? connection.close().wait() }

    @discardableResult
    func execute(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws -> PostgresQueryResult {
        try connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).wait()
    }

    /// The stored records of a ledger, in position order.
    func records(schema: String) throws -> [(Int64, ByteBuffer)] {
        try execute("SELECT position, record FROM \"\(schema)\".events ORDER BY position").rows.map {
            let r = $0.makeRandomAccess()
            return (try r[0].decode(Int64.self), try r[1].decode(ByteBuffer.self))
        }
    }

    /// Rows a second, inserting `records` into the bare table 4,096 a statement, one transaction.
    func bulkInsert(_ records: [(Int64, ByteBuffer)]) throws -> Double {
        try execute("TRUNCATE bench_raw")
        let start = monotonicSeconds()
        try execute("BEGIN")
        for chunk in stride(from: 0, to: records.count, by: 4096) {
            let part = records[chunk..<min(chunk + 4096, records.count)]
            var binds = PostgresBindings()
            binds.append(part.map(\.0))
            binds.append(part.map(\.1))
            try execute("INSERT INTO bench_raw SELECT * FROM unnest($1::int8[], $2::bytea[])", binds)
        }
        try execute("COMMIT")
        return Double(records.count) / (monotonicSeconds() - start)
    }

    /// Rows a second, reading the bare table in position order.
    func scan() throws -> Double {
        let start = monotonicSeconds()
        let count = try execute("SELECT position, record FROM bench_raw ORDER BY position").rows.count
        return Double(count) / (monotonicSeconds() - start)
    }

    /// Commits a second, one-row inserts each its own synced transaction.
    func oneRowCommits(_ count: Int) throws -> Double {
        try execute("TRUNCATE bench_raw")
        let start = monotonicSeconds()
        for i in 0..<count {
            var binds = PostgresBindings()
            binds.append(Int64(i))
            binds.append(ByteBuffer(bytes: [UInt8](repeating: 7, count: 300)))
            try execute("INSERT INTO bench_raw VALUES ($1, $2)", binds)
        }
        return Double(count) / (monotonicSeconds() - start)
    }
}
