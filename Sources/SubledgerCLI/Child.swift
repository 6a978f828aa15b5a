#if canImport(Glibc)
import Glibc
#endif

/// This executable run again, with the same arguments: how `verify` survives a page damaged
/// badly enough to crash the process reading it (LMDB trusts its pages, and so does the code
/// handed their bytes). The child does the work; the parent turns a crash into a fault.
enum Child {
    /// Set in the child's environment, so that it does the work itself.
    static let marker = "SUBLEDGER_CHILD"

    static var isChild: Bool { getenv(marker) != nil }

    /// How the child ended.
    enum Ending {
        case exited(Int32)
        case killed(signal: Int32)
    }

    /// Runs this executable again with this process's arguments, standard streams and
    /// environment, plus the marker, and waits for it; nil when no process can be spawned
    /// (the caller then does the work itself). The child's own crash report is turned off:
    /// the parent says in one line what happened.
    static func rerun() -> Ending? {
        let extra: [UnsafeMutablePointer<CChar>?] = [marker + "=1", "SWIFT_BACKTRACE=enable=no"].map { (s: String) in strdup(s) }
        defer { extra.forEach { free($0) } }
        var env: [UnsafeMutablePointer<CChar>?] = []
        if var e = Optional(environ) {
            while let entry = e.pointee {
                env.append(entry)
                e = e.advanced(by: 1)
            }
        }
        env += extra
        env.append(nil)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { (s: String) in strdup(s) }
        defer { argv.forEach { free($0) } }  // the trailing nil included: free(nil) is fine
        argv.append(nil)
        var pid = pid_t()
        guard posix_spawn(&pid, "/proc/self/exe", nil, nil, argv, env) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .killed(signal: signal)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGKILL: "SIGKILL"
        default: "signal \(signal)"
        }
    }
}
