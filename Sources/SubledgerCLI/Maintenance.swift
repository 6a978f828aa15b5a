import ArgumentParser
import Subledger
#if canImport(Glibc)
import Glibc
#endif

struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild the views from the log, blue/green, while others keep reading and writing.",
        discussion: """
        The log is folded into fresh databases, which catch up with events appended meanwhile
        and are then switched in by one short transaction. The views share one fold, so naming
        views checks the names and rebuilds them all. last_seen survives. --snapshots also
        drops the view snapshots of show --as-of and takes them again from the log.

        Examples:
          subledger rebuild
          subledger rebuild users --progress
          subledger rebuild --snapshots
        """)

    @OptionGroup var location: StoreLocation
    @Argument(help: "Views to rebuild (default: all).") var views: [String] = []
    @Flag(help: "Show a progress bar on stderr (when it is a terminal).") var progress = false
    @Flag(help: "Take the view snapshots of --as-of again too.") var snapshots = false

    func run() throws {
        let store = try location.open()
        let bar = Progress(enabled: progress && Output.stderrIsTerminal, unit: "events")
        let started = Timestamp.now()
        let events: UInt64
        do { events = try store.rebuild(views: views) { bar.update(done: $0, total: $1) } } catch {
            throw Failure(message: error.description)
        }
        bar.finish()
        if snapshots {
            do { try store.rebuildSnapshots() } catch { throw Failure(message: error.description) }
        }
        let seconds = Double(Timestamp.now().microseconds - started.microseconds) / 1e6
        Output.info("rebuilt \(store.viewNames.count) views from \(events) events in \(seconds.formatted(decimals: 2)) s")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the hash chain, the indexes and every view against a fresh fold of the log.",
        discussion: """
        Exits 0 with a one-line summary when the store is sound, 1 with the first fault found.

        Examples:
          subledger verify
          subledger verify --json
        """)

    @OptionGroup var location: StoreLocation
    @Flag(help: "Machine output: one JSON object.") var json = false

    func run() throws {
        // In a child process: a damaged page can crash the process that reads it, and a crash
        // is then one more fault found, said in one line.
        if !Child.isChild, let ending = Child.rerun() {
            switch ending {
            case .exited(let code):
                if code != 0 { throw Failure(message: "", code: code) }
                return
            case .killed(let signal):
                Output.clearStderrLine()
                let message = "the process reading the store died of \(Child.signalName(signal)) on a damaged page: "
                    + "the file is corrupt; restore a backup, or import an export into a new store"
                try show(events: nil, tables: nil, fault: VerifyFault(area: "pages", message: message))
                return
            }
        }
        let store = try location.open()
        let bar = Progress(enabled: !json && Output.stderrIsTerminal, unit: "events")
        let report: VerifyReport
        do { report = try store.verify { bar.update(done: $0, total: $1) } } catch { throw Failure(message: error.description) }
        bar.finish()
        try show(events: report.events, tables: report.tables, fault: report.fault)
    }

    /// Prints the verdict and exits 1 on a fault. nil counts (null in JSON) are those of a
    /// child that died before it could report them.
    private func show(events: UInt64?, tables: Int?, fault: VerifyFault?) throws {
        if json {
            var w = JSONWriter()
            w.beginObject()
            w.key("ok"); w.bool(fault == nil)
            w.key("events"); if let events { w.int(Int64(events)) } else { w.null() }
            w.key("tables"); if let tables { w.int(Int64(tables)) } else { w.null() }
            if let fault {
                w.key("fault"); w.beginObject()
                w.key("position"); if let p = fault.position { w.int(Int64(p)) } else { w.null() }
                w.key("area"); w.string(fault.area)
                w.key("message"); w.string(fault.message)
                w.endObject()
            }
            w.endObject()
            Output.line(w.bytes)
            Output.flush()
        } else if fault == nil, let events, let tables {
            Output.line("ok: \(events) events, hash chain, stream and command indexes, and \(tables) view tables verified")
            Output.flush()
        }
        if let fault {
            if !json { Output.error("fault: \(fault)") }
            throw Failure(message: "", code: 1)
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, compacted copy of the store into DIR (a hot backup).",
        discussion: """
        The copy is one snapshot of the store, taken while others keep reading and writing, and
        opens as a store of its own: restore it by using DIR as the store (or copying it back).

        Example:
          subledger backup /backups/shop-2026-12-01.db
          subledger --store /backups/shop-2026-12-01.db verify
        """)

    @OptionGroup var location: StoreLocation
    @Argument(help: "A new directory for the copy.") var directory: String

    func run() throws {
        let store = try location.open()
        let events: UInt64
        do { events = try store.backup(to: directory) } catch { throw Failure(message: error.description) }
        Output.info("backup of \(events) events written to \(directory)")
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the whole log as JSON Lines, with positions and hashes (deterministic bytes).",
        discussion: """
        Examples:
          subledger export > ledger.jsonl
          subledger export --output ledger.jsonl
        """)

    @OptionGroup var location: StoreLocation
    @Option(help: "Write to FILE instead of stdout.") var output: String?

    func run() throws {
        let store = try location.open()
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Failure(message: "cannot write \(output): \(String(cString: strerror(errno)))") }
        }
        defer { if fd != 1 { close(fd) } }
        do {
            try store.export { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        if errno == EPIPE { Glibc.exit(0) }
                        throw Failure(message: "cannot write the export: \(String(cString: strerror(errno)))")
                    }
                    offset += n
                }
            }
            if fd != 1, fsync(fd) != 0 { throw Failure(message: "cannot sync \(output ?? ""): \(String(cString: strerror(errno)))") }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(message: "\(error)")
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Fill an empty store from an export, checking every line; all or nothing.",
        discussion: """
        Every line is checked (JSON, gapless positions, each hash recomputed, stream versions,
        unique command ids, known schemas); the first fault names its line and leaves the store
        empty. Then the views are built.

        Example:
          subledger --store copy.db import ledger.jsonl
        """)

    @OptionGroup var location: StoreLocation
    @Argument(help: "The export file ('-' for stdin).") var file: String

    func run() throws {
        let fd = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(message: "cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        let store = try location.open(create: true)
        let started = Timestamp.now()
        let count: UInt64
        do { count = try store.importLog(from: LineReader(fd: fd)) } catch { throw Failure(message: error.description) }
        let seconds = Double(Timestamp.now().microseconds - started.microseconds) / 1e6
        Output.info("imported \(count) events in \(seconds.formatted(decimals: 2)) s")
    }
}

extension Double {
    /// Fixed-point text without Foundation: `1.5.formatted(decimals: 2)` is "1.50".
    func formatted(decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((self * scale).rounded())
        let whole = scaled / Int64(scale), fraction = abs(scaled % Int64(scale))
        var digits = String(fraction)
        while digits.count < decimals { digits = "0" + digits }
        return decimals == 0 ? "\(whole)" : "\(whole).\(digits)"
    }
}
