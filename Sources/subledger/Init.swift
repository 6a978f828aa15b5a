import ArgumentParser
import Subledger

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the store (no error when it exists).",
        discussion: "Example:\n  subledger --store shop.db init")

    @OptionGroup var location: StoreLocation

    func run() throws {
        let store = try location.open(create: true)
        Output.info("store ready at \(store.path)")
    }
}
