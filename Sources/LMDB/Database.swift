import CLMDB

/// A named database inside an environment: a handle valid for the environment that opened it, until the database
/// is dropped.
///
/// ```swift
/// let events = try env.database("events", flags: .integerKey)
/// try env.write { txn in try txn.put(events, key, payload) }
/// ```
public struct Database: Sendable, Hashable, CustomStringConvertible {
    /// The name the database was opened with.
    public let name: String
    /// The flags the database was created with.
    public let flags: DatabaseFlags
    @usableFromInline
    let handle: MDB_dbi

    init(name: String, flags: DatabaseFlags, handle: MDB_dbi) {
        self.name = name
        self.flags = flags
        self.handle = handle
    }

    /// The name and flags, for logs.
    ///
    /// ```swift
    /// print(events) // database "events" [integerKey]
    /// ```
    public var description: String { "database \"\(name)\" \(flags)" }
}

/// How a database orders and stores its keys and values; fixed when the database is created.
///
/// ```swift
/// let index = try env.database("by-member", flags: [.dupSort, .dupFixed])
/// ```
public struct DatabaseFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    /// Flags from their `mdb_dbi_open` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Keys are native-endian `UInt32` or `UInt64` (`size_t`) integers, compared as numbers (`MDB_INTEGERKEY`).
    public static let integerKey = DatabaseFlags(rawValue: UInt32(MDB_INTEGERKEY))
    /// A key may hold several values, kept sorted (`MDB_DUPSORT`).
    public static let dupSort = DatabaseFlags(rawValue: UInt32(MDB_DUPSORT))
    /// With `dupSort`: every value of a key has the same size (`MDB_DUPFIXED`).
    public static let dupFixed = DatabaseFlags(rawValue: UInt32(MDB_DUPFIXED))
    /// With `dupSort`: values are native-endian integers, compared as numbers (`MDB_INTEGERDUP`).
    public static let integerDup = DatabaseFlags(rawValue: UInt32(MDB_INTEGERDUP))
    /// Keys are compared from their last byte to their first (`MDB_REVERSEKEY`).
    public static let reverseKey = DatabaseFlags(rawValue: UInt32(MDB_REVERSEKEY))
    /// With `dupSort`: values are compared from their last byte to their first (`MDB_REVERSEDUP`).
    public static let reverseDup = DatabaseFlags(rawValue: UInt32(MDB_REVERSEDUP))

    /// The persistent flags: those stored with the database.
    static let persistent: DatabaseFlags = [.integerKey, .dupSort, .dupFixed, .integerDup, .reverseKey, .reverseDup]

    /// The flag names, e.g. `[dupSort, dupFixed]`.
    ///
    /// ```swift
    /// print(DatabaseFlags.dupSort) // [dupSort]
    /// ```
    public var description: String {
        let names: [(DatabaseFlags, String)] = [
            (.integerKey, "integerKey"), (.dupSort, "dupSort"), (.dupFixed, "dupFixed"),
            (.integerDup, "integerDup"), (.reverseKey, "reverseKey"), (.reverseDup, "reverseDup"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
