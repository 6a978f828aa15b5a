import ArgumentParser
import Subledger

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the store (no error when it exists).",
        discussion: """
        --snapshot-interval sets how many events lie between two view snapshots (what
        show --as-of folds from); on an existing store, another value takes them again.

        Examples:
          subledger --store shop.db init
          subledger init --snapshot-interval 1024
        """)

    @OptionGroup var location: StoreLocation
    @Option(help: "Events between two view snapshots (default: the store's, 512 for a new store).")
    var snapshotInterval: Int?

    func validate() throws {
        if let snapshotInterval, snapshotInterval < 1 { throw ValidationError("--snapshot-interval must be at least 1") }
    }

    func run() throws {
        let store = try location.open(create: true, snapshotInterval: snapshotInterval)
        Output.info("store ready at \(store.path)")
    }
}
