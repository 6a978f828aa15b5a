import CLMDB

/// How `WriteTransaction.put` treats an existing key or value.
///
/// ```swift
/// try txn.put(events, sequenceKey, payload, flags: [.noOverwrite, .append])
/// ```
public struct PutFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    /// Flags from their `mdb_put` bits.
    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Fail with `LMDBError.keyExists` if the key is present (`MDB_NOOVERWRITE`).
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// In a `dupSort` database, fail with `LMDBError.keyExists` if the pair is present (`MDB_NODUPDATA`).
    public static let noDupData = PutFlags(rawValue: UInt32(MDB_NODUPDATA))
    /// The key sorts after every key in the database: a fast load of sorted keys; otherwise
    /// `LMDBError.keyExists` (`MDB_APPEND`).
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    /// In a `dupSort` database, the value sorts after every value of its key (`MDB_APPENDDUP`).
    public static let appendDup = PutFlags(rawValue: UInt32(MDB_APPENDDUP))
}
