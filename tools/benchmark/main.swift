// subledger-bench: the benchmark suite (issue 7). Run it with tools/bench.
//
//   subledger-bench [--runs 5] [--n 100000 | --large | --huge] [--single 2000] [--asof 20] [--seed 42]
//                   [--work DIR] [--json] [--keep]
//
// It writes a seeded workload (JSON Lines commands), then runs every measurement `--runs` times,
// each run in a child process of this binary (`--only NAME`) so that each measurement's peak RSS
// is its own, beside a raw LMDB baseline measured in the same way on the same entries and bytes.
// It prints the median of the runs in a table, or everything as JSON with `--json`.

#if canImport(Glibc)
import Glibc
#endif
import Subledger

let usage = """
usage: subledger-bench [options]
  --runs N      runs per measurement; the median is reported (default 5)
  --n N         commands in the exec workload (default 100000)
  --large       10^6 commands, plus exec of 10^5 more on the store holding them
  --grown N     commands exec'd on the grown store with --large (default 100000)
  --huge        the growth curve: 10^7 commands (or --n) exec'd into one store a tenth at a time,
                each beside raw appends at the same store size; then rebuild, verify, as-of (--runs 1)
  --single N    single durable commands, one transaction each (default 2000)
  --asof N      random positions for show --as-of (default 20)
  --seed S      workload seed (default 42)
  --work DIR    scratch directory for workloads and stores (default .build-bench/bench-work)
  --only NAME   run one measurement in this process (used by the suite itself), e.g. for profiling:
                  subledger-bench --only generate --n 20000 --out w.jsonl
                  valgrind --tool=callgrind subledger-bench --only exec --store /tmp/p.db --input w.jsonl
                subledger-bench --only asof-matrix --store S --count 20 [--no-cli]   (every view and filter --as-of)
                (exec also takes --lmdb-flags noReadAhead,noMetaSync,noMemoryInit,writeMap, an experiment:
                 the environment is opened with them before the store opens it)
  --postgres    the PostgreSQL backend beside raw PostgreSQL (needs SUBLEDGER_TEST_POSTGRES: tools/bench --postgres)
  --json        print the results as JSON
  --keep        keep the scratch stores afterwards
"""

do {
    let args = try Arguments(Array(CommandLine.arguments.dropFirst()))
    if args.has("help") {
        print(usage)
        exit(0)
    }
    if args.has("postgres") {
        try PostgresBench(args).run()
        fflush(nil)
        exit(0)
    }
    if let only = args.values["only"] {
        try Child.run(only, args)
        fflush(nil)
        exit(0)
    }
    try Suite(args).run()
} catch {
    fflush(nil)
    printErr("subledger-bench: \(error)")
    exit(2)
}
