import ArgumentParser
import Subledger
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run JSON Lines commands from FILE or stdin.",
        discussion: """
        Each line is one command. With --json, one line per command goes to stdout:
          {"line":N,"status":"ok"|"duplicate"|"rejected","positions":[...],"id":"...","error":"..."}
        An ok line is printed only once its command is durable. A summary goes to stderr.
        Exit status: 0 when no command was rejected, 1 otherwise.

        Example:
          subledger exec --json fixtures/demo/commands.jsonl
        """)

    @OptionGroup var location: StoreLocation
    @Flag(help: "Machine output: one JSON object per command.") var json = false
    @Argument(help: "A JSON Lines file (default: stdin).") var file: String?

    func run() throws {
        let store = try location.open(create: true)
        var fd: Int32 = 0
        if let file {
            fd = Glibc.open(file, O_RDONLY)
            guard fd >= 0 else { throw Failure(message: "cannot open \(file): \(String(cString: strerror(errno)))") }
        }
        defer { if fd != 0 { close(fd) } }
        let progress = Progress(enabled: Output.stderrIsTerminal, unit: "commands")
        let summary: ExecSummary
        do {
            summary = try store.exec(LineReader(fd: fd)) { results in
                for r in results {
                    if json { Output.line(r.json) } else { Output.line(r.text) }
                }
                Output.flush()
                progress.advance(by: results.count)
            }
        } catch let error as StoreError {
            progress.finish()
            throw Failure(message: error.description)
        }
        progress.finish()
        Output.info("exec: \(summary.total) commands: \(summary.ok) ok, \(summary.duplicate) duplicate, \(summary.rejected) rejected")
        if summary.rejected > 0 { throw Failure(message: "", code: 1) }
    }
}

/// A live progress line on stderr, only when stderr is a terminal.
final class Progress {
    let enabled: Bool
    let unit: String
    let total: Int?
    let started = Timestamp.now()
    var done = 0
    var lastDrawn = Timestamp(microseconds: 0)

    init(enabled: Bool, unit: String, total: Int? = nil) {
        self.enabled = enabled
        self.unit = unit
        self.total = total
    }

    func advance(by n: Int) {
        done += n
        guard enabled else { return }
        let now = Timestamp.now()
        guard now.microseconds - lastDrawn.microseconds > 200_000 else { return }
        lastDrawn = now
        draw(now)
    }

    func draw(_ now: Timestamp) {
        let seconds = max(Double(now.microseconds - started.microseconds) / 1e6, 0.001)
        let rate = Double(done) / seconds
        var line = "\r\u{1B}[K\(done) \(unit), \(Int(rate))/s"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            let left = rate > 0 ? Double(total - done) / rate : 0
            line = "\r\u{1B}[K[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                + "] \(Int(fraction * 100))% \(done)/\(total) \(unit), \(Int(rate))/s, \(Int(left.rounded()))s left"
        }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
    }

    func finish() {
        guard enabled, done > 0 else { return }
        draw(Timestamp.now())
        _ = write(2, "\n", 1)
    }
}
