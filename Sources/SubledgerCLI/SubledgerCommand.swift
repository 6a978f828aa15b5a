import ArgumentParser
import Subledger
#if canImport(Glibc)
import Glibc
#endif

@main
struct SubledgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subledger",
        abstract: "An event-sourced subscription ledger on LMDB.",
        discussion: """
        The store is --store DIR, else $SUBLEDGER_STORE, else ./subledger.db.

        Examples:
          subledger init
          echo '{"command":"RegisterUser","email":"ann@example.com"}' | subledger exec --json
          subledger show users
        """,
        version: "0.1.0",
        subcommands: [
            Init.self, Exec.self, Show.self, Replay.self, Metrics.self, Projections.self, Stats.self,
            Rebuild.self, Verify.self, Export.self, Import.self, Backup.self,
            Seen.self, ForgetSeen.self,
            RegisterUser.self, RenameUser.self, Login.self, DeleteUser.self,
            CreatePlan.self, DeletePlan.self, CreateGroup.self, DeleteGroup.self,
            Subscribe.self, ChangePlan.self, Cancel.self, Join.self, Leave.self,
        ]
    )

    static func main() {
        // A closed pipe (`subledger replay | head`) ends the process quietly.
        signal(SIGPIPE, SIG_DFL)
        // A parent may have spawned us with signals blocked (threads of test runners do):
        // unblock them, or `replay --follow` could not be interrupted.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        // liblmdb stops a process that reads a damaged page; say so in one line. Verify's child
        // stays silent: its parent reports the crash as the fault it found.
        if !Child.isChild {
            let line = "subledger: the store's file has a damaged page; `subledger verify` reports it; "
                + "restore a backup, or import an export into a new store\n"
            Store.setDamagedFileExit(line: (Output.stderrIsTerminal ? "\r\u{1B}[K" : "") + line, code: 1)
        }
        do {
            var command = try parseAsRoot(StoreLocation.takeGlobal(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let failure as Failure {
            if !failure.message.isEmpty { Output.error(failure.message) }
            Glibc.exit(failure.code)
        } catch {
            exit(withError: error)
        }
    }
}

/// An error already explained to the user, with the exit code to leave with.
struct Failure: Error {
    var message: String
    var code: Int32 = 1
}

/// The option every subcommand shares.
struct StoreLocation: ParsableArguments {
    @Option(name: .long, help: "The store: a directory, or a postgresql:// URI (default: $SUBLEDGER_STORE, else ./subledger.db).")
    var store: String?

    /// `--store DIR` given before the subcommand (`subledger --store DIR show users`).
    nonisolated(unsafe) static var global: String?

    /// Removes a leading `--store DIR` / `--store=DIR` from `arguments` into `global`.
    static func takeGlobal(_ arguments: [String]) -> [String] {
        var rest = arguments
        while let first = rest.first {
            if first == "--store", rest.count >= 2 {
                global = rest[1]
                rest.removeFirst(2)
            } else if first.hasPrefix("--store=") {
                global = String(first.dropFirst("--store=".count))
                rest.removeFirst()
            } else {
                break
            }
        }
        return rest
    }

    var path: String {
        if let store { return store }
        if let global = Self.global { return global }
        if let env = getenv("SUBLEDGER_STORE"), env.pointee != 0 { return String(cString: env) }
        return "./subledger.db"
    }

    /// Opens the store; only `init` and `exec` may create it.
    func open(create: Bool = false, snapshotInterval: Int? = nil) throws -> Store {
        do {
            return try Store.open(path, options: StoreOptions(create: create, snapshotInterval: snapshotInterval))
        } catch {
            throw Failure(message: error.description)
        }
    }
}
