/// What went wrong with the store itself (not with a command: that is a `Rejection`).
/// Each case reads as one line for people.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// No store at the path (and it was not asked to create one).
    case noStore(path: String)
    /// The store was written by a newer subledger.
    case newerFormat(found: UInt32, supported: UInt32)
    /// The underlying storage failed: what it said, in one line.
    case storage(String)
    /// Stored bytes that do not decode: where, and why.
    case corrupt(String)
    case unknownView(String)
    case unsupportedFilter(view: String, filter: String)
    case unknownReference(Rejection)
    case wrongExpectedVersion(stream: StreamID, expected: ExpectedVersion, actual: UInt32)
    case invalidArgument(String)
    /// Another rebuild started or finished while this one ran.
    case rebuildConflict
    /// An import file's line is not a valid event of the chain.
    case importFault(line: Int, message: String)

    public var description: String {
        switch self {
        case .noStore(let path): "no store at \(path) (create one with: subledger init)"
        case .newerFormat(let found, let supported):
            "the store has format \(found), newer than this subledger reads (\(supported)); upgrade subledger"
        case .storage(let message): "storage error: \(message)"
        case .corrupt(let what): "corrupt store: \(what)"
        case .unknownView(let v): "unknown view \"\(v)\" (see: subledger projections)"
        case .unsupportedFilter(let view, let filter): "view \(view) cannot be filtered by --\(filter)"
        case .unknownReference(let r): r.message
        case .wrongExpectedVersion(let stream, let expected, let actual):
            "stream \(stream) is at version \(actual), expected \(expected)"
        case .invalidArgument(let why): why
        case .rebuildConflict: "another rebuild ran at the same time; this one stopped (the views are whole)"
        case .importFault(let line, let message): "line \(line): \(message); nothing was imported"
        }
    }

    /// The log lacks `position`, which it must hold: it holds every position up to its head, and
    /// a fold was asked to read through `last`.
    static func missingEvent(_ position: UInt64, through last: UInt64) -> StoreError {
        .corrupt("the log is missing position \(position) (it should hold every position through \(last))")
    }

    /// Wraps any error from below as a store error.
    static func wrap(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError: e
        case let e as any StorageFailure: .storage(e.description)
        case let e as DecodingError: .corrupt(e.description)
        case let e as Rejection: .unknownReference(e)
        default: .invalidArgument("\(error)")
        }
    }
}

/// An error of a storage backend (LMDB's, PostgreSQL's), which `StoreError.storage` carries
/// as its one-line description.
protocol StorageFailure: Error, CustomStringConvertible {}

/// The version a low-level append expects its stream to be at.
public enum ExpectedVersion: Equatable, Sendable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must be at exactly this version.
    case exact(UInt32)

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .exact(let v): "\(v)"
        }
    }
}

/// What became of one command.
public enum Outcome: Equatable, Sendable {
    /// Appended at `position`; `created` is the id of the entity it created, if any.
    case applied(position: UInt64, created: EntityID?)
    /// Its `command_id` was applied before, at these positions; nothing appended.
    case duplicate(positions: [UInt64], created: EntityID?)
    /// Refused; nothing appended.
    case rejected(Rejection)

    /// `ok`, `duplicate` or `rejected`, as `exec --json` prints it.
    public var status: String {
        switch self {
        case .applied: "ok"
        case .duplicate: "duplicate"
        case .rejected: "rejected"
        }
    }
}
