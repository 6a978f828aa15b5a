import Foundation

/// A fresh directory under the system's temporary directory, removed by `remove()`.
public struct Scratch: Sendable {
    public let path: String

    /// Creates the directory, named after `name`, the process and a random part.
    public init(_ name: String = "subledger") {
        path = FileManager.default.temporaryDirectory.path + "/\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func sub(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
