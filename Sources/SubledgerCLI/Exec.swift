import ArgumentParser
import Subledger
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
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
        let json = self.json  // read once: an ArgumentParser @Flag is slow to read, and this runs per command
        do {
            summary = try store.exec(LineReader(fd: fd)) { results in
                for r in results {
                    if json { Output.jsonLine { r.writeJSON(to: &$0) } } else { Output.line(r.text) }
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
