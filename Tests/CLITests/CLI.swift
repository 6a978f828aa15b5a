import Foundation
import Testing
import TestSupport

/// Runs the built `subledger` binary.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    let store: String
    let dir: String

    /// With `SUBLEDGER_TEST_CLI_POSTGRES` set (and a server in `SUBLEDGER_TEST_POSTGRES`), each
    /// test's store is a ledger of its own on that server, named to the binary through
    /// `SUBLEDGER_STORE`: the same tests, on PostgreSQL. `tools/test` runs them both ways.
    static let postgresServer: String? = {
        let env = ProcessInfo.processInfo.environment
        return env["SUBLEDGER_TEST_CLI_POSTGRES"] == nil ? nil : env["SUBLEDGER_TEST_POSTGRES"]
    }()

    /// Whether the stores are directories (LMDB): tests of what lies in them run only then.
    static var onLMDB: Bool { postgresServer == nil }

    init() {
        dir = Scratch("subledger-cli").path
        if let server = CLI.postgresServer {
            store = server + "&ledger=c_" + String(dir.split(separator: "-").last ?? "x")
        } else {
            store = dir + "/store"
        }
    }

    /// The binary beside the test bundle (`.build/<config>/subledger`).
    static let binary: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("subledger").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "subledger"
    }()

    /// Runs `subledger --store <store> args...` with `input` on stdin.
    @discardableResult
    func run(_ args: [String], input: String? = nil, useStore: Bool = true, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        let byEnvironment = useStore && CLI.postgresServer != nil
        p.arguments = (useStore && !byEnvironment ? ["--store", store] : []) + args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["SUBLEDGER_STORE"] = byEnvironment ? store : nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        // A child that exits before reading all its input must not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        try p.run()
        let writer = inp.fileHandleForWriting
        let data = Data((input ?? "").utf8)
        let feeding = Thread {
            try? writer.write(contentsOf: data)
            try? writer.close()
        }
        feeding.start()
        let errors = ErrorCollector(err.fileHandleForReading)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = errors.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func run(_ args: String..., input: String? = nil) throws -> Result { try run(args, input: input) }

    func json(_ args: String...) throws -> Any {
        let r = try run(args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed])
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Reads a pipe to its end on another thread, so a child filling both stdout and stderr never blocks.
final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

extension CLI {
    /// A second `subledger exec` process on the same store, fed `lines` one at a time with
    /// `pause` microseconds between them, as another application appending meanwhile. Wait for
    /// it with `waitUntilExit()`.
    func backgroundWriter(_ lines: [String], pause: UInt32) throws -> Process {
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: CLI.binary)
        writer.arguments = ["--store", store, "exec"]
        let input = Pipe()
        writer.standardInput = input
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        let feed = input.fileHandleForWriting
        Thread {
            for line in lines {
                try? feed.write(contentsOf: Data((line + "\n").utf8))
                usleep(pause)
            }
            try? feed.close()
        }.start()
        return writer
    }
}
